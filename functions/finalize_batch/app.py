"""Finalize step: the merged output manifest, worker quality, cost and the training export of a batch."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core.events import ANNOUNCED_ONCE, OncePerBatch
from groundcrew.core.records import ExecutionState
from groundcrew.intake.batches import BatchStore
from groundcrew.steps.finalize import finalize_batch

logger = Logger()
s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")
workers = WorkerQualityStore(dynamodb, os.environ["BATCHES_TABLE"])
# The training export is announced once per batch, however often Finalize runs for it.
announcements = BatchStore(dynamodb, os.environ["BATCHES_TABLE"])
publisher = OncePerBatch(
    boto3.client("events"), os.environ["EVENT_BUS_NAME"], announcements.claim_announcement, ANNOUNCED_ONCE
)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = ExecutionState.model_validate(event)
    result = finalize_batch(s3, workers, publisher, state)
    statistics = result["statistics"]
    logger.info(
        "batch finalized",
        extra={
            "batch_id": state.batch.batch_id,
            "labeled": statistics["labeled"],
            "unresolved": statistics["unresolved"],
            "rounds": statistics["rounds"],
        },
    )
    return result
