"""Distributed Map over a JSON Lines manifest in S3, run by moto's interpreter with the local-mode patches."""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from groundcrew_local.moto_patches import MOCK_CONFIG, install_local_patches
from groundcrew_local.moto_patches.distributed_map import ItemBatcher
from groundcrew_local.moto_patches.in_process_lambda import register_function_code, reset_function_modules

REGION = "us-east-1"
BUCKET = "groundcrew-manifests"
HANDLER = """
def lambda_handler(event, context):
    if event.get("BatchInput", {}).get("fail"):
        raise ValueError("conversion failed")
    return {"count": len(event["Items"]), "run": event["BatchInput"]["run"], "items": event["Items"]}
"""


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


@pytest.fixture
def convert_arn(tmp_path: Path) -> Iterator[str]:
    install_local_patches()
    reset_function_modules()
    with mock_aws(config=MOCK_CONFIG):
        (tmp_path / "app.py").write_text(HANDLER)
        role = client("iam").create_role(RoleName="fixture-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("app.py", "")
        arn = client("lambda").create_function(
            FunctionName="convert-batch",
            Runtime="python3.11",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
        register_function_code("convert-batch", tmp_path, "app.lambda_handler", [])
        client("s3").create_bucket(Bucket=BUCKET)
        yield str(arn)
    reset_function_modules()


def definition(function_arn: str, **map_fields: Any) -> dict[str, Any]:
    convert: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "ConvertBatch",
            "States": {
                "ConvertBatch": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        },
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        },
        "ItemBatcher": {"MaxItemsPerBatch": 3, "BatchInput": {"run.$": "$.run"}},
        "MaxConcurrency": 4,
        "ToleratedFailurePercentage": 0,
        "Label": "Convert",
        "ResultSelector": {"batches.$": "$"},
        "ResultPath": "$.converted",
        "End": True,
    }
    convert.update(map_fields)
    return {"StartAt": "Convert", "States": {"Convert": convert}}


def put_manifest(key: str, lines: list[str]) -> None:
    client("s3").put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())


def run(machine: dict[str, Any], execution_input: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    sfn = client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name="convert", definition=json.dumps(machine), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    # Always name executions: moto reuses one execution named None for nameless starts with the same input.
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, name="run-1", input=json.dumps(execution_input))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            return dict(description)
        time.sleep(0.05)
    raise AssertionError(f"execution still running after {timeout} s")


def items(count: int) -> list[str]:
    return [json.dumps({"key": f"images/{index}.png", "index": index}) for index in range(count)]


EXECUTION_INPUT = {"bucket": BUCKET, "key": "manifest.jsonl", "run": "run-7"}


def test_jsonl_manifest_is_batched_in_order_with_batch_input(convert_arn: str) -> None:
    put_manifest("manifest.jsonl", [*items(10), "", "   "])  # blank lines are not items

    description = run(definition(convert_arn), EXECUTION_INPUT)

    assert description["status"] == "SUCCEEDED", description
    output = json.loads(description["output"])
    assert {key: output[key] for key in EXECUTION_INPUT} == EXECUTION_INPUT
    batches = output["converted"]["batches"]
    assert [batch["count"] for batch in batches] == [3, 3, 3, 1]
    assert {batch["run"] for batch in batches} == {"run-7"}
    assert [item["index"] for batch in batches for item in batch["items"]] == list(range(10))


def test_line_that_is_not_json_fails_the_map_with_item_reader_failed(convert_arn: str) -> None:
    put_manifest("manifest.jsonl", [*items(2), "{not json"])

    description = run(definition(convert_arn), EXECUTION_INPUT)

    assert description["status"] == "FAILED"
    assert description["error"] == "States.ItemReaderFailed"
    assert "Line 3" in description["cause"]


def test_reader_config_max_items_limits_the_items(convert_arn: str) -> None:
    put_manifest("manifest.jsonl", items(10))
    machine = definition(convert_arn)
    machine["States"]["Convert"]["ItemReader"]["ReaderConfig"]["MaxItems"] = 4

    description = run(machine, EXECUTION_INPUT)

    assert [batch["count"] for batch in json.loads(description["output"])["converted"]["batches"]] == [3, 1]


def test_max_input_bytes_per_batch_splits_batches(convert_arn: str) -> None:
    put_manifest("manifest.jsonl", items(6))
    item_bytes = len(items(1)[0]) + 1
    batch_overhead = len(json.dumps({"Items": [], "BatchInput": {"run": "run-7"}}))
    batcher = {"MaxInputBytesPerBatch": batch_overhead + 2 * item_bytes, "BatchInput": {"run.$": "$.run"}}

    description = run(definition(convert_arn, ItemBatcher=batcher), EXECUTION_INPUT)

    assert [batch["count"] for batch in json.loads(description["output"])["converted"]["batches"]] == [2, 2, 2]


def test_failing_batch_exceeds_the_tolerated_failure_threshold(convert_arn: str) -> None:
    put_manifest("manifest.jsonl", items(10))
    batcher = {"MaxItemsPerBatch": 3, "BatchInput": {"run.$": "$.run", "fail": True}}

    description = run(definition(convert_arn, ItemBatcher=batcher), EXECUTION_INPUT)

    assert description["status"] == "FAILED"
    assert description["error"] == "States.ExceedToleratedFailureThreshold"


def test_failures_within_the_tolerated_percentage_succeed_with_null_results(convert_arn: str) -> None:
    put_manifest("manifest.jsonl", items(10))
    batcher = {"MaxItemsPerBatch": 3, "BatchInput": {"run.$": "$.run", "fail": True}}

    description = run(definition(convert_arn, ItemBatcher=batcher, ToleratedFailurePercentage=100), EXECUTION_INPUT)

    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"])["converted"]["batches"] == [None] * 4


def test_item_batcher_with_item_selector_is_rejected_clearly(convert_arn: str) -> None:
    machine = definition(convert_arn, ItemSelector={"value.$": "$$.Map.Item.Value"})
    # moto reports InvalidDefinition without an error code.
    with pytest.raises(ClientError, match="ItemSelector with ItemBatcher"):
        client("stepfunctions").create_state_machine(
            name="convert", definition=json.dumps(machine), roleArn="arn:aws:iam::123456789012:role/x"
        )


def test_hundreds_of_lines_come_back_in_order_across_many_batches(convert_arn: str) -> None:
    # Speed is measured in benchmarks/, not here: this checks order and completeness over many child runs.
    put_manifest("manifest.jsonl", items(200))

    description = run(definition(convert_arn), EXECUTION_INPUT)

    assert description["status"] == "SUCCEEDED"
    batches = json.loads(description["output"])["converted"]["batches"]
    assert len(batches) == 67
    assert sum(batch["count"] for batch in batches) == 200


def test_item_batcher_unit() -> None:
    batcher = ItemBatcher.from_definition("Convert", {"MaxItemsPerBatchPath": "$.size", "BatchInput": {"a": 1}})
    batches = batcher.batches(list(range(5)), {"size": 2}, {})
    assert [batch["Items"] for batch in batches] == [[0, 1], [2, 3], [4]]
    assert all(batch["BatchInput"] == {"a": 1} for batch in batches)
    batches[0]["BatchInput"]["a"] = 2  # each batch has its own copy
    assert batches[1]["BatchInput"] == {"a": 1}
    with pytest.raises(ValueError, match="unsupported"):
        ItemBatcher.from_definition("Convert", {"MaxItemsPerBatch": 2, "Extra": 1})
    with pytest.raises(ValueError, match="needs MaxItemsPerBatch"):
        ItemBatcher.from_definition("Convert", copy.deepcopy({"BatchInput": {}}))
