"""TrackHits step (workforce kind mturk): one poll of the round's HITs, reviewed answers, progress, the deadline."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.workforces.mturk import hits as mturk_hits
from groundcrew.workforces.mturk.jobs import track_hits

logger = Logger()
s3 = boto3.client("s3")
mturk = boto3.client("mturk", **mturk_hits.client_settings(os.environ["MTURK_ENVIRONMENT"]))
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return track_hits(
        s3,
        mturk,
        publisher,
        BatchRef.model_validate(event["batch"]),
        PreparedJob.model_validate(event["job"]),
        event.get("tracking"),
    )
