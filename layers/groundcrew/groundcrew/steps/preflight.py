"""Preflight step: the batch's manifest checked by its workflow's rules before any job is created."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.core.events import MAX_LISTED
from groundcrew.core.records import BatchRef
from groundcrew.core.s3_locations import S3Location
from groundcrew.projects import load_project
from groundcrew.workflows.registry import DEFAULT_WORKFLOW, for_workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def run_preflight(s3: S3Client, batch: BatchRef) -> dict[str, Any]:
    manifest = S3Location.parse(batch.manifest_uri)
    report = for_workflow(batch.workflow or DEFAULT_WORKFLOW).check_manifest(s3, manifest)
    if report.passed:  # the line rules hold: worth reading masks and image headers
        project = load_project(s3, batch.bucket, batch.project)
        report.findings.extend(for_workflow(project.workflow).check_content(s3, project, manifest))
    findings = [
        {"line": f.line, "rule": f.rule, "message": f.message, "severity": f.severity.value} for f in report.findings
    ]
    return {"passed": report.passed, "lines": report.lines, "errors": report.errors, "findings": findings[:MAX_LISTED]}
