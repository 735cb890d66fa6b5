"""Ground Truth's built-in image task types that the local stand-in emulates instead of calling AWS's Lambdas.

Emulated: `SemanticSegmentation`, `AdjustmentSemanticSegmentation`, `BoundingBox`, `AdjustmentBoundingBox`
(contracts 4.1). Every other built-in type still fails the job (the stand-in does not simulate it).

* Create time: the PRE- and ACS- ARNs must both be built-in and name the same task type (ValidationException).
* Job start (adjustment types): each line's existing label is read. It sits under the label category file's
  `auditLabelAttributeName` when given, else under the attribute whose `-metadata.type` is the task's output type
  (the last one in the line when several match). A line without it, or a semantic-segmentation label whose
  `internal-color-map` lacks `hex-color` (contracts 1.2), fails that object only, with a reason naming the line.
  Contracts 1.2 says the job's setup fails; failing the object keeps the other lines labelable and names the bad
  line, which is what the pipeline needs to act on.
* PRE: `taskInput = {"taskObject": source-ref, "labels": [label category file order], "manifestLine": line}`
  (contracts 4.2; `manifestLine` is documented for crowd-bounding-box audits only, UNCONFIRMED for the other
  types). A line without an s3:// `source-ref` fails.
* ACS: semantic segmentation takes the pixel-wise majority of the workers' masks (ties: the lowest class index)
  and writes one mode-P PNG per object (palette entry k = hex colour of class k, pixel value k; contracts 1.2.2's
  safe practice); bounding boxes are matched across workers by label and IoU >= 0.5 (greedy), averaged, and kept
  when a majority of workers drew them. Confidence is 0.0 with one worker (contracts 1.2.1).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from groundcrew.workflows.adjustment import masks
from groundcrew.workflows.adjustment.manifests import OBJECT_DETECTION_TYPE, SEMANTIC_SEGMENTATION_TYPE

SEMANTIC_SEGMENTATION_TYPES = frozenset({"SemanticSegmentation", "AdjustmentSemanticSegmentation"})
BOUNDING_BOX_TYPES = frozenset({"BoundingBox", "AdjustmentBoundingBox"})
EMULATED = SEMANTIC_SEGMENTATION_TYPES | BOUNDING_BOX_TYPES
BUILT_IN_ARN = re.compile(r":function:(PRE|ACS)-([A-Za-z0-9]+)$")
MATCH_IOU = 0.5

# (dataset object id, PNG bytes) -> the s3:// URI the mask was written to
StoreMask = Callable[[str, bytes], str]


class ObjectFailure(Exception):
    """This data object fails (FailedNonRetryableError) with this reason; the job goes on."""


def built_in_type(arn: str | None, prefix: str) -> str | None:
    """The task type of a built-in `PRE-`/`ACS-` Lambda ARN, None for a custom Lambda."""
    match = BUILT_IN_ARN.search(arn or "")
    return match.group(2) if match and match.group(1) == prefix else None


def lambda_mismatch(pre_arn: str | None, acs_arn: str | None) -> str | None:
    """Why Ground Truth refuses this PRE/ACS pair at CreateLabelingJob, or None."""
    pre, acs = built_in_type(pre_arn, "PRE"), built_in_type(acs_arn, "ACS")
    if (pre or acs) and pre != acs:
        return (
            f"PreHumanTaskLambdaArn ({pre_arn}) and AnnotationConsolidationLambdaArn ({acs_arn}) must name the same "
            f"built-in task type: PRE-{pre or '<custom>'} with ACS-{acs or '<custom>'}; use PRE-X with ACS-X, or "
            "custom Lambdas for both"
        )
    return None


@dataclass(frozen=True, slots=True)
class BuiltInTask:
    """One emulated built-in task type of one job."""

    task_type: str
    labels: tuple[str, ...]  # label category file order
    label_attribute: str
    job_name: str
    audit_attribute: str | None = None  # the label category file's auditLabelAttributeName

    @property
    def adjustment(self) -> bool:
        return self.task_type.startswith("Adjustment")

    @property
    def segmentation(self) -> bool:
        return self.task_type in SEMANTIC_SEGMENTATION_TYPES

    @property
    def output_type(self) -> str:
        return SEMANTIC_SEGMENTATION_TYPE if self.segmentation else OBJECT_DETECTION_TYPE

    # -- job start ----------------------------------------------------------------------------------------------

    def existing_attribute(self, line: Mapping[str, Any]) -> str | None:
        """The attribute holding the label this adjustment job starts from."""
        if self.audit_attribute:
            return self.audit_attribute if self.audit_attribute in line else None
        found = [
            key
            for key, value in line.items()
            if key != self.label_attribute
            and isinstance(line.get(f"{key}-metadata"), dict)
            and line[f"{key}-metadata"].get("type") == self.output_type
            and value is not None
        ]
        return found[-1] if found else None

    def setup_problem(self, line: Mapping[str, Any], line_number: int) -> str | None:
        """Why this line cannot be set up for the job (None for non-adjustment types)."""
        if not self.adjustment:
            return None
        where = f"input manifest line {line_number}"
        attribute = self.existing_attribute(line)
        if attribute is None:
            named = f"'{self.audit_attribute}'" if self.audit_attribute else f"an attribute of type {self.output_type}"
            return f"{where} holds no existing label to adjust ({named} with its -metadata)"
        metadata = line[f"{attribute}-metadata"]
        if self.segmentation:
            color_map = metadata.get("internal-color-map")
            if not isinstance(color_map, dict) or not color_map:
                return f"{where}: {attribute}-metadata has no internal-color-map"
            for key, entry in color_map.items():
                if not isinstance(entry, dict) or not re.fullmatch(r"#[0-9a-fA-F]{6}", str(entry.get("hex-color"))):
                    return (
                        f"{where}: {attribute}-metadata.internal-color-map[{key!r}] has no hex-color; semantic "
                        "segmentation adjustment needs '#rrggbb' colours for every class (contracts 1.2)"
                    )
            if not isinstance(line[attribute], str) or not line[attribute].startswith("s3://"):
                return f"{where}: {attribute} must be the s3:// URI of the mask"
        else:
            value = line[attribute]
            if not isinstance(value, dict) or not isinstance(value.get("annotations"), list):
                return f"{where}: {attribute} must hold an 'annotations' list"
            if not isinstance(metadata.get("class-map"), dict):
                return f"{where}: {attribute}-metadata has no class-map"
        return None

    # -- PRE ----------------------------------------------------------------------------------------------------

    def task_input(self, line: Mapping[str, Any]) -> dict[str, Any]:
        """What PRE-<type> returns as taskInput."""
        source = line.get("source-ref")
        if not isinstance(source, str) or not source.startswith("s3://"):
            raise ObjectFailure(f"PRE-{self.task_type}: the data object needs an s3:// source-ref image")
        return {"taskObject": source, "labels": list(self.labels), "manifestLine": dict(line)}

    # -- ACS ----------------------------------------------------------------------------------------------------

    def consolidate(
        self,
        object_id: str,
        line: Mapping[str, Any],
        contents: Sequence[str],
        creation_date: str,
        store_mask: StoreMask,
    ) -> dict[str, Any]:
        """`consolidatedAnnotation.content` for one object: `{<L>: value, <L>-metadata: metadata}`."""
        answers = [answer for answer in (_element_answer(text, self.segmentation) for text in contents) if answer]
        if not answers:
            raise ObjectFailure(f"ACS-{self.task_type}: no worker answer holds a usable {self.output_type} label")
        value: str | dict[str, Any]
        if self.segmentation:
            value, metadata = self._consolidate_masks(object_id, line, answers, store_mask)
        else:
            value, metadata = self._consolidate_boxes(answers)
        metadata.update(
            {
                "type": self.output_type,
                "human-annotated": "yes",
                "creation-date": creation_date,
                "job-name": self.job_name,
            }
        )
        if self.adjustment:
            modified = any(answer.get("initialValueModified") is True for answer in answers)
            metadata["adjustment-status"] = "adjusted" if modified else "unadjusted"
        return {self.label_attribute: value, f"{self.label_attribute}-metadata": metadata}

    def class_map(self, line: Mapping[str, Any], answers: Sequence[Mapping[str, Any]]) -> masks.ClassMap:
        """BACKGROUND, then the labels; colours from the existing label (adjustment), else the workers' mappings."""
        colors: dict[str, str] = {}
        for answer in answers:
            for name, entry in (answer.get("labelMappings") or {}).items():
                if name in self.labels and isinstance(entry, dict) and isinstance(entry.get("color"), str):
                    colors.setdefault(name, entry["color"].lower())
        attribute = self.existing_attribute(line) if self.adjustment else None
        if attribute is not None:
            for entry in line[f"{attribute}-metadata"].get("internal-color-map", {}).values():
                if entry.get("class-name") in self.labels:
                    colors[entry["class-name"]] = str(entry["hex-color"]).lower()
        try:
            return masks.ClassMap.from_labels(list(self.labels), colors)
        except ValueError as error:
            raise ObjectFailure(f"ACS-{self.task_type}: the class colours are unusable: {error}") from None

    def _consolidate_masks(
        self, object_id: str, line: Mapping[str, Any], answers: Sequence[Mapping[str, Any]], store_mask: StoreMask
    ) -> tuple[str, dict[str, Any]]:
        class_map = self.class_map(line, answers)
        decoded = [mask for mask in (_worker_mask(answer, class_map) for answer in answers) if mask is not None]
        if not decoded:
            raise ObjectFailure(f"ACS-{self.task_type}: no worker mask could be decoded")
        shape = decoded[0].shape
        stack = np.stack([mask for mask in decoded if mask.shape == shape])
        counts = np.stack([(stack == index).sum(axis=0) for index in range(len(class_map.names))])
        majority = counts.argmax(axis=0).astype(np.uint8)  # argmax: the lowest index wins a tie
        workers = stack.shape[0]
        confidence = round(float((counts.max(axis=0) / workers).mean()), 2) if workers > 1 else 0.0
        uri = store_mask(object_id, palette_png(majority, class_map))
        color_map = {
            str(index): {"class-name": name, "hex-color": color, "confidence": confidence}
            for index, (name, color) in enumerate(zip(class_map.names, class_map.colors, strict=True))
        }
        return uri, {"internal-color-map": color_map}

    def _consolidate_boxes(self, answers: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        size = next(
            (a["inputImageProperties"] for a in answers if isinstance(a.get("inputImageProperties"), dict)), None
        )
        if size is None:
            raise ObjectFailure(f"ACS-{self.task_type}: no worker answer gives inputImageProperties")
        drawn = [[box for box in _boxes(answer) if box["label"] in self.labels] for answer in answers]
        workers = len(drawn)
        clusters: list[list[dict[str, Any]]] = []
        for boxes in drawn:
            taken: set[int] = set()  # a worker's boxes join distinct clusters
            for box in boxes:
                best, best_iou = None, MATCH_IOU
                for position, cluster in enumerate(clusters):
                    if position in taken or cluster[0]["label"] != box["label"]:
                        continue
                    overlap = iou(_mean_box(cluster), box)
                    if overlap >= best_iou:
                        best, best_iou = position, overlap
                if best is None:
                    clusters.append([box])
                    taken.add(len(clusters) - 1)
                else:
                    clusters[best].append(box)
                    taken.add(best)
        kept = [cluster for cluster in clusters if workers == 1 or len(cluster) * 2 > workers]
        annotations, objects, class_map = [], [], {}
        for cluster in kept:
            mean = _mean_box(cluster)
            class_id = self.labels.index(cluster[0]["label"])
            class_map[str(class_id)] = cluster[0]["label"]
            annotations.append(
                {"class_id": class_id, **{k: round(mean[k]) for k in ("left", "top", "width", "height")}}
            )
            objects.append({"confidence": round(len(cluster) / workers, 2) if workers > 1 else 0.0})
        value = {
            "image_size": [{"width": int(size["width"]), "height": int(size["height"]), "depth": 3}],
            "annotations": annotations,
        }
        return value, {"objects": objects, "class-map": class_map}


def palette_png(mask: npt.NDArray[np.uint8], class_map: masks.ClassMap) -> bytes:
    """A mode-P PNG: pixel value = class index, palette entry k = hex colour of class k."""
    return masks.encode_palette_mask(mask, class_map.colors)


def iou(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Intersection over union of two `{left, top, width, height}` boxes."""
    width = min(a["left"] + a["width"], b["left"] + b["width"]) - max(a["left"], b["left"])
    height = min(a["top"] + a["height"], b["top"] + b["height"]) - max(a["top"], b["top"])
    inter = max(0.0, width) * max(0.0, height)
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def _mean_box(cluster: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    return {key: sum(float(box[key]) for box in cluster) / len(cluster) for key in ("left", "top", "width", "height")}


def _element_answer(text: str, segmentation: bool) -> dict[str, Any] | None:
    """The crowd element's part of one worker's submission; None when it is malformed."""
    try:
        content = json.loads(text)
    except ValueError:
        return None
    if not isinstance(content, dict):
        return None
    key = "labeledImage" if segmentation else "boundingBoxes"
    found = [value for value in content.values() if isinstance(value, dict) and key in value]
    return found[0] if found else None


def _boxes(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    boxes = []
    for box in answer.get("boundingBoxes") or []:
        try:
            boxes.append({"label": box["label"], **{k: float(box[k]) for k in ("left", "top", "width", "height")}})
        except (KeyError, TypeError, ValueError):
            continue
    return boxes


def _worker_mask(answer: Mapping[str, Any], class_map: masks.ClassMap) -> npt.NDArray[np.uint8] | None:
    """The worker's colour mask as class indices of `class_map`; colours the worker's mappings do not name -> 0."""
    try:
        data = base64.b64decode(answer["labeledImage"]["pngImageData"], validate=True)
        image = Image.open(io.BytesIO(data)).convert("RGB")
    except (KeyError, TypeError, ValueError, UnidentifiedImageError, OSError):
        return None
    lookup: dict[int, int] = {int(masks.BACKGROUND_COLOR[1:], 16): 0}
    for name, entry in (answer.get("labelMappings") or {}).items():
        if name in class_map.names and isinstance(entry, dict) and isinstance(entry.get("color"), str):
            lookup[int(entry["color"].lstrip("#")[:6], 16)] = class_map.index(name)
    rgb = np.asarray(image, dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    found, inverse = np.unique(packed, return_inverse=True)
    indices = np.asarray([lookup.get(int(value), 0) for value in found], dtype=np.uint8)
    return indices[inverse.reshape(packed.shape)]
