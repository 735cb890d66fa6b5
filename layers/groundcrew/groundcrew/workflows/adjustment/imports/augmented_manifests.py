"""Other tools' annotations into an adjustment job's augmented manifest: masks or boxes, and what was refused.

The importers parse (`segmentation_import`, `box_import`); this module checks every image against its real
header, writes one mask per image, and builds the manifest lines. Storage is passed in as two callables, so the
same code serves local folders (the `groundcrew import` command) and S3 (the pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from groundcrew.core import imports as core_imports
from groundcrew.core.imports import ImportSummary, Refusal
from groundcrew.workflows.adjustment import manifests as adjustment_manifests
from groundcrew.workflows.adjustment import masks
from groundcrew.workflows.adjustment.imports import boxes as box_import
from groundcrew.workflows.adjustment.imports import segmentation as segmentation_import

SEGMENTATION_FORMATS = ("coco", "labelme", "cvat", "label-studio")
BOX_FORMATS = ("voc", "yolo")
FORMATS = SEGMENTATION_FORMATS + BOX_FORMATS

ReadImage = Callable[[str], bytes | None]  # an image's bytes by its name in the annotations, None when missing
Write = Callable[[str, bytes, str], str]  # (relative path, body, content type) -> where it was written (URI)


@dataclass
class ImportResult:
    lines: list[dict[str, Any]] = field(default_factory=list)
    summary: ImportSummary = field(default_factory=ImportSummary)
    labels: list[str] = field(default_factory=list)


def parse_segmentation(source_format: str, documents: Iterable[bytes]) -> segmentation_import.Parsed:
    """Every annotation file of one format, merged (LabelMe keeps one file per image)."""
    parser = {
        "coco": segmentation_import.parse_coco,
        "labelme": segmentation_import.parse_labelme,
        "cvat": segmentation_import.parse_cvat,
        "label-studio": segmentation_import.parse_label_studio,
    }[source_format]
    images: list[segmentation_import.ImageAnnotations] = []
    categories: list[str] = []
    refusals: list[Refusal] = []
    seen: set[str] = set()
    for document in documents:
        found, names, refused = parser(document)
        refusals.extend(refused)
        categories.extend(name for name in names if name not in categories)
        for image in found:
            if image.file_name in seen:
                refusals.append(Refusal(image.file_name, "image", "duplicate-image", "annotated in two files"))
                continue
            seen.add(image.file_name)
            images.append(image)
    return images, categories, refusals


def _size(name: str, read_image: ReadImage) -> tuple[int, int] | Refusal:
    body = read_image(name)
    if body is None:
        return Refusal(name, "image", "image-missing", f"no image {name!r} next to the annotations; add it or drop it")
    try:
        return masks.image_size(body)
    except ValueError as error:
        return Refusal(name, "image", "not-an-image", f"{name!r} is {error}; only JPEG and PNG images can be labeled")


def import_segmentation(
    parsed: segmentation_import.Parsed,
    *,
    read_image: ReadImage,
    write: Write,
    source_uri: Callable[[str], str],
    attribute: str,
    job_name: str,
    created: str,
    class_map: masks.ClassMap | None = None,
) -> ImportResult:
    """One exact-size mode-L mask per image and its manifest line; every image or shape that can't be, refused.

    `class_map` fixes the classes and colours (a project's); by default they are the annotations' categories.
    """
    images, categories, refusals = parsed
    class_map = class_map or masks.ClassMap.from_labels(categories)
    color_map = masks.internal_color_map(class_map)
    result = ImportResult(labels=list(categories))
    result.summary.refusals.extend(refusals)
    for image in images:
        size = _size(image.file_name, read_image)
        if isinstance(size, Refusal):
            result.summary.refusals.append(size)
            continue
        checked = masks.resolve_size(image.declared_size, size, image.file_name)
        if isinstance(checked, Refusal):
            result.summary.refusals.append(checked)
            continue
        png = masks.encode_mask(masks.rasterize(image.shapes, class_map, checked))
        mask_uri = write(f"masks/{PurePosixPath(image.file_name).with_suffix('.png')}", png, "image/png")
        line = adjustment_manifests.mask_line(
            source_uri(image.file_name), mask_uri, attribute, color_map, job_name=job_name, created=created
        )
        problems = adjustment_manifests.check_line_size(line)
        if problems:
            result.summary.refusals.append(Refusal(image.file_name, "line", "line-too-long", "; ".join(problems)))
            continue
        result.lines.append(line)
        result.summary.add(len(image.shapes), [])
    return result


def import_boxes(
    boxed: Sequence[box_import.BoxImage],
    refusals: Sequence[Refusal],
    *,
    read_image: ReadImage,
    source_uri: Callable[[str], str],
    attribute: str,
    job_name: str,
    created: str,
    labels: Sequence[str] = (),
) -> ImportResult:
    """Ground Truth's bounding-box label per image; sizes declared by the annotations are checked against the image."""
    classes = box_import.class_map([*labels, *(box.class_name for image in boxed for box in image.boxes)])
    result = ImportResult(labels=list(classes))
    result.summary.refusals.extend(refusals)
    for image in boxed:
        size = _size(image.file_name, read_image)
        if isinstance(size, Refusal):
            result.summary.refusals.append(size)
            continue
        if (image.width, image.height) != size:
            result.summary.refusals.append(
                Refusal(
                    image.file_name,
                    "image",
                    "size-mismatch",
                    f"annotations say {image.width}x{image.height}, the image is {size[0]}x{size[1]}: "
                    "they were drawn on another version of the image",
                )
            )
            continue
        value = box_import.to_ground_truth(image, classes)
        metadata = box_import.box_metadata(image, classes, job_name=job_name, created=created)
        result.lines.append(adjustment_manifests.box_line(source_uri(image.file_name), value, metadata, attribute))
        result.summary.add(len(image.boxes), [])
    return result


def parse_boxes(
    source_format: str,
    files: Iterable[tuple[str, bytes]],
    *,
    read_image: ReadImage,
    class_names: Sequence[str] = (),
) -> tuple[list[box_import.BoxImage], list[Refusal]]:
    """VOC: one XML per image. YOLO: one .txt per image, named like it, sized from the image header."""
    boxed: list[box_import.BoxImage] = []
    refusals: list[Refusal] = []
    for name, body in files:
        if source_format == "voc":
            image, refused = box_import.parse_voc(body.decode("utf-8", errors="replace"))
        else:
            found = _yolo_image(name, read_image)
            if isinstance(found, Refusal):
                refusals.append(found)
                continue
            file_name, (width, height) = found
            image, refused = box_import.parse_yolo(
                body.decode("utf-8", errors="replace"),
                file_name=file_name,
                width=width,
                height=height,
                class_names=class_names,
            )
        refusals.extend(refused)
        if image is not None:
            boxed.append(image)
    return boxed, refusals


def _yolo_image(label_file: str, read_image: ReadImage) -> tuple[str, tuple[int, int]] | Refusal:
    stem = PurePosixPath(label_file).with_suffix("")
    for suffix in (".jpg", ".jpeg", ".png"):
        name = str(stem.with_suffix(suffix))
        size = _size(name, read_image)
        if not isinstance(size, Refusal):
            return name, size
    return Refusal(label_file, "image", "image-missing", f"no .jpg, .jpeg or .png image named like {label_file!r}")


def import_job_name(source_format: str, now: datetime | None = None) -> str:
    """e.g. imported-labelstudio-20261121 (job names allow no other punctuation than single hyphens)."""
    return core_imports.import_job_name(source_format.replace("-", ""), now or datetime.now(UTC))
