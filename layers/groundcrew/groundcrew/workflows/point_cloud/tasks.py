"""Ground Truth's 3D point cloud task types: what a job of each needs and what its output looks like.

The task types run entirely on AWS's side: the built-in PRE-/ACS- Lambdas (contracts 4.1) and a worker UI named by
HumanTaskUiArn instead of a template (4.2). Audits of an earlier job (adjustment, and verification, which is an
adjustment whose labels cannot be edited) use the `Adjustment...` Lambdas with the original job's worker UI.
Tracking and segmentation labels are files, so their label attribute ends in `-ref`; detection labels are inline
and their attribute must not (6.1). The public (Mechanical Turk) workforce cannot take these jobs (4.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from groundcrew.core.vocabulary import AuditMode, Workflow
from groundcrew.workforces.ground_truth.arns import built_in_lambda_arns, human_task_ui_arn

TaskKind = Literal["detection", "tracking", "segmentation"]

# Contracts 6.1: one worker per frame or sequence, and Ground Truth does not consolidate 3D answers.
WORKERS_PER_OBJECT = 1
# The API text says 30 days and the task pages 7 days (contracts 6.1, UNCONFIRMED): we allow the smaller.
MAX_TASK_SECONDS = 7 * 24 * 3600
DEFAULT_TASK_SECONDS = 3 * 24 * 3600  # the task pages' default
MAX_FRAMES_PER_SEQUENCE = 500  # contracts 2.2
MAX_CAMERAS = 8  # contracts 2.1


@dataclass(frozen=True, slots=True)
class PointCloudTask:
    kind: TaskKind
    task_type: str  # the PRE-/ACS- suffix of a labeling job
    audit_task_type: str  # ... and of its adjustment or verification
    human_task_ui: str  # the worker UI's name in HumanTaskUiArn
    output_type: str  # `<attribute>-metadata.type` of its output lines (contracts 4.4)
    labels_are_files: bool  # label attribute ends in -ref; the label is an S3 URI

    def task_type_for(self, audit: AuditMode | None) -> str:
        return self.audit_task_type if audit is not None else self.task_type

    def lambdas(self, audit: AuditMode | None, region: str, partition: str = "aws") -> tuple[str, str]:
        """(PRE-, ACS-) ARNs; raises RegionWithoutBuiltIns outside the 12 Regions that publish them."""
        return built_in_lambda_arns(self.task_type_for(audit), region, partition)

    def ui_arn(self, region: str, partition: str = "aws") -> str:
        return human_task_ui_arn(self.human_task_ui, region, partition)

    def attribute_name(self, base: str) -> str:
        return f"{base}-ref" if self.labels_are_files else base


TASKS: dict[Workflow, PointCloudTask] = {
    Workflow.POINT_CLOUD_DETECTION: PointCloudTask(
        kind="detection",
        task_type="3DPointCloudObjectDetection",
        audit_task_type="Adjustment3DPointCloudObjectDetection",
        human_task_ui="PointCloudObjectDetection",
        output_type="groundtruth/point_cloud_object_detection",
        labels_are_files=False,
    ),
    Workflow.POINT_CLOUD_TRACKING: PointCloudTask(
        kind="tracking",
        task_type="3DPointCloudObjectTracking",
        audit_task_type="Adjustment3DPointCloudObjectTracking",
        human_task_ui="PointCloudObjectTracking",
        output_type="groundtruth/point_cloud_object_tracking",
        labels_are_files=True,
    ),
    Workflow.POINT_CLOUD_SEGMENTATION: PointCloudTask(
        kind="segmentation",
        task_type="3DPointCloudSemanticSegmentation",
        audit_task_type="Adjustment3DPointCloudSemanticSegmentation",
        human_task_ui="PointCloudSemanticSegmentation",
        output_type="groundtruth/point_cloud_single_frame_semantic_segmentation",
        labels_are_files=True,
    ),
}


def task_for(workflow: Workflow) -> PointCloudTask:
    try:
        return TASKS[workflow]
    except KeyError:
        raise ValueError(f"{workflow.value} is not a 3D point cloud workflow") from None
