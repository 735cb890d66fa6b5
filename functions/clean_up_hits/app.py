"""CleanUpHits step (workforce kind mturk): the batch's HITs expired and deleted, at its end or after it failed."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.records import BatchRef
from groundcrew.workforces.mturk import hits as mturk_hits
from groundcrew.workforces.mturk.jobs import clean_up_hits

logger = Logger()
s3 = boto3.client("s3")
mturk = boto3.client("mturk", **mturk_hits.client_settings(os.environ["MTURK_ENVIRONMENT"]))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = clean_up_hits(s3, mturk, BatchRef.model_validate(event["batch"]))
    logger.info("HITs cleaned up", extra={"batch_id": event["batch"]["batch_id"], **result})
    return result
