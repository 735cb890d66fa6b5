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

Where things are: `stand_in` (the API operations and the step rule), `request_rules` (what the API refuses),
`descriptions` (DescribeLabelingJob and ListLabelingJobs answers), `jobs` (the job and its data objects),
`job_start` (step 1), `human_tasks` (step 2: pre-annotation, task pages, the simulated workforce, worker
responses), `annotation_consolidation` (step 2: the consolidation request, Lambda or emulated ACS, response),
`lifecycle` (statuses, output manifest via `output_manifest`, the state change event), `job_files` (S3 and
presigned URLs), `job_log` (CloudWatch Logs), `lambda_calls` (JSON in and out of our Lambdas).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.responses import SageMakerResponse

from groundcrew.workforces.ground_truth.task_pages import Presign
from groundcrew_local.ground_truth.lambda_calls import InvokeLambda
from groundcrew_local.ground_truth.output_manifest import MetadataStyle
from groundcrew_local.ground_truth.stand_in import GroundTruthStandIn, default_clock
from groundcrew_local.workforce import SimulatedWorkforce

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
    clock: Callable[[], datetime] = default_clock,
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
