"""What every workflow package provides: the hooks the generic steps call instead of branching on the workflow.

A workflow is one package under `groundcrew.workflows` with a `plugin` module whose `PLUGINS` maps each of its
workflows to an object satisfying `WorkflowPlugin`, and an entry per workflow in `registry.PLUGIN_MODULES`.
Custom workflows (classification, keypoints) run their tasks on our pre-annotation and consolidation Lambdas;
built-in ones (adjustments, point clouds) on Ground Truth's own, so their task-path hooks refuse with
`BuiltInTasks`. Hooks import heavy modules (numpy, Pillow, point cloud readers) inside their bodies: light Lambdas
load only what they call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from groundcrew.core.errors import DataObjectError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.consensus.ledger_steps import BatchSteps
    from groundcrew.consensus.rounds import RoundPlan
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.core.preflight import Finding, PreflightReport
    from groundcrew.core.records import BatchRef
    from groundcrew.core.s3_locations import S3Location
    from groundcrew.projects import Project
    from groundcrew.workflows.keypoints.poses import Rig
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem
    from groundcrew.workforces.ground_truth.jobs import JobResources
    from groundcrew.workforces.ground_truth.task_config import TaskConfig


class BuiltInTasks(DataObjectError):
    """A task-path hook called for a workflow whose tasks run on Ground Truth's built-in Lambdas."""


@dataclass(frozen=True, slots=True)
class WorkerTask:
    """What workers of a round are shown: our page, or Ground Truth's own worker UI, and the label categories."""

    page: str | None  # a Liquid page of ours; None: the job names Ground Truth's worker UI (`worker_ui_arn`)
    label_categories: dict[str, Any]  # the job's LabelCategoryConfigS3Uri document
    rig: Rig | None = None  # keypoints: handed to the task Lambdas through the task config


class WorkflowPlugin(Protocol):
    # -- The task path: per task a worker opens, and per batch of answers (keep these hooks light) ------------------

    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        """The `taskInput` a worker's page renders for one manifest line (raises DataObjectError when it cannot)."""
        ...

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[dict[str, Any], Any]:
        """One submission as (the answer kept in the ledger, the parsed form `label_items` needs); AnswerError
        says why a submission cannot be counted."""
        ...

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        """One consolidated value per object (Ground Truth's response entries) and how many got a label; each
        object left without one is added to `failures` with the reason."""
        ...

    # -- Preflight and Prepare ------------------------------------------------------------------------------------

    def check_manifest(self, s3: S3Client, manifest: S3Location) -> PreflightReport:
        """The line rules of the batch's manifest, and that every object it names exists."""
        ...

    def check_content(self, s3: S3Client, project: Project, manifest: S3Location) -> list[Finding]:
        """Rules on what the lines point at (masks, boxes, image sizes), once the line rules hold."""
        ...

    def first_round(self, s3: S3Client, batch: BatchRef, project: Project) -> RoundPlan | None:
        """Round 1 when it is not simply the whole batch (an adjustment trial), else None."""
        ...

    def worker_task(self, s3: S3Client, bucket: str, project: Project, resources: JobResources) -> WorkerTask:
        """The page and label categories of the project's jobs (`bucket`: the data bucket, holding rig documents)."""
        ...

    def built_in_lambdas(self, project: Project, region: str, partition: str) -> tuple[str, str] | None:
        """Ground Truth's (PRE-, ACS-) Lambda ARNs when its built-in task type runs the tasks; None: ours."""
        ...

    def worker_ui_arn(self, project: Project, region: str, partition: str) -> str | None:
        """Ground Truth's worker UI (HumanTaskUiArn) when the workflow uses one instead of our page."""
        ...

    # -- Decide and Finalize --------------------------------------------------------------------------------------

    def decide_round(self, steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
        """After a round (or its failure): merge what came back and plan the next round, if any item needs one."""
        ...

    def finalize_batch(self, steps: BatchSteps) -> dict[str, Any]:
        """The batch's output manifest, exports and what the completed event reports."""
        ...


class ImageWorkflow:
    """Defaults of the workflows that label images: the image line rules, round 1 on the whole batch, our page."""

    def check_manifest(self, s3: S3Client, manifest: S3Location) -> PreflightReport:
        from groundcrew.core import manifests, preflight
        from groundcrew.core.s3_locations import object_size_reader

        return preflight.run_preflight(manifests.read_manifest(s3, manifest), object_size_reader(s3))

    def check_content(self, s3: S3Client, project: Project, manifest: S3Location) -> list[Finding]:
        return []

    def first_round(self, s3: S3Client, batch: BatchRef, project: Project) -> RoundPlan | None:
        return None

    def built_in_lambdas(self, project: Project, region: str, partition: str) -> tuple[str, str] | None:
        return None

    def worker_ui_arn(self, project: Project, region: str, partition: str) -> str | None:
        return None


class BuiltInTaskPath:
    """The task-path hooks of a workflow whose tasks run on Ground Truth's built-in Lambdas: never ours to run."""

    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        raise BuiltInTasks(f"{config.workflow} tasks run on Ground Truth's built-in Lambdas, not groundcrew's")

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[dict[str, Any], Any]:
        raise BuiltInTasks(f"{context.workflow} answers are consolidated by Ground Truth's built-in Lambdas")

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        raise BuiltInTasks(f"{context.workflow} answers are consolidated by Ground Truth's built-in Lambdas")
