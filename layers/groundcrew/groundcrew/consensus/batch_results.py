"""A batch's labels from its answer ledger: the consensus decision, output lines, worker tallies and cost.

Pure functions over `rounds.LedgerEntry`; the Decide and Finalize steps (`ledger_steps`) do the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from groundcrew.consensus.decisions import (
    BatchDecision,
    ConsensusPolicy,
    ItemDecision,
    Outcome,
    WorkerLabel,
    WorkerPrior,
    decide,
)
from groundcrew.consensus.rounds import LedgerEntry, metadata_header
from groundcrew.consensus.worker_quality import WorkerTally

OUTPUT_TYPE = "groundcrew/image-classification-consensus"


def batch_decision(
    ledger: Mapping[str, LedgerEntry],
    labels: tuple[str, ...],
    policy: ConsensusPolicy,
    priors: Mapping[str, WorkerPrior] | None = None,
) -> BatchDecision:
    """The policy's decision over every batch item (gold items are scored, never labeled)."""
    items = [entry for entry in ledger.values() if not entry.gold]
    return decide(
        {entry.key: [WorkerLabel(str(a["worker_id"]), str(a["label"])) for a in entry.answers] for entry in items},
        labels,
        policy,
        bought={entry.key: entry.bought for entry in items},
        priors=priors,
    )


def wants_more(verdict: ItemDecision) -> bool:
    return verdict.more_answers > 0


def final_verdict(verdict: ItemDecision, entry: LedgerEntry, max_rounds: int) -> tuple[str, str | None]:
    """Status and reason once no more rounds will run: an item still wanting answers is unresolved, and says why."""
    if verdict.outcome is Outcome.CONSOLIDATED:
        return verdict.outcome.value, None
    reason = verdict.reason or verdict.outcome.value
    if wants_more(verdict):
        why = entry.notes[-1] if entry.notes else f"no rounds left (max_rounds {max_rounds})"
        reason = f"{reason}; {why}"
        status = Outcome.NO_VALID_ANSWERS.value if verdict.outcome is Outcome.NO_VALID_ANSWERS else "unresolved"
        return status, reason
    if verdict.outcome is Outcome.NO_VALID_ANSWERS and (entry.rejected or entry.notes):
        details = [str(r.get("reason")) for r in entry.rejected] + entry.notes
        reason = "no valid answer: " + "; ".join(details)
    return verdict.outcome.value, reason


def output_value(verdict: ItemDecision, entry: LedgerEntry, labels: tuple[str, ...], max_rounds: int) -> dict[str, Any]:
    """The label attribute's value in the merged output manifest."""
    status, reason = final_verdict(verdict, entry, max_rounds)
    label = verdict.label if status == Outcome.CONSOLIDATED.value else None
    value: dict[str, Any] = {
        "label": label,
        "class_id": labels.index(label) if label is not None else None,
        "status": status,
        "confidence": verdict.confidence,
        "agreement": verdict.agreement,
        "votes": verdict.votes,
        "answers": entry.answers,
        "rejected_answers": entry.rejected,
        "answers_bought": entry.bought,
        "rounds": entry.rounds,
    }
    if reason is not None:
        value["reason"] = reason
    return value


def output_metadata(
    value: Mapping[str, Any], job_names: list[str], created: str, policy: ConsensusPolicy
) -> dict[str, Any]:
    """`<attribute>-metadata`, in the spirit of Ground Truth's: what made the label, and when."""
    metadata: dict[str, Any] = {
        **metadata_header(OUTPUT_TYPE, job_names, created),
        "consensus-policy": policy.kind.value,
        "consensus-method": policy.method.value,
        "confidence": value["confidence"],
    }
    if value["label"] is not None:
        metadata["class-name"] = value["label"]
    else:
        metadata["failure-reason"] = value.get("reason")
    return metadata


def worker_tallies(
    ledger: Mapping[str, LedgerEntry], decision: BatchDecision, gold_labels: Mapping[str, str]
) -> dict[str, WorkerTally]:
    tallies: dict[str, WorkerTally] = {}
    for entry in ledger.values():
        if entry.gold:
            truth = gold_labels.get(entry.key)
            for answer in entry.answers:
                tally = tallies.setdefault(str(answer["worker_id"]), WorkerTally())
                if truth is not None:
                    tally.gold_answers += 1
                    tally.gold_correct += answer["label"] == truth
            continue
        verdict = decision.items.get(entry.key)
        label = verdict.label if verdict is not None and verdict.outcome is Outcome.CONSOLIDATED else None
        for answer in entry.answers:
            tally = tallies.setdefault(str(answer["worker_id"]), WorkerTally())
            tally.answers += 1
            if label is not None:
                tally.compared += 1
                tally.agreed += answer["label"] == label
    return tallies


@dataclass(frozen=True, slots=True)
class Spend:
    answers_bought: int
    gold_answers_bought: int
    item_answers_bought: int
    spend_usd: float | None


def spend(entries: Iterable[LedgerEntry], price: Decimal | None, round_number: int | None = None) -> Spend:
    """Answers paid for (valid and rejected), for one round or all of them, and what they cost."""
    gold = items = 0
    for entry in entries:
        bought = entry.bought if round_number is None else _bought_in_round(entry, round_number)
        if entry.gold:
            gold += bought
        else:
            items += bought
    total = gold + items
    return Spend(total, gold, items, None if price is None else float(price * total))


def _bought_in_round(entry: LedgerEntry, number: int) -> int:
    return sum(1 for a in entry.answers if a.get("round") == number) + sum(
        1 for r in entry.rejected if r.get("round") == number
    )
