"""What every workflow package provides: the hooks the generic steps call instead of branching on the workflow.

A workflow is one package under `groundcrew.workflows` with a `plugin` module whose `PLUGINS` maps each of its
workflows to an object satisfying `WorkflowPlugin`, and an entry per workflow in `registry.PLUGIN_MODULES`.
Custom workflows (classification, keypoints) run their tasks on our pre-annotation and consolidation Lambdas;
built-in ones (adjustments, point clouds) on Ground Truth's own, so their task-path hooks refuse with
`BuiltInTasks`. Hooks import heavy modules (numpy, Pillow, point cloud readers) inside their bodies: light Lambdas
load only what they call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from groundcrew.core.errors import DataObjectError, ImportNotPossible

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.consensus.rounds import RoundPlan
    from groundcrew.consensus.worker_quality import WorkerQualityStore
    from groundcrew.core.answers import WorkerAnswer
    from groundcrew.core.events import ConsolidationFailure, EventPublisher
    from groundcrew.core.preflight import Finding, PreflightReport
    from groundcrew.core.records import BatchRef, ExecutionState, ImportRef
    from groundcrew.core.s3_locations import S3Location
    from groundcrew.core.vocabulary import Workflow
    from groundcrew.intake.rules import Decision, IncomingObject
    from groundcrew.projects import Project
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem
    from groundcrew.workforces.ground_truth.jobs import JobResources
    from groundcrew.workforces.ground_truth.task_config import TaskConfig


class BuiltInTasks(DataObjectError):
    """A task-path hook called for a workflow whose tasks run on Ground Truth's built-in Lambdas."""


class NotOnLabelStudio(ValueError):
    """The workflow has no Label Studio interface (point clouds: Label Studio has no 3D tools)."""


class ObjectReader(Protocol):
    """What a Label Studio interface may read of a line's objects while it builds a task."""

    def image_size(self, uri: str) -> tuple[int, int]:
        """(width, height) of an image, from its header (DataObjectError when it cannot be read)."""
        ...

    def read(self, uri: str, limit: int) -> bytes:
        """An object's bytes, refused (DataObjectError) when it is larger than `limit` bytes."""
        ...


@dataclass(frozen=True, slots=True)
class LabelOutput:
    """Where a label read back from Label Studio goes: the job's label attribute, the metadata every label of the
    job carries (job-name, creation-date), what it may read, and `put(name, body) -> s3 URI` for a file it points
    at (a mask)."""

    attribute: str
    metadata: dict[str, Any]
    objects: ObjectReader
    put: Callable[[str, bytes], str]


class LabelStudioInterface(Protocol):
    """How a workflow's items are labeled in Label Studio: its labeling config, each task's data and
    pre-annotations (predictions), and how an annotation's `result` becomes the answer our consolidation reads
    (the same content the workflow's own worker page submits), or, for workflows whose labels Ground Truth's
    built-in task types consolidate, the output line's label itself (`own_consolidation` False)."""

    own_consolidation: bool

    def labeling_config(self, config: TaskConfig) -> str:
        """The project's labeling config (Label Studio's XML); the task data names the image `$image`."""
        ...

    def instructions(self, config: TaskConfig) -> str:
        """The project's instructions (HTML, every value escaped), shown before each task."""
        ...

    def predictions(self, line: dict[str, Any], config: TaskConfig, objects: ObjectReader) -> list[dict[str, Any]]:
        """The `result` regions that pre-annotate one line (empty: nothing to adjust); `objects` reads what they
        need (the image's size, for pixels that must become Label Studio's percentages; an imported mask)."""
        ...

    def answer_content(self, results: list[dict[str, Any]], line: dict[str, Any], config: TaskConfig) -> Any:
        """An annotation's `result` as the submission the workflow's page would have sent (AnswerError if none)."""
        ...

    def output_fields(self, content: Any, line: dict[str, Any], config: TaskConfig, out: LabelOutput) -> dict[str, Any]:
        """Without our consolidation: the output line's label and its metadata from the one answer of an item, in
        Ground Truth's built-in output format."""
        ...


@dataclass(frozen=True, slots=True)
class BatchSteps:
    """What Decide and Finalize work with: the clients, the batch, its project and the execution state."""

    s3: S3Client
    workers: WorkerQualityStore
    publisher: EventPublisher
    project: Project
    execution: ExecutionState
    now: datetime | None = None  # Finalize's clock (tests fix it): the creation-date of output lines

    @property
    def batch(self) -> BatchRef:
        return self.execution.batch


@dataclass(frozen=True, slots=True)
class WorkerTask:
    """What workers of a round are shown: our page, or Ground Truth's own worker UI, and the label categories."""

    page: str | None  # a Liquid page of ours; None: the job names Ground Truth's worker UI (`worker_ui_arn`)
    label_categories: dict[str, Any]  # the job's LabelCategoryConfigS3Uri document
    rig: dict[str, Any] | None = None  # keypoints: the rig as plain data, for the task Lambdas' task config


class WorkflowPlugin(Protocol):
    # -- The task path: per task a worker opens, and per batch of answers (keep these hooks light) ------------------

    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        """The `taskInput` a worker's page renders for one manifest line (raises DataObjectError when it cannot)."""
        ...

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[WorkerAnswer, Any]:
        """One submission as (the answer kept in the ledger, the parsed form `label_items` needs); AnswerError
        says why a submission cannot be counted."""
        ...

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        """One consolidated value per object (Ground Truth's response entries) and how many got a label; each
        object left without one is added to `failures` with the reason."""
        ...

    # -- Intake and imports ----------------------------------------------------------------------------------------

    # Which projects may import labels, for the message that refuses an import to a project that does not.
    label_import_kind: str
    # Whether an import audits an earlier Ground Truth job (its frames are ready: no PrepareFrames).
    audits_earlier_jobs: bool

    def intake_decision(self, project: Project, obj: IncomingObject, head: Callable[[], bytes]) -> Decision:
        """What to do with an object dropped under incoming/<project>/; `head()` reads its first bytes."""
        ...

    def import_instructions(self, project: Project) -> str:
        """Where an importing project's files go, for the message that refuses one dropped under incoming/."""
        ...

    def import_start(self, project: Project, key: str) -> str | Decision | None:
        """What a new object under imports/<project>/ starts: the source key of an import, a refusal, or nothing
        yet (part of a folder that waits for its seal marker)."""
        ...

    def plan_import(self, s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
        """The import's Plan step: its work items (or, when nothing needs converting, its only part)."""
        ...

    def convert_import(
        self, s3: S3Client, items: Sequence[dict[str, Any]], ref: ImportRef, project: Project, batch: dict[str, Any]
    ) -> dict[str, Any]:
        """One Distributed Map batch of the import's Convert step."""
        ...

    def import_format(self, project: Project) -> str:
        """The `format` of the Annotations Imported event."""
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

    def labelstudio(self, workflow: Workflow) -> LabelStudioInterface:
        """How Label Studio labels this workflow's items (NotOnLabelStudio when it cannot)."""
        ...

    # -- Decide and Finalize --------------------------------------------------------------------------------------

    def decide_round(self, steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
        """After a round (or its failure): merge what came back and plan the next round, if any item needs one."""
        ...

    def finalize_batch(self, steps: BatchSteps) -> dict[str, Any]:
        """The batch's output manifest, exports and what the completed event reports."""
        ...


class ImageWorkflow:
    """Defaults of the workflows that label images: the image intake and line rules, round 1 on the whole batch,
    our page, and no imports."""

    label_import_kind = "adjustment projects"
    audits_earlier_jobs = False

    def intake_decision(self, project: Project, obj: IncomingObject, head: Callable[[], bytes]) -> Decision:
        from groundcrew.intake.rules import Disposition, check_signature, decide

        decision = decide(obj, seal_marker=project.batch.seal_marker)
        return check_signature(obj, head()) if decision.disposition is Disposition.LABEL else decision

    def import_instructions(self, project: Project) -> str:
        raise ImportNotPossible(f"project {project.name!r} is {project.workflow.value}: it imports no labels")

    def import_start(self, project: Project, key: str) -> str | Decision | None:
        raise ImportNotPossible(f"project {project.name!r} is {project.workflow.value}: it imports no labels")

    def plan_import(self, s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
        raise ImportNotPossible(f"project {project.name!r} is {project.workflow.value}: it imports no labels")

    def convert_import(
        self, s3: S3Client, items: Sequence[dict[str, Any]], ref: ImportRef, project: Project, batch: dict[str, Any]
    ) -> dict[str, Any]:
        raise ImportNotPossible(f"project {project.name!r} is {project.workflow.value}: it imports no labels")

    def import_format(self, project: Project) -> str:
        raise ImportNotPossible(f"project {project.name!r} is {project.workflow.value}: it imports no labels")

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

    def labelstudio(self, workflow: Workflow) -> LabelStudioInterface:
        raise NotOnLabelStudio(f"{workflow.value} has no Label Studio labeling interface yet")


class BuiltInTaskPath:
    """The task-path hooks of a workflow whose tasks run on Ground Truth's built-in Lambdas: never ours to run."""

    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        raise BuiltInTasks(f"{config.workflow} tasks run on Ground Truth's built-in Lambdas, not groundcrew's")

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[WorkerAnswer, Any]:
        raise BuiltInTasks(f"{context.workflow} answers are consolidated by Ground Truth's built-in Lambdas")

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        raise BuiltInTasks(f"{context.workflow} answers are consolidated by Ground Truth's built-in Lambdas")
