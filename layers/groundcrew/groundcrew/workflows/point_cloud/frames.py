"""Point cloud frames to Ground Truth input: frame lines (3D object detection, semantic segmentation) and sequence
files (3D object tracking), from raw frames, ego poses and camera calibration.

A team drops a scene document, `scene.json`, beside the raw frames of one scene folder:

```json
{
  "frames": {
    "000000.bin": {"unix-timestamp": 1566861644.759115,
                   "ego-vehicle-pose": {"position": {"x": -2.71, "y": 116.25, "z": 1.83},
                                        "heading": {"qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 1.0}}},
    "000001.bin": {"unix-timestamp": 1566861644.859115,
                   "images": {"front": {"image-path": "front/000001_retake.jpg", "unix-timestamp": 1566861644.85}}}
  },
  "cameras": {
    "front": {"intrinsics": {"fx": 847.79, "fy": 850.03, "cx": 576.21, "cy": 317.24, "k1": 0.0, "skew": 0.0},
              "camera-model": "pinhole",
              "extrinsics": {"position": {"x": 0.27, "y": 0.06, "z": -0.08},
                             "heading": {"qx": -0.5, "qy": 0.5, "qz": -0.5, "qw": 0.5}},
              "image-path": "{camera}/{stem}.jpg"},
    "left": {"kitti-calibration": "calib/{stem}.txt", "kitti-camera": 2}
  }
}
```

* `frames`: one entry per raw frame file name: `unix-timestamp` (seconds), optional `ego-vehicle-pose`, optional
  per-camera `images` overrides (`image-path`, `unix-timestamp`; an image's timestamp defaults to the frame's).
* `cameras` (at most 8): either `intrinsics` (fx, fy, cx, cy; optional k1..k4, p1, p2 (pinhole only), skew) and
  `extrinsics` (the camera's position and heading in the point cloud's frame), or `kitti-calibration`, the relative
  path of a KITTI calib file giving both (`kitti-camera` picks P0..P3, default 2). `image-path` is the image's
  path below the image prefix; `{camera}`, `{stem}` (frame name without suffix) and `{name}` are filled in.
  `camera-model` is `pinhole` (default) or `fisheye`.

Unknown fields are errors naming the field. Headings are unit quaternions (qx, qy, qz, qw).

Camera extrinsics convention (DG/sms-point-cloud-sensor-fusion-details, "Camera Extrinsic" and "Pose"): `position`
and `heading` are the camera's pose in the point cloud's frame (camera-to-world); Ground Truth projects with
`[K | 0] @ inv([Rc Tc; 0 0 0 1])`, with no axis swap between the camera frame and K, so the camera axes are those
of the pinhole model: x right, y down, z along the optical axis (the DG sample heading, a camera looking along +y
with x = world +x, agrees). The axis convention is derived from that formula, not stated: UNCONFIRMED.
"""

from __future__ import annotations

import math
import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import PurePosixPath
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from groundcrew.projects import field_messages
from groundcrew.workflows.point_cloud.preflight import (
    MAX_CAMERAS,
    MAX_POINT_CLOUD_ITEMS,
    MAX_SEQUENCE_FRAMES,
    POINT_CLOUD_FORMATS,
    QUATERNION_TOLERANCE,
    is_relative_path,
    is_s3_folder,
)

CameraModel = Literal["pinhole", "fisheye"]
IMAGE_PATH_FIELDS = frozenset({"camera", "stem", "name"})
ROTATION_TOLERANCE = 1e-3  # max |R @ R.T - I| entry accepted for a calibration rotation
NAMED = 10  # names listed in one problem; the rest are counted


class _Model(BaseModel):
    # Scene documents use Ground Truth's kebab-case spelling; Python code builds models by field name.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        allow_inf_nan=False,
        alias_generator=lambda name: name.replace("_", "-"),
        validate_by_name=True,
        validate_by_alias=True,
    )


class Position(_Model):
    x: float
    y: float
    z: float


class Heading(_Model):
    qx: float
    qy: float
    qz: float
    qw: float

    @model_validator(mode="after")
    def _unit_length(self) -> Heading:
        norm = math.sqrt(self.qx**2 + self.qy**2 + self.qz**2 + self.qw**2)
        if abs(norm - 1) > QUATERNION_TOLERANCE:
            raise ValueError(
                f"heading quaternion has length {norm:.6g}, not 1; divide qx, qy, qz, qw by it "
                "(qw=1 and the rest 0 when the orientation is unknown)"
            )
        return self


class Pose(_Model):
    position: Position
    heading: Heading


class Intrinsics(_Model):
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    skew: float | None = None
    k1: float | None = None
    k2: float | None = None
    k3: float | None = None
    k4: float | None = None
    p1: float | None = None
    p2: float | None = None


class FrameImage(_Model):
    image_path: str | None = None
    unix_timestamp: float | None = None


class SceneFrame(_Model):
    unix_timestamp: float
    ego_vehicle_pose: Pose | None = None
    images: dict[str, FrameImage] = {}


class SceneCamera(_Model):
    camera_model: CameraModel = "pinhole"
    intrinsics: Intrinsics | None = None
    extrinsics: Pose | None = None
    kitti_calibration: str | None = None
    kitti_camera: int = Field(default=2, ge=0, le=3)
    image_path: str = "{camera}/{stem}.jpg"

    @model_validator(mode="after")
    def _one_calibration_source(self) -> SceneCamera:
        explicit = self.intrinsics is not None or self.extrinsics is not None
        if explicit == (self.kitti_calibration is not None):
            raise ValueError("give either 'intrinsics' and 'extrinsics', or 'kitti-calibration', not both or neither")
        if explicit and (self.intrinsics is None or self.extrinsics is None):
            missing = "intrinsics" if self.intrinsics is None else "extrinsics"
            raise ValueError(f"'{missing}' is missing: a camera needs both intrinsics and extrinsics")
        if self.kitti_calibration is not None and not _is_inside_scene(self.kitti_calibration):
            raise ValueError(
                f"'kitti-calibration' must be a path relative to the scene folder, got {self.kitti_calibration!r}"
            )
        if (
            self.camera_model == "fisheye"
            and self.intrinsics
            and (self.intrinsics.p1 is not None or self.intrinsics.p2 is not None)
        ):
            raise ValueError("p1/p2 (tangential distortion) apply to pinhole cameras only; remove them or use pinhole")
        return self

    @field_validator("image_path", "kitti_calibration")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        return value if value is None else _checked_pattern(value)


class SceneDocument(_Model):
    frames: dict[str, SceneFrame] = Field(min_length=1)
    cameras: dict[str, SceneCamera] = {}

    @field_validator("frames")
    @classmethod
    def _plain_file_names(cls, frames: dict[str, SceneFrame]) -> dict[str, SceneFrame]:
        nested = [name for name in frames if "/" in name or not name]
        if nested:
            raise ValueError(f"frame names must be file names in the scene folder, without '/': {nested}")
        return frames

    @field_validator("cameras")
    @classmethod
    def _at_most_eight(cls, cameras: dict[str, SceneCamera]) -> dict[str, SceneCamera]:
        if len(cameras) > MAX_CAMERAS:
            raise ValueError(
                f"{len(cameras)} cameras; Ground Truth shows at most {MAX_CAMERAS} per frame: "
                f"remove {len(cameras) - MAX_CAMERAS} of {sorted(cameras)}"
            )
        return cameras

    @model_validator(mode="after")
    def _images_name_cameras(self) -> SceneDocument:
        unknown = [
            f"{name}: {camera}"
            for name, frame in self.frames.items()
            for camera in frame.images
            if camera not in self.cameras
        ]
        if unknown:
            raise ValueError(f"frame images name cameras not in 'cameras': {', '.join(unknown)}")
        return self


def _checked_pattern(pattern: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    unknown = names - IMAGE_PATH_FIELDS
    if unknown:
        raise ValueError(f"{pattern!r} uses {sorted(unknown)}; only {{camera}}, {{stem}} and {{name}} are filled in")
    return pattern


def _is_inside_scene(path: str) -> bool:
    return is_relative_path(path) and ".." not in PurePosixPath(path).parts


class InvalidSceneDocument(ValueError):
    """A scene document that does not validate; `errors` holds (field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{where}: {message}" for where, message in errors))


def parse_scene_document(text: str | bytes) -> SceneDocument:
    """Validate a scene document (JSON); every problem is reported with its field path."""
    try:
        return SceneDocument.model_validate_json(text, by_alias=True, by_name=False)
    except ValidationError as error:
        raise InvalidSceneDocument(field_messages(error)) from None


# --- KITTI calibration -------------------------------------------------------------------------------------------


class CalibrationError(ValueError):
    """A calibration file that cannot be used; `rule` says which rule it broke."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class KittiCalibration:
    camera: int
    intrinsics: Intrinsics
    extrinsics: Pose | None  # the camera's pose in the lidar frame; None when the file has only a projection


# Names in the object benchmark (P2, R0_rect, Tr_velo_to_cam), the tracking benchmark (R_rect, Tr_velo_cam) and
# raw data (P_rect_02, R_rect_00; calib_velo_to_cam.txt's R and T): name -> (canonical name, count of numbers).
_KITTI_NAMES: dict[str, tuple[str, int]] = {
    **{f"P{n}": (f"P{n}", 12) for n in range(4)},
    **{f"P_rect_0{n}": (f"P{n}", 12) for n in range(4)},
    "R0_rect": ("R0_rect", 9),
    "R_rect": ("R0_rect", 9),
    "R_rect_00": ("R0_rect", 9),
    "Tr_velo_to_cam": ("Tr_velo_to_cam", 12),
    "Tr_velo_cam": ("Tr_velo_to_cam", 12),
    "R": ("velo_R", 9),
    "T": ("velo_T", 3),
    "Tr_imu_to_velo": ("Tr_imu_to_velo", 12),
    "Tr_imu_velo": ("Tr_imu_to_velo", 12),
}


def _numbers(tokens: list[str], number: int, name: str) -> list[float]:
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise CalibrationError("calibration-number", f"line {number} ({name}): {token!r} is not a number") from None
        if not math.isfinite(value):
            raise CalibrationError("calibration-number", f"line {number} ({name}): {token!r} is not a finite number")
        values.append(value)
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_kitti_entries(text: str, camera: int) -> dict[str, tuple[int, list[float]]]:
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise CalibrationError("calibration-empty", "the calibration file is empty; it needs at least the P2 line")
    if _is_number(lines[0][1].split()[0]):
        # mmdetection3d's demo form: one bare line holding P2 as a 3x4 or 4x4 matrix
        if len(lines) > 1:
            raise CalibrationError(
                "calibration-bare",
                f"line {lines[1][0]}: a bare matrix file holds one line (P{camera}); "
                "name the lines (P2:, R0_rect:, ...)",
            )
        number, line = lines[0]
        values = _numbers(line.split(), number, "bare matrix")
        if len(values) == 16:
            if values[12:] != [0.0, 0.0, 0.0, 1.0]:
                raise CalibrationError(
                    "calibration-count", f"line {number}: a 4x4 P{camera} must end with 0 0 0 1, got {values[12:]}"
                )
            values = values[:12]
        if len(values) != 12:
            raise CalibrationError(
                "calibration-count",
                f"line {number}: a bare P{camera} has 12 (3x4) or 16 (4x4) numbers, got {len(values)}",
            )
        return {f"P{camera}": (number, values)}
    entries: dict[str, tuple[int, list[float]]] = {}
    for number, line in lines:
        name, colon, rest = line.partition(":")
        if not colon:  # the tracking benchmark writes "R_rect 1 0 0 ..."
            name, _, rest = line.partition(" ")
        name = name.strip()
        if name not in _KITTI_NAMES:
            continue  # raw data also holds calib_time, S_00, K_00, D_00...: not needed here
        canonical, count = _KITTI_NAMES[name]
        values = _numbers(rest.split(), number, name)
        if len(values) != count:
            raise CalibrationError(
                "calibration-count", f"line {number}: {name} has {len(values)} numbers; it needs {count}"
            )
        if canonical in entries:
            raise CalibrationError(
                "calibration-duplicate", f"line {number}: {name} repeats line {entries[canonical][0]}; keep one"
            )
        entries[canonical] = (number, values)
    return entries


def _checked_rotation(matrix: np.ndarray, what: str) -> np.ndarray:
    determinant = float(np.linalg.det(matrix))
    if abs(determinant) < 1e-9:
        raise CalibrationError("calibration-rotation", f"{what} is singular (determinant {determinant:.3g})")
    error = float(np.abs(matrix @ matrix.T - np.eye(3)).max())
    if determinant < 0 or error > ROTATION_TOLERANCE:
        raise CalibrationError(
            "calibration-rotation",
            f"{what} is not a rotation (determinant {determinant:.6g}, |R R^T - I| up to {error:.3g})",
        )
    return matrix


def _quaternion(rotation: np.ndarray) -> Heading:
    """Unit quaternion of a rotation matrix (Shepperd's method), with qw >= 0."""
    m = rotation
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2 * math.sqrt(trace + 1)
        q = (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2 * math.sqrt(1 + m[0, 0] - m[1, 1] - m[2, 2])
        q = s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s
    elif m[1, 1] > m[2, 2]:
        s = 2 * math.sqrt(1 + m[1, 1] - m[0, 0] - m[2, 2])
        q = (m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s
    else:
        s = 2 * math.sqrt(1 + m[2, 2] - m[0, 0] - m[1, 1])
        q = (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s
    norm = math.sqrt(sum(c * c for c in q))
    sign = -1.0 if q[3] < 0 else 1.0
    qx, qy, qz, qw = (float(sign * c / norm) for c in q)
    return Heading(qx=qx, qy=qy, qz=qz, qw=qw)


def parse_kitti_calib(text: str, *, camera: int = 2) -> KittiCalibration:
    """Intrinsics and (when the file has Tr_velo_to_cam and R0_rect) the lidar-frame pose of KITTI camera `camera`.

    P{camera} = K @ [I | t] with t the camera's offset from the rectified reference camera, so a lidar point X maps to
    camera coordinates R0_rect @ Tr_velo_to_cam @ X + t; the camera's pose is the inverse of that transform.
    """
    entries = _read_kitti_entries(text, camera)
    if f"P{camera}" not in entries:
        raise CalibrationError(
            "calibration-missing-projection",
            f"no P{camera} line (P_rect_0{camera} in raw data); add camera {camera}'s 3x4 projection",
        )
    number, values = entries[f"P{camera}"]
    projection = np.array(values).reshape(3, 4)
    k = projection[:, :3]
    if k[0, 0] <= 0 or k[1, 1] <= 0 or abs(k[2, 2] - 1) > 1e-9 or np.abs(k[[1, 2, 2], [0, 0, 1]]).max() > 1e-9:
        raise CalibrationError(
            "calibration-projection",
            f"line {number}: P{camera} is not K @ [I | t] (K upper triangular, positive focal lengths, K[2,2] = 1)",
        )
    fx, fy, cx, cy, skew = (float(v) for v in (k[0, 0], k[1, 1], k[0, 2], k[1, 2], k[0, 1]))
    intrinsics = Intrinsics(fx=fx, fy=fy, cx=cx, cy=cy, skew=skew)
    return KittiCalibration(camera=camera, intrinsics=intrinsics, extrinsics=_kitti_pose(entries, k, projection[:, 3]))


def _kitti_pose(entries: dict[str, tuple[int, list[float]]], k: np.ndarray, offset_pixels: np.ndarray) -> Pose | None:
    if ("velo_R" in entries) != ("velo_T" in entries):
        raise CalibrationError(
            "calibration-missing-transform", "R and T of calib_velo_to_cam.txt come together; add the other"
        )
    if "velo_R" in entries:
        if "Tr_velo_to_cam" in entries:
            raise CalibrationError("calibration-duplicate", "both Tr_velo_to_cam and R/T are given; keep one")
        velo = np.hstack([np.array(entries["velo_R"][1]).reshape(3, 3), np.array(entries["velo_T"][1]).reshape(3, 1)])
        velo_line = entries["velo_R"][0]
    elif "Tr_velo_to_cam" in entries:
        velo_line, velo_values = entries["Tr_velo_to_cam"]
        velo = np.array(velo_values).reshape(3, 4)
    else:
        return None
    if "R0_rect" not in entries:
        raise CalibrationError(
            "calibration-missing-rectification",
            "Tr_velo_to_cam is given but R0_rect is not (R_rect_00 in raw calib_cam_to_cam.txt); add it",
        )
    rect_line, rect_values = entries["R0_rect"]
    rectification = _checked_rotation(np.array(rect_values).reshape(3, 3), f"R0_rect (line {rect_line})")
    lidar_rotation = _checked_rotation(velo[:, :3], f"the rotation of Tr_velo_to_cam (line {velo_line})")
    # lidar -> camera: X_cam = A @ X + b
    a = rectification @ lidar_rotation
    b = rectification @ velo[:, 3] + np.linalg.solve(k, offset_pixels)
    u, _, vt = np.linalg.svd(a.T)  # nearest exact rotation, so the quaternion is a unit one
    camera_to_lidar = u @ vt
    position = -camera_to_lidar @ b
    return Pose(
        position=Position(x=float(position[0]), y=float(position[1]), z=float(position[2])),
        heading=_quaternion(camera_to_lidar),
    )


# --- Ground Truth documents ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CameraImage:
    image_path: str  # relative to the frame's image prefix
    unix_timestamp: float
    intrinsics: Intrinsics
    pose: Pose  # the camera's position and heading in the point cloud's frame
    camera_model: CameraModel = "pinhole"


@dataclass(frozen=True, slots=True)
class SequenceFrame:
    frame: str  # frame file path relative to the sequence prefix
    unix_timestamp: float
    format: str
    frame_no: int
    pose: Pose | None = None
    image_prefix: str | None = None
    images: list[CameraImage] = field(default_factory=list)


def pose_document(pose: Pose) -> dict[str, Any]:
    p, h = pose.position, pose.heading
    return {"position": {"x": p.x, "y": p.y, "z": p.z}, "heading": {"qx": h.qx, "qy": h.qy, "qz": h.qz, "qw": h.qw}}


def image_document(image: CameraImage) -> dict[str, Any]:
    """One entry of `images` (contracts 2.1); distortion coefficients only when known."""
    intrinsics = image.intrinsics
    if image.camera_model == "fisheye" and (intrinsics.p1 is not None or intrinsics.p2 is not None):
        raise ValueError(f"{image.image_path}: p1/p2 apply to pinhole cameras only")
    entry: dict[str, Any] = {
        "image-path": image.image_path,
        "unix-timestamp": image.unix_timestamp,
        "fx": intrinsics.fx,
        "fy": intrinsics.fy,
        "cx": intrinsics.cx,
        "cy": intrinsics.cy,
    }
    for name in ("k1", "k2", "k3", "k4", "p1", "p2", "skew"):
        value = getattr(intrinsics, name)
        if value is not None:
            entry[name] = value
    return entry | pose_document(image.pose) | {"camera-model": image.camera_model}


def _frame_metadata(
    fmt: str, timestamp: float, pose: Pose | None, prefix: str | None, images: Sequence[CameraImage]
) -> dict[str, Any]:
    if fmt not in POINT_CLOUD_FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(POINT_CLOUD_FORMATS)}")
    if len(images) > MAX_CAMERAS:
        raise ValueError(f"{len(images)} images; Ground Truth takes at most {MAX_CAMERAS} per frame")
    if images and not is_s3_folder(prefix):
        raise ValueError(f"images need an image prefix s3://bucket/folder/ ending with '/', got {prefix!r}")
    metadata: dict[str, Any] = {"format": fmt, "unix-timestamp": timestamp}
    if pose is not None:
        metadata["ego-vehicle-pose"] = pose_document(pose)
    if prefix is not None:
        metadata["prefix"] = prefix
    if images:
        metadata["images"] = [image_document(image) for image in images]
    return metadata


def frame_line(
    source_uri: str, *, fmt: str, timestamp: float, pose: Pose | None, prefix: str | None, images: list[CameraImage]
) -> dict[str, Any]:
    """One line of a 3D object detection / semantic segmentation manifest (contracts 2.1)."""
    return {"source-ref": source_uri, "source-ref-metadata": _frame_metadata(fmt, timestamp, pose, prefix, images)}


def sequence_document(seq_no: int, prefix: str, frames: Sequence[SequenceFrame]) -> dict[str, Any]:
    """A sequence file of a 3D object tracking job (contracts 2.2); frames in the order workers see them."""
    if not is_s3_folder(prefix):
        raise ValueError(f"the sequence prefix must be s3://bucket/folder/ ending with '/', got {prefix!r}")
    documents = []
    for frame in frames:
        if not is_relative_path(frame.frame):
            raise ValueError(f"frame {frame.frame!r} must be a path relative to {prefix}")
        metadata = _frame_metadata(frame.format, frame.unix_timestamp, frame.pose, frame.image_prefix, frame.images)
        documents.append({"frame-no": frame.frame_no, "frame": frame.frame} | metadata)
    return {"seq-no": seq_no, "prefix": prefix, "number-of-frames": len(documents), "frames": documents}


# --- scenes ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConvertedFrame:
    name: str  # the raw frame's file name, as keyed in the scene document
    uri: str  # s3:// URI of the converted frame Ground Truth reads
    format: str  # its point cloud format, e.g. binary/xyzi


@dataclass(frozen=True, slots=True)
class SceneProblem:
    rule: str
    message: str


class SceneError(ValueError):
    """A scene that cannot become Ground Truth input; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[SceneProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"[{p.rule}] {p.message}" for p in problems))


def _names(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:NAMED])
    return f"{shown} and {len(values) - NAMED} more" if len(values) > NAMED else shown


def calibration_files(scene: SceneDocument) -> set[str]:
    """Relative paths of the KITTI calibration files the scene needs, for the caller to read."""
    return {
        _fill(camera.kitti_calibration, camera_name, frame_name)
        for camera_name, camera in scene.cameras.items()
        if camera.kitti_calibration is not None
        for frame_name in scene.frames
    }


def _fill(pattern: str, camera: str, frame_name: str) -> str:
    return pattern.format(camera=camera, stem=PurePosixPath(frame_name).stem, name=frame_name)


@dataclass
class _Planner:
    scene: SceneDocument
    image_prefix: str | None
    existing_images: Collection[str]
    calibration_texts: Mapping[str, str]
    problems: list[SceneProblem] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    calibrations: dict[tuple[str, int], KittiCalibration | None] = field(default_factory=dict)

    def problem(self, rule: str, message: str) -> None:
        self.problems.append(SceneProblem(rule, message))

    def frames_in_order(self, frames: Sequence[ConvertedFrame]) -> list[ConvertedFrame]:
        names = [frame.name for frame in frames]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            self.problem("duplicate-frame", f"frames converted more than once: {_names(repeated)}; keep one of each")
        unknown = [name for name in names if name not in self.scene.frames]
        if unknown:
            self.problem(
                "frame-not-in-scene",
                f"{len(unknown)} frames have no entry in the scene document: {_names(unknown)}; "
                "add their unix-timestamp (and pose) under 'frames'",
            )
        missing = [name for name in self.scene.frames if name not in set(names)]
        if missing:
            self.problem(
                "missing-frames",
                f"{len(missing)} frames of the scene document have no frame file: {_names(missing)}; "
                "add the files or remove their entries",
            )
        for frame in frames:
            if frame.format not in POINT_CLOUD_FORMATS:
                self.problem(
                    "frame-format",
                    f"{frame.name}: format {frame.format!r} is not one of {', '.join(POINT_CLOUD_FORMATS)}",
                )
        known = sorted(
            (f for f in frames if f.name in self.scene.frames), key=lambda f: self.scene.frames[f.name].unix_timestamp
        )
        for before, after in pairwise(known):
            stamp = self.scene.frames[after.name].unix_timestamp
            if stamp == self.scene.frames[before.name].unix_timestamp and before.name != after.name:
                self.problem(
                    "repeated-timestamp",
                    f"frames {before.name!r} and {after.name!r} both have unix-timestamp {stamp}; fix one of them",
                )
        if self.scene.cameras and not is_s3_folder(self.image_prefix):
            self.problem(
                "image-prefix",
                f"the scene has cameras: give the image prefix (s3://bucket/folder/), got {self.image_prefix!r}",
            )
        return known

    def images(self, name: str) -> list[CameraImage]:
        frame = self.scene.frames[name]
        images = []
        for camera_name, camera in self.scene.cameras.items():
            override = frame.images.get(camera_name, FrameImage())
            path = override.image_path or _fill(camera.image_path, camera_name, name)
            if path not in self.existing_images:
                self.missing_images.append(path)
            calibration = self.calibration(camera_name, camera, name)
            if calibration is None:
                continue
            intrinsics, pose = calibration
            stamp = override.unix_timestamp if override.unix_timestamp is not None else frame.unix_timestamp
            images.append(CameraImage(path, stamp, intrinsics, pose, camera.camera_model))
        return images

    def calibration(self, camera_name: str, camera: SceneCamera, frame_name: str) -> tuple[Intrinsics, Pose] | None:
        if camera.intrinsics is not None and camera.extrinsics is not None:
            return camera.intrinsics, camera.extrinsics
        assert camera.kitti_calibration is not None  # the model holds one of the two
        path = _fill(camera.kitti_calibration, camera_name, frame_name)
        key = (path, camera.kitti_camera)
        if key not in self.calibrations:
            self.calibrations[key] = self.parsed(path, camera_name, camera.kitti_camera)
        parsed = self.calibrations[key]
        if parsed is None or parsed.extrinsics is None:
            return None
        return parsed.intrinsics, parsed.extrinsics

    def parsed(self, path: str, camera_name: str, kitti_camera: int) -> KittiCalibration | None:
        text = self.calibration_texts.get(path)
        if text is None:
            self.problem("calibration-missing-file", f"camera {camera_name!r}: calibration file {path!r} was not given")
            return None
        try:
            calibration = parse_kitti_calib(text, camera=kitti_camera)
        except CalibrationError as error:
            self.problem(error.rule, f"camera {camera_name!r}, {path}: {error}")
            return None
        if calibration.extrinsics is None:
            self.problem(
                "camera-extrinsics-unknown",
                f"camera {camera_name!r}, {path}: the file has only a projection matrix, so the camera's pose is "
                "unknown; add Tr_velo_to_cam and R0_rect to it, "
                "or give 'intrinsics' and 'extrinsics' in the scene document",
            )
        return calibration

    def finish(self) -> None:
        if self.missing_images:
            self.problem(
                "image-missing",
                f"{len(self.missing_images)} images referenced but not under {self.image_prefix}: "
                f"{_names(self.missing_images)}; upload them or fix the camera's 'image-path'",
            )
        if self.problems:
            raise SceneError(self.problems)


def scene_frame_lines(
    scene: SceneDocument,
    frames: Sequence[ConvertedFrame],
    *,
    image_prefix: str | None,
    existing_images: Collection[str],
    calibration_texts: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Frame lines (3D object detection, semantic segmentation) of one scene, ordered by timestamp.

    `existing_images` holds image paths relative to `image_prefix`; `calibration_texts` maps the paths of
    `calibration_files(scene)` to their text. Raises SceneError listing every problem.
    """
    planner = _Planner(scene, image_prefix, existing_images, calibration_texts or {})
    ordered = planner.frames_in_order(frames)
    if len(ordered) > MAX_POINT_CLOUD_ITEMS:
        planner.problem(
            "too-many-frames", f"{len(ordered)} frames; a job takes at most {MAX_POINT_CLOUD_ITEMS}: split the scene"
        )
    planned = [(frame, planner.images(frame.name)) for frame in ordered]
    planner.finish()
    return [
        frame_line(
            frame.uri,
            fmt=frame.format,
            timestamp=scene.frames[frame.name].unix_timestamp,
            pose=scene.frames[frame.name].ego_vehicle_pose,
            prefix=image_prefix if images else None,
            images=images,
        )
        for frame, images in planned
    ]


def scene_sequence(
    scene: SceneDocument,
    frames: Sequence[ConvertedFrame],
    *,
    seq_no: int,
    prefix: str,
    image_prefix: str | None,
    existing_images: Collection[str],
    calibration_texts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The sequence file (3D object tracking) of one scene: frames ordered by timestamp, paths relative to `prefix`.

    Same inputs as `scene_frame_lines`; every converted frame must lie under `prefix`. Raises SceneError.
    """
    planner = _Planner(scene, image_prefix, existing_images, calibration_texts or {})
    if not is_s3_folder(prefix):
        planner.problem("prefix", f"the sequence prefix must be s3://bucket/folder/ ending with '/', got {prefix!r}")
    ordered = planner.frames_in_order(frames)
    if len(ordered) > MAX_SEQUENCE_FRAMES:
        parts = math.ceil(len(ordered) / MAX_SEQUENCE_FRAMES)
        planner.problem(
            "sequence-too-long",
            f"{len(ordered)} frames; a sequence holds at most {MAX_SEQUENCE_FRAMES}: split the scene into {parts} "
            f"scene folders of at most {MAX_SEQUENCE_FRAMES} consecutive frames each",
        )
    outside = [frame.uri for frame in ordered if not frame.uri.startswith(prefix) or frame.uri == prefix]
    if outside:
        planner.problem("frame-outside-prefix", f"frames not under the sequence prefix {prefix}: {_names(outside)}")
    sequence_frames = []
    for number, frame in enumerate(ordered):
        images = planner.images(frame.name)
        entry = scene.frames[frame.name]
        sequence_frames.append(
            SequenceFrame(
                frame=frame.uri.removeprefix(prefix),
                unix_timestamp=entry.unix_timestamp,
                format=frame.format,
                frame_no=number,
                pose=entry.ego_vehicle_pose,
                image_prefix=image_prefix if images else None,
                images=images,
            )
        )
    planner.finish()
    return sequence_document(seq_no, prefix, sequence_frames)
