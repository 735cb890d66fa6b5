"""What to do with an object dropped into a point cloud project's scene folder: a frame to label, a scene's
sidecar to read later, the seal marker, or a mistake."""

from __future__ import annotations

from pathlib import PurePosixPath

from groundcrew.core.media import CALIBRATION_FOLDER, CAMERA_IMAGE_SUFFIXES, MAX_POINT_CLOUD_BYTES, POINT_CLOUD_SUFFIXES
from groundcrew.intake.rules import Decision, Disposition, IncomingObject


def is_calibration_file(key: str) -> bool:
    """KITTI calibration text: a file under a `calib/` folder or named `calib*.txt` (frames may be .txt too)."""
    path = PurePosixPath(key)
    return path.suffix.lower() == ".txt" and (
        CALIBRATION_FOLDER in path.parts[:-1] or path.name.lower().startswith(CALIBRATION_FOLDER)
    )


def decide_point_cloud(obj: IncomingObject, *, seal_marker: str, scene_document: str) -> Decision:
    """Classify an object of a point cloud project: a frame to label, a scene's sidecar, or a mistake."""
    if obj.key.endswith("/"):
        return Decision(Disposition.IGNORE, "folder-placeholder", "zero-byte folder placeholder")
    path = PurePosixPath(obj.key)
    if path.name == seal_marker:
        return Decision(Disposition.SEAL)
    suffix = path.suffix.lower()
    if path.name == scene_document or suffix == ".json":
        return Decision(Disposition.IGNORE, "scene-document", "read when the batch's frames are prepared")
    if suffix in CAMERA_IMAGE_SUFFIXES:
        return Decision(Disposition.IGNORE, "camera-image", "named by the scene document for sensor fusion")
    if is_calibration_file(obj.key):
        return Decision(Disposition.IGNORE, "calibration", "named by the scene document for sensor fusion")
    if suffix not in POINT_CLOUD_SUFFIXES:
        allowed = ", ".join(sorted(POINT_CLOUD_SUFFIXES))
        return Decision(
            Disposition.REJECT,
            "not-a-point-cloud",
            f"{path.name!r} is not a point cloud groundcrew converts ({allowed}); a scene folder holds frames, "
            f"its {scene_document}, camera images (.jpg, .png) and KITTI calibration (calib/ or calib*.txt)",
        )
    if obj.size == 0:
        return Decision(Disposition.REJECT, "empty-object", f"{path.name!r} is empty (0 bytes); upload the frame again")
    if obj.size > MAX_POINT_CLOUD_BYTES:
        return Decision(
            Disposition.REJECT,
            "point-cloud-too-large",
            f"{path.name!r} is {obj.size} bytes; frames of at most {MAX_POINT_CLOUD_BYTES} bytes are converted "
            "(Ground Truth may not render more than 1,000,000 points anyway): downsample it",
        )
    return Decision(Disposition.LABEL)


def check_point_cloud_signature(obj: IncomingObject, head: bytes) -> Decision:
    from groundcrew.workflows.point_cloud.formats import check_signature as point_cloud_problem  # numpy

    problem = point_cloud_problem(PurePosixPath(obj.key).name, head)
    if problem is None:
        return Decision(Disposition.LABEL)
    return Decision(Disposition.REJECT, "not-a-point-cloud", problem)
