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
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import rounds
from groundcrew.core import image_headers, manifests
from groundcrew.core.errors import cause_message
from groundcrew.core.events import (
    MAX_LISTED,
    AdjustmentReport,
    ConsensusReport,
    Cost,
    EventPublisher,
    JobStatistics,
    LabelingRoundCompleted,
    RoundSummary,
    TrialBatchChecked,
    TrialFinding,
)
from groundcrew.core.manifests import ManifestLine
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location, object_reader, put_object
from groundcrew.core.vocabulary import Workflow
from groundcrew.projects import Project
from groundcrew.workforces.ground_truth import job_output
from groundcrew.workforces.ground_truth import jobs as labeling_jobs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUILT_IN_METHOD = "ground-truth-built-in"  # who consolidates adjustment answers: AWS's ACS- Lambda


class TrialRejected(RuntimeError):
    """The trial job's output failed the checks; the full job was not launched."""


@dataclass(frozen=True, slots=True)
class OutputTally:
    items: int = 0
    labeled: int = 0
    adjusted: int = 0
    failed: int = 0


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


def tally_output(lines: Iterable[ManifestLine], attribute: str) -> OutputTally:
    items = labeled = adjusted = 0
    for line in lines:
        items += 1
        metadata = job_output.built_in_label_metadata(line.data, attribute)
        if metadata is not None:
            labeled += 1
            adjusted += metadata.get("adjustment-status") == "adjusted"
    return OutputTally(items, labeled, adjusted, items - labeled)


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


def _labelled_pixels(png: bytes | None) -> int:
    if png is None:
        return 0
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as opened:
            return int(np.count_nonzero(np.asarray(opened)))  # index 0 is BACKGROUND
    except (UnidentifiedImageError, OSError):
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


@dataclass(frozen=True, slots=True)
class _RoundOutcome:
    """How the round that just ended went: its job's output (or failure) and what it labeled."""

    number: int
    items: int
    status: str
    tally: OutputTally
    output: dict[str, Any]  # the round's entry in the state's `outputs`
    failure_reason: str | None = None


def decide_round(
    s3: S3Client, publisher: EventPublisher, project: Project, state: dict[str, Any], *, round_failed: bool
) -> dict[str, Any]:
    """After the trial: check it and plan the rest (or stop the batch). After the full job: done."""
    batch = BatchRef.model_validate(state["batch"])
    previous = state.get("consensus") or {}
    outcome = _round_outcome(s3, project, state, previous.get("next_round"), round_failed=round_failed)
    name = labeling_jobs.job_name(batch.batch_id, outcome.number)
    outputs = [*previous.get("outputs", []), outcome.output]
    summary = _round_summary(project, name, outcome)
    items = outcome.items
    is_trial = outcome.number == 1 and project.trial is not None and items < batch.item_count
    plan = None
    if is_trial and not round_failed:
        plan = _check_trial(s3, publisher, project, batch, name, items, outcome.output["manifest_uri"])
    publisher.publish(
        LabelingRoundCompleted(
            project=batch.project,
            batch_id=batch.batch_id,
            summary=summary,
            unresolved=outcome.tally.failed,
            next_round_items=plan.item_count if plan else 0,
            next_round_workers_per_object=plan.workers_per_object if plan else None,
        )
    )
    return {
        "done": plan is None,
        "outputs": outputs,
        "rounds": [*previous.get("rounds", []), summary.model_dump(mode="json")],
        "next_round": plan.to_dict() if plan else None,
        "trial_items": items if is_trial else int(previous.get("trial_items") or 0),
    }


def _round_outcome(
    s3: S3Client, project: Project, state: dict[str, Any], planned: dict[str, Any] | None, *, round_failed: bool
) -> _RoundOutcome:
    """A failed round is the one that was planned, none of its items labeled; a finished one is read from its output."""
    job = PreparedJob.model_validate(state["job"])
    number = int(planned["number"]) if round_failed and planned else job.round
    items = job.item_count if job.round == number else int(planned["item_count"]) if planned else 0
    if round_failed:
        error = state.get("error") or {}
        return _RoundOutcome(
            number=number,
            items=items,
            status=str(state.get("failed_stage") or "Failed"),
            tally=OutputTally(items=items, failed=items),
            output={"round": number, "manifest_uri": planned["manifest_uri"] if planned else "", "failed": True},
            failure_reason=cause_message(error.get("Cause")) or str(error.get("Error") or "unknown error"),
        )
    output_uri = state["collected"]["output_manifest_uri"]
    return _RoundOutcome(
        number=number,
        items=items,
        status=str((state.get("tracking") or {}).get("status") or "Completed"),
        tally=tally_output(manifests.read_manifest(s3, S3Location.parse(output_uri)), project.attribute_name),
        output={"round": number, "manifest_uri": output_uri, "failed": False},
    )


def _round_summary(project: Project, name: str, outcome: _RoundOutcome) -> RoundSummary:
    price = project.workforce.price_per_task_usd
    answers = outcome.tally.labeled * project.workers_per_object
    return RoundSummary(
        round=outcome.number,
        labeling_job_name=name,
        status=outcome.status,
        items=outcome.items,
        gold_items=0,
        answers_bought=answers,
        spend_usd=float(price * answers) if price is not None else None,
        resolved=outcome.tally.labeled,
        failure_reason=outcome.failure_reason,
    )


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


def merge_outputs(s3: S3Client, batch: BatchRef, attribute: str, outputs: list[dict[str, Any]]) -> S3Location:
    """One output line per batch item, in batch order, from the jobs that ran (Ground Truth's built-in types)."""
    output = rounds.output_manifest_location(batch.bucket, batch.project, batch.batch_id)
    labeled: dict[str, dict[str, Any]] = {}
    for entry in outputs:
        if entry["failed"] or not entry["manifest_uri"]:
            continue
        for line in manifests.read_manifest(s3, S3Location.parse(entry["manifest_uri"])):
            key = rounds.item_key(line.data)
            if key is not None and attribute in line.data:
                labeled[key] = line.data

    def merged() -> Iterator[dict[str, Any]]:
        # Items a failed round never labeled keep their input line: nothing is dropped.
        for line in manifests.read_manifest(s3, S3Location.parse(batch.manifest_uri)):
            yield labeled.get(rounds.item_key(line.data) or "", line.data)

    manifests.write_manifest(s3, output, merged())
    return output


def built_in_final(
    project: Project, summaries: list[RoundSummary], output: S3Location, tally: OutputTally
) -> dict[str, Any]:
    """What every completed event of a built-in task type reports: AWS consolidated, no consensus of ours ran."""
    price = project.workforce.price_per_task_usd
    answers = sum(r.answers_bought for r in summaries)
    return {
        "labeling_job_names": [r.labeling_job_name for r in summaries],
        "output_manifest_uri": output.uri,
        "statistics": JobStatistics(
            items=tally.items,
            labeled=tally.labeled,
            unresolved=0,
            failed=tally.failed,
            mean_agreement=None,
            unanimous=0,
            answers=answers,
            mean_seconds_per_item=None,
            workers=0,
            rounds=len(summaries),
        ).model_dump(mode="json"),
        "consensus": ConsensusReport(policy="fixed", method=BUILT_IN_METHOD, rounds=summaries, ties=0).model_dump(
            mode="json"
        ),
        "cost": Cost(
            price_per_task_usd=float(price) if price is not None else None,
            answers_bought=answers,
            gold_answers_bought=0,
            answers_per_item=round(answers / tally.items, 3) if tally.items else 0.0,
            spend_usd=float(price * Decimal(answers)) if price is not None else None,
        ).model_dump(mode="json"),
        "workers": [],
        "flagged_workers": 0,
    }


def finalize(s3: S3Client, project: Project, state: dict[str, Any]) -> dict[str, Any]:
    """One output line per batch item in batch order, the COCO export, and what the completed event reports."""
    from groundcrew.workflows.adjustment import coco_export  # numpy and Pillow

    batch = BatchRef.model_validate(state["batch"])
    consensus = state["consensus"]
    attribute = project.attribute_name
    summaries = [RoundSummary.model_validate(r) for r in consensus["rounds"]]
    output = merge_outputs(s3, batch, attribute, consensus["outputs"])
    tally = tally_output(manifests.read_manifest(s3, output), attribute)
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
    return {
        **built_in_final(project, summaries, output, tally),
        "coco_uri": coco.uri,
        "adjustment": AdjustmentReport(
            adjusted=tally.adjusted,
            unadjusted=tally.labeled - tally.adjusted,
            not_labeled=tally.failed,
            trial_items=int(consensus.get("trial_items") or 0),
            coco_problems=[f"line {p.line}: {p.message}" for p in exported.problems][:MAX_LISTED],
        ).model_dump(mode="json"),
    }
