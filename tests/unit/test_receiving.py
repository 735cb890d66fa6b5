"""Receiver end to end on moto: S3 objects in, batches, manifests, executions and events out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import jsonschema
import pytest
import yaml

from groundcrew.core.events import EventPublisher
from groundcrew.intake.batches import BatchStore, SealReason
from groundcrew.intake.rules import IncomingObject, decode_event_key
from groundcrew.steps.receive import Receiver

REPO = Path(__file__).resolve().parents[2]
DATA_BUCKET = "groundcrew-data"  # the `data_bucket` fixture
IMAGES = REPO / "local" / "groundcrew_local" / "sample_data" / "shapes" / "images"
SHAPES_DOCUMENT = REPO / "local" / "groundcrew_local" / "sample_data" / "shapes" / "project.yaml"
SCHEMAS = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in (REPO / "docs" / "events").glob("*")}
T0 = 1_700_000_000.0
PNG = (IMAGES / "circle-01.png").read_bytes()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Stack:
    s3: Any
    sfn: Any
    store: BatchStore
    publisher: EventPublisher
    capture: Any  # conftest.EventCapture
    state_machine_arn: str
    clock: Clock

    def receiver(self) -> Receiver:
        return Receiver(
            s3=self.s3,
            sfn=self.sfn,
            store=self.store,
            publisher=self.publisher,
            data_bucket=DATA_BUCKET,
            state_machine_arn=self.state_machine_arn,
            clock=self.clock,
        )

    def put_project(self, name: str = "shapes", **changes: Any) -> None:
        document = yaml.safe_load(SHAPES_DOCUMENT.read_text())
        document.update(name=name, **changes)
        self.s3.put_object(Bucket=DATA_BUCKET, Key=f"projects/{name}.yaml", Body=yaml.safe_dump(document))

    def drop(self, key: str, body: bytes = PNG) -> str:
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
        return key

    def deliver(self, *keys: str) -> None:
        """One intake invocation: the S3 notifications of `keys`, keys form-encoded as S3 sends them."""
        receiver = self.receiver()
        for key in keys:
            head = self.s3.head_object(Bucket=DATA_BUCKET, Key=key)
            event_key = quote_plus(key, safe="/")
            receiver.receive(
                IncomingObject(DATA_BUCKET, decode_event_key(event_key), head["ContentLength"], head["ETag"].strip('"'))
            )
        receiver.finish()

    def flush(self) -> None:
        receiver = self.receiver()
        receiver.flush()
        receiver.finish()

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def manifest(self, uri: str) -> bytes:
        key = uri.removeprefix(f"s3://{DATA_BUCKET}/")
        return self.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read()

    def meta(self, batch_id: str) -> dict[str, Any]:
        return self.store._db.get_item(
            TableName=self.store._table, Key={"pk": {"S": f"BATCH#{batch_id}"}, "sk": {"S": "META"}}
        )["Item"]


@pytest.fixture
def stack(
    s3: Any,
    data_bucket: str,
    dynamodb: Any,
    batches_table: str,
    sfn: Any,
    state_machine_arn: str,
    events_client: Any,
    event_capture: Any,
) -> Stack:
    assert data_bucket == DATA_BUCKET
    clock = Clock()
    return Stack(
        s3=s3,
        sfn=sfn,
        store=BatchStore(dynamodb, batches_table, clock=clock),
        publisher=EventPublisher(events_client, event_capture.bus_name),
        capture=event_capture,
        state_machine_arn=state_machine_arn,
        clock=clock,
    )


def image_keys(stack: Stack, count: int, project: str = "shapes") -> list[str]:
    names = sorted(p.name for p in IMAGES.iterdir() if p.suffix in {".png", ".jpg"})[:count]
    return [stack.drop(f"incoming/{project}/{name}", (IMAGES / name).read_bytes()) for name in names]


def test_object_of_unknown_project_is_rejected(stack: Stack) -> None:
    stack.deliver(stack.drop("incoming/birds/duck.png"))

    assert stack.capture.details("Input Rejected") == [
        {
            "project": "birds",
            "bucket": DATA_BUCKET,
            "key": "incoming/birds/duck.png",
            "rule": "unknown-project",
            "message": f"no project document projects/birds.yaml in bucket {DATA_BUCKET}; "
            "create it, then upload the object again",
            "errors": [],
        }
    ]
    assert list(stack.store.open_batches()) == []


def test_object_of_project_with_invalid_document_is_rejected_with_its_field_errors(stack: Stack) -> None:
    stack.put_project("broken", workers_per_object=0)

    stack.deliver(stack.drop("incoming/broken/a.png"))

    (rejected,) = stack.capture.details("Input Rejected")
    assert rejected["rule"] == "invalid-project"
    assert rejected["project"] == "broken"
    assert rejected["message"] == (
        f"project document s3://{DATA_BUCKET}/projects/broken.yaml is invalid: "
        "workers_per_object: Input should be greater than or equal to 1"
    )
    assert rejected["errors"] == [
        {"field": "workers_per_object", "message": "Input should be greater than or equal to 1"}
    ]
    assert list(stack.store.open_batches()) == []


def test_uploading_a_project_document_checks_it(stack: Stack) -> None:
    stack.put_project("shapes")
    stack.put_project("broken", labels=["only-one"])

    stack.deliver("projects/shapes.yaml", "projects/broken.yaml")

    assert stack.capture.details("Input Rejected") == [
        {
            "project": "broken",
            "bucket": DATA_BUCKET,
            "key": "projects/broken.yaml",
            "rule": "invalid-project",
            "message": f"project document s3://{DATA_BUCKET}/projects/broken.yaml is invalid: "
            "labels: needs at least 2 labels for image-classification",
            "errors": [{"field": "labels", "message": "needs at least 2 labels for image-classification"}],
        }
    ]


def test_non_image_empty_and_fake_images_are_rejected_and_never_reach_the_manifest(stack: Stack) -> None:
    stack.put_project()
    good = image_keys(stack, 1)
    notes = stack.drop("incoming/shapes/notes.txt", (IMAGES / "notes.txt").read_bytes())
    empty = stack.drop("incoming/shapes/empty.png", b"")
    fake = stack.drop("incoming/shapes/fake.png", (IMAGES / "notes.txt").read_bytes())

    stack.deliver(notes, *good, empty, fake, stack.drop("incoming/shapes/_SEAL", b""))

    rejected = {d["key"]: (d["rule"], d["message"]) for d in stack.capture.details("Input Rejected")}
    assert rejected == {
        notes: (
            "not-an-image",
            "'notes.txt' is not an image Ground Truth can show (.jpeg, .jpg, .png); "
            "drop only images under incoming/<project>/, or '_SEAL' to seal the batch",
        ),
        empty: ("empty-object", "'empty.png' is empty (0 bytes); upload the image again"),
        fake: (
            "not-an-image",
            "'fake.png' has a .png name but its content is not a PNG image; upload the real image file",
        ),
    }
    (sealed,) = stack.capture.details("Batch Sealed")
    assert sealed["item_count"] == 1
    assert stack.manifest(sealed["manifest_uri"]) == f'{{"source-ref":"s3://{DATA_BUCKET}/{good[0]}"}}\n'.encode()


def test_awkward_keys_are_recorded_decoded_and_written_decoded_into_the_manifest(stack: Stack) -> None:
    stack.put_project()
    awkward = stack.drop("incoming/shapes/square 02+café.png", (IMAGES / "square 02+café.png").read_bytes())
    nested = stack.drop("incoming/shapes/day 1/ünï cödé+1.jpg", (IMAGES / "square-01.jpg").read_bytes())
    assert quote_plus(awkward, safe="/") == "incoming/shapes/square+02%2Bcaf%C3%A9.png"

    stack.deliver(awkward, nested)
    batch = stack.store.current_open("shapes")
    assert batch is not None
    assert [i.key for i in stack.store.items(batch.batch_id)] == [nested, awkward]

    stack.deliver(stack.drop("incoming/shapes/_SEAL", b""))

    (sealed,) = stack.capture.details("Batch Sealed")
    manifest = stack.manifest(sealed["manifest_uri"])
    assert manifest == (
        b'{"source-ref":"s3://groundcrew-data/incoming/shapes/day 1/\xc3\xbcn\xc3\xaf c\xc3\xb6d\xc3\xa9+1.jpg"}\n'
        b'{"source-ref":"s3://groundcrew-data/incoming/shapes/square 02+caf\xc3\xa9.png"}\n'
    )
    head = stack.s3.head_object(Bucket=DATA_BUCKET, Key=sealed["manifest_uri"].split("/", 3)[3])
    assert head["ContentType"] == "application/jsonlines"
    assert head["ServerSideEncryption"] == "AES256"


def test_full_batch_is_sealed_and_its_execution_started_with_the_batch_as_input(stack: Stack) -> None:
    stack.put_project(batch={"max_items": 3, "seal_marker": "_SEAL", "max_age_minutes": 30})
    keys = image_keys(stack, 4)

    stack.deliver(*keys[:3])

    (execution,) = stack.executions()
    batch_id = execution["name"]
    assert batch_id.startswith("shapes-")
    manifest_uri = f"s3://{DATA_BUCKET}/batches/shapes/{batch_id}/input.manifest"
    described = stack.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "batch": {
            "batch_id": batch_id,
            "project": "shapes",
            "workflow": "image-classification",
            "bucket": DATA_BUCKET,
            "manifest_uri": manifest_uri,
            "item_count": 3,
            "audit_source": None,
        }
    }
    assert stack.capture.detail_types() == ["Objects Received", "Batch Sealed"]
    assert stack.capture.details("Objects Received") == [
        {"project": "shapes", "batch_id": batch_id, "received": 3, "duplicates": 0, "batch_item_count": 3}
    ]
    assert stack.capture.details("Batch Sealed") == [
        {
            "project": "shapes",
            "batch_id": batch_id,
            "reason": "full",
            "item_count": 3,
            "manifest_uri": manifest_uri,
            "execution_name": batch_id,
        }
    ]
    assert stack.manifest(manifest_uri).splitlines() == [
        json.dumps({"source-ref": f"s3://{DATA_BUCKET}/{k}"}, separators=(",", ":")).encode() for k in sorted(keys[:3])
    ]
    meta = stack.meta(batch_id)
    assert meta["execution_arn"] == {"S": execution["executionArn"]}
    assert meta["manifest_uri"] == {"S": manifest_uri}
    assert list(stack.store.pending_batches()) == []

    # the fourth image opens the next batch
    stack.deliver(keys[3])
    (following,) = stack.store.open_batches()
    assert following.batch_id != batch_id
    assert len(stack.executions()) == 1


def test_seal_marker_seals_the_open_batch_and_never_opens_one(stack: Stack) -> None:
    stack.put_project()
    marker = stack.drop("incoming/shapes/_SEAL", b"")

    stack.deliver(marker)
    assert stack.executions() == []
    assert list(stack.store.open_batches()) == []

    stack.deliver(*image_keys(stack, 2))
    stack.deliver(marker)

    (sealed,) = stack.capture.details("Batch Sealed")
    assert (sealed["reason"], sealed["item_count"]) == ("marker", 2)
    assert [e["name"] for e in stack.executions()] == [sealed["batch_id"]]
    assert list(stack.store.open_batches()) == []


def test_flush_seals_only_batches_older_than_their_max_age(stack: Stack) -> None:
    stack.put_project(batch={"max_items": 100, "seal_marker": "_SEAL", "max_age_minutes": 30})
    stack.deliver(*image_keys(stack, 2))

    stack.clock.now = T0 + 30 * 60 - 1
    stack.flush()
    assert stack.executions() == []

    stack.clock.now = T0 + 30 * 60
    stack.flush()

    (sealed,) = stack.capture.details("Batch Sealed")
    assert (sealed["reason"], sealed["item_count"]) == ("max-age", 2)
    assert [e["name"] for e in stack.executions()] == [sealed["batch_id"]]
    assert list(stack.store.open_batches()) == []


def test_flush_starts_a_sealed_batch_whose_start_was_lost_and_repeating_it_changes_nothing(stack: Stack) -> None:
    # GIVEN a batch sealed by an invocation that crashed before starting its execution
    stack.put_project()
    stack.deliver(*image_keys(stack, 2))
    batch = stack.store.current_open("shapes")
    assert batch is not None
    assert stack.store.seal(batch, SealReason.MARKER) is not None

    # WHEN the flush runs twice
    stack.flush()
    stack.flush()

    # THEN one execution, one Batch Sealed event, no pending batch
    assert [e["name"] for e in stack.executions()] == [batch.batch_id]
    assert [d["batch_id"] for d in stack.capture.details("Batch Sealed")] == [batch.batch_id]
    assert list(stack.store.pending_batches()) == []
    assert stack.manifest(f"s3://{DATA_BUCKET}/batches/shapes/{batch.batch_id}/input.manifest").count(b"\n") == 2


def test_retry_of_a_start_whose_execution_already_finished_keeps_the_real_execution(stack: Stack) -> None:
    # GIVEN a sealed batch whose execution was started (and has finished) but was never marked started
    stack.put_project()
    stack.deliver(*image_keys(stack, 1))
    batch = stack.store.current_open("shapes")
    assert batch is not None
    stack.store.seal(batch, SealReason.MARKER)
    original = stack.sfn.start_execution(stateMachineArn=stack.state_machine_arn, name=batch.batch_id, input="{}")
    stack.sfn.stop_execution(executionArn=original["executionArn"])

    # WHEN the flush retries the start (StartExecution answers ExecutionAlreadyExists)
    stack.flush()

    # THEN the batch points at the existing execution and is no longer pending
    assert [e["executionArn"] for e in stack.executions()] == [original["executionArn"]]
    assert stack.meta(batch.batch_id)["execution_arn"] == {"S": original["executionArn"]}
    assert list(stack.store.pending_batches()) == []


def test_duplicate_deliveries_are_counted_not_recorded(stack: Stack) -> None:
    stack.put_project()
    keys = image_keys(stack, 2)

    stack.deliver(keys[0], keys[1], keys[0])
    stack.deliver(keys[1])

    batch = stack.store.current_open("shapes")
    assert batch is not None
    assert stack.capture.details("Objects Received") == [
        {"project": "shapes", "batch_id": batch.batch_id, "received": 2, "duplicates": 1, "batch_item_count": 2},
        {"project": "shapes", "batch_id": batch.batch_id, "received": 0, "duplicates": 1, "batch_item_count": 2},
    ]


def test_every_event_on_the_bus_matches_its_published_schema(stack: Stack) -> None:
    stack.put_project("broken", labels=["x"])
    stack.put_project(batch={"max_items": 2, "seal_marker": "_SEAL", "max_age_minutes": 30})
    stack.deliver(*image_keys(stack, 2), stack.drop("incoming/shapes/a.gif"), stack.drop("incoming/broken/a.png"))

    events = stack.capture.events()
    assert sorted({e["detail-type"] for e in events}) == ["Batch Sealed", "Input Rejected", "Objects Received"]
    for event in events:
        assert event["source"] == "groundcrew"
        # moto's SQS target leaves out the envelope's `account`, which EventBridge always sets
        envelope = {"account": "123456789012", **event}
        jsonschema.validate(envelope, SCHEMAS[event["detail-type"].lower().replace(" ", "-")])
