"""Seconds per image: mean, median and p90, overall and per worker, as numpy computes them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groundcrew.workflows.keypoints.stats import SecondsSummary, seconds_statistics


def test_no_samples_give_no_figures() -> None:
    statistics = seconds_statistics([])
    assert statistics.overall == SecondsSummary(0, None, None, None)
    assert statistics.per_worker == {}


def test_figures_overall_and_per_worker() -> None:
    statistics = seconds_statistics([("w2", 30.0), ("w1", 20.0), ("w1", 10.0)])
    # Linear percentiles: p90 of [10, 20, 30] sits 0.9 of the way from the 2nd to the 3rd value.
    assert statistics.overall == SecondsSummary(3, 20.0, 20.0, 28.0)
    assert list(statistics.per_worker) == ["w1", "w2"]
    assert statistics.per_worker["w1"] == SecondsSummary(2, 15.0, 15.0, 19.0)
    assert statistics.per_worker["w2"] == SecondsSummary(1, 30.0, 30.0, 30.0)


def test_figures_match_numpy_for_many_workers() -> None:
    rng = np.random.default_rng(11)
    workers = [f"worker-{k:02d}" for k in rng.integers(0, 25, 3000)]
    seconds = rng.gamma(2.0, 15.0, 3000).round(1)  # ties as well
    statistics = seconds_statistics(zip(workers, seconds.tolist(), strict=True))
    assert statistics.overall.mean == pytest.approx(seconds.mean())
    assert statistics.overall.p90 == pytest.approx(np.percentile(seconds, 90))
    for worker, summary in statistics.per_worker.items():
        own = seconds[np.array(workers) == worker]
        assert summary.count == len(own)
        assert summary.mean == pytest.approx(own.mean())
        assert summary.median == pytest.approx(np.median(own))
        assert summary.p90 == pytest.approx(np.percentile(own, 90))
    assert sum(summary.count for summary in statistics.per_worker.values()) == 3000


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_a_value_that_is_not_seconds_is_named_with_its_worker(bad: float) -> None:
    with pytest.raises(ValueError, match="worker 'w9'"):
        seconds_statistics([("w1", 3.0), ("w9", bad)])
