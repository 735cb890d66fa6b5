"""Annotation consolidation against real Ground Truth files: worker responses, recipe payloads, request events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from groundcrew.consensus.decisions import ConsensusPolicy, WorkerPrior
from groundcrew.core.events import AnnotationsConsolidated, ConsolidationFailure
from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind, Workflow
from groundcrew.workflows.classification.task import ELEMENT_NAME
from groundcrew.workforces.ground_truth.consolidation import ConsolidationRequest, JobContext, consolidate, read_payload

JOB_NAME = "gc-birds-20240506t070809-a1b2c3-r1"
JOB_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB_NAME}"
ATTRIBUTE = "birds"
PAYLOAD_KEY = f"labeling-jobs/{JOB_NAME}/annotations/consolidated-annotation/consolidation-request/iteration-1/x.json"


def fixed(labels: tuple[str, ...]) -> JobContext:
    """One round, majority over every answer: how a fixed-policy job consolidates."""
    return JobContext(labels=labels, policy=ConsensusPolicy(kind=PolicyKind.FIXED, method=ConsensusMethod.MAJORITY))


@pytest.fixture
def bird_labels(corpus: Path) -> tuple[str, ...]:
    truth = json.loads((corpus / "gt-manifests" / "ic_birds_true_labels.json").read_text())
    return tuple(sorted({entry["Label"] for entry in truth}))


def request(bucket: str, **changes: Any) -> ConsolidationRequest:
    event = {
        "version": "2018-10-16",
        "labelingJobArn": JOB_ARN,
        "labelCategories": None,
        "labelAttributeName": ATTRIBUTE,
        "roleArn": "arn:aws:iam::123456789012:role/gt",
        "payload": {"s3Uri": f"s3://{bucket}/{PAYLOAD_KEY}"},
        "outputConfig": f"s3://{bucket}/labeling-jobs/{JOB_NAME}/annotations",
        **changes,
    }
    return ConsolidationRequest.model_validate(event)


def put_payload(s3: Any, bucket: str, payload: list[Any]) -> None:
    s3.put_object(Bucket=bucket, Key=PAYLOAD_KEY, Body=orjson.dumps(payload))


def answer(worker: str, label: str) -> dict[str, Any]:
    return {"workerId": worker, "annotationData": {"content": json.dumps({ELEMENT_NAME: {"label": label}})}}


def entry(object_id: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": f"s3://data/incoming/birds/{object_id}.jpg"},
        "annotations": list(annotations),
    }


def from_worker_response(path: Path) -> dict[str, Any]:
    """A worker-response file (section 7.2) as the consolidation payload entry of the same object (section 5.2).

    The file comes from a job whose classifier element was named `crowd-image-classifier`; Ground Truth keys
    `answerContent` by element name, so under our template the same answer is keyed by ELEMENT_NAME.
    """
    object_id = path.name.split("_")[2]  # ic_iteration-<N>_<datasetObjectId>_<timestamp>.json
    answers = json.loads(path.read_text())["answers"]
    return entry(
        object_id,
        *(
            {
                "workerId": a["workerId"],
                "annotationData": {"content": json.dumps({ELEMENT_NAME: a["answerContent"]["crowd-image-classifier"]})},
            }
            for a in answers
        ),
    )


def value_of(result_entry: dict[str, Any]) -> dict[str, Any]:
    return result_entry["consolidatedAnnotation"]["content"][ATTRIBUTE]


def test_real_worker_responses_give_unanimous_falcon_and_swan_three_to_two(
    s3: Any, data_bucket: str, corpus: Path, bird_labels: tuple[str, ...]
) -> None:
    # GIVEN the two worker-response files of the AWS bird job, as a consolidation payload in S3
    responses = sorted((corpus / "gt-manifests" / "worker-response").glob("*.json"))
    put_payload(s3, data_bucket, [from_worker_response(p) for p in responses])
    event = request(data_bucket)

    # WHEN the payload is read and consolidated
    result = consolidate(s3, event, read_payload(s3, event), fixed(bird_labels))

    # THEN one entry per object, in the documented response shape
    assert [r["datasetObjectId"] for r in result.response] == ["95", "3"]
    for r in result.response:
        assert set(r) == {"datasetObjectId", "consolidatedAnnotation"}
        assert list(r["consolidatedAnnotation"]) == ["content"]
        assert list(r["consolidatedAnnotation"]["content"]) == [ATTRIBUTE]
    orjson.dumps(result.response)  # what the Lambda returns must serialize
    falcon, swan = (value_of(r) for r in result.response)
    assert {k: v for k, v in falcon.items() if k != "answers"} == {
        "label": "Falcon",
        "class_id": bird_labels.index("Falcon"),
        "status": "consolidated",
        "confidence": 1.0,
        "agreement": 1.0,
        "votes": {"Falcon": 5},
        "rejected_answers": [],
        "round": 1,
    }
    assert [a["label"] for a in falcon["answers"]] == ["Falcon"] * 5
    assert falcon["answers"][0] == {
        "worker_id": "public.us-east-1.PHMFOWIIICWDF3ZS5HORERJV6Y",
        "label": "Falcon",
        "round": 1,
    }
    assert (swan["label"], swan["status"], swan["votes"]) == ("Swan", "consolidated", {"Goose": 2, "Swan": 3})
    assert (swan["confidence"], swan["agreement"], swan["class_id"]) == (0.6, 0.4, bird_labels.index("Swan"))
    assert result.failures == []
    assert result.summary == AnnotationsConsolidated(
        labeling_job_name=JOB_NAME, objects=2, labeled=2, unresolved=0, rejected_answers=0, failures=[]
    )


def test_answer_keyed_by_another_element_name_is_rejected_with_the_expected_key(
    s3: Any, data_bucket: str, corpus: Path, bird_labels: tuple[str, ...]
) -> None:
    path = next((corpus / "gt-manifests" / "worker-response").glob("ic_iteration-1_*.json"))
    answers = json.loads(path.read_text())["answers"]
    raw = entry(
        "95",
        *({"workerId": a["workerId"], "annotationData": {"content": json.dumps(a["answerContent"])}} for a in answers),
    )

    result = consolidate(s3, request(data_bucket), [raw], fixed(bird_labels))

    value = value_of(result.response[0])
    assert value["status"] == "no-valid-answers"
    assert value["rejected_answers"][0] == {
        "worker_id": answers[0]["workerId"],
        "reason": f"answer of worker {answers[0]['workerId']} has no category.label",
        "round": 1,
    }


def test_recipe_bounding_box_payload_keeps_every_object_with_a_reason(s3: Any, data_bucket: str, corpus: Path) -> None:
    payload = json.loads((corpus / "lambda-events" / "recipe_sample_annotation_consolidation_payload.json").read_text())
    worker = "private.us-east-1.CYUQXZT3LFXJIUFCZMZ6HC2KFM"
    reason = f"no valid answer: answer of worker {worker} has no category.label"

    result = consolidate(s3, request(data_bucket), payload, fixed(("Red", "Green")))

    assert [r["datasetObjectId"] for r in result.response] == ["0", "2"]
    for r in result.response:
        assert value_of(r) == {
            "label": None,
            "class_id": None,
            "status": "no-valid-answers",
            "confidence": 0.0,
            "agreement": 0.0,
            "votes": {},
            "answers": [],
            "rejected_answers": [
                {"worker_id": worker, "reason": f"answer of worker {worker} has no category.label", "round": 1}
            ],
            "reason": reason,
            "round": 1,
        }
    assert result.failures == [
        ConsolidationFailure(dataset_object_id="0", data_object="s3://test-bucket/test-image1.jpg", reason=reason),
        ConsolidationFailure(dataset_object_id="2", data_object="s3://test-bucket/test-image2.jpg", reason=reason),
    ]
    assert (result.summary.labeled, result.summary.unresolved, result.summary.rejected_answers) == (0, 2, 2)


def test_bad_answers_are_rejected_one_by_one_with_their_reason(s3: Any, data_bucket: str) -> None:
    labels = ("Duck", "Goose", "Swan")
    payload = [
        entry(
            "0",
            {"workerId": "w1", "annotationData": {"content": "{not json"}},
            answer("w2", "Eagle"),
            answer("w3", "Swan"),
            answer("w3", "Goose"),
            {"workerId": "w4", "annotationData": {"content": 7}},
            {"workerId": "w5", "annotationData": {}},
        )
    ]

    result = consolidate(s3, request(data_bucket), payload, fixed(labels))

    value = value_of(result.response[0])
    assert (value["label"], value["status"], value["votes"]) == ("Swan", "consolidated", {"Swan": 1})
    assert value["answers"] == [{"worker_id": "w3", "label": "Swan", "round": 1}]
    assert [{k: v for k, v in r.items() if k != "round"} for r in value["rejected_answers"]] == [
        {"worker_id": "w1", "reason": "answer of worker w1 is not valid JSON"},
        {"worker_id": "w2", "reason": "answer of worker w2 names unknown label 'Eagle'"},
        {"worker_id": "w3", "reason": "second answer of the same worker"},
        {"worker_id": "w4", "reason": "annotationData.content must be a JSON string"},
        {"worker_id": "w5", "reason": "annotationData has neither content nor s3Uri"},
    ]
    assert result.summary.rejected_answers == 5
    assert result.failures == []


def test_annotation_data_in_s3_under_both_spellings(s3: Any, data_bucket: str) -> None:
    for worker, label in [("w1", "Duck"), ("w2", "Duck")]:
        s3.put_object(
            Bucket=data_bucket, Key=f"answers/{worker}.json", Body=json.dumps({ELEMENT_NAME: {"label": label}})
        )
    payload = [
        entry(
            "0",
            {"workerId": "w1", "annotationData": {"s3Uri": f"s3://{data_bucket}/answers/w1.json"}},
            {"workerId": "w2", "annotationData": {"s3uri": f"s3://{data_bucket}/answers/w2.json"}},
        )
    ]

    result = consolidate(s3, request(data_bucket), payload, fixed(("Duck", "Swan")))

    value = value_of(result.response[0])
    assert (value["label"], value["votes"], value["rejected_answers"]) == ("Duck", {"Duck": 2}, [])


def test_tie_and_unanswered_objects_are_returned_with_the_reason(s3: Any, data_bucket: str) -> None:
    payload = [entry("0", answer("w1", "Duck"), answer("w2", "Swan")), entry("1")]

    result = consolidate(s3, request(data_bucket), payload, fixed(("Duck", "Swan")))

    assert [value_of(r)["reason"] for r in result.response] == [
        "tie between Duck, Swan after 2 answers (fixed policy)",
        "no valid answer: no worker answered",
    ]
    assert [value_of(r)["status"] for r in result.response] == ["tie", "no-valid-answers"]
    assert [f.dataset_object_id for f in result.failures] == ["0", "1"]
    assert result.summary.unresolved == 2


def test_malformed_payload_entries_are_listed_as_failures(s3: Any, data_bucket: str) -> None:
    payload = [
        entry("0", answer("w1", "Duck")),
        {"datasetObjectId": "1", "dataObject": {"s3Uri": "s3://data/1.jpg"}},  # no annotations
        {"dataObject": {"s3Uri": "s3://data/2.jpg"}, "annotations": []},  # no datasetObjectId
        "not an object",
    ]

    result = consolidate(s3, request(data_bucket), payload, fixed(("Duck", "Swan")))

    assert [r["datasetObjectId"] for r in result.response] == ["0"]
    assert result.failures == [
        ConsolidationFailure(
            dataset_object_id="1", data_object=None, reason="malformed payload entry: annotations: Field required"
        ),
        ConsolidationFailure(
            dataset_object_id="#2", data_object=None, reason="malformed payload entry: datasetObjectId: Field required"
        ),
        ConsolidationFailure(
            dataset_object_id="#3",
            data_object=None,
            reason="malformed payload entry: Input should be a valid dictionary or instance of DataObjectAnnotations",
        ),
    ]
    assert (result.summary.objects, result.summary.labeled) == (4, 1)


def test_payload_that_is_not_a_json_array_is_refused(s3: Any, data_bucket: str) -> None:
    s3.put_object(Bucket=data_bucket, Key=PAYLOAD_KEY, Body=b'{"datasetObjectId": "0"}')
    with pytest.raises(
        ValueError, match=r"consolidation payload s3://groundcrew-data/.+ must be a JSON array, found dict"
    ):
        read_payload(s3, request(data_bucket))


@pytest.mark.parametrize(
    ("name", "job_arn", "attribute", "categories"),
    [
        (
            "awsdocs/post-annotation_request.json",
            "arn:aws:sagemaker:us-west-2:111122223333:labeling-job/labeling-job-name",
            "labeling-job-attribute-name",
            ["Ex Category1", "Ex Category2", "Ex Category3"],
        ),
        (
            "recipe_annotation_consolidation_test_event.json",
            "arn:aws:sagemaker:us-east-1:111111111111:labeling-job/test-labeling-job",
            "test-label-attribute",
            None,
        ),
        (
            "crowd-2d-skeleton_README_consolidation_event.json",
            "arn:aws:sagemaker:<region>:<account>:<job name>",
            "<...>",
            None,
        ),
    ],
)
def test_request_parses_real_consolidation_events(
    corpus: Path, name: str, job_arn: str, attribute: str, categories: list[str] | None
) -> None:
    event = json.loads((corpus / "lambda-events" / name).read_text())

    parsed = ConsolidationRequest.model_validate(event)

    assert (parsed.labelingJobArn, parsed.labelAttributeName, parsed.labelCategories) == (
        job_arn,
        attribute,
        categories,
    )
    assert parsed.payload.s3Uri == event["payload"]["s3Uri"]


def test_a_follow_up_round_counts_the_carried_answers_and_refuses_a_repeat_worker(s3: Any, data_bucket: str) -> None:
    carried = {
        "s3://data/incoming/birds/0.jpg": [
            {"worker_id": "w1", "label": "Duck", "round": 1},
            {"worker_id": "w2", "label": "Swan", "round": 1},
        ]
    }
    context = JobContext(
        labels=("Duck", "Swan"),
        policy=ConsensusPolicy(kind=PolicyKind.ADAPTIVE, min_margin=1),
        round=2,
        carried=carried,
    )
    payload = [entry("0", answer("w1", "Swan"), answer("w3", "Duck"))]

    result = consolidate(s3, request(data_bucket), payload, context)

    value = value_of(result.response[0])
    assert (value["label"], value["status"], value["votes"]) == ("Duck", "consolidated", {"Duck": 2, "Swan": 1})
    assert value["answers"][-1] == {"worker_id": "w3", "label": "Duck", "round": 2}
    assert value["rejected_answers"] == [
        {"worker_id": "w1", "reason": "the worker already answered this item in round 1", "round": 2}
    ]
    assert value["round"] == 2


def test_an_item_the_adaptive_policy_wants_more_for_says_how_many(s3: Any, data_bucket: str) -> None:
    context = JobContext(labels=("Duck", "Swan"), policy=ConsensusPolicy(kind=PolicyKind.ADAPTIVE, min_margin=2))
    result = consolidate(s3, request(data_bucket), [entry("0", answer("w1", "Duck"), answer("w2", "Swan"))], context)
    value = value_of(result.response[0])
    assert (value["status"], value["more_answers"]) == ("unresolved", 2)
    assert "a lead of 2 votes" in value["reason"]


def test_dawid_skene_consolidation_down_weights_a_worker_known_to_be_bad(s3: Any, data_bucket: str) -> None:
    priors = {
        "good": WorkerPrior("good", accuracy=0.97, evidence=200),
        "bad": WorkerPrior("bad", accuracy=0.3, evidence=200),
    }
    policy = ConsensusPolicy(
        kind=PolicyKind.FIXED, method=ConsensusMethod.DAWID_SKENE, initial_answers=2, max_answers=2
    )
    context = JobContext(labels=("Duck", "Swan"), policy=policy, priors=priors)
    result = consolidate(s3, request(data_bucket), [entry("0", answer("good", "Swan"), answer("bad", "Duck"))], context)
    value = value_of(result.response[0])
    assert (value["label"], value["status"]) == ("Swan", "consolidated")  # a 1-1 split, settled by who said what
    assert value["confidence"] > 0.9


def skeleton_answer(worker: str, points: dict[str, tuple[int, int]], **fields: str) -> dict[str, Any]:
    annotations = [{"label": k, "x": x, "y": y} for k, (x, y) in points.items()]
    content = {
        "updated_annotations": json.dumps([{"name": "", "annotations": annotations}]),
        "original_annotations": "[]",
        "image_s3_uri": "https://data.s3.amazonaws.com/incoming/poses/0.jpg?X-Amz-Signature=abc",
        "image_name": "0.jpg?X-Amz-Signature=abc",
        "no_changes_needed": "false",
        "total_time_in_seconds": "31",
        **fields,
    }
    return {"workerId": worker, "annotationData": {"content": json.dumps(content)}}


def test_keypoint_submissions_are_parsed_checked_and_consolidated(s3: Any, data_bucket: str) -> None:
    from groundcrew.workflows.keypoints.rigs import load_preset

    rig = load_preset("coco-person")
    context = JobContext(
        labels=rig.names, policy=ConsensusPolicy.fixed(3), workflow=Workflow.KEYPOINTS, rig=rig, round=1
    )
    pose = {"left_hip": (120, 200), "right_hip": (100, 200), "left_knee": (122, 250), "right_knee": (98, 250)}
    payload = [
        entry(
            "0",
            skeleton_answer("w1", pose),
            skeleton_answer("w2", {**pose, "left_knee": (123, 251)}),
            skeleton_answer("w3", {**pose, "tail": (1, 1)}),
            skeleton_answer("w4", pose, updated_annotations="not json"),
        ),
        entry("1", skeleton_answer("w5", pose, total_time_in_seconds="soon")),
    ]

    result = consolidate(s3, request(data_bucket), payload, context)

    first, second = (value_of(r) for r in result.response)
    assert first["status"] == "consolidated"
    assert first["worker_id"] == ["w1", "w2"]
    (skeleton,) = first["updated_annotations"]
    assert {a["label"] for a in skeleton["annotations"]} == set(pose)
    assert first["image_file_name"] == "0.jpg" and first["total_time_in_seconds"] == 62
    reasons = {r["worker_id"]: r["reason"] for r in first["rejected_answers"]}
    assert "tail" in reasons["w3"] and "w4" in reasons
    assert second["status"] == "no-valid-answers" and "total_time_in_seconds" in second["reason"]
    assert [f.dataset_object_id for f in result.failures] == ["1"]
    assert all("content" in a for a in first["answers"])  # kept for the Decide and Finalize steps
