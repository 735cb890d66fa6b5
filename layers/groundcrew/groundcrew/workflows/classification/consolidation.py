"""One round's classification answers to one label per object: the consensus decision over the whole call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.consensus.decisions import Outcome, WorkerLabel, decide
from groundcrew.workforces.ground_truth.consolidation import failure, no_answer_reason, response_entry

if TYPE_CHECKING:
    from groundcrew.core.events import ConsolidationFailure
    from groundcrew.workforces.ground_truth.consolidation import JobContext, PayloadItem


def label_items(
    items: list[PayloadItem], context: JobContext, attribute: str, failures: list[ConsolidationFailure]
) -> tuple[list[dict[str, Any]], int]:
    labels = context.labels
    decision = decide(
        {item.key: [WorkerLabel(str(a["worker_id"]), str(a["label"])) for a in item.answers] for item in items},
        labels,
        context.policy,
        bought={item.key: len(item.answers) + len(item.rejected) for item in items},
        priors=context.priors,
    )
    response: list[dict[str, Any]] = []
    labeled = 0
    for item in items:
        verdict = decision.items[item.key]
        value: dict[str, Any] = {
            "label": verdict.label,
            "class_id": labels.index(verdict.label) if verdict.label is not None else None,
            "status": verdict.outcome.value,
            "confidence": verdict.confidence,
            "agreement": verdict.agreement,
            "votes": verdict.votes,
            "answers": item.answers,
            "rejected_answers": item.rejected,
            "round": context.round,
        }
        if verdict.outcome is Outcome.CONSOLIDATED:
            labeled += 1
        else:
            reason = verdict.reason or verdict.outcome.value
            if verdict.outcome is Outcome.NO_VALID_ANSWERS:
                reason = no_answer_reason(item)
            value["reason"] = reason
            if verdict.more_answers:
                value["more_answers"] = verdict.more_answers  # the policy wants another round for this item
            failures.append(failure(item, reason))
        response.append(response_entry(item, attribute, value))
    return response, labeled
