"""Publish step: tell downstream teams how a batch ended (completed, or failed and why)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import ANNOUNCED_ONCE, EventDetail, OncePerBatch
from groundcrew.core.records import ExecutionState
from groundcrew.intake.batches import BatchStore
from groundcrew.steps.publish import completed_event, failed_event

logger = Logger()
# A batch's completion is announced once, however often an execution runs for it.
announcements = BatchStore(boto3.client("dynamodb"), os.environ["BATCHES_TABLE"])
publisher = OncePerBatch(
    boto3.client("events"), os.environ["EVENT_BUS_NAME"], announcements.claim_announcement, ANNOUNCED_ONCE
)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = event["outcome"]
    state = ExecutionState.model_validate(event["state"])
    detail: EventDetail
    if outcome == "completed":
        detail = completed_event(state)
    elif outcome == "failed":
        detail = failed_event(state)
    else:
        raise ValueError(f"outcome must be 'completed' or 'failed', got {outcome!r}")
    publisher.publish(detail)
    logger.info("outcome published", extra={"detail_type": detail.DETAIL_TYPE, "batch_id": state.batch.batch_id})
    return {"detail_type": detail.DETAIL_TYPE, "detail": detail.model_dump(mode="json")}
