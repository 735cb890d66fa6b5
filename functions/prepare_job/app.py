"""Prepare step: upload the job's template, label categories and task config; build CreateLabelingJob."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.labeling_jobs import JobResources
from groundcrew.pipeline import BatchRef, prepare_job

logger = Logger()
s3 = boto3.client("s3")
resources = JobResources(
    bucket=os.environ["DATA_BUCKET"],
    role_arn=os.environ["GROUND_TRUTH_ROLE_ARN"],
    pre_annotation_arn=os.environ["PRE_ANNOTATION_FUNCTION_ARN"],
    consolidation_arn=os.environ["CONSOLIDATION_FUNCTION_ARN"],
    default_workteam_arn=os.environ.get("DEFAULT_WORKTEAM_ARN") or None,
    kms_key_id=os.environ.get("OUTPUT_KMS_KEY_ID") or None,
)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    poll_seconds = int(os.environ.get("TRACK_INTERVAL_SECONDS", "60"))
    return prepare_job(s3, BatchRef.model_validate(event["batch"]), resources, poll_seconds)
