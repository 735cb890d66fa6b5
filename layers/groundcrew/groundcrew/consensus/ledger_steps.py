"""Decide and Finalize for the workflows whose answers go through our consolidation into the batch's answer ledger.

Decide merges a round's answers into the ledger, asks the workflow which items need another pass (`judge_round`),
and reports the round. Finalize merges every round into the output manifest (`merge_batch`), scores the workers,
sums up the cost and hands the rest of the exports to the workflow (`export`). Workflows on Ground Truth's
built-in task types consolidate in AWS and have Decide and Finalize steps of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from groundcrew.consensus import batch_results, rounds, worker_quality
from groundcrew.consensus.decisions import BatchDecision, Outcome
from groundcrew.core import manifests
from groundcrew.core.errors import NothingLabeled
from groundcrew.core.events import (
    MAX_LISTED,
    ConsensusReport,
    Cost,
    ExportedFiles,
    JobStatistics,
    LabelingRoundCompleted,
    RoundSummary,
    UnresolvedItem,
    WorkerQuality,
)
from groundcrew.core.records import CaughtError, ExecutionState, PreparedJob, job_name
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.projects import Project
from groundcrew.workforces.registry import for_workforce

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.workflows.plugin import BatchSteps


@dataclass(frozen=True, slots=True)
class RoundJudgement:
    """A workflow's verdict on the batch after a round: the next round (None: done) and how many items are settled."""

    plan: rounds.RoundPlan | None
    resolved: int
    unresolved: int


@dataclass(slots=True)
class MergedBatch:
    """The output manifest is written; what Finalize reports from it."""

    values: dict[str, dict[str, Any]]  # per item: status, confidence, votes, reason
    tallies: dict[str, worker_quality.WorkerTally]
    decision: BatchDecision | None = None  # the consensus decision, for workflows that vote on labels
    extras: dict[str, Any] = field(default_factory=dict)  # the workflow's own fields of the completed event


class LedgerWorkflow(Protocol):
    consensus_method: str | None  # None: the project's consensus method

    def judge_round(
        self, steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry], round_items: set[str], number: int, more: bool
    ) -> RoundJudgement:
        """Which items need another pass after round `number`; plan it when `more` rounds are allowed."""
        ...

    def merge_batch(
        self, steps: BatchSteps, ledger: dict[str, rounds.LedgerEntry], job_names: list[str], output: S3Location
    ) -> MergedBatch:
        """Write the batch's output manifest, one line per batch item in batch order, from the ledger."""
        ...

    def export(self, steps: BatchSteps, output: S3Location) -> ExportedFiles | None:
        """Training data from the output manifest, once the batch is known to have labels."""
        ...


def _round_item_keys(s3: S3Client, manifest: str) -> set[str]:
    keys: set[str] = set()
    if not manifest:
        return keys
    for line in manifests.read_manifest(s3, S3Location.parse(manifest)):
        key = rounds.item_key(line.data)
        if key is not None and not line.data.get(rounds.GOLD_ATTRIBUTE):
            keys.add(key)
    return keys


def decide_round(steps: BatchSteps, workflow: LedgerWorkflow, *, round_failed: bool = False) -> dict[str, Any]:
    """Merge the round's answers into the batch's ledger and plan the next round, if any item needs one.

    A round whose job (or one of its steps) failed adds no answers: its items keep what earlier rounds gave
    them, carry the failure as their reason, and no further round runs.
    """
    s3, batch, project, execution = steps.s3, steps.batch, steps.project, steps.execution
    job = execution.prepared_job()
    previous = execution.consensus
    planned = previous.next_round if previous is not None else None
    # A round can fail before its Prepare step stored the new job; the plan says which round it was.
    number = int(planned["number"]) if round_failed and planned else job.round
    manifest = job.manifest_uri if job.round == number else str(planned["manifest_uri"]) if planned else ""
    ledger_uri = previous.ledger_uri if previous is not None and number > 1 else None
    ledger = rounds.read_ledger(s3, S3Location.parse(ledger_uri)) if ledger_uri else {}
    round_items = _round_item_keys(s3, manifest)
    status, failure_reason = _merge_round(steps, job, ledger, number, round_items, round_failed=round_failed)
    more = not round_failed and number < project.consensus.max_rounds
    judgement = workflow.judge_round(steps, ledger, round_items, number, more)
    ledger_location = rounds.ledger_location(batch.bucket, batch.project, batch.batch_id, number)
    rounds.write_ledger(s3, ledger_location, ledger)
    summary = _round_summary(steps, job, ledger, number, round_items, judgement, status, failure_reason)
    plan = judgement.plan
    steps.publisher.publish(
        LabelingRoundCompleted(
            project=batch.project,
            batch_id=batch.batch_id,
            summary=summary,
            unresolved=judgement.unresolved,
            next_round_items=plan.item_count if plan else 0,
            next_round_workers_per_object=plan.workers_per_object if plan else None,
        )
    )
    return {
        "done": plan is None,
        "ledger_uri": ledger_location.uri,
        "rounds": [*(previous.rounds if previous is not None else []), summary.model_dump(mode="json")],
        "next_round": plan.to_dict() if plan else None,
    }


def _merge_round(
    steps: BatchSteps,
    job: PreparedJob,
    ledger: dict[str, rounds.LedgerEntry],
    number: int,
    round_items: set[str],
    *,
    round_failed: bool,
) -> tuple[str, str | None]:
    """The round's answers into the ledger, or its failure onto its items; the round's status and failure."""
    execution = steps.execution
    if round_failed:
        failure_reason = (execution.error or CaughtError()).reason
        name = job_name(steps.batch.batch_id, number)
        rounds.mark_round_failed(ledger, number, round_items, f"{name}: {failure_reason}")
        return _failed_round_status(execution), failure_reason
    if execution.collected is None:
        raise ValueError(f"round {number} of batch {steps.batch.batch_id} finished but nothing was collected")
    output = S3Location.parse(execution.collected.output_manifest_uri)
    results = rounds.round_answers(manifests.read_manifest(steps.s3, output), job.label_attribute_name, number)
    rounds.merge_round(ledger, number, round_items, results)
    return (execution.tracking.status if execution.tracking else None) or "Completed", None


def _round_summary(
    steps: BatchSteps,
    job: PreparedJob,
    ledger: dict[str, rounds.LedgerEntry],
    number: int,
    round_items: set[str],
    judgement: RoundJudgement,
    status: str,
    failure_reason: str | None,
) -> RoundSummary:
    gold_items = job.gold_items if job.round == number else 0
    cost = batch_results.spend(ledger.values(), steps.project.workforce.price_per_task_usd, number)
    collected = steps.execution.collected
    statistics = collected.statistics if collected is not None and failure_reason is None else {}
    seconds = statistics.get("mean_seconds_per_item")
    return RoundSummary(
        round=number,
        labeling_job_name=job_name(steps.batch.batch_id, number),
        status=status,
        items=len(round_items),
        gold_items=gold_items,
        answers_bought=cost.answers_bought,
        spend_usd=_usd(cost.spend_usd),
        resolved=judgement.resolved,
        failure_reason=failure_reason,
        worker_seconds=round(seconds * (len(round_items) + gold_items), 2) if seconds is not None else None,
    )


def _failed_round_status(execution: ExecutionState) -> str:
    """The job's own end (Failed, Stopped) when Ground Truth ended it, else what broke and where."""
    error = str(execution.error.Error or "") if execution.error is not None else ""
    if error in {"LabelingJobFailed", "LabelingJobStopped"}:
        return error.removeprefix("LabelingJob")
    if error == "NothingLabeled":
        return "NothingLabeled"
    return f"{error or 'error'} in {execution.failed_stage or 'an unknown stage'}"


def _usd(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 4)


def creation_date(steps: BatchSteps) -> str:
    """The `creation-date` of output lines: Ground Truth's format, without a zone."""
    return (steps.now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")


def batch_lines(steps: BatchSteps) -> Iterator[manifests.ManifestLine]:
    return manifests.read_manifest(steps.s3, S3Location.parse(steps.batch.manifest_uri))


def finalize_batch(steps: BatchSteps, workflow: LedgerWorkflow) -> dict[str, Any]:
    """Merge every round into the output manifest, score the workers, export training data, sum up the cost."""
    s3, batch, project = steps.s3, steps.batch, steps.project
    policy = project.consensus_policy
    labels = tuple(project.labels)
    consensus = steps.execution.consensus
    if consensus is None or consensus.ledger_uri is None:
        raise ValueError(f"batch {batch.batch_id} has no answer ledger to finalize: no round was decided")
    ledger = rounds.read_ledger(s3, S3Location.parse(consensus.ledger_uri))
    round_summaries = [RoundSummary.model_validate(r) for r in consensus.rounds]
    job_names = [r.labeling_job_name for r in round_summaries]
    output = rounds.output_manifest_location(batch.bucket, batch.project, batch.batch_id)
    merged = workflow.merge_batch(steps, ledger, job_names, output)
    steps.workers.record_batch(project.name, batch.batch_id, merged.tallies)
    history = steps.workers.history(project.name)
    quality = _worker_quality(merged.tallies, merged.decision, history, project)
    report = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("output", "worker-quality.json")
    put_object(s3, report, orjson.dumps(_worker_report(quality, merged.decision, labels)))

    statistics = _batch_statistics(merged.values, round_summaries, ledger)
    if statistics.labeled == 0:
        raise NothingLabeled(
            f"batch {batch.batch_id} ended with nothing labeled: {statistics.items} items, "
            f"{statistics.unresolved} unresolved, {statistics.failed} without a valid answer; see {output.uri}"
        )
    cost = batch_results.spend(ledger.values(), project.workforce.price_per_task_usd)
    exported = workflow.export(steps, output)
    unresolved = [
        UnresolvedItem(item=key, status=value["status"], reason=str(value.get("reason")), votes=value["votes"])
        for key, value in merged.values.items()
        if value["status"] != Outcome.CONSOLIDATED.value
    ]
    price = project.workforce.price_per_task_usd
    return {
        "output_manifest_uri": output.uri,
        "labeling_job_names": job_names,
        "statistics": statistics.model_dump(mode="json"),
        "consensus": ConsensusReport(
            policy=policy.kind.value,
            method=workflow.consensus_method or policy.method.value,
            rounds=round_summaries,
            ties=statistics.ties,
            unresolved_items=unresolved[:MAX_LISTED],
        ).model_dump(mode="json"),
        "cost": Cost(
            price_per_task_usd=float(price) if price is not None else None,
            answers_bought=cost.answers_bought,
            gold_answers_bought=cost.gold_answers_bought,
            answers_per_item=round(cost.item_answers_bought / statistics.items, 4) if statistics.items else 0.0,
            spend_usd=_usd(cost.spend_usd),
            **for_workforce(project.workforce.kind).fees(project, cost.answers_bought),
        ).model_dump(mode="json"),
        "workers": [w.model_dump(mode="json") for w in quality[:MAX_LISTED]],
        "worker_report_uri": report.uri,
        "flagged_workers": sum(1 for w in quality if w.flagged),
        "export": exported.model_dump(mode="json") if exported else None,
        **merged.extras,
    }


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
