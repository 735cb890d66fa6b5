"""Train and test splits that depend only on the seed and the items: the same batch always splits the same way."""

from __future__ import annotations

import random
from collections.abc import Iterable


def check_test_ratio(test_ratio: float) -> None:
    if not 0 <= test_ratio < 1:  # also rejects NaN
        raise ValueError(f"test_ratio must be at least 0 and below 1 (a share of each class), got {test_ratio!r}")


def assign_splits(keys_and_labels: Iterable[tuple[str, str]], test_ratio: float, seed: int) -> dict[str, str]:
    """Split items into "train" and "test", stratified by label; returns item key -> split.

    For each label, its item keys are sorted, then shuffled by `random.Random(f"{seed}:{label}")`, and the first
    `round(test_ratio * n)` go to test (Python's round: halves go to the even number). A class with two or more items
    always keeps at least one train item, and a single-item class goes to train. Sorting first and seeding from
    a string (hashed with SHA-512, not Python's randomised str hash) make the split depend only on the seed and
    the set of (key, label) pairs: not on input order, PYTHONHASHSEED or the other classes.
    """
    check_test_ratio(test_ratio)
    by_label: dict[str, list[str]] = {}
    seen: set[str] = set()
    for key, label in keys_and_labels:
        if key in seen:
            raise ValueError(f"item {key!r} is listed twice: each item key must be unique before splitting")
        seen.add(key)
        by_label.setdefault(label, []).append(key)
    splits: dict[str, str] = {}
    for label, keys in by_label.items():
        keys.sort()
        random.Random(f"{seed}:{label}").shuffle(keys)
        test_count = min(round(test_ratio * len(keys)), len(keys) - 1)  # len - 1: never a class without train
        for index, key in enumerate(keys):
            splits[key] = "test" if index < test_count else "train"
    return splits
