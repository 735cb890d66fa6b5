"""LaunchHits step (workforce kind mturk): the round's HITs, or more assignments on them, when the balance covers it."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location
from groundcrew.workforces.mturk import hits as mturk_hits
from groundcrew.workforces.mturk.jobs import launch_hits

logger = Logger()
MTURK_ENVIRONMENT = os.environ["MTURK_ENVIRONMENT"]  # sandbox or production: the stack's MTurkEnvironment
# Presigned URLs put the task images on the HIT's page: SigV4, which every region and SSE-KMS objects accept.
s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
mturk = boto3.client("mturk", **mturk_hits.client_settings(MTURK_ENVIRONMENT))
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


def presign(uri: str, expires_in: int) -> str:
    """An HTTPS GET URL for an s3:// object, authorised by this function's role: S3 refuses it once the role may no
    longer read the object, or once the session credentials that signed it expire (even before `expires_in`)."""
    location = S3Location.parse(uri)
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=expires_in
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return launch_hits(
        s3,
        mturk,
        publisher,
        BatchRef.model_validate(event["batch"]),
        PreparedJob.model_validate(event["job"]),
        sandbox=MTURK_ENVIRONMENT == "sandbox",
        presign=presign,
    )
