"""3D point cloud detection, tracking and segmentation as a workflow plug-in, on Ground Truth's built-in 3D task
types and worker UI."""

from __future__ import annotations

from groundcrew.workflows.plugin import BuiltInTaskPath


class PointCloudPlugin(BuiltInTaskPath):
    pass


PLUGIN = PointCloudPlugin()
