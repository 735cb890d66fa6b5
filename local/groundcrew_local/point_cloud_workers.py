"""Ground Truth's 3D point cloud task types, emulated by the local stand-in from an answer key.

AWS runs these jobs end to end: its own worker UI (HumanTaskUiArn), its own PRE-/ACS- Lambdas, no consolidation
across workers (one worker per object, contracts 6.1). The stand-in does what the job would leave behind: one
simulated worker per frame or sequence labels it from the answer key, and the output is written in AWS's format
(contracts 7.3): cuboids inline for detection, a `SeqLabel.json` for tracking, a `.zlib` of one class index per
point for semantic segmentation, all under `annotations/consolidated-annotation/output/<datasetObjectId>/`.

Answer key entries (keyed by the basename of the line's `source-ref`, like every other task type):

* detection: `{"cuboids": [{"label", "center": [x, y, z], "dimensions": [l, w, h], "yaw", "attributes"?}],
  "frame_attributes"?: {...}}`;
* tracking (key: the sequence file's name): `{"objects": [{"id", "label", "dimensions", "yaw",
  "centers": {"<frame index>": [x, y, z], ...}}]}`;
* segmentation: `{"regions": [{"label", "center", "dimensions", "yaw"}]}`: the worker paints the points inside each
  box (read from the frame the worker's browser loads) with its label, the rest Background.

A worker with `accuracy` a misses each object with probability 1 - a and places boxes within a couple of
centimetres; a spammer submits nothing. Audits (Adjustment... types) start from the line's existing labels (the
label category file's auditLabelAttributeName); a worker keeps them unless the answer key says otherwise, and the
output carries `adjustment-status`. What AWS's UI posts internally is not documented: the worker answers below
(`answerContent` of the worker-response files) use the output's own shapes (UNCONFIRMED).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from groundcrew.workflows.adjustment.masks import ClassMap
from groundcrew.workflows.point_cloud import outputs
from groundcrew.workflows.point_cloud.preflight import FLOATS_PER_POINT
from groundcrew_local.workforce import TaskContext

TASK_KINDS = {
    "3DPointCloudObjectDetection": "detection",
    "3DPointCloudObjectTracking": "tracking",
    "3DPointCloudSemanticSegmentation": "segmentation",
}
EMULATED = frozenset(TASK_KINDS) | frozenset(f"Adjustment{task_type}" for task_type in TASK_KINDS)
BACKGROUND = "Background"  # the class 0 of a 3D segmentation color-map (contracts 7.3)
PLACEMENT_NOISE_M = 0.02

# (dataset object id, file name, bytes) -> the s3:// URI the file was written to
StoreFile = Callable[[str, str, bytes], str]
Fetch = Callable[[str], bytes | None]


class ObjectFailure(Exception):
    """This data object fails (FailedNonRetryableError) with this reason; the job goes on."""


@dataclass(frozen=True, slots=True)
class PointCloudJob:
    """One emulated 3D job: its kind, classes (label category file order) and label attributes."""

    task_type: str
    labels: tuple[str, ...]
    label_attribute: str
    job_name: str
    audit_attribute: str | None = None

    @property
    def kind(self) -> str:
        return TASK_KINDS[self.task_type.removeprefix("Adjustment")]

    @property
    def audit(self) -> bool:
        return self.task_type.startswith("Adjustment")

    @property
    def class_map(self) -> dict[str, str]:
        return {str(index): label for index, label in enumerate(self.labels)}

    @property
    def color_map(self) -> dict[str, dict[str, Any]]:
        colors = ClassMap.from_labels(self.labels).colors
        names = (BACKGROUND, *self.labels)
        return {
            str(index): {"class-name": name, "hex-color": color, "confidence": 0.0}
            for index, (name, color) in enumerate(zip(names, colors, strict=True))
        }

    def setup_problem(self, line: Mapping[str, Any], line_number: int) -> str | None:
        """Why this line cannot be a task of the job (it fails alone), or None."""
        source = line.get("source-ref")
        if not isinstance(source, str) or not source.startswith("s3://"):
            return f"line {line_number}: 3D point cloud tasks need an s3:// source-ref"
        if self.kind != "tracking" and not isinstance(line.get("source-ref-metadata"), Mapping):
            return f"line {line_number}: a point cloud frame line needs source-ref-metadata (contracts 2.1)"
        if self.audit and (self.audit_attribute is None or self.audit_attribute not in line):
            return (
                f"line {line_number}: an audit job needs the earlier labels under the label category file's "
                f"auditLabelAttributeName ({self.audit_attribute!r})"
            )
        return None

    # -- what the worker submits -------------------------------------------------------------------------------

    def answer(self, line: Mapping[str, Any], context: TaskContext) -> dict[str, Any]:
        if context.worker.spammer:
            return {"annotations": []} if self.kind != "segmentation" else {"regions": []}
        truth = context.truth if isinstance(context.truth, Mapping) else None
        if self.kind == "detection":
            return self._detection_answer(line, truth, context)
        if self.kind == "tracking":
            return self._tracking_answer(line, truth, context)
        regions = list(truth.get("regions", [])) if truth else []
        return {"regions": [region for region in regions if context.rng.random() < context.worker.accuracy]}

    def _detection_answer(
        self, line: Mapping[str, Any], truth: Mapping[str, Any] | None, context: TaskContext
    ) -> dict[str, Any]:
        if truth is None and self.audit and self.audit_attribute:
            existing = outputs.detection_labels(line, self.audit_attribute)
            return {"annotations": [_cuboid_answer(c) for c in existing.cuboids], "unchanged": True}
        wanted = list(truth.get("cuboids", [])) if truth else []
        placed = [_jittered(c, context) for c in wanted if context.rng.random() < context.worker.accuracy]
        return {"annotations": placed, "frame_attributes": dict(truth.get("frame_attributes", {})) if truth else {}}

    def _tracking_answer(
        self, line: Mapping[str, Any], truth: Mapping[str, Any] | None, context: TaskContext
    ) -> dict[str, Any]:
        if truth is None:
            return {"annotations": [], "unchanged": self.audit}
        objects = []
        for track in truth.get("objects", []):
            if context.rng.random() >= context.worker.accuracy:
                continue
            centers = {int(frame): _noisy(center, context) for frame, center in dict(track["centers"]).items()}
            objects.append({**track, "centers": {str(frame): center for frame, center in sorted(centers.items())}})
        return {"annotations": objects}

    # -- what Ground Truth writes --------------------------------------------------------------------------------

    def consolidate(
        self,
        object_id: str,
        line: Mapping[str, Any],
        content: Mapping[str, Any],
        creation_date: str,
        store: StoreFile,
        fetch: Fetch,
    ) -> dict[str, Any]:
        """`{attribute: label, attribute-metadata: ...}` as the output manifest line carries it."""
        status = None
        if self.audit:
            status = "unadjusted" if content.get("unchanged") else "adjusted"
        attribute = self.label_attribute
        try:
            if self.kind == "detection":
                cuboids = [self._cuboid(entry, number) for number, entry in enumerate(content.get("annotations", []))]
                value, metadata = outputs.detection_output(
                    cuboids,
                    class_map=self.class_map,
                    job_name=self.job_name,
                    creation_date=creation_date,
                    frame_attributes=content.get("frame_attributes") or None,
                    adjustment_status=status,
                )
                return {attribute: value, f"{attribute}-metadata": metadata}
            if self.kind == "tracking":
                frames = self._tracked_frames(line, content, fetch)
                document = outputs.seq_label_document(frames, self.class_map)
                uri = store(object_id, "SeqLabel.json", _json_bytes(document))
                metadata = outputs.tracking_metadata(
                    class_map=self.class_map,
                    frame_numbers=[frame.index for frame in frames],
                    job_name=self.job_name,
                    creation_date=creation_date,
                    adjustment_status=status,
                )
                return {attribute: uri, f"{attribute}-metadata": metadata}
            labels = self._painted_points(line, content, fetch)
            name = f"{_frame_stem(str(line['source-ref']))}.zlib"
            uri = store(object_id, name, outputs.encode_segmentation(labels))
            metadata = outputs.segmentation_metadata(
                color_map=self.color_map, job_name=self.job_name, creation_date=creation_date, adjustment_status=status
            )
            return {attribute: uri, f"{attribute}-metadata": metadata}
        except (outputs.PointCloudOutputError, KeyError, TypeError, ValueError) as error:
            raise ObjectFailure(f"ClientError: the worker's {self.kind} answer cannot be saved: {error}") from None

    def _cuboid(self, entry: Mapping[str, Any], number: int, object_id: str | None = None) -> outputs.Cuboid:
        label = str(entry["label"])
        if label not in self.labels:
            raise ObjectFailure(f"ClientError: cuboid {number} has label {label!r}, not in the label category file")
        rotation = (0.0, 0.0, float(entry.get("yaw", 0.0)))
        return outputs.Cuboid(
            label=label,
            class_id=self.labels.index(label),
            object_name=f"{label}:{number + 1}",
            object_id=object_id,
            center=_triple(entry["center"]),
            dimensions=_triple(entry["dimensions"]),
            rotation=rotation,
            attributes=dict(entry.get("attributes", {})),
        )

    def _tracked_frames(
        self, line: Mapping[str, Any], content: Mapping[str, Any], fetch: Fetch
    ) -> list[outputs.FrameLabels]:
        sequence = _json_object(fetch(str(line["source-ref"])), "sequence file")
        names = [str(frame.get("frame", "")) for frame in sequence.get("frames", [])]
        if content.get("unchanged") and self.audit_attribute:
            seq_uri, class_map = outputs.tracking_output(line, self.audit_attribute)
            return outputs.tracking_labels(_json_object(fetch(seq_uri), "earlier SeqLabel.json"), class_map)
        cuboids: dict[int, list[outputs.Cuboid]] = {index: [] for index in range(len(names))}
        for number, track in enumerate(content.get("annotations", [])):
            object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.job_name}/{track['id']}"))
            for frame, center in dict(track["centers"]).items():
                index = int(frame)
                if index in cuboids:
                    entry = {**track, "center": center}
                    cuboids[index].append(self._cuboid(entry, number, object_id))
        return [
            outputs.FrameLabels(index=index, name=names[index], cuboids=tuple(found))
            for index, found in cuboids.items()
        ]

    def _painted_points(
        self, line: Mapping[str, Any], content: Mapping[str, Any], fetch: Fetch
    ) -> npt.NDArray[np.uint8]:
        source = str(line["source-ref"])
        data = fetch(source)
        if data is None:
            raise ObjectFailure(f"ClientError: the worker's browser could not load the frame {source}")
        metadata = line.get("source-ref-metadata") or {}
        fmt = str(metadata.get("format") or "binary/xyzi")
        width = FLOATS_PER_POINT.get(fmt)
        if width is None:
            raise ObjectFailure(f"ClientError: the stand-in paints binary frames only, not {fmt}")
        floats = np.frombuffer(data, dtype="<f4")
        if floats.size % width:
            raise ObjectFailure(f"ClientError: frame {source} is not a whole number of {fmt} points")
        xyz = floats.reshape(-1, width)[:, :3].astype(np.float64)
        labels = np.zeros(len(xyz), dtype=np.uint8)
        for region in content.get("regions", []):
            label = str(region["label"])
            if label not in self.labels:
                raise ObjectFailure(f"ClientError: region label {label!r} is not in the label category file")
            inside = _inside_box(xyz, _triple(region["center"]), _triple(region["dimensions"]), float(region["yaw"]))
            labels[inside] = self.labels.index(label) + 1  # 0 is Background
        return labels


def _inside_box(
    points: npt.NDArray[np.float64], center: tuple[float, float, float], dims: tuple[float, float, float], yaw: float
) -> npt.NDArray[np.bool_]:
    offset = points - np.asarray(center)
    cos, sin = math.cos(yaw), math.sin(yaw)
    along = offset[:, 0] * cos + offset[:, 1] * sin  # the box's own axes
    across = -offset[:, 0] * sin + offset[:, 1] * cos
    half = np.asarray(dims) / 2
    return (np.abs(along) <= half[0]) & (np.abs(across) <= half[1]) & (np.abs(offset[:, 2]) <= half[2])


def _cuboid_answer(cuboid: outputs.Cuboid) -> dict[str, Any]:
    return {
        "label": cuboid.label,
        "center": list(cuboid.center),
        "dimensions": list(cuboid.dimensions),
        "yaw": cuboid.rotation[2],
        "attributes": dict(cuboid.attributes),
    }


def _jittered(cuboid: Mapping[str, Any], context: TaskContext) -> dict[str, Any]:
    return {**cuboid, "center": _noisy(cuboid["center"], context)}


def _noisy(center: Sequence[float], context: TaskContext) -> list[float]:
    return [round(float(v) + context.rng.gauss(0.0, PLACEMENT_NOISE_M), 4) for v in center]


def _triple(value: Any) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in value)
    return (x, y, z)


def _frame_stem(uri: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", uri.rsplit("/", 1)[-1].rsplit(".", 1)[0]) or "frame"


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _json_object(data: bytes | None, what: str) -> dict[str, Any]:
    if data is None:
        raise ObjectFailure(f"ClientError: the {what} could not be loaded")
    try:
        parsed = json.loads(data)
    except ValueError as error:
        raise ObjectFailure(f"ClientError: the {what} is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise ObjectFailure(f"ClientError: the {what} must be a JSON object")
    return parsed
