"""Preflight rules of adjustment batches beyond the mask rules: the project's classes and the imported boxes.

The worker template of an adjustment job carries the project's classes and colours (`adjustment_tasks`), so every
line's existing label must use exactly those: a mask whose colour map differs is shown with the wrong classes, a
box whose class the label categories lack cannot be shown at all. Boxes must lie inside their image (contracts
1.2.1); Ground Truth does not say what it does with one that does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from groundcrew.core.manifests import ManifestLine
from groundcrew.core.preflight import Finding

ImageSize = Callable[[str], tuple[int, int] | None]  # an image's (width, height) by URI; None when unreadable


def check_color_maps(
    lines: Iterable[ManifestLine], attribute: str, names: Sequence[str], colors: Sequence[str]
) -> Iterator[Finding]:
    """Each line's internal-color-map names the project's classes with its colours, index for index."""
    expected = {str(i): (name, color.lower()) for i, (name, color) in enumerate(zip(names, colors, strict=True))}
    for line in lines:
        metadata = line.data.get(f"{attribute}-metadata")
        color_map = metadata.get("internal-color-map") if isinstance(metadata, dict) else None
        if not isinstance(color_map, dict):
            continue  # the mask rules report a missing map
        found = {
            key: (entry.get("class-name"), str(entry.get("hex-color") or "").lower())
            for key, entry in color_map.items()
            if isinstance(entry, dict)
        }
        differing = sorted((k for k in found if expected.get(k) != found[k]), key=lambda k: (len(k), k))
        if differing:
            key = differing[0]
            want = expected.get(key)
            yield Finding(
                line.number,
                "color-map-project",
                f"internal-color-map entry {key} is {found[key]}, the project has "
                f"{want if want else 'no class at that index'}: workers would see the wrong classes; "
                "import the annotations with the project's labels and colours",
            )


def check_box_lines(
    lines: Iterable[ManifestLine], attribute: str, job_attribute: str, labels: Sequence[str], image_size: ImageSize
) -> Iterator[Finding]:
    known = set(labels)
    for line in lines:
        yield from _check_box_line(line, attribute, job_attribute, known, image_size)


def _check_box_line(
    line: ManifestLine, attribute: str, job_attribute: str, labels: set[str], image_size: ImageSize
) -> Iterator[Finding]:
    number, data = line.number, line.data
    value, metadata = data.get(attribute), data.get(f"{attribute}-metadata")
    if not isinstance(value, dict) or not isinstance(metadata, dict):
        yield Finding(
            number,
            "box-attribute-missing",
            f"no existing boxes under {attribute!r} and {attribute}-metadata: import the annotations again",
        )
        return
    if job_attribute in data:
        yield Finding(
            number, "adjustment-attribute-same", f"the line already holds {job_attribute!r}, the job's own attribute"
        )
    classes: Mapping[str, Any] = metadata.get("class-map") or metadata.get("class_map") or {}
    annotations = value.get("annotations")
    sizes = value.get("image_size")
    if not isinstance(annotations, list) or not isinstance(sizes, list) or len(sizes) != 1:
        yield Finding(number, "box-format", f"{attribute} needs annotations (a list) and a one-element image_size")
        return
    declared = sizes[0] if isinstance(sizes[0], dict) else {}
    source = data.get("source-ref")
    actual = image_size(source) if isinstance(source, str) else None
    if actual is not None and (declared.get("width"), declared.get("height")) != actual:
        yield Finding(
            number,
            "box-image-size",
            f"image_size says {declared.get('width')}x{declared.get('height')}, {source} is {actual[0]}x{actual[1]}",
        )
    width, height = actual or (declared.get("width"), declared.get("height"))
    for position, box in enumerate(annotations):
        yield from _check_box(number, position, box, classes, labels, width, height)


def _check_box(
    number: int, position: int, box: Any, classes: Mapping[str, Any], labels: set[str], width: Any, height: Any
) -> Iterator[Finding]:
    where = f"box {position}"
    fields = ("left", "top", "width", "height")
    if not isinstance(box, dict) or not all(_is_number(box.get(f)) for f in fields):
        yield Finding(number, "box-format", f"{where} needs numeric left, top, width and height")
        return
    name = classes.get(str(box.get("class_id")))
    if name is None:
        yield Finding(number, "box-class-id", f"{where}: class_id {box.get('class_id')!r} is not in the class-map")
    elif name not in labels:
        yield Finding(number, "box-label-unknown", f"{where}: {name!r} is not one of the project's labels")
    if box["width"] <= 0 or box["height"] <= 0:
        yield Finding(number, "box-empty", f"{where} has no area ({box['width']}x{box['height']})")
    if _is_number(width) and _is_number(height):
        right, bottom = box["left"] + box["width"], box["top"] + box["height"]
        if box["left"] < 0 or box["top"] < 0 or right > width or bottom > height:
            yield Finding(number, "box-outside-image", f"{where} reaches outside the {width}x{height} image")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
