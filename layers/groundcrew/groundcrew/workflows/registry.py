"""Which package serves which workflow: the one place that maps a `Workflow` to its plug-in.

Plug-ins are imported on first use, so a Lambda loads only the workflow it runs; inside a plug-in, each hook
imports its heavy modules (numpy, Pillow, point cloud readers) itself, so the light task path stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from groundcrew.core.vocabulary import Workflow

if TYPE_CHECKING:
    from groundcrew.workflows.plugin import WorkflowPlugin

PLUGIN_MODULES: dict[Workflow, str] = {
    Workflow.IMAGE_CLASSIFICATION: "groundcrew.workflows.classification.plugin",
    Workflow.KEYPOINTS: "groundcrew.workflows.keypoints.plugin",
    Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT: "groundcrew.workflows.adjustment.plugin",
    Workflow.BOUNDING_BOX_ADJUSTMENT: "groundcrew.workflows.adjustment.plugin",
    Workflow.POINT_CLOUD_DETECTION: "groundcrew.workflows.point_cloud.plugin",
    Workflow.POINT_CLOUD_TRACKING: "groundcrew.workflows.point_cloud.plugin",
    Workflow.POINT_CLOUD_SEGMENTATION: "groundcrew.workflows.point_cloud.plugin",
}

# What a record that names no workflow is taken for: images to classify (a job created in the console, without our
# task config; a batch sealed before intake recorded its workflow).
DEFAULT_WORKFLOW = Workflow.IMAGE_CLASSIFICATION


def for_workflow(workflow: Workflow | str) -> WorkflowPlugin:
    """The plug-in of a workflow (by member or by its value, as batch records carry it)."""
    member = Workflow(workflow)
    plugins: dict[Workflow, WorkflowPlugin] = importlib.import_module(PLUGIN_MODULES[member]).PLUGINS
    return plugins[member]
