"""Image classification as a workflow plug-in: one label per image from several workers, by consensus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.core.vocabulary import Workflow
from groundcrew.workflows.classification import task
from groundcrew.workflows.plugin import ImageWorkflow, WorkerTask

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.core.answers import WorkerAnswer
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.projects import Project
    from groundcrew.workflows.plugin import BatchSteps, LabelStudioInterface
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem
    from groundcrew.workforces.ground_truth.jobs import JobResources
    from groundcrew.workforces.ground_truth.task_config import TaskConfig


class ClassificationPlugin(ImageWorkflow):
    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        return task.task_input(data_object, config)

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[WorkerAnswer, Any]:
        label = task.parse_answer(worker_id, content, context.labels).label
        return {"worker_id": worker_id, "label": label}, label

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        from groundcrew.workflows.classification.consolidation import label_items

        return label_items(items, context, attribute, failures)

    def worker_task(self, s3: S3Client, bucket: str, project: Project, resources: JobResources) -> WorkerTask:
        from groundcrew.workforces.ground_truth.jobs import label_categories_document

        return WorkerTask(task.ui_template(), label_categories_document(project.labels))

    def labelstudio(self, workflow: Workflow) -> LabelStudioInterface:
        from groundcrew.workflows.classification.labelstudio import ClassificationInLabelStudio

        return ClassificationInLabelStudio()

    def decide_round(self, steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
        from groundcrew.consensus import ledger_steps
        from groundcrew.workflows.classification.ledger import LEDGER

        return ledger_steps.decide_round(steps, LEDGER, round_failed=round_failed)

    def finalize_batch(self, steps: BatchSteps) -> dict[str, Any]:
        from groundcrew.consensus import ledger_steps
        from groundcrew.workflows.classification.ledger import LEDGER

        return ledger_steps.finalize_batch(steps, LEDGER)


PLUGINS = {Workflow.IMAGE_CLASSIFICATION: ClassificationPlugin()}
