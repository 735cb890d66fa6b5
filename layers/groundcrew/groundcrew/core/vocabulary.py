"""The workflows and consensus options groundcrew knows (a light module: Lambdas on the task path import it)."""

from enum import StrEnum


class Workflow(StrEnum):
    IMAGE_CLASSIFICATION = "image-classification"
    KEYPOINTS = "keypoints"  # a skeleton rig placed with the open-source crowd-2d-skeleton component
    # Workers correct labels imported from other tools; Ground Truth's built-in Lambdas run the tasks.
    SEMANTIC_SEGMENTATION_ADJUSTMENT = "semantic-segmentation-adjustment"
    BOUNDING_BOX_ADJUSTMENT = "bounding-box-adjustment"
    # Lidar frames (and sequences of them) on Ground Truth's built-in 3D point cloud task types.
    POINT_CLOUD_DETECTION = "pointcloud-detection"
    POINT_CLOUD_TRACKING = "pointcloud-tracking"
    POINT_CLOUD_SEGMENTATION = "pointcloud-segmentation"

    @property
    def adjusts_imports(self) -> bool:
        return self in (Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT, Workflow.BOUNDING_BOX_ADJUSTMENT)

    @property
    def is_point_cloud(self) -> bool:
        return self.value.startswith("pointcloud-")


class AuditMode(StrEnum):
    """A 3D point cloud job that reviews an earlier job's labels (contracts 3.2 and 4.1)."""

    ADJUSTMENT = "adjustment"  # workers correct the labels
    VERIFICATION = "verification"  # workers judge them; every label has editsAllowed "none"


class ConsensusMethod(StrEnum):
    """How the answers to one item are weighed."""

    MAJORITY = "majority"  # one worker, one vote
    DAWID_SKENE = "dawid-skene"  # votes weighted by each worker's estimated confusion matrix


class PolicyKind(StrEnum):
    """How many answers an item gets."""

    FIXED = "fixed"  # the same number of workers for every item, one round
    ADAPTIVE = "adaptive"  # a few answers first; more only where the stop rule does not hold yet
