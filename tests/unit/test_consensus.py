"""Majority consensus: the winning label, ties left unresolved, confidence and pairwise agreement."""

from __future__ import annotations

from collections import Counter

import pytest

from groundcrew.consensus import Outcome, Vote, majority, pairwise_agreement


def test_clear_majority_wins() -> None:
    assert majority(["Swan", "Goose", "Swan", "Goose", "Swan"]) == Vote(
        Outcome.CONSOLIDATED, "Swan", {"Goose": 2, "Swan": 3}, confidence=0.6, agreement=0.4
    )


def test_unanimous_answers() -> None:
    assert majority(["Falcon"] * 5) == Vote(Outcome.CONSOLIDATED, "Falcon", {"Falcon": 5}, 1.0, 1.0)


def test_two_way_tie_stays_unresolved() -> None:
    assert majority(["Duck", "Swan"]) == Vote(Outcome.TIE, None, {"Duck": 1, "Swan": 1}, 0.5, 0.0)


def test_tie_for_first_place_among_three_labels_stays_unresolved() -> None:
    vote = majority(["a", "b", "a", "b", "c"])
    assert (vote.outcome, vote.label, vote.votes) == (Outcome.TIE, None, {"a": 2, "b": 2, "c": 1})
    assert vote.confidence == 0.4


def test_tie_below_first_place_does_not_matter() -> None:
    vote = majority(["a", "a", "a", "b", "c"])
    assert (vote.outcome, vote.label, vote.confidence) == (Outcome.CONSOLIDATED, "a", 0.6)


def test_single_answer_is_the_label_with_full_agreement() -> None:
    assert majority(["Owl"]) == Vote(Outcome.CONSOLIDATED, "Owl", {"Owl": 1}, 1.0, 1.0)


def test_no_answers() -> None:
    assert majority([]) == Vote(Outcome.NO_VALID_ANSWERS, None, {}, 0.0, 0.0)


def test_votes_are_sorted_by_label_and_ratios_rounded_to_four_places() -> None:
    vote = majority(["b", "a", "b"])
    assert list(vote.votes) == ["a", "b"]
    assert (vote.confidence, vote.agreement) == (0.6667, 0.3333)


@pytest.mark.parametrize(
    ("counts", "agreement"),
    [
        ({}, 0.0),
        ({"a": 1}, 1.0),
        ({"a": 2}, 1.0),
        ({"a": 1, "b": 1}, 0.0),
        ({"a": 3, "b": 2}, 0.4),  # (3*2 + 2*1) agreeing ordered pairs of 5*4
        ({"a": 2, "b": 1}, 1 / 3),
        ({"a": 1, "b": 1, "c": 1}, 0.0),
        ({"a": 9}, 1.0),
    ],
)
def test_pairwise_agreement(counts: dict[str, int], agreement: float) -> None:
    assert pairwise_agreement(Counter(counts)) == pytest.approx(agreement)
