"""Imports in the pipeline: annotation files under imports/<project>/ become adjustment batches.

Three steps of statemachine/annotation_import.asl.json:

* Plan parses the annotation file (or every annotation file of a folder once its seal marker lands), refuses
  shapes whose category is not one of the project's labels, and writes one work item per image as JSON Lines;
* Convert runs in a Distributed Map over those lines, a batch of images per call: each image's real size is read
  from its header, its mask (or boxes) written, its manifest line and refusals written to a part file named after
  the batch's first item, so a retried batch rewrites the same file;
* Finish joins the parts in item order into the import's manifest and summary, splits the manifest into batches of
  the project's `batch.max_items`, starts a labeling execution for each and publishes `Annotations Imported`.

Everything of one import lives under imported/<project>/<import id>/ (outside imports/, so nothing we write
starts another import). The import id derives from the annotation object's key and ETag: a redelivered event
starts the same execution name, which Step Functions refuses as a duplicate.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core import manifests
from groundcrew.core.events import MAX_LISTED, AnnotationsImported, EventPublisher, ImportRefusal
from groundcrew.core.image_headers import HEADER_BYTES
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.core.vocabulary import Workflow
from groundcrew.projects import IMPORTS_PREFIX, Project, load_project
from groundcrew.workflows.adjustment.imports import augmented_manifests as importing
from groundcrew.workflows.adjustment.imports import boxes as box_import
from groundcrew.workflows.adjustment.imports import segmentation as segmentation_import
from groundcrew.workflows.adjustment.imports.segmentation import RLE, ImageAnnotations, Refusal, Shape
from groundcrew.workflows.adjustment.manifests import ImportSummary, RefusalLike

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

IMPORTED_PREFIX = "imported/"
SUFFIXES = {
    "coco": (".json",),
    "labelme": (".json",),
    "label-studio": (".json",),
    "cvat": (".xml",),
    "voc": (".xml",),
    "yolo": (".txt",),
}
SINGLE_FILE_FORMATS = frozenset({"coco", "cvat", "label-studio"})  # one file holds every image
# A point cloud audit (pointcloud.audit) starts from an earlier Ground Truth job's output manifest.
AUDIT_FORMAT = "ground-truth-output"
AUDIT_SUFFIXES = (".manifest", ".jsonl")


class ImportNotPossible(ValueError):
    """The import cannot start (wrong project, no annotation files); the message says what to change."""


@dataclass(frozen=True, slots=True)
class ImportRef:
    """The execution input written by intake."""

    project: str
    bucket: str
    source_key: str  # an annotation file, or a folder (ending in '/') whose seal marker landed
    import_id: str

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ImportRef:
        return cls(str(raw["project"]), str(raw["bucket"]), str(raw["source_key"]), str(raw["import_id"]))

    @property
    def source_uri(self) -> str:
        return S3Location(self.bucket, self.source_key).uri

    @property
    def folder(self) -> S3Location:
        return S3Location(self.bucket, f"{IMPORTED_PREFIX}{self.project}/{self.import_id}")


def import_id(project: str, key: str, etag: str) -> str:
    """Valid in execution, batch and job names; the same object version always gets the same id."""
    digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:10]
    return f"{project}-imp-{digest}"


def import_source(project: Project, key: str) -> str | None:
    """What a new object under imports/<project>/ starts: the file itself, its folder (seal marker), or nothing."""
    relative = key[len(f"{IMPORTS_PREFIX}{project.name}/") :]
    name = PurePosixPath(relative).name
    if project.pointcloud is not None:
        return key if "/" not in relative and name.lower().endswith(AUDIT_SUFFIXES) else None
    assert project.adjustment is not None
    if name == project.batch.seal_marker:
        return key[: len(key) - len(name)]
    single = project.adjustment.format in SINGLE_FILE_FORMATS
    if "/" not in relative and single and name.lower().endswith(SUFFIXES[project.adjustment.format]):
        return key
    return None  # part of a folder that waits for its seal marker


# -- Plan ------------------------------------------------------------------------------------------------------------


def plan(s3: S3Client, ref: ImportRef) -> dict[str, Any]:
    project = _importing_project(s3, ref)
    if project.pointcloud is not None:
        return _plan_audit(s3, ref, project)
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
    put_object(s3, folder.child("plan-refusals.json"), orjson.dumps([_refusal_data(r) for r in refusals]))
    return {
        "bucket": ref.bucket,
        "items_key": folder.child("items.jsonl").key,
        "items": count,
        "refused": len(refusals),
        "job_name": importing.import_job_name(source_format),
        "created": box_import.creation_date(datetime.now(UTC)),
    }


def _importing_project(s3: S3Client, ref: ImportRef) -> Project:
    project = load_project(s3, ref.bucket, ref.project)
    if not project.imports_labels:
        raise ImportNotPossible(
            f"project {project.name!r} is {project.workflow.value}; imports need an adjustment workflow or a "
            "point cloud project with pointcloud.audit"
        )
    return project


def _plan_audit(s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
    """An earlier point cloud job's output manifest: each line checked and kept whole, as Finish's only part.

    Nothing needs converting (the frames and labels stay where the earlier job left them), so Convert is skipped.
    """
    from groundcrew.workflows.point_cloud import outputs as point_cloud_outputs  # numpy comes with them
    from groundcrew.workflows.point_cloud import tasks as point_cloud_tasks

    assert project.pointcloud is not None and project.pointcloud.audit is not None
    attribute = project.pointcloud.audit.label_attribute
    task = point_cloud_tasks.task_for(project.workflow).kind
    refused = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal refused
        for line in manifests.read_manifest_past_errors(s3, S3Location(ref.bucket, ref.source_key)):
            if isinstance(line, manifests.ManifestLineError):
                refused += 1
                message = f"{line}; the other lines go on: drop a manifest of the fixed line to audit it"
                yield {"refusal": _refusal_data(Refusal(None, f"line {line.line_number}", "invalid-line", message))}
                continue
            try:
                audited = point_cloud_outputs.audit_line(line.data, previous_attribute=attribute, task=task)
            except point_cloud_outputs.PointCloudOutputError as error:
                refused += 1
                source = line.data.get("source-ref")
                refusal = Refusal(
                    source if isinstance(source, str) else None, f"line {line.number}", error.rule, str(error)
                )
                yield {"refusal": _refusal_data(refusal)}
                continue
            cuboids = (
                len(point_cloud_outputs.detection_labels(audited, attribute).cuboids) if task == "detection" else 0
            )
            yield {"line": audited, "shapes": cuboids}

    folder = ref.folder
    if not manifests.write_manifest(s3, folder.child("parts", f"{0:08d}.jsonl"), records()):
        raise ImportNotPossible(f"s3://{ref.bucket}/{ref.source_key} has no lines: nothing to audit")
    put_object(s3, folder.child("plan-refusals.json"), b"[]")
    return {
        "bucket": ref.bucket,
        "items_key": folder.child("items.jsonl").key,
        "items": 0,
        "refused": refused,
        "job_name": importing.import_job_name(AUDIT_FORMAT),
        "created": box_import.creation_date(datetime.now(UTC)),
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


def _refusal_data(refusal: RefusalLike) -> dict[str, Any]:
    return {"image": refusal.image, "item": refusal.item, "rule": refusal.rule, "message": refusal.message}


# -- Convert (one Distributed Map batch) -------------------------------------------------------------------------------


def convert_batch(s3: S3Client, items: Sequence[dict[str, Any]], batch_input: dict[str, Any]) -> dict[str, Any]:
    ref = ImportRef.from_dict(batch_input)
    project = _importing_project(s3, ref)
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
        records.extend({"refusal": _refusal_data(r)} for r in result.summary.refusals)
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


# -- Finish ----------------------------------------------------------------------------------------------------------


def finish(
    s3: S3Client,
    sfn: SFNClient,
    publisher: EventPublisher,
    ref: ImportRef,
    planned: dict[str, Any],
    labeling_state_machine_arn: str,
) -> dict[str, Any]:
    project = _importing_project(s3, ref)
    out = ref.folder
    summary = ImportSummary()
    refusals_key = out.child("plan-refusals.json").key
    plan_refusals = orjson.loads(s3.get_object(Bucket=ref.bucket, Key=refusals_key)["Body"].read())
    summary.refusals.extend(Refusal(**r) for r in plan_refusals)
    manifest = out.child("manifest.jsonl")

    def lines() -> Iterator[dict[str, Any]]:
        for part in _part_keys(s3, ref.bucket, out.child("parts").key + "/"):
            for record in manifests.read_manifest(s3, S3Location(ref.bucket, part)):
                if "line" in record.data:
                    summary.add(int(record.data["shapes"]), [])
                    yield record.data["line"]
                else:
                    summary.refusals.append(Refusal(**record.data["refusal"]))

    count = manifests.write_manifest(s3, manifest, lines())
    put_object(s3, out.child("summary.json"), summary.to_json().encode())
    put_object(s3, out.child("summary.txt"), summary.to_text().encode(), "text/plain; charset=utf-8")
    batch_ids = _start_batches(s3, sfn, ref, project, manifest, count, labeling_state_machine_arn)
    publisher.publish(
        AnnotationsImported(
            project=ref.project,
            import_id=ref.import_id,
            source=S3Location(ref.bucket, ref.source_key).uri,
            format=project.adjustment.format if project.adjustment else AUDIT_FORMAT,
            images=count,
            shapes=summary.shapes,
            refused=len(summary.refusals),
            refusals=[ImportRefusal.model_validate(_refusal_data(r)) for r in summary.refusals[:MAX_LISTED]],
            manifest_uri=manifest.uri,
            summary_uri=out.child("summary.json").uri,
            batch_ids=batch_ids,
        )
    )
    return {"images": count, "refused": len(summary.refusals), "batch_ids": batch_ids, "manifest_uri": manifest.uri}


def _part_keys(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(entry["Key"] for entry in page.get("Contents", []))
    return sorted(keys)  # parts are named by their first item's zero-padded index


def _start_batches(
    s3: S3Client,
    sfn: SFNClient,
    ref: ImportRef,
    project: Project,
    manifest: S3Location,
    count: int,
    state_machine_arn: str,
) -> list[str]:
    """One labeling batch per `batch.max_items` lines, started like intake starts sealed batches."""
    size = project.batch.max_items
    batch_ids: list[str] = []
    lines = iter(manifests.read_manifest(s3, manifest))
    for number in range(1, (count + size - 1) // size + 1):
        batch_id = f"{ref.import_id}-{number}"
        location = S3Location(ref.bucket, f"batches/{ref.project}/{batch_id}/input.manifest")
        chunk = (line.data for _, line in zip(range(size), lines, strict=False))
        written = manifests.write_manifest(s3, location, chunk)
        execution_input = {
            "batch": {
                "batch_id": batch_id,
                "project": ref.project,
                "bucket": ref.bucket,
                "manifest_uri": location.uri,
                "item_count": written,
                "workflow": project.workflow.value,
                # A point cloud audit's frames are Ground Truth's already: the state machine skips PrepareFrames.
                "audit_source": ref.source_uri if project.pointcloud is not None else None,
            }
        }
        with contextlib.suppress(sfn.exceptions.ExecutionAlreadyExists):  # a retried Finish: it already runs
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=batch_id, input=orjson.dumps(execution_input).decode()
            )
        batch_ids.append(batch_id)
    return batch_ids
