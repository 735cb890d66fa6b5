"""StopJob step (a round's Ground Truth job, after its round failed): the job stops billing before the failure is
reported; a job that ended already, or that was never created, is left as it is."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.records import PreparedJob
from groundcrew.workforces.ground_truth.jobs import stop_if_running

logger = Logger()
sagemaker = boto3.client("sagemaker")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = PreparedJob.model_validate(event["job"])
    result = stop_if_running(sagemaker, job.name)
    logger.info("labeling job after a failed round", extra={"job": job.name, **result})
    return result
