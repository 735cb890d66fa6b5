"""Adjustment batches: the trial job, its checks, the full job on the rest, and the merged output with COCO.

A project with `trial` labels its first `trial.items` items as a job of their own. Its output is checked for what
goes wrong silently in adjustment jobs: an object that came back without a label, a mask that is not a PNG of
the image's exact size or uses colours the class map lacks, and imported labels that came back empty (workers
who saw no mask or no boxes return nothing; Ground Truth reports no error). Any finding stops the batch before
the full job is bought; otherwise the rest of the items go to a second job. Ground Truth's own Lambdas
consolidate adjustment answers, so the output lines are taken as Ground Truth wrote them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import rounds
from groundcrew.core import image_headers, manifests
from groundcrew.core.events import (
    MAX_LISTED,
    AdjustmentReport,
    EventPublisher,
    TrialBatchChecked,
    TrialFinding,
)
from groundcrew.core.manifests import ManifestLine
from groundcrew.core.records import BatchRef
from groundcrew.core.s3_locations import S3Location, object_reader, put_object
from groundcrew.core.vocabulary import Workflow
from groundcrew.projects import Project
from groundcrew.workforces.ground_truth import built_in_rounds

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.workflows.plugin import BatchSteps


class TrialRejected(RuntimeError):
    """The trial job's output failed the checks; the full job was not launched."""


# -- plans ----------------------------------------------------------------------------------------------------------


def trial_plan(s3: S3Client, batch: BatchRef, project: Project) -> rounds.RoundPlan | None:
    """Round 1 on the first `trial.items` items, when the project asks for a trial and the batch is larger."""
    if project.trial is None or batch.item_count <= project.trial.items:
        return None
    lines = manifests.read_manifest(s3, S3Location.parse(batch.manifest_uri))
    location = rounds.round_folder(batch.bucket, batch.project, batch.batch_id, 1).child("trial.manifest")
    count = manifests.write_manifest(s3, location, (line.data for line in islice(lines, project.trial.items)))
    return rounds.RoundPlan(1, location.uri, count, project.workers_per_object)


def _rest_plan(s3: S3Client, batch: BatchRef, project: Project, skip: int) -> rounds.RoundPlan:
    lines = manifests.read_manifest(s3, S3Location.parse(batch.manifest_uri))
    location = rounds.round_folder(batch.bucket, batch.project, batch.batch_id, 2).child("input.manifest")
    count = manifests.write_manifest(s3, location, (line.data for line in islice(lines, skip, None)))
    return rounds.RoundPlan(2, location.uri, count, project.workers_per_object)


# -- reading outputs ------------------------------------------------------------------------------------------------


def check_trial_output(s3: S3Client, project: Project, lines: Iterable[ManifestLine]) -> list[TrialFinding]:
    """Every way the trial's output shows the full job would be wasted (see the module docstring)."""
    imported, attribute = project.imported_attribute_name, project.attribute_name
    assert imported is not None
    read = object_reader(s3)
    findings: list[TrialFinding] = []
    for line in lines:
        item = str(line.data.get("source-ref") or f"line {line.number}")
        metadata = line.data.get(f"{attribute}-metadata")
        if attribute not in line.data or not isinstance(metadata, dict):
            findings.append(TrialFinding(item=item, rule="trial-item-unlabeled", message="came back without a label"))
            continue
        if project.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT:
            findings.extend(_check_mask_output(s3, project, line.data, item, read))
        else:
            findings.extend(_check_box_output(s3, line.data, item, imported, attribute))
    return findings


def _check_mask_output(
    s3: S3Client, project: Project, data: dict[str, Any], item: str, read: Any
) -> Iterator[TrialFinding]:
    import numpy as np

    from groundcrew.workflows.adjustment import (
        coco_export,  # numpy and Pillow: adjustment batches only
        masks,
    )

    attribute, imported = project.attribute_name, project.imported_attribute_name
    uri = data.get(attribute)
    body = read(uri) if isinstance(uri, str) and uri.startswith("s3://") else None
    if body is None:
        yield TrialFinding(item=item, rule="trial-mask-missing", message=f"output mask {uri!r} cannot be read")
        return
    # The export's reader: palette and RGB masks by colour, mode L by value, against the project's classes.
    try:
        labels, names = coco_export.mask_labels(body, masks.internal_color_map(masks.project_class_map(project)))
    except ValueError as error:
        yield TrialFinding(item=item, rule="trial-mask-colors", message=f"output mask {uri}: {error}")
        return
    size, _ = image_headers.image_size(s3, str(data.get("source-ref")))
    if size is not None and labels.shape != (size.height, size.width):
        yield TrialFinding(
            item=item,
            rule="trial-mask-size",
            message=f"output mask is {labels.shape[1]}x{labels.shape[0]}, the image {size.width}x{size.height}",
        )
    background = names.index(masks.BACKGROUND) if masks.BACKGROUND in names else -1
    labelled_out = int(np.count_nonzero(labels != background))
    imported_mask = data.get(str(imported))
    original = read(imported_mask) if isinstance(imported_mask, str) else None
    labelled_in = _labelled_pixels(original)
    if labelled_in and not labelled_out:
        yield TrialFinding(
            item=item,
            rule="trial-mask-lost",
            message=(
                f"the imported mask labels {labelled_in} pixels, the output none: workers were most likely shown no "
                "mask (Ground Truth shows none for a mask that is not an exact-size 8-bit PNG, without an error)"
            ),
        )


MAX_MASK_PIXELS = 100_000_000  # as the mask preflight's limit


def _labelled_pixels(png: bytes | None) -> int:
    if png is None:
        return 0
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as opened:
            if opened.size[0] * opened.size[1] > MAX_MASK_PIXELS:
                return 0  # not decoded: no real mask is this large (and a small file claiming it is a bomb)
            return int(np.count_nonzero(np.asarray(opened)))  # index 0 is BACKGROUND
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return 0


def _check_box_output(
    s3: S3Client, data: dict[str, Any], item: str, imported: str, attribute: str
) -> Iterator[TrialFinding]:
    value, before = data.get(attribute), data.get(imported)
    boxes = value.get("annotations") if isinstance(value, dict) else None
    if not isinstance(boxes, list):
        yield TrialFinding(item=item, rule="trial-box-format", message="output label has no annotations list")
        return
    had = len(before.get("annotations") or []) if isinstance(before, dict) else 0
    if had and not boxes:
        yield TrialFinding(
            item=item,
            rule="trial-boxes-lost",
            message=f"the import had {had} boxes, the output none: workers were most likely shown no boxes",
        )
    size, _ = image_headers.image_size(s3, str(data.get("source-ref")))
    for box in boxes:
        if size is None or not isinstance(box, dict):
            continue
        right, bottom = box["left"] + box["width"], box["top"] + box["height"]
        if box["left"] < 0 or box["top"] < 0 or right > size.width or bottom > size.height:
            yield TrialFinding(item=item, rule="trial-box-outside", message=f"box {box} leaves the image")


# -- the Decide and Finalize steps of adjustment batches ------------------------------------------------------------


def decide_round(steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
    """After the trial: check it and plan the rest (or stop the batch). After the full job: done."""
    project, batch = steps.project, steps.batch

    def is_trial(outcome: built_in_rounds.RoundOutcome) -> bool:
        return outcome.number == 1 and project.trial is not None and outcome.items < batch.item_count

    def after_round(outcome: built_in_rounds.RoundOutcome, name: str) -> rounds.RoundPlan | None:
        if not is_trial(outcome):
            return None
        return _check_trial(
            steps.s3, steps.publisher, project, batch, name, outcome.items, outcome.output["manifest_uri"]
        )

    result, outcome = built_in_rounds.decide_round(steps, round_failed=round_failed, next_round=after_round)
    previous = steps.execution.consensus
    result["trial_items"] = outcome.items if is_trial(outcome) else (previous.trial_items if previous else 0)
    return result


def _check_trial(
    s3: S3Client,
    publisher: EventPublisher,
    project: Project,
    batch: BatchRef,
    name: str,
    items: int,
    output_uri: str,
) -> rounds.RoundPlan:
    """Check the trial's output and announce the result; the rest of the batch is planned only when it passed."""
    findings = check_trial_output(s3, project, manifests.read_manifest(s3, S3Location.parse(output_uri)))
    plan = None if findings else _rest_plan(s3, batch, project, skip=items)
    publisher.publish(
        TrialBatchChecked(
            project=batch.project,
            batch_id=batch.batch_id,
            labeling_job_name=name,
            items=items,
            passed=not findings,
            findings=findings[:MAX_LISTED],
            rest_items=plan.item_count if plan else 0,
        )
    )
    if plan is None:  # the trial failed a check
        first = findings[0]
        raise TrialRejected(
            f"the trial job {name} failed {len(findings)} check(s), so the other {batch.item_count - items} "
            f"items were not sent; first: {first.item}: {first.message}"
        )
    return plan


def finalize(steps: BatchSteps) -> dict[str, Any]:
    """One output line per batch item in batch order, the COCO export, and what the completed event reports."""
    from groundcrew.workflows.adjustment import coco_export  # numpy and Pillow

    s3, project, batch = steps.s3, steps.project, steps.batch
    attribute = project.attribute_name
    merged = built_in_rounds.merge_batch(steps)
    output, tally = merged.location, merged.tally
    read = object_reader(s3)

    def read_mask(uri: str) -> bytes:
        body = read(uri)
        if body is None:
            raise FileNotFoundError(f"{uri} does not exist")
        return body

    exported = coco_export.export_coco(
        (line.data for line in manifests.read_manifest(s3, output)),
        attribute,
        read=read_mask,
        categories=project.labels,
    )
    coco = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("output", "coco.json")
    put_object(s3, coco, orjson.dumps(exported.coco), "application/json")
    consensus = steps.execution.consensus
    return {
        **built_in_rounds.built_in_final(project, merged.summaries, output, tally),
        "coco_uri": coco.uri,
        "adjustment": AdjustmentReport(
            adjusted=tally.adjusted,
            unadjusted=tally.labeled - tally.adjusted,
            not_labeled=tally.failed,
            trial_items=consensus.trial_items if consensus is not None else 0,
            coco_problems=[f"line {p.line}: {p.message}" for p in exported.problems][:MAX_LISTED],
        ).model_dump(mode="json"),
    }
