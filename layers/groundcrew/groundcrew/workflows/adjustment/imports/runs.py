"""Annotation imports of adjustment projects: Plan and Convert of the import state machine for masks and boxes.

Plan parses the annotation file (or every annotation file of a folder once its seal marker lands), refuses shapes
whose category is not one of the project's labels, and writes one work item per image as JSON Lines. Convert runs
in a Distributed Map over those lines, a batch of images per call: each image's real size is read from its header,
its mask (or boxes) written, its manifest line and refusals written to a part file named after the batch's first
item, so a retried batch rewrites the same file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core import manifests
from groundcrew.core.errors import ImportNotPossible
from groundcrew.core.image_headers import HEADER_BYTES
from groundcrew.core.imports import Refusal, creation_date, refusal_data
from groundcrew.core.records import ImportRef
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.core.vocabulary import Workflow
from groundcrew.projects import IMPORTS_PREFIX, Project
from groundcrew.workflows.adjustment.imports import augmented_manifests as importing
from groundcrew.workflows.adjustment.imports import boxes as box_import
from groundcrew.workflows.adjustment.imports import segmentation as segmentation_import
from groundcrew.workflows.adjustment.imports.segmentation import RLE, ImageAnnotations, Shape

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SUFFIXES = {
    "coco": (".json",),
    "labelme": (".json",),
    "label-studio": (".json",),
    "cvat": (".xml",),
    "voc": (".xml",),
    "yolo": (".txt",),
}
SINGLE_FILE_FORMATS = frozenset({"coco", "cvat", "label-studio"})  # one file holds every image


def import_source(project: Project, key: str) -> str | None:
    """What a new object under imports/<project>/ starts: the file itself, its folder (seal marker), or nothing."""
    assert project.adjustment is not None
    relative = key[len(f"{IMPORTS_PREFIX}{project.name}/") :]
    name = PurePosixPath(relative).name
    if name == project.batch.seal_marker:
        return key[: len(key) - len(name)]
    single = project.adjustment.format in SINGLE_FILE_FORMATS
    if "/" not in relative and single and name.lower().endswith(SUFFIXES[project.adjustment.format]):
        return key
    return None  # part of a folder that waits for its seal marker


def plan_annotations(s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
    """Parse the annotation file(s), refuse shapes of unknown categories, write one work item per image."""
    assert project.adjustment is not None
    source_format = project.adjustment.format
    files = list(_annotation_files(s3, ref, SUFFIXES[source_format]))
    if not files:
        raise ImportNotPossible(
            f"no {'/'.join(SUFFIXES[source_format])} annotation files at s3://{ref.bucket}/{ref.source_key} for "
            f"format {source_format}"
        )
    items: list[dict[str, Any]] = []
    refusals: list[Refusal] = []
    if project.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT:
        images, _, parse_refusals = importing.parse_segmentation(source_format, (body for _, body in files))
        refusals.extend(parse_refusals)
        known = set(project.labels)
        for image in images:
            kept = [shape for shape in image.shapes if shape.label in known]
            refusals.extend(
                Refusal(
                    image.file_name,
                    shape.source,
                    "unknown-category",
                    f"category {shape.label!r} is not one of the project's labels; add it to labels or rename it",
                )
                for shape in image.shapes
                if shape.label not in known
            )
            items.append({"kind": "mask", **_image_item(replace(image, shapes=kept))})
    elif source_format == "yolo":
        items.extend(
            {"kind": "yolo", "label_file": name, "text": body.decode("utf-8", "replace")} for name, body in files
        )
    else:
        boxed, parse_refusals = importing.parse_boxes(source_format, files, read_image=lambda _: None)
        refusals.extend(parse_refusals)
        classes = {label: index for index, label in enumerate(project.labels)}
        for boxed_image in boxed:
            known_boxes, refused = box_import.refuse_unknown_classes(boxed_image, classes)
            refusals.extend(refused)
            items.append({"kind": "boxes", **_box_item(known_boxes)})
    for index, item in enumerate(items):
        item["index"] = index
    folder = ref.folder
    count = manifests.write_manifest(s3, folder.child("items.jsonl"), items)
    put_object(s3, folder.child("plan-refusals.json"), orjson.dumps([refusal_data(r) for r in refusals]))
    return {
        "bucket": ref.bucket,
        "items_key": folder.child("items.jsonl").key,
        "items": count,
        "refused": len(refusals),
        "job_name": importing.import_job_name(source_format),
        "created": creation_date(datetime.now(UTC)),
    }


def _annotation_files(s3: S3Client, ref: ImportRef, suffixes: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    if not ref.source_key.endswith("/"):
        yield ref.source_key, s3.get_object(Bucket=ref.bucket, Key=ref.source_key)["Body"].read()
        return
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ref.bucket, Prefix=ref.source_key):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            name = key[len(ref.source_key) :]
            # YOLO's classes.txt names the classes; the project's labels do that here, in class-index order
            if name.lower().endswith(tuple(suffixes)) and name != "classes.txt":
                yield name, s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()


def _image_item(image: ImageAnnotations) -> dict[str, Any]:
    return {
        "file_name": image.file_name,
        "declared_size": list(image.declared_size) if image.declared_size else None,
        "shapes": [
            {
                "label": shape.label,
                "polygons": shape.polygons,
                "rle": [shape.rle.height, shape.rle.width, list(shape.rle.counts)] if shape.rle else None,
                "source": shape.source,
                "crowd": shape.crowd,
            }
            for shape in image.shapes
        ],
    }


def _image_from_item(item: dict[str, Any]) -> ImageAnnotations:
    shapes = [
        Shape(
            label=raw["label"],
            polygons=[[(float(x), float(y)) for x, y in polygon] for polygon in raw["polygons"]]
            if raw["polygons"] is not None
            else None,
            rle=RLE(raw["rle"][0], raw["rle"][1], tuple(raw["rle"][2])) if raw["rle"] else None,
            source=raw["source"],
            crowd=bool(raw["crowd"]),
        )
        for raw in item["shapes"]
    ]
    declared = item["declared_size"]
    return ImageAnnotations(item["file_name"], (declared[0], declared[1]) if declared else None, shapes)


def _box_item(image: box_import.BoxImage) -> dict[str, Any]:
    return {
        "file_name": image.file_name,
        "size": [image.width, image.height, image.depth],
        "boxes": [[b.class_name, b.left, b.top, b.width, b.height] for b in image.boxes],
    }


def _box_image_from_item(item: dict[str, Any]) -> box_import.BoxImage:
    width, height, depth = item["size"]
    boxes = [box_import.Box(name, left, top, w, h) for name, left, top, w, h in item["boxes"]]
    return box_import.BoxImage(item["file_name"], width, height, depth, boxes)


def convert_items(
    s3: S3Client, items: Sequence[dict[str, Any]], ref: ImportRef, project: Project, batch_input: dict[str, Any]
) -> dict[str, Any]:
    """One Distributed Map batch of work items: masks or boxes written, manifest lines and refusals in a part file."""
    assert project.adjustment is not None
    attribute = project.imported_attribute_name
    assert attribute is not None
    images_prefix = project.adjustment.images_prefix
    out = ref.folder

    def source_uri(name: str) -> str:
        return S3Location(ref.bucket, images_prefix + name).uri

    def read_header(name: str) -> bytes | None:
        try:
            response = s3.get_object(Bucket=ref.bucket, Key=images_prefix + name, Range=f"bytes=0-{HEADER_BYTES - 1}")
        except s3.exceptions.NoSuchKey:
            return None
        return response["Body"].read()

    def write(relative: str, body: bytes, content_type: str) -> str:
        location = out.child(relative)
        put_object(s3, location, body, content_type)
        return location.uri

    records: list[dict[str, Any]] = []
    for item in sorted(items, key=lambda i: int(i["index"])):
        result = _convert_item(item, project, read_header, write, source_uri, attribute, batch_input)
        records.extend({"line": line, "shapes": result.summary.shapes} for line in result.lines)
        records.extend({"refusal": refusal_data(r)} for r in result.summary.refusals)
    first = min(int(i["index"]) for i in items)
    part = out.child("parts", f"{first:08d}.jsonl")
    manifests.write_manifest(s3, part, records)
    converted = sum(1 for r in records if "line" in r)
    return {"part": part.key, "converted": converted, "refused": len(records) - converted}


def _convert_item(
    item: dict[str, Any],
    project: Project,
    read_header: Callable[[str], bytes | None],
    write: importing.Write,
    source_uri: Callable[[str], str],
    attribute: str,
    batch_input: dict[str, Any],
) -> importing.ImportResult:
    from groundcrew.workflows.adjustment.masks import project_class_map  # numpy and Pillow come with it

    common = {"source_uri": source_uri, "attribute": attribute, "job_name": batch_input["job_name"]}
    created = str(batch_input["created"])
    if item["kind"] == "mask":
        parsed: segmentation_import.Parsed = ([_image_from_item(item)], list(project.labels), [])
        return importing.import_segmentation(
            parsed, read_image=read_header, write=write, created=created, class_map=project_class_map(project), **common
        )
    if item["kind"] == "yolo":
        boxed, refusals = importing.parse_boxes(
            "yolo", [(item["label_file"], item["text"].encode())], read_image=read_header, class_names=project.labels
        )
    else:
        boxed, refusals = [_box_image_from_item(item)], []
    return importing.import_boxes(
        boxed, refusals, read_image=read_header, created=created, labels=project.labels, **common
    )
