"""The Mechanical Turk stand-in seen from boto3: validation, HITs answered by simulated workers, fees, lifecycle."""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from PIL import Image

from groundcrew_local import moto_patches
from groundcrew_local.moto_patches import iam_check_hooks
from groundcrew_local.mturk import PRODUCTION_ENDPOINT, SANDBOX_ENDPOINT, install_mturk, uninstall_mturk
from groundcrew_local.mturk.page_sources import moto_s3_reader, s3_uri_of_url
from groundcrew_local.mturk.questions import ANSWERS_NS, HTML_QUESTION_NS, question_form_answers
from groundcrew_local.mturk.stand_in import MTurkStandIn
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "gc-mturk"
IMAGE_KEY = "images/circle-01.png"
CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LABELS = ["circle", "square", "triangle"]
WORKER_ID = re.compile(r"^A[A-Z0-9]{13}$")
ENTITY_ID = re.compile(r"^[A-Z0-9]{30}$")


@cache
def s3() -> Any:
    return boto3.client("s3", region_name=REGION)


@cache
def mturk(endpoint: str = SANDBOX_ENDPOINT, validate: bool = True) -> Any:
    """`validate=False` skips botocore's client-side checks, so the request reaches the stand-in as sent."""
    config = Config(parameter_validation=validate, retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("mturk", region_name=REGION, endpoint_url=endpoint, config=config)


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def workforce(n: int = 4, *, seconds: float = 20.0, **options: Any) -> SimulatedWorkforce:
    workers = [
        SimulatedWorker(f"turker-{i}", accuracy=1.0, seconds_per_task=seconds, workforce_type="public", **options)
        for i in range(n)
    ]
    return SimulatedWorkforce(workers, seed=7, answer_key={"circle-01.png": "circle"}, clock_start=CLOCK_START)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        s3().create_bucket(Bucket=BUCKET)
        s3().put_object(Bucket=BUCKET, Key=IMAGE_KEY, Body=png())
        yield
    uninstall_mturk()


@pytest.fixture
def turk(aws: None) -> MTurkStandIn:
    return install_mturk(workforce())


def presigned(key: str = IMAGE_KEY) -> str:
    return str(s3().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600))


def classifier_page(src: str) -> str:
    return f"""<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier name="category" src="{html.escape(src)}"
    categories="{html.escape(json.dumps(LABELS))}" header="Which shape?">
  </crowd-image-classifier>
</crowd-form>"""


def html_question(page: str) -> str:
    return (
        f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent><![CDATA[{page}]]></HTMLContent>'
        "<FrameHeight>0</FrameHeight></HTMLQuestion>"
    )


def hit_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "Title": "Which shape is it?",
        "Description": "Pick the shape in the image",
        "Reward": "0.50",
        "AssignmentDurationInSeconds": 600,
        "LifetimeInSeconds": 3600,
        "MaxAssignments": 3,
        "Keywords": "image, shapes",
        "Question": html_question(classifier_page(presigned())),
    }
    request.update(overrides)
    return {key: value for key, value in request.items() if value is not None}


def create_hit(client: Any = None, **overrides: Any) -> dict[str, Any]:
    return dict((client or mturk()).create_hit(**hit_request(**overrides))["HIT"])


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, str | None]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"], raised.value.response.get("TurkErrorCode")


def free_text(answer_xml: str) -> str:
    root = ET.fromstring(answer_xml)
    assert root.tag == f"{{{ANSWERS_NS}}}QuestionFormAnswers"
    answers = root.findall(f"{{{ANSWERS_NS}}}Answer")
    assert len(answers) == 1
    assert answers[0].findtext(f"{{{ANSWERS_NS}}}QuestionIdentifier") == "taskAnswers"
    text = answers[0].findtext(f"{{{ANSWERS_NS}}}FreeText")
    assert text is not None
    return text


# -- balance and validation ------------------------------------------------------------------------------------


def test_balance_sandbox_and_production(aws: None) -> None:
    install_mturk(workforce(), balance="25.50")
    assert mturk().get_account_balance()["AvailableBalance"] == "10000.00"
    assert mturk(PRODUCTION_ENDPOINT).get_account_balance()["AvailableBalance"] == "25.50"


def test_production_without_funds_refuses_create_hit(aws: None) -> None:
    install_mturk(workforce())  # production balance defaults to 0.00
    with pytest.raises(ClientError) as raised:
        create_hit(mturk(PRODUCTION_ENDPOINT))
    code, message, _ = error_of(raised)
    assert code == "RequestError"
    assert "insufficient funds" in message
    assert error_of(raised)[2] == "AWS.MechanicalTurk.InsufficientFunds"


def test_missing_reward_is_refused_by_botocore_and_by_the_stand_in(turk: MTurkStandIn) -> None:
    with pytest.raises(ParamValidationError, match="Reward"):
        create_hit(Reward=None)
    with pytest.raises(ClientError) as raised:
        create_hit(mturk(validate=False), Reward=None)
    code, message, _ = error_of(raised)
    assert code == "ParameterValidationError"
    assert "Value null at 'reward' failed to satisfy constraint: Member must not be null" in message
    assert turk.hits() == []


def test_model_constraints_and_types_are_checked(turk: MTurkStandIn) -> None:
    with pytest.raises(ClientError) as raised:
        create_hit(mturk(validate=False), Reward="1.234", MaxAssignments="3")
    _, message, _ = error_of(raised)
    assert "at 'maxAssignments' failed to satisfy constraint: Member must be of type integer" in message
    with pytest.raises(ClientError) as raised:
        create_hit(mturk(validate=False), Reward="1.234")
    _, message, _ = error_of(raised)
    assert "Value '1.234' at 'reward' failed to satisfy constraint: Member must satisfy regular expression" in message


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent>', "not well-formed XML"),
        (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><FrameHeight>0</FrameHeight></HTMLQuestion>', "HTMLContent"),
        (
            "<HTMLQuestion><HTMLContent><![CDATA[<p>x</p>]]></HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>",
            "namespace",
        ),
        (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent>x</HTMLContent></HTMLQuestion>', "FrameHeight"),
        ("<Question>hello</Question>", "HTMLQuestion, ExternalQuestion or QuestionForm"),
    ],
)
def test_bad_question_xml(turk: MTurkStandIn, question: str, expected: str) -> None:
    with pytest.raises(ClientError) as raised:
        create_hit(Question=question)
    code, message, _ = error_of(raised)
    assert code == "ParameterValidationError"
    assert "There was an error parsing the XML question" in message
    assert expected in message


@pytest.mark.parametrize("duration", [29, 31_536_001])
def test_assignment_duration_range(turk: MTurkStandIn, duration: int) -> None:
    with pytest.raises(ClientError) as raised:
        create_hit(AssignmentDurationInSeconds=duration)
    code, message, _ = error_of(raised)
    assert code == "ParameterValidationError"
    assert "AssignmentDurationInSeconds" in message and "between 30 and 31536000" in message


def test_unknown_hit_and_unknown_operation(turk: MTurkStandIn) -> None:
    with pytest.raises(ClientError) as raised:
        mturk().get_hit(HITId="3NOSUCHHIT")
    code, message, _ = error_of(raised)
    assert code == "RequestError"
    assert re.fullmatch(r"Hit 3NOSUCHHIT does not exist\. \(\d+\)", message)
    assert error_of(raised)[2] == "AWS.MechanicalTurk.HITDoesNotExist"
    with pytest.raises(NotImplementedError, match="CreateHITType"):
        mturk().create_hit_type(Title="t", Description="d", Reward="0.10", AssignmentDurationInSeconds=60)


# -- simulated workers -----------------------------------------------------------------------------------------


def test_three_workers_answer_an_html_question_from_the_answer_key(turk: MTurkStandIn) -> None:
    hit = create_hit()
    assert hit["HITStatus"] == "Assignable"
    assert ENTITY_ID.match(hit["HITId"]) and ENTITY_ID.match(hit["HITTypeId"]) and ENTITY_ID.match(hit["HITGroupId"])
    assert hit["NumberOfAssignmentsAvailable"] == 3
    assert hit["Reward"] == "0.50"
    assert (hit["Expiration"] - hit["CreationTime"]).total_seconds() == 3600
    assert turk.hit(hit["HITId"]).data_object == {"source-ref": f"s3://{BUCKET}/{IMAGE_KEY}"}

    seen = []
    for expected in (1, 2, 3):  # one more assignment per call
        assignments = mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
        assert len(assignments) == expected
        seen = assignments
    assert mturk().get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"

    workers = {a["WorkerId"] for a in seen}
    assert len(workers) == 3 and all(WORKER_ID.match(worker) for worker in workers)
    for assignment in seen:
        assert assignment["AssignmentStatus"] == "Submitted"
        assert assignment["HITId"] == hit["HITId"]
        assert assignment["AcceptTime"] < assignment["SubmitTime"] < assignment["AutoApprovalTime"]
        assert json.loads(free_text(assignment["Answer"])) == [{"category": {"label": "circle"}}]
    assert [a.worker_id for a in turk.assignments(hit["HITId"])] == [a["WorkerId"] for a in seen]


def test_answer_xml_escapes_and_keeps_raw_text() -> None:
    tricky = '{"note":"<b>\\"x\\"</b> & é"}'
    assert json.loads(free_text(question_form_answers(tricky))) == [{"note": '<b>"x"</b> & é'}]
    assert question_form_answers(tricky).isascii()
    assert free_text(question_form_answers('{"category":{"lab')) == '{"category":{"lab'


def test_malformed_worker_puts_the_raw_submission_in_free_text(aws: None) -> None:
    install_mturk(workforce(2, malformed_rate=1.0, malformed_kinds=("not_json",)))
    hit = create_hit(MaxAssignments=2)
    assignments = mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    text = free_text(assignments[0]["Answer"])
    with pytest.raises(ValueError):
        json.loads(text)
    assert text.startswith('{"category"')


def test_workers_load_the_page_images_from_moto_s3(aws: None) -> None:
    install_mturk(workforce(1))
    page = f"""<crowd-form><crowd-bounding-box name="boxes" src="{html.escape(presigned())}"
        labels='["circle"]'></crowd-bounding-box></crowd-form>"""
    hit = create_hit(Question=html_question(page), MaxAssignments=1)
    (assignment,) = mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    (content,) = json.loads(free_text(assignment["Answer"]))
    assert content["boxes"]["inputImageProperties"] == {"height": 30, "width": 40}


def test_s3_urls_and_the_default_reader(aws: None) -> None:
    assert s3_uri_of_url("https://b.s3.amazonaws.com/a/x%20y.png?X-Amz-Signature=1") == "s3://b/a/x y.png"
    assert s3_uri_of_url("https://b.s3.us-west-2.amazonaws.com/k.png") == "s3://b/k.png"
    assert s3_uri_of_url("https://s3.amazonaws.com/b/k.png?sig=1") == "s3://b/k.png"
    assert s3_uri_of_url("https://s3.eu-west-1.amazonaws.com/b/dir/k.png") == "s3://b/dir/k.png"
    assert s3_uri_of_url("https://example.com/k.png") is None
    read = moto_s3_reader(ACCOUNT)
    assert read(presigned()) == png()
    assert read(presigned("images/missing.png")) is None
    assert read("https://example.com/k.png") is None


def test_requester_annotation_is_the_fallback_data_object(turk: MTurkStandIn) -> None:
    page = classifier_page("https://example.com/circle-01.png")
    hit = create_hit(
        Question=html_question(page), RequesterAnnotation=json.dumps({"source-ref": "s3://x/circle-01.png"})
    )
    assert turk.hit(hit["HITId"]).data_object == {"source-ref": "s3://x/circle-01.png"}
    mturk().list_assignments_for_hit(HITId=hit["HITId"])
    (first,) = turk.assignments(hit["HITId"])
    assert json.loads(first.content) == {"category": {"label": "circle"}}


def test_hit_expiring_with_fewer_assignments(aws: None) -> None:
    turk = install_mturk(workforce(2))
    hit = create_hit(MaxAssignments=3)
    turk.run_until_done()
    done = mturk().get_hit(HITId=hit["HITId"])["HIT"]
    assert done["HITStatus"] == "Reviewable"
    assert len(mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]) == 2
    assert done["NumberOfAssignmentsAvailable"] == 0
    assert turk.now >= turk.hit(hit["HITId"]).expiration


def test_busy_workers_miss_a_short_lived_hit(aws: None) -> None:
    turk = install_mturk(workforce(2, seconds=120.0))
    first = create_hit(MaxAssignments=2, LifetimeInSeconds=60)
    second = create_hit(MaxAssignments=2, LifetimeInSeconds=60)  # both workers are busy until it expires
    turk.run_until_done()
    assert len(turk.assignments(first["HITId"])) == 2
    assert turk.assignments(second["HITId"]) == []
    reviewable = mturk().list_reviewable_hits()["HITs"]
    assert {h["HITId"] for h in reviewable} == {first["HITId"], second["HITId"]}


def test_external_question_gets_no_assignments(turk: MTurkStandIn) -> None:
    question = (
        '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
        'ExternalQuestion.xsd"><ExternalURL>https://example.com/task</ExternalURL><FrameHeight>600</FrameHeight>'
        "</ExternalQuestion>"
    )
    hit = create_hit(Question=question)
    turk.run_until_done()
    assert turk.assignments(hit["HITId"]) == []
    assert turk.hit(hit["HITId"]).problems


# -- money -----------------------------------------------------------------------------------------------------


def test_approval_pays_reward_and_fee(turk: MTurkStandIn) -> None:
    small = create_hit(Reward="0.50", MaxAssignments=3)  # fee 20 % = 0.10
    big = create_hit(Reward="0.03", MaxAssignments=10)  # fee 40 % = 0.012 -> 0.01
    tiny = create_hit(Reward="0.01", MaxAssignments=1)  # fee 20 % = 0.002 -> minimum 0.01
    turk.run_until_done()
    for hit_id in (small["HITId"], small["HITId"], big["HITId"], tiny["HITId"]):
        submitted = mturk().list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=["Submitted"])["Assignments"]
        mturk().approve_assignment(AssignmentId=submitted[0]["AssignmentId"], RequesterFeedback="Thanks!")
    expected = Decimal("10000.00") - 2 * Decimal("0.60") - Decimal("0.04") - Decimal("0.02")
    assert turk.balance.sandbox == expected
    assert mturk().get_account_balance()["AvailableBalance"] == f"{expected:.2f}"
    assert turk.balance.production == Decimal("0.00")

    approved = mturk().list_assignments_for_hit(HITId=small["HITId"], AssignmentStatuses=["Approved"])["Assignments"]
    assert len(approved) == 2
    assert all(a["RequesterFeedback"] == "Thanks!" and "ApprovalTime" in a for a in approved)
    with pytest.raises(ClientError) as raised:
        mturk().approve_assignment(AssignmentId=approved[0]["AssignmentId"])
    code, message, _ = error_of(raised)
    assert code == "RequestError"
    assert message.startswith("This operation can be called with a status of: Submitted (")
    assert error_of(raised)[2] == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert turk.balance.sandbox == expected
    assert mturk().get_hit(HITId=small["HITId"])["HIT"]["NumberOfAssignmentsCompleted"] == 2


def test_auto_approval_after_the_delay(turk: MTurkStandIn) -> None:
    hit = create_hit(Reward="1.00", MaxAssignments=1, AutoApprovalDelayInSeconds=0)
    mturk().get_hit(HITId=hit["HITId"])
    (assignment,) = mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    assert assignment["AssignmentStatus"] == "Approved"
    assert turk.balance.sandbox == Decimal("10000.00") - Decimal("1.20")


def test_reject_requires_feedback(turk: MTurkStandIn) -> None:
    hit = create_hit(MaxAssignments=1)
    turk.run_until_done()
    (assignment,) = mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    with pytest.raises(ParamValidationError, match="RequesterFeedback"):
        mturk().reject_assignment(AssignmentId=assignment["AssignmentId"])
    with pytest.raises(ClientError) as raised:
        mturk(validate=False).reject_assignment(AssignmentId=assignment["AssignmentId"])
    assert error_of(raised)[0] == "ParameterValidationError"
    assert "at 'requesterFeedback'" in error_of(raised)[1]

    mturk().reject_assignment(AssignmentId=assignment["AssignmentId"], RequesterFeedback="Wrong shape")
    (rejected,) = mturk().list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Rejected"])["Assignments"]
    assert rejected["RequesterFeedback"] == "Wrong shape" and "RejectionTime" in rejected
    assert turk.balance.sandbox == Decimal("10000.00")
    with pytest.raises(ClientError):
        mturk().approve_assignment(AssignmentId=assignment["AssignmentId"])
    mturk().approve_assignment(AssignmentId=assignment["AssignmentId"], OverrideRejection=True)
    assert turk.assignments(hit["HITId"])[0].status == "Approved"
    assert turk.balance.sandbox == Decimal("10000.00") - Decimal("0.60")


# -- lifecycle -------------------------------------------------------------------------------------------------


def test_additional_assignments(aws: None) -> None:
    turk = install_mturk(workforce(6))
    hit = create_hit(MaxAssignments=3)
    turk.run_until_done()
    mturk().create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=2)
    again = mturk().get_hit(HITId=hit["HITId"])["HIT"]
    assert again["MaxAssignments"] == 5
    assert again["HITStatus"] in {"Assignable", "Unassignable"}
    turk.run_until_done()
    workers = [a.worker_id for a in turk.assignments(hit["HITId"])]
    assert len(workers) == 5 and len(set(workers)) == 5

    with pytest.raises(ClientError) as raised:
        mturk().create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=5)
    code, message, _ = error_of(raised)
    assert code == "RequestError" and "fewer than 10 assignments" in message
    assert error_of(raised)[2] == "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"

    big = create_hit(MaxAssignments=10)
    mturk().create_additional_assignments_for_hit(HITId=big["HITId"], NumberOfAdditionalAssignments=5)
    assert mturk().get_hit(HITId=big["HITId"])["HIT"]["MaxAssignments"] == 15


def test_additional_assignments_token_is_idempotent(turk: MTurkStandIn) -> None:
    hit = create_hit(MaxAssignments=1)
    mturk().create_additional_assignments_for_hit(
        HITId=hit["HITId"], NumberOfAdditionalAssignments=1, UniqueRequestToken="extend-1"
    )
    with pytest.raises(ClientError) as raised:
        mturk().create_additional_assignments_for_hit(
            HITId=hit["HITId"], NumberOfAdditionalAssignments=1, UniqueRequestToken="extend-1"
        )
    assert 'The idempotency token "extend-1" has already been processed.' in error_of(raised)[1]
    assert turk.hit(hit["HITId"]).max_assignments == 2


def test_create_hit_token_is_idempotent(turk: MTurkStandIn) -> None:
    first = create_hit(UniqueRequestToken="batch-7-object-1")
    with pytest.raises(ClientError) as raised:
        create_hit(UniqueRequestToken="batch-7-object-1")
    code, message, _ = error_of(raised)
    assert code == "RequestError"
    assert f"The HIT with ID {first['HITId']} already exists" in message
    assert error_of(raised)[2] == "AWS.MechanicalTurk.HitAlreadyExists"
    assert [hit.hit_id for hit in turk.hits()] == [first["HITId"]]
    assert create_hit(UniqueRequestToken="batch-7-object-2")["HITId"] != first["HITId"]


def test_expire_then_delete(turk: MTurkStandIn) -> None:
    hit = create_hit(MaxAssignments=3)
    with pytest.raises(ClientError) as raised:
        mturk().delete_hit(HITId=hit["HITId"])
    assert error_of(raised)[1].startswith(
        "This HIT is currently in the state 'Assignable'. This operation can be called with a status of: Reviewable ("
    )

    mturk().get_hit(HITId=hit["HITId"])  # the first worker submits
    mturk().update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1, tzinfo=UTC))
    expired = mturk().get_hit(HITId=hit["HITId"])["HIT"]
    assert expired["NumberOfAssignmentsAvailable"] == 0
    assert expired["Expiration"] <= turk.now
    turk.run_until_done()
    assignments = mturk().list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    assert 1 <= len(assignments) <= 3  # workers who had accepted before the expiry still submit
    assert mturk().get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"

    with pytest.raises(ClientError) as raised:
        mturk().delete_hit(HITId=hit["HITId"])
    assert "neither approved nor rejected" in error_of(raised)[1]
    for assignment in assignments:
        mturk().approve_assignment(AssignmentId=assignment["AssignmentId"])
    mturk().delete_hit(HITId=hit["HITId"])
    assert mturk().get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"
    assert mturk().list_hits()["HITs"] == []


def test_expiring_a_fresh_hit_leaves_it_reviewable_and_deletable(turk: MTurkStandIn) -> None:
    hit = create_hit()
    mturk().update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1, tzinfo=UTC))
    assert mturk().get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert turk.assignments(hit["HITId"]) == []
    mturk().delete_hit(HITId=hit["HITId"])


def test_pagination(aws: None) -> None:
    turk = install_mturk(workforce(5))
    ids = [create_hit(MaxAssignments=1)["HITId"] for _ in range(5)]
    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        response = mturk().list_hits(**kwargs)
        pages.append([h["HITId"] for h in response["HITs"]])
        assert response["NumResults"] == len(response["HITs"])
        token = response.get("NextToken")
        if not token:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [hit_id for page in pages for hit_id in page] == ids

    many = create_hit(MaxAssignments=5)["HITId"]
    turk.run_until_done()
    first = mturk().list_assignments_for_hit(HITId=many, MaxResults=2)
    second = mturk().list_assignments_for_hit(HITId=many, MaxResults=2, NextToken=first["NextToken"])
    third = mturk().list_assignments_for_hit(HITId=many, MaxResults=2, NextToken=second["NextToken"])
    listed = [a["AssignmentId"] for page in (first, second, third) for a in page["Assignments"]]
    assert len(listed) == 5 == len(set(listed)) and "NextToken" not in third
    paginator = mturk().get_paginator("list_assignments_for_hit")
    assert (
        sum(len(page["Assignments"]) for page in paginator.paginate(HITId=many, PaginationConfig={"PageSize": 2})) == 5
    )

    with pytest.raises(ClientError) as raised:
        mturk().list_hits(NextToken="not-a-token")
    assert error_of(raised)[0] == "ParameterValidationError"


def test_hook_composes_with_local_patches_and_uninstalls(aws: None) -> None:
    moto_patches.install_local_patches()  # the IAM check wraps __call__, which calls our process_request
    original = BotocoreStubber.__dict__["process_request"]
    install_mturk(workforce())
    assert BotocoreStubber.__call__ is iam_check_hooks._checked_botocore_call
    assert mturk().get_account_balance()["AvailableBalance"] == "10000.00"
    assert s3().head_object(Bucket=BUCKET, Key=IMAGE_KEY)["ContentLength"] == len(png())
    uninstall_mturk()
    assert BotocoreStubber.__dict__["process_request"] is original
    with pytest.raises(ClientError):
        mturk().get_account_balance()  # moto: 404 "Not yet implemented"
