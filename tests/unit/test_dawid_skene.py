"""Dawid-Skene EM: worker confusion matrices and item posteriors from a batch of answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from groundcrew.consensus.dawid_skene import (
    MAX_ITERATIONS,
    PRIOR_EVIDENCE_CAP,
    DawidSkeneFit,
    FloatArray,
    IntArray,
    fit,
    prior_pseudo_counts,
    votes_to_reach,
)


@dataclass
class Synthetic:
    items: IntArray
    workers: IntArray
    answers: IntArray
    truths: IntArray
    accuracy: FloatArray
    n_classes: int


def synthetic(
    *,
    n_items: int = 600,
    n_classes: int = 2,
    accuracy: list[float],
    per_item: int = 3,
    seed: int = 1,
    always: dict[int, int] | None = None,
) -> Synthetic:
    """Each item answered by `per_item` distinct workers; worker w is right with probability accuracy[w],
    wrong answers uniform over the other classes; `always` maps a worker to the one class they always give."""
    rng = np.random.default_rng(seed)
    n_workers = len(accuracy)
    truths = rng.integers(n_classes, size=n_items)
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :per_item].ravel()
    items = np.repeat(np.arange(n_items), per_item)
    truth = truths[items]
    right = rng.random(len(items)) < np.asarray(accuracy)[workers]
    answers = np.where(right, truth, (truth + rng.integers(1, n_classes, len(items))) % n_classes)
    for worker, label in (always or {}).items():
        answers[workers == worker] = label
    return Synthetic(items, workers, answers, truths, np.asarray(accuracy, dtype=np.float64), n_classes)


def fitted(data: Synthetic, **kwargs: Any) -> DawidSkeneFit:
    return fit(
        data.items,
        data.workers,
        data.answers,
        n_items=len(data.truths),
        n_workers=len(data.accuracy),
        n_classes=data.n_classes,
        **kwargs,
    )


def majority_accuracy(data: Synthetic) -> float:
    votes = np.zeros((len(data.truths), data.n_classes))
    np.add.at(votes, (data.items, data.answers), 1)
    top = votes.max(axis=1, keepdims=True)
    unique = (votes == top).sum(axis=1) == 1  # ties count as wrong, as in decide()
    return float(np.mean(unique & (votes.argmax(axis=1) == data.truths)))


def test_recovers_a_spammers_low_accuracy_and_good_workers_high_accuracy() -> None:
    accuracy = [0.5, 0.5, 0.95, 0.92, 0.9, 0.88, 0.85, 0.93]
    data = synthetic(accuracy=accuracy, n_items=1500)
    result = fitted(data)
    estimated = result.worker_accuracy()
    assert result.converged and result.iterations < MAX_ITERATIONS
    assert np.all(np.abs(estimated - data.accuracy) < 0.05), estimated.round(3)
    assert estimated[:2].max() < 0.57 < 0.83 < estimated[2:].min()
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)


def test_a_worker_who_always_answers_yes_carries_no_weight() -> None:
    data = synthetic(accuracy=[0.5, 0.9, 0.9, 0.85, 0.9], n_items=800, always={0: 1})
    result = fitted(data)
    confusion = result.confusion[0]
    assert confusion[0, 1] > 0.95 and confusion[1, 1] > 0.95  # says 1 whatever the truth
    assert abs(result.worker_accuracy()[0] - 0.5) < 0.05
    assert np.mean(result.posteriors.argmax(axis=1) == data.truths) > majority_accuracy(data)


def test_beats_majority_when_spammers_are_many() -> None:
    accuracy = [0.5] * 4 + [0.85, 0.9, 0.8, 0.9, 0.85, 0.8]
    data = synthetic(accuracy=accuracy, n_items=1500, per_item=5, n_classes=3, seed=4)
    result = fitted(data)
    ds_accuracy = float(np.mean(result.posteriors.argmax(axis=1) == data.truths))
    assert ds_accuracy > majority_accuracy(data) + 0.03, (ds_accuracy, majority_accuracy(data))


def test_prior_pseudo_counts_favour_the_diagonal_in_proportion_to_capped_evidence() -> None:
    weak = prior_pseudo_counts(1, 2)[0]
    assert weak[0, 0] > weak[0, 1] and weak.sum() == pytest.approx(4.0)  # 2 pseudo-answers per true class
    known = prior_pseudo_counts(3, 2, np.array([0.3, 0.3, 0.95]), np.array([PRIOR_EVIDENCE_CAP, 10_000, 40]))
    np.testing.assert_allclose(known[0], known[1])  # evidence beyond the cap adds nothing
    assert known[0, 0, 0] < known[0, 0, 1]  # a careless history: more off-diagonal than diagonal
    assert known[2, 1, 1] / known[2, 1].sum() > 0.85


def test_priors_down_weight_a_known_bad_worker_from_the_first_iteration() -> None:
    # One item: worker 0 (known careless) says 0, worker 1 (known careful) says 1.
    items, workers, answers = np.array([0, 0]), np.array([0, 1]), np.array([0, 1])
    plain = fit(items, workers, answers, n_items=1, n_workers=2, n_classes=2, max_iterations=1)
    assert plain.posteriors[0, 0] == pytest.approx(plain.posteriors[0, 1])
    seeded = fit(
        items,
        workers,
        answers,
        n_items=1,
        n_workers=2,
        n_classes=2,
        prior_accuracy=np.array([0.45, 0.95]),
        prior_evidence=np.array([200, 200]),
        max_iterations=1,
    )
    assert seeded.posteriors[0, 1] > 0.9


def test_one_item_one_worker() -> None:
    result = fit(np.array([0]), np.array([0]), np.array([1]), n_items=1, n_workers=1, n_classes=2)
    assert result.converged
    assert 0.5 < result.posteriors[0, 1] < 0.8  # a weak prior: one unknown worker is not certainty


def test_classes_nobody_answered_and_thirty_classes() -> None:
    data = synthetic(accuracy=[0.9] * 12, n_items=400, n_classes=30, seed=2)
    data.answers[:] = np.minimum(data.answers, 4)  # classes 5..29 never answered
    result = fitted(data)
    assert np.all(np.isfinite(result.posteriors)) and np.all(np.isfinite(result.confusion))
    assert result.posteriors.shape == (400, 30) and result.confusion.shape == (12, 30, 30)
    assert result.posteriors[:, 5:].max() < 0.05


def test_items_without_answers_keep_the_class_prior() -> None:
    result = fit(np.array([0, 0]), np.array([0, 1]), np.array([1, 1]), n_items=2, n_workers=2, n_classes=2)
    np.testing.assert_allclose(result.posteriors[1], result.class_priors)


def test_deterministic_whatever_the_order_of_the_answers() -> None:
    data = synthetic(accuracy=[0.5, 0.9, 0.85, 0.8, 0.95], n_items=300, n_classes=3)
    first = fitted(data)
    order = np.random.default_rng(9).permutation(len(data.items))
    shuffled = fit(
        data.items[order],
        data.workers[order],
        data.answers[order],
        n_items=300,
        n_workers=5,
        n_classes=3,
    )
    assert np.array_equal(first.posteriors, shuffled.posteriors)
    assert np.array_equal(first.confusion, shuffled.confusion)
    assert first.iterations == shuffled.iterations


def test_stops_at_the_iteration_limit() -> None:
    data = synthetic(accuracy=[0.6] * 6, n_items=200, n_classes=4)
    result = fitted(data, max_iterations=3)
    assert (result.iterations, result.converged) == (3, False)


@pytest.mark.parametrize(
    ("items", "workers", "answers", "message"),
    [
        ([0, 1], [0], [0, 1], "same length"),
        ([0, 5], [0, 0], [0, 1], r"items must lie in \[0, 2\)"),
        ([0, 1], [0, -1], [0, 1], r"workers must lie in \[0, 2\)"),
        ([0, 1], [0, 1], [0, 2], r"answers must lie in \[0, 2\)"),
    ],
)
def test_rejects_malformed_triples(items: list[int], workers: list[int], answers: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit(np.array(items), np.array(workers), np.array(answers), n_items=2, n_workers=2, n_classes=2)


def test_votes_to_reach() -> None:
    typical = np.array([[0.9, 0.1], [0.1, 0.9]])  # each agreeing vote multiplies the odds by 9
    assert votes_to_reach(np.array([0.5, 0.5]), 0, typical, 0.95, 5) == 2  # odds 81
    assert votes_to_reach(np.array([0.9, 0.1]), 0, typical, 0.95, 5) == 1
    assert votes_to_reach(np.array([0.99, 0.01]), 0, typical, 0.95, 5) == 0
    assert votes_to_reach(np.array([0.01, 0.99]), 0, typical, 0.999, 2) is None
