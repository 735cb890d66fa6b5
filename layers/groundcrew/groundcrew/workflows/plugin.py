"""What every workflow package provides: the hooks the generic steps call instead of branching on the workflow.

A workflow is one package under `groundcrew.workflows` with a `plugin` module whose `PLUGIN` satisfies
`WorkflowPlugin`, and one entry in `registry.PLUGIN_MODULES`. Custom workflows (classification, keypoints) run
their tasks on our pre-annotation and consolidation Lambdas; built-in ones (adjustments, point clouds) on Ground
Truth's own, so their task-path hooks refuse with `BuiltInTasks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from groundcrew.core.errors import DataObjectError

if TYPE_CHECKING:
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem
    from groundcrew.workforces.ground_truth.task_config import TaskConfig


class BuiltInTasks(DataObjectError):
    """A task-path hook called for a workflow whose tasks run on Ground Truth's built-in Lambdas."""


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
