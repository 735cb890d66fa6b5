"""A seeded simulated crowd and the round loop, to compare a consensus policy with fixed-3 majority offline.

Every round ends with `groundcrew.consensus.decide` and `next_round_workers`, the functions the pipeline's Decide
step calls, so the figures measure the logic that ships, not a copy of it. A round gives each item that wants
more answers the same number of new workers (one job has one NumberOfHumanWorkersPerDataObject), none of whom
answered that item before. Nothing here touches AWS.

Two independent random streams come from the seed: the crowd (worker accuracies, spammers, true classes) and
the answers. The answers are drawn once as, for every item, a random queue of workers and the answer each would
give; the policy and the baseline both read the queues from the front. So the policy never changes the crowd,
and the two are compared on the same answers (common random numbers): the difference measures the policy, not
the luck of two draws.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from groundcrew.consensus.decisions import ConsensusPolicy, Outcome, WorkerLabel, decide, next_round_workers
from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind
from groundcrew.projects import Consensus

BASELINE = ConsensusPolicy.fixed(3)
DEFAULT_MAX_ROUNDS = Consensus().max_rounds  # the project document's default, so both simulate the same
DEFAULT_PRICE_USD = 0.012
MAX_ACCURACY = 0.995
CONSENSUS_KEYS = {
    "policy",
    "method",
    "initial_answers",
    "max_answers",
    "min_agreeing",
    "min_margin",
    "min_confidence",
    "max_rounds",
}


@dataclass(frozen=True, slots=True)
class Population:
    """The simulated crowd's parameters."""

    items: int = 2000
    classes: int = 2
    workers: int = 40
    accuracy: float = 0.9  # mean accuracy of the workers who are not spammers
    spread: float = 0.05  # standard deviation of that accuracy
    spammers: float = 0.05  # share of workers who answer uniformly at random
    seed: int = 7

    def __post_init__(self) -> None:
        if self.items < 1 or self.workers < 1 or self.classes < 2:
            raise ValueError("the population needs at least 1 item, 1 worker and 2 classes")
        if not 0.0 <= self.spammers <= 1.0 or self.spread < 0.0 or not 0.0 < self.accuracy <= 1.0:
            raise ValueError("spammers must be a share in [0, 1], spread >= 0 and accuracy in (0, 1]")

    @property
    def spammer_count(self) -> int:
        return round(self.spammers * self.workers)


@dataclass(frozen=True, slots=True)
class Crowd:
    truths: npt.NDArray[np.int64]  # (items,) the true class of each item
    accuracies: npt.NDArray[np.float64]  # (workers,) chance of a right answer (spammers: 1 / classes)
    spammer: npt.NDArray[np.bool_]  # (workers,)
    classes: int


@dataclass(frozen=True, slots=True)
class Answers:
    """What would happen if an item were shown again and again: its workers in arrival order, and their answers.

    Drawn once per stream; a policy reads each item's queue from the front, so an item never sees a worker twice.
    """

    queue: npt.NDArray[np.int64]  # (items, workers): a random order of the workers for each item
    answer: npt.NDArray[np.int64]  # (items, workers): the class worker w gives item i, indexed [i, w]


@dataclass(frozen=True, slots=True)
class RunResult:
    accuracy: float  # items whose final label is the true class / all items
    answers: int
    answers_per_item: float
    unresolved: int  # items without a final label (unresolved, tie, no valid answer): counted as wrong
    outcomes: dict[str, int]
    rounds: int
    spend_usd: float


@dataclass(frozen=True, slots=True)
class Comparison:
    population: Population
    policy: ConsensusPolicy
    max_rounds: int
    price_usd: float
    result: RunResult
    baseline: RunResult

    @property
    def answers_ratio(self) -> float:
        return self.result.answers / self.baseline.answers

    @property
    def accuracy_gain_points(self) -> float:
        return 100.0 * (self.result.accuracy - self.baseline.accuracy)

    def as_json(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.result.accuracy, 4),
            "answers_per_item": round(self.result.answers_per_item, 4),
            "unresolved": self.result.unresolved,
            "outcomes": self.result.outcomes,
            "rounds": self.result.rounds,
            "spend_usd": round(self.result.spend_usd, 2),
            "baseline_accuracy": round(self.baseline.accuracy, 4),
            "baseline_answers_per_item": round(self.baseline.answers_per_item, 4),
            "baseline_unresolved": self.baseline.unresolved,
            "baseline_outcomes": self.baseline.outcomes,
            "baseline_spend_usd": round(self.baseline.spend_usd, 2),
            "answers_ratio": round(self.answers_ratio, 4),
            "accuracy_gain_points": round(self.accuracy_gain_points, 2),
            "policy": policy_dict(self.policy) | {"max_rounds": self.max_rounds},
            "baseline_policy": policy_dict(BASELINE),
            "population": asdict(self.population) | {"spammer_workers": self.population.spammer_count},
            "price_usd": self.price_usd,
        }


def policy_dict(policy: ConsensusPolicy) -> dict[str, Any]:
    """The policy in the project document's spelling."""
    return {
        "policy": policy.kind.value,
        "method": policy.method.value,
        "initial_answers": policy.initial_answers,
        "max_answers": policy.max_answers,
        "min_agreeing": policy.min_agreeing,
        "min_margin": policy.min_margin,
        "min_confidence": policy.min_confidence,
    }


def draw_crowd(population: Population, rng: np.random.Generator) -> Crowd:
    k = population.classes
    drawn = rng.normal(population.accuracy, population.spread, population.workers)
    accuracies = np.clip(drawn, 1 / k + 0.01, MAX_ACCURACY)  # every non-spammer better than chance
    spammer = np.zeros(population.workers, dtype=np.bool_)
    spammer[rng.choice(population.workers, population.spammer_count, replace=False)] = True
    accuracies[spammer] = 1 / k
    return Crowd(rng.integers(k, size=population.items), accuracies, spammer, k)


def draw_answers(crowd: Crowd, rng: np.random.Generator) -> Answers:
    n_items, n_workers, k = len(crowd.truths), len(crowd.accuracies), crowd.classes
    queue = np.argsort(rng.random((n_items, n_workers)), axis=1)
    truth = crowd.truths[:, None]
    right = rng.random((n_items, n_workers)) < crowd.accuracies[None, :]
    wrong = (truth + rng.integers(1, k, (n_items, n_workers))) % k  # uniform over the other classes
    uniform = rng.integers(k, size=(n_items, n_workers))
    answer = np.where(crowd.spammer[None, :], uniform, np.where(right, truth, wrong))
    return Answers(queue, answer)


def run_policy(
    crowd: Crowd, answers: Answers, policy: ConsensusPolicy, *, max_rounds: int, price_usd: float
) -> RunResult:
    """Rounds of answers and decisions until no item wants more, or `max_rounds` jobs have run."""
    n_items, n_workers = answers.queue.shape
    labels = [f"class-{c}" for c in range(crowd.classes)]
    worker_ids = [f"worker-{w:03d}" for w in range(n_workers)]
    keys = [f"item-{i:06d}" for i in range(n_items)]
    given: dict[str, list[WorkerLabel]] = {key: [] for key in keys}
    shown = np.zeros(n_items, dtype=np.int64)  # how far down its queue each item is
    pending: npt.NDArray[np.int64] = np.arange(n_items, dtype=np.int64)
    per_item = policy.initial_answers
    rounds = 0
    decision = None
    while len(pending) and per_item and rounds < max_rounds:
        rounds += 1
        for item in pending.tolist():
            for worker in answers.queue[item, shown[item] : shown[item] + per_item].tolist():
                given[keys[item]].append(WorkerLabel(worker_ids[worker], labels[answers.answer[item, worker]]))
        shown[pending] = np.minimum(shown[pending] + per_item, n_workers)
        decision = decide(given, labels, policy)
        per_item = next_round_workers(decision)
        pending = np.array([i for i, key in enumerate(keys) if decision.items[key].more_answers > 0], dtype=np.int64)
    if decision is None:
        decision = decide(given, labels, policy)
    total = int(shown.sum())
    truths = crowd.truths.tolist()
    right_items = sum(decision.items[key].label == labels[truth] for key, truth in zip(keys, truths, strict=True))
    outcomes = Counter(verdict.outcome.value for verdict in decision.items.values())
    return RunResult(
        accuracy=right_items / n_items,
        answers=total,
        answers_per_item=total / n_items,
        unresolved=n_items - outcomes[Outcome.CONSOLIDATED.value],
        outcomes={outcome.value: outcomes[outcome.value] for outcome in Outcome},
        rounds=rounds,
        spend_usd=total * price_usd,
    )


def simulate(
    population: Population,
    policy: ConsensusPolicy,
    *,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    price_usd: float = DEFAULT_PRICE_USD,
) -> Comparison:
    """The policy and the fixed-3 majority baseline on the same crowd, item truths and answers."""
    crowd_seed, answers_seed = np.random.SeedSequence(population.seed).spawn(2)
    crowd = draw_crowd(population, np.random.default_rng(crowd_seed))
    answers = draw_answers(crowd, np.random.default_rng(answers_seed))
    result = run_policy(crowd, answers, policy, max_rounds=max_rounds, price_usd=price_usd)
    baseline = run_policy(crowd, answers, BASELINE, max_rounds=1, price_usd=price_usd)
    return Comparison(population, policy, max_rounds, price_usd, result, baseline)


def project_policy(path: Path) -> tuple[dict[str, Any], int | None]:
    """ConsensusPolicy fields and max_rounds from a project document's `consensus` mapping.

    The fixed policy's N is the document's top-level workers_per_object (3 when absent), as in the pipeline.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a project document is a YAML mapping")
    rules = document.get("consensus") or {}
    if not isinstance(rules, dict):
        raise ValueError(f"{path}: `consensus` must be a mapping")
    unknown = sorted(set(rules) - CONSENSUS_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown consensus keys {unknown}; known: {sorted(CONSENSUS_KEYS)}")
    converters: dict[str, tuple[str, Any]] = {
        "policy": ("kind", PolicyKind),
        "method": ("method", ConsensusMethod),
        "initial_answers": ("initial_answers", int),
        "max_answers": ("max_answers", int),
        "min_agreeing": ("min_agreeing", int),
        "min_margin": ("min_margin", int),
        "min_confidence": ("min_confidence", float),
        "max_rounds": ("max_rounds", int),
    }
    fields: dict[str, Any] = {}
    for key, value in rules.items():
        if value is None:
            continue
        name, convert = converters[key]
        try:
            fields[name] = convert(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: consensus.{key}: {error}") from error
    max_rounds = fields.pop("max_rounds", None)
    if fields.get("kind") is PolicyKind.FIXED:
        fields["initial_answers"] = fields["max_answers"] = int(document.get("workers_per_object", 3))
    return fields, max_rounds


def describe(policy: ConsensusPolicy) -> str:
    if policy.kind is PolicyKind.FIXED:
        return f"fixed {policy.method.value} {policy.initial_answers}"
    rule = f"agree {policy.min_agreeing}"
    if policy.method is ConsensusMethod.MAJORITY or policy.min_confidence is None:
        rule += f", lead {policy.min_margin}"
    if policy.min_confidence is not None:
        rule += f", conf {policy.min_confidence:g}"
    return f"adaptive {policy.method.value} {policy.initial_answers}..{policy.max_answers}, {rule}"


def format_report(comparison: Comparison) -> str:
    """An aligned table (the policy, the baseline) and the two figures the comparison is about."""
    rows = [
        (describe(comparison.policy), comparison.result),
        (describe(BASELINE) + " (baseline)", comparison.baseline),
    ]
    width = max(len(name) for name, _ in rows)
    columns = f"{'accuracy':>8}  {'answers/item':>12}  {'unresolved':>10}  {'rounds':>6}  {'spend USD':>9}"
    lines = [f"{'policy':<{width}}  {columns}"]
    for name, run in rows:
        lines.append(
            f"{name:<{width}}  {run.accuracy:>8.2%}  {run.answers_per_item:>12.3f}  {run.unresolved:>10}  "
            f"{run.rounds:>6}  {run.spend_usd:>9.2f}"
        )
    p = comparison.population
    lines.append(
        f"answers: {comparison.answers_ratio:.3f}x the baseline's; accuracy: {comparison.accuracy_gain_points:+.2f} "
        f"points ({p.items} items, {p.classes} classes, {p.workers} workers at {p.accuracy:g} +- {p.spread:g}, "
        f"{p.spammer_count} spammers, seed {p.seed})"
    )
    return "\n".join(lines)
