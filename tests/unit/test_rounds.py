"""Rounds: what each round adds to the answer ledger, and the manifests of follow-up rounds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from groundcrew.consensus import rounds
from groundcrew.consensus.batch_results import batch_decision, final_verdict, spend, worker_tallies
from groundcrew.consensus.decisions import ConsensusPolicy, Outcome
from groundcrew.core.manifests import ManifestLine
from groundcrew.core.s3_locations import S3Location
from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind

LABELS = ("cat", "dog")


def line(number: int, data: dict[str, Any]) -> ManifestLine:
    return ManifestLine(number=number, raw_length=0, data=data)


def output_line(key: str, answers: list[dict[str, Any]], rejected: list[dict[str, Any]] | None = None) -> ManifestLine:
    return line(1, {"source-ref": key, "pets": {"answers": answers, "rejected_answers": rejected or []}})


def test_a_round_adds_only_its_own_answers() -> None:
    ledger: dict[str, rounds.LedgerEntry] = {}
    first = [output_line("s3://b/a.png", [{"worker_id": "w1", "label": "cat"}, {"worker_id": "w2", "label": "dog"}])]
    rounds.merge_round(ledger, 1, ["s3://b/a.png"], rounds.round_answers(first, "pets", 1))
    carried_and_new = [
        output_line(
            "s3://b/a.png",
            [
                {"worker_id": "w1", "label": "cat", "round": 1},
                {"worker_id": "w2", "label": "dog", "round": 1},
                {"worker_id": "w3", "label": "cat", "round": 2},
            ],
            [{"worker_id": "w1", "reason": "the worker already answered this item in round 1", "round": 2}],
        )
    ]
    rounds.merge_round(ledger, 2, ["s3://b/a.png"], rounds.round_answers(carried_and_new, "pets", 2))
    entry = ledger["s3://b/a.png"]
    assert [(a["worker_id"], a["round"]) for a in entry.answers] == [("w1", 1), ("w2", 1), ("w3", 2)]
    assert entry.bought == 4  # the rejected second answer was paid for
    assert entry.rounds == [1, 2]


def test_a_duplicated_output_line_is_counted_once() -> None:
    ledger: dict[str, rounds.LedgerEntry] = {}
    same = output_line("s3://b/a.png", [{"worker_id": "w1", "label": "cat"}])
    rounds.merge_round(ledger, 1, ["s3://b/a.png"], rounds.round_answers([same, same], "pets", 1))
    assert ledger["s3://b/a.png"].bought == 1


def test_items_without_a_result_are_noted_not_dropped() -> None:
    ledger: dict[str, rounds.LedgerEntry] = {}
    failed = line(1, {"source-ref": "s3://b/a.png", "pets-metadata": {"failure-reason": "ClientError: timeout"}})
    rounds.merge_round(ledger, 1, ["s3://b/a.png", "s3://b/b.png"], rounds.round_answers([failed], "pets", 1))
    assert ledger["s3://b/a.png"].notes == ["round 1: no result (ClientError: timeout)"]
    assert ledger["s3://b/b.png"].notes == ["round 1: the item is missing from the job's output manifest"]


def test_a_failed_round_keeps_earlier_answers_and_says_why() -> None:
    ledger = {"s3://b/a.png": rounds.LedgerEntry("s3://b/a.png", answers=[{"worker_id": "w1", "label": "cat"}])}
    rounds.mark_round_failed(ledger, 2, ["s3://b/a.png"], "gc-x-r2: LabelingJobFailed")
    entry = ledger["s3://b/a.png"]
    assert entry.answers == [{"worker_id": "w1", "label": "cat"}]
    assert entry.notes == ["round 2 failed: gc-x-r2: LabelingJobFailed"]


def test_gold_lines_are_marked_and_scored_apart() -> None:
    ledger: dict[str, rounds.LedgerEntry] = {}
    gold = line(
        1,
        {
            "source-ref": "s3://b/gold/cat.png",
            rounds.GOLD_ATTRIBUTE: True,
            "pets": {"answers": [{"worker_id": "w1", "label": "cat"}, {"worker_id": "w2", "label": "dog"}]},
        },
    )
    item = output_line("s3://b/a.png", [{"worker_id": "w1", "label": "dog"}, {"worker_id": "w2", "label": "dog"}])
    rounds.merge_round(ledger, 1, ["s3://b/a.png"], rounds.round_answers([gold, item], "pets", 1))
    assert ledger["s3://b/gold/cat.png"].gold
    policy = ConsensusPolicy(kind=PolicyKind.ADAPTIVE, method=ConsensusMethod.MAJORITY)
    decision = batch_decision(ledger, LABELS, policy)
    assert set(decision.items) == {"s3://b/a.png"}  # gold is never labeled
    tallies = worker_tallies(ledger, decision, {"s3://b/gold/cat.png": "cat"})
    assert (tallies["w1"].gold_answers, tallies["w1"].gold_correct) == (1, 1)
    assert (tallies["w2"].gold_answers, tallies["w2"].gold_correct) == (1, 0)
    assert (tallies["w1"].answers, tallies["w1"].compared, tallies["w1"].agreed) == (1, 1, 1)
    totals = spend(ledger.values(), Decimal("0.036"))
    assert (totals.answers_bought, totals.gold_answers_bought, totals.item_answers_bought) == (4, 2, 2)
    assert totals.spend_usd == 0.144


def test_an_item_still_wanting_answers_at_the_end_is_unresolved_with_the_reason() -> None:
    entry = rounds.LedgerEntry("k", notes=["round 2 failed: gc-x-r2: LabelingJobFailed"])
    policy = ConsensusPolicy(kind=PolicyKind.ADAPTIVE, method=ConsensusMethod.MAJORITY)
    entry.answers = [{"worker_id": "w1", "label": "cat"}, {"worker_id": "w2", "label": "dog"}]
    entry.bought = 2
    verdict = batch_decision({"k": entry}, LABELS, policy).items["k"]
    assert verdict.more_answers > 0
    status, reason = final_verdict(verdict, entry, max_rounds=4)
    assert status == Outcome.UNRESOLVED.value
    assert reason is not None and "round 2 failed" in reason


def test_gold_is_chosen_reproducibly_at_the_rate() -> None:
    pool = [rounds.GoldLine(f"s3://b/gold/{n}.png", "cat") for n in range(10)]
    chosen = rounds.choose_gold(pool, 0.1, 25, seed="batch:r1")
    assert len(chosen) == 3  # ceil(0.1 x 25)
    assert chosen == rounds.choose_gold(list(reversed(pool)), 0.1, 25, seed="batch:r1")
    assert rounds.choose_gold(pool, 0.0, 25, seed="x") == []
    assert len(rounds.choose_gold(pool, 0.5, 100, seed="x")) == 10  # never more than the pool


def test_follow_up_manifests_hold_only_the_kept_items_and_skip_gold_that_is_a_batch_item() -> None:
    items = [line(1, {"source-ref": "s3://b/a.png", "camera": "front"}), line(2, {"source-ref": "s3://b/c.png"})]
    gold = [rounds.GoldLine("s3://b/a.png", "cat"), rounds.GoldLine("s3://b/gold/g.png", "dog")]
    written: list[rounds.GoldLine] = []
    lines = list(rounds.round_manifest_lines(items, {"s3://b/a.png"}, gold, written))
    assert lines == [
        {"source-ref": "s3://b/a.png", "camera": "front"},
        {"source-ref": "s3://b/gold/g.png", rounds.GOLD_ATTRIBUTE: True},
    ]
    assert written == [gold[1]]


def test_the_ledger_and_carried_answers_round_trip_through_s3(s3: Any, data_bucket: str) -> None:
    ledger = {
        "s3://b/a.png": rounds.LedgerEntry(
            "s3://b/a.png", answers=[{"worker_id": "w1", "label": "cat", "round": 1}], bought=2, rounds=[1]
        ),
        "s3://b/gold/g.png": rounds.LedgerEntry("s3://b/gold/g.png", gold=True),
    }
    location = rounds.ledger_location(data_bucket, "pets", "pets-1", 1)
    rounds.write_ledger(s3, location, ledger)
    assert rounds.read_ledger(s3, location) == ledger
    carried = S3Location(data_bucket, "batches/pets/pets-1/rounds/r2/carried-answers.json")
    rounds.write_carried_answers(s3, carried, ledger, {"s3://b/a.png"})
    assert rounds.read_carried_answers(s3, carried.uri) == {"s3://b/a.png": ledger["s3://b/a.png"].answers}
