"""Keypoints as a workflow plug-in: a skeleton rig placed with crowd-2d-skeleton, checked, and sent back when wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workflows.keypoints import task
from groundcrew.workflows.keypoints.poses import rig_from_dict

if TYPE_CHECKING:
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem
    from groundcrew.workforces.ground_truth.task_config import TaskConfig


class KeypointsPlugin:
    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        if config.rig is None:
            raise DataObjectError(f"the task config of batch {config.batch_id} has no rig: prepare the job again")
        return task.task_input(data_object, rig_from_dict(config.rig))

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[dict[str, Any], Any]:
        if context.rig is None:
            raise AnswerError(f"answer of worker {worker_id}: the job's task config has no rig to read it with")
        skeleton = task.parse_submission(worker_id, content, context.rig)
        # The submission itself is kept: later steps rebuild the consensus from it.
        submitted = orjson.loads(content) if isinstance(content, str) else content
        return {"worker_id": worker_id, "content": submitted, "seconds": skeleton.seconds}, skeleton

    def label_items(
        self, items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
    ) -> tuple[list[dict[str, Any]], int]:
        from groundcrew.workflows.keypoints.consolidation import label_items

        return label_items(items, context, attribute, failures)


PLUGIN = KeypointsPlugin()
