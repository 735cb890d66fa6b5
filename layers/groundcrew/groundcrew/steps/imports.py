"""The steps of the import state machine (statemachine/annotation_import.asl.json): labels made elsewhere become
labeling batches of an importing project (adjustment workflows, point cloud audits).

* Plan reads what was dropped under imports/<project>/ and writes the work items (the workflow's `plan_import`);
* Convert runs in a Distributed Map over those items, a batch per call (the workflow's `convert_import`);
* Finish joins the parts in item order into the import's manifest and summary, splits the manifest into batches of
  the project's `batch.max_items`, starts a labeling execution for each and publishes `Annotations Imported`.

Everything of one import lives under imported/<project>/<import id>/ (outside imports/, so nothing we write
starts another import). The import id derives from the annotation object's key and ETag: a redelivered event
starts the same execution name, which Step Functions refuses as a duplicate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core import manifests
from groundcrew.core.errors import ImportNotPossible
from groundcrew.core.events import MAX_LISTED, AnnotationsImported, EventPublisher, ImportRefusal
from groundcrew.core.imports import ImportSummary, Refusal, refusal_data
from groundcrew.core.records import ImportRef
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.projects import Project, load_project
from groundcrew.workflows.registry import for_workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


def plan(s3: S3Client, ref: ImportRef) -> dict[str, Any]:
    project = _importing_project(s3, ref)
    return for_workflow(project.workflow).plan_import(s3, ref, project)


def _importing_project(s3: S3Client, ref: ImportRef) -> Project:
    project = load_project(s3, ref.bucket, ref.project)
    if not project.imports_labels:
        raise ImportNotPossible(
            f"project {project.name!r} is {project.workflow.value}; imports need an adjustment workflow or a "
            "point cloud project with pointcloud.audit"
        )
    return project


def convert_batch(s3: S3Client, items: Sequence[dict[str, Any]], batch_input: dict[str, Any]) -> dict[str, Any]:
    ref = ImportRef.from_dict(batch_input)
    project = _importing_project(s3, ref)
    return for_workflow(project.workflow).convert_import(s3, items, ref, project, batch_input)


def finish(
    s3: S3Client,
    sfn: SFNClient,
    publisher: EventPublisher,
    ref: ImportRef,
    planned: dict[str, Any],
    labeling_state_machine_arn: str,
) -> dict[str, Any]:
    project = _importing_project(s3, ref)
    plugin = for_workflow(project.workflow)
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
            format=plugin.import_format(project),
            images=count,
            shapes=summary.shapes,
            refused=len(summary.refusals),
            refusals=[ImportRefusal.model_validate(refusal_data(r)) for r in summary.refusals[:MAX_LISTED]],
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
                # An audit's frames are Ground Truth's already: the state machine skips PrepareFrames.
                "audit_source": ref.source_uri if for_workflow(project.workflow).audits_earlier_jobs else None,
            }
        }
        with contextlib.suppress(sfn.exceptions.ExecutionAlreadyExists):  # a retried Finish: it already runs
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=batch_id, input=orjson.dumps(execution_input).decode()
            )
        batch_ids.append(batch_id)
    return batch_ids
