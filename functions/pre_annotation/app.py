"""Ground Truth pre-annotation Lambda: one manifest line in, the worker task's input out.

Called once per task a worker opens, so it stays light: no Tracer, no parser models, config cached.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from groundcrew.core.errors import DataObjectError
from groundcrew.workflows.registry import for_workflow
from groundcrew.workforces.ground_truth.task_config import TaskConfigReader, job_name_from_arn

logger = Logger()
configs = TaskConfigReader(boto3.client("s3"), os.environ["DATA_BUCKET"])


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    data_object = event.get("dataObject")
    if not isinstance(data_object, dict):
        raise DataObjectError("pre-annotation request has no dataObject (the manifest line)")
    config = configs.read(job_name_from_arn(event["labelingJobArn"]))
    task = for_workflow(config.workflow).task_input(data_object, config)
    # The documented key is isHumanAnnotationRequired (boolean); several AWS samples send a key GT ignores.
    return {"taskInput": task, "isHumanAnnotationRequired": True}
