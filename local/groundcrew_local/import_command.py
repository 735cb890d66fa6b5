"""`groundcrew import FORMAT ANNOTATIONS --images DIR_OR_S3 --out DIR_OR_S3`: another tool's labels, ready to adjust.

Local folders and s3:// prefixes both work (S3 with your own AWS credentials). The manifest needs S3 URIs for the
images and the masks, so with local folders say where they will live: `--images-s3-prefix`, `--out-s3-prefix`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from groundcrew.core.imports import creation_date
from groundcrew.core.manifests import encode_line
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.workflows.adjustment.imports import augmented_manifests as importing
from groundcrew.workflows.adjustment.manifests import adjustment_attribute_name, check_label_attribute_name

ANNOTATION_SUFFIXES = {"coco": ".json", "labelme": ".json", "cvat": ".xml", "label-studio": ".json", "voc": ".xml"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=importing.FORMATS, help="the tool that wrote the annotations")
    parser.add_argument("annotations", help="annotation file or folder (local or s3://)")
    parser.add_argument("--images", required=True, help="folder or s3:// prefix the annotations' file names are in")
    parser.add_argument("--out", required=True, help="folder or s3:// prefix for masks, manifest and summary")
    parser.add_argument("--images-s3-prefix", help="where local --images live in S3 (for the manifest's source-ref)")
    parser.add_argument("--out-s3-prefix", help="where a local --out will be uploaded (for the masks' URIs)")
    parser.add_argument("--label-attribute", help="label attribute of the imported labels (default: imported[-ref])")
    parser.add_argument("--classes", help="YOLO: the classes file, one name per line, in class-index order")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


class Place:
    """A local folder or an S3 prefix, read and written the same way."""

    def __init__(self, where: str, s3: Any | None = None) -> None:
        self.where = where
        self.location = S3Location.parse(where.rstrip("/") + "/") if where.startswith("s3://") else None
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def uri(self, name: str, s3_prefix: str | None = None) -> str:
        if self.location is not None:
            return self.location.child(name).uri
        if s3_prefix is None:
            raise SystemExit(f"{self.where} is a local folder: say where it lives in S3 with --*-s3-prefix")
        return S3Location.parse(s3_prefix.rstrip("/") + "/").child(name).uri

    def read(self, name: str) -> bytes | None:
        if self.location is not None:
            try:
                body: bytes = self.s3.get_object(Bucket=self.location.bucket, Key=self.location.child(name).key)[
                    "Body"
                ].read()
            except self.s3.exceptions.NoSuchKey:
                return None
            return body
        path = Path(self.where) / name
        return path.read_bytes() if path.is_file() else None

    def write(self, name: str, body: bytes, content_type: str) -> None:
        if self.location is not None:
            put_object(self.s3, self.location.child(name), body, content_type)
            return
        path = Path(self.where) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def files(self, suffix: str) -> Iterator[tuple[str, bytes]]:
        """The place itself when it is one file, else every file with the suffix below it, in name order."""
        if self.location is not None:
            if self.location.key.rstrip("/").endswith(suffix):
                key = self.location.key.rstrip("/")
                yield key.rsplit("/", 1)[-1], self.s3.get_object(Bucket=self.location.bucket, Key=key)["Body"].read()
                return
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.location.key
            )
            keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []) if o["Key"].endswith(suffix))
            for key in keys:
                body = self.s3.get_object(Bucket=self.location.bucket, Key=key)["Body"].read()
                yield key[len(self.location.key) :], body
            return
        path = Path(self.where)
        if path.is_file():
            yield path.name, path.read_bytes()
            return
        for found in sorted(path.rglob(f"*{suffix}")):
            if found.name != "classes.txt":  # YOLO's class names sit next to its label files
                yield str(found.relative_to(path)), found.read_bytes()


def run(args: argparse.Namespace, stdout: Any = None) -> int:
    out = stdout or sys.stdout
    masks_import = args.format in importing.SEGMENTATION_FORMATS
    task_type = "AdjustmentSemanticSegmentation" if masks_import else "AdjustmentBoundingBox"
    attribute = args.label_attribute or ("imported-ref" if masks_import else "imported")
    problems = check_label_attribute_name(attribute, "SemanticSegmentation" if masks_import else "BoundingBox")
    if problems:
        print(f"--label-attribute {attribute!r}: {'; '.join(problems)}", file=sys.stderr)
        return 2
    images, target, annotations = Place(args.images), Place(args.out), Place(args.annotations)
    now = datetime.now(UTC)
    job_name, created = importing.import_job_name(args.format, now), creation_date(now)

    def source_uri(name: str) -> str:
        return images.uri(name, args.images_s3_prefix)

    if masks_import:
        parsed = importing.parse_segmentation(args.format, (body for _, body in annotations.files(_suffix(args))))

        def write(name: str, body: bytes, content_type: str) -> str:
            target.write(name, body, content_type)
            return target.uri(name, args.out_s3_prefix)

        result = importing.import_segmentation(
            parsed,
            read_image=images.read,
            write=write,
            source_uri=source_uri,
            attribute=attribute,
            job_name=job_name,
            created=created,
        )
    else:
        class_names = _classes(args)
        boxed, refusals = importing.parse_boxes(
            args.format, annotations.files(_suffix(args)), read_image=images.read, class_names=class_names
        )
        result = importing.import_boxes(
            boxed,
            refusals,
            read_image=images.read,
            source_uri=source_uri,
            attribute=attribute,
            job_name=job_name,
            created=created,
            labels=class_names,
        )
    target.write("output.manifest", b"".join(encode_line(line) for line in result.lines), "application/jsonlines")
    summary = orjson.loads(result.summary.to_json())
    summary |= {
        "format": args.format,
        "label_attribute": attribute,
        "adjustment_label_attribute": adjustment_attribute_name(attribute, task_type),
        "labels": result.labels,
        "manifest": target.uri("output.manifest", args.out_s3_prefix) if target.location else "output.manifest",
    }
    target.write("summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2), "application/json")
    if args.json:
        print(orjson.dumps(summary).decode(), file=out)
    else:
        print(result.summary.to_text(), file=out)
        print(
            f"manifest: {args.out.rstrip('/')}/output.manifest ({len(result.lines)} lines); "
            f"the adjustment job's own label attribute: {summary['adjustment_label_attribute']}",
            file=out,
        )
    return 0 if result.lines else 1


def _suffix(args: argparse.Namespace) -> str:
    return ANNOTATION_SUFFIXES.get(args.format, ".txt")


def _classes(args: argparse.Namespace) -> list[str]:
    if args.format != "yolo":
        return []
    if not args.classes:
        raise SystemExit("yolo: --classes FILE is required (YOLO files hold class indices, not names)")
    return [line.strip() for line in Path(args.classes).read_text(encoding="utf-8").splitlines() if line.strip()]
