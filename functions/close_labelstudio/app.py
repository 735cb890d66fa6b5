"""CloseLabelStudio step (workforce kind labelstudio): the batch's projects closed, at its end or after a failure."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.records import BatchRef
from groundcrew.workforces.labelstudio.connection import client_from_environment
from groundcrew.workforces.labelstudio.rounds import close_rounds

logger = Logger()
s3 = boto3.client("s3")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = close_rounds(s3, client_from_environment(), BatchRef.model_validate(event["batch"]))
    logger.info("Label Studio projects closed", extra={"batch_id": event["batch"]["batch_id"], **result})
    return result
