"""Adjustment jobs as a workflow plug-in: workers correct masks or boxes imported from other tools, on Ground
Truth's built-in semantic-segmentation and bounding-box task types."""

from __future__ import annotations

from groundcrew.workflows.plugin import BuiltInTaskPath


class AdjustmentPlugin(BuiltInTaskPath):
    pass


PLUGIN = AdjustmentPlugin()
