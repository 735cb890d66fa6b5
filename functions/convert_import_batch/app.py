"""Convert step of an import (one Distributed Map batch): masks or boxes, manifest lines and refusals."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.steps.imports import convert_batch

logger = Logger()
s3 = boto3.client("s3")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = convert_batch(s3, event["Items"], event["BatchInput"])
    logger.info("import batch converted", extra={"part": result["part"], "converted": result["converted"]})
    return result
