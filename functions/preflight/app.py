"""Preflight step: check the batch's manifest against Ground Truth's rules before any job exists."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.records import BatchRef
from groundcrew.steps.preflight import run_preflight

logger = Logger()
s3 = boto3.client("s3")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run_preflight(s3, BatchRef.model_validate(event["batch"]))
    logger.info("preflight", extra={"passed": report["passed"], "lines": report["lines"], "errors": report["errors"]})
    return report
