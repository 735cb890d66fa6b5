"""Ground Truth annotation-consolidation Lambda: every worker answer of a batch of objects in, labels out."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.consensus.decisions import ConsensusPolicy
from groundcrew.core.events import EventPublisher
from groundcrew.core.vocabulary import PolicyKind
from groundcrew.workforces.ground_truth.consolidation import (
    ConsolidationRequest,
    JobContext,
    JobContextReader,
    consolidate,
    read_payload,
)
from groundcrew.workforces.ground_truth.task_config import job_name_from_arn

logger = Logger()
s3 = boto3.client("s3")
contexts = JobContextReader(s3, os.environ["DATA_BUCKET"])
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


def payload_reader(role_arn: str | None) -> Any:
    """The job's own role when ASSUME_LABELING_JOB_ROLE is on (the payload may sit in a bucket only it can read)."""
    if not role_arn or os.environ.get("ASSUME_LABELING_JOB_ROLE", "false").lower() != "true":
        return s3
    credentials = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="groundcrew-consolidation")[
        "Credentials"
    ]
    return boto3.client(
        "s3",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> list[dict[str, Any]]:
    request = ConsolidationRequest.model_validate(event)
    reader = payload_reader(request.roleArn)
    try:
        job = contexts.read(job_name_from_arn(request.labelingJobArn))
    except LookupError:
        # A job not prepared by groundcrew: its label categories and one majority vote per object are all we have.
        if not request.labelCategories:
            raise
        job = JobContext(labels=tuple(request.labelCategories), policy=ConsensusPolicy(kind=PolicyKind.FIXED))
    result = consolidate(reader, request, read_payload(reader, request), job)
    # Reasons name worker ids: they travel in the event and the output manifest, not in the logs.
    logger.info(
        "consolidated",
        extra={
            "objects": result.summary.objects,
            "labeled": result.summary.labeled,
            "unresolved": result.summary.unresolved,
        },
    )
    publisher.publish(result.summary, resources=[request.labelingJobArn])
    return result.response
