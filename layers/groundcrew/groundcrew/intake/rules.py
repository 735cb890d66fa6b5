"""What to do with an object that landed under `incoming/`: label it, seal a batch, or reject it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from urllib.parse import unquote_plus

from groundcrew.core.media import (
    CALIBRATION_FOLDER,
    CAMERA_IMAGE_SUFFIXES,
    IMAGE_SIGNATURES,
    MAX_IMAGE_BYTES,
    MAX_POINT_CLOUD_BYTES,
    POINT_CLOUD_SUFFIXES,
)
from groundcrew.projects import IMPORTS_PREFIX, INCOMING_PREFIX, PROJECT_NAME_PATTERN


class Disposition(StrEnum):
    LABEL = "label"
    SEAL = "seal"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class IncomingObject:
    bucket: str
    key: str  # URL-decoded
    size: int
    etag: str

    @property
    def project_name(self) -> str | None:
        """The `<project>` of `incoming/<project>/...` or `imports/<project>/...`, when the key has one."""
        for prefix in (INCOMING_PREFIX, IMPORTS_PREFIX):
            rest = self.key.removeprefix(prefix)
            if rest != self.key:
                return (rest.split("/", 1)[0] or None) if "/" in rest else None
        return None


@dataclass(frozen=True, slots=True)
class Decision:
    disposition: Disposition
    rule: str = ""
    message: str = ""


def decode_event_key(key: str) -> str:
    """S3 notifications form-encode object keys ('a b+c.png' arrives as 'a+b%2Bc.png')."""
    return unquote_plus(key)


def decide(obj: IncomingObject, *, seal_marker: str) -> Decision:
    """Classify an object of a known project by its key and size (the content check comes after)."""
    if obj.key.endswith("/"):
        return Decision(Disposition.IGNORE, "folder-placeholder", "zero-byte folder placeholder")
    name = PurePosixPath(obj.key).name
    if name == seal_marker:
        return Decision(Disposition.SEAL)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in IMAGE_SIGNATURES:
        allowed = ", ".join(sorted(IMAGE_SIGNATURES))
        return Decision(
            Disposition.REJECT,
            "not-an-image",
            f"{name!r} is not an image Ground Truth can show ({allowed}); "
            f"drop only images under incoming/<project>/, or {seal_marker!r} to seal the batch",
        )
    if obj.size == 0:
        return Decision(Disposition.REJECT, "empty-object", f"{name!r} is empty (0 bytes); upload the image again")
    if obj.size > MAX_IMAGE_BYTES:
        return Decision(
            Disposition.REJECT,
            "image-too-large",
            f"{name!r} is {obj.size} bytes; Ground Truth image tasks accept at most {MAX_IMAGE_BYTES} bytes",
        )
    return Decision(Disposition.LABEL)


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
    from groundcrew.workflows.point_cloud.formats import (
        check_signature as point_cloud_problem,  # numpy: point cloud projects only
    )

    problem = point_cloud_problem(PurePosixPath(obj.key).name, head)
    if problem is None:
        return Decision(Disposition.LABEL)
    return Decision(Disposition.REJECT, "not-a-point-cloud", problem)


def check_signature(obj: IncomingObject, head: bytes) -> Decision:
    """Reject files whose first bytes do not match their image extension (e.g. a renamed text file)."""
    suffix = PurePosixPath(obj.key).suffix.lower()
    if any(head.startswith(signature) for signature in IMAGE_SIGNATURES[suffix]):
        return Decision(Disposition.LABEL)
    return Decision(
        Disposition.REJECT,
        "not-an-image",
        f"{PurePosixPath(obj.key).name!r} has a {suffix} name but its content is not a {suffix.lstrip('.').upper()} "
        "image; upload the real image file",
    )


def unknown_project_decision(obj: IncomingObject) -> Decision:
    name = obj.project_name
    if name is None:
        return Decision(
            Disposition.REJECT,
            "no-project-prefix",
            "objects must be dropped under incoming/<project>/, where projects/<project>.yaml describes the project",
        )
    if not PROJECT_NAME_PATTERN.match(name):
        return Decision(Disposition.REJECT, "unknown-project", f"{name!r} is not a valid project name")
    return Decision(
        Disposition.REJECT,
        "unknown-project",
        f"no project document projects/{name}.yaml in bucket {obj.bucket}; create it, then upload the object again",
    )
