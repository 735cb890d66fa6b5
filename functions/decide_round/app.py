"""Decide step: merge a round's answers into the batch's ledger; plan a follow-up round for what needs one."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core.events import EventPublisher
from groundcrew.core.records import ExecutionState
from groundcrew.steps.decide import decide_round

logger = Logger()
s3 = boto3.client("s3")
workers = WorkerQualityStore(boto3.client("dynamodb"), os.environ["BATCHES_TABLE"])
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = ExecutionState.model_validate(event["state"])
    result = decide_round(s3, workers, publisher, state, round_failed=bool(event.get("round_failed")))
    next_round = result["next_round"]
    logger.info(
        "round decided",
        extra={
            "batch_id": state.batch.batch_id,
            "round": result["rounds"][-1]["round"],
            "next_round_items": next_round["item_count"] if next_round else 0,
        },
    )
    return result
