"""PrepareFrames step: a point cloud batch's raw frames become Ground Truth frames and its job's input manifest."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef
from groundcrew.workflows.point_cloud.batches import prepare_frames

logger = Logger()
s3 = boto3.client("s3")
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = prepare_frames(s3, publisher, BatchRef.model_validate(event["batch"]))
    logger.info("frames prepared", extra={"batch_id": batch["batch_id"], "items": batch["item_count"]})
    return batch
