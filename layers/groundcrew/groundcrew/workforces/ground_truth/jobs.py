"""Ground Truth labeling jobs: names, the CreateLabelingJob request, launching idempotently, tracking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from groundcrew.core.events import LabelCounters
from groundcrew.core.s3_locations import S3Location
from groundcrew.projects import Project
from groundcrew.workflows.registry import for_workflow
from groundcrew.workforces.ground_truth.arns import RegionWithoutBuiltIns
from groundcrew.workforces.ground_truth.task_config import JOBS_PREFIX, job_folder
from groundcrew.workforces.registry import for_workforce

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
MAX_CONCURRENT_TASKS = 1000


class GroundTruthThrottled(RuntimeError):
    """Ground Truth throttled the call; the state machine retries with backoff."""


class GroundTruthUnavailable(RuntimeError):
    """SageMaker failed on its side (5xx, InternalFailure, ServiceUnavailable) or did not answer in time; the state
    machine retries with backoff (CreateLabelingJob is idempotent here: a repeated create finds the job)."""


_SERVICE_SIDE_CODES = frozenset({"InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout"})


def _service_side(error: ClientError) -> bool:
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status >= 500 or error.response.get("Error", {}).get("Code") in _SERVICE_SIDE_CODES


class GroundTruthLimitExceeded(RuntimeError):
    """Too many labeling jobs at once (ResourceLimitExceeded); the state machine retries later."""


class LabelingJobRejected(ValueError):
    """Ground Truth refused the request (validation); retrying cannot help."""


class LabelingJobDeadlineExceeded(RuntimeError):
    """The job ran past the project's deadline and was stopped."""


@dataclass(frozen=True, slots=True)
class JobResources:
    """Everything the stack supplies to a job besides the project."""

    bucket: str
    role_arn: str
    pre_annotation_arn: str
    consolidation_arn: str
    default_workteam_arn: str | None
    kms_key_id: str | None = None
    skeleton_component_url: str | None = None  # keypoint projects without their own keypoints.component_url
    region: str = "us-east-1"  # where the stack runs: picks Ground Truth's built-in Lambdas for adjustment jobs

    @property
    def partition(self) -> str:
        return self.role_arn.split(":")[1] if self.role_arn.count(":") >= 2 else "aws"

    def task_lambdas(self, project: Project) -> tuple[str, str]:
        """(pre-annotation, consolidation) Lambda ARNs: ours, or Ground Truth's built-in ones."""
        try:
            built_in = for_workflow(project.workflow).built_in_lambdas(project, self.region, self.partition)
        except RegionWithoutBuiltIns as error:
            raise LabelingJobRejected(str(error)) from None
        return built_in or (self.pre_annotation_arn, self.consolidation_arn)

    def ui_config(self, project: Project, template: S3Location | None) -> dict[str, str]:
        """3D point cloud jobs name Ground Truth's worker UI; the others our template (contracts 4.2)."""
        ui_arn = for_workflow(project.workflow).worker_ui_arn(project, self.region, self.partition)
        if ui_arn is not None:
            return {"HumanTaskUiArn": ui_arn}
        if template is None:
            raise ValueError(f"a {project.workflow.value} job needs its worker template")
        return {"UiTemplateS3Uri": template.uri}


def label_categories_document(labels: Sequence[str]) -> dict[str, Any]:
    """Ground Truth's label category file (classification labels, or a rig's keypoint names)."""
    return {"document-version": "2018-11-28", "labels": [{"label": label} for label in labels]}


def create_request(
    project: Project,
    *,
    name: str,
    manifest_uri: str,
    template: S3Location | None,
    label_categories: S3Location,
    resources: JobResources,
    batch_id: str,
    workers_per_object: int | None = None,
) -> dict[str, Any]:
    workteam = project.workforce.workteam_arn or resources.default_workteam_arn
    names_workteam = for_workforce(project.workforce.kind).names_workteam
    if not workteam and names_workteam:
        raise LabelingJobRejected(
            f"project {project.name!r} names no workforce.workteam_arn and the stack has no DefaultWorkteamArn"
        )
    pre_annotation_arn, consolidation_arn = resources.task_lambdas(project)
    output: dict[str, Any] = {"S3OutputPath": S3Location(resources.bucket, JOBS_PREFIX).uri}
    if resources.kms_key_id:
        output["KmsKeyId"] = resources.kms_key_id
    request: dict[str, Any] = {
        "LabelingJobName": name,
        "LabelAttributeName": project.attribute_name,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest_uri}}},
        "OutputConfig": output,
        "RoleArn": resources.role_arn,
        "LabelCategoryConfigS3Uri": label_categories.uri,
        "HumanTaskConfig": {
            **({"WorkteamArn": workteam} if names_workteam else {}),
            "UiConfig": resources.ui_config(project, template),
            "PreHumanTaskLambdaArn": pre_annotation_arn,
            "TaskKeywords": list(project.task.keywords),
            "TaskTitle": project.task.title,
            "TaskDescription": project.task.description,
            "NumberOfHumanWorkersPerDataObject": workers_per_object or project.consensus_policy.initial_answers,
            "TaskTimeLimitInSeconds": project.time_limits.task_seconds,
            "TaskAvailabilityLifetimeInSeconds": project.time_limits.availability_seconds,
            "MaxConcurrentTaskCount": MAX_CONCURRENT_TASKS,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": consolidation_arn},
        },
        "Tags": [
            {"Key": "groundcrew:project", "Value": project.name},
            {"Key": "groundcrew:batch", "Value": batch_id},
        ],
    }
    if project.workforce.public:
        price = project.workforce.price_per_task_usd
        assert price is not None  # the project model requires it for the public workforce
        request["HumanTaskConfig"]["PublicWorkforceTaskPrice"] = {"AmountInUsd": public_price(price)}
        # Ground Truth fails public jobs that do not declare this; the project author asserted it.
        request["InputConfig"]["DataAttributes"] = {"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]}
    return request


def public_price(price: Decimal) -> dict[str, int]:
    """USD as Ground Truth's AmountInUsd: 0.036 -> 0 dollars, 3 cents, 6 tenths of a cent."""
    tenths = int((price * 1000).to_integral_value())
    return {"Dollars": tenths // 1000, "Cents": tenths % 1000 // 10, "TenthFractionsOfACent": tenths % 10}


def output_manifest_location(bucket: str, name: str) -> S3Location:
    return job_folder(bucket, name).child("manifests", "output", "output.manifest")


def launch(sagemaker: SageMakerClient, request: dict[str, Any]) -> str:
    """Create the job; a retry after an unseen success finds the same job instead of failing."""
    name = request["LabelingJobName"]
    try:
        return sagemaker.create_labeling_job(**request)["LabelingJobArn"]
    except (BotoCoreError, ConnectionError) as error:  # no answer: timeouts, resets, endpoint unreachable
        raise GroundTruthUnavailable(f"CreateLabelingJob {name}: {error}") from None
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        if _service_side(error):
            raise GroundTruthUnavailable(f"CreateLabelingJob {name}: {code}: {message}") from None
        if code in {"ThrottlingException", "Throttling", "TooManyRequestsException"}:
            raise GroundTruthThrottled(f"CreateLabelingJob {name}: {message}") from None
        if code == "ResourceLimitExceeded":
            raise GroundTruthLimitExceeded(f"CreateLabelingJob {name}: {message}") from None
        if code == "ResourceInUse":
            existing = sagemaker.describe_labeling_job(LabelingJobName=name)
            manifest = existing["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
            if manifest == request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]:
                return existing["LabelingJobArn"]
            raise LabelingJobRejected(f"a different labeling job named {name} already exists") from None
        raise LabelingJobRejected(f"CreateLabelingJob {name} was refused: {code}: {message}") from None


@dataclass(frozen=True, slots=True)
class JobState:
    status: str
    counters: LabelCounters
    failure_reason: str | None
    output_manifest_uri: str | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def describe(sagemaker: SageMakerClient, name: str) -> JobState:
    try:
        job = sagemaker.describe_labeling_job(LabelingJobName=name)
    except (BotoCoreError, ConnectionError) as error:
        raise GroundTruthUnavailable(f"DescribeLabelingJob {name}: {error}") from None
    except ClientError as error:
        if error.response["Error"]["Code"] in {"ThrottlingException", "Throttling"}:
            raise GroundTruthThrottled(f"DescribeLabelingJob {name}") from None
        if _service_side(error):
            raise GroundTruthUnavailable(f"DescribeLabelingJob {name}: {error}") from None
        raise
    output = job.get("LabelingJobOutput") or {}
    return JobState(
        status=job["LabelingJobStatus"],
        counters=LabelCounters.model_validate(job["LabelCounters"]),
        failure_reason=job.get("FailureReason"),
        output_manifest_uri=output.get("OutputDatasetS3Uri"),
    )


def stop(sagemaker: SageMakerClient, name: str) -> None:
    try:
        sagemaker.stop_labeling_job(LabelingJobName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":
            raise


def stop_if_running(sagemaker: SageMakerClient, name: str) -> dict[str, Any]:
    """Stop the job; one that ended already (SageMaker refuses to stop it) or was never created is left alone.
    StopLabelingJob alone decides: the failure being handled may be that the job cannot be described."""
    try:
        sagemaker.stop_labeling_job(LabelingJobName=name)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ResourceNotFound":
            return {"stopped": False, "why": "the job was never created"}
        if code == "ValidationException":
            return {"stopped": False, "why": error.response["Error"].get("Message", "it ended already")}
        raise
    return {"stopped": True, "why": "it was still running"}
