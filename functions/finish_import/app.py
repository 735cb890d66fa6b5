"""Finish step of an import: the manifest and summary, the adjustment batches started, the event published."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import ImportRef
from groundcrew.steps.imports import finish

logger = Logger()
s3 = boto3.client("s3")
sfn = boto3.client("stepfunctions")
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ref = ImportRef.from_dict(event["import"])
    result = finish(s3, sfn, publisher, ref, event["plan"], os.environ["STATE_MACHINE_ARN"])
    logger.info("import finished", extra={"import_id": ref.import_id, "images": result["images"]})
    return result
