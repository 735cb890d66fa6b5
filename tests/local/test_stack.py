"""The template loader: tests/local/fixtures/template.yaml deployed into moto and run end to end."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3.models import s3_backends

from groundcrew_local.moto_patches import MOCK_CONFIG, install_local_patches
from groundcrew_local.moto_patches.in_process_lambda import handler_module_name, reset_function_modules
from groundcrew_local.moto_patches.sqs_event_sources import poll_sqs_event_source
from groundcrew_local.stack import (
    LambdaInvokeError,
    LocalStack,
    StackError,
    deploy_local_stack,
    generated_name,
    load_template,
    merge_globals,
    substitute_definition,
)

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = FIXTURES / "template.yaml"
REGION = "us-east-1"


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


@pytest.fixture(scope="class")
def stack() -> Iterator[LocalStack]:
    install_local_patches()
    reset_function_modules()
    with mock_aws(config=MOCK_CONFIG):
        yield deploy_local_stack(TEMPLATE)
    reset_function_modules()


@pytest.fixture
def fresh_aws() -> Iterator[None]:
    install_local_patches()
    reset_function_modules()
    with mock_aws(config=MOCK_CONFIG):
        yield
    reset_function_modules()


def handler_module(stack: LocalStack, logical_id: str) -> Any:
    return sys.modules[handler_module_name(stack.function_names[logical_id])]


def function_env(logical_id: str, stack: LocalStack) -> dict[str, str]:
    config = client("lambda").get_function_configuration(FunctionName=stack.function_names[logical_id])
    return dict(config["Environment"]["Variables"])


def wait_for_execution(arn: str, timeout: float = 10.0) -> dict[str, Any]:
    sfn = client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return dict(description)
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} still running after {timeout} s")


def history(arn: str) -> list[dict[str, Any]]:
    return list(client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"])


def start_flow(stack: LocalStack, name: str, execution_input: dict[str, Any]) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=stack.physical_ids["Flow"], name=name, input=json.dumps(execution_input)
    )
    return str(response["executionArn"])


def visible_count(url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


class TestDeployedStack:
    def test_generated_and_explicit_names(self, stack: LocalStack) -> None:
        bucket = stack.physical_ids["DataBucket"]
        assert re.fullmatch(r"groundcrew-local-databucket-[a-z2-7]{12}", bucket)
        assert bucket == generated_name("groundcrew-local", "DataBucket", max_length=63, lowercase=True)
        assert stack.physical_ids["WorkDeadLetterQueue"].endswith("/123456789012/groundcrew-local-work-dlq")
        assert stack.attributes["WorkQueue"]["QueueName"].startswith("groundcrew-local-WorkQueue-")
        assert stack.function_names["StepFunction"] == "groundcrew-local-step"
        assert re.fullmatch(r"groundcrew-local-EchoFunction-[A-Z2-7]{12}", stack.function_names["EchoFunction"])
        assert (
            stack.function_arn("StepFunction") == "arn:aws:lambda:us-east-1:123456789012:function:groundcrew-local-step"
        )
        assert re.fullmatch(
            r"arn:aws:states:us-east-1:123456789012:stateMachine:Flow-[A-Z2-7]{12}", stack.physical_ids["Flow"]
        )
        assert stack.physical_ids["AppBus"] == "groundcrew-local-bus"
        assert stack.physical_ids["AuditRule"].startswith("groundcrew-local-bus|groundcrew-local-AuditRule-")
        assert stack.physical_ids["IngestLogGroup"] == f"/aws/lambda/{stack.function_names['IngestFunction']}"
        assert stack.account_id == "123456789012" and stack.region == REGION
        with pytest.raises(KeyError):
            stack.physical_ids["ProdOnlyQueue"]

    def test_bucket_configuration(self, stack: LocalStack) -> None:
        s3, bucket = client("s3"), stack.physical_ids["DataBucket"]
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["MaxAgeSeconds"] == 300
        assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
        assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"] == 1
        # moto's GetBucketNotificationConfiguration leaves EventBridge out: look at the backend.
        assert s3_backends["123456789012"]["aws"].get_bucket(bucket).notification_configuration.event_bridge == {}
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["AllowAccountRead"]
        assert policy["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"
        assert stack.skipped["DataBucketPolicy.PolicyDocument.Statement[0]"].startswith("Deny with a Condition")

    def test_queues_table_bus_and_the_rest(self, stack: LocalStack) -> None:
        sqs = client("sqs")
        work = sqs.get_queue_attributes(QueueUrl=stack.physical_ids["WorkQueue"], AttributeNames=["All"])["Attributes"]
        assert work["VisibilityTimeout"] == "60"
        assert work["MessageRetentionPeriod"] == "3600"
        redrive = json.loads(work["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == stack.attributes["WorkDeadLetterQueue"]["Arn"]
        assert int(redrive["maxReceiveCount"]) == 2
        assert json.loads(work["Policy"])["Statement"][0]["Resource"] == stack.attributes["WorkQueue"]["Arn"]
        table = client("dynamodb").describe_table(TableName=stack.physical_ids["Table"])["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "BySource"
        ttl = client("dynamodb").describe_time_to_live(TableName=stack.physical_ids["Table"])
        assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
        archive = client("events").describe_archive(ArchiveName=stack.physical_ids["AppBusArchive"])
        assert archive["EventSourceArn"] == stack.attributes["AppBus"]["Arn"]
        groups = client("logs").describe_log_groups(logGroupNamePrefix=stack.physical_ids["IngestLogGroup"])
        assert groups["logGroups"][0]["retentionInDays"] == 7
        role = client("iam").get_role(RoleName=stack.physical_ids["FlowRole"])["Role"]
        assert role["Arn"] == stack.attributes["FlowRole"]["Arn"]
        assert client("sns").get_topic_attributes(TopicArn=stack.physical_ids["AlertsTopic"])["Attributes"]
        key = client("kms").describe_key(KeyId=stack.physical_ids["DataKey"])["KeyMetadata"]
        assert key["Arn"] == stack.attributes["DataKey"]["Arn"]

    def test_functions_get_globals_merged_like_sam(self, stack: LocalStack) -> None:
        echo = function_env("EchoFunction", stack)
        assert echo == {
            "STAGE": "local",
            "TABLE_NAME": stack.physical_ids["Table"],
            "SHARED": "overridden-by-echo",
            "ECHO_ONLY": "echo",
            "IS_LOCAL": "yes",
        }
        ingest = function_env("IngestFunction", stack)
        assert ingest["SHARED"] == "from-globals" and ingest["INGEST_ONLY"] == "ingest" and "ECHO_ONLY" not in ingest
        config = client("lambda").get_function_configuration(FunctionName=stack.function_names["EchoFunction"])
        assert (config["Timeout"], config["MemorySize"], config["Runtime"]) == (10, 256, "python3.11")
        assert config["Layers"][0]["Arn"] == stack.physical_ids["FixtureLayer"]
        mapping = client("lambda").list_event_source_mappings(FunctionName=stack.function_names["WorkerFunction"])
        only = mapping["EventSourceMappings"][0]
        assert only["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert only["BatchSize"] == 10  # Fn::FindInMap on the Stage
        assert stack.physical_ids["WorkerFunctionWork"] == only["UUID"]

    def test_outputs_and_skipped_resources(self, stack: LocalStack) -> None:
        flow_name = stack.attributes["Flow"]["Name"]
        assert stack.outputs == {
            "DataBucketName": stack.physical_ids["DataBucket"],
            "WorkQueueUrl": stack.physical_ids["WorkQueue"],
            "FlowArn": stack.physical_ids["Flow"],
            "Summary": f"groundcrew-local:us-east-1:{flow_name}",
            "SummaryWithVars": "123456789012/b/${Literal}",
            "Joined": f"{stack.attributes['WorkQueue']['QueueName']}/aws/amazonaws.com",
            "DistributionDomain": "local-not-emulated:Distribution.DomainName",
        }
        assert {k: v for k, v in stack.skipped.items() if "." not in k} == {
            "Distribution": "not emulated",
            "EchoPermission": "not emulated",
        }

    def test_state_machine_definition_is_substituted(self, stack: LocalStack) -> None:
        machine = client("stepfunctions").describe_state_machine(stateMachineArn=stack.physical_ids["Flow"])
        definition = json.loads(machine["definition"])
        assert definition["States"]["Work"]["Parameters"]["FunctionName"] == stack.function_arn("StepFunction")
        assert definition["States"]["Finish"]["Parameters"]["stage"] == "local"
        assert definition["States"]["Finish"]["Parameters"]["untouched"] == "${NotSubstituted}"
        assert machine["roleArn"] == stack.attributes["FlowRole"]["Arn"]

    def test_s3_object_created_reaches_the_function_with_the_encoded_key(self, stack: LocalStack) -> None:
        s3, bucket = client("s3"), stack.physical_ids["DataBucket"]
        s3.put_object(Bucket=bucket, Key="incoming/a b+c/é.png", Body=b"png")
        s3.put_object(Bucket=bucket, Key="elsewhere/ignored.png", Body=b"png")
        items = client("dynamodb").scan(TableName=stack.physical_ids["Table"])["Items"]
        keys = {item["pk"]["S"] for item in items if item["source"]["S"] == "ingest"}
        assert keys == {"incoming/a+b%2Bc/%C3%A9.png"}, "prefix filter or key encoding is wrong"
        assert next(i for i in items if i["pk"]["S"] in keys)["reason"]["S"] == "PutObject"

    def test_partial_batch_failure_leaves_exactly_the_failed_message(self, stack: LocalStack) -> None:
        url = stack.physical_ids["WorkQueue"]
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(["one", "fail-two", "three"])]
        client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
        calls = handler_module(stack, "WorkerFunction").CALLS
        assert [r["body"] for r in calls[-1]] == ["one", "fail-two", "three"]
        assert visible_count(url) == 1
        remaining = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in remaining] == ["fail-two"]
        client("sqs").change_message_visibility(
            QueueUrl=url, ReceiptHandle=remaining[0]["ReceiptHandle"], VisibilityTimeout=0
        )
        # Received twice (the worker, then this test): maxReceiveCount 2 sends it to the DLQ on the next poll.
        assert poll_sqs_event_source(stack.attributes["WorkQueue"]["Arn"]) == 0
        dlq = client("sqs").receive_message(QueueUrl=stack.physical_ids["WorkDeadLetterQueue"])["Messages"]
        assert [m["Body"] for m in dlq] == ["fail-two"]

    def test_execution_succeeds_after_a_retry_and_a_one_hour_wait(self, stack: LocalStack) -> None:
        started = time.monotonic()
        arn = start_flow(stack, "flaky-run", {"mode": "flaky", "run": "flaky-run"})
        description = wait_for_execution(arn)
        assert description["status"] == "SUCCEEDED"
        assert time.monotonic() - started < 5, "Wait 3600 s and Retry IntervalSeconds should be instant"
        output = json.loads(description["output"])
        assert output["stage"] == "local" and output["untouched"] == "${NotSubstituted}"
        assert output["result"]["attempts"] == 2
        types = [event["type"] for event in history(arn)]
        assert types.count("TaskScheduled") == 2
        assert "WaitStateEntered" in types

    def test_execution_whose_lambda_raises_takes_the_catch_branch(self, stack: LocalStack) -> None:
        arn = start_flow(stack, "boom-run", {"mode": "boom", "run": "boom-run"})
        description = wait_for_execution(arn)
        assert description["status"] == "FAILED"
        assert description["error"] == "Fixture.StepFailed"
        events = history(arn)
        entered = [e["stateEnteredEventDetails"] for e in events if e["type"].endswith("StateEntered")]
        assert [e["name"] for e in entered] == ["Work", "RecordFailure", "Failed"]
        caught = json.loads(
            next(e for e in events if e["type"] == "PassStateExited")["stateExitedEventDetails"]["output"]
        )
        assert caught["caught"] == "BoomError"
        assert json.loads(caught["cause"])["errorMessage"] == "run boom-run: step exploded"

    def test_bus_rule_delivers_to_lambda_then_sqs(self, stack: LocalStack) -> None:
        entry = {
            "Source": "fixture.app",
            "DetailType": "audit",
            "Detail": json.dumps({"kind": "review"}),
            "EventBusName": stack.physical_ids["AppBus"],
        }
        assert client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
        rule_name = stack.physical_ids["AuditRule"].split("|")[1]
        assert handler_module(stack, "EchoFunction").EVENTS[-1] == {"kind": "review", "rule": rule_name}
        queued = client("sqs").receive_message(QueueUrl=stack.physical_ids["AuditQueue"])["Messages"]
        assert json.loads(queued[0]["Body"])["detail"] == {"kind": "review"}

    def test_bus_event_starts_the_state_machine(self, stack: LocalStack) -> None:
        detail = {"mode": "ok", "run": "from-bus"}
        entry = {
            "Source": "fixture.app",
            "DetailType": "start-flow",
            "Detail": json.dumps(detail),
            "EventBusName": stack.physical_ids["AppBus"],
        }
        client("events").put_events(Entries=[entry])
        executions = client("stepfunctions").list_executions(stateMachineArn=stack.physical_ids["Flow"])["executions"]
        started = [e for e in executions if e["name"].startswith("FlowStartFromBusStepFunctionsTarget-")]
        assert len(started) == 1
        description = wait_for_execution(started[0]["executionArn"])
        assert description["status"] == "SUCCEEDED"
        assert json.loads(description["input"]) == detail

    def test_nested_invocation_and_environment_isolation(self, stack: LocalStack) -> None:
        result = stack.invoke("CallerFunction", {})
        inner_env = result["inner"]["env"]
        assert inner_env["CALLER_ONLY"] is None and inner_env["ECHO_ONLY"] == "echo"
        assert inner_env["AWS_LAMBDA_FUNCTION_NAME"] == stack.function_names["EchoFunction"]
        assert result["before"] == result["after"] == "caller"
        assert result["echo_only_after"] is None
        assert result["function_name_after"] == stack.function_names["CallerFunction"]
        assert "CALLER_ONLY" not in os.environ and "ECHO_ONLY" not in os.environ
        assert stack.invoke(stack.function_names["EchoFunction"], {"by": "name"})["event"] == {"by": "name"}

    def test_invoke_raises_with_the_error_type(self, stack: LocalStack) -> None:
        with pytest.raises(LambdaInvokeError) as caught:
            stack.invoke("StepFunction", {"mode": "boom", "run": "direct"})
        assert caught.value.error_type == "BoomError"
        assert caught.value.error_message == "run direct: step exploded"
        assert caught.value.function_name == "groundcrew-local-step"

    def test_schedule_event_becomes_a_disabled_rule(self, stack: LocalStack) -> None:
        events = client("events")
        name = stack.physical_ids["EchoFunctionNightly"]
        rule = events.describe_rule(Name=name)
        assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 day)", "DISABLED")
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        assert targets == [{"Id": "EchoFunctionNightlyLambdaTarget", "Arn": stack.function_arn("EchoFunction")}]


# ---- separate deployments


def test_parameters_switch_conditions(fresh_aws: None) -> None:
    stack = deploy_local_stack(TEMPLATE, parameters={"Stage": "prod"})
    assert stack.outputs["ProdOnlyQueueUrl"] == stack.physical_ids["ProdOnlyQueue"]
    work = client("sqs").get_queue_attributes(
        QueueUrl=stack.physical_ids["WorkQueue"], AttributeNames=["VisibilityTimeout"]
    )
    assert work["Attributes"]["VisibilityTimeout"] == "300"
    assert "IS_LOCAL" not in function_env("EchoFunction", stack)
    mapping = client("lambda").list_event_source_mappings(FunctionName=stack.function_names["WorkerFunction"])
    assert mapping["EventSourceMappings"][0]["BatchSize"] == 5


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Stage": "qa"}, "AllowedValues"),
        ({"Stag": "local"}, "unknown parameter"),
        ({"LogRetentionDays": "x"}, "Number"),
    ],
)
def test_bad_parameters_are_rejected(fresh_aws: None, parameters: dict[str, str], message: str) -> None:
    with pytest.raises(StackError, match=message):
        deploy_local_stack(TEMPLATE, parameters=parameters)


def write_template(folder: Path, body: str) -> Path:
    path = folder / "template.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_circular_reference_is_reported(fresh_aws: None, tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
Resources:
  A:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !GetAtt B.QueueName
  B:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !GetAtt A.QueueName
""",
    )
    with pytest.raises(StackError, match="circular reference: A -> B -> A"):
        deploy_local_stack(path)


def test_missing_code_folder_and_unknown_reference_are_reported(fresh_aws: None, tmp_path: Path) -> None:
    missing = write_template(
        tmp_path,
        """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: nowhere/, Handler: app.handler, Runtime: python3.11}
""",
    )
    with pytest.raises(StackError, match=r"Fn: CodeUri folder .*nowhere does not exist"):
        deploy_local_stack(missing)
    unknown = write_template(
        tmp_path, "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Ref Nope}\n"
    )
    with pytest.raises(StackError, match="unknown resource or parameter 'Nope'"):
        deploy_local_stack(unknown)


def test_s3_event_type_keeps_the_bucket_eventbridge_notifications(fresh_aws: None, tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        f"""
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: {FIXTURES / "layers" / "fixturelib"}}}
    Metadata: {{BuildMethod: python3.11}}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration: {{EventBridgeConfiguration: {{EventBridgeEnabled: true}}}}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {FIXTURES / "functions" / "echo"}
      Handler: app.lambda_handler
      Runtime: python3.11
      Layers:
        - !Ref Layer
        - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Bucket
            Events: s3:ObjectCreated:*
            Filter: {{S3Key: {{Rules: [{{Name: prefix, Value: uploads/}}]}}}}
""",
    )
    stack = deploy_local_stack(path)
    client("s3").put_object(Bucket=stack.physical_ids["Bucket"], Key="uploads/a b.txt", Body=b"x")
    client("s3").put_object(Bucket=stack.physical_ids["Bucket"], Key="other/b.txt", Body=b"x")
    received = handler_module(stack, "Echo").EVENTS
    assert [e["Records"][0]["s3"]["object"]["key"] for e in received] == ["uploads/a+b.txt"]
    bucket = s3_backends["123456789012"]["aws"].get_bucket(stack.physical_ids["Bucket"])
    assert bucket.notification_configuration.event_bridge == {}
    assert stack.skipped == {"Echo.Layers[1]": "external layer not emulated (not on sys.path)"}


def test_a_function_without_its_own_handler_gets_the_globals_one(fresh_aws: None, tmp_path: Path) -> None:
    # template.yaml names `Handler: app.lambda_handler` once, in Globals: every function relies on this.
    path = write_template(
        tmp_path,
        f"""
Globals:
  Function:
    Handler: app.lambda_handler
    Runtime: python3.11
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: {FIXTURES / "layers" / "fixturelib"}}}
    Metadata: {{BuildMethod: python3.11}}
  FromGlobals:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {FIXTURES / "functions" / "echo"}
      Layers: [!Ref Layer]
  OwnHandler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {FIXTURES / "functions" / "echo"}
      Handler: app.no_such_handler
      Layers: [!Ref Layer]
""",
    )
    stack = deploy_local_stack(path)
    lambdas = client("lambda")
    assert lambdas.get_function_configuration(FunctionName=stack.function_names["FromGlobals"])["Handler"] == (
        "app.lambda_handler"
    )
    assert stack.invoke("FromGlobals", {"n": 1})["event"] == {"n": 1}
    assert lambdas.get_function_configuration(FunctionName=stack.function_names["OwnHandler"])["Handler"] == (
        "app.no_such_handler"
    )  # the resource's own Handler wins
    with pytest.raises(LambdaInvokeError) as caught:
        stack.invoke("OwnHandler", {})
    assert caught.value.error_type == "Runtime.HandlerNotFound"


def test_deploy_outside_mock_aws_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(StackError, match="inside mock_aws"):
        deploy_local_stack(TEMPLATE)
    with mock_aws(), pytest.raises(StackError, match="MOCK_CONFIG"):
        deploy_local_stack(TEMPLATE)


# ---- pure helpers


def test_load_template_keeps_intrinsics_unresolved() -> None:
    template = load_template(TEMPLATE)
    assert template["Resources"]["DataBucketPolicy"]["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    assert template["Resources"]["WorkQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]
    }


def test_generated_name_fits_the_limit_and_is_deterministic() -> None:
    long_name = generated_name("a-very-long-stack-name-for-testing", "AnEvenLongerLogicalIdThanThat" * 2, max_length=64)
    assert len(long_name) <= 64
    assert long_name == generated_name(
        "a-very-long-stack-name-for-testing", "AnEvenLongerLogicalIdThanThat" * 2, max_length=64
    )
    assert generated_name("s", "Bucket", max_length=63, lowercase=True).startswith("s-bucket-")
    assert generated_name("s", "Flow", max_length=80, with_stack=False).startswith("Flow-")


def test_merge_globals_follows_sam_rules() -> None:
    merged = merge_globals(
        {"Timeout": 3, "Layers": ["g"], "Environment": {"Variables": {"A": "g", "B": "g"}}},
        {"Timeout": 9, "Layers": ["f"], "Environment": {"Variables": {"B": "f", "C": "f"}}},
    )
    assert merged == {"Timeout": 9, "Layers": ["g", "f"], "Environment": {"Variables": {"A": "g", "B": "f", "C": "f"}}}


def test_substitute_definition_replaces_only_given_keys() -> None:
    text = '{"a": "${One}", "b": "${Two}", "c": ${Three}, "d": "${One}"}'
    assert substitute_definition(text, {"One": "x", "Three": 3}) == '{"a": "x", "b": "${Two}", "c": 3, "d": "x"}'
