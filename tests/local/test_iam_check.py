"""The local IAM check: the evaluator, the request mapping, and calls of in-process handlers (fixture template)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from groundcrew_local import iam_check
from groundcrew_local.iam_check import Permission, Statement, build_function_policy, evaluate, required_permissions
from groundcrew_local.moto_patches import MOCK_CONFIG, install_local_patches
from groundcrew_local.moto_patches.in_process_lambda import reset_function_modules
from groundcrew_local.stack import LambdaInvokeError, LocalStack, deploy_local_stack

TEMPLATE = Path(__file__).parent / "fixtures" / "iam_template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET_ARN = "arn:aws:s3:::data"


def allow(sid: str, action: Any, resource: Any, condition: dict[str, Any] | None = None) -> Statement:
    raw = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource, "Condition": condition}
    return Statement.parse({k: v for k, v in raw.items() if v is not None}, sid)


# ---------------------------------------------------------------------------------------------------------------
# Evaluator


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:GetObject", "s3:getobject", True),  # action names are case-insensitive
        ("S3:Get*", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObjectTagging", False),
        ("s3:*", "dynamodb:GetItem", False),
        ("*", "dynamodb:GetItem", True),
    ],
)
def test_actions_match_with_wildcards_and_any_case(pattern: str, action: str, expected: bool) -> None:
    assert iam_check.action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        (f"{BUCKET_ARN}/incoming/*", f"{BUCKET_ARN}/incoming/shapes/a b.png", True),
        (f"{BUCKET_ARN}/incoming/*", f"{BUCKET_ARN}/labeling-jobs/x/output.manifest", False),
        (f"{BUCKET_ARN}/batches/*/rounds/*", f"{BUCKET_ARN}/batches/p/b1/rounds/r2/job.manifest", True),
        (f"{BUCKET_ARN}/batches/*/rounds/*", f"{BUCKET_ARN}/batches/p/b1/output/out.manifest", False),
        (f"{BUCKET_ARN}/Incoming/*", f"{BUCKET_ARN}/incoming/a.png", False),  # resources are case-sensitive
        ("arn:aws:sagemaker:*:*:labeling-job/gc-*", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/gc-a-r1", True),
        ("arn:aws:sagemaker:us-?ast-1:*:labeling-job/*", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/x", True),
        # A wildcard does not reach across ARN components.
        (f"arn:aws:sqs:*:{ACCOUNT}:queue", f"arn:aws:sqs:{REGION}:999:{ACCOUNT}:queue", False),
        (f"arn:aws:*:{REGION}:{ACCOUNT}:queue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue", True),
        ("*", f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue", True),
    ],
)
def test_resources_match_with_wildcards(pattern: str, resource: str, expected: bool) -> None:
    assert iam_check.resource_matches(pattern, resource) is expected


def test_an_allow_statement_grants_only_its_actions_on_its_resources() -> None:
    statements = [allow("Read", ["s3:GetObject"], [f"{BUCKET_ARN}/projects/*", f"{BUCKET_ARN}/batches/*"])]
    assert evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/projects/p.yaml")).allowed_by == "Read"
    outside = evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/labeling-jobs/j/out.manifest"))
    assert not outside.allowed
    assert outside.near_misses and outside.near_misses[0].startswith("Read (resource not in")
    assert not evaluate(statements, Permission("s3:PutObject", f"{BUCKET_ARN}/projects/p.yaml")).allowed


def test_s3_prefix_condition_is_evaluated() -> None:
    statements = [allow("ListGold", "s3:ListBucket", BUCKET_ARN, {"StringLike": {"s3:prefix": "gold/*"}})]
    assert evaluate(statements, Permission("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "gold/shapes/"})).allowed
    other = evaluate(statements, Permission("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "incoming/"}))
    assert not other.allowed and "condition" in other.near_misses[0]
    # No prefix in the request: the key is absent and StringLike does not hold, as in IAM.
    assert not evaluate(statements, Permission("s3:ListBucket", BUCKET_ARN)).allowed


def test_events_source_condition_is_evaluated() -> None:
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/groundcrew"
    statements = [allow("Ours", "events:PutEvents", bus, {"StringEquals": {"events:source": "groundcrew"}})]
    assert evaluate(statements, Permission("events:PutEvents", bus, {"events:source": "groundcrew"})).allowed
    assert not evaluate(statements, Permission("events:PutEvents", bus, {"events:source": "aws.s3"})).allowed
    assert not evaluate(
        statements, Permission("events:PutEvents", f"{bus}-other", {"events:source": "groundcrew"})
    ).allowed


def test_negated_and_if_exists_operators_follow_iam_for_missing_keys() -> None:
    not_like = [allow("NotJobs", "s3:ListBucket", BUCKET_ARN, {"StringNotLike": {"s3:prefix": "labeling-jobs/*"}})]
    assert evaluate(not_like, Permission("s3:ListBucket", BUCKET_ARN)).allowed  # missing key: negation holds
    assert not evaluate(not_like, Permission("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "labeling-jobs/x"})).allowed
    if_exists = [allow("Maybe", "s3:ListBucket", BUCKET_ARN, {"StringLikeIfExists": {"s3:prefix": "gold/*"}})]
    assert evaluate(if_exists, Permission("s3:ListBucket", BUCKET_ARN)).allowed


def test_explicit_deny_wins_over_allow() -> None:
    statements = [
        allow("ReadAll", "s3:*", f"{BUCKET_ARN}/*"),
        Statement.parse(
            {"Sid": "NoExports", "Effect": "Deny", "Action": "s3:Get*", "Resource": f"{BUCKET_ARN}/exports/*"}, "x"
        ),
    ]
    decision = evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/exports/train.csv"))
    assert not decision.allowed and decision.denied_by == "NoExports"
    assert evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/projects/p.yaml")).allowed


def test_an_unsupported_condition_never_allows_and_is_reported() -> None:
    statements = [allow("FromOffice", "s3:GetObject", "*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})]
    decision = evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/a"))
    assert not decision.allowed
    assert "unsupported condition operator IpAddress" in decision.near_misses[0]
    unknown_key = [allow("Tagged", "s3:GetObject", "*", {"StringEquals": {"s3:ExistingObjectTag/team": "a"}})]
    assert (
        "unsupported condition key s3:ExistingObjectTag/team"
        in evaluate(unknown_key, Permission("s3:GetObject", f"{BUCKET_ARN}/a")).near_misses[0]
    )


def test_a_deny_with_an_unsupported_condition_applies() -> None:
    statements = [
        allow("ReadAll", "s3:GetObject", "*"),
        Statement.parse(
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            "Policies[0].Statement[1]",
        ),
    ]
    decision = evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/a"))
    assert not decision.allowed and decision.denied_by == "Policies[0].Statement[1]"


def test_not_action_and_not_resource() -> None:
    statements = [
        Statement.parse({"Sid": "AllButDelete", "Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}, "x"),
        Statement.parse(
            {"Sid": "NotSecret", "Effect": "Deny", "Action": "*", "NotResource": f"{BUCKET_ARN}/public/*"}, "y"
        ),
    ]
    assert evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/public/a")).allowed
    assert not evaluate(statements, Permission("s3:DeleteObject", f"{BUCKET_ARN}/public/a")).allowed
    assert evaluate(statements, Permission("s3:GetObject", f"{BUCKET_ARN}/private/a")).denied_by == "NotSecret"


def test_sam_policy_templates_and_implicit_policies_are_expanded() -> None:
    policy = build_function_policy(
        "Fn",
        "fn-name",
        [{"DynamoDBCrudPolicy": {"TableName": "batches"}}, {"NoSuchPolicy": {}}, "arn:aws:iam::aws:policy/ReadOnly"],
        region=REGION,
        account_id=ACCOUNT,
        tracing="Active",
    )
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/batches"
    assert evaluate(policy.statements, Permission("dynamodb:Query", f"{table}/index/by-worker")).allowed
    assert evaluate(policy.statements, Permission("logs:PutLogEvents", "*")).allowed
    assert evaluate(policy.statements, Permission("xray:PutTraceSegments", "*")).allowed
    assert not evaluate(policy.statements, Permission("sqs:ReceiveMessage", "*")).allowed  # no SQS event
    assert any("NoSuchPolicy is not emulated" in note for note in policy.notes)
    assert any("managed policy arn:aws:iam::aws:policy/ReadOnly" in note for note in policy.notes)


# ---------------------------------------------------------------------------------------------------------------
# Requests to permissions


@dataclass
class FakeRequest:
    url: str
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)


def permissions(event_name: str, request: FakeRequest) -> list[tuple[str, str, dict[str, str]]]:
    _, service, operation = event_name.split(".")
    found = required_permissions(service, operation, request, region=REGION, account_id=ACCOUNT)
    return [(p.action, p.resource, dict(p.context)) for p in found]


@pytest.mark.parametrize(
    "url",
    [
        "https://data.s3.amazonaws.com/labeling-jobs/j%201/out%2Bx.manifest",
        "https://data.s3.us-east-1.amazonaws.com/labeling-jobs/j%201/out%2Bx.manifest",
        "https://s3.amazonaws.com/data/labeling-jobs/j%201/out%2Bx.manifest",
        "http://127.0.0.1:5000/data/labeling-jobs/j%201/out%2Bx.manifest",
    ],
)
def test_s3_object_reads_map_to_get_object_in_both_url_styles(url: str) -> None:
    expected = [("s3:GetObject", f"{BUCKET_ARN}/labeling-jobs/j 1/out+x.manifest", {})]
    assert permissions("before-send.s3.GetObject", FakeRequest(url)) == expected
    assert permissions("before-send.s3.HeadObject", FakeRequest(url)) == expected


def test_s3_writes_copies_deletes_and_lists() -> None:
    key_url = "https://data.s3.amazonaws.com/exports/a.csv"
    for operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        assert permissions(f"before-send.s3.{operation}", FakeRequest(key_url)) == [
            ("s3:PutObject", f"{BUCKET_ARN}/exports/a.csv", {})
        ]
    assert permissions("before-send.s3.AbortMultipartUpload", FakeRequest(key_url))[0][0] == "s3:AbortMultipartUpload"
    copy = FakeRequest(key_url, headers={"x-amz-copy-source": "/other/batches/b%201/out.csv?versionId=3"})
    assert permissions("before-send.s3.CopyObject", copy) == [
        ("s3:PutObject", f"{BUCKET_ARN}/exports/a.csv", {}),
        ("s3:GetObject", "arn:aws:s3:::other/batches/b 1/out.csv", {}),
    ]
    delete = FakeRequest(
        "https://data.s3.amazonaws.com/?delete",
        body=b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/1</Key></Object>'
        b"<Object><Key>b/2</Key></Object></Delete>",
    )
    assert permissions("before-send.s3.DeleteObjects", delete) == [
        ("s3:DeleteObject", f"{BUCKET_ARN}/a/1", {}),
        ("s3:DeleteObject", f"{BUCKET_ARN}/b/2", {}),
    ]
    listing = FakeRequest("https://data.s3.amazonaws.com/?list-type=2&prefix=gold%2Fshapes%2F")
    assert permissions("before-send.s3.ListObjectsV2", listing) == [
        ("s3:ListBucket", BUCKET_ARN, {"s3:prefix": "gold/shapes/"})
    ]
    assert permissions("before-send.s3.HeadBucket", FakeRequest("https://s3.amazonaws.com/data")) == [
        ("s3:ListBucket", BUCKET_ARN, {})
    ]
    assert permissions("before-send.s3.GetBucketLocation", FakeRequest("https://data.s3.amazonaws.com/?location")) == [
        ("s3:GetBucketLocation", BUCKET_ARN, {})
    ]


def test_json_services_map_to_their_resources() -> None:
    def json_request(body: dict[str, Any]) -> FakeRequest:
        return FakeRequest("https://example.amazonaws.com/", json.dumps(body).encode())

    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus"
    put_events = json_request(
        {"Entries": [{"EventBusName": "groundcrew", "Source": "groundcrew"}, {"Source": "aws.s3"}]}
    )
    assert permissions("before-send.eventbridge.PutEvents", put_events) == [
        ("events:PutEvents", f"{bus}/groundcrew", {"events:source": "groundcrew"}),
        ("events:PutEvents", f"{bus}/default", {"events:source": "aws.s3"}),
    ]
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"
    assert permissions("before-send.sfn.StartExecution", json_request({"stateMachineArn": machine})) == [
        ("states:StartExecution", machine, {})
    ]
    assert permissions("before-send.sfn.SendTaskSuccess", json_request({"taskToken": "t"})) == [
        ("states:SendTaskSuccess", "*", {})
    ]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/batches"
    query = json_request({"TableName": "batches", "IndexName": "by-worker"})
    assert permissions("before-send.dynamodb.Query", query) == [("dynamodb:Query", f"{table}/index/by-worker", {})]
    transaction = json_request(
        {"TransactItems": [{"Put": {"TableName": "batches"}}, {"ConditionCheck": {"TableName": "batches"}}]}
    )
    assert permissions("before-send.dynamodb.TransactWriteItems", transaction) == [
        ("dynamodb:PutItem", table, {}),
        ("dynamodb:ConditionCheckItem", table, {}),
    ]
    role = f"arn:aws:iam::{ACCOUNT}:role/gt"
    create = json_request({"LabelingJobName": "GC-Job-R1", "RoleArn": role, "Tags": [{"Key": "a", "Value": "b"}]})
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/gc-job-r1"
    assert permissions("before-send.sagemaker.CreateLabelingJob", create) == [
        ("sagemaker:CreateLabelingJob", job, {}),
        ("sagemaker:AddTags", job, {}),
        ("iam:PassRole", role, {"iam:passedtoservice": "sagemaker.amazonaws.com"}),
    ]
    queue = json_request({"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/intake"})
    assert permissions("before-send.sqs.SendMessageBatch", queue) == [
        ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:intake", {})
    ]


def test_other_services_map_generically_and_caller_identity_needs_nothing() -> None:
    assume = FakeRequest("https://sts.amazonaws.com/", b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr")
    assert permissions("before-send.sts.AssumeRole", assume) == [("sts:AssumeRole", "arn:aws:iam::1:role/r", {})]
    assert permissions("before-send.sts.GetCallerIdentity", FakeRequest("https://sts.amazonaws.com/")) == []
    assert permissions("before-send.cloudwatch.PutMetricData", FakeRequest("https://monitoring.amazonaws.com/")) == [
        ("cloudwatch:PutMetricData", "*", {})
    ]
    invoke = FakeRequest("https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/writer/invocations")
    assert permissions("before-send.lambda.Invoke", invoke) == [
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:writer", {})
    ]


# ---------------------------------------------------------------------------------------------------------------
# In-process handlers of tests/local/fixtures/iam_template.yaml


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    install_local_patches()
    reset_function_modules()
    with mock_aws(config=MOCK_CONFIG):
        deployed = deploy_local_stack(TEMPLATE)
        s3 = boto3.client("s3", region_name=REGION)
        bucket = deployed.physical_ids["Bucket"]
        for key in ("allowed/a.txt", "secret/b.txt"):
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        yield deployed
    reset_function_modules()


@pytest.fixture(autouse=True)
def no_denials() -> Iterator[None]:
    iam_check.clear_denials()
    yield
    iam_check.clear_denials()


def test_template_intrinsics_are_resolved_in_the_registered_policy(stack: LocalStack) -> None:
    policy = iam_check.function_policy(stack.function_names["ReaderFunction"])
    assert policy is not None and policy.logical_id == "ReaderFunction"
    bucket = stack.physical_ids["Bucket"]
    resources = {statement.sid: statement.resources for statement in policy.statements}
    assert resources["ReadAllowed"] == (f"arn:aws:s3:::{bucket}/allowed/*",)
    assert resources["ListAllowed"] == (f"arn:aws:s3:::{bucket}",)
    assert resources["CallWriter"] == (stack.function_arn("WriterFunction"),)
    assert resources["SomeQueues"] == (f"arn:aws:sqs:{REGION}:{stack.account_id}:reader-*",)
    assert policy.generalise(f"arn:aws:s3:::{bucket}/secret/b.txt") == "arn:aws:s3:::${Bucket}/secret/b.txt"


def test_enforce_mode_denies_a_read_outside_the_allowed_prefix(stack: LocalStack, monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "enforce")
    assert stack.invoke("ReaderFunction", {"action": "read", "key": "allowed/a.txt"}) == "allowed/a.txt"
    with pytest.raises(LambdaInvokeError) as raised:
        stack.invoke("ReaderFunction", {"action": "read", "key": "secret/b.txt"})
    error = raised.value
    assert error.error_type == "ClientError"
    bucket = stack.physical_ids["Bucket"]
    for part in (
        "(AccessDenied)",
        "ReaderFunction",
        "s3:GetObject",
        f"arn:aws:s3:::{bucket}/secret/b.txt",
        "Sids checked: ReadAllowed, ListAllowed, CallWriter, SomeQueues",
    ):
        assert part in error.error_message
    assert [(d.function, d.action, d.generalised_resource, d.enforced) for d in iam_check.denials()] == [
        ("ReaderFunction", "s3:GetObject", "arn:aws:s3:::${Bucket}/secret/b.txt", True)
    ]


def test_record_mode_allows_and_records(stack: LocalStack, monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "record")
    assert stack.invoke("ReaderFunction", {"action": "read", "key": "secret/b.txt"}) == "secret/b.txt"
    assert stack.invoke("ReaderFunction", {"action": "list", "prefix": "secret/"}) == ["secret/b.txt"]
    assert stack.invoke("ReaderFunction", {"action": "list", "prefix": "allowed/"}) == ["allowed/a.txt"]
    recorded = [(d.function, d.action, d.generalised_resource, d.enforced) for d in iam_check.denials()]
    assert recorded == [
        ("ReaderFunction", "s3:GetObject", "arn:aws:s3:::${Bucket}/secret/b.txt", False),
        ("ReaderFunction", "s3:ListBucket", "arn:aws:s3:::${Bucket}", False),
    ]
    assert "'s3:prefix': 'secret/'" in iam_check.denials()[1].reason


def test_off_mode_checks_nothing(stack: LocalStack, monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "off")
    assert stack.invoke("ReaderFunction", {"action": "read", "key": "secret/b.txt"}) == "secret/b.txt"
    assert iam_check.denials() == []


def test_calls_from_the_handlers_worker_threads_are_checked(stack: LocalStack, monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "enforce")
    assert stack.invoke("ReaderFunction", {"action": "read_in_thread", "key": "allowed/a.txt"}) == "allowed/a.txt"
    with pytest.raises(LambdaInvokeError, match="AccessDenied"):
        stack.invoke("ReaderFunction", {"action": "read_in_thread", "key": "secret/b.txt"})


def test_nested_invocations_are_checked_as_the_function_that_runs(stack: LocalStack, monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "record")
    # The writer may put anywhere; once it returns, the reader reads what it wrote, outside its own prefix.
    assert stack.invoke("ReaderFunction", {"action": "write_then_read", "key": "out/c.txt"}) == "written"
    assert [(d.function, d.action, d.generalised_resource) for d in iam_check.denials()] == [
        ("ReaderFunction", "s3:GetObject", "arn:aws:s3:::${Bucket}/out/c.txt")
    ]


def test_calls_outside_handlers_are_not_checked(stack: LocalStack, monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "enforce")
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_object(Bucket=stack.physical_ids["Bucket"], Key="secret/b.txt")["Body"].read() == b"secret/b.txt"
    assert iam_check.denials() == []


def test_an_unknown_mode_is_rejected(monkeypatch: Any) -> None:
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "audit")
    with pytest.raises(ValueError, match="enforce, record, off"):
        iam_check.mode()
    monkeypatch.delenv("GROUNDCREW_LOCAL_IAM")
    assert iam_check.mode() == iam_check.DEFAULT_MODE


def test_mechanical_turk_calls_need_mechanicalturk_actions_on_any_resource() -> None:
    request = FakeRequest("https://mturk-requester-sandbox.us-east-1.amazonaws.com/", b"{}")
    assert permissions("before-send.mturk.CreateHIT", request) == [("mechanicalturk:CreateHIT", "*", {})]


def test_a_missing_object_is_access_denied_without_unconditional_list_bucket(
    stack: LocalStack, monkeypatch: Any
) -> None:
    # S3 says 404 NoSuchKey only to callers allowed to list the bucket; ListAllowed has an s3:prefix condition,
    # which a GetObject request does not carry.
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "enforce")
    with pytest.raises(LambdaInvokeError) as raised:
        stack.invoke("ReaderFunction", {"action": "read", "key": "allowed/missing.txt"})
    assert "(AccessDenied)" in str(raised.value)
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "record")
    iam_check.clear_denials()
    with pytest.raises(LambdaInvokeError):
        stack.invoke("ReaderFunction", {"action": "read", "key": "allowed/missing.txt"})
    (denial,) = iam_check.denials()
    assert denial.action == "s3:ListBucket" and "(404 NoSuchKey) only to callers" in denial.reason
    monkeypatch.setenv("GROUNDCREW_LOCAL_IAM", "off")
    with pytest.raises(LambdaInvokeError) as raised:
        stack.invoke("ReaderFunction", {"action": "read", "key": "allowed/missing.txt"})
    assert "NoSuchKey" in str(raised.value)
