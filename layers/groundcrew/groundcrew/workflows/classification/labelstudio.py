"""Image classification in Label Studio: one `Choices` per image, read back as crowd-image-classifier's answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.core.errors import AnswerError
from groundcrew.workflows.classification.task import ELEMENT_NAME
from groundcrew.workflows.labelstudio_markup import attribute, labeling_view, labels_control, paragraphs
from groundcrew.workforces.ground_truth.task_config import TaskConfig

if TYPE_CHECKING:
    from groundcrew.workflows.plugin import LabelOutput, ObjectReader


class ClassificationInLabelStudio:
    own_consolidation = True  # answers go through our consolidation, like the page\'s

    def labeling_config(self, config: TaskConfig) -> str:
        choices = [attribute(label) for label in config.labels]
        extra = ' choice="single-radio" required="true" showInline="true"'
        return labeling_view(
            config.header, labels_control("Choices", ELEMENT_NAME, choices, item="Choice", extra=extra), zoom=False
        )

    def instructions(self, config: TaskConfig) -> str:
        return paragraphs(config.short_instructions, config.full_instructions)

    def predictions(self, line: dict[str, Any], config: TaskConfig, objects: ObjectReader) -> list[dict[str, Any]]:
        return []  # nothing to adjust: every worker chooses on their own

    def answer_content(self, results: list[dict[str, Any]], line: dict[str, Any], config: TaskConfig) -> Any:
        """`{"category": {"label": ...}}`, what crowd-image-classifier submits; an unknown label is left for the
        consolidation to reject, with its reason."""
        chosen = [
            choice
            for result in results
            if result.get("type") == "choices" and result.get("from_name") == ELEMENT_NAME
            for choice in (result.get("value") or {}).get("choices") or []
        ]
        if len(chosen) != 1 or not isinstance(chosen[0], str):
            raise AnswerError(f"the annotation chose {len(chosen)} categories; the task asks for exactly one")
        return {ELEMENT_NAME: {"label": chosen[0]}}

    def output_fields(self, content: Any, line: dict[str, Any], config: TaskConfig, out: LabelOutput) -> dict[str, Any]:
        raise NotImplementedError("these answers are consolidated by groundcrew's consolidation")
