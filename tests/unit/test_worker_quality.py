"""Worker quality kept across batches: counted once per batch however often Finalize is retried."""

from __future__ import annotations

from typing import Any

from groundcrew.consensus.worker_quality import MIN_GOLD_ANSWERS, WorkerHistory, WorkerQualityStore, WorkerTally, priors


def store(dynamodb: Any, table: str) -> WorkerQualityStore:
    return WorkerQualityStore(dynamodb, table)


def test_a_batch_is_added_to_the_totals_once(dynamodb: Any, batches_table: str) -> None:
    workers = store(dynamodb, batches_table)
    tallies = {"w1": WorkerTally(answers=10, compared=8, agreed=6, gold_answers=2, gold_correct=1)}
    assert workers.record_batch("birds", "b1", tallies) == 1
    assert workers.record_batch("birds", "b1", tallies) == 0  # the retry counts nothing
    workers.record_batch("birds", "b2", {"w1": WorkerTally(answers=5, compared=5, agreed=5)})
    (record,) = workers.history("birds").values()
    assert (record.answers, record.compared, record.agreed, record.gold_answers, record.batches) == (15, 13, 11, 2, 2)
    assert record.agreement == round(11 / 13, 4)


def test_history_is_per_project(dynamodb: Any, batches_table: str) -> None:
    workers = store(dynamodb, batches_table)
    workers.record_batch("birds", "b1", {"w1": WorkerTally(answers=1, compared=1, agreed=1)})
    workers.record_batch("cars", "c1", {"w2": WorkerTally(answers=1, compared=1, agreed=0)})
    assert set(workers.history("birds")) == {"w1"}
    assert set(workers.history("cars")) == {"w2"}
    assert workers.history("boats") == {}


def test_gold_accuracy_wins_once_there_is_enough_gold() -> None:
    little_gold = WorkerHistory("w", 50, 40, 38, MIN_GOLD_ANSWERS - 1, 0, 3)
    assert little_gold.accuracy == 0.95  # agreement: two wrong gold answers are not yet evidence
    enough_gold = WorkerHistory("w", 50, 40, 38, 10, 6, 3)
    assert enough_gold.accuracy == 0.6
    assert enough_gold.evidence == 10


def test_flagging_needs_evidence() -> None:
    bad = WorkerHistory("w", 4, 4, 1, 0, 0, 1)
    assert not bad.flagged(threshold=0.7, min_evidence=5)
    assert WorkerHistory("w", 10, 10, 4, 0, 0, 1).flagged(threshold=0.7, min_evidence=5)
    assert not WorkerHistory("w", 10, 10, 9, 0, 0, 1).flagged(threshold=0.7, min_evidence=5)


def test_priors_skip_workers_without_evidence() -> None:
    found = priors([WorkerHistory("new", 3, 0, 0, 0, 0, 1), WorkerHistory("old", 30, 30, 27, 0, 0, 2)])
    assert set(found) == {"old"}
    assert (found["old"].accuracy, found["old"].evidence) == (0.9, 30)
