"""Ground Truth's own resources that jobs name by ARN: built-in task Lambdas and worker UIs (contracts 4.1, 4.2)."""

from __future__ import annotations

# Contracts 4.1: the built-in PRE-/ACS- Lambdas exist in these Regions only, one AWS account per Region.
BUILT_IN_LAMBDA_ACCOUNTS = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
# Contracts 4.2: the worker UIs of NER, 3D point cloud and video frame jobs, one account in every Region.
HUMAN_TASK_UI_ACCOUNT = "394669845002"


class RegionWithoutBuiltIns(ValueError):
    """Ground Truth's built-in task Lambdas are not published in this Region."""


def built_in_lambda_arns(task_type: str, region: str, partition: str = "aws") -> tuple[str, str]:
    """(PRE-, ACS-) Lambda ARNs of a built-in task type, e.g. `3DPointCloudObjectDetection`, in `region`."""
    account = BUILT_IN_LAMBDA_ACCOUNTS.get(region)
    if account is None:
        raise RegionWithoutBuiltIns(
            f"Ground Truth's built-in {task_type} Lambdas are published in "
            f"{', '.join(sorted(BUILT_IN_LAMBDA_ACCOUNTS))}, not in {region}; deploy the stack in one of those"
        )
    prefix = f"arn:{partition}:lambda:{region}:{account}:function"
    return f"{prefix}:PRE-{task_type}", f"{prefix}:ACS-{task_type}"


def human_task_ui_arn(name: str, region: str, partition: str = "aws") -> str:
    """The HumanTaskUiArn of a Ground Truth worker UI, e.g. `PointCloudObjectDetection`."""
    return f"arn:{partition}:sagemaker:{region}:{HUMAN_TASK_UI_ACCOUNT}:human-task-ui/{name}"


def is_built_in(lambda_arn: str) -> bool:
    """Whether a job's pre-annotation Lambda is one of Ground Truth's own (its output is in the built-in format)."""
    parts = lambda_arn.split(":")
    return len(parts) == 7 and parts[4] in BUILT_IN_LAMBDA_ACCOUNTS.values() and parts[6].startswith("PRE-")
