"""Decide step: merge a round's answers and plan the next round, by the batch's workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core.events import EventPublisher
from groundcrew.core.records import ExecutionState
from groundcrew.projects import load_project
from groundcrew.workflows.plugin import BatchSteps
from groundcrew.workflows.registry import for_workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def decide_round(
    s3: S3Client,
    workers: WorkerQualityStore,
    publisher: EventPublisher,
    execution: ExecutionState,
    *,
    round_failed: bool = False,
) -> dict[str, Any]:
    """After a round, or after its failure (its items keep their earlier answers and no further round runs)."""
    batch = execution.batch
    project = load_project(s3, batch.bucket, batch.project)
    steps = BatchSteps(s3, workers, publisher, project, execution)
    return for_workflow(project.workflow).decide_round(steps, round_failed=round_failed)
