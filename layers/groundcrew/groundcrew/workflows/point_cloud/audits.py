"""Point cloud audits: an earlier Ground Truth job's output manifest dropped under imports/<project>/ becomes
adjustment or verification batches of a project with `pointcloud.audit`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from groundcrew.core import manifests
from groundcrew.core.errors import ImportNotPossible
from groundcrew.core.imports import Refusal, creation_date, import_job_name, refusal_data
from groundcrew.core.records import ImportRef
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.projects import IMPORTS_PREFIX, Project
from groundcrew.workflows.point_cloud import tasks

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AUDIT_FORMAT = "ground-truth-output"
AUDIT_SUFFIXES = (".manifest", ".jsonl")


def audit_source(project: Project, key: str) -> str | None:
    """An output manifest directly under imports/<project>/ starts an audit; anything else is not one."""
    relative = key[len(f"{IMPORTS_PREFIX}{project.name}/") :]
    name = PurePosixPath(relative).name
    return key if "/" not in relative and name.lower().endswith(AUDIT_SUFFIXES) else None


def plan_audit(s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
    """An earlier point cloud job's output manifest: each line checked and kept whole, as Finish's only part.

    Nothing needs converting (the frames and labels stay where the earlier job left them), so Convert is skipped.
    """
    from groundcrew.workflows.point_cloud import outputs as point_cloud_outputs  # numpy comes with them

    assert project.pointcloud is not None and project.pointcloud.audit is not None
    attribute = project.pointcloud.audit.label_attribute
    task = tasks.task_for(project.workflow).kind
    refused = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal refused
        for line in manifests.read_manifest_past_errors(s3, S3Location(ref.bucket, ref.source_key)):
            if isinstance(line, manifests.ManifestLineError):
                refused += 1
                message = f"{line}; the other lines go on: drop a manifest of the fixed line to audit it"
                yield {"refusal": refusal_data(Refusal(None, f"line {line.line_number}", "invalid-line", message))}
                continue
            try:
                audited = point_cloud_outputs.audit_line(line.data, previous_attribute=attribute, task=task)
            except point_cloud_outputs.PointCloudOutputError as error:
                refused += 1
                source = line.data.get("source-ref")
                refusal = Refusal(
                    source if isinstance(source, str) else None, f"line {line.number}", error.rule, str(error)
                )
                yield {"refusal": refusal_data(refusal)}
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
        "job_name": import_job_name(AUDIT_FORMAT.replace("-", ""), datetime.now(UTC)),
        "created": creation_date(datetime.now(UTC)),
    }
