"""TrackLabelStudio step (workforce kind labelstudio): one poll of the round's tasks, answers, the deadline."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.workforces.labelstudio.connection import client_from_environment
from groundcrew.workforces.labelstudio.rounds import track_round

logger = Logger()
s3 = boto3.client("s3")
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return track_round(
        s3,
        client_from_environment(),
        publisher,
        BatchRef.model_validate(event["batch"]),
        PreparedJob.model_validate(event["job"]),
        event.get("tracking"),
    )
