"""Keypoints as a workflow plug-in: a skeleton rig placed with crowd-2d-skeleton, checked, and sent back when wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.core.vocabulary import Workflow
from groundcrew.workflows.keypoints import task
from groundcrew.workflows.keypoints.poses import rig_from_dict, rig_to_dict
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


class KeypointsPlugin(ImageWorkflow):
    def task_input(self, data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
        if config.rig is None:
            raise DataObjectError(f"the task config of batch {config.batch_id} has no rig: prepare the job again")
        return task.task_input(data_object, rig_from_dict(config.rig))

    def read_answer(
        self, worker_id: str, content: str | dict[str, Any], context: JobContext
    ) -> tuple[WorkerAnswer, Any]:
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

    def worker_task(self, s3: S3Client, bucket: str, project: Project, resources: JobResources) -> WorkerTask:
        from groundcrew.workflows.keypoints import rigs  # pydantic and YAML: only the keypoint workflow needs them
        from groundcrew.workforces.ground_truth.jobs import LabelingJobRejected, label_categories_document

        options = project.keypoints
        assert options is not None  # the project model requires it for this workflow
        url = options.component_url or resources.skeleton_component_url
        if not url:
            raise LabelingJobRejected(
                f"project {project.name!r} has no keypoints.component_url and the stack has no SkeletonComponentUrl: "
                "workers would see no skeleton tool; host crowd-2d-skeleton.js and name its HTTPS URL"
            )
        rig = rigs.load_rig(s3, bucket, options.rig)
        return WorkerTask(task.ui_template(rig, url), label_categories_document(rig.names), rig_to_dict(rig))

    def labelstudio(self, workflow: Workflow) -> LabelStudioInterface:
        from groundcrew.workflows.keypoints.labelstudio import KeypointsInLabelStudio

        return KeypointsInLabelStudio()

    def decide_round(self, steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
        from groundcrew.consensus import ledger_steps
        from groundcrew.workflows.keypoints.ledger import LEDGER

        return ledger_steps.decide_round(steps, LEDGER, round_failed=round_failed)

    def finalize_batch(self, steps: BatchSteps) -> dict[str, Any]:
        from groundcrew.consensus import ledger_steps
        from groundcrew.workflows.keypoints.ledger import LEDGER

        return ledger_steps.finalize_batch(steps, LEDGER)


PLUGINS = {Workflow.KEYPOINTS: KeypointsPlugin()}
