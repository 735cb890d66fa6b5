"""Dawid-Skene EM: time to fit a batch, against one numpy bincount pass over the same answers.

    .venv/bin/python benchmarks/dawid_skene.py [--items 20000] [--answers 3] [--workers 40] [--classes 2 10 30]

The measured path is groundcrew.dawid_skene.fit on (item, worker, answer) integer arrays, as decide() calls it,
to convergence (max posterior change < 1e-6) or 100 iterations. The floor is the cheapest useful look at the
same answers: one `np.bincount` of the (item, answer) votes, i.e. a majority-vote tally, in the same run.
The answers come from a seeded crowd (90% +- 5% accurate, two spammers), so EM converges as on real batches.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import numpy as np

from groundcrew.consensus.dawid_skene import fit

Triples = tuple[np.ndarray, np.ndarray, np.ndarray]


def crowd_answers(items: int, per_item: int, workers: int, classes: int, seed: int = 7) -> Triples:
    rng = np.random.default_rng(seed)
    accuracy = np.clip(rng.normal(0.9, 0.05, workers), 1 / classes + 0.01, 0.995)
    accuracy[:2] = 1 / classes  # spammers
    truths = rng.integers(classes, size=items)
    who = np.argsort(rng.random((items, workers)), axis=1)[:, :per_item].ravel()
    item = np.repeat(np.arange(items), per_item)
    right = rng.random(len(item)) < accuracy[who]
    answer = np.where(right, truths[item], (truths[item] + rng.integers(1, classes, len(item))) % classes)
    return item, who, answer


def timed(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--answers", type=int, default=3, help="answers per item")
    parser.add_argument("--workers", type=int, default=40)
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 10, 30])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    total = args.items * args.answers
    print(f"{args.items} items x {args.answers} answers ({total} answers), {args.workers} workers")
    print(f"{'classes':>7} {'iterations':>10} {'EM ms':>8} {'ms/iteration':>12} {'bincount ms':>11} {'ratio':>7}")
    for classes in args.classes:
        item, who, answer = crowd_answers(args.items, args.answers, args.workers, classes)

        def em(item: np.ndarray = item, who: np.ndarray = who, answer: np.ndarray = answer, k: int = classes) -> object:
            return fit(item, who, answer, n_items=args.items, n_workers=args.workers, n_classes=k)

        def floor(item: np.ndarray = item, answer: np.ndarray = answer, k: int = classes) -> object:
            return np.bincount(item * k + answer, minlength=args.items * k)

        iterations = fit(item, who, answer, n_items=args.items, n_workers=args.workers, n_classes=classes).iterations
        ours, base = timed(em, args.repeats), timed(floor, args.repeats)
        print(
            f"{classes:>7} {iterations:>10} {ours * 1e3:>8.1f} {ours * 1e3 / iterations:>12.2f} "
            f"{base * 1e3:>11.2f} {ours / base:>7.0f}"
        )
    print("ratio = EM time / one bincount pass over the same answers (a majority-vote tally).")
    print("Each EM iteration is two gathers and two bincounts per class, so ms/iteration grows with classes.")


if __name__ == "__main__":
    main()
