"""Finalize step: the batch's output manifest, worker scores, exports and cost, by the batch's workflow."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core.events import EventPublisher
from groundcrew.core.records import ExecutionState
from groundcrew.projects import load_project
from groundcrew.workflows.plugin import BatchSteps
from groundcrew.workflows.registry import for_workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def finalize_batch(
    s3: S3Client,
    workers: WorkerQualityStore,
    publisher: EventPublisher,
    execution: ExecutionState,
    now: datetime | None = None,
) -> dict[str, Any]:
    batch = execution.batch
    project = load_project(s3, batch.bucket, batch.project)
    steps = BatchSteps(s3, workers, publisher, project, execution, now)
    return for_workflow(project.workflow).finalize_batch(steps)
