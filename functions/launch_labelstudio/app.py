"""LaunchLabelStudio step (workforce kind labelstudio): the round's project and tasks on the Label Studio server."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.workforces.labelstudio.connection import client_from_environment
from groundcrew.workforces.labelstudio.rounds import ImageStorage, launch_round

logger = Logger()
s3 = boto3.client("s3")
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])
# Where the Label Studio server reaches the bucket to sign image links (the stack's LabelStudioS3Endpoint).
storage = ImageStorage(os.environ["AWS_REGION"], os.environ.get("LABEL_STUDIO_S3_ENDPOINT") or None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch, job = BatchRef.model_validate(event["batch"]), PreparedJob.model_validate(event["job"])
    result = launch_round(s3, client_from_environment(), publisher, batch, job, storage)
    logger.info("Label Studio round launched", extra={"job": job.name, **result})
    return result
