"""Bounding boxes from Pascal VOC XML and YOLO txt files, as Ground Truth bounding-box labels.

Ground Truth's box is integer pixels, origin at the image's top-left corner, `left`/`top` the box's top-left
pixel and `width`/`height` counted in pixels (contracts 1.2.1).

Pascal VOC numbers pixels from 1 and its `xmax`/`ymax` name the last pixel inside the box, so a VOC box covers
pixels xmin..xmax inclusive: left = xmin - 1, width = xmax - xmin + 1 (and the same for y). A box with
xmin == xmax is one pixel wide; xmax < xmin is degenerate. Non-integer coordinates (some tools write them) are
rounded half up to a pixel first.

YOLO lines are `class cx cy w h`, all normalised to 0..1 by the image size, which the file does not carry: the
caller reads it from the image header. The box edges cx -/+ w/2 are scaled to pixels and rounded half up, so the
two edges round the same way and the width is the difference of the rounded edges.

Boxes partly outside the image are clipped to it; boxes entirely outside are refused, as are boxes with no area.
Every refusal names the image, the item, the rule and what to do about it; the rest of the image is still used.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from groundcrew.core.imports import Refusal
from groundcrew.workflows.adjustment.manifests import OBJECT_DETECTION_TYPE, human_annotated_flag

# Contracts 1.1, label-category quotas: a bounding-box job takes at most 50 label categories.
MAX_BOX_CATEGORIES = 50
MAX_CATEGORY_NAME = 256
DEFAULT_DEPTH = 3  # VOC files without <depth> are RGB images in practice

# Entity declarations are how XML bombs and external-entity reads get in; annotation files never need them.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_VOC_CORNERS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True, slots=True)
class Box:
    class_name: str
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class BoxImage:
    file_name: str
    width: int
    height: int
    depth: int
    boxes: list[Box] = field(default_factory=list)


def _round_half_up(value: float) -> int:
    # Python's round() goes to even, which would move .5 edges differently on either side of a box.
    return math.floor(value + 0.5)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _clip_box(
    class_name: str, left: int, top: int, right: int, bottom: int, *, width: int, height: int
) -> tuple[Box | None, str | None]:
    """The box within the image, from pixel edges (right/bottom exclusive); or the rule it breaks."""
    if right <= left or bottom <= top:
        return None, "box-degenerate"
    if right <= 0 or bottom <= 0 or left >= width or top >= height:
        return None, "box-outside-image"
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width), min(bottom, height)
    return Box(class_name, left, top, right - left, bottom - top), None


_FIXES = {
    "box-degenerate": "the box has no area; fix or delete it in the annotation tool",
    "box-outside-image": "the box lies entirely outside the image; check that the annotation belongs to this image",
}


def parse_voc(xml_text: str) -> tuple[BoxImage | None, list[Refusal]]:
    """The image and boxes of one Pascal VOC annotation file, with the objects refused and why."""
    if _DECLARATION.search(xml_text):
        return None, [
            Refusal(None, "document", "xml-declarations", "DOCTYPE/ENTITY declarations are refused; remove them")
        ]
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as error:
        return None, [Refusal(None, "document", "bad-xml", f"not well-formed XML ({error}); re-export the file")]
    file_name = (root.findtext("filename") or "").strip() or None
    size = root.find("size")
    width = _number(size.findtext("width")) if size is not None else None
    height = _number(size.findtext("height")) if size is not None else None
    if size is None or not all(value is not None and value > 0 and value.is_integer() for value in (width, height)):
        message = "<size> needs positive integer <width> and <height>; add them from the image"
        return None, [Refusal(file_name, "size", "missing-size", message)]
    assert width is not None and height is not None  # checked just above; narrows the types
    depth = _number(size.findtext("depth"))
    image_depth = int(depth) if depth is not None and depth > 0 and depth.is_integer() else DEFAULT_DEPTH
    image = BoxImage(file_name or "", int(width), int(height), image_depth)
    refusals: list[Refusal] = []
    for index, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        item = f"object {index} ({name or 'unnamed'})"
        if not name:
            refusals.append(Refusal(file_name, item, "missing-name", "the object has no <name>; add its class"))
            continue
        bndbox = obj.find("bndbox")  # direct child only: <part> boxes inside the object are not objects
        corners = [_number(bndbox.findtext(tag)) if bndbox is not None else None for tag in _VOC_CORNERS]
        if any(value is None for value in corners):
            refusals.append(
                Refusal(file_name, item, "bad-coordinates", "<bndbox> needs numeric xmin, ymin, xmax and ymax")
            )
            continue
        xmin, ymin, xmax, ymax = (_round_half_up(value) for value in corners if value is not None)
        # 1-based inclusive corners to 0-based edges, right/bottom exclusive.
        box, rule = _clip_box(name, xmin - 1, ymin - 1, xmax, ymax, width=image.width, height=image.height)
        if box is None and rule is not None:
            message = f"{_FIXES[rule]} (xmin={xmin}, ymin={ymin}, xmax={xmax}, ymax={ymax})"
            refusals.append(Refusal(file_name, item, rule, message))
        elif box is not None:
            image.boxes.append(box)
    return image, refusals


def parse_yolo(
    text: str, *, file_name: str, width: int, height: int, class_names: Sequence[str], depth: int = DEFAULT_DEPTH
) -> tuple[BoxImage, list[Refusal]]:
    """The boxes of one YOLO label file for an image of the given size, with the lines refused and why."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image {file_name!r}: size {width}x{height} is not a size; read it from the image header")
    image = BoxImage(file_name, width, height, depth)
    refusals: list[Refusal] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        item = f"line {number}"
        values = [_number(value) for value in fields]
        if len(fields) != 5 or any(value is None for value in values):
            refusals.append(
                Refusal(file_name, item, "bad-coordinates", f"expected 'class cx cy w h' as 5 numbers, got {line!r}")
            )
            continue
        class_id, cx, cy, w, h = (value for value in values if value is not None)
        if not class_id.is_integer() or not 0 <= class_id < len(class_names):
            refusals.append(
                Refusal(
                    file_name,
                    item,
                    "unknown-category",
                    f"class {fields[0]} is not an index into the {len(class_names)} class names given; "
                    "pass the dataset's names list in its order",
                )
            )
            continue
        name = class_names[int(class_id)]
        left = _round_half_up((cx - w / 2) * width)
        right = _round_half_up((cx + w / 2) * width)
        top = _round_half_up((cy - h / 2) * height)
        bottom = _round_half_up((cy + h / 2) * height)
        box, rule = _clip_box(name, left, top, right, bottom, width=width, height=height)
        if box is None and rule is not None:
            refusals.append(
                Refusal(
                    file_name,
                    f"{item} ({name})",
                    rule,
                    f"{_FIXES[rule]} ({line.strip()!r}; values must be normalised to 0..1)",
                )
            )
        elif box is not None:
            image.boxes.append(box)
    return image, refusals


def class_map(names: Iterable[str], *, limit: int = MAX_BOX_CATEGORIES) -> dict[str, int]:
    """Class ids for names in first-seen order; pass the label list first to fix the order."""
    mapping: dict[str, int] = {}
    for name in names:
        if not name or len(name) > MAX_CATEGORY_NAME:
            raise ValueError(f"label {name[:40]!r}: names must be 1-{MAX_CATEGORY_NAME} characters")
        mapping.setdefault(name, len(mapping))
    if len(mapping) > limit:
        raise ValueError(
            f"{len(mapping)} label categories, but a bounding-box job takes at most {limit}; "
            "merge or drop categories before importing"
        )
    return mapping


def refuse_unknown_classes(image: BoxImage, classes: Mapping[str, int]) -> tuple[BoxImage, list[Refusal]]:
    """The image without boxes whose class is not in the class map, and a refusal for each one dropped."""
    kept = [box for box in image.boxes if box.class_name in classes]
    refusals = [
        Refusal(
            image.file_name,
            f"box {index} ({box.class_name})",
            "unknown-category",
            f"class {box.class_name!r} is not in the label list; add it or rename the box",
        )
        for index, box in enumerate(image.boxes, start=1)
        if box.class_name not in classes
    ]
    return replace(image, boxes=kept), refusals


def to_ground_truth(image: BoxImage, classes: Mapping[str, int]) -> dict[str, Any]:
    """The bounding-box label value of one image (contracts 1.2.1)."""
    unknown = sorted({box.class_name for box in image.boxes} - set(classes))
    if unknown:
        raise ValueError(f"image {image.file_name!r}: classes {unknown} are not in the class map")
    return {
        "image_size": [{"width": image.width, "height": image.height, "depth": image.depth}],
        "annotations": [
            {
                "class_id": classes[box.class_name],
                "left": box.left,
                "top": box.top,
                "width": box.width,
                "height": box.height,
            }
            for box in image.boxes
        ],
    }


def box_metadata(
    image: BoxImage, classes: Mapping[str, int], *, job_name: str, created: str, human_annotated: bool = False
) -> dict[str, Any]:
    """The `<attribute>-metadata` of an imported bounding-box label (contracts 1.2.1).

    human-annotated defaults to "no": Ground Truth's "yes" says its own workers drew the label, and an imported
    file may as well hold a model's predictions (YOLO txt often does). The adjustment job's output is "yes".
    Confidence is 0.0, as Ground Truth writes for a single unconsolidated answer. class-map lists the classes
    present in this image, as Ground Truth's output does.
    """
    used = {box.class_name for box in image.boxes}
    return {
        "objects": [{"confidence": 0.0} for _ in image.boxes],
        "class-map": {str(classes[name]): name for name in sorted(used, key=lambda name: classes[name])},
        "type": OBJECT_DETECTION_TYPE,
        "human-annotated": human_annotated_flag(human_annotated),
        "creation-date": created,
        "job-name": job_name,
    }
