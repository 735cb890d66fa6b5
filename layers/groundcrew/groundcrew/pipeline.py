"""The steps of the labeling state machine (statemachine/labeling_pipeline.asl.json), one function each.

Each step receives the execution state as plain data and returns what the ASL stores under its ResultPath.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict

from groundcrew import image_classification, job_output, labeling_jobs, manifests, preflight
from groundcrew.events import (
    MAX_LISTED,
    EventPublisher,
    JobStatistics,
    LabelCounters,
    LabelingJobCompleted,
    LabelingJobFailed,
    LabelingJobProgress,
    LabelingJobStarted,
    PreflightFinding,
)
from groundcrew.projects import load_project
from groundcrew.s3_locations import S3Location
from groundcrew.task_config import TaskConfig, job_folder, write_task_config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient


class BatchRef(BaseModel):
    """The execution input written by intake when it seals a batch."""

    model_config = ConfigDict(extra="ignore")
    batch_id: str
    project: str
    bucket: str
    manifest_uri: str
    item_count: int


class PreparedJob(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    request: dict[str, Any]
    label_attribute_name: str
    deadline: int  # epoch seconds
    poll_seconds: int


def object_size_reader(s3: S3Client) -> Any:
    def size(location: S3Location) -> int | None:
        try:
            return s3.head_object(Bucket=location.bucket, Key=location.key)["ContentLength"]
        except s3.exceptions.ClientError:
            return None

    return size


def run_preflight(s3: S3Client, batch: BatchRef) -> dict[str, Any]:
    report = preflight.run_preflight(
        manifests.read_manifest(s3, S3Location.parse(batch.manifest_uri)), object_size_reader(s3)
    )
    findings = [
        {"line": f.line, "rule": f.rule, "message": f.message, "severity": f.severity.value} for f in report.findings
    ]
    return {"passed": report.passed, "lines": report.lines, "errors": report.errors, "findings": findings[:MAX_LISTED]}


def prepare_job(
    s3: S3Client, batch: BatchRef, resources: labeling_jobs.JobResources, poll_seconds: int, now: float | None = None
) -> dict[str, Any]:
    """Upload the worker template, label categories and task config; build the CreateLabelingJob request."""
    project = load_project(s3, batch.bucket, batch.project)
    name = labeling_jobs.job_name(batch.batch_id)
    config_folder = job_folder(batch.bucket, name).child("config")
    template = config_folder.child("ui-template.liquid.html")
    categories = config_folder.child("label-categories.json")
    _put(s3, template, image_classification.ui_template().encode(), "text/html")
    _put(s3, categories, orjson.dumps(labeling_jobs.label_categories_document(project)), "application/json")
    write_task_config(s3, batch.bucket, name, TaskConfig.for_project(project, batch.batch_id))
    request = labeling_jobs.create_request(
        project,
        name=name,
        manifest_uri=batch.manifest_uri,
        template=template,
        label_categories=categories,
        resources=resources,
        batch_id=batch.batch_id,
    )
    started = now if now is not None else time.time()
    return PreparedJob(
        name=name,
        request=request,
        label_attribute_name=project.attribute_name,
        deadline=int(started + project.time_limits.job_deadline_hours * 3600),
        poll_seconds=poll_seconds,
    ).model_dump()


def _put(s3: S3Client, location: S3Location, body: bytes, content_type: str) -> None:
    s3.put_object(
        Bucket=location.bucket, Key=location.key, Body=body, ContentType=content_type, ServerSideEncryption="AES256"
    )


def launch_job(
    sagemaker: SageMakerClient, publisher: EventPublisher, batch: BatchRef, job: PreparedJob
) -> dict[str, Any]:
    arn = labeling_jobs.launch(sagemaker, job.request)
    publisher.publish(
        LabelingJobStarted(
            project=batch.project,
            batch_id=batch.batch_id,
            labeling_job_name=job.name,
            labeling_job_arn=arn,
            item_count=batch.item_count,
            workers_per_object=job.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"],
        ),
        resources=[arn],
    )
    return {"arn": arn}


def track_job(
    sagemaker: SageMakerClient,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    previous: dict[str, Any] | None,
    now: float | None = None,
) -> dict[str, Any]:
    """One poll: describe the job, tell downstream when its counters moved, enforce the deadline."""
    state = labeling_jobs.describe(sagemaker, job.name)
    before = LabelCounters.model_validate(previous["counters"]) if previous else None
    if (before is None or state.counters != before or previous.get("status") != state.status) and not state.terminal:  # type: ignore[union-attr]
        publisher.publish(
            LabelingJobProgress(
                project=batch.project,
                batch_id=batch.batch_id,
                labeling_job_name=job.name,
                status=state.status,
                label_counters=state.counters,
            )
        )
    if not state.terminal and (now if now is not None else time.time()) > job.deadline:
        labeling_jobs.stop(sagemaker, job.name)
        raise labeling_jobs.LabelingJobDeadlineExceeded(
            f"labeling job {job.name} was still {state.status} at its deadline; it has been stopped"
        )
    return {
        "status": state.status,
        "counters": state.counters.model_dump(),
        "failure_reason": state.failure_reason,
        "output_manifest_uri": state.output_manifest_uri,
    }


def collect_output(s3: S3Client, batch: BatchRef, job: PreparedJob, output_manifest_uri: str) -> dict[str, Any]:
    location = S3Location.parse(output_manifest_uri)
    totals = job_output.summarize_output(manifests.read_manifest(s3, location), job.label_attribute_name)
    seconds = job_output.worker_seconds_per_item(s3, batch.bucket, job.name)
    stats = job_output.statistics(totals, seconds)
    if stats.labeled == 0:
        raise job_output.NothingLabeled(
            f"labeling job {job.name} completed with nothing labeled: {stats.items} items, "
            f"{stats.unresolved} unresolved, {stats.failed} failed; see {output_manifest_uri}"
        )
    return {"output_manifest_uri": output_manifest_uri, "statistics": stats.model_dump()}


def completed_event(state: dict[str, Any]) -> LabelingJobCompleted:
    batch = BatchRef.model_validate(state["batch"])
    collected = state["collected"]
    return LabelingJobCompleted(
        project=batch.project,
        batch_id=batch.batch_id,
        labeling_job_name=state["job"]["name"],
        output_manifest_uri=collected["output_manifest_uri"],
        statistics=JobStatistics.model_validate(collected["statistics"]),
    )


def failed_event(state: dict[str, Any]) -> LabelingJobFailed:
    """Turn whatever the state machine caught into a specific failure event."""
    batch = BatchRef.model_validate(state["batch"])
    error = state.get("error") or {}
    error_type = str(error.get("Error") or "Unknown")
    reason = _cause_message(error.get("Cause"))
    findings = []
    report = state.get("preflight")
    if isinstance(report, dict) and not report.get("passed", True):
        findings = [
            PreflightFinding(line=f["line"], rule=f["rule"], message=f["message"])
            for f in report.get("findings", [])
            if f.get("severity") == "error"
        ]
        reason = f"preflight found {report.get('errors')} error(s) in {batch.manifest_uri}; first: " + (
            f"line {findings[0].line}: {findings[0].message}" if findings else "see findings"
        )
    job = state.get("job")
    return LabelingJobFailed(
        project=batch.project,
        batch_id=batch.batch_id,
        stage=str(state.get("failed_stage") or "Unknown"),
        labeling_job_name=job.get("name") if isinstance(job, dict) else None,
        error=error_type,
        reason=reason or error_type,
        findings=findings[:MAX_LISTED],
    )


def _cause_message(cause: Any) -> str:
    """Lambda errors arrive as a JSON Cause with errorMessage; service errors as plain text."""
    if not isinstance(cause, str):
        return "" if cause is None else str(cause)
    try:
        parsed = orjson.loads(cause)
    except orjson.JSONDecodeError:
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause
