"""The steps after each labeling job of a batch: Decide (merge the round, plan the next) and Finalize.

Decide merges a round's answers into the batch's ledger and, per workflow, decides which items need another
pass (classification: the consensus policy; keypoints: the quality checks). Finalize merges every round into the
batch's output manifest, scores the workers, and writes the workflow's exports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import batch_results, rounds, worker_quality
from groundcrew.consensus.decisions import BatchDecision, ItemDecision, Outcome, WorkerPrior, next_round_workers
from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core import image_headers, manifests
from groundcrew.core.errors import cause_message
from groundcrew.core.events import (
    MAX_LISTED,
    ConsensusReport,
    Cost,
    EventPublisher,
    ExportedFiles,
    JobStatistics,
    KeypointFinding,
    KeypointIssue,
    KeypointQualityIssues,
    LabelingRoundCompleted,
    RoundSummary,
    SecondsPerImage,
    SecondsSummary,
    TrainingDataExported,
    UnresolvedItem,
    WorkerQuality,
)
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.core.vocabulary import ConsensusMethod, Workflow
from groundcrew.projects import Project, load_project
from groundcrew.workflows.adjustment import batches as adjustment_batches
from groundcrew.workflows.classification import training_export
from groundcrew.workflows.keypoints import batches as keypoint_batches
from groundcrew.workflows.keypoints import poses
from groundcrew.workflows.keypoints.rigs import load_rig
from groundcrew.workforces.ground_truth import job_output
from groundcrew.workforces.ground_truth import jobs as labeling_jobs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KEYPOINT_METHOD = "median-after-flip-correction"  # keypoint_consensus: how several workers' poses become one


def _round_item_keys(s3: S3Client, manifest: str) -> set[str]:
    """The batch items of a round's job manifest (gold lines are not batch items)."""
    keys: set[str] = set()
    for line in manifests.read_manifest(s3, S3Location.parse(manifest)):
        key = rounds.item_key(line.data)
        if key is not None and not line.data.get(rounds.GOLD_ATTRIBUTE):
            keys.add(key)
    return keys


def decide_round(
    s3: S3Client,
    workers: WorkerQualityStore,
    publisher: EventPublisher,
    state: dict[str, Any],
    *,
    round_failed: bool = False,
) -> dict[str, Any]:
    """Merge the round's answers into the batch's ledger and plan the next round, if any item needs one.

    A round whose job (or one of its steps) failed adds no answers: its items keep what earlier rounds gave
    them, carry the failure as their reason, and no further round runs.
    """
    batch = BatchRef.model_validate(state["batch"])
    project = load_project(s3, batch.bucket, batch.project)
    if project.workflow.adjusts_imports or project.workflow.is_point_cloud:
        # Ground Truth's built-in types consolidate themselves: one job (after a trial, if any), no more rounds.
        return adjustment_batches.decide_round(s3, publisher, project, state, round_failed=round_failed)
    job = PreparedJob.model_validate(state["job"])
    previous = state.get("consensus") or {}
    policy = project.consensus_policy
    planned = previous.get("next_round")
    # A round can fail before its Prepare step stored the new job; the plan says which round it was.
    number = int(planned["number"]) if round_failed and planned else job.round
    name = labeling_jobs.job_name(batch.batch_id, number)
    manifest = job.manifest_uri if job.round == number else str(planned["manifest_uri"]) if planned else ""
    gold_items = job.gold_items if job.round == number else 0
    ledger = rounds.read_ledger(s3, S3Location.parse(previous["ledger_uri"])) if number > 1 and previous else {}
    round_items = _round_item_keys(s3, manifest)
    status = (state.get("tracking") or {}).get("status") or "Completed"
    failure_reason: str | None = None
    if round_failed:
        error = state.get("error") or {}
        failure_reason = cause_message(error.get("Cause")) or str(error.get("Error") or "unknown error")
        status = _failed_round_status(state)
        rounds.mark_round_failed(ledger, number, round_items, f"{name}: {failure_reason}")
    else:
        output = S3Location.parse(state["collected"]["output_manifest_uri"])
        results = rounds.round_answers(manifests.read_manifest(s3, output), job.label_attribute_name, number)
        rounds.merge_round(ledger, number, round_items, results)
    ledger_location = rounds.ledger_location(batch.bucket, batch.project, batch.batch_id, number)

    rounds_left = not round_failed and number < project.consensus.max_rounds
    plan: rounds.RoundPlan | None = None
    if project.workflow is Workflow.KEYPOINTS:
        verdicts, _, _ = _pose_verdicts(s3, batch.bucket, project, ledger)
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
        unresolved = len(verdicts) - resolved
        if wanting and rounds_left:
            overrides = {key: keypoint_batches.adjustment_line(verdicts[key]) for key in wanting}
            plan = _plan_next_round(
                s3, batch, number + 1, wanting, ledger, policy.initial_answers, overrides=overrides, carry=False
            )
        if flagged:
            sent_back = wanting if plan is not None else set()
            publisher.publish(
                KeypointQualityIssues(
                    project=batch.project,
                    batch_id=batch.batch_id,
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
    else:
        priors = _priors(workers, project) if policy.method is ConsensusMethod.DAWID_SKENE else None
        decision = batch_results.batch_decision(ledger, tuple(project.labels), policy, priors)
        wanting = {key for key, verdict in decision.items.items() if batch_results.wants_more(verdict)}
        resolved = sum(1 for verdict in decision.items.values() if verdict.outcome is Outcome.CONSOLIDATED)
        unresolved = len(decision.items) - resolved
        if wanting and rounds_left:
            workers_next = min(9, max(1, next_round_workers(decision)))
            plan = _plan_next_round(s3, batch, number + 1, wanting, ledger, workers_next)
    rounds.write_ledger(s3, ledger_location, ledger)

    cost = batch_results.spend(ledger.values(), project.workforce.price_per_task_usd, number)
    collected = {} if round_failed else (state.get("collected") or {}).get("statistics") or {}
    seconds = collected.get("mean_seconds_per_item")
    summary = RoundSummary(
        round=number,
        labeling_job_name=name,
        status=status,
        items=len(round_items),
        gold_items=gold_items,
        answers_bought=cost.answers_bought,
        spend_usd=_usd(cost.spend_usd),
        resolved=resolved,
        failure_reason=failure_reason,
        worker_seconds=round(seconds * (len(round_items) + gold_items), 2) if seconds is not None else None,
    )
    publisher.publish(
        LabelingRoundCompleted(
            project=batch.project,
            batch_id=batch.batch_id,
            summary=summary,
            unresolved=unresolved,
            next_round_items=plan.item_count if plan else 0,
            next_round_workers_per_object=plan.workers_per_object if plan else None,
        )
    )
    return {
        "done": plan is None,
        "ledger_uri": ledger_location.uri,
        "rounds": [*previous.get("rounds", []), summary.model_dump(mode="json")],
        "next_round": plan.to_dict() if plan else None,
    }


def _failed_round_status(state: dict[str, Any]) -> str:
    """The job's own end (Failed, Stopped) when Ground Truth ended it, else what broke and where."""
    error = str((state.get("error") or {}).get("Error") or "")
    if error in {"LabelingJobFailed", "LabelingJobStopped"}:
        return error.removeprefix("LabelingJob")
    if error == "NothingLabeled":
        return "NothingLabeled"
    return f"{error or 'error'} in {state.get('failed_stage') or 'an unknown stage'}"


def _priors(workers: WorkerQualityStore, project: Project) -> dict[str, WorkerPrior]:
    return worker_quality.priors(workers.history(project.name).values())


def _plan_next_round(
    s3: S3Client,
    batch: BatchRef,
    number: int,
    keys: set[str],
    ledger: dict[str, rounds.LedgerEntry],
    workers_per_object: int,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    carry: bool = True,
) -> rounds.RoundPlan:
    """The next round's manifest; `carry` hands the earlier answers to its consolidation (votes add up), while
    an adjustment round starts from `overrides` instead (its answers replace the pose they adjust)."""
    folder = rounds.round_folder(batch.bucket, batch.project, batch.batch_id, number)
    manifest = folder.child("input.manifest")
    lines = manifests.read_manifest(s3, S3Location.parse(batch.manifest_uri))
    count = manifests.write_manifest(s3, manifest, rounds.round_manifest_lines(lines, keys, (), [], overrides))
    if not carry:
        return rounds.RoundPlan(number, manifest.uri, count, workers_per_object)
    carried = folder.child("carried-answers.json")
    rounds.write_carried_answers(s3, carried, ledger, keys)
    return rounds.RoundPlan(number, manifest.uri, count, workers_per_object, carried.uri)


def _pose_verdicts(
    s3: S3Client, bucket: str, project: Project, ledger: dict[str, rounds.LedgerEntry]
) -> tuple[dict[str, keypoint_batches.PoseVerdict], poses.Rig, dict[str, image_headers.SizeReading]]:
    assert project.keypoints is not None
    rig = load_rig(s3, bucket, project.keypoints.rig)
    sizes = image_headers.image_sizes(s3, [key for key, entry in ledger.items() if not entry.gold])
    return keypoint_batches.pose_verdicts(ledger, rig, sizes), rig, sizes


def _usd(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 4)


def finalize_batch(
    s3: S3Client,
    workers: WorkerQualityStore,
    publisher: EventPublisher,
    state: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Merge every round into the output manifest, score the workers, export training data, sum up the cost."""
    batch = BatchRef.model_validate(state["batch"])
    consensus_state = state["consensus"]
    project = load_project(s3, batch.bucket, batch.project)
    if project.workflow.adjusts_imports:
        return adjustment_batches.finalize(s3, project, state)
    if project.workflow.is_point_cloud:
        from groundcrew.workflows.point_cloud import batches as point_cloud_batches  # numpy: point cloud batches only

        return point_cloud_batches.finalize(s3, project, state)
    policy = project.consensus_policy
    labels = tuple(project.labels)
    ledger = rounds.read_ledger(s3, S3Location.parse(consensus_state["ledger_uri"]))
    round_summaries = [RoundSummary.model_validate(r) for r in consensus_state["rounds"]]
    job_names = [r.labeling_job_name for r in round_summaries]
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    output = rounds.output_manifest_location(batch.bucket, batch.project, batch.batch_id)
    attribute = project.attribute_name
    values: dict[str, dict[str, Any]] = {}  # per item, only what the statistics and the event need
    batch_lines = manifests.read_manifest(s3, S3Location.parse(batch.manifest_uri))
    decision: BatchDecision | None = None
    if project.workflow is Workflow.KEYPOINTS:
        verdicts, rig, sizes = _pose_verdicts(s3, batch.bucket, project, ledger)

        def merged_lines() -> Iterator[dict[str, Any]]:
            for line in batch_lines:
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

        manifests.write_manifest(s3, output, merged_lines())
        tallies = keypoint_batches.worker_tallies(verdicts)
        extras = _keypoint_outputs(s3, publisher, batch, project, ledger, verdicts, rig, sizes)
    else:
        priors = _priors(workers, project) if policy.method is ConsensusMethod.DAWID_SKENE else None
        decision = batch_results.batch_decision(ledger, labels, policy, priors)

        def merged_lines() -> Iterator[dict[str, Any]]:
            assert decision is not None
            for line in batch_lines:
                key = rounds.item_key(line.data)
                entry = ledger.get(key) if key is not None else None
                verdict = decision.items.get(key) if key is not None else None
                if entry is None or verdict is None:
                    entry = rounds.LedgerEntry(key or f"line {line.number}", notes=["the item was never labeled"])
                    verdict = _no_answers()
                value = batch_results.output_value(verdict, entry, labels, project.consensus.max_rounds)
                values[entry.key] = {name: value.get(name) for name in ("status", "confidence", "votes", "reason")}
                yield {
                    **line.data,
                    attribute: value,
                    f"{attribute}-metadata": batch_results.output_metadata(value, job_names, created, policy),
                }

        manifests.write_manifest(s3, output, merged_lines())
        gold_labels = {project.gold_uri(g, batch.bucket): g.label for g in project.quality.gold.items}
        tallies = batch_results.worker_tallies(ledger, decision, gold_labels)
        extras = {}
    workers.record_batch(project.name, batch.batch_id, tallies)
    history = workers.history(project.name)
    quality = _worker_quality(tallies, decision, history, project)
    report = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("output", "worker-quality.json")
    put_object(s3, report, orjson.dumps(_worker_report(quality, decision, labels)))

    statistics = _batch_statistics(values, round_summaries, ledger)
    if statistics.labeled == 0:
        raise job_output.NothingLabeled(
            f"batch {batch.batch_id} ended with nothing labeled: {statistics.items} items, "
            f"{statistics.unresolved} unresolved, {statistics.failed} without a valid answer; see {output.uri}"
        )
    cost = batch_results.spend(ledger.values(), project.workforce.price_per_task_usd)
    classification = project.workflow is not Workflow.KEYPOINTS
    exported = _export(s3, publisher, batch, project, output) if project.export and classification else None
    unresolved = [
        UnresolvedItem(item=key, status=value["status"], reason=str(value.get("reason")), votes=value["votes"])
        for key, value in values.items()
        if value["status"] != Outcome.CONSOLIDATED.value
    ]
    return {
        "output_manifest_uri": output.uri,
        "labeling_job_names": job_names,
        "statistics": statistics.model_dump(mode="json"),
        "consensus": ConsensusReport(
            policy=policy.kind.value,
            method=policy.method.value if classification else KEYPOINT_METHOD,
            rounds=round_summaries,
            ties=statistics.ties,
            unresolved_items=unresolved[:MAX_LISTED],
        ).model_dump(mode="json"),
        "cost": Cost(
            price_per_task_usd=(
                float(project.workforce.price_per_task_usd)
                if project.workforce.price_per_task_usd is not None
                else None
            ),
            answers_bought=cost.answers_bought,
            gold_answers_bought=cost.gold_answers_bought,
            answers_per_item=round(cost.item_answers_bought / statistics.items, 4) if statistics.items else 0.0,
            spend_usd=_usd(cost.spend_usd),
            **_mturk_fees(project, cost.answers_bought),
        ).model_dump(mode="json"),
        "workers": [w.model_dump(mode="json") for w in quality[:MAX_LISTED]],
        "worker_report_uri": report.uri,
        "flagged_workers": sum(1 for w in quality if w.flagged),
        "export": exported.model_dump(mode="json") if exported else None,
        **extras,
    }


def _keypoint_outputs(
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
    from groundcrew.workflows.keypoints import report as keypoint_report
    from groundcrew.workflows.keypoints import stats as keypoint_stats

    folder = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("output")
    category = "person" if rig.name == "coco-person" else rig.name
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
    coco = folder.child(f"{category}_keypoints.json")
    put_object(s3, coco, orjson.dumps(coco_keypoints.to_coco(images, rig, category_name=category)))

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

    samples = [
        (str(a["worker_id"]), float(a["seconds"]))
        for entry in ledger.values()
        for a in entry.answers
        if isinstance(a.get("seconds"), int | float)
    ]
    timing = keypoint_stats.seconds_statistics(samples)
    seconds = SecondsPerImage(
        overall=SecondsSummary(**dataclasses.asdict(timing.overall)),
        workers={
            worker: SecondsSummary(**dataclasses.asdict(summary))
            for worker, summary in list(timing.per_worker.items())[:MAX_LISTED]
        },
    )
    exported = _export_coco(s3, publisher, batch, project, images, rig, category, excluded) if project.export else None
    return {
        "coco_uri": coco.uri,
        "report_uri": report.uri,
        "seconds_per_image": seconds.model_dump(mode="json"),
        "export": exported.model_dump(mode="json") if exported else None,
    }


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
    splits = training_export.assign_splits(
        ((image.file_name, category) for image in images), options.test_ratio, options.seed
    )
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


def _no_answers() -> ItemDecision:
    return ItemDecision(
        outcome=Outcome.NO_VALID_ANSWERS,
        label=None,
        confidence=0.0,
        agreement=0.0,
        votes={},
        more_answers=0,
        reason="no valid answer",
    )


def _worker_report(
    quality: list[WorkerQuality], decision: BatchDecision | None, labels: tuple[str, ...]
) -> dict[str, Any]:
    """Every worker (the event lists at most 50), with Dawid-Skene's confusion matrix when the method has one."""
    workers = []
    for report in quality:
        estimate = decision.workers.get(report.worker_id) if decision is not None else None
        confusion = estimate.confusion if estimate is not None else None
        workers.append({**report.model_dump(mode="json"), "confusion": confusion})
    return {"labels": list(labels), "confusion_axes": ["true label", "answered label"], "workers": workers}


def _worker_quality(
    tallies: dict[str, worker_quality.WorkerTally],
    decision: BatchDecision | None,
    history: dict[str, worker_quality.WorkerHistory],
    project: Project,
) -> list[WorkerQuality]:
    reports = []
    for worker_id, tally in tallies.items():
        record = history.get(worker_id)
        estimate = decision.workers.get(worker_id) if decision is not None else None
        reports.append(
            WorkerQuality(
                worker_id=worker_id,
                answers=tally.answers,
                agreement=round(tally.agreed / tally.compared, 4) if tally.compared else None,
                gold_answers=tally.gold_answers,
                gold_accuracy=round(tally.gold_correct / tally.gold_answers, 4) if tally.gold_answers else None,
                estimated_accuracy=estimate.accuracy if estimate is not None else None,
                history_accuracy=record.accuracy if record else None,
                history_answers=record.answers if record else tally.answers,
                flagged=bool(record and record.flagged(project.quality.flag_below, project.quality.min_evidence)),
            )
        )
    # Flagged first, then the least accurate: the list in the event is capped.
    reports.sort(key=lambda w: (not w.flagged, w.history_accuracy if w.history_accuracy is not None else 2.0))
    return reports


def _batch_statistics(
    values: dict[str, dict[str, Any]], summaries: list[RoundSummary], ledger: dict[str, rounds.LedgerEntry]
) -> JobStatistics:
    statuses = [value["status"] for value in values.values()]
    labeled = statuses.count(Outcome.CONSOLIDATED.value)
    confidences = [v["confidence"] for v in values.values() if v["status"] == Outcome.CONSOLIDATED.value]
    seconds = [r.worker_seconds for r in summaries if r.worker_seconds is not None]
    objects = sum(r.items + r.gold_items for r in summaries)
    answer_count = sum(len(e.answers) for e in ledger.values() if not e.gold)
    workers = {str(a["worker_id"]) for e in ledger.values() for a in e.answers}
    return JobStatistics(
        items=len(values),
        labeled=labeled,
        unresolved=sum(1 for s in statuses if s not in {Outcome.CONSOLIDATED.value, Outcome.NO_VALID_ANSWERS.value}),
        failed=statuses.count(Outcome.NO_VALID_ANSWERS.value),
        mean_agreement=round(sum(confidences) / len(confidences), 4) if confidences else None,
        unanimous=sum(1 for v in values.values() if v["status"] == "consolidated" and len(v["votes"]) == 1),
        answers=answer_count,
        mean_seconds_per_item=round(sum(seconds) / objects, 2) if seconds and objects else None,
        workers=len(workers),
        ties=statuses.count(Outcome.TIE.value),
        rounds=len(summaries),
    )


def _export(
    s3: S3Client, publisher: EventPublisher, batch: BatchRef, project: Project, output: S3Location
) -> ExportedFiles:
    options = project.export
    assert options is not None
    result = training_export.export_training_data(
        s3,
        lambda: manifests.read_manifest(s3, output),
        project.attribute_name,
        tuple(project.labels),
        S3Location(batch.bucket, f"exports/{batch.project}/{batch.batch_id}"),
        training_export.ExportOptions(test_ratio=options.test_ratio, seed=options.seed, formats=tuple(options.formats)),
    )
    publisher.publish(
        TrainingDataExported(
            project=batch.project,
            batch_id=batch.batch_id,
            files=result.files,
            train=result.train,
            test=result.test,
            excluded=result.excluded,
            excluded_reasons=result.excluded_reasons,
            classes=result.classes,
        )
    )
    return ExportedFiles(files=result.files, train=result.train, test=result.test, excluded=result.excluded)


def _mturk_fees(project: Project, answers: int) -> dict[str, Any]:
    """Mechanical Turk's fees on the approved answers (HITs stay under 10 assignments, so the 20 % rate)."""
    price = project.workforce.price_per_task_usd
    if project.workforce.kind != "mturk" or price is None:
        return {}
    from groundcrew.workforces.mturk import hits as mturk_hits

    reward = Decimal(price).quantize(Decimal("0.01"))
    paid = mturk_hits.estimate_cost(
        items=answers, assignments_per_item=1, reward=reward, masters=project.workforce.mturk_settings.masters
    )
    return {"fees_usd": float(paid.fees), "fee_rule": paid.fee_rule}
