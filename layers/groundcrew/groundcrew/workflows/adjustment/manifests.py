"""Augmented manifest lines for adjustment jobs, and the rules a label attribute name must follow.

An adjustment job reads the previous labels from the manifest line under `<attribute>` and `<attribute>-metadata`
(contracts 1.2) and must write its own labels under a different attribute name.

Attribute-name rules (contracts 6.1 and 1.1): 1-127 characters of letters, digits and single or repeated hyphens
between them; not `source` or `source-ref`; not ending in `-metadata`. The `-ref` suffix depends on the task type
(the PRE-/ACS- Lambda suffix, contracts 4.1):

* must end in `-ref`: SemanticSegmentation, VideoObjectDetection, VideoObjectTracking,
  3DPointCloudSemanticSegmentation, 3DPointCloudObjectTracking, and the Adjustment... type of each;
* must not end in `-ref`: every other type, including VerificationSemanticSegmentation (the current API text
  makes it an explicit exception), BoundingBox and its audits, the classification types, NER,
  3D point cloud object detection and its audit, and PassThrough (custom) jobs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

REF_REQUIRED = frozenset(
    {
        "SemanticSegmentation",
        "AdjustmentSemanticSegmentation",
        "VideoObjectDetection",
        "AdjustmentVideoObjectDetection",
        "VideoObjectTracking",
        "AdjustmentVideoObjectTracking",
        "3DPointCloudSemanticSegmentation",
        "Adjustment3DPointCloudSemanticSegmentation",
        "3DPointCloudObjectTracking",
        "Adjustment3DPointCloudObjectTracking",
    }
)
REF_FORBIDDEN = frozenset(
    {
        "BoundingBox",
        "AdjustmentBoundingBox",
        "VerificationBoundingBox",
        "VerificationSemanticSegmentation",
        "ImageMultiClass",
        "ImageMultiClassMultiLabel",
        "TextMultiClass",
        "TextMultiClassMultiLabel",
        "NamedEntityRecognition",
        "VideoMultiClass",
        "3DPointCloudObjectDetection",
        "Adjustment3DPointCloudObjectDetection",
        "PassThrough",
    }
)
TASK_TYPES = REF_REQUIRED | REF_FORBIDDEN

MAX_ATTRIBUTE_NAME = 127
MAX_LINE_CHARS = 100_000  # contracts 1.1: one manifest line (JSON object)
MAX_ATTRIBUTE_CHARS = 20_000  # contracts 1.1: one attribute of a line
RESERVED_NAMES = frozenset({"source", "source-ref"})
SEMANTIC_SEGMENTATION_TYPE = "groundtruth/semantic-segmentation"
OBJECT_DETECTION_TYPE = "groundtruth/object-detection"


def human_annotated_flag(human_annotated: bool) -> str:
    """Ground Truth's spelling; imported labels default to "no" (they may be another tool's model output)."""
    return "yes" if human_annotated else "no"


ADJUSTED_SUFFIX = "-adjusted"

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def check_label_attribute_name(name: str, task_type: str) -> list[str]:
    """Every rule the label attribute name breaks for this task type; empty when it is usable."""
    problems: list[str] = []
    if task_type not in TASK_TYPES:
        problems.append(f"task type {task_type!r} is unknown; use one of {sorted(TASK_TYPES)}")
    if not 1 <= len(name) <= MAX_ATTRIBUTE_NAME:
        problems.append(f"{name[:40]!r}: must be 1-{MAX_ATTRIBUTE_NAME} characters, is {len(name)}")
    if not _NAME.fullmatch(name):
        problems.append(
            f"{name[:40]!r}: use letters, digits and hyphens, starting and ending with a letter or digit "
            "(no '_', '.', '$' or spaces)"
        )
    if name in RESERVED_NAMES:
        problems.append(f"{name!r} is reserved for the data object; choose another name")
    if name.endswith("-metadata"):
        problems.append(f"{name[:40]!r}: must not end in '-metadata', which names the label's metadata")
    if task_type in REF_REQUIRED and not name.endswith("-ref"):
        problems.append(f"{name[:40]!r}: {task_type} labels are S3 references, so the name must end in '-ref'")
    if task_type in REF_FORBIDDEN and name.endswith("-ref"):
        problems.append(f"{name[:40]!r}: {task_type} labels are not S3 references, so the name must not end in '-ref'")
    return problems


def adjustment_attribute_name(original: str, task_type: str) -> str:
    """The adjustment job's own attribute name: the original's base plus '-adjusted', '-ref' as the type needs."""
    base = original.removesuffix("-ref")
    suffix = ADJUSTED_SUFFIX + ("-ref" if task_type in REF_REQUIRED else "")
    # Long names lose the end of their base, not the suffix that says what they are.
    base = base[: MAX_ATTRIBUTE_NAME - len(suffix)].rstrip("-")
    name = base + suffix
    problems = check_label_attribute_name(name, task_type)
    if name == original:
        problems.append(f"{name!r} is the original's name; the adjustment job needs a different one")
    if problems:
        raise ValueError(f"no adjustment name from {original!r}: " + "; ".join(problems))
    return name


def _check_attribute(attribute: str, task_type: str) -> None:
    problems = check_label_attribute_name(attribute, task_type)
    if problems:
        raise ValueError("; ".join(problems))


def _check_color_map(color_map: Mapping[str, Mapping[str, Any]]) -> None:
    for key, entry in color_map.items():
        if not key.isdigit():
            raise ValueError(f"internal-color-map key {key!r}: keys are class indices as strings, e.g. '0'")
        if not isinstance(entry.get("class-name"), str):
            raise ValueError(f"internal-color-map[{key!r}] needs a 'class-name'")
        # Contracts 1.2: an adjustment job without hex colours fails at setup.
        if not isinstance(entry.get("hex-color"), str) or not _HEX_COLOR.fullmatch(entry["hex-color"]):
            raise ValueError(f"internal-color-map[{key!r}] needs a 'hex-color' like '#2acf59'")


def mask_line(
    source_ref: str,
    mask_uri: str,
    attribute: str,
    color_map: Mapping[str, Mapping[str, Any]],
    *,
    job_name: str,
    created: str,
    human_annotated: bool = False,
) -> dict[str, Any]:
    """A manifest line carrying an existing semantic-segmentation mask (contracts 1.2.2).

    human-annotated defaults to "no" for the same reason as box imports: Ground Truth's workers did not draw it.
    """
    _check_attribute(attribute, "AdjustmentSemanticSegmentation")
    if not mask_uri.startswith("s3://"):
        raise ValueError(f"mask {mask_uri!r}: the label value must be the mask PNG's s3:// URI")
    _check_color_map(color_map)
    return {
        "source-ref": source_ref,
        attribute: mask_uri,
        f"{attribute}-metadata": {
            "internal-color-map": {key: dict(entry) for key, entry in color_map.items()},
            "type": SEMANTIC_SEGMENTATION_TYPE,
            "human-annotated": human_annotated_flag(human_annotated),
            "creation-date": created,
            "job-name": job_name,
        },
    }


def box_line(source_ref: str, value: Mapping[str, Any], metadata: Mapping[str, Any], attribute: str) -> dict[str, Any]:
    """A manifest line carrying an existing bounding-box label (contracts 1.2.1), checked for consistency."""
    _check_attribute(attribute, "AdjustmentBoundingBox")
    if not isinstance(value.get("image_size"), list) or len(value["image_size"]) != 1:
        raise ValueError(f"{attribute}: image_size must be a one-element list")
    annotations = value.get("annotations")
    if not isinstance(annotations, list):
        raise ValueError(f"{attribute}: annotations must be a list")
    objects = metadata.get("objects")
    if not isinstance(objects, list) or len(objects) != len(annotations):
        raise ValueError(f"{attribute}-metadata: objects must hold one confidence per annotation")
    classes = metadata.get("class-map", {})
    missing = sorted({str(box["class_id"]) for box in annotations} - set(classes))
    if missing:
        raise ValueError(f"{attribute}-metadata: class-map lacks the class ids {missing} used by the annotations")
    if metadata.get("type") != OBJECT_DETECTION_TYPE:
        raise ValueError(f"{attribute}-metadata: type must be {OBJECT_DETECTION_TYPE!r}")
    return {"source-ref": source_ref, attribute: dict(value), f"{attribute}-metadata": dict(metadata)}


def check_line_size(line: Mapping[str, Any]) -> list[str]:
    """What makes the line unusable in a manifest: its size, an attribute's size, or a name starting with '$'."""
    problems: list[str] = []
    # Sizes are counted in characters of the serialised JSON, as the limits are stated.
    total = len(orjson.dumps(dict(line)).decode())
    if total > MAX_LINE_CHARS:
        problems.append(f"line is {total:,} characters; the limit is {MAX_LINE_CHARS:,}: split or simplify its labels")
    for name, value in line.items():
        if name.startswith("$"):
            problems.append(f"attribute {name!r}: names must not begin with '$'")
        size = len(orjson.dumps(value).decode())
        if size > MAX_ATTRIBUTE_CHARS:
            problems.append(
                f"attribute {name!r} is {size:,} characters; the limit is {MAX_ATTRIBUTE_CHARS:,}: "
                "fewer shapes per image or a shorter value"
            )
    return problems
