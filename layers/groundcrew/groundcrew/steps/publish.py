"""Publish step: the batch's outcome as a Labeling Job Completed or Labeling Job Failed event."""

from __future__ import annotations

from groundcrew.core.errors import cause_message
from groundcrew.core.events import (
    MAX_LISTED,
    AdjustmentReport,
    ConsensusReport,
    Cost,
    ExportedFiles,
    JobStatistics,
    LabelingJobCompleted,
    LabelingJobFailed,
    PointCloudReport,
    PreflightFinding,
    SecondsPerImage,
    WorkerQuality,
)
from groundcrew.core.records import CaughtError, ExecutionState


def completed_event(state: ExecutionState) -> LabelingJobCompleted:
    batch = state.batch
    if state.final is None:
        raise ValueError(f"batch {batch.batch_id} has no Finalize result to publish")
    final = state.final
    return LabelingJobCompleted(
        project=batch.project,
        batch_id=batch.batch_id,
        labeling_job_name=final["labeling_job_names"][-1],
        labeling_job_names=final["labeling_job_names"],
        output_manifest_uri=final["output_manifest_uri"],
        statistics=JobStatistics.model_validate(final["statistics"]),
        consensus=ConsensusReport.model_validate(final["consensus"]),
        cost=Cost.model_validate(final["cost"]),
        workers=[WorkerQuality.model_validate(w) for w in final["workers"]],
        flagged_workers=final["flagged_workers"],
        worker_report_uri=final.get("worker_report_uri"),
        export=ExportedFiles.model_validate(final["export"]) if final.get("export") else None,
        seconds_per_image=(
            SecondsPerImage.model_validate(final["seconds_per_image"]) if final.get("seconds_per_image") else None
        ),
        report_uri=final.get("report_uri"),
        coco_uri=final.get("coco_uri"),
        adjustment=AdjustmentReport.model_validate(final["adjustment"]) if final.get("adjustment") else None,
        pointcloud=PointCloudReport.model_validate(final["pointcloud"]) if final.get("pointcloud") else None,
    )


def failed_event(state: ExecutionState) -> LabelingJobFailed:
    """Turn whatever the state machine caught into a specific failure event."""
    batch = state.batch
    error = state.error or CaughtError()
    error_type = str(error.Error or "Unknown")
    reason = cause_message(error.Cause)
    findings = []
    report = state.preflight
    if report is not None and not report.get("passed", True):
        findings = [
            PreflightFinding(line=f["line"], rule=f["rule"], message=f["message"])
            for f in report.get("findings", [])
            if f.get("severity") == "error"
        ]
        reason = f"preflight found {report.get('errors')} error(s) in {batch.manifest_uri}; first: " + (
            f"line {findings[0].line}: {findings[0].message}" if findings else "see findings"
        )
    return LabelingJobFailed(
        project=batch.project,
        batch_id=batch.batch_id,
        stage=state.failed_stage or "Unknown",
        labeling_job_name=state.job.get("name") if state.job is not None else None,
        error=error_type,
        reason=reason or error_type,
        findings=findings[:MAX_LISTED],
    )
