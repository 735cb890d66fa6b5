"""Consensus over several workers' labels for one item."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    CONSOLIDATED = "consolidated"
    TIE = "tie"
    NO_VALID_ANSWERS = "no-valid-answers"


@dataclass(frozen=True, slots=True)
class Vote:
    outcome: Outcome
    label: str | None
    votes: dict[str, int]
    confidence: float  # share of valid answers that chose the label
    agreement: float  # share of worker pairs that gave the same answer (1.0 with a single answer)


def pairwise_agreement(counts: Counter[str]) -> float:
    total = sum(counts.values())
    if total < 2:
        return 1.0 if total == 1 else 0.0
    agreeing_pairs = sum(n * (n - 1) for n in counts.values())
    return agreeing_pairs / (total * (total - 1))


def majority(labels: Sequence[str]) -> Vote:
    """The most chosen label; a tie for first place stays unresolved rather than being guessed."""
    counts = Counter(labels)
    if not counts:
        return Vote(Outcome.NO_VALID_ANSWERS, None, {}, 0.0, 0.0)
    ranked = counts.most_common()
    top_label, top_votes = ranked[0]
    total = sum(counts.values())
    votes = dict(sorted(counts.items()))
    agreement = round(pairwise_agreement(counts), 4)
    if len(ranked) > 1 and ranked[1][1] == top_votes:
        return Vote(Outcome.TIE, None, votes, round(top_votes / total, 4), agreement)
    return Vote(Outcome.CONSOLIDATED, top_label, votes, round(top_votes / total, 4), agreement)
