"""Adjustment jobs on imported labels: Ground Truth's built-in task types, their worker templates and Lambdas.

Semantic-segmentation and bounding-box adjustment jobs run on AWS's own pre-annotation and consolidation Lambdas
(contracts 4.1), which hand the template `task.input.taskObject`, `task.input.labels` and `task.input.manifestLine`
(contracts 4.2: `manifestLine` is documented only by the crowd-bounding-box page, hence UNCONFIRMED for semantic
segmentation; the local stand-in follows the same assumption). Nothing of ours runs while workers work, so the
template carries what the built-in Lambdas do not pass: the label attribute holding the imported labels, and the
class colours, which must equal each line's `internal-color-map` (the preflight checks that).
"""

from __future__ import annotations

import re
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from groundcrew.core.page_text import attribute as escaped
from groundcrew.core.page_text import json_attribute
from groundcrew.core.vocabulary import Workflow
from groundcrew.workforces.ground_truth.arns import built_in_lambda_arns

if TYPE_CHECKING:
    from groundcrew.workflows.adjustment.masks import ClassMap

TASK_TYPES = {
    Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT: "AdjustmentSemanticSegmentation",
    Workflow.BOUNDING_BOX_ADJUSTMENT: "AdjustmentBoundingBox",
}
TEMPLATES = {
    Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT: "semantic_segmentation_adjustment.liquid.html",
    Workflow.BOUNDING_BOX_ADJUSTMENT: "bounding_box_adjustment.liquid.html",
}
_ATTRIBUTE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def built_in_lambdas(workflow: Workflow, region: str, partition: str = "aws") -> tuple[str, str]:
    """(PRE-, ACS-) Lambda ARNs of the workflow's built-in task type in `region`."""
    return built_in_lambda_arns(TASK_TYPES[workflow], region, partition)


def ui_template(
    workflow: Workflow,
    *,
    source_attribute: str,
    header: str,
    instructions: str,
    class_map: ClassMap | None = None,
) -> str:
    """The Liquid page for adjusting the labels held under `source_attribute` of each manifest line."""
    if not _ATTRIBUTE_NAME.match(source_attribute):  # it goes inside a Liquid string literal
        raise ValueError(f"label attribute {source_attribute!r} must be letters, digits and hyphens")
    mappings = {}
    if workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT:
        if class_map is None:
            raise ValueError("a semantic segmentation adjustment template needs the class map")
        # crowd-semantic-segmentation's labelMappings name every class but BACKGROUND (contracts 1.2.2)
        pairs = zip(class_map.names[1:], class_map.colors[1:], strict=True)
        mappings = {name: {"color": color} for name, color in pairs}
    text = resources.files(__package__).joinpath(TEMPLATES[workflow]).read_text(encoding="utf-8")
    return Template(text).substitute(
        attribute=source_attribute,
        header=escaped(header),
        instructions=escaped(instructions),
        label_mappings=json_attribute(mappings),
    )
