"""Dawid-Skene: each worker's confusion matrix and each item's true-class posterior, estimated together by EM.

The input is a flat list of (item, worker, answered class) triples as integer arrays. Every step of an iteration
is a whole-array operation (one gather and one `np.bincount` per class), so 100,000 binary answers take about
a millisecond per iteration. The fit is deterministic: triples are sorted before any floating-point sum.

Smoothing: each worker's confusion counts start from Dirichlet pseudo-counts. Every worker gets a weak prior
slightly better than chance (so a worker with two answers cannot look perfect); a worker with a history
(`prior_accuracy`, `prior_evidence`) gets more, in proportion to min(evidence, PRIOR_EVIDENCE_CAP), so a worker
known to be careless counts little from the first iteration, while this batch's answers can still overrule
an old estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TOLERANCE = 1e-6  # stop when no posterior moves by more than this
MAX_ITERATIONS = 100
UNKNOWN_PRIOR_STRENGTH = 2.0  # pseudo-answers per true class for every worker
UNKNOWN_PRIOR_LIFT = 0.2  # unknown workers: accuracy = chance + this share of the way to perfect
PRIOR_EVIDENCE_CAP = 50  # history never weighs more than this many answers
CLASS_PRIOR_PSEUDO_COUNT = 1.0
INIT_PSEUDO_VOTES = 0.01  # smooths the majority-vote start so a single answer is not certainty


@dataclass(frozen=True, slots=True)
class DawidSkeneFit:
    posteriors: FloatArray  # (items, classes): P(true class | answers); rows sum to 1
    confusion: FloatArray  # (workers, classes, classes): P(answered | true), [worker][true][answered]
    class_priors: FloatArray  # (classes,)
    iterations: int
    converged: bool

    def worker_accuracy(self) -> FloatArray:
        """P(a worker's answer is right) under the estimated class mix: the prior-weighted confusion diagonal."""
        diagonals = np.diagonal(self.confusion, axis1=1, axis2=2)
        return np.asarray(diagonals @ self.class_priors, dtype=np.float64)


def prior_pseudo_counts(
    n_workers: int,
    n_classes: int,
    prior_accuracy: FloatArray | None = None,
    prior_evidence: FloatArray | None = None,
) -> FloatArray:
    """Dirichlet pseudo-counts (workers, true, answered): the weak default plus each worker's capped history."""
    chance = 1.0 / n_classes
    strength = np.full(n_workers, UNKNOWN_PRIOR_STRENGTH)
    diagonal = strength * (chance + UNKNOWN_PRIOR_LIFT * (1.0 - chance))
    if prior_accuracy is not None and prior_evidence is not None:
        # Per true class, a history of e answers counts as e / K answers of that class.
        history = np.minimum(np.maximum(prior_evidence, 0.0), PRIOR_EVIDENCE_CAP) / n_classes
        diagonal = diagonal + history * np.clip(prior_accuracy, 0.0, 1.0)
        strength = strength + history
    off_diagonal = (strength - diagonal) / max(n_classes - 1, 1)
    counts = np.broadcast_to(off_diagonal[:, None, None], (n_workers, n_classes, n_classes)).copy()
    index = np.arange(n_classes)
    counts[:, index, index] = diagonal[:, None]
    return counts


def fit(
    items: IntArray,
    workers: IntArray,
    answers: IntArray,
    *,
    n_items: int,
    n_workers: int,
    n_classes: int,
    prior_accuracy: FloatArray | None = None,
    prior_evidence: FloatArray | None = None,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> DawidSkeneFit:
    """EM from a smoothed majority vote until no posterior moves by more than `tolerance`.

    `items[j]`, `workers[j]`, `answers[j]` are the j-th answer; an item without answers keeps the class prior.
    """
    items, workers, answers = (np.asarray(a, dtype=np.int64) for a in (items, workers, answers))
    _check_triples(items, workers, answers, n_items, n_workers, n_classes)
    # One sort by (item, worker, answer) makes every later sum independent of the caller's order.
    order = np.lexsort((answers, workers, items))
    items, workers, answers = items[order], workers[order], answers[order]
    cells = workers * n_classes + answers  # the (worker, answered) cell of each answer
    n_cells = n_workers * n_classes
    pseudo = prior_pseudo_counts(n_workers, n_classes, prior_accuracy, prior_evidence)

    # Arrays are class-major ([class][item]) so that each step is K one-dimensional gathers and bincounts:
    # a loop over classes, never over answers, and much faster than reduceat over (answers, K) rows.
    votes = np.stack([np.bincount(items[answers == k], minlength=n_items) for k in range(n_classes)])
    posteriors = (votes + INIT_PSEUDO_VOTES) / (votes.sum(axis=0) + n_classes * INIT_PSEUDO_VOTES)
    iterations, converged = 0, False
    while iterations < max_iterations:
        iterations += 1
        # M-step: expected (true, answered) counts per worker, smoothed; class priors from the posteriors.
        expected = np.stack(
            [np.bincount(cells, weights=posteriors[k][items], minlength=n_cells) for k in range(n_classes)]
        )
        counts = pseudo + expected.reshape(n_classes, n_workers, n_classes).transpose(1, 0, 2)
        confusion = counts / counts.sum(axis=2, keepdims=True)
        class_priors = (posteriors.sum(axis=1) + CLASS_PRIOR_PSEUDO_COUNT) / (
            n_items + n_classes * CLASS_PRIOR_PSEUDO_COUNT
        )
        # E-step: log P(true = k) + the sum over the item's answers of log P(answer | true = k), normalised.
        log_cells = np.log(confusion).transpose(1, 0, 2).reshape(n_classes, n_cells)
        log_likelihood = np.stack(
            [np.bincount(items, weights=log_cells[k][cells], minlength=n_items) for k in range(n_classes)]
        )
        log_likelihood += np.log(class_priors)[:, None]
        log_likelihood -= log_likelihood.max(axis=0, keepdims=True)
        updated = np.exp(log_likelihood)
        updated /= updated.sum(axis=0, keepdims=True)
        change = float(np.abs(updated - posteriors).max()) if n_items else 0.0
        posteriors = updated
        if change < tolerance:
            converged = True
            break
    return DawidSkeneFit(np.ascontiguousarray(posteriors.T), confusion, class_priors, iterations, converged)


def votes_to_reach(
    posterior: FloatArray, target: int, typical_confusion: FloatArray, threshold: float, limit: int
) -> int | None:
    """The fewest extra answers of `target` from a typical worker that lift its posterior to `threshold`.

    None when even `limit` such answers would not. Used to size the next round for one item.
    """
    log_posterior = np.log(np.maximum(posterior, 1e-300))
    log_ratio = np.log(typical_confusion[:, target])  # per true class: log P(answer = target | true)
    extra = np.arange(limit + 1)
    lifted = log_posterior[None, :] + extra[:, None] * log_ratio[None, :]
    lifted -= lifted.max(axis=1, keepdims=True)
    shares = np.exp(lifted)
    shares /= shares.sum(axis=1, keepdims=True)
    reached = np.flatnonzero(shares[:, target] >= threshold)
    return int(reached[0]) if len(reached) else None


def _check_triples(
    items: IntArray, workers: IntArray, answers: IntArray, n_items: int, n_workers: int, n_classes: int
) -> None:
    if not (items.shape == workers.shape == answers.shape) or items.ndim != 1:
        raise ValueError("items, workers and answers must be 1-d arrays of the same length (one entry per answer)")
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    for name, values, bound in (
        ("items", items, n_items),
        ("workers", workers, n_workers),
        ("answers", answers, n_classes),
    ):
        if len(values) and (values.min() < 0 or values.max() >= bound):
            raise ValueError(f"{name} must lie in [0, {bound}); got values in [{values.min()}, {values.max()}]")
