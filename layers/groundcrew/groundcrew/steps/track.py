"""Track step: one poll of the round's labeling job; progress on the bus; the deadline enforced."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from groundcrew.core.events import EventPublisher, LabelCounters, LabelingJobProgress
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.workforces.ground_truth import jobs as labeling_jobs

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


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
