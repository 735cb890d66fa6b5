"""What the labeling job API refuses, with SageMaker's error codes and wording (contracts section 6.1).

Every request is checked against botocore's SageMaker model first (`validate_request`: required members, lengths,
ranges, patterns, enums; `N validation errors detected: Value ... at 'humanTaskConfig.x' failed to satisfy
constraint: ...`), then CreateLabelingJob against Ground Truth's own rules (`check_create_labeling_job`): the
label attribute name, UiConfig, time limits, the data source, and PRE/ACS ARNs of built-in task types. All errors
are HTTP 400, `{"__type": code, "message": ...}`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import Shape
from moto.core.exceptions import JsonRESTError
from moto.core.utils import get_service_model

from groundcrew.workflows.adjustment.manifests import REF_REQUIRED
from groundcrew_local import built_in_tasks
from groundcrew_local.model_constraints import constraint_violations

MAX_TASK_SECONDS = 28_800  # custom jobs and image/text built-ins
MAX_TASK_SECONDS_3D_VIDEO = 2_592_000
MAX_AVAILABILITY_PUBLIC = 43_200
MAX_AVAILABILITY_PRIVATE = 2_592_000
PUBLIC_WORKTEAM = re.compile(r":workteam/public-crowd/default$")
BUILT_IN_PRE = re.compile(r":function:PRE-([A-Za-z0-9]+)$")
# API/CreateLabelingJobRequest.LabelAttributeName: these task types need `-ref`, every other must not have it.
REF_TASK_TYPES = REF_REQUIRED
THROTTLE_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ResourceLimitExceeded": (
        "You have exceeded an SageMaker resource limit. For example, you might have too many labeling jobs running."
    ),
}


def api_error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)  # HTTP 400, `{"__type": code, "message": ...}` like SageMaker


def validation_error(message: str) -> JsonRESTError:
    return api_error("ValidationException", message)


def throttling_error(code: str) -> JsonRESTError:
    """What `throttle_next` injects: SageMaker's message for the code, or one naming the injection."""
    return api_error(code, THROTTLE_MESSAGES.get(code, f"{code} (injected by throttle_next)"))


@cache
def _input_shape(operation: str) -> Shape:
    shape = get_service_model("sagemaker").operation_model(operation).input_shape
    if shape is None:
        raise LookupError(f"SageMaker {operation} has no input shape")
    return shape


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint of the API model the request breaks."""
    errors = constraint_violations(params, _input_shape(operation))
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise validation_error(f"{len(errors)} validation error{plural} detected: " + "; ".join(errors))


def built_in_task_type(lambda_arn: str | None) -> str | None:
    """`BoundingBox` of `arn:...:function:PRE-BoundingBox`; None for our own (custom) pre-annotation Lambda."""
    match = BUILT_IN_PRE.search(lambda_arn or "")
    return match.group(1) if match else None


def is_public_workteam(workteam_arn: str) -> bool:
    """The public (Mechanical Turk) workforce of Ground Truth."""
    return bool(PUBLIC_WORKTEAM.search(workteam_arn))


def check_create_labeling_job(params: dict[str, Any]) -> None:
    """Rules of CreateLabelingJob beyond the model's constraints (contracts section 6.1)."""
    human: dict[str, Any] = params["HumanTaskConfig"]
    _check_label_attribute(params["LabelAttributeName"], built_in_task_type(human.get("PreHumanTaskLambdaArn")))
    _check_ui_and_time_limits(human)
    source = params["InputConfig"]["DataSource"]
    if not source.get("S3DataSource") and not source.get("SnsDataSource"):
        raise validation_error("InputConfig.DataSource must contain S3DataSource or SnsDataSource")
    consolidation = human.get("AnnotationConsolidationConfig") or {}
    mismatch = built_in_tasks.lambda_mismatch(
        human.get("PreHumanTaskLambdaArn"), consolidation.get("AnnotationConsolidationLambdaArn")
    )
    if mismatch:
        raise validation_error(mismatch)


def _check_label_attribute(attribute: str, task_type: str | None) -> None:
    if attribute in {"source", "source-ref"}:
        raise validation_error(
            f"LabelAttributeName '{attribute}' is reserved for the input data: choose another label attribute name"
        )
    if attribute.endswith("-metadata"):
        raise validation_error(
            f"LabelAttributeName '{attribute}' must not end with '-metadata' (Ground Truth adds <name>-metadata itself)"
        )
    if task_type in REF_TASK_TYPES and not attribute.endswith("-ref"):
        raise validation_error(f"LabelAttributeName '{attribute}' must end with '-ref' for task type {task_type}")
    if task_type not in REF_TASK_TYPES and attribute.endswith("-ref"):
        kind = f"task type {task_type}" if task_type else "a custom labeling job (PreHumanTaskLambdaArn is not PRE-*)"
        raise validation_error(f"LabelAttributeName '{attribute}' must not end with '-ref' for {kind}")


def _check_ui_and_time_limits(human: dict[str, Any]) -> None:
    ui = human["UiConfig"]
    if bool(ui.get("UiTemplateS3Uri")) == bool(ui.get("HumanTaskUiArn")):
        raise validation_error("HumanTaskConfig.UiConfig must contain exactly one of UiTemplateS3Uri or HumanTaskUiArn")
    ui_arn = ui.get("HumanTaskUiArn") or ""
    three_d_or_video = "human-task-ui/PointCloud" in ui_arn or "human-task-ui/Video" in ui_arn
    task_limit = MAX_TASK_SECONDS_3D_VIDEO if three_d_or_video else MAX_TASK_SECONDS
    if human["TaskTimeLimitInSeconds"] > task_limit:
        raise validation_error(
            f"HumanTaskConfig.TaskTimeLimitInSeconds {human['TaskTimeLimitInSeconds']} exceeds the maximum of "
            f"{task_limit} seconds for this task type"
        )
    public = is_public_workteam(human["WorkteamArn"])
    availability = human.get("TaskAvailabilityLifetimeInSeconds")
    availability_limit = MAX_AVAILABILITY_PUBLIC if public else MAX_AVAILABILITY_PRIVATE
    if availability is not None and availability > availability_limit:
        raise validation_error(
            f"HumanTaskConfig.TaskAvailabilityLifetimeInSeconds {availability} exceeds the maximum of "
            f"{availability_limit} seconds for {'the public' if public else 'a private or vendor'} workforce"
        )
