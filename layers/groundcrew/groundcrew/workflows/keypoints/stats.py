"""How long workers take per image: mean, median and 90th percentile, overall and per worker.

Percentiles are numpy's default ("linear", type 7 of Hyndman and Fan): the sorted values are spaced evenly from 0
to 100 and a percentile between two of them is interpolated linearly. So p90 of [10, 20] is 19, the median of an
even count is the mean of the middle two, and one value is its own every percentile. Workers are grouped with
one sort, and every figure is computed for all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class SecondsSummary:
    count: int
    mean: float | None  # None when there are no samples
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class SecondsStatistics:
    overall: SecondsSummary
    per_worker: dict[str, SecondsSummary]  # by worker id, sorted


EMPTY = SecondsSummary(0, None, None, None)


def seconds_statistics(samples: Iterable[tuple[str, float]]) -> SecondsStatistics:
    """Statistics of (worker id, seconds spent on one image) samples; every figure None when there are none."""
    workers: list[str] = []
    seconds: list[float] = []
    for worker, value in samples:
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"worker {worker!r}: {value!r} is not a number of seconds (finite and >= 0)")
        workers.append(worker)
        seconds.append(float(value))
    if not seconds:
        return SecondsStatistics(EMPTY, {})
    ids, group = np.unique(np.array(workers, dtype=object), return_inverse=True)
    values = np.array(seconds, dtype=np.float64)
    order = np.lexsort((values, group))  # by worker, then by seconds
    counts = np.bincount(group, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_values = values[order]
    means = np.bincount(group, weights=values, minlength=len(ids)) / counts
    medians = _percentile(sorted_values, starts, counts, 50.0)
    p90s = _percentile(sorted_values, starts, counts, 90.0)
    overall = SecondsSummary(
        count=len(values),
        mean=float(values.mean()),
        median=float(np.percentile(values, 50.0)),
        p90=float(np.percentile(values, 90.0)),
    )
    per_worker = {
        str(worker): SecondsSummary(int(count), float(mean), float(median), float(p90))
        for worker, count, mean, median, p90 in zip(ids, counts, means, medians, p90s, strict=True)
    }
    return SecondsStatistics(overall, per_worker)


def _percentile(
    sorted_values: npt.NDArray[np.float64], starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], q: float
) -> npt.NDArray[np.float64]:
    """numpy's linear percentile of each group of `sorted_values` (grouped runs, each sorted), all at once."""
    position = (counts - 1) * q / 100.0
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, counts - 1)
    fraction = position - below
    low, high = sorted_values[starts + below], sorted_values[starts + above]
    return np.asarray(low + (high - low) * fraction, dtype=np.float64)
