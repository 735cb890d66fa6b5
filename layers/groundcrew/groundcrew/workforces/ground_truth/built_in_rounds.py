"""Batches on Ground Truth's built-in task types (adjustments, 3D point clouds): AWS's own Lambdas consolidate the
answers, so each round is one job whose output lines are taken as Ground Truth wrote them. Decide records the
round (and asks the workflow for a next one); Finalize merges the rounds' outputs and reports the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from groundcrew.consensus import rounds
from groundcrew.core import manifests
from groundcrew.core.events import ConsensusReport, Cost, JobStatistics, LabelingRoundCompleted, RoundSummary
from groundcrew.core.manifests import ManifestLine
from groundcrew.core.records import BatchRef, CaughtError, ExecutionState, job_name
from groundcrew.core.s3_locations import S3Location
from groundcrew.projects import Project
from groundcrew.workforces.ground_truth import job_output

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.workflows.plugin import BatchSteps

BUILT_IN_METHOD = "ground-truth-built-in"  # who consolidates the answers: AWS's ACS- Lambda


@dataclass(frozen=True, slots=True)
class OutputTally:
    items: int = 0
    labeled: int = 0
    adjusted: int = 0
    failed: int = 0


def tally_output(lines: Iterable[ManifestLine], attribute: str) -> OutputTally:
    items = labeled = adjusted = 0
    for line in lines:
        items += 1
        metadata = job_output.built_in_label_metadata(line.data, attribute)
        if metadata is not None:
            labeled += 1
            adjusted += metadata.get("adjustment-status") == "adjusted"
    return OutputTally(items, labeled, adjusted, items - labeled)


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """How the round that just ended went: its job's output (or failure) and what it labeled."""

    number: int
    items: int
    status: str
    tally: OutputTally
    output: dict[str, Any]  # the round's entry in the state's `outputs`
    failure_reason: str | None = None


# The workflow's say after a finished round: the next round, or None (the batch is done).
NextRound = Callable[[RoundOutcome, str], rounds.RoundPlan | None]


def decide_round(
    steps: BatchSteps, *, round_failed: bool, next_round: NextRound | None = None
) -> tuple[dict[str, Any], RoundOutcome]:
    """Record the round that ended (or failed) and announce it; the Decide result and the round's outcome."""
    batch, execution = steps.batch, steps.execution
    previous = execution.consensus
    planned = previous.next_round if previous is not None else None
    outcome = round_outcome(steps.s3, steps.project, execution, planned, round_failed=round_failed)
    name = job_name(batch.batch_id, outcome.number)
    summary = _round_summary(steps.project, name, outcome)
    plan = next_round(outcome, name) if next_round is not None and not round_failed else None
    steps.publisher.publish(
        LabelingRoundCompleted(
            project=batch.project,
            batch_id=batch.batch_id,
            summary=summary,
            unresolved=outcome.tally.failed,
            next_round_items=plan.item_count if plan else 0,
            next_round_workers_per_object=plan.workers_per_object if plan else None,
        )
    )
    result = {
        "done": plan is None,
        "outputs": [*(previous.outputs if previous is not None else []), outcome.output],
        "rounds": [*(previous.rounds if previous is not None else []), summary.model_dump(mode="json")],
        "next_round": plan.to_dict() if plan else None,
    }
    return result, outcome


def round_outcome(
    s3: S3Client, project: Project, execution: ExecutionState, planned: dict[str, Any] | None, *, round_failed: bool
) -> RoundOutcome:
    """A failed round is the one that was planned, none of its items labeled; a finished one is read from its output."""
    job = execution.prepared_job()
    number = int(planned["number"]) if round_failed and planned else job.round
    items = job.item_count if job.round == number else int(planned["item_count"]) if planned else 0
    if round_failed:
        return RoundOutcome(
            number=number,
            items=items,
            status=execution.failed_stage or "Failed",
            tally=OutputTally(items=items, failed=items),
            output={"round": number, "manifest_uri": planned["manifest_uri"] if planned else "", "failed": True},
            failure_reason=(execution.error or CaughtError()).reason,
        )
    if execution.collected is None:
        raise ValueError(f"round {number} of batch {execution.batch.batch_id} finished but nothing was collected")
    output_uri = execution.collected.output_manifest_uri
    return RoundOutcome(
        number=number,
        items=items,
        status=(execution.tracking.status if execution.tracking else None) or "Completed",
        tally=tally_output(manifests.read_manifest(s3, S3Location.parse(output_uri)), project.attribute_name),
        output={"round": number, "manifest_uri": output_uri, "failed": False},
    )


def _round_summary(project: Project, name: str, outcome: RoundOutcome) -> RoundSummary:
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


@dataclass(frozen=True, slots=True)
class MergedOutput:
    """The batch's output manifest (one line per item, in batch order) and what its rounds reported."""

    location: S3Location
    tally: OutputTally
    summaries: list[RoundSummary]


def merge_batch(steps: BatchSteps) -> MergedOutput:
    consensus = steps.execution.consensus
    if consensus is None:
        raise ValueError(f"batch {steps.batch.batch_id} has no decided round to finalize")
    attribute = steps.project.attribute_name
    output = merge_outputs(steps.s3, steps.batch, attribute, consensus.outputs)
    tally = tally_output(manifests.read_manifest(steps.s3, output), attribute)
    return MergedOutput(output, tally, [RoundSummary.model_validate(r) for r in consensus.rounds])


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
