"""Collect step: read the output manifest and worker responses into the batch's statistics."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.steps.collect import collect_output

logger = Logger()
s3 = boto3.client("s3")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return collect_output(
        s3,
        BatchRef.model_validate(event["batch"]),
        PreparedJob.model_validate(event["job"]),
        event["tracking"]["output_manifest_uri"],
    )
