"""Single-label image classification with `crowd-image-classifier`: task input and worker answers."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from groundcrew.core.answers import answer_document
from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workforces.ground_truth.task_config import TaskConfig

ELEMENT_NAME = "category"  # the `name` of the crowd-image-classifier in TEMPLATE_RESOURCE
TEMPLATE_RESOURCE = "image_classification.liquid.html"


@dataclass(frozen=True, slots=True)
class WorkerLabel:
    worker_id: str
    label: str


def ui_template() -> str:
    return resources.files(__package__).joinpath(TEMPLATE_RESOURCE).read_text(encoding="utf-8")


def task_input(data_object: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
    """The `taskInput` of one manifest line; the template escapes every value that reaches the page."""
    source_ref = data_object.get("source-ref")
    if not isinstance(source_ref, str) or not source_ref.startswith("s3://"):
        raise DataObjectError(f"manifest line needs 'source-ref' with an s3:// image URI, got {source_ref!r}")
    return {
        "taskObject": source_ref,
        "labels": list(config.labels),
        "header": config.header,
        "shortInstructions": config.short_instructions,
        "fullInstructions": config.full_instructions,
    }


def parse_answer(worker_id: str, content: str | dict[str, Any], labels: tuple[str, ...]) -> WorkerLabel:
    """Read what `crowd-image-classifier` submitted: `{"category": {"label": "<one of labels>"}}`."""
    answer = answer_document(worker_id, content)
    chosen = answer.get(ELEMENT_NAME) if isinstance(answer, dict) else None
    label = chosen.get("label") if isinstance(chosen, dict) else None
    if not isinstance(label, str):
        raise AnswerError(f"answer of worker {worker_id} has no {ELEMENT_NAME}.label")
    if label not in labels:
        raise AnswerError(f"answer of worker {worker_id} names unknown label {label!r}")
    return WorkerLabel(worker_id, label)
