"""Keypoints over the batch's answer ledger: each item's pose is checked; flagged poses go back for adjustment
(when the project says so); Finalize writes the poses, COCO files, the report of flagged poses and the timing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import rounds
from groundcrew.consensus.ledger_steps import MergedBatch, RoundJudgement, batch_lines, creation_date
from groundcrew.core import image_headers, manifests
from groundcrew.core.events import (
    MAX_LISTED,
    EventPublisher,
    ExportedFiles,
    KeypointFinding,
    KeypointIssue,
    KeypointQualityIssues,
    SecondsPerImage,
    SecondsSummary,
    TrainingDataExported,
)
from groundcrew.core.records import BatchRef
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.core.splits import assign_splits
from groundcrew.projects import Project
from groundcrew.workflows.keypoints import batches as keypoint_batches
from groundcrew.workflows.keypoints import poses
from groundcrew.workflows.keypoints.rigs import load_rig
from groundcrew.workflows.plugin import BatchSteps

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.workflows.keypoints.coco import CocoImage

KEYPOINT_METHOD = "median-after-flip-correction"  # keypoint_consensus: how several workers' poses become one


class KeypointLedger:
    consensus_method: str | None = KEYPOINT_METHOD

    def judge_round(
        self, steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry], round_items: set[str], number: int, more: bool
    ) -> RoundJudgement:
        """Flag this round's poses that fail the checks; send them back for adjustment when the project says so."""
        project, batch = steps.project, steps.batch
        verdicts, _, _ = pose_verdicts(steps.s3, batch.bucket, project, ledger)
        options = project.keypoints
        send_back = options is not None and options.send_back_flagged
        # Only this round's items: an item that already passed is not reopened by a later, different consensus.
        flagged = [key for key in sorted(round_items) if key in verdicts and verdicts[key].flagged]
        for key in flagged:
            ledger[key].notes.append(f"round {number}: flagged: {'; '.join(verdicts[key].reasons)}")
        wanting = {
            key
            for key in round_items
            if key in verdicts and keypoint_batches.wants_another_pass(verdicts[key]) and send_back
        }
        resolved = sum(1 for v in verdicts.values() if v.consensus is not None and not v.flagged)
        plan = None
        if wanting and more:
            overrides = {key: keypoint_batches.adjustment_line(verdicts[key]) for key in wanting}
            folder = rounds.round_folder(batch.bucket, batch.project, batch.batch_id, number + 1)
            workers = project.consensus_policy.initial_answers
            plan = rounds.plan_next_round(
                steps.s3,
                batch.manifest_uri,
                folder,
                number + 1,
                wanting,
                ledger,
                workers,
                overrides=overrides,
                carry=False,
            )
        if flagged:
            _publish_issues(steps, verdicts, flagged, wanting if plan is not None else set(), number)
        return RoundJudgement(plan, resolved, len(verdicts) - resolved)

    def merge_batch(
        self, steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry], job_names: list[str], output: S3Location
    ) -> MergedBatch:
        project, batch = steps.project, steps.batch
        attribute = project.attribute_name
        verdicts, rig, sizes = pose_verdicts(steps.s3, batch.bucket, project, ledger)
        created = creation_date(steps)
        values: dict[str, dict[str, Any]] = {}  # per item, only what the statistics and the event need

        def merged_lines() -> Iterator[dict[str, Any]]:
            for line in batch_lines(steps):
                key = rounds.item_key(line.data) or f"line {line.number}"
                entry = ledger.get(key) or rounds.LedgerEntry(key, notes=["the item was never labeled"])
                verdict = verdicts.get(key) or keypoint_batches.PoseVerdict(key, None)
                # Ground Truth numbers a job's objects by manifest line, from 0.
                value = keypoint_batches.output_value(verdict, entry, dataset_object_id=str(line.number - 1))
                values[key] = {
                    "status": value["status"],
                    "confidence": value.get("agreement"),
                    "votes": {},
                    "reason": value.get("reason"),
                }
                metadata = keypoint_batches.output_metadata(value, job_names, created)
                yield {**line.data, attribute: value, f"{attribute}-metadata": metadata}

        manifests.write_manifest(steps.s3, output, merged_lines())
        tallies = keypoint_batches.worker_tallies(verdicts)
        extras = keypoint_outputs(steps.s3, steps.publisher, batch, project, ledger, verdicts, rig, sizes)
        return MergedBatch(values, tallies, extras=extras)

    def export(self, steps: BatchSteps, output: S3Location) -> ExportedFiles | None:
        return None  # the COCO train/test files are written with the other keypoint outputs (merge_batch)


def _publish_issues(
    steps: BatchSteps,
    verdicts: dict[str, keypoint_batches.PoseVerdict],
    flagged: list[str],
    sent_back: set[str],
    number: int,
) -> None:
    steps.publisher.publish(
        KeypointQualityIssues(
            project=steps.batch.project,
            batch_id=steps.batch.batch_id,
            round=number,
            flagged=len(flagged),
            sent_back=len(sent_back & set(flagged)),
            items=[
                KeypointIssue(
                    item=key,
                    findings=[
                        KeypointFinding.model_validate(f)
                        for f in keypoint_batches.findings_data(verdicts[key].findings)
                    ],
                    disputed=verdicts[key].disputed,
                    sent_back=key in sent_back,
                )
                for key in flagged[:MAX_LISTED]
            ],
        )
    )


def pose_verdicts(
    s3: S3Client, bucket: str, project: Project, ledger: dict[str, rounds.LedgerEntry]
) -> tuple[dict[str, keypoint_batches.PoseVerdict], poses.Rig, dict[str, image_headers.SizeReading]]:
    assert project.keypoints is not None
    rig = load_rig(s3, bucket, project.keypoints.rig)
    sizes = image_headers.image_sizes(s3, [key for key, entry in ledger.items() if not entry.gold])
    return keypoint_batches.pose_verdicts(ledger, rig, sizes), rig, sizes


def keypoint_outputs(
    s3: S3Client,
    publisher: EventPublisher,
    batch: BatchRef,
    project: Project,
    ledger: dict[str, rounds.LedgerEntry],
    verdicts: dict[str, keypoint_batches.PoseVerdict],
    rig: poses.Rig,
    sizes: dict[str, image_headers.SizeReading],
) -> dict[str, Any]:
    """Next to the output: the COCO keypoints file, the HTML report of every pose ever flagged, the timing."""
    from groundcrew.workflows.keypoints import coco as coco_keypoints  # Pillow and numpy: Finalize only

    folder = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("output")
    category = "person" if rig.name == "coco-person" else rig.name
    images, excluded = _coco_images(verdicts, sizes)
    coco = folder.child(f"{category}_keypoints.json")
    put_object(s3, coco, orjson.dumps(coco_keypoints.to_coco(images, rig, category_name=category)))
    report = _write_report(s3, folder, batch, ledger, verdicts, rig)
    seconds = _seconds_per_image(ledger)
    exported = _export_coco(s3, publisher, batch, project, images, rig, category, excluded) if project.export else None
    return {
        "coco_uri": coco.uri,
        "report_uri": report.uri,
        "seconds_per_image": seconds.model_dump(mode="json"),
        "export": exported.model_dump(mode="json") if exported else None,
    }


def _coco_images(
    verdicts: dict[str, keypoint_batches.PoseVerdict], sizes: dict[str, image_headers.SizeReading]
) -> tuple[list[CocoImage], dict[str, int]]:
    """The COCO image of every item with a pose and a readable size; the others counted by reason."""
    from groundcrew.workflows.keypoints import coco as coco_keypoints

    images = []
    excluded = {"no pose": 0, "image size unreadable": 0}
    for key, verdict in verdicts.items():
        size = sizes.get(key, (None, None))[0]
        if verdict.pose is None:
            excluded["no pose"] += 1
        elif size is None:
            excluded["image size unreadable"] += 1  # COCO needs each image's width and height
        else:
            name = S3Location.parse(key).key
            images.append(coco_keypoints.CocoImage(name, size.width, size.height, [verdict.pose]))
    return images, excluded


def _write_report(
    s3: S3Client,
    folder: S3Location,
    batch: BatchRef,
    ledger: dict[str, rounds.LedgerEntry],
    verdicts: dict[str, keypoint_batches.PoseVerdict],
    rig: poses.Rig,
) -> S3Location:
    """The HTML report and its overlays: every pose flagged in some round or by the final checks."""
    from groundcrew.workflows.keypoints import report as keypoint_report

    entries = []
    for number, (key, verdict) in enumerate(sorted(verdicts.items()), start=1):
        history = [note for note in ledger[key].notes if ": flagged: " in note]
        if verdict.pose is None or not (history or verdict.findings):
            continue
        location = S3Location.parse(key)
        try:
            image = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
            overlay = keypoint_report.render_overlay(image, verdict.pose, rig, verdict.findings)
        except (s3.exceptions.NoSuchKey, keypoint_report.ImageDecodeError) as error:
            verdict.notes.append(f"no overlay: {error}")
            continue
        png = f"{number:05d}.png"
        put_object(s3, folder.child("report", png), overlay, "image/png")
        label = " / ".join(history) if history else "flagged by the final checks"
        entries.append(keypoint_report.ReportEntry(location.key, png, verdict.findings, label))
    report = folder.child("report", "index.html")
    title = f"Keypoint checks of batch {batch.batch_id}"
    put_object(s3, report, keypoint_report.render_report(entries, title).encode(), "text/html; charset=utf-8")
    return report


def _seconds_per_image(ledger: dict[str, rounds.LedgerEntry]) -> SecondsPerImage:
    """How long workers took per image, overall and for the first workers listed."""
    from groundcrew.workflows.keypoints import stats as keypoint_stats

    samples = [
        (str(a["worker_id"]), float(seconds))
        for entry in ledger.values()
        for a in entry.answers
        if isinstance(seconds := a.get("seconds"), int | float)
    ]
    timing = keypoint_stats.seconds_statistics(samples)
    return SecondsPerImage(
        overall=SecondsSummary(**dataclasses.asdict(timing.overall)),
        workers={
            worker: SecondsSummary(**dataclasses.asdict(summary))
            for worker, summary in list(timing.per_worker.items())[:MAX_LISTED]
        },
    )


def _export_coco(
    s3: S3Client,
    publisher: EventPublisher,
    batch: BatchRef,
    project: Project,
    images: list[Any],
    rig: poses.Rig,
    category: str,
    excluded: dict[str, int],
) -> ExportedFiles:
    """Train and test COCO files, split by image with the project's ratio and seed."""
    from groundcrew.workflows.keypoints import coco as coco_keypoints

    options = project.export
    assert options is not None
    splits = assign_splits(((image.file_name, category) for image in images), options.test_ratio, options.seed)
    folder = S3Location(batch.bucket, f"exports/{batch.project}/{batch.batch_id}")
    files = {}
    counts = {"train": 0, "test": 0}
    for split in ("train", "test"):
        chosen = [image for image in images if splits[image.file_name] == split]
        counts[split] = len(chosen)
        location = folder.child(f"{category}_keypoints_{split}.json")
        put_object(s3, location, orjson.dumps(coco_keypoints.to_coco(chosen, rig, category_name=category)))
        files[location.key.rsplit("/", 1)[-1]] = location.uri
    publisher.publish(
        TrainingDataExported(
            project=batch.project,
            batch_id=batch.batch_id,
            files=files,
            train=counts["train"],
            test=counts["test"],
            excluded=sum(excluded.values()),
            excluded_reasons=excluded,
            classes={category: dict(counts)},
        )
    )
    return ExportedFiles(files=files, train=counts["train"], test=counts["test"], excluded=sum(excluded.values()))


LEDGER = KeypointLedger()
