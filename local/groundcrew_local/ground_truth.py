"""A local stand-in for SageMaker Ground Truth labeling jobs, served through moto.

moto has no labeling jobs, so `install_ground_truth` adds CreateLabelingJob, DescribeLabelingJob, ListLabelingJobs
and StopLabelingJob to moto's SageMaker responses. Seen from boto3 (or Step Functions' aws-sdk integration) the
stand-in behaves like the service (docs: ../shared/docs/ground-truth-contracts.md):

* requests are validated against botocore's SageMaker model (required members, lengths, ranges, patterns, enums;
  `N validation errors detected: Value ... at 'humanTaskConfig.x' failed to satisfy constraint: ...`) and against
  Ground Truth's own rules (label attribute name, UiConfig, time limits); names are unique case-insensitively
  (`ResourceInUse`); unknown jobs are `ResourceNotFound`; all errors are HTTP 400;
* the Lambdas get the real payloads (sections 5.1, 5.2), S3 gets the real layout and file shapes (section 7), and
  the default event bus gets `SageMaker Ground Truth Labeling Job State Change` on Completed/Failed/Stopped (8.1);
  job log lines go to CloudWatch Logs `/aws/sagemaker/LabelingJobs`, stream = job name.

The job runs deterministically, one step per DescribeLabelingJob call (or `GroundTruthStandIn.run_until_done`):

1. Initializing -> read and validate the input manifest (one JSON object per line, exactly one of `source-ref` /
   `source`, blank lines skipped), the label category file and the UI template -> InProgress. Any problem fails
   the job with a FailureReason, as Ground Truth's asynchronous validation does.
2. InProgress -> the next chunk of up to `chunk_size` data objects: pre-annotation Lambda per object, task page
   rendered with the template, answers from the simulated workforce, one worker-response file per object, one
   consolidation request, the consolidation Lambda, its response file. When no object is left: the output
   manifest, Completed. A stopping condition reached (MaxHumanLabeledObjectCount /
   MaxPercentageOfInputDatasetLabeled) -> Stopping.
3. StopLabelingJob sets Stopping; the next step keeps Stopping, the one after writes the partial output manifest
   and sets Stopped.

Decisions where the contracts are silent:
* `isHumanAnnotationRequired: false` -> no task, no consolidation; the line is copied unchanged and counted in
  `Unlabeled` (it was not labeled, and nothing failed).
* A pre-annotation error or a response without a `taskInput` object, no answer before the time limits, a
  consolidation error, a malformed consolidation entry or an object left out of the response -> that object
  fails (`FailedNonRetryableError`), its line is copied unchanged, the reason goes to the job log. A job whose
  every object failed still ends Completed.
* The `<L>-metadata` of custom jobs follows what real output manifests hold (corpus legal-entity output,
  2020-2022 captures): `{"type": "groundtruth/custom", "job-name": "<name lower case>", "human-annotated": "yes",
  "creation-date": "YYYY-MM-DDTHH:MM:SS.ffffff"}`; `custom_metadata="documented"` writes the developer guide's
  spelling instead (`job_name`, `groundTruth/custom`, `creation_date`). Only `content[<L>]` is used.
* The job ARN ends in the lower-cased name (SageMaker lower-cases ARNs; real `job-name` values are lower case);
  S3 paths use the name as given.
* No PreHumanTaskLambdaArn -> `task.input` is the manifest line. Streaming (SnsDataSource), NER and video
  HumanTaskUiArn jobs, missing consolidation configs and built-in task types other than the ones below fail the
  job with a reason saying the stand-in does not simulate them.

3D point cloud task types (`3DPointCloud*` and their `Adjustment3DPointCloud*` audits) are emulated by
`point_cloud_workers`: they need the matching PointCloud* HumanTaskUiArn and a private or vendor workteam; one
simulated worker per line labels from the answer key and the output is written in AWS's 3D formats.

Built-in image task types `SemanticSegmentation`, `AdjustmentSemanticSegmentation`, `BoundingBox` and
`AdjustmentBoundingBox` are emulated without invoking any Lambda (`built_in_tasks`):
* CreateLabelingJob refuses PRE-/ACS- ARNs that do not name the same task type (ValidationException).
* Job start needs the label category file; for adjustment types each line's existing label is read, and a line
  without one, or with an `internal-color-map` lacking `hex-color`, fails that object (not the job) with a
  reason naming the line.
* The emulated PRE returns `{"taskObject": source-ref, "labels": [...], "manifestLine": <the line>}`.
  UNCONFIRMED: AWS documents `task.input.manifestLine` only for crowd-bounding-box audit templates (contracts
  4.2); the stand-in assumes every built-in PRE exposes it. A line without an s3:// source-ref fails.
* Workers load the page's presigned URLs (image, initial mask) from moto's S3 through `fetch`: only URLs the
  stand-in presigned for the job resolve. An initial mask that is no PNG of the image's size shows nothing, so
  the object is labeled with an all-background mask without any error, as in Ground Truth.
* The emulated ACS writes the consolidation request/response files as for custom jobs, the semantic
  segmentation masks as mode-P PNGs under `consolidated-annotation/output/<datasetObjectId>/<timestamp>.png`,
  and `<L>-metadata` as contracts 1.2.1/1.2.2/1.2.3 show (`job-name` = the lower-case name, no
  `labeling-job/` prefix; `adjustment-status` for adjustment types).
* StopLabelingJob on a finished job -> ValidationException (as SageMaker answers for other finished jobs).
* Every HTTP call counts for `throttle_next`: boto3's own retries (legacy mode: 4) consume throttles too.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from botocore.model import ListShape, Shape, StructureShape
from liquid import BoundTemplate
from liquid.exceptions import LiquidError
from moto.core.exceptions import JsonRESTError, ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import get_service_model
from moto.events.models import events_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.utilities.utils import get_partition

from groundcrew.workflows.adjustment.manifests import REF_REQUIRED
from groundcrew.workforces.ground_truth.task_pages import Presign, ground_truth_liquid_environment
from groundcrew_local import built_in_tasks, point_cloud_workers
from groundcrew_local.built_in_tasks import BuiltInTask, ObjectFailure
from groundcrew_local.point_cloud_workers import PointCloudJob
from groundcrew_local.workforce import SimulatedWorkforce, TaskContext, UnsupportedTaskPage, WorkerAnswer

if TYPE_CHECKING:
    from moto.s3.models import S3Backend

logger = logging.getLogger(__name__)

LAMBDA_PAYLOAD_VERSION = "2018-10-16"
STATE_CHANGE_SOURCE = "aws.sagemaker"
STATE_CHANGE_DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"
LOG_GROUP = "/aws/sagemaker/LabelingJobs"
ITERATION = "iteration-1"
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
MAX_DATA_OBJECTS = 100_000
MAX_LINE_CHARS = 100_000
MAX_LABEL_CHARS = 256
MAX_FAILURE_REASON = 1024
MAX_TASK_SECONDS = 28_800  # custom jobs and image/text built-ins
MAX_TASK_SECONDS_3D_VIDEO = 2_592_000
MAX_AVAILABILITY_PUBLIC = 43_200
MAX_AVAILABILITY_PRIVATE = 2_592_000
DEFAULT_AVAILABILITY_PUBLIC = 21_600
DEFAULT_MAX_CONCURRENT_TASKS = 1000
JOB_LIFETIME = timedelta(days=30)
DEFAULT_PAGE_SIZE = 10
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

InvokeLambda = Callable[[str, dict[str, Any]], Any]
MetadataStyle = Literal["observed", "documented"]


class LambdaInvocationError(Exception):
    """The invoked Lambda function raised: what Lambda reports as `{"errorType", "errorMessage"}`."""

    def __init__(self, error_type: str, error_message: str) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.errorType = error_type
        self.errorMessage = error_message

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LambdaInvocationError:
        return cls(str(payload.get("errorType", "Unhandled")), str(payload.get("errorMessage", "")))


class _JobFailure(Exception):
    """Ends the job with status Failed and this FailureReason."""


def _api_error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)  # HTTP 400, `{"__type": code, "message": ...}` like SageMaker


def _validation_error(message: str) -> JsonRESTError:
    return _api_error("ValidationException", message)


# ---------------------------------------------------------------------------------------------------------------
# Request validation against botocore's model, with AWS's wording


@cache
def _input_shape(operation: str) -> Shape:
    shape = get_service_model("sagemaker").operation_model(operation).input_shape
    if shape is None:
        raise LookupError(f"SageMaker {operation} has no input shape")
    return shape


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    translated = text.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w").replace(r"\p{Z}", r"\s")
    try:
        return re.compile(translated)
    except re.error:
        return None


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _violations(value: object, shape: Shape, path: str) -> list[str]:
    errors: list[str] = []

    def fail(constraint: str) -> None:
        errors.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: Member must {constraint}")

    meta = shape.metadata
    kind = shape.type_name
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        for required in shape.required_members:
            if value.get(required) is None:
                where = f"{path}.{_lower_camel(required)}" if path else _lower_camel(required)
                errors.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        for name, member in members.items():
            if value.get(name) is not None:
                where = f"{path}.{_lower_camel(name)}" if path else _lower_camel(name)
                errors.extend(_violations(value[name], member, where))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            fail(f"have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"have length less than or equal to {meta['max']}")
        for index, item in enumerate(value, start=1):
            errors.extend(_violations(item, shape.member, f"{path}.{index}.member"))
    elif kind == "string" and isinstance(value, str):
        if "min" in meta and len(value) < meta["min"]:
            fail(f"have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"have length less than or equal to {meta['max']}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            fail(f"satisfy regular expression pattern: {meta['pattern']}")
        enum = meta.get("enum") or getattr(shape, "enum", None)
        if enum and value not in enum:
            fail(f"satisfy enum value set: [{', '.join(enum)}]")
    elif kind in {"integer", "long"} and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            fail(f"have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"have value less than or equal to {meta['max']}")
    return errors


def constraint_violations(params: dict[str, Any], shape: Shape) -> list[str]:
    """Every constraint of a botocore input shape (any service) that `params` breaks, in AWS's wording."""
    return _violations(params, shape, "")


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint of the API model the request breaks."""
    errors = _violations(params, _input_shape(operation), "")
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise _validation_error(f"{len(errors)} validation error{plural} detected: " + "; ".join(errors))


def _built_in_task_type(lambda_arn: str | None) -> str | None:
    match = BUILT_IN_PRE.search(lambda_arn or "")
    return match.group(1) if match else None


def _check_ground_truth_rules(params: dict[str, Any]) -> None:
    """Rules of CreateLabelingJob beyond the model's constraints (contracts section 6.1)."""
    attribute: str = params["LabelAttributeName"]
    human: dict[str, Any] = params["HumanTaskConfig"]
    task_type = _built_in_task_type(human.get("PreHumanTaskLambdaArn"))
    if attribute in {"source", "source-ref"}:
        raise _validation_error(
            f"LabelAttributeName '{attribute}' is reserved for the input data: choose another label attribute name"
        )
    if attribute.endswith("-metadata"):
        raise _validation_error(
            f"LabelAttributeName '{attribute}' must not end with '-metadata' (Ground Truth adds <name>-metadata itself)"
        )
    if task_type in REF_TASK_TYPES and not attribute.endswith("-ref"):
        raise _validation_error(f"LabelAttributeName '{attribute}' must end with '-ref' for task type {task_type}")
    if task_type not in REF_TASK_TYPES and attribute.endswith("-ref"):
        kind = f"task type {task_type}" if task_type else "a custom labeling job (PreHumanTaskLambdaArn is not PRE-*)"
        raise _validation_error(f"LabelAttributeName '{attribute}' must not end with '-ref' for {kind}")
    ui = human["UiConfig"]
    if bool(ui.get("UiTemplateS3Uri")) == bool(ui.get("HumanTaskUiArn")):
        raise _validation_error(
            "HumanTaskConfig.UiConfig must contain exactly one of UiTemplateS3Uri or HumanTaskUiArn"
        )
    ui_arn = ui.get("HumanTaskUiArn") or ""
    three_d_or_video = "human-task-ui/PointCloud" in ui_arn or "human-task-ui/Video" in ui_arn
    task_limit = MAX_TASK_SECONDS_3D_VIDEO if three_d_or_video else MAX_TASK_SECONDS
    if human["TaskTimeLimitInSeconds"] > task_limit:
        raise _validation_error(
            f"HumanTaskConfig.TaskTimeLimitInSeconds {human['TaskTimeLimitInSeconds']} exceeds the maximum of "
            f"{task_limit} seconds for this task type"
        )
    public = bool(PUBLIC_WORKTEAM.search(human["WorkteamArn"]))
    availability = human.get("TaskAvailabilityLifetimeInSeconds")
    availability_limit = MAX_AVAILABILITY_PUBLIC if public else MAX_AVAILABILITY_PRIVATE
    if availability is not None and availability > availability_limit:
        raise _validation_error(
            f"HumanTaskConfig.TaskAvailabilityLifetimeInSeconds {availability} exceeds the maximum of "
            f"{availability_limit} seconds for {'the public' if public else 'a private or vendor'} workforce"
        )
    source = params["InputConfig"]["DataSource"]
    if not source.get("S3DataSource") and not source.get("SnsDataSource"):
        raise _validation_error("InputConfig.DataSource must contain S3DataSource or SnsDataSource")
    consolidation = human.get("AnnotationConsolidationConfig") or {}
    mismatch = built_in_tasks.lambda_mismatch(
        human.get("PreHumanTaskLambdaArn"), consolidation.get("AnnotationConsolidationLambdaArn")
    )
    if mismatch:
        raise _validation_error(mismatch)


# ---------------------------------------------------------------------------------------------------------------
# Job state


@dataclass
class DataObject:
    """One manifest line and what became of it: pending, labeled, failed or skipped (no human needed)."""

    index: int
    raw: str
    line: dict[str, Any]
    line_number: int = 0  # 1-based line of the input manifest
    outcome: str = "pending"
    reason: str | None = None
    label: Any = None
    creation_date: str | None = None
    metadata: dict[str, Any] | None = None  # `<L>-metadata` written by an emulated built-in ACS

    @property
    def dataset_object_id(self) -> str:
        return str(self.index)


@dataclass
class LabelingJob:
    name: str
    arn: str
    account_id: str
    region: str
    request: dict[str, Any]
    created: datetime
    modified: datetime
    reference_code: str
    status: str = "Initializing"
    failure_reason: str | None = None
    objects: list[DataObject] = field(default_factory=list)
    next_index: int = 0
    initialized: bool = False
    label_categories: list[str] | None = None
    template: BoundTemplate | None = None
    stop_drained: bool = False
    output_uri: str | None = None
    started_at: datetime | None = None
    log: list[str] = field(default_factory=list)
    built_in: BuiltInTask | None = None
    point_cloud: PointCloudJob | None = None
    presigned: dict[str, str] = field(default_factory=dict)  # URL -> s3:// URI, what workers' browsers can load
    files: list[str] = field(default_factory=list)
    stepping: bool = False
    _stamps: set[str] = field(default_factory=set)

    @property
    def label_attribute_name(self) -> str:
        return str(self.request["LabelAttributeName"])

    @property
    def human_task_config(self) -> dict[str, Any]:
        return dict(self.request["HumanTaskConfig"])

    @property
    def job_folder(self) -> str:
        return f"{self.request['OutputConfig']['S3OutputPath'].rstrip('/')}/{self.name}"

    @property
    def annotations_folder(self) -> str:
        return f"{self.job_folder}/annotations"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.objects if item.outcome == outcome)

    def label_counters(self) -> dict[str, int]:
        labeled, failed = self.count("labeled"), self.count("failed")
        return {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": failed,
            "Unlabeled": len(self.objects) - labeled - failed,
        }

    def human_label_limit(self) -> int | None:
        """How many objects humans may label before a stopping condition stops the job."""
        conditions = self.request.get("StoppingConditions") or {}
        limits = []
        if conditions.get("MaxHumanLabeledObjectCount") is not None:
            limits.append(int(conditions["MaxHumanLabeledObjectCount"]))
        if conditions.get("MaxPercentageOfInputDatasetLabeled") is not None:
            limits.append(len(self.objects) * int(conditions["MaxPercentageOfInputDatasetLabeled"]) // 100)
        return min(limits) if limits else None

    def unique_stamp(self, folder: str, moment: datetime) -> str:
        """`YYYY-MM-DD_HH:MM:SS`, one second later while a file of that name exists in the folder."""
        while True:
            stamp = moment.astimezone(UTC).strftime("%Y-%m-%d_%H:%M:%S")
            if f"{folder}/{stamp}" not in self._stamps:
                self._stamps.add(f"{folder}/{stamp}")
                return stamp
            moment += timedelta(seconds=1)


def _labeling_jobs(backend: Any) -> dict[str, LabelingJob]:
    """Jobs live on moto's SageMaker backend (keyed by lower-case name), so a `mock_aws` reset clears them."""
    jobs: dict[str, LabelingJob] | None = getattr(backend, "labeling_jobs", None)
    if jobs is None:
        jobs = {}
        backend.labeling_jobs = jobs
    return jobs


def _split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise _JobFailure(f"ClientError: {uri} is not an s3:// URI; the local stand-in reads and writes s3:// only")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _payload_data_object(line: dict[str, Any]) -> dict[str, Any]:
    """`dataObject` of a consolidation payload entry: the S3 URI of `source-ref`, or the `source` content."""
    return {"s3Uri": line["source-ref"]} if "source-ref" in line else {"content": line["source"]}


def _compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _default_clock() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------------------------
# The stand-in


class GroundTruthStandIn:
    """Runs labeling jobs against moto's S3/EventBridge/Logs, calling Lambdas through `invoke_lambda`."""

    def __init__(
        self,
        invoke_lambda: InvokeLambda,
        workforce: SimulatedWorkforce,
        *,
        chunk_size: int = 10,
        presign: Presign | None = None,
        clock: Callable[[], datetime] = _default_clock,
        strict_templates: bool = True,
        custom_metadata: MetadataStyle = "observed",
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.invoke_lambda = invoke_lambda
        self.workforce = workforce
        self.chunk_size = chunk_size
        self.clock = clock
        self.custom_metadata = custom_metadata
        self._presign = presign
        self._presigners: dict[str, Presign] = {}
        self._strict_templates = strict_templates
        self._throttles: list[str] = []
        self._lock = threading.RLock()

    # -- test controls ------------------------------------------------------------------------------------------

    def throttle_next(self, n: int, code: str = "ThrottlingException") -> None:
        """The next n CreateLabelingJob calls fail with `code` (HTTP 400) before any validation."""
        with self._lock:
            self._throttles.extend([code] * n)

    @property
    def jobs(self) -> dict[str, LabelingJob]:
        """Every labeling job in every moto account and Region, by name."""
        found: dict[str, LabelingJob] = {}
        for regions in list(sagemaker_backends.values()):
            for backend in list(regions.values()):
                for job in getattr(backend, "labeling_jobs", {}).values():
                    found[job.name] = job
        return found

    def job(self, name: str) -> LabelingJob:
        matches = [job for job in self.jobs.values() if job.name.lower() == name.lower()]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} labeling jobs named {name!r} across moto accounts and Regions")
        return matches[0]

    def run_until_done(self, job_name: str, max_steps: int = 10_000) -> LabelingJob:
        """Step the job until it reaches Completed, Failed or Stopped."""
        job = self.job(job_name)
        for _ in range(max_steps):
            if job.terminal:
                return job
            with self._lock:
                self.step(job)
        if not job.terminal:
            raise RuntimeError(f"labeling job {job_name} is still {job.status} after {max_steps} steps")
        return job

    # -- API ----------------------------------------------------------------------------------------------------

    def create_labeling_job(self, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._throttles:
                code = self._throttles.pop(0)
                raise _api_error(code, THROTTLE_MESSAGES.get(code, f"{code} (injected by throttle_next)"))
            validate_request("CreateLabelingJob", params)
            _check_ground_truth_rules(params)
            jobs = _labeling_jobs(backend)
            name: str = params["LabelingJobName"]
            if name.lower() in jobs:
                existing = jobs[name.lower()]
                raise _api_error(
                    "ResourceInUse",
                    f"Job name must be unique within an AWS account and region, and a job with this name already "
                    f"exists ({existing.arn})",
                )
            partition = get_partition(backend.region_name)
            arn = f"arn:{partition}:sagemaker:{backend.region_name}:{backend.account_id}:labeling-job/{name.lower()}"
            now = self.clock()
            job = LabelingJob(
                name=name,
                arn=arn,
                account_id=backend.account_id,
                region=backend.region_name,
                request=copy.deepcopy(params),
                created=now,
                modified=now,
                reference_code=hashlib.sha256(f"{arn}|{now.isoformat()}".encode()).hexdigest()[:20],
            )
            jobs[name.lower()] = job
            self._log(job, "LABELING_JOB_CREATED", f"status {job.status}")
            return {"LabelingJobArn": arn}

    def describe_labeling_job(self, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("DescribeLabelingJob", params)
        job = self._find(backend, params["LabelingJobName"])
        if not self._lock.acquire(blocking=False):
            # Another thread is running a step (moto server mode: maybe the very Lambda that step waits for):
            # report the job as it stands instead of waiting for that step.
            return self._description(job)
        try:
            if not job.terminal and not job.stepping:  # a Lambda describing its own job must not recurse
                self.step(job)
            return self._description(job)
        finally:
            self._lock.release()

    def list_labeling_jobs(self, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("ListLabelingJobs", params)
        with self._lock:
            jobs = list(_labeling_jobs(backend).values())
        selected = [job for job in jobs if _matches(job, params)]
        order = params.get("SortBy") or "CreationTime"
        keys: dict[str, Callable[[LabelingJob], Any]] = {
            "Name": lambda job: job.name,
            "CreationTime": lambda job: job.created,
            "Status": lambda job: job.status,
        }
        selected.sort(key=keys[order], reverse=(params.get("SortOrder") or "Ascending") == "Descending")
        offset = _decode_token(params.get("NextToken"))
        size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
        page = selected[offset : offset + size]
        result: dict[str, Any] = {"LabelingJobSummaryList": [self._summary(job) for job in page]}
        if offset + size < len(selected):
            result["NextToken"] = encode_page_token(offset + size)
        return result

    def stop_labeling_job(self, backend: Any, params: dict[str, Any]) -> None:
        validate_request("StopLabelingJob", params)
        with self._lock:
            job = self._find(backend, params["LabelingJobName"])
            if job.terminal:
                raise _validation_error(f"Labeling job {job.name} is {job.status} and can no longer be stopped")
            if job.status != "Stopping":
                self._set_status(job, "Stopping")
                job.stop_drained = False
                self._log(job, "LABELING_JOB_STOP_REQUESTED", "StopLabelingJob called")

    # -- responses ----------------------------------------------------------------------------------------------

    def _find(self, backend: Any, name: str) -> LabelingJob:
        job = _labeling_jobs(backend).get(name.lower())
        if job is None:
            raise _api_error("ResourceNotFound", f"Could not find requested job with name {name}")
        return job

    def _description(self, job: LabelingJob) -> dict[str, Any]:
        request = copy.deepcopy(job.request)
        description: dict[str, Any] = {
            "LabelingJobStatus": job.status,
            "LabelCounters": job.label_counters(),
            "CreationTime": job.created,
            "LastModifiedTime": job.modified,
            "JobReferenceCode": job.reference_code,
            "LabelingJobName": job.name,
            "LabelingJobArn": job.arn,
            "LabelAttributeName": request["LabelAttributeName"],
            "InputConfig": request["InputConfig"],
            "OutputConfig": request["OutputConfig"],
            "RoleArn": request["RoleArn"],
            "HumanTaskConfig": request["HumanTaskConfig"],
        }
        if job.failure_reason:
            description["FailureReason"] = job.failure_reason
        for optional in ("LabelCategoryConfigS3Uri", "StoppingConditions", "LabelingJobAlgorithmsConfig", "Tags"):
            if request.get(optional) is not None:
                description[optional] = request[optional]
        if job.output_uri:
            description["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
        return description

    def _summary(self, job: LabelingJob) -> dict[str, Any]:
        human = job.human_task_config
        summary: dict[str, Any] = {
            "LabelingJobName": job.name,
            "LabelingJobArn": job.arn,
            "CreationTime": job.created,
            "LastModifiedTime": job.modified,
            "LabelingJobStatus": job.status,
            "LabelCounters": job.label_counters(),
            "WorkteamArn": human["WorkteamArn"],
            "InputConfig": copy.deepcopy(job.request["InputConfig"]),
        }
        if human.get("PreHumanTaskLambdaArn"):
            summary["PreHumanTaskLambdaArn"] = human["PreHumanTaskLambdaArn"]
        consolidation = human.get("AnnotationConsolidationConfig") or {}
        if consolidation.get("AnnotationConsolidationLambdaArn"):
            summary["AnnotationConsolidationLambdaArn"] = consolidation["AnnotationConsolidationLambdaArn"]
        if job.failure_reason:
            summary["FailureReason"] = job.failure_reason
        if job.output_uri:
            summary["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
        return summary

    # -- running ------------------------------------------------------------------------------------------------

    def step(self, job: LabelingJob) -> None:
        """Advance the job by one step (see the module docstring)."""
        if job.terminal or job.stepping:
            return
        job.stepping = True
        try:
            if job.status == "Initializing":
                self._initialize(job)
            elif job.status == "InProgress":
                self._run_chunk(job)
            elif job.status == "Stopping":
                if job.stop_drained:
                    self._finish(job, "Stopped")
                else:
                    job.stop_drained = True
        except _JobFailure as failure:
            self._fail(job, str(failure))
        except Exception as error:  # a stand-in bug must not look like an HTTP 500 that boto3 retries
            logger.exception("labeling job %s: the local Ground Truth stand-in crashed", job.name)
            self._fail(job, f"InternalServerError: the local Ground Truth stand-in crashed: {error!r}")
        finally:
            job.stepping = False

    def _initialize(self, job: LabelingJob) -> None:
        human = job.human_task_config
        source = job.request["InputConfig"]["DataSource"]
        if not source.get("S3DataSource"):
            raise _JobFailure("ClientError: the local stand-in does not simulate streaming (SnsDataSource) jobs")
        task_type = _built_in_task_type(human.get("PreHumanTaskLambdaArn"))
        ui_arn = human["UiConfig"].get("HumanTaskUiArn")
        point_cloud = task_type in point_cloud_workers.EMULATED
        emulated = built_in_tasks.EMULATED | point_cloud_workers.EMULATED
        if (task_type and task_type not in emulated) or (ui_arn and not point_cloud):
            raise _JobFailure(
                f"ClientError: the local stand-in runs custom workflows and the emulated built-in types "
                f"{', '.join(sorted(emulated))} only; built-in task type "
                f"{task_type or ui_arn} uses AWS's own Lambdas and worker UI"
            )
        if point_cloud:
            assert task_type is not None
            expected_ui = "human-task-ui/" + task_type.removeprefix("Adjustment").replace("3DPointCloud", "PointCloud")
            if not ui_arn or not ui_arn.endswith(expected_ui):
                raise _JobFailure(
                    f"ClientError: task type {task_type} needs UiConfig.HumanTaskUiArn ending in {expected_ui} "
                    f"(contracts 4.2), got {ui_arn or 'a UiTemplateS3Uri'}"
                )
            if PUBLIC_WORKTEAM.search(human["WorkteamArn"]):
                raise _JobFailure("ClientError: 3D point cloud jobs cannot use the public (Mechanical Turk) workforce")
            if int(human["NumberOfHumanWorkersPerDataObject"]) != 1:
                raise _JobFailure(
                    "ClientError: 3D point cloud jobs take NumberOfHumanWorkersPerDataObject 1 (contracts 6.1), got "
                    f"{human['NumberOfHumanWorkersPerDataObject']}"
                )
        if not (human.get("AnnotationConsolidationConfig") or {}).get("AnnotationConsolidationLambdaArn"):
            raise _JobFailure("ClientError: a custom labeling job needs AnnotationConsolidationConfig")
        classifiers = (job.request["InputConfig"].get("DataAttributes") or {}).get("ContentClassifiers") or []
        public = bool(PUBLIC_WORKTEAM.search(human["WorkteamArn"]))
        if public and "FreeOfPersonallyIdentifiableInformation" not in classifiers:
            raise _JobFailure(
                "ClientError: jobs for the public workforce must declare ContentClassifiers "
                "FreeOfPersonallyIdentifiableInformation"
            )
        self._load_manifest(job, source["S3DataSource"]["ManifestS3Uri"])
        if job.request.get("LabelCategoryConfigS3Uri"):
            job.label_categories = self._load_label_categories(job, job.request["LabelCategoryConfigS3Uri"])
        if point_cloud:
            assert task_type is not None
            self._set_up_point_cloud(job, task_type)
            job.initialized = True
            job.started_at = self.workforce.now
            self._set_status(job, "InProgress")
            self._log(job, "LABELING_JOB_INITIALIZED", f"{len(job.objects)} data objects")
            return
        if task_type:
            self._set_up_built_in(job, task_type)
        template_uri = human["UiConfig"]["UiTemplateS3Uri"]
        template_text = self._read(job, template_uri, "worker task template").decode("utf-8", errors="replace")
        environment = ground_truth_liquid_environment(self._recording_presigner(job), strict=self._strict_templates)
        try:
            job.template = environment.from_string(template_text)
        except LiquidError as error:
            raise _JobFailure(
                f"ClientError: the worker task template {template_uri} is not valid Liquid: {error}"
            ) from None
        job.initialized = True
        job.started_at = self.workforce.now
        self._set_status(job, "InProgress")
        self._log(job, "LABELING_JOB_INITIALIZED", f"{len(job.objects)} data objects")

    def _set_up_built_in(self, job: LabelingJob, task_type: str) -> None:
        uri = job.request.get("LabelCategoryConfigS3Uri")
        if not uri or not job.label_categories:
            raise _JobFailure(f"ClientError: built-in task type {task_type} needs LabelCategoryConfigS3Uri")
        document = json.loads(self._read(job, uri, "label category configuration file"))
        audit = document.get("auditLabelAttributeName")
        job.built_in = BuiltInTask(
            task_type,
            tuple(job.label_categories),
            job.label_attribute_name,
            job.name.lower(),
            audit if isinstance(audit, str) and audit else None,
        )
        for item in job.objects:
            problem = job.built_in.setup_problem(item.line, item.line_number)
            if problem:
                self._fail_object(job, item, f"ClientError: {problem}")

    def _set_up_point_cloud(self, job: LabelingJob, task_type: str) -> None:
        uri = job.request.get("LabelCategoryConfigS3Uri")
        if not uri or not job.label_categories:
            raise _JobFailure(f"ClientError: built-in task type {task_type} needs LabelCategoryConfigS3Uri")
        document = json.loads(self._read(job, uri, "label category configuration file"))
        audit = document.get("auditLabelAttributeName")
        if task_type.startswith("Adjustment") and not (isinstance(audit, str) and audit):
            raise _JobFailure(
                f"ClientError: {task_type} jobs need auditLabelAttributeName in the label category file (contracts 3.2)"
            )
        job.point_cloud = PointCloudJob(
            task_type, tuple(job.label_categories), job.label_attribute_name, job.name.lower(), audit or None
        )
        for item in job.objects:
            problem = job.point_cloud.setup_problem(item.line, item.line_number)
            if problem:
                self._fail_object(job, item, f"ClientError: {problem}")

    def _load_manifest(self, job: LabelingJob, uri: str) -> None:
        body = self._read(job, uri, "input manifest").decode("utf-8-sig", errors="replace")
        objects: list[DataObject] = []
        for number, raw in enumerate(body.splitlines(), start=1):
            text = raw.strip()
            if not text:
                continue
            where = f"ClientError: input manifest {uri} line {number}"
            if len(text) > MAX_LINE_CHARS:
                raise _JobFailure(f"{where} is longer than {MAX_LINE_CHARS} characters")
            try:
                line = json.loads(text)
            except ValueError as error:
                raise _JobFailure(f"{where} is not valid JSON: {error}") from None
            if not isinstance(line, dict):
                raise _JobFailure(f"{where} must be a JSON object, found {type(line).__name__}")
            sources = [key for key in ("source-ref", "source") if key in line]
            if len(sources) != 1:
                raise _JobFailure(f"{where} must contain exactly one of 'source-ref' or 'source', found {sources}")
            if sources == ["source-ref"] and not isinstance(line["source-ref"], str):
                raise _JobFailure(f"{where}: 'source-ref' must be an S3 URI string")
            dollar = [key for key in line if key.startswith("$")]
            if dollar:
                raise _JobFailure(f"{where}: attribute names must not begin with '$': {dollar}")
            objects.append(DataObject(index=len(objects), raw=text, line=line, line_number=number))
            if len(objects) > MAX_DATA_OBJECTS:
                raise _JobFailure(f"ClientError: input manifest {uri} holds more than {MAX_DATA_OBJECTS} objects")
        if not objects:
            raise _JobFailure(f"ClientError: input manifest {uri} holds no data objects")
        job.objects = objects

    def _load_label_categories(self, job: LabelingJob, uri: str) -> list[str]:
        where = f"ClientError: label category configuration file {uri}"
        try:
            document = json.loads(self._read(job, uri, "label category configuration file"))
        except ValueError as error:
            raise _JobFailure(f"{where} is not valid JSON: {error}") from None
        entries = document.get("labels") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise _JobFailure(f"{where} needs a non-empty 'labels' list")
        labels: list[str] = []
        for position, entry in enumerate(entries):
            label = entry.get("label") if isinstance(entry, dict) else None
            if not isinstance(label, str) or not label:
                raise _JobFailure(f"{where}: labels[{position}] needs a 'label' string")
            if len(label) > MAX_LABEL_CHARS:
                raise _JobFailure(f"{where}: label {label[:40]!r}... is longer than {MAX_LABEL_CHARS} characters")
            if label in labels:
                raise _JobFailure(f"{where}: label {label!r} appears twice; labels must be unique")
            labels.append(label)
        return labels

    def _run_chunk(self, job: LabelingJob) -> None:
        human = job.human_task_config
        pending = [item for item in job.objects[job.next_index :] if item.outcome == "pending"]
        limit = job.human_label_limit()
        budget = None if limit is None else limit - job.count("labeled")
        if not pending:
            self._finish(job, "Completed")
            return
        if budget is not None and budget <= 0:
            self._auto_stop(job, limit)
            return
        size = min(self.chunk_size, int(human.get("MaxConcurrentTaskCount") or DEFAULT_MAX_CONCURRENT_TASKS))
        if budget is not None:
            size = min(size, budget)
        chunk = pending[:size]
        job.next_index = chunk[-1].index + 1
        posted = self.workforce.now
        answered: list[tuple[DataObject, list[WorkerAnswer]]] = []
        for item in chunk:
            task_input = self._pre_annotation(job, item)
            if task_input is None:
                continue
            answers = self._ask_workers(job, item, task_input, posted)
            if answers:
                self._write_worker_response(job, item, answers)
                answered.append((item, answers))
        finished = max([posted] + [answer.submission_time for _, answers in answered for answer in answers])
        self.workforce.advance_to(finished)
        if job.started_at is not None and finished - job.started_at > JOB_LIFETIME:
            raise _JobFailure("ClientError: the labeling job ran longer than 30 days")
        if answered:
            self._consolidate(job, answered, finished)
        job.modified = self.clock()
        if job.status != "InProgress":  # stopped by a call made while this chunk ran
            return
        if not any(item.outcome == "pending" for item in job.objects):
            self._finish(job, "Completed")
        elif limit is not None and job.count("labeled") >= limit:
            self._auto_stop(job, limit)

    def _auto_stop(self, job: LabelingJob, limit: int | None) -> None:
        self._log(job, "LABELING_JOB_STOPPING_CONDITION_MET", f"{job.count('labeled')} objects labeled (limit {limit})")
        self._set_status(job, "Stopping")
        job.stop_drained = True

    def _pre_annotation(self, job: LabelingJob, item: DataObject) -> dict[str, Any] | None:
        """`taskInput` of one object, or None when the object failed or needs no human."""
        arn = job.human_task_config.get("PreHumanTaskLambdaArn")
        if not arn or job.point_cloud is not None:
            return dict(item.line)
        if job.built_in is not None:
            try:
                return job.built_in.task_input(item.line)
            except ObjectFailure as failure:
                self._fail_object(job, item, str(failure))
                return None
        payload = {"version": LAMBDA_PAYLOAD_VERSION, "labelingJobArn": job.arn, "dataObject": item.line}
        try:
            response = self._invoke(job, arn, payload)
        except LambdaInvocationError as error:
            self._fail_object(job, item, f"pre-annotation Lambda failed: {error.errorType}: {error.errorMessage}")
            return None
        task_input = response.get("taskInput") if isinstance(response, dict) else None
        if not isinstance(task_input, dict):
            found = _compact_json(response)[:300]
            self._fail_object(job, item, f"pre-annotation Lambda response needs a 'taskInput' JSON object, got {found}")
            return None
        if response.get("isHumanAnnotationRequired") is False:
            item.outcome = "skipped"
            self._log(job, "HUMAN_ANNOTATION_NOT_REQUIRED", f"datasetObjectId {item.dataset_object_id}")
            return None
        return task_input

    def _ask_workers(
        self, job: LabelingJob, item: DataObject, task_input: dict[str, Any], posted: datetime
    ) -> list[WorkerAnswer]:
        human = job.human_task_config
        public = bool(PUBLIC_WORKTEAM.search(human["WorkteamArn"]))
        availability = human.get("TaskAvailabilityLifetimeInSeconds") or (
            DEFAULT_AVAILABILITY_PUBLIC if public else MAX_AVAILABILITY_PRIVATE
        )
        limits: dict[str, Any] = {
            "posted_at": posted,
            "time_limit_seconds": float(human["TaskTimeLimitInSeconds"]),
            "availability_seconds": float(availability),
        }
        workers = int(human["NumberOfHumanWorkersPerDataObject"])
        if job.point_cloud is not None:
            task = job.point_cloud
            s3 = self._s3(job)

            def produce(context: TaskContext) -> dict[str, Any]:
                return task.answer(item.line, dataclasses.replace(context, fetch=lambda uri: _read_s3(s3, uri)))

            answers = self.workforce.answer_with(produce, item.line, workers, **limits)
            if not answers:
                self._fail_object(job, item, "no worker submitted the task within TaskTimeLimitInSeconds")
            return answers
        if job.template is None:
            raise _JobFailure("InternalServerError: the worker task template was not loaded")
        try:
            page = job.template.render(task={"input": task_input})
        except LiquidError as error:
            raise _JobFailure(
                f"ClientError: rendering the worker task template for datasetObjectId {item.dataset_object_id} "
                f"failed: {error}"
            ) from None
        try:
            answers = self.workforce.answer(page, item.line, workers, fetch=lambda url: self._fetch(job, url), **limits)
        except UnsupportedTaskPage as error:
            raise _JobFailure(f"ClientError: the simulated workforce cannot work on this task page: {error}") from None
        if not answers:
            names = "TaskTimeLimitInSeconds / TaskAvailabilityLifetimeInSeconds"
            self._fail_object(job, item, f"no worker submitted the task within {names}")
        return answers

    def _write_worker_response(self, job: LabelingJob, item: DataObject, answers: list[WorkerAnswer]) -> None:
        folder = f"{job.annotations_folder}/worker-response/{ITERATION}/{item.dataset_object_id}"
        stamp = job.unique_stamp(folder, max(answer.submission_time for answer in answers))
        document = {"answers": [answer.worker_response_entry() for answer in answers]}
        self._write(job, f"{folder}/{stamp}.json", _compact_json(document).encode())

    def _consolidate(
        self, job: LabelingJob, answered: list[tuple[DataObject, list[WorkerAnswer]]], moment: datetime
    ) -> None:
        human = job.human_task_config
        attribute = job.label_attribute_name
        arn = human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"]
        payload = [
            {
                "datasetObjectId": item.dataset_object_id,
                "dataObject": _payload_data_object(item.line),
                "annotations": [
                    {"workerId": answer.worker_id, "annotationData": {"content": answer.content}} for answer in answers
                ],
            }
            for item, answers in answered
        ]
        base = f"{job.annotations_folder}/consolidated-annotation"
        request_folder = f"{base}/consolidation-request/{ITERATION}"
        request_uri = f"{request_folder}/{job.unique_stamp(request_folder, moment)}.json"
        self._write(job, request_uri, _compact_json(payload).encode())
        event: dict[str, Any] = {
            "version": LAMBDA_PAYLOAD_VERSION,
            "labelingJobArn": job.arn,
            "labelCategories": job.label_categories,
            "labelAttributeName": attribute,
            "roleArn": job.request["RoleArn"],
            "outputConfig": job.annotations_folder,
            "maxHumanWorkersPerDataObject": int(human["NumberOfHumanWorkersPerDataObject"]),
            "payload": {"s3Uri": request_uri},
        }
        if job.request["OutputConfig"].get("KmsKeyId"):
            event["kmsKeyId"] = job.request["OutputConfig"]["KmsKeyId"]
        items = {item.dataset_object_id: item for item, _ in answered}
        try:
            if job.point_cloud is not None:
                response = self._point_cloud_output(job, answered, moment)
            elif job.built_in is not None:
                response = self._built_in_consolidation(job, answered, moment)
            else:
                response = self._invoke(job, arn, event)
        except LambdaInvocationError as error:
            for item in items.values():
                self._fail_object(job, item, f"consolidation Lambda failed: {error.errorType}: {error.errorMessage}")
            return
        response_folder = f"{base}/consolidation-response/{ITERATION}"
        self._write(
            job, f"{response_folder}/{job.unique_stamp(response_folder, moment)}.json", _compact_json(response).encode()
        )
        if not isinstance(response, list):
            for item in items.values():
                self._fail_object(
                    job, item, f"consolidation Lambda must return a JSON array, got {type(response).__name__}"
                )
            return
        creation_date = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        for position, entry in enumerate(response):
            object_id = entry.get("datasetObjectId") if isinstance(entry, dict) else None
            if object_id is None or str(object_id) not in items:
                self._log(
                    job,
                    "ANNOTATION_CONSOLIDATION_RESPONSE_INVALID",
                    f"response entry {position} names no datasetObjectId of this request: {_compact_json(entry)[:300]}",
                    level=logging.WARNING,
                )
                continue
            item = items[str(object_id)]
            if item.outcome != "pending":
                self._log(job, "ANNOTATION_CONSOLIDATION_RESPONSE_INVALID", f"datasetObjectId {object_id} repeated")
                continue
            consolidated = entry.get("consolidatedAnnotation")
            content = consolidated.get("content") if isinstance(consolidated, dict) else None
            if not isinstance(content, dict) or attribute not in content:
                found = sorted(content) if isinstance(content, dict) else type(content).__name__
                self._fail_object(
                    job,
                    item,
                    f"consolidatedAnnotation.content must hold the labelAttributeName {attribute!r}; found {found}",
                )
                continue
            item.outcome, item.label, item.creation_date = "labeled", content[attribute], creation_date
            if job.built_in is not None or job.point_cloud is not None:
                item.metadata = content.get(f"{attribute}-metadata")
        for item in items.values():
            if item.outcome == "pending":
                self._fail_object(job, item, "missing from the consolidation Lambda's response")

    def _built_in_consolidation(
        self, job: LabelingJob, answered: list[tuple[DataObject, list[WorkerAnswer]]], moment: datetime
    ) -> list[dict[str, Any]]:
        """What the emulated ACS-<type> returns; objects it cannot consolidate fail here with the reason."""
        assert job.built_in is not None
        creation_date = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")

        def store_mask(object_id: str, png: bytes) -> str:
            folder = f"{job.annotations_folder}/consolidated-annotation/output/{object_id}"
            uri = f"{folder}/{job.unique_stamp(folder, moment)}.png"
            self._write(job, uri, png)
            return uri

        response = []
        for item, answers in answered:
            contents = [answer.content for answer in answers]
            try:
                content = job.built_in.consolidate(
                    item.dataset_object_id, item.line, contents, creation_date, store_mask
                )
            except ObjectFailure as failure:
                self._fail_object(job, item, str(failure))
                continue
            response.append({"datasetObjectId": item.dataset_object_id, "consolidatedAnnotation": {"content": content}})
        return response

    def _point_cloud_output(
        self, job: LabelingJob, answered: list[tuple[DataObject, list[WorkerAnswer]]], moment: datetime
    ) -> list[dict[str, Any]]:
        """What AWS's 3D task type leaves for each object; label files go under consolidated-annotation/output/."""
        assert job.point_cloud is not None
        creation_date = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        s3 = self._s3(job)

        def store(object_id: str, name: str, body: bytes) -> str:
            uri = f"{job.annotations_folder}/consolidated-annotation/output/{object_id}/{name}"
            self._write(job, uri, body)
            return uri

        response = []
        for item, answers in answered:
            content = answers[0].answer_content  # one worker per object (contracts 6.1)
            try:
                if not isinstance(content, dict):
                    raise point_cloud_workers.ObjectFailure("ClientError: the worker's answer is not a JSON object")
                labels = job.point_cloud.consolidate(
                    item.dataset_object_id, item.line, content, creation_date, store, lambda uri: _read_s3(s3, uri)
                )
            except point_cloud_workers.ObjectFailure as failure:
                self._fail_object(job, item, str(failure))
                continue
            response.append({"datasetObjectId": item.dataset_object_id, "consolidatedAnnotation": {"content": labels}})
        return response

    def _metadata(self, job: LabelingJob, item: DataObject) -> dict[str, Any]:
        if item.metadata is not None:
            return item.metadata
        if self.custom_metadata == "documented":
            return {
                "job_name": job.name,
                "type": "groundTruth/custom",
                "human-annotated": "yes",
                "creation_date": item.creation_date,
            }
        return {
            "type": "groundtruth/custom",
            "job-name": job.name.lower(),
            "human-annotated": "yes",
            "creation-date": item.creation_date,
        }

    def _finish(self, job: LabelingJob, status: str) -> None:
        if job.initialized:
            attribute = job.label_attribute_name
            lines = []
            for item in job.objects:
                if item.outcome == "labeled":
                    line = dict(item.line)
                    line[attribute] = item.label
                    line[f"{attribute}-metadata"] = self._metadata(job, item)
                    lines.append(_compact_json(line))
                else:
                    lines.append(item.raw)
            uri = f"{job.job_folder}/manifests/output/output.manifest"
            self._write(job, uri, ("\n".join(lines) + "\n").encode())
            job.output_uri = uri
        counters = job.label_counters()
        self._log(job, f"LABELING_JOB_{status.upper()}", _compact_json(counters))
        self._set_status(job, status)

    def _fail(self, job: LabelingJob, reason: str) -> None:
        job.failure_reason = reason[:MAX_FAILURE_REASON]
        self._log(job, "LABELING_JOB_FAILED", job.failure_reason, level=logging.ERROR)
        self._set_status(job, "Failed")

    def _fail_object(self, job: LabelingJob, item: DataObject, reason: str) -> None:
        item.outcome, item.reason = "failed", reason
        self._log(job, "DATA_OBJECT_FAILED", f"datasetObjectId {item.dataset_object_id}: {reason}", logging.WARNING)

    def _set_status(self, job: LabelingJob, status: str) -> None:
        job.status = status
        job.modified = self.clock()
        if status in TERMINAL_STATUSES:
            self._emit_state_change(job)

    # -- AWS plumbing -------------------------------------------------------------------------------------------

    def _invoke(self, job: LabelingJob, arn: str, payload: dict[str, Any]) -> Any:
        """Lambda sees JSON and returns JSON; anything but a function error is a job-level failure."""
        try:
            response = self.invoke_lambda(arn, json.loads(json.dumps(payload)))
        except LambdaInvocationError:
            raise
        except Exception as error:
            raise _JobFailure(f"ClientError: could not invoke Lambda function {arn}: {error}") from None
        try:
            return json.loads(json.dumps(response))
        except (TypeError, ValueError):
            raise LambdaInvocationError("Runtime.MarshalError", f"response of {arn} is not JSON") from None

    def _s3(self, job: LabelingJob) -> S3Backend:
        return s3_backends[job.account_id][get_partition(job.region)]

    def _read(self, job: LabelingJob, uri: str, what: str) -> bytes:
        bucket, key = _split_s3_uri(uri)
        try:
            found = self._s3(job).get_object(bucket, key)
        except ServiceException as error:
            raise _JobFailure(f"ClientError: cannot read the {what} {uri}: {error.code}") from None
        if found is None:
            raise _JobFailure(f"ClientError: cannot read the {what} {uri}: NoSuchKey")
        return bytes(found.value)

    def _write(self, job: LabelingJob, uri: str, body: bytes) -> None:
        bucket, key = _split_s3_uri(uri)
        try:
            self._s3(job).put_object(bucket, key, body)
        except ServiceException as error:
            raise _JobFailure(f"ClientError: cannot write {uri}: {error.code}") from None
        job.files.append(uri)

    def _recording_presigner(self, job: LabelingJob) -> Presign:
        """`grant_read_access` for the job's pages; remembers each URL so that workers can load it (`_fetch`)."""
        presign = self._presigner(job.region)

        def record(uri: str) -> str:
            url = presign(uri)
            job.presigned[url] = uri
            return url

        return record

    def _fetch(self, job: LabelingJob, url: str) -> bytes | None:
        """What a worker's browser gets for a URL on the task page: the S3 object, or None (does not load)."""
        uri = job.presigned.get(url)
        if uri is None:
            return None
        try:
            bucket, key = _split_s3_uri(uri)
            found = self._s3(job).get_object(bucket, key)
        except (ServiceException, _JobFailure):
            return None
        return None if found is None else bytes(found.value)

    def _presigner(self, region: str) -> Presign:
        if self._presign is not None:
            return self._presign
        if region not in self._presigners:
            self._presigners[region] = _boto3_presigner(region)
        return self._presigners[region]

    def _emit_state_change(self, job: LabelingJob) -> None:
        entry = {
            "Source": STATE_CHANGE_SOURCE,
            "DetailType": STATE_CHANGE_DETAIL_TYPE,
            "Resources": [job.arn],
            "Detail": json.dumps({"LabelingJobStatus": job.status}),
        }
        results = events_backends[job.account_id][job.region].put_events([entry])
        failed = [result for result in results if result.get("ErrorCode")]
        if failed:
            logger.error("labeling job %s: state change event refused by EventBridge: %s", job.name, failed)

    def _log(self, job: LabelingJob, event_name: str, message: str, level: int = logging.INFO) -> None:
        """Job log lines as Ground Truth writes them to `/aws/sagemaker/LabelingJobs`, stream = job name."""
        text = _compact_json({"labeling-job-name": job.name, "event-name": event_name, "event-log-message": message})
        job.log.append(text)
        logger.log(level, "%s", text)
        logs = logs_backends[job.account_id][job.region]
        try:
            if LOG_GROUP not in logs.groups:
                logs.create_log_group(LOG_GROUP, {})
            logs.ensure_log_stream(LOG_GROUP, job.name)
            logs.put_log_events(LOG_GROUP, job.name, [{"timestamp": int(time.time() * 1000), "message": text}])
        except ServiceException as error:  # logging must never break a job
            logger.warning("could not write the job log to CloudWatch Logs: %s", error)


def _boto3_presigner(region: str) -> Presign:
    """Presigned GET URLs like `grant_read_access`; an unsigned URL when there are no credentials."""
    import boto3
    from botocore.exceptions import NoCredentialsError

    client = boto3.client("s3", region_name=region)

    def presign(uri: str) -> str:
        bucket, key = _split_s3_uri(uri)
        try:
            url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
            return str(url)
        except NoCredentialsError:
            return f"https://{bucket}.s3.amazonaws.com/{key}"

    return presign


def _read_s3(backend: S3Backend, uri: str) -> bytes | None:
    """An object of moto's S3 as the worker's browser would load it (None when it does not exist)."""
    bucket, key = _split_s3_uri(uri)
    try:
        found = backend.get_object(bucket, key)
    except ServiceException:
        return None
    return bytes(found.value) if found is not None else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matches(job: LabelingJob, params: dict[str, Any]) -> bool:
    checks: Iterable[tuple[str, datetime, bool]] = (
        ("CreationTimeAfter", job.created, True),
        ("CreationTimeBefore", job.created, False),
        ("LastModifiedTimeAfter", job.modified, True),
        ("LastModifiedTimeBefore", job.modified, False),
    )
    for key, moment, after in checks:
        bound = params.get(key)
        if bound is not None:
            bound = _aware(bound)
            if (after and not _aware(moment) > bound) or (not after and not _aware(moment) < bound):
                return False
    name_contains = params.get("NameContains")
    if name_contains and name_contains.lower() not in job.name.lower():
        return False
    status = params.get("StatusEquals")
    return not (status and job.status != status)


def encode_page_token(offset: int) -> str:
    """A NextToken of the stand-ins' list operations: the offset of the next page."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int | None:
    """The offset a NextToken names (0 without one); None for a token no list operation returned."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None


def _decode_token(token: str | None) -> int:
    offset = page_offset(token)
    if offset is None:
        raise _validation_error("Invalid pagination token: NextToken was not returned by ListLabelingJobs")
    return offset


# ---------------------------------------------------------------------------------------------------------------
# Installation into moto

_ACTIVE: GroundTruthStandIn | None = None
_OPERATIONS = ("create_labeling_job", "describe_labeling_job", "list_labeling_jobs", "stop_labeling_job")


def _handler(operation: str) -> Callable[[SageMakerResponse], ActionResult]:
    def handle(self: SageMakerResponse) -> ActionResult:
        stand_in = _ACTIVE
        if stand_in is None:
            raise NotImplementedError(f"SageMaker {operation}: install_ground_truth() has not been called")
        result = getattr(stand_in, operation)(self.sagemaker_backend, dict(self.params or {}))
        return EmptyResult() if result is None else ActionResult(result)

    handle.__name__ = operation
    return handle


def install_ground_truth(
    invoke_lambda: InvokeLambda,
    workforce: SimulatedWorkforce,
    *,
    chunk_size: int = 10,
    presign: Presign | None = None,
    clock: Callable[[], datetime] = _default_clock,
    strict_templates: bool = True,
    custom_metadata: MetadataStyle = "observed",
) -> GroundTruthStandIn:
    """Serve the labeling job API from moto. Idempotent: the same arguments return the installed stand-in."""
    global _ACTIVE
    current = _ACTIVE
    if (
        current is None
        or current.invoke_lambda is not invoke_lambda
        or current.workforce is not workforce
        or current.chunk_size != chunk_size
        or current._presign is not presign
        or current.clock is not clock
        or current._strict_templates != strict_templates
        or current.custom_metadata != custom_metadata
    ):
        current = GroundTruthStandIn(
            invoke_lambda,
            workforce,
            chunk_size=chunk_size,
            presign=presign,
            clock=clock,
            strict_templates=strict_templates,
            custom_metadata=custom_metadata,
        )
        _ACTIVE = current
    for operation in _OPERATIONS:
        setattr(SageMakerResponse, operation, _handler(operation))
    return current


def uninstall_ground_truth() -> None:
    """Back to moto's own behaviour (NotImplementedError for labeling jobs)."""
    global _ACTIVE
    _ACTIVE = None
    for operation in _OPERATIONS:
        if operation in SageMakerResponse.__dict__:
            delattr(SageMakerResponse, operation)
