"""Track step: one DescribeLabelingJob poll, a progress event when the counters move, the deadline."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.steps.track import track_job

logger = Logger()
# One attempt per invocation: the state machine's Retry owns the backoff, so it shows in the execution history.
sagemaker = boto3.client("sagemaker", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return track_job(
        sagemaker,
        publisher,
        BatchRef.model_validate(event["batch"]),
        PreparedJob.model_validate(event["job"]),
        event.get("tracking"),
    )
