"""Ground Truth 3D point cloud job outputs: read them, write them, and turn them into training formats.

Three job kinds (contracts 7.3):

* object detection: the label attribute (no `-ref`) holds `{"annotations": [cuboid, ...]}` inline;
* object tracking: `<L>-ref` points to a `SeqLabel.json` with `tracking-annotations` per frame; in the 3D-2D
  (sensor fusion) form the file holds `{"lidar": {...}, "camera-0": {...}}` and cuboids and camera boxes of one
  object share an `object-id`;
* semantic segmentation: `<L>-ref` points to a `.zlib` file, one class index (uint8) per point in point order.

A cuboid is Ground Truth's: centre of the box in the point cloud frame, `length` along the box's heading, `width`
across it, `height` along its up axis, rotation `roll, pitch, yaw` in radians about x, y, z (right-handed, applied
x then y then z, so R = Rz(yaw) @ Ry(pitch) @ Rx(roll)).

Tracks document (`tracks_document`), one per sequence::

    {"sequence": "<name>", "frame_count": <number of frames>,
     "tracks": [{"object_id": "<uuid>", "label": "Car", "object_name": "Car:1",
                 "first_frame": <frame index>, "last_frame": <frame index>,
                 "boxes": [{"frame": <frame index>, "frame_name": "0.txt.pcd" | null,
                            "timestamp": <unix seconds> | null,
                            "center": [x, y, z], "dimensions": [length, width, height],
                            "rotation": [roll, pitch, yaw], "attributes": {...}}]}]}

Tracks are ordered by first appearance (frame order, then order within the frame), boxes by frame.
"""

from __future__ import annotations

import copy
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

DETECTION_TYPE = "groundtruth/point_cloud_object_detection"
TRACKING_TYPE = "groundtruth/point_cloud_object_tracking"
SEGMENTATION_TYPE = "groundtruth/point_cloud_single_frame_semantic_segmentation"
_TASK_TYPES = {"detection": DETECTION_TYPE, "tracking": TRACKING_TYPE, "segmentation": SEGMENTATION_TYPE}

_CUBOID_NUMBERS = ("center-x", "center-y", "center-z", "length", "width", "height", "roll", "pitch", "yaw")
_BOX_NUMBERS = ("width", "height", "top", "left")
_CREATION_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
_OCCLUSION_NAMES = {"occluded", "occlusion"}
# Roll or pitch above this (radians) cannot be dropped without moving the box's corners noticeably.
_TILT_TOLERANCE = 1e-6
# How far (radians) the cuboid's up axis may lean from the camera's -Y axis: KITTI's rectified camera is only
# nearly level with the lidar (about 1 degree apart in KITTI's own calibration files).
_LEVEL_TOLERANCE = math.radians(5.0)
_NEAR_PLANE = 0.01  # metres in front of the camera; corners behind it are cut off before projecting

Labels = npt.NDArray[np.uint8]
Task = Literal["detection", "tracking", "segmentation"]


class PointCloudOutputError(ValueError):
    """A point cloud output that cannot be read or written; `rule` names the broken rule in kebab-case."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Cuboid:
    label: str
    class_id: int
    object_name: str
    object_id: str | None  # None in detection outputs, the track's id in tracking outputs
    center: tuple[float, float, float]
    dimensions: tuple[float, float, float]  # length, width, height in metres
    rotation: tuple[float, float, float]  # roll, pitch, yaw in radians
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CameraBox:
    """A 2D box a worker drew on one camera image of a 3D-2D tracking job, in pixels."""

    camera: str  # the SeqLabel.json key, e.g. "camera-0"
    label: str
    class_id: int
    object_name: str
    object_id: str
    left: float
    top: float
    width: float
    height: float
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameLabels:
    index: int  # frame-number of a sequence; 0 for a single-frame detection output
    name: str | None  # frame-name of a sequence; the line's source-ref for a detection output
    cuboids: tuple[Cuboid, ...]
    frame_attributes: dict[str, Any] = field(default_factory=dict)
    camera_boxes: tuple[CameraBox, ...] = ()


# ---------------------------------------------------------------------------------------------------- reading


def detection_labels(line: Mapping[str, Any], attribute: str) -> FrameLabels:
    """The cuboids of one object detection output manifest line (label value inline under `attribute`)."""
    where = _line_name(line)
    if attribute.endswith("-ref"):
        raise PointCloudOutputError(
            "detection-attribute-ends-in-ref",
            f"{where}: object detection labels are stored inline, so their attribute never ends in -ref "
            f"(got {attribute!r}); pass the detection job's label attribute name",
        )
    value, metadata = _label_and_metadata(line, attribute)
    _check_type(metadata, DETECTION_TYPE, f"{where}, {attribute}-metadata")
    class_map = _class_map(metadata, f"{where}, {attribute}-metadata")
    if not isinstance(value, Mapping) or not isinstance(value.get("annotations"), list):
        raise PointCloudOutputError(
            "malformed-label",
            f'{where}: {attribute} must be {{"annotations": [...]}}, got {_short(value)}; '
            "it should hold the detection job's cuboids",
        )
    cuboids = tuple(
        _cuboid(annotation, class_map, f"{where}, {attribute} annotation {number}", needs_object_id=False)
        for number, annotation in enumerate(value["annotations"])
    )
    frame_attributes = _attributes(metadata.get("dataset-object-attributes"), f"{where}, dataset-object-attributes")
    source = line.get("source-ref")
    return FrameLabels(0, source if isinstance(source, str) else None, cuboids, frame_attributes)


def tracking_output(line: Mapping[str, Any], attribute: str) -> tuple[str, dict[str, str]]:
    """The SeqLabel.json URI and class map of one object tracking output manifest line."""
    where = _line_name(line)
    _require_ref(attribute, where, "object tracking")
    value, metadata = _label_and_metadata(line, attribute)
    _check_type(metadata, TRACKING_TYPE, f"{where}, {attribute}-metadata")
    if not isinstance(value, str) or not value:
        raise PointCloudOutputError(
            "malformed-label", f"{where}: {attribute} must be the S3 URI of a SeqLabel.json, got {_short(value)}"
        )
    return value, _class_map(metadata, f"{where}, {attribute}-metadata")


def tracking_labels(seq_label: Mapping[str, Any], class_map: Mapping[str, str] | None = None) -> list[FrameLabels]:
    """Frames of a SeqLabel.json, ordered by frame number; the 3D-2D form adds each frame's camera boxes.

    Without a class map the label is the part of the object name before its last ':' ("Car:1" -> "Car"), the
    way the worker UI names objects (UNCONFIRMED: not documented; pass the metadata's class map when you have it).
    """
    if "tracking-annotations" in seq_label:
        lidar, cameras = seq_label, {}
    elif isinstance(seq_label.get("lidar"), Mapping):
        lidar = seq_label["lidar"]
        cameras = {key: value for key, value in seq_label.items() if key != "lidar"}
    else:
        raise PointCloudOutputError(
            "malformed-seq-label",
            "SeqLabel.json has neither tracking-annotations nor lidar.tracking-annotations "
            f"(keys: {sorted(seq_label)}); pass the file an object tracking job wrote",
        )
    frames: dict[int, tuple[str | None, list[Cuboid], dict[str, Any]]] = {}
    for position, entry in enumerate(_tracking_entries(lidar, "SeqLabel.json lidar")):
        where = f"SeqLabel.json tracking-annotations[{position}]"
        index = _integer(entry, "frame-number", where)
        where = f"SeqLabel.json frame {index}"
        if index in frames:
            raise PointCloudOutputError(
                "duplicate-frame", f"{where} appears twice in tracking-annotations; keep one entry per frame"
            )
        name = _optional_string(entry, "frame-name", where)
        cuboids = [
            _cuboid(annotation, class_map, f"{where}, annotation {number}", needs_object_id=True)
            for number, annotation in enumerate(_annotations(entry, where))
        ]
        _check_unique_object_ids([c.object_id for c in cuboids], where)
        frames[index] = (name, cuboids, _attributes(entry.get("frame-attributes"), f"{where}, frame-attributes"))
    boxes: dict[int, list[CameraBox]] = {}
    for camera, content in cameras.items():
        for position, entry in enumerate(_tracking_entries(content, f"SeqLabel.json {camera}")):
            index = _integer(entry, "frame-no", f"SeqLabel.json {camera} tracking-annotations[{position}]")
            where = f"SeqLabel.json {camera} frame {index}"
            name = _optional_string(entry, "frame", where)
            if index not in frames:  # a frame with camera boxes only
                frames[index] = (name, [], _attributes(entry.get("frame-attributes"), f"{where}, frame-attributes"))
            elif name is not None and frames[index][0] is not None and name != frames[index][0]:
                raise PointCloudOutputError(
                    "frame-name-mismatch",
                    f"{where} is named {name!r} but lidar frame {index} is {frames[index][0]!r}; "
                    "camera and lidar entries of one frame must name the same point cloud",
                )
            camera_boxes = [
                _camera_box(annotation, camera, class_map, f"{where}, annotation {number}")
                for number, annotation in enumerate(_annotations(entry, where))
            ]
            _check_unique_object_ids([box.object_id for box in camera_boxes], where)
            boxes.setdefault(index, []).extend(camera_boxes)
    return [
        FrameLabels(index, name, tuple(cuboids), attributes, tuple(boxes.get(index, ())))
        for index, (name, cuboids, attributes) in sorted(frames.items())
    ]


def segmentation_output(line: Mapping[str, Any], attribute: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The .zlib label URI and the colour map (`color-map`) of one semantic segmentation output manifest line."""
    where = _line_name(line)
    _require_ref(attribute, where, "semantic segmentation")
    value, metadata = _label_and_metadata(line, attribute)
    _check_type(metadata, SEGMENTATION_TYPE, f"{where}, {attribute}-metadata")
    if not isinstance(value, str) or not value:
        raise PointCloudOutputError(
            "malformed-label", f"{where}: {attribute} must be the S3 URI of a .zlib label file, got {_short(value)}"
        )
    if "color-map" not in metadata:
        hint = " (internal-color-map belongs to image segmentation outputs)" if "internal-color-map" in metadata else ""
        raise PointCloudOutputError(
            "missing-color-map",
            f"{where}: {attribute}-metadata has no color-map{hint}; point cloud segmentation metadata must carry "
            "color-map {index: {class-name, hex-color, confidence}}",
        )
    return value, _color_map(metadata["color-map"], f"{where}, {attribute}-metadata color-map")


def segmentation_labels(data: bytes, *, points: int | None, color_map: Mapping[str, Mapping[str, Any]]) -> Labels:
    """One class index per point, in point cloud order, from the bytes of a .zlib label file.

    `points` is the frame's point count (None skips that check when the point cloud is not at hand).
    """
    try:
        raw = zlib.decompress(data)
    except zlib.error as error:
        raise PointCloudOutputError(
            "bad-zlib",
            f"segmentation label file is not zlib data ({error}); pass the .zlib file the job wrote, "
            "not a decompressed or re-encoded copy",
        ) from error
    labels = np.frombuffer(raw, dtype=np.uint8).copy()
    if points is not None and labels.size != points:
        raise PointCloudOutputError(
            "point-count-mismatch",
            f"segmentation labels hold {labels.size} points but the frame has {points}; "
            "pair the label file with the point cloud it was made for",
        )
    _check_known_indices(labels, color_map)
    return labels


def class_point_counts(labels: Labels, color_map: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """How many points each class of the colour map holds (classes with no points count 0), in index order."""
    _check_known_indices(labels, color_map)
    counts = np.bincount(labels, minlength=256)
    result: dict[str, int] = {}
    for key in sorted(color_map, key=int):
        name = str(color_map[key]["class-name"])
        if name in result:
            raise PointCloudOutputError(
                "duplicate-class-name", f"color-map names {name!r} twice; give each index its own class name"
            )
        result[name] = int(counts[int(key)])
    return result


# ---------------------------------------------------------------------------------------------------- audits


def audit_line(output_line: Mapping[str, Any], *, previous_attribute: str, task: Task) -> dict[str, Any]:
    """The input line of an adjustment or verification job built from a line of an earlier job's output manifest.

    The whole line is kept (Ground Truth passes other keys through); it must carry the earlier job's label and
    metadata, of the task's type, under an attribute that follows the task's -ref rule.
    """
    where = _line_name(output_line)
    if task not in _TASK_TYPES:
        raise PointCloudOutputError("unknown-task", f"task must be one of {sorted(_TASK_TYPES)}, got {task!r}")
    if task == "detection" and previous_attribute.endswith("-ref"):
        raise PointCloudOutputError(
            "detection-attribute-ends-in-ref",
            f"{where}: detection labels are inline, so {previous_attribute!r} cannot be a detection label attribute;"
            " pass the attribute without -ref",
        )
    if task != "detection":
        _require_ref(previous_attribute, where, task)
    if previous_attribute not in output_line or f"{previous_attribute}-metadata" not in output_line:
        present = sorted(key for key in output_line if key.endswith("-metadata"))
        raise PointCloudOutputError(
            "unlabeled-line",
            f"{where} has no {previous_attribute!r} label and metadata (labelled attributes: {present}); the earlier "
            "job left it unlabelled (failed or expired task): label it again instead of auditing it",
        )
    if task == "detection":
        detection_labels(output_line, previous_attribute)
    elif task == "tracking":
        tracking_output(output_line, previous_attribute)
    else:
        segmentation_output(output_line, previous_attribute)
    return copy.deepcopy(dict(output_line))


# ---------------------------------------------------------------------------------------------------- writing


def detection_output(
    cuboids: Sequence[Cuboid],
    *,
    class_map: Mapping[str, str],
    job_name: str,
    creation_date: str,
    frame_attributes: Mapping[str, Any] | None = None,
    adjustment_status: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The label value and `-metadata` of an object detection output line, shaped like the AWS doc example.

    The doc's detection example writes `class_map`, every other Ground Truth output `class-map`; we write
    `class-map` (UNCONFIRMED which one AWS writes for 3D detection; our reader accepts both).
    """
    checked_map = _class_map({"class-map": class_map}, "detection_output class_map")
    annotations = [_cuboid_json(cuboid, checked_map, f"cuboid {number}") for number, cuboid in enumerate(cuboids)]
    metadata: dict[str, Any] = {"objects": [], "class-map": dict(checked_map)}
    metadata.update(_standard_metadata(DETECTION_TYPE, job_name, creation_date, adjustment_status))
    if frame_attributes is not None:
        metadata["dataset-object-attributes"] = dict(frame_attributes)
    return {"annotations": annotations}, metadata


def seq_label_document(frames: Sequence[FrameLabels], class_map: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A SeqLabel.json for frames of a tracking job; the 3D-2D form when any frame has camera boxes.

    With a class map each cuboid's and box's label must match its class-id there.
    """
    checked_map = None if class_map is None else _class_map({"class-map": class_map}, "seq_label_document class_map")
    _check_unique_frames(frames)
    ordered = sorted(frames, key=lambda frame: frame.index)
    lidar = []
    for frame in ordered:
        where = f"frame {frame.index}"
        annotations = []
        for number, cuboid in enumerate(frame.cuboids):
            if cuboid.object_id is None:
                raise PointCloudOutputError(
                    "missing-object-id",
                    f"{where}, cuboid {number} ({cuboid.object_name}) has no object_id; tracking labels link "
                    "cuboids across frames by object-id",
                )
            annotations.append(_cuboid_json(cuboid, checked_map, f"{where}, cuboid {number}"))
        _check_unique_object_ids([cuboid.object_id for cuboid in frame.cuboids], where)
        entry: dict[str, Any] = {"frame-number": frame.index}
        if frame.name is not None:
            entry["frame-name"] = frame.name
        entry["frame-attributes"] = dict(frame.frame_attributes)
        entry["annotations"] = annotations
        lidar.append(entry)
    cameras = sorted({box.camera for frame in ordered for box in frame.camera_boxes})
    if not cameras:
        return {"tracking-annotations": lidar}
    document: dict[str, Any] = {"lidar": {"tracking-annotations": lidar}}
    for camera in cameras:
        entries = []
        for frame in ordered:
            boxes = [box for box in frame.camera_boxes if box.camera == camera]
            if not boxes:
                continue
            _check_unique_object_ids([box.object_id for box in boxes], f"{camera} frame {frame.index}")
            camera_entry: dict[str, Any] = {"frame-no": frame.index}
            if frame.name is not None:
                camera_entry["frame"] = frame.name
            camera_entry["annotations"] = [
                _box_json(box, checked_map, f"{camera} frame {frame.index}, box {number}")
                for number, box in enumerate(boxes)
            ]
            camera_entry["frame-attributes"] = {}
            entries.append(camera_entry)
        document[camera] = {"tracking-annotations": entries}
    return document


def tracking_metadata(
    *,
    class_map: Mapping[str, str],
    frame_numbers: Sequence[int],
    job_name: str,
    creation_date: str,
    adjustment_status: str | None = None,
) -> dict[str, Any]:
    """The `<L>-ref-metadata` of an object tracking output line (one `objects` entry per frame, as AWS writes)."""
    checked_map = _class_map({"class-map": class_map}, "tracking_metadata class_map")
    metadata: dict[str, Any] = {
        "objects": [{"frame-no": number, "confidence": []} for number in frame_numbers],
        "class-map": dict(checked_map),
    }
    metadata.update(_standard_metadata(TRACKING_TYPE, job_name, creation_date, adjustment_status))
    return metadata


def segmentation_metadata(
    *,
    color_map: Mapping[str, Mapping[str, Any]],
    job_name: str,
    creation_date: str,
    frame_attributes: Mapping[str, Any] | None = None,
    adjustment_status: str | None = None,
) -> dict[str, Any]:
    """The `<L>-ref-metadata` of a semantic segmentation output line."""
    metadata: dict[str, Any] = {"color-map": _color_map(color_map, "segmentation_metadata color_map")}
    metadata.update(_standard_metadata(SEGMENTATION_TYPE, job_name, creation_date, adjustment_status))
    if frame_attributes is not None:
        metadata["dataset-object-attributes"] = dict(frame_attributes)
    return metadata


def encode_segmentation(labels: npt.ArrayLike) -> bytes:
    """The .zlib label file for one class index (0-255) per point."""
    array = np.asarray(labels)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise PointCloudOutputError(
            "malformed-labels",
            f"segmentation labels must be a 1-D integer array, one class index per point; got {array.dtype} "
            f"with shape {array.shape}",
        )
    if array.size and (array.min() < 0 or array.max() > 255):
        raise PointCloudOutputError(
            "class-index-out-of-range",
            f"segmentation labels hold indices {int(array.min())}..{int(array.max())}; a .zlib file stores one "
            "unsigned byte per point, so indices must be 0-255",
        )
    return zlib.compress(array.astype(np.uint8).tobytes())


# ---------------------------------------------------------------------------------------------------- KITTI


@dataclass(frozen=True, slots=True)
class KittiBox:
    """A cuboid as KITTI describes it, in the rectified camera frame (x right, y down, z forward), unrounded."""

    dimensions: tuple[float, float, float]  # height, width, length in metres
    location: tuple[float, float, float]  # bottom centre of the box
    rotation_y: float  # about the camera's Y axis, in [-pi, pi)
    alpha: float  # observation angle, in [-pi, pi)


def kitti_box(cuboid: Cuboid, *, velo_to_cam: npt.ArrayLike) -> KittiBox:
    """The KITTI description of one Ground Truth cuboid; the maths is in kitti_label_text's docstring."""
    rotation, translation = _rigid_transform(velo_to_cam)
    return _kitti_box(cuboid, rotation, translation, f"cuboid {cuboid.object_name}")


def kitti_label_text(
    frame: FrameLabels,
    *,
    velo_to_cam: npt.ArrayLike,
    projection: npt.ArrayLike | None = None,
    image_size: tuple[int, int] | None = None,
    outside_image: Literal["drop", "error"] = "drop",
) -> str:
    """A KITTI label file for one frame's cuboids: one line per cuboid,
    `type truncated occluded alpha left top right bottom height width length x y z rotation_y`.

    velo_to_cam is the 4x4 rigid transform lidar -> rectified camera (R0_rect @ Tr_velo_to_cam); R is its rotation,
    t its translation. KITTI boxes live in the camera frame (x right, y down, z forward): `location` is the bottom
    centre of the box; in the box's own axes length runs along x, height along -y, width along z, and the box is
    turned by rotation_y about the camera's Y axis, so its heading (length axis) is (cos ry, 0, -sin ry).

    * heading: a Ground Truth cuboid's length axis in the lidar frame is h = (cos yaw, sin yaw, 0). Its direction
      in the camera is d = R @ h, hence rotation_y = atan2(-d_z, d_x). Nothing assumes KITTI's usual axes: for
      those (x_cam = -y_velo, y_cam = -z_velo, z_cam = x_velo) it reduces to rotation_y = -yaw - pi/2. Both frames
      are right-handed, so the width axis (up x heading) follows and the 8 corners match.
    * the box's up axis R @ (0, 0, 1) must be within 5 degrees of the camera's -Y (KITTI boxes are upright in the
      camera); the small tilt of a real rectified camera is ignored, a larger one is an error.
    * location = R @ centre + t + (0, height / 2, 0): the centre moved down (+y) by half the height, so the box
      KITTI rebuilds has the Ground Truth centre.
    * alpha = rotation_y - atan2(x, z) of the location, both wrapped to [-pi, pi).
    * roll or pitch other than 0 is an error: KITTI boxes only turn about Y, and dropping the tilt would move
      the corners.
    * 2D box: with projection (P2, 3x4) and image_size (width, height) the 8 corners, cut at 1 cm in front of the
      camera, are projected and their extent clipped to [0, width - 1] x [0, height - 1]. A cuboid whose box
      misses the image is dropped (KITTI labels what the camera sees) or, with outside_image="error", an error.
      Without both the box is written 0.00 0.00 0.00 0.00 (KITTI's "no 2D box").
    * type = label with spaces as '_'; truncated 0.00 (not computed); occluded from an attribute named occluded
      or occlusion (any case) when it is an int 0-3, else 0, written as an integer like KITTI's own files; other
      numbers with 2 decimals. Ends with a newline per line; a frame without cuboids gives "".
    """
    rotation, translation = _rigid_transform(velo_to_cam)
    camera_projection = _projection(projection, image_size)
    lines = []
    for number, cuboid in enumerate(frame.cuboids):
        where = f"frame {frame.index}, cuboid {number} ({cuboid.object_name})"
        box = _kitti_box(cuboid, rotation, translation, where)
        extent = (0.0, 0.0, 0.0, 0.0)
        if camera_projection is not None:
            matrix, (image_width, image_height) = camera_projection
            seen = _image_extent(kitti_box_corners(box), matrix, image_width, image_height)
            if seen is None:
                if outside_image == "error":
                    raise PointCloudOutputError(
                        "outside-image",
                        f"{where} does not appear in the {image_width}x{image_height} image; remove it or pass "
                        "outside_image='drop'",
                    )
                continue
            extent = seen
        numbers = (box.alpha, *extent, *box.dimensions, *box.location, box.rotation_y)
        fields = [cuboid.label.replace(" ", "_"), _kitti_number(0.0), str(_occlusion(cuboid.attributes))]
        fields += [_kitti_number(value) for value in numbers]
        lines.append(" ".join(fields))
    return "".join(f"{line}\n" for line in lines)


def kitti_box_corners(box: KittiBox) -> npt.NDArray[np.float64]:
    """The 8 corners (8x3, camera frame) of a KITTI box; corner index bits are (top, length side, width side)."""
    height, width, length = box.dimensions
    local = np.array(
        [[sx * length / 2, -height * top, sz * width / 2] for top in (0, 1) for sx in (1, -1) for sz in (1, -1)]
    )
    cos, sin = math.cos(box.rotation_y), math.sin(box.rotation_y)
    turn = np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])
    return np.asarray(local @ turn.T + np.array(box.location), dtype=np.float64)


def cuboid_corners(cuboid: Cuboid) -> npt.NDArray[np.float64]:
    """The 8 corners (8x3) of a Ground Truth cuboid in the point cloud frame; R = Rz(yaw) Ry(pitch) Rx(roll)."""
    length, width, height = cuboid.dimensions
    roll, pitch, yaw = cuboid.rotation
    half = np.array([length, width, height]) / 2.0
    signs = np.array([[sx, sy, sz] for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)], dtype=float)
    rotation = _rotation_z(yaw) @ _rotation_y(pitch) @ _rotation_x(roll)
    return np.asarray((signs * half) @ rotation.T + np.array(cuboid.center, dtype=float), dtype=np.float64)


# ---------------------------------------------------------------------------------------------------- tracks


def tracks_document(
    frames: Sequence[FrameLabels], *, sequence: str, timestamps: Sequence[float] | None = None
) -> dict[str, Any]:
    """The tracks JSON of one sequence (format in the module docstring); timestamps[i] belongs to frames[i]."""
    if timestamps is not None and len(timestamps) != len(frames):
        raise PointCloudOutputError(
            "timestamp-count-mismatch",
            f"sequence {sequence!r}: {len(timestamps)} timestamps for {len(frames)} frames; give one per frame",
        )
    _check_unique_frames(frames)
    stamped = sorted(
        zip(frames, timestamps if timestamps is not None else [None] * len(frames), strict=True),
        key=lambda pair: pair[0].index,
    )
    tracks: dict[str, dict[str, Any]] = {}
    label_seen: dict[str, tuple[str, int]] = {}  # object id -> (label, first frame with it)
    for frame, timestamp in stamped:
        where = f"sequence {sequence!r}, frame {frame.index}"
        _check_unique_object_ids([cuboid.object_id for cuboid in frame.cuboids], where)
        for number, cuboid in enumerate(frame.cuboids):
            object_id = cuboid.object_id
            if object_id is None:
                raise PointCloudOutputError(
                    "missing-object-id",
                    f"{where}, cuboid {number} ({cuboid.object_name}) has no object id; tracks need tracking job "
                    "outputs, whose cuboids carry object-id",
                )
            if object_id in label_seen and label_seen[object_id][0] != cuboid.label:
                label, first = label_seen[object_id]
                raise PointCloudOutputError(
                    "label-change",
                    f"sequence {sequence!r}: object {object_id} is {label!r} in frame {first} but "
                    f"{cuboid.label!r} in frame {frame.index}; give one object one label throughout (correct it "
                    "in an adjustment job)",
                )
            label_seen.setdefault(object_id, (cuboid.label, frame.index))
            track = tracks.setdefault(
                object_id,
                {
                    "object_id": object_id,
                    "label": cuboid.label,
                    "object_name": cuboid.object_name,
                    "first_frame": frame.index,
                    "last_frame": frame.index,
                    "boxes": [],
                },
            )
            track["last_frame"] = frame.index
            track["boxes"].append(
                {
                    "frame": frame.index,
                    "frame_name": frame.name,
                    "timestamp": timestamp,
                    "center": list(cuboid.center),
                    "dimensions": list(cuboid.dimensions),
                    "rotation": list(cuboid.rotation),
                    "attributes": dict(cuboid.attributes),
                }
            )
    return {"sequence": sequence, "frame_count": len(frames), "tracks": list(tracks.values())}


# ---------------------------------------------------------------------------------------------------- parts


def _line_name(line: Mapping[str, Any]) -> str:
    source = line.get("source-ref")
    return f"line {source!r}" if isinstance(source, str) else "line without source-ref"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _require_ref(attribute: str, where: str, kind: str) -> None:
    if not attribute.endswith("-ref"):
        raise PointCloudOutputError(
            "attribute-missing-ref",
            f"{where}: {kind} labels are files, so their attribute ends in -ref (got {attribute!r}); "
            f"pass the {kind} job's label attribute name, e.g. {attribute}-ref",
        )


def _label_and_metadata(line: Mapping[str, Any], attribute: str) -> tuple[Any, Mapping[str, Any]]:
    where = _line_name(line)
    if attribute not in line:
        present = sorted(key for key in line if key.endswith("-metadata"))
        raise PointCloudOutputError(
            "unlabeled-line",
            f"{where} has no {attribute!r} label (labelled attributes: {present}); the job left it unlabelled "
            "or the attribute name is wrong",
        )
    metadata = line.get(f"{attribute}-metadata")
    if not isinstance(metadata, Mapping):
        raise PointCloudOutputError(
            "missing-metadata",
            f"{where} has {attribute!r} but no {attribute}-metadata object; Ground Truth writes both, so the line "
            "was edited: restore the metadata",
        )
    return line[attribute], metadata


def _check_type(metadata: Mapping[str, Any], expected: str, where: str) -> None:
    if metadata.get("type") != expected:
        raise PointCloudOutputError(
            "wrong-type",
            f"{where}: type is {metadata.get('type')!r}, expected {expected!r}; read this line with the function "
            "for its job type or pass the right label attribute",
        )


def _class_map(metadata: Mapping[str, Any], where: str) -> dict[str, str]:
    dashed, underscored = metadata.get("class-map"), metadata.get("class_map")
    if dashed is not None and underscored is not None and dashed != underscored:
        raise PointCloudOutputError(
            "conflicting-class-maps", f"{where} has both class-map and class_map and they differ; keep one"
        )
    class_map = dashed if dashed is not None else underscored
    if not isinstance(class_map, Mapping) or not class_map:
        raise PointCloudOutputError(
            "missing-class-map",
            f"{where} has no class-map (or class_map) object; it must map class-id strings to label names",
        )
    for key, name in class_map.items():
        if not (isinstance(key, str) and key.isdecimal() and isinstance(name, str) and name):
            raise PointCloudOutputError(
                "malformed-class-map",
                f"{where}: class map entry {key!r}: {name!r} must map a class-id string like '0' to a label name",
            )
    return {str(key): str(name) for key, name in class_map.items()}


def _color_map(color_map: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(color_map, Mapping) or not color_map:
        raise PointCloudOutputError(
            "malformed-color-map",
            f"{where} must map class indices to {{class-name, hex-color}}, got {_short(color_map)}",
        )
    for key, entry in color_map.items():
        if not (isinstance(key, str) and key.isdecimal() and int(key) <= 255):
            raise PointCloudOutputError(
                "malformed-color-map", f"{where}: key {key!r} must be a class index string '0'-'255'"
            )
        if not isinstance(entry, Mapping) or not isinstance(entry.get("class-name"), str):
            raise PointCloudOutputError(
                "malformed-color-map", f"{where}: entry {key} must be an object with a class-name string"
            )
    return {key: dict(entry) for key, entry in color_map.items()}


def _check_known_indices(labels: Labels, color_map: Mapping[str, Mapping[str, Any]]) -> None:
    known = {int(key) for key in color_map}
    unknown = sorted(int(index) for index in np.unique(labels) if int(index) not in known)
    if unknown:
        raise PointCloudOutputError(
            "unknown-class-index",
            f"segmentation labels use class indices {unknown} that the color-map lacks (it has {sorted(known)}); "
            "pass the color-map of the job that wrote the labels",
        )


def _number(annotation: Mapping[str, Any], key: str, where: str) -> float:
    if key not in annotation:
        raise PointCloudOutputError("missing-field", f"{where} has no {key!r}; every annotation needs it")
    value = annotation[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PointCloudOutputError("malformed-field", f"{where}: {key!r} must be a finite number, got {value!r}")
    return float(value)


def _integer(entry: Mapping[str, Any], key: str, where: str) -> int:
    if key not in entry:
        raise PointCloudOutputError("missing-field", f"{where} has no {key!r}; every entry needs it")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PointCloudOutputError("malformed-field", f"{where}: {key!r} must be an integer, got {value!r}")
    return value


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    if key not in entry:
        raise PointCloudOutputError("missing-field", f"{where} has no {key!r}; every annotation needs it")
    value = entry[key]
    if not isinstance(value, str) or not value:
        raise PointCloudOutputError("malformed-field", f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def _optional_string(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if entry.get(key) is None else _string(entry, key, where)


def _attributes(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PointCloudOutputError("malformed-field", f"{where} must be an object of name: value, got {_short(value)}")
    return dict(value)


def _label_for(class_id: int, object_name: str, class_map: Mapping[str, str] | None, where: str) -> str:
    if class_map is None:
        label = object_name.rpartition(":")[0]
        if not label:
            raise PointCloudOutputError(
                "unknown-label",
                f"{where}: object-name {object_name!r} is not '<label>:<n>' and no class map was given; pass the "
                "class map from the output manifest's metadata",
            )
        return label
    if str(class_id) not in class_map:
        raise PointCloudOutputError(
            "class-id-not-in-class-map",
            f"{where}: class-id {class_id} is not in the class map (ids {sorted(class_map, key=int)}); pass the "
            "class map of the job that wrote these labels",
        )
    return class_map[str(class_id)]


def _cuboid(annotation: Any, class_map: Mapping[str, str] | None, where: str, *, needs_object_id: bool) -> Cuboid:
    if not isinstance(annotation, Mapping):
        raise PointCloudOutputError("malformed-annotation", f"{where} must be an object, got {_short(annotation)}")
    values = {key: _number(annotation, key, where) for key in _CUBOID_NUMBERS}
    class_id = _integer(annotation, "class-id", where)
    object_name = _string(annotation, "object-name", where)
    object_id = _string(annotation, "object-id", where) if needs_object_id else annotation.get("object-id")
    for key in ("length", "width", "height"):
        if values[key] <= 0:
            raise PointCloudOutputError(
                "non-positive-dimension", f"{where}: {key} is {values[key]}; cuboid dimensions must be above 0 metres"
            )
    return Cuboid(
        label=_label_for(class_id, object_name, class_map, where),
        class_id=class_id,
        object_name=object_name,
        object_id=object_id if isinstance(object_id, str) else None,
        center=(values["center-x"], values["center-y"], values["center-z"]),
        dimensions=(values["length"], values["width"], values["height"]),
        rotation=(values["roll"], values["pitch"], values["yaw"]),
        attributes=_attributes(annotation.get("label-category-attributes"), f"{where}, label-category-attributes"),
    )


def _camera_box(annotation: Any, camera: str, class_map: Mapping[str, str] | None, where: str) -> CameraBox:
    if not isinstance(annotation, Mapping):
        raise PointCloudOutputError("malformed-annotation", f"{where} must be an object, got {_short(annotation)}")
    values = {key: _number(annotation, key, where) for key in _BOX_NUMBERS}
    class_id = _integer(annotation, "class-id", where)
    object_name = _string(annotation, "object-name", where)
    return CameraBox(
        camera=camera,
        label=_label_for(class_id, object_name, class_map, where),
        class_id=class_id,
        object_name=object_name,
        object_id=_string(annotation, "object-id", where),
        left=values["left"],
        top=values["top"],
        width=values["width"],
        height=values["height"],
        attributes=_attributes(annotation.get("label-category-attributes"), f"{where}, label-category-attributes"),
    )


def _tracking_entries(content: Any, where: str) -> list[Mapping[str, Any]]:
    entries = content.get("tracking-annotations") if isinstance(content, Mapping) else None
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise PointCloudOutputError(
            "malformed-seq-label", f"{where} must hold tracking-annotations, a list of frame objects"
        )
    return entries


def _annotations(entry: Mapping[str, Any], where: str) -> list[Any]:
    annotations = entry.get("annotations", [])
    if not isinstance(annotations, list):
        raise PointCloudOutputError("malformed-field", f"{where}: annotations must be a list")
    return annotations


def _check_unique_object_ids(object_ids: Sequence[str | None], where: str) -> None:
    ids = [object_id for object_id in object_ids if object_id is not None]
    repeated = sorted({object_id for object_id in ids if ids.count(object_id) > 1})
    if repeated:
        raise PointCloudOutputError(
            "duplicate-object-id",
            f"{where} holds object ids {repeated} more than once; one object has one box per frame",
        )


def _check_unique_frames(frames: Sequence[FrameLabels]) -> None:
    indices = [frame.index for frame in frames]
    repeated = sorted({index for index in indices if indices.count(index) > 1})
    if repeated:
        raise PointCloudOutputError("duplicate-frame", f"frames {repeated} appear more than once; merge them")


def _standard_metadata(kind: str, job_name: str, creation_date: str, adjustment_status: str | None) -> dict[str, Any]:
    if not _CREATION_DATE.match(creation_date):
        raise PointCloudOutputError(
            "malformed-creation-date",
            f"creation_date {creation_date!r} must be YYYY-MM-DDTHH:MM:SS.ffffff (UTC, no zone) like Ground Truth's",
        )
    if not job_name:
        raise PointCloudOutputError("malformed-job-name", "job_name is empty; pass the labeling job's name")
    metadata = {"type": kind, "human-annotated": "yes", "creation-date": creation_date, "job-name": job_name}
    if adjustment_status is not None:
        if adjustment_status not in ("adjusted", "unadjusted"):
            raise PointCloudOutputError(
                "malformed-adjustment-status",
                f"adjustment_status {adjustment_status!r} must be 'adjusted' or 'unadjusted'",
            )
        metadata["adjustment-status"] = adjustment_status
    return metadata


def _check_class(class_id: int, label: str, class_map: Mapping[str, str] | None, where: str) -> None:
    if class_map is not None and class_map.get(str(class_id)) != label:
        raise PointCloudOutputError(
            "class-id-not-in-class-map",
            f"{where}: class-id {class_id} is {class_map.get(str(class_id))!r} in the class map but the label is "
            f"{label!r}; make the class map and the labels agree",
        )


def _cuboid_json(cuboid: Cuboid, class_map: Mapping[str, str] | None, where: str) -> dict[str, Any]:
    _check_class(cuboid.class_id, cuboid.label, class_map, where)
    (x, y, z), (length, width, height), (roll, pitch, yaw) = cuboid.center, cuboid.dimensions, cuboid.rotation
    annotation: dict[str, Any] = {
        "label-category-attributes": dict(cuboid.attributes),
        "object-name": cuboid.object_name,
        "class-id": cuboid.class_id,
        "center-x": x,
        "center-y": y,
        "center-z": z,
        "length": length,
        "width": width,
        "height": height,
        "roll": roll,
        "pitch": pitch,
        "yaw": yaw,
    }
    if cuboid.object_id is not None:
        annotation["object-id"] = cuboid.object_id
    return annotation


def _box_json(box: CameraBox, class_map: Mapping[str, str] | None, where: str) -> dict[str, Any]:
    _check_class(box.class_id, box.label, class_map, where)
    return {
        "label-category-attributes": dict(box.attributes),
        "object-name": box.object_name,
        "class-id": box.class_id,
        "width": box.width,
        "height": box.height,
        "top": box.top,
        "left": box.left,
        "object-id": box.object_id,
    }


def _rigid_transform(velo_to_cam: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    matrix = np.asarray(velo_to_cam, dtype=float)
    if matrix.shape != (4, 4) or not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise PointCloudOutputError(
            "bad-calibration",
            f"velo_to_cam must be a 4x4 homogeneous transform with last row 0 0 0 1, got shape {matrix.shape}; "
            "pad KITTI's 3x4 Tr_velo_to_cam and R0_rect to 4x4 and multiply them",
        )
    rotation = matrix[:3, :3]
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-4) or np.linalg.det(rotation) < 0:
        raise PointCloudOutputError(
            "bad-calibration",
            "velo_to_cam's 3x3 part is not a rotation (orthonormal, determinant +1); pass a rigid lidar -> camera "
            "transform in metres",
        )
    return rotation, matrix[:3, 3]


def _projection(
    projection: npt.ArrayLike | None, image_size: tuple[int, int] | None
) -> tuple[npt.NDArray[np.float64], tuple[int, int]] | None:
    if projection is None or image_size is None:
        if (projection is None) != (image_size is None):
            raise PointCloudOutputError(
                "incomplete-projection",
                "pass both projection (P2) and image_size to compute 2D boxes, or neither to write 0.00 0.00 0.00 0.00",
            )
        return None
    matrix = np.asarray(projection, dtype=float)
    if matrix.shape != (3, 4):
        raise PointCloudOutputError(
            "bad-calibration", f"projection must be KITTI's 3x4 P2 matrix, got shape {matrix.shape}"
        )
    width, height = image_size
    if width <= 0 or height <= 0:
        raise PointCloudOutputError("bad-calibration", f"image_size {image_size} must be (width, height) in pixels")
    return matrix, (width, height)


def _image_extent(
    corners: npt.NDArray[np.float64], projection: npt.NDArray[np.float64], width: int, height: int
) -> tuple[float, float, float, float] | None:
    # Cut the box at the near plane: edges crossing it contribute their crossing point, so the extent of a box
    # partly behind the camera stays right instead of flipping through infinity.
    # Corner indices of kitti_box_corners are 3 bits (top, length side, width side): an edge flips exactly one.
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
    points = [corner for corner in corners if corner[2] >= _NEAR_PLANE]
    for a, b in edges:
        za, zb = corners[a][2], corners[b][2]
        if (za - _NEAR_PLANE) * (zb - _NEAR_PLANE) < 0:
            share = (_NEAR_PLANE - za) / (zb - za)
            points.append(corners[a] + share * (corners[b] - corners[a]))
    if not points:
        return None
    homogeneous = np.column_stack([np.array(points), np.ones(len(points))]) @ projection.T
    pixels = homogeneous[:, :2] / homogeneous[:, 2:3]
    left, top = pixels.min(axis=0)
    right, bottom = pixels.max(axis=0)
    if right < 0 or bottom < 0 or left > width - 1 or top > height - 1:
        return None
    return (
        float(np.clip(left, 0, width - 1)),
        float(np.clip(top, 0, height - 1)),
        float(np.clip(right, 0, width - 1)),
        float(np.clip(bottom, 0, height - 1)),
    )


def _kitti_box(
    cuboid: Cuboid, rotation: npt.NDArray[np.float64], translation: npt.NDArray[np.float64], where: str
) -> KittiBox:
    roll, pitch, yaw = cuboid.rotation
    if abs(roll) > _TILT_TOLERANCE or abs(pitch) > _TILT_TOLERANCE:
        raise PointCloudOutputError(
            "tilted-cuboid",
            f"{where} has roll {roll} and pitch {pitch}; KITTI boxes only turn about the vertical axis, so "
            "level the cuboid (roll = pitch = 0) before exporting to KITTI",
        )
    up = rotation @ np.array([0.0, 0.0, 1.0])
    if math.acos(float(np.clip(-up[1], -1.0, 1.0))) > _LEVEL_TOLERANCE:
        raise PointCloudOutputError(
            "camera-not-level",
            f"{where}: velo_to_cam maps the lidar's up axis to {np.round(up, 3).tolist()} in the camera, more "
            "than 5 degrees from the camera's -Y axis; KITTI needs a level rectified camera, so pass "
            "R0_rect @ Tr_velo_to_cam",
        )
    length, width, height = cuboid.dimensions
    heading = rotation @ np.array([math.cos(yaw), math.sin(yaw), 0.0])
    rotation_y = _wrap_angle(math.atan2(-heading[2], heading[0]))
    x, y, z = rotation @ np.array(cuboid.center, dtype=float) + translation + np.array([0.0, height / 2.0, 0.0])
    alpha = _wrap_angle(rotation_y - math.atan2(x, z))
    return KittiBox((float(height), float(width), float(length)), (float(x), float(y), float(z)), rotation_y, alpha)


def _occlusion(attributes: Mapping[str, Any]) -> int:
    for name, value in attributes.items():
        is_level = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3
        if name.lower() in _OCCLUSION_NAMES and is_level:
            return int(value)
    return 0


def _kitti_number(value: float) -> str:
    return f"{round(value, 2) + 0.0:.2f}"  # + 0.0 turns -0.0 into 0.0 so KITTI files never show -0.00


def _wrap_angle(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _rotation_x(angle: float) -> npt.NDArray[np.float64]:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])


def _rotation_y(angle: float) -> npt.NDArray[np.float64]:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])


def _rotation_z(angle: float) -> npt.NDArray[np.float64]:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
