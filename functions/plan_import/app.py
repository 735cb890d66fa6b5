"""Plan step of an import: the annotation file(s) into one work item per image (JSON Lines) for the Map."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.records import ImportRef
from groundcrew.steps.imports import plan

logger = Logger()
s3 = boto3.client("s3")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ref = ImportRef.from_dict(event["import"])
    result = plan(s3, ref)
    logger.info("import planned", extra={"import_id": ref.import_id, "images": result["items"]})
    return result
