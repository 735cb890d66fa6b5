"""Image classification as a workflow plug-in: one label per image from several workers, by consensus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.workflows.classification import task

if TYPE_CHECKING:
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem
    from groundcrew.workforces.ground_truth.task_config import TaskConfig


class ClassificationPlugin:
    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        return task.task_input(data_object, config)

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[dict[str, Any], Any]:
        label = task.parse_answer(worker_id, content, context.labels).label
        return {"worker_id": worker_id, "label": label}, label

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        from groundcrew.workflows.classification.consolidation import label_items

        return label_items(items, context, attribute, failures)


PLUGIN = ClassificationPlugin()
