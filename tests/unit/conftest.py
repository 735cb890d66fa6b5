"""AWS stand-ins for unit tests: moto clients, the batches table built from template.yaml, a captured event bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
REGION = "us-east-1"
DATA_BUCKET = "groundcrew-data"
TABLE_NAME = "groundcrew-batches"
BUS_NAME = "groundcrew-test-events"
STATE_MACHINE_NAME = "groundcrew-labeling-pipeline"
PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def template_resource_properties(logical_id: str) -> dict[str, Any]:
    """A resource's Properties from template.yaml, as plain data (the template is the single source of truth)."""
    template = cfn_yaml.load(str(TEMPLATE))
    return json.loads(json.dumps(template["Resources"][logical_id]["Properties"]))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def data_bucket(s3: Any) -> str:
    s3.create_bucket(Bucket=DATA_BUCKET)
    return DATA_BUCKET


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def batches_table(dynamodb: Any) -> str:
    """The BatchesTable of template.yaml: CreateTable takes what it can, the rest goes through its own call."""
    properties = template_resource_properties("BatchesTable")
    create_members = set(dynamodb.meta.service_model.operation_model("CreateTable").input_shape.members)
    if sse := properties.get("SSESpecification"):  # CloudFormation spells the API's `Enabled` as `SSEEnabled`
        properties["SSESpecification"] = {("Enabled" if k == "SSEEnabled" else k): v for k, v in sse.items()}
    dynamodb.create_table(TableName=TABLE_NAME, **{k: v for k, v in properties.items() if k in create_members})
    leftovers = {k: v for k, v in properties.items() if k not in create_members}
    if ttl := leftovers.pop("TimeToLiveSpecification", None):
        dynamodb.update_time_to_live(TableName=TABLE_NAME, TimeToLiveSpecification=ttl)
    if pitr := leftovers.pop("PointInTimeRecoverySpecification", None):
        dynamodb.update_continuous_backups(TableName=TABLE_NAME, PointInTimeRecoverySpecification=pitr)
    assert not leftovers, f"BatchesTable properties the test table does not apply yet: {sorted(leftovers)}"
    return TABLE_NAME


@dataclass
class EventCapture:
    """Every event put on the test bus, read back from an SQS queue targeted by a catch-all rule."""

    bus_name: str
    sqs: Any
    queue_url: str
    _received: list[dict[str, Any]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return list(self._received)
            for message in messages:
                self._received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def details(self, detail_type: str) -> list[dict[str, Any]]:
        return [e["detail"] for e in self.events() if e["detail-type"] == detail_type]

    def detail_types(self) -> list[str]:
        return [e["detail-type"] for e in self.events()]


@pytest.fixture
def events_client(aws: None) -> Any:
    return boto3.client("events", region_name=REGION)


@pytest.fixture
def event_capture(events_client: Any) -> EventCapture:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_client.create_event_bus(Name=BUS_NAME)
    events_client.put_rule(
        Name="everything", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": ["groundcrew"]})
    )
    events_client.put_targets(Rule="everything", EventBusName=BUS_NAME, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return EventCapture(BUS_NAME, sqs, queue_url)


@pytest.fixture
def sfn(aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def state_machine_arn(sfn: Any) -> str:
    return sfn.create_state_machine(
        name=STATE_MACHINE_NAME,
        definition=json.dumps(PASS_DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/groundcrew-pipeline",
    )["stateMachineArn"]
