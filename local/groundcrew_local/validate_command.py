"""`groundcrew validate MANIFEST [--workflow W]`: the preflight, before any job exists, from a laptop.

MANIFEST is a local path or an s3:// URI; the objects it names are read from S3 with your AWS credentials.
Exit status 1 when there is any error (warnings alone pass), 0 otherwise.

Point cloud manifests need --workflow pointcloud-detection, -tracking or -segmentation: `auto` cannot tell a tracking
manifest's {"source-ref": "s3://.../seq1.json"} lines from other lines, so it only chooses between images and masks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from groundcrew.core import manifests, preflight
from groundcrew.core.s3_locations import S3Location
from groundcrew.workflows.adjustment import mask_preflight
from groundcrew.workflows.point_cloud import preflight as point_cloud_preflight

POINT_CLOUD_WORKFLOWS = ("pointcloud-detection", "pointcloud-tracking", "pointcloud-segmentation")
WORKFLOWS = ("auto", "image-classification", "semantic-segmentation-adjustment", *POINT_CLOUD_WORKFLOWS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", help="input manifest: a local file or an s3:// URI")
    parser.add_argument(
        "--workflow",
        choices=WORKFLOWS,
        default="auto",
        help="auto: masks when lines carry them, images otherwise (point cloud manifests need their workflow named)",
    )
    parser.add_argument("--job-label-attribute", help="the label attribute the adjustment job will use")
    parser.add_argument("--json", action="store_true", help="print one JSON object with every finding")


class S3Reader:
    def __init__(self, s3: Any | None = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def read(self, uri: str) -> bytes | None:
        location = S3Location.parse(uri)
        try:
            body: bytes = self.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return body

    def size(self, location: S3Location) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=location.bucket, Key=location.key)["ContentLength"])
        except self.s3.exceptions.ClientError:
            return None

    def exists(self, uri: str) -> bool:
        return self.size(S3Location.parse(uri)) is not None


def _lines(manifest: str, reader: S3Reader) -> list[manifests.ManifestLine]:
    if manifest.startswith("s3://"):
        body = reader.read(manifest)
        if body is None:
            raise SystemExit(f"no manifest at {manifest}")
    else:
        body = Path(manifest).read_bytes()
    return list(manifests.parse_lines(body.splitlines(keepends=True)))


def run(args: argparse.Namespace, stdout: Any = None) -> int:
    out = stdout or sys.stdout
    reader = S3Reader()
    try:
        lines = _lines(args.manifest, reader)
    except manifests.ManifestLineError as error:
        lines = []
        report = preflight.PreflightReport(0, [preflight.Finding(error.line_number, "json-lines", str(error))])
    else:
        if args.workflow in POINT_CLOUD_WORKFLOWS:  # frame lines or sequence files, not images
            findings = point_cloud_preflight.check_point_cloud_manifest(
                lines, tracking=args.workflow == "pointcloud-tracking", read=reader.read, exists=reader.exists
            )
            report = preflight.PreflightReport(len(lines), findings)
        else:
            report = preflight.run_preflight(lines, reader.size)
    findings = list(report.findings)
    segmentation = args.workflow == "semantic-segmentation-adjustment" or (
        args.workflow == "auto" and any(mask_preflight.mask_attribute(line.data) for line in lines)
    )
    if segmentation and lines:
        findings += mask_preflight.check_segmentation_manifest(
            lines, reader.read, job_attribute=args.job_label_attribute
        )
    findings.sort(key=lambda f: (f.line if f.line is not None else 0, f.rule))
    errors = sum(1 for f in findings if f.severity is preflight.Severity.ERROR)
    if args.workflow in POINT_CLOUD_WORKFLOWS:
        workflow = args.workflow
    else:
        workflow = "semantic-segmentation-adjustment" if segmentation else "image-classification"
    if args.json:
        document = {
            "manifest": args.manifest,
            "workflow": workflow,
            "lines": len(lines),
            "errors": errors,
            "warnings": len(findings) - errors,
            "findings": [
                {"line": f.line, "rule": f.rule, "severity": f.severity.value, "message": f.message} for f in findings
            ],
        }
        print(orjson.dumps(document).decode(), file=out)
    else:
        for f in findings:
            where = f"line {f.line}" if f.line is not None else "manifest"
            print(f"{where}: {f.severity.value} [{f.rule}] {f.message}", file=out)
        print(
            f"{len(lines)} lines checked as {workflow}: {errors} error(s), {len(findings) - errors} warning(s)",
            file=out,
        )
    return 1 if errors else 0
