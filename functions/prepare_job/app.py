"""Prepare step: a round's manifest (with gold), template, label categories and task config; the request."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.consensus.rounds import RoundPlan
from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core.records import BatchRef
from groundcrew.steps.prepare import prepare_job
from groundcrew.workforces.ground_truth.jobs import JobResources

logger = Logger()
s3 = boto3.client("s3")
resources = JobResources(
    bucket=os.environ["DATA_BUCKET"],
    role_arn=os.environ["GROUND_TRUTH_ROLE_ARN"],
    pre_annotation_arn=os.environ["PRE_ANNOTATION_FUNCTION_ARN"],
    consolidation_arn=os.environ["CONSOLIDATION_FUNCTION_ARN"],
    default_workteam_arn=os.environ.get("DEFAULT_WORKTEAM_ARN") or None,
    kms_key_id=os.environ.get("OUTPUT_KMS_KEY_ID") or None,
    skeleton_component_url=os.environ.get("SKELETON_COMPONENT_URL") or None,
    region=boto3.session.Session().region_name or os.environ["AWS_REGION"],
)
workers = WorkerQualityStore(boto3.client("dynamodb"), os.environ["BATCHES_TABLE"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    poll_seconds = int(os.environ.get("TRACK_INTERVAL_SECONDS", "60"))
    next_round = (event.get("consensus") or {}).get("next_round")
    plan = RoundPlan.from_dict(next_round) if next_round else None
    return prepare_job(s3, BatchRef.model_validate(event["batch"]), resources, poll_seconds, plan=plan, workers=workers)
