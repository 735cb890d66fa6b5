"""Consensus: several workers' labels become one label per item, or a reason and how many more answers to buy.

`decide` is pure (no AWS, no clock, no randomness). The Decide step, the consolidation Lambda and
`groundcrew simulate consensus` all call it, so the simulation measures the logic that ships. numpy is
imported only when the method is dawid-skene: the Lambdas that import this module for majority stay light.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind

MAX_WORKERS_PER_OBJECT = 9  # Ground Truth's NumberOfHumanWorkersPerDataObject ceiling: one round buys at most this
TIE_TOLERANCE = 1e-9  # posteriors this close are a tie, never settled by argmax's first index


class Outcome(StrEnum):
    CONSOLIDATED = "consolidated"  # the stop rule holds (adaptive) / a unique winner (fixed)
    TIE = "tie"  # the top labels are tied and no more answers will be bought
    UNRESOLVED = "unresolved"  # the stop rule does not hold (more answers wanted, or max_answers reached)
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


@dataclass(frozen=True, slots=True)
class ConsensusPolicy:
    """How many answers an item gets and when they are enough.

    The defaults: two answers first; an item stops once its top label leads by two votes, so a 2-0 start stops
    at once and a 1-1 split buys two more; at most 8 answers, which four rounds of 2 reach. On a binary task
    with 90%-accurate workers and 5% spammers this beats fixed-3 majority on accuracy with fewer answers
    (`groundcrew simulate consensus`). Majority, not dawid-skene: binary follow-ups then always ask for 2, so
    rounds stay few, whereas a posterior threshold often wants just 1 more answer, and as one job has one N for
    all its items, the whole round then buys 1 each (more rounds for the same answers).
    """

    kind: PolicyKind = PolicyKind.ADAPTIVE
    method: ConsensusMethod = ConsensusMethod.MAJORITY
    initial_answers: int = 2  # answers per item in round 1 (fixed: the N of every item)
    max_answers: int = 8  # never buy more than this per item (ignored by the fixed policy)
    min_agreeing: int = 2  # adaptive stop rule: the top label has at least this many valid votes
    min_margin: int = 2  # ... and leads the runner-up by at least this many votes (majority; see decide)
    min_confidence: float | None = None  # ... and its vote share (majority) or posterior (dawid-skene) is this high

    def __post_init__(self) -> None:
        if not 1 <= self.initial_answers <= MAX_WORKERS_PER_OBJECT:
            raise ValueError(f"initial_answers must be 1-{MAX_WORKERS_PER_OBJECT}, got {self.initial_answers}")
        if self.max_answers < self.initial_answers:
            raise ValueError(f"max_answers ({self.max_answers}) must not be below initial_answers")
        if self.min_agreeing < 1 or self.min_margin < 1:
            raise ValueError("min_agreeing and min_margin must be at least 1 (a margin of 0 would settle ties)")
        if self.min_confidence is not None and not 0.0 < self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in (0, 1], got {self.min_confidence}")
        if self.kind is PolicyKind.ADAPTIVE and max(self.min_agreeing, self.min_margin) > self.max_answers:
            raise ValueError("min_agreeing and min_margin must not exceed max_answers, or no item could stop")

    @classmethod
    def fixed(cls, workers: int, method: ConsensusMethod = ConsensusMethod.MAJORITY) -> ConsensusPolicy:
        """Every item gets `workers` answers in one round; the winner, if unique, is the label."""
        return cls(kind=PolicyKind.FIXED, method=method, initial_answers=workers, max_answers=workers)


@dataclass(frozen=True, slots=True)
class WorkerLabel:
    worker_id: str
    label: str


@dataclass(frozen=True, slots=True)
class WorkerPrior:
    """A worker's record from earlier batches."""

    worker_id: str
    accuracy: float  # 0..1, best estimate (gold accuracy, else agreement with final labels)
    evidence: int  # how many answers that estimate rests on

    def __post_init__(self) -> None:
        if not 0.0 <= self.accuracy <= 1.0 or self.evidence < 0:
            raise ValueError(f"worker {self.worker_id!r}: accuracy must be in [0, 1] and evidence at least 0")


@dataclass(frozen=True, slots=True)
class ItemDecision:
    outcome: Outcome
    label: str | None  # None unless CONSOLIDATED
    confidence: float  # vote share of the top label (majority) or its posterior (dawid-skene), rounded to 4
    agreement: float  # pairwise agreement of the valid answers
    votes: dict[str, int]  # label -> count, sorted by label
    more_answers: int  # answers to buy for this item next round; 0 = stop
    reason: str | None  # None when CONSOLIDATED


@dataclass(frozen=True, slots=True)
class WorkerEstimate:
    worker_id: str
    answers: int  # valid answers in this decision
    agreement: float | None  # share of their answers on CONSOLIDATED items that match the label
    accuracy: float | None  # dawid-skene: class-prior-weighted diagonal of the confusion matrix
    confusion: list[list[float]] | None  # dawid-skene: [true][answered], rows sum to 1, rounded to 4


@dataclass(frozen=True, slots=True)
class BatchDecision:
    items: dict[str, ItemDecision]
    workers: dict[str, WorkerEstimate]
    iterations: int  # EM iterations (0 for majority)


# For one dawid-skene item: (label, limit, threshold) -> the fewest extra answers of that label from a typical
# worker that lift its posterior to the threshold, or None if `limit` answers would not.
_ConfidenceReach = Callable[[str, int, float], int | None]


@dataclass(frozen=True, slots=True)
class _Standing:
    votes: Counter[str]
    scores: dict[str, float]  # label -> vote share (majority) or posterior (dawid-skene)
    reach: _ConfidenceReach | None  # dawid-skene only


def decide(
    answers: Mapping[str, Sequence[WorkerLabel]],
    labels: Sequence[str],
    policy: ConsensusPolicy,
    *,
    bought: Mapping[str, int] | None = None,
    priors: Mapping[str, WorkerPrior] | None = None,
) -> BatchDecision:
    """Decide every item of a batch at once (dawid-skene learns each worker's reliability from all items).

    `answers` holds each item's valid answers so far, all rounds, one per worker. `bought` counts the answers
    paid for, rejected ones included (default: the valid ones); the max_answers cap applies to it. An item in
    `bought` but not in `answers` had no valid answer. `priors` seed dawid-skene; majority ignores them.

    Fixed policy: the unique winner (most votes, or highest posterior) is the label; a tie stays a TIE.
    Adaptive policy, the stop rule: the top label has at least `min_agreeing` votes and
      - majority: leads the runner-up by `min_margin` votes and, if set, has a vote share of `min_confidence`;
      - dawid-skene with `min_confidence`: has a posterior of at least `min_confidence`. The vote margin is not
        used, because the posterior already weighs each vote by its worker's record: a known spammer's dissent
        should not cost another answer, and two careless workers agreeing should. `min_agreeing` stays a raw
        count, so one worker, however trusted, never labels an item alone (unless min_agreeing is 1);
      - dawid-skene without `min_confidence`: the majority rule on raw votes, applied to the top-posterior label.
    When the rule does not hold and the cap allows, `more_answers` is the fewest extra answers that could make it
    hold (all agreeing with the top label; for dawid-skene, from a typical worker of this batch), at least 1 and
    at most both the cap and MAX_WORKERS_PER_OBJECT. At the cap the item is a TIE if its top labels are tied,
    else UNRESOLVED. Ties are never broken by guessing.
    """
    positions = {label: index for index, label in enumerate(labels)}
    if len(positions) != len(labels):
        raise ValueError(f"labels must be unique, got {list(labels)}")
    paid_for = dict(bought or {})
    keys = sorted(set(answers) | set(paid_for))
    given = {key: list(answers.get(key, ())) for key in keys}
    for key, item_answers in given.items():
        _check_item(key, item_answers, positions, paid_for.get(key))

    estimates: dict[str, tuple[float, list[list[float]]]] = {}
    iterations = 0
    if policy.method is ConsensusMethod.DAWID_SKENE:
        standings, estimates, iterations = _dawid_skene_standings(given, labels, priors or {})
    else:
        standings = {key: _majority_standing(item_answers) for key, item_answers in given.items()}
    items = {key: _item_decision(standings[key], policy, paid_for.get(key, len(given[key]))) for key in keys}
    return BatchDecision(items, _worker_estimates(given, items, estimates), iterations)


def next_round_workers(decision: BatchDecision) -> int:
    """NumberOfHumanWorkersPerDataObject for a follow-up job over the items that want more, or 0 if none does.

    One job has one N for all its items. The smallest request wins: no item gets more than it asked for (cost
    first) or passes its cap, and an item that wanted more asks again in the round after.
    """
    return min((verdict.more_answers for verdict in decision.items.values() if verdict.more_answers > 0), default=0)


def _check_item(key: str, item_answers: Sequence[WorkerLabel], positions: Mapping[str, int], paid: int | None) -> None:
    seen: set[str] = set()
    for answer in item_answers:
        if answer.label not in positions:
            raise ValueError(
                f"item {key!r}: worker {answer.worker_id!r} answered {answer.label!r}, which is not one of the "
                f"labels {list(positions)}; reject such answers before deciding"
            )
        if answer.worker_id in seen:
            raise ValueError(f"item {key!r}: worker {answer.worker_id!r} answers twice; pass one answer per worker")
        seen.add(answer.worker_id)
    if paid is not None and paid < len(item_answers):
        raise ValueError(f"item {key!r}: bought {paid} answers, fewer than its {len(item_answers)} valid answers")


def _majority_standing(item_answers: Sequence[WorkerLabel]) -> _Standing:
    votes = Counter(answer.label for answer in item_answers)
    total = sum(votes.values())
    return _Standing(votes, {label: count / total for label, count in votes.items()}, None)


def _dawid_skene_standings(
    given: Mapping[str, Sequence[WorkerLabel]], labels: Sequence[str], priors: Mapping[str, WorkerPrior]
) -> tuple[dict[str, _Standing], dict[str, tuple[float, list[list[float]]]], int]:
    import numpy as np  # here, not at the top: majority callers never pay for numpy's import

    from groundcrew.consensus import dawid_skene

    positions = {label: index for index, label in enumerate(labels)}
    standings = {key: _Standing(Counter(), {}, None) for key, item_answers in given.items() if not item_answers}
    answered = [key for key, item_answers in given.items() if item_answers]
    if not answered:
        return standings, {}, 0
    workers = sorted({answer.worker_id for key in answered for answer in given[key]})
    worker_index = {worker: index for index, worker in enumerate(workers)}
    triples = np.array(
        [(i, worker_index[a.worker_id], positions[a.label]) for i, key in enumerate(answered) for a in given[key]],
        dtype=np.int64,
    ).reshape(-1, 3)
    history = [priors.get(worker) for worker in workers]
    fit = dawid_skene.fit(
        triples[:, 0],
        triples[:, 1],
        triples[:, 2],
        n_items=len(answered),
        n_workers=len(workers),
        n_classes=len(labels),
        prior_accuracy=np.array([p.accuracy if p else 0.0 for p in history], dtype=np.float64),
        prior_evidence=np.array([p.evidence if p else 0 for p in history], dtype=np.float64),
    )
    # The next answer comes from a typical worker of this batch: the answer-weighted mean confusion matrix.
    per_worker = np.bincount(triples[:, 1], minlength=len(workers)).astype(np.float64)
    typical = np.einsum("w,wkl->kl", per_worker, fit.confusion) / max(float(per_worker.sum()), 1.0)

    def reach_from(posterior: dawid_skene.FloatArray) -> _ConfidenceReach:
        def reach(label: str, limit: int, threshold: float) -> int | None:
            return dawid_skene.votes_to_reach(posterior, positions[label], typical, threshold, limit)

        return reach

    for item, key in enumerate(answered):
        posterior = fit.posteriors[item]
        scores = {label: float(posterior[index]) for label, index in positions.items()}
        standings[key] = _Standing(Counter(a.label for a in given[key]), scores, reach_from(posterior))
    accuracy = fit.worker_accuracy()
    estimates = {
        worker: (round(float(accuracy[index]), 4), np.round(fit.confusion[index], 4).tolist())
        for worker, index in worker_index.items()
    }
    return standings, estimates, fit.iterations


def _item_decision(standing: _Standing, policy: ConsensusPolicy, paid: int) -> ItemDecision:
    adaptive = policy.kind is PolicyKind.ADAPTIVE
    remaining = min(max(policy.max_answers - paid, 0), MAX_WORKERS_PER_OBJECT) if adaptive else 0
    if not standing.votes:
        # Every answer was rejected (or none came): ask again, as round 1 did, while the cap allows.
        return ItemDecision(
            Outcome.NO_VALID_ANSWERS, None, 0.0, 0.0, {}, min(policy.initial_answers, remaining), "no valid answer"
        )
    votes = dict(sorted(standing.votes.items()))
    agreement = round(pairwise_agreement(standing.votes), 4)
    best = max(standing.scores.values())
    confidence = round(best, 4)
    leaders = sorted(label for label, score in standing.scores.items() if score >= best - TIE_TOLERANCE)
    # The label extra answers would back: the leader with most votes (leaders differ only when tied).
    top = min(leaders, key=lambda label: (-standing.votes[label], label))
    tied = ", ".join(leaders)
    if not adaptive:
        if len(leaders) == 1:
            return ItemDecision(Outcome.CONSOLIDATED, top, confidence, agreement, votes, 0, None)
        reason = f"tie between {tied} after {paid} answers (fixed policy)"
        return ItemDecision(Outcome.TIE, None, confidence, agreement, votes, 0, reason)

    unmet = _unmet(standing, policy, top, best, leaders)
    if not unmet:
        return ItemDecision(Outcome.CONSOLIDATED, top, confidence, agreement, votes, 0, None)
    listing = ", ".join(f"{label} {count}" for label, count in sorted(votes.items(), key=lambda lc: (-lc[1], lc[0])))
    if standing.reach is not None:
        listing += f" (posterior of {top} {confidence:g})"
    allowed = max(policy.max_answers - paid, 0)  # over all later rounds; one job buys at most 9 of them
    more = _fewest_extra(standing, policy, top, allowed) if allowed else None
    if more is not None:
        reason = f"votes {listing}: the stop rule needs {' and '.join(unmet)}"
        return ItemDecision(
            Outcome.UNRESOLVED, None, confidence, agreement, votes, min(more, MAX_WORKERS_PER_OBJECT), reason
        )
    # At the cap, or so close to it that no answers it still allows could make the rule hold: buying more is waste.
    valid = sum(votes.values())
    bought = f"{paid} answers" if paid == valid else f"{paid} answers ({valid} valid)"
    cap = f"after {bought} (max_answers {policy.max_answers})"
    if allowed:
        cap = f"after {bought}: the {allowed} more that max_answers {policy.max_answers} allows cannot settle it"
    if len(leaders) > 1:
        return ItemDecision(Outcome.TIE, None, confidence, agreement, votes, 0, f"tie between {tied} {cap}")
    return ItemDecision(Outcome.UNRESOLVED, None, confidence, agreement, votes, 0, f"no consensus {cap}: {listing}")


def _uses_margin(policy: ConsensusPolicy) -> bool:
    return policy.method is ConsensusMethod.MAJORITY or policy.min_confidence is None


def _unmet(standing: _Standing, policy: ConsensusPolicy, top: str, best: float, leaders: list[str]) -> list[str]:
    """The parts of the stop rule that do not hold yet, as phrases for the reason."""
    agreeing = standing.votes[top]
    runner_up = max((count for label, count in standing.votes.items() if label != top), default=0)
    unmet = []
    if agreeing < policy.min_agreeing:
        unmet.append(f"{policy.min_agreeing} agreeing answers")
    if _uses_margin(policy) and agreeing - runner_up < policy.min_margin:
        unmet.append(f"a lead of {policy.min_margin} vote{'s' if policy.min_margin > 1 else ''}")
    if policy.min_confidence is not None and best < policy.min_confidence - 1e-12:
        unmet.append(f"confidence {policy.min_confidence:g} (now {round(best, 4):g})")
    if len(leaders) > 1 and not unmet:
        unmet.append(f"one top label, not a tie between {', '.join(leaders)}")
    return unmet


def _fewest_extra(standing: _Standing, policy: ConsensusPolicy, top: str, limit: int) -> int | None:
    """The fewest extra answers, all for `top`, after which the stop rule could hold; None if `limit` cannot do it."""
    agreeing = standing.votes[top]
    total = sum(standing.votes.values())
    runner_up = max((count for label, count in standing.votes.items() if label != top), default=0)
    need = max(1, policy.min_agreeing - agreeing)
    if _uses_margin(policy):
        need = max(need, policy.min_margin - (agreeing - runner_up))
    threshold = policy.min_confidence
    if threshold is not None:
        if standing.reach is not None:
            reached = standing.reach(top, limit, threshold)
            if reached is None:
                return None
            need = max(need, reached)
        elif threshold >= 1.0:
            if agreeing != total:
                return None
        else:
            # (agreeing + n) / (total + n) >= threshold  <=>  n >= (threshold * total - agreeing) / (1 - threshold)
            need = max(need, math.ceil((threshold * total - agreeing) / (1.0 - threshold) - 1e-9))
    return need if need <= limit else None


def _worker_estimates(
    given: Mapping[str, Sequence[WorkerLabel]],
    items: Mapping[str, ItemDecision],
    estimates: Mapping[str, tuple[float, list[list[float]]]],
) -> dict[str, WorkerEstimate]:
    answered: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for key, item_answers in given.items():
        verdict = items[key]
        for answer in item_answers:
            answered[answer.worker_id] += 1
            if verdict.outcome is Outcome.CONSOLIDATED:
                compared[answer.worker_id] += 1
                agreed[answer.worker_id] += answer.label == verdict.label
    result = {}
    for worker in sorted(answered):
        accuracy, confusion = estimates.get(worker, (None, None))
        share = round(agreed[worker] / compared[worker], 4) if compared[worker] else None
        result[worker] = WorkerEstimate(worker, answered[worker], share, accuracy, confusion)
    return result
