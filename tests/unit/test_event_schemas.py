"""Published event schemas stay in sync and valid; the publisher chunks and fails loudly on refused entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.stub import Stubber
from jsonschema import Draft202012Validator

from groundcrew.core.events import (
    EVENT_MODELS,
    BatchSealed,
    EventPublisher,
    EventPublishError,
    InputRejected,
    ObjectsReceived,
    detail_from_dict,
)
from groundcrew.projects import project_schema
from groundcrew_local import schemas

DOCS = Path(__file__).resolve().parents[2] / "docs"
BUS = "groundcrew-events"


def test_published_schemas_match_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert schemas.main(["--check"]) == 0, capsys.readouterr().out


def test_every_model_has_its_schema_file() -> None:
    names = {p.name for p in (DOCS / "events").glob("*.schema.json")}
    assert names == {f"{schemas.slug(m.DETAIL_TYPE)}.schema.json" for m in EVENT_MODELS}


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.DETAIL_TYPE)
def test_every_event_schema_is_valid_json_schema(model: Any) -> None:
    schema = schemas.event_schema(model)
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["detail-type"] == {"const": model.DETAIL_TYPE}
    assert schema["properties"]["source"] == {"const": "groundcrew"}


def test_project_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(project_schema())


def test_schema_accepts_what_the_model_emits_and_refuses_what_it_would_not() -> None:
    validator = Draft202012Validator(json.loads((DOCS / "events" / "objects-received.schema.json").read_text()))
    detail = ObjectsReceived(project="shapes", batch_id="b", received=2, duplicates=0, batch_item_count=2)
    event: dict[str, Any] = {
        "version": "0",
        "id": "1",
        "detail-type": "Objects Received",
        "source": "groundcrew",
        "account": "123456789012",
        "time": "2024-05-06T07:08:09Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail.model_dump(mode="json"),
    }
    assert list(validator.iter_errors(event)) == []
    event["detail"] = {**event["detail"], "received": -1}
    assert [e.validator for e in validator.iter_errors(event)] == ["minimum"]


def test_detail_from_dict_validates_against_the_detail_type() -> None:
    detail = detail_from_dict(
        "Objects Received", {"project": "p", "batch_id": "b", "received": 1, "duplicates": 0, "batch_item_count": 1}
    )
    assert isinstance(detail, ObjectsReceived)
    with pytest.raises(ValueError, match="unknown detail-type 'Object Received'"):
        detail_from_dict("Object Received", {})


def entry(detail: Any, resources: list[str] | None = None) -> dict[str, Any]:
    return {
        "Source": "groundcrew",
        "DetailType": detail.DETAIL_TYPE,
        "Detail": orjson.dumps(detail.model_dump(mode="json")).decode(),
        "EventBusName": BUS,
        "Resources": resources or [],
    }


def rejected(index: int) -> InputRejected:
    return InputRejected(
        project="shapes", bucket="data", key=f"incoming/shapes/{index}.txt", rule="not-an-image", message="m"
    )


def test_publisher_puts_25_events_in_3_calls_of_at_most_10() -> None:
    client = boto3.client("events", region_name="us-east-1")
    details = [rejected(i) for i in range(25)]
    with Stubber(client) as stub:
        for chunk in (details[:10], details[10:20], details[20:]):
            stub.add_response(
                "put_events",
                {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(chunk))]},
                expected_params={"Entries": [entry(d) for d in chunk]},
            )
        EventPublisher(client, BUS).publish_all(details)
        stub.assert_no_pending_responses()


def test_publisher_passes_resources() -> None:
    client = boto3.client("events", region_name="us-east-1")
    detail = BatchSealed(
        project="p", batch_id="b", reason="full", item_count=1, manifest_uri="s3://d/m", execution_name="b"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]},
            expected_params={"Entries": [entry(detail, ["arn:aws:states:x"])]},
        )
        EventPublisher(client, BUS).publish(detail, resources=["arn:aws:states:x"])


def test_refused_entry_raises_and_names_it() -> None:
    client = boto3.client("events", region_name="us-east-1")
    details = [rejected(0), ObjectsReceived(project="p", batch_id="b", received=1, duplicates=0, batch_item_count=1)]
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            },
        )
        with pytest.raises(EventPublishError) as info:
            EventPublisher(client, BUS).publish_all(details)
    assert str(info.value) == "EventBridge refused 1 event(s): ['Objects Received: InternalFailure try again']"


def test_refused_entry_in_a_later_chunk_stops_publishing() -> None:
    client = boto3.client("events", region_name="us-east-1")
    details = [rejected(i) for i in range(25)]
    with Stubber(client) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}] * 10})
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"EventId": "x"}] * 9 + [{"ErrorCode": "E", "ErrorMessage": "no"}]},
        )
        with pytest.raises(EventPublishError, match=r"refused 1 event\(s\): \['Input Rejected: E no'\]"):
            EventPublisher(client, BUS).publish_all(details)
        stub.assert_no_pending_responses()
