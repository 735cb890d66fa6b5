"""The moto patches of local mode, exercised through boto3 against moto, without the template loader."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from groundcrew_local import moto_patches
from groundcrew_local.moto_patches import MOCK_CONFIG, in_process_lambda, install_local_patches, originals
from groundcrew_local.moto_patches.eventbridge_targets import apply_input_transformer, execution_name, json_path_value
from groundcrew_local.moto_patches.in_process_lambda import (
    handler_module_name,
    register_function_code,
    reset_function_modules,
)
from groundcrew_local.moto_patches.s3_events import s3_notification_key
from groundcrew_local.moto_patches.sqs_event_sources import failed_item_ids, poll_sqs_event_source

FIXTURES = Path(__file__).parent / "fixtures"
FUNCTIONS = FIXTURES / "functions"
LAYER = FIXTURES / "layers" / "fixturelib"
REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[None]:
    install_local_patches()
    reset_function_modules()
    with mock_aws(config=MOCK_CONFIG):
        yield
    reset_function_modules()


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "")
    return buffer.getvalue()


def make_function(name: str, folder: str, env: dict[str, str] | None = None) -> str:
    iam = client("iam")
    try:
        role = iam.get_role(RoleName="fixture-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fixture-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": tiny_zip()},
        Timeout=30,
        Environment={"Variables": env or {}},
    )["FunctionArn"]
    register_function_code(name, FUNCTIONS / folder, "app.lambda_handler", [LAYER])
    return str(arn)


def invoke(name: str, event: Any) -> tuple[Any, str | None]:
    response = client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def module_of(function_name: str) -> Any:
    return sys.modules[handler_module_name(function_name)]


def make_queue(name: str, **attributes: str) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def queue_bodies(url: str) -> list[str]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def wait_for_execution(arn: str, timeout: float = 10.0) -> dict[str, Any]:
    sfn = client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return dict(description)
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} still running after {timeout} s")


# ---- installation


def test_install_is_idempotent_and_keeps_moto_original() -> None:
    install_local_patches()
    install_local_patches()
    assert LambdaFunction._invoke_lambda is in_process_lambda._invoke_lambda_in_process
    original = originals.original(LambdaFunction, "_invoke_lambda")
    assert original is not in_process_lambda._invoke_lambda_in_process
    assert original.__module__ == "moto.awslambda.models"


def test_uninstall_restores_moto_then_install_again() -> None:
    install_local_patches()
    moto_patches.uninstall_local_patches()
    try:
        assert not moto_patches.patches_installed()
        assert LambdaFunction._invoke_lambda.__module__ == "moto.awslambda.models"
    finally:
        install_local_patches()
    assert LambdaFunction._invoke_lambda is in_process_lambda._invoke_lambda_in_process


def test_negative_wait_cap_is_rejected() -> None:
    with pytest.raises(ValueError, match="wait_cap_seconds"):
        install_local_patches(wait_cap_seconds=-1)


# ---- in-process Lambda


def test_invoke_runs_the_handler_in_process_with_env_context_and_layer(aws: None) -> None:
    make_function("echo", "echo", {"ECHO_ONLY": "echo", "SHARED": "x"})
    result, error = invoke("echo", {"hello": "world"})
    assert error is None
    assert result["event"] == {"hello": "world"}
    assert result["env"]["ECHO_ONLY"] == "echo"
    assert result["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert result["env"]["AWS_REGION"] == REGION
    assert result["function_name"] == "echo"
    assert 0 < result["remaining_ms"] <= 30_000
    assert result["greeting"] == "hello echo from fixturelib"
    assert "ECHO_ONLY" not in os.environ, "function environment leaked into the process"
    assert os.environ.get("AWS_LAMBDA_FUNCTION_NAME") is None


def test_handler_exception_becomes_lambda_error_payload(aws: None) -> None:
    make_function("step", "step")
    result, error = invoke("step", {"mode": "boom", "run": "e1"})
    assert error is not None
    assert result["errorType"] == "BoomError"
    assert result["errorMessage"] == "run e1: step exploded"
    assert any("app.py" in line for line in result["stackTrace"])
    assert not any("moto_patches" in line for line in result["stackTrace"])


def test_output_goes_to_cloudwatch_logs(aws: None) -> None:
    make_function("echo", "echo")
    invoke("echo", {"n": 1})
    logs = client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert len(streams) == 1
    events = logs.get_log_events(logGroupName="/aws/lambda/echo", logStreamName=streams[0]["logStreamName"])
    messages = [e["message"] for e in events["events"]]
    assert messages[0].startswith("START RequestId:")
    assert "echo got {'n': 1}" in messages
    assert messages[-1].startswith("REPORT RequestId:")


def test_same_module_name_in_two_functions_is_isolated_and_warm(aws: None) -> None:
    make_function("echo", "echo")
    make_function("step", "step")
    assert invoke("echo", {})[0]["name"] == "echo"
    assert invoke("step", {"run": "w"})[0]["name"] == "step"
    assert invoke("echo", {})[0]["calls"] == 2, "module state should survive between calls (warm container)"
    assert "app" not in sys.modules or getattr(sys.modules["app"], "NAME", None) not in {"echo", "step"}
    reset_function_modules()
    assert invoke("echo", {})[0]["calls"] == 1, "reset_function_modules should give a cold start"


def test_nested_invocation_restores_the_callers_environment(aws: None) -> None:
    make_function("echo", "echo", {"ECHO_ONLY": "echo"})
    make_function("caller", "caller", {"CALLER_ONLY": "caller", "TARGET_FUNCTION": "echo"})
    result, error = invoke("caller", {})
    assert error is None
    assert result["inner"]["env"]["CALLER_ONLY"] is None, "caller's variables leaked into the nested call"
    assert result["inner"]["env"]["ECHO_ONLY"] == "echo"
    assert result["inner"]["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert result["before"] == result["after"] == "caller"
    assert result["echo_only_after"] is None
    assert result["function_name_after"] == "caller"
    assert "CALLER_ONLY" not in os.environ


def test_other_threads_copy_the_environment_while_functions_run(aws: None) -> None:
    # Step Functions threads build boto3 clients (os.environ.copy()) while an invocation swaps variables.
    make_function("echo", "echo", {"ECHO_ONLY": "echo"})
    failures: list[BaseException] = []
    stop = threading.Event()

    def copy_environment() -> None:
        while not stop.is_set():
            try:
                os.environ.copy()
                list(os.environ.items())
                list(os.environ.values())
            except KeyError as exc:
                failures.append(exc)

    reader = threading.Thread(target=copy_environment)
    reader.start()
    try:
        for _ in range(150):
            invoke("echo", {})
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert "ECHO_ONLY" not in os.environ.copy()


def test_unregistered_function_reports_a_clear_error(aws: None) -> None:
    make_function("echo", "echo")
    in_process_lambda._FUNCTION_CODE.pop("echo")
    result, error = invoke("echo", {})
    assert error is not None
    assert result["errorType"] == "Runtime.LocalModeFunctionNotRegistered"
    assert "register_function_code" in result["errorMessage"]


def test_unserialisable_result_is_a_marshal_error(aws: None, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return {1, 2}\n")
    make_function("bad", "echo")
    register_function_code("bad", tmp_path, "app.lambda_handler", [])
    result, error = invoke("bad", {})
    assert error is not None
    assert result["errorType"] == "Runtime.MarshalError"


# ---- Step Functions: Wait and Retry cap


WAITS_DEFINITION = {
    "StartAt": "Seconds",
    "States": {
        "Seconds": {"Type": "Wait", "Seconds": 3600, "Next": "SecondsPath"},
        "SecondsPath": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Timestamp"},
        "Timestamp": {"Type": "Wait", "Timestamp": "2099-01-01T00:00:00Z", "Next": "TimestampPath"},
        "TimestampPath": {"Type": "Wait", "TimestampPath": "$.until", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def start(definition: dict[str, Any], execution_input: dict[str, Any], name: str = "run-1") -> str:
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"machine-{name}", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    return str(
        sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(execution_input))["executionArn"]
    )


def test_every_kind_of_wait_is_instant(aws: None) -> None:
    started = time.monotonic()
    arn = start(WAITS_DEFINITION, {"wait": 3600, "until": "2099-06-01T00:00:00Z"})
    assert wait_for_execution(arn)["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5


def test_wait_cap_is_honoured(aws: None) -> None:
    install_local_patches(wait_cap_seconds=0.5)
    try:
        started = time.monotonic()
        arn = start({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}}, {})
        assert wait_for_execution(arn)["status"] == "SUCCEEDED"
        assert 0.5 <= time.monotonic() - started < 4
    finally:
        install_local_patches(wait_cap_seconds=0.0)


def test_retry_interval_is_capped_and_retry_still_happens(aws: None) -> None:
    function_arn = make_function("step", "step")
    task = {
        "Type": "Task",
        "Resource": function_arn,
        "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 30, "MaxAttempts": 3}],
        "End": True,
    }
    started = time.monotonic()
    arn = start({"StartAt": "Step", "States": {"Step": task}}, {"mode": "flaky", "run": "retry"})
    description = wait_for_execution(arn)
    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"])["attempts"] == 2
    assert time.monotonic() - started < 5


# ---- EventBridge targets


def put_rule_with_targets(bus: str, pattern: dict[str, Any], targets: list[dict[str, Any]], name: str = "r") -> None:
    events = client("events")
    if bus != "default":
        events.create_event_bus(Name=bus)
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=targets)


def put_event(bus: str, detail: dict[str, Any], detail_type: str = "thing") -> None:
    entry = {"Source": "fixture", "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
    response = client("events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0


def test_lambda_target_first_does_not_starve_the_sqs_target(aws: None) -> None:
    function_arn = make_function("echo", "echo")
    url, queue_arn = make_queue("after-lambda")
    put_rule_with_targets(
        "fixture-bus", {"source": ["fixture"]}, [{"Id": "fn", "Arn": function_arn}, {"Id": "q", "Arn": queue_arn}]
    )
    put_event("fixture-bus", {"n": 1})
    received = module_of("echo").EVENTS
    assert len(received) == 1
    assert received[0]["detail"] == {"n": 1}
    assert received[0]["detail-type"] == "thing"
    assert received[0]["time"].endswith("Z"), "targets receive an ISO time, not moto's float"
    assert "ingestion-time" not in received[0]
    assert len(queue_bodies(url)) == 1


def test_input_input_path_and_input_transformer_on_lambda_targets(aws: None) -> None:
    function_arn = make_function("echo", "echo")
    transformer = {
        "InputPathsMap": {"n": "$.detail.n", "t": "$.detail-type"},
        "InputTemplate": '{"n": <n>, "t": "<t>"}',
    }
    targets = [
        {"Id": "constant", "Arn": function_arn, "Input": json.dumps({"fixed": True})},
        {"Id": "path", "Arn": function_arn, "InputPath": "$.detail"},
        {"Id": "transformed", "Arn": function_arn, "InputTransformer": transformer},
    ]
    put_rule_with_targets("default", {"source": ["fixture"]}, targets)
    put_event("default", {"n": 7})
    assert module_of("echo").EVENTS == [{"fixed": True}, {"n": 7}, {"n": 7, "t": "thing"}]


def test_sqs_targets_get_the_whole_event_or_their_input(aws: None) -> None:
    whole_url, whole_arn = make_queue("whole")
    path_url, path_arn = make_queue("path")
    constant_url, constant_arn = make_queue("constant")
    targets = [
        {"Id": "whole", "Arn": whole_arn},
        {"Id": "path", "Arn": path_arn, "InputPath": "$.detail"},
        {"Id": "constant", "Arn": constant_arn, "Input": '{"fixed": 1}'},
    ]
    put_rule_with_targets("fixture-bus", {"source": ["fixture"]}, targets)
    put_event("fixture-bus", {"n": 2})
    whole = json.loads(queue_bodies(whole_url)[0])
    assert set(whole) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert whole["account"] == "123456789012" and whole["time"].endswith("Z")
    assert json.loads(queue_bodies(path_url)[0]) == {"n": 2}
    assert json.loads(queue_bodies(constant_url)[0]) == {"fixed": 1}


def test_state_machine_target_starts_a_named_execution_per_event(aws: None) -> None:
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name="target-machine",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    put_rule_with_targets(
        "fixture-bus", {"source": ["fixture"]}, [{"Id": "flow", "Arn": machine, "InputPath": "$.detail"}]
    )
    put_event("fixture-bus", {"same": "input"})
    put_event("fixture-bus", {"same": "input"})
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 2
    assert len({e["name"] for e in executions}) == 2
    assert all(e["name"].startswith("flow-") for e in executions)
    for execution in executions:
        description = wait_for_execution(execution["executionArn"])
        assert json.loads(description["output"]) == {"same": "input"}


def test_disabled_and_schedule_only_rules_receive_no_events(aws: None) -> None:
    url, queue_arn = make_queue("never")
    events = client("events")
    events.put_rule(Name="disabled", EventPattern=json.dumps({"source": ["fixture"]}), State="DISABLED")
    events.put_targets(Rule="disabled", Targets=[{"Id": "q", "Arn": queue_arn}])
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "q", "Arn": queue_arn}])
    put_event("default", {"n": 1})
    assert queue_bodies(url) == []


def test_failing_target_does_not_fail_put_events_or_other_targets(aws: None) -> None:
    url, queue_arn = make_queue("survivor")
    missing = "arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"
    put_rule_with_targets(
        "default", {"source": ["fixture"]}, [{"Id": "gone", "Arn": missing}, {"Id": "q", "Arn": queue_arn}]
    )
    put_event("default", {"n": 1})
    assert len(queue_bodies(url)) == 1


# ---- S3 -> EventBridge


@pytest.fixture
def s3_to_targets(aws: None) -> tuple[str, str]:
    """A bucket sending to EventBridge, and a default-bus rule with a Lambda target before an SQS target."""
    client("s3").create_bucket(Bucket="data")
    client("s3").put_bucket_notification_configuration(
        Bucket="data", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    function_arn = make_function("echo", "echo")
    url, queue_arn = make_queue("s3-events")
    pattern = {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "incoming/"}]}}}
    put_rule_with_targets("default", pattern, [{"Id": "fn", "Arn": function_arn}, {"Id": "q", "Arn": queue_arn}])
    return "data", url


def test_s3_event_key_is_form_encoded_and_event_is_realistic(s3_to_targets: tuple[str, str]) -> None:
    bucket, url = s3_to_targets
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key="incoming/a b+c/é.png", Body=b"x")
    s3.put_object(Bucket=bucket, Key="incoming/second.png", Body=b"y")
    s3.put_object(Bucket=bucket, Key="elsewhere/skipped.png", Body=b"z")
    queued = [json.loads(body) for body in queue_bodies(url)]
    direct = module_of("echo").EVENTS
    assert [e["detail"]["object"]["key"] for e in direct] == ["incoming/a+b%2Bc/%C3%A9.png", "incoming/second.png"]
    assert sorted(e["detail"]["object"]["key"] for e in queued) == [
        "incoming/a+b%2Bc/%C3%A9.png",
        "incoming/second.png",
    ]
    first, second = direct
    assert first["id"] != second["id"]
    assert first["detail"]["reason"] == "PutObject"
    assert first["detail-type"] == "Object Created"
    assert "version-id" not in first["detail"]["object"]
    assert first["detail"]["object"]["sequencer"] < second["detail"]["object"]["sequencer"]
    parsed = parse(event=first, model=S3EventNotificationEventBridgeModel)
    assert parsed.detail.object.key == "incoming/a+b%2Bc/%C3%A9.png"


def test_s3_event_reason_for_copy_and_multipart_and_version_id(s3_to_targets: tuple[str, str]) -> None:
    bucket, _ = s3_to_targets
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key="source.bin", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="incoming/copy.bin", CopySource={"Bucket": bucket, "Key": "source.bin"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="incoming/multi.bin")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="incoming/multi.bin", UploadId=upload, PartNumber=1, Body=b"part")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="incoming/multi.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="incoming/versioned.bin", Body=b"v")["VersionId"]
    details = [e["detail"] for e in module_of("echo").EVENTS]
    assert [d["reason"] for d in details] == ["CopyObject", "CompleteMultipartUpload", "PutObject"]
    assert details[2]["object"]["version-id"] == version


def test_s3_delete_event(s3_to_targets: tuple[str, str]) -> None:
    bucket, _ = s3_to_targets
    client("s3").put_object(Bucket=bucket, Key="incoming/gone.txt", Body=b"x")
    client("s3").delete_object(Bucket=bucket, Key="incoming/gone.txt")
    deleted = module_of("echo").EVENTS[-1]
    assert deleted["detail-type"] == "Object Deleted"
    assert deleted["detail"]["reason"] == "DeleteObject"
    assert deleted["detail"]["deletion-type"] == "Permanently Deleted"
    assert deleted["detail"]["object"]["key"] == "incoming/gone.txt"


def test_archive_records_s3_and_put_events_without_errors(
    s3_to_targets: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    events = client("events")
    default_bus = events.describe_event_bus(Name="default")["Arn"]
    events.create_archive(ArchiveName="everything", EventSourceArn=default_bus)
    client("s3").put_object(Bucket=s3_to_targets[0], Key="incoming/archived.png", Body=b"x")
    put_event("default", {"n": 1})
    assert events.describe_archive(ArchiveName="everything")["EventCount"] == 2
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_s3_events_go_to_the_default_bus_only(aws: None) -> None:
    client("s3").create_bucket(Bucket="data")
    client("s3").put_bucket_notification_configuration(
        Bucket="data", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    url, queue_arn = make_queue("custom-bus-queue")
    put_rule_with_targets("custom", {"source": ["aws.s3"]}, [{"Id": "q", "Arn": queue_arn}])
    client("s3").put_object(Bucket="data", Key="k", Body=b"x")
    assert queue_bodies(url) == []


# ---- SQS -> Lambda partial batch failures


def worker_with_queue(function_response_types: list[str] | None) -> tuple[str, str, str]:
    dlq_url, dlq_arn = make_queue("work-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, queue_arn = make_queue("work", VisibilityTimeout="60", RedrivePolicy=redrive)
    make_function("worker", "worker")
    mapping: dict[str, Any] = {"EventSourceArn": queue_arn, "FunctionName": "worker", "BatchSize": 10}
    if function_response_types is not None:
        mapping["FunctionResponseTypes"] = function_response_types
    client("lambda").create_event_source_mapping(**mapping)
    return url, queue_arn, dlq_url


def send_batch(url: str, bodies: list[str]) -> None:
    entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
    assert not client("sqs").send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def visible_count(url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_partial_batch_failure_keeps_only_failed_message_then_dead_letters_it(aws: None) -> None:
    url, queue_arn, dlq_url = worker_with_queue(["ReportBatchItemFailures"])
    send_batch(url, ["ok-1", "fail-me", "ok-2"])
    calls = module_of("worker").CALLS
    assert [[r["body"] for r in call] for call in calls] == [["ok-1", "fail-me", "ok-2"]], "one batch, one call"
    assert visible_count(url) == 1
    assert poll_sqs_event_source(queue_arn) == 1
    assert calls[-1] == [{"body": "fail-me", "receive_count": "2"}]
    assert poll_sqs_event_source(queue_arn) == 0, "after maxReceiveCount the message goes to the DLQ"
    assert visible_count(url) == 0
    assert queue_bodies(dlq_url) == ["fail-me"]


def test_single_messages_are_delivered_as_they_arrive(aws: None) -> None:
    url, _, _ = worker_with_queue(["ReportBatchItemFailures"])
    client("sqs").send_message(QueueUrl=url, MessageBody="ok")
    client("sqs").send_message(QueueUrl=url, MessageBody="fail")
    assert [[r["body"] for r in call] for call in module_of("worker").CALLS] == [["ok"], ["fail"]]
    assert visible_count(url) == 1


def test_function_error_keeps_the_whole_batch(aws: None) -> None:
    url, _, _ = worker_with_queue(["ReportBatchItemFailures"])
    send_batch(url, ["ok", "raise"])
    assert visible_count(url) == 2


def test_without_report_batch_item_failures_moto_behaviour_is_kept(aws: None) -> None:
    url, _, _ = worker_with_queue(None)
    send_batch(url, ["ok", "fail-but-ignored"])
    assert visible_count(url) == 0, "without ReportBatchItemFailures a successful call deletes every message"


# ---- pure helpers


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (None, set()),
        (b"", set()),
        (b"null", set()),
        (b"{}", set()),
        (b'{"batchItemFailures": []}', set()),
        (b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', {"b"}),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', {"a", "b"}),
        (b'{"batchItemFailures": [{"itemIdentifier": "unknown"}]}', {"a", "b"}),
        (b'{"batchItemFailures": [{"id": "b"}]}', {"a", "b"}),
        (b"not json", {"a", "b"}),
    ],
)
def test_failed_item_ids(payload: bytes | None, expected: set[str]) -> None:
    assert failed_item_ids(payload, {"a", "b"}) == expected


def test_json_path_value() -> None:
    event = {"detail-type": "t", "detail": {"object": {"key": "k"}}, "resources": ["r0", "r1"]}
    assert json_path_value(event, "$") == event
    assert json_path_value(event, "$.detail.object.key") == "k"
    assert json_path_value(event, "$.detail-type") == "t"
    assert json_path_value(event, "$.resources[1]") == "r1"
    assert json_path_value(event, "$.missing.deeper") is None


def test_apply_input_transformer_quotes_strings_like_eventbridge() -> None:
    event = {"detail": {"name": 'say "hi"', "n": 3, "tags": ["a"]}}
    transformer = {
        "InputPathsMap": {"name": "$.detail.name", "n": "$.detail.n", "tags": "$.detail.tags"},
        "InputTemplate": '{"name": "<name>", "n": <n>, "tags": <tags>, "rule": "<aws.events.rule-name>"}',
    }
    text = apply_input_transformer(transformer, event, rule_arn="arn", rule_name="my-rule")
    assert json.loads(text) == {"name": 'say "hi"', "n": 3, "tags": ["a"], "rule": "my-rule"}
    plain = apply_input_transformer(
        {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": "n is <n>"}, event, rule_arn="a", rule_name="r"
    )
    assert plain == "n is 3"


def test_execution_name_is_valid_and_unique() -> None:
    first = execution_name("17793124-05d4-b198-2fde-7ededc63b103", "flow target")
    second = execution_name("17793124-05d4-b198-2fde-7ededc63b103", "flow target")
    assert first != second
    assert first.startswith("flow-target-17793124")
    long_name = execution_name("e" * 60, "t" * 60)
    assert len(long_name) <= 80
    assert all(c.isalnum() or c in "-_" for c in first + long_name)


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("incoming/a b+c/é.png", "incoming/a+b%2Bc/%C3%A9.png"),
        ("red flower.jpg", "red+flower.jpg"),
        ("plain/key-1_2.txt", "plain/key-1_2.txt"),
        ("a=b&c", "a%3Db%26c"),
    ],
)
def test_s3_notification_key(key: str, encoded: str) -> None:
    assert s3_notification_key(key) == encoded
