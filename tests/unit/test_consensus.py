"""Consensus: majority of one item, and decide() over a batch under fixed and adaptive policies."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from groundcrew.consensus.decisions import (
    ConsensusPolicy,
    ItemDecision,
    Outcome,
    Vote,
    WorkerEstimate,
    WorkerLabel,
    WorkerPrior,
    decide,
    majority,
    next_round_workers,
    pairwise_agreement,
)
from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind


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


# --- decide(): a batch under a consensus policy -------------------------------------------------------------

LABELS = ["bird", "cat", "dog"]
ADAPTIVE = ConsensusPolicy(max_answers=5, min_agreeing=2, min_margin=1)


def answers_of(*labels: str, start: int = 0) -> list[WorkerLabel]:
    return [WorkerLabel(f"w{start + i}", label) for i, label in enumerate(labels)]


def one(policy: ConsensusPolicy, *labels: str, bought: int | None = None) -> ItemDecision:
    decision = decide({"x": answers_of(*labels)}, LABELS, policy, bought=None if bought is None else {"x": bought})
    return decision.items["x"]


def test_import_does_not_load_numpy() -> None:
    # The consolidation Lambda imports this module on every cold start; numpy is for dawid-skene only.
    probe = "import sys, groundcrew.consensus; print('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"


def test_fixed_policy_unique_winner_and_tie_and_never_more_answers() -> None:
    fixed = ConsensusPolicy.fixed(3)
    assert one(fixed, "cat", "dog", "cat") == ItemDecision(
        Outcome.CONSOLIDATED, "cat", 0.6667, 0.3333, {"cat": 2, "dog": 1}, 0, None
    )
    tie = one(fixed, "cat", "dog", "bird")
    assert (tie.outcome, tie.label, tie.more_answers) == (Outcome.TIE, None, 0)
    assert tie.reason == "tie between bird, cat, dog after 3 answers (fixed policy)"


def test_adaptive_stops_when_the_rule_holds() -> None:
    verdict = one(ADAPTIVE, "dog", "dog")
    assert verdict == ItemDecision(Outcome.CONSOLIDATED, "dog", 1.0, 1.0, {"dog": 2}, 0, None)


def test_adaptive_split_asks_for_the_fewest_answers_that_could_settle_it() -> None:
    verdict = one(ADAPTIVE, "cat", "dog")
    assert (verdict.outcome, verdict.label, verdict.more_answers) == (Outcome.UNRESOLVED, None, 1)
    assert verdict.reason == "votes cat 1, dog 1: the stop rule needs 2 agreeing answers and a lead of 1 vote"


def test_default_policy_is_lead_by_two() -> None:
    policy = ConsensusPolicy()
    assert (policy.kind, policy.method, policy.initial_answers, policy.max_answers) == (
        PolicyKind.ADAPTIVE,
        ConsensusMethod.MAJORITY,
        2,
        8,
    )
    assert one(policy, "cat", "dog").more_answers == 2
    assert one(policy, "cat", "dog", "cat").more_answers == 1
    assert one(policy, "cat", "dog", "cat", "cat").outcome is Outcome.CONSOLIDATED


@pytest.mark.parametrize(
    ("policy", "labels", "bought", "more"),
    [
        (ConsensusPolicy(min_agreeing=3, min_margin=1), ["cat"], None, 2),  # agreeing: 1 -> 3
        (ConsensusPolicy(min_margin=2), ["cat", "dog", "cat"], None, 1),  # lead 1 -> 2
        (ConsensusPolicy(min_margin=3, max_answers=9), ["cat", "dog"], None, 3),  # lead 0 -> 3
        (ConsensusPolicy(min_margin=1, min_confidence=0.8), ["cat", "cat", "cat", "dog"], None, 1),  # 4/5 = 0.8
        (ConsensusPolicy(min_margin=1, min_confidence=0.8, max_answers=20), ["cat", "dog"], None, 3),  # 4/5
        (ConsensusPolicy(min_margin=1, min_confidence=1.0, max_answers=6), ["cat", "dog"], None, 0),  # never: stop
        (ConsensusPolicy(min_margin=2), ["cat", "dog"], 7, 0),  # wants 2, one left under max_answers 8: futile
        (ConsensusPolicy(min_margin=2), ["cat", "dog"], 6, 2),  # wants 2, two left
        (ConsensusPolicy(min_margin=1, max_answers=5), ["cat", "dog"], 4, 1),  # rejected answers count too
        (ConsensusPolicy(min_agreeing=12, min_margin=1, max_answers=20), ["cat"], None, 9),  # one job's ceiling
    ],
)
def test_more_answers(policy: ConsensusPolicy, labels: list[str], bought: int | None, more: int) -> None:
    verdict = one(policy, *labels, bought=bought)
    # When no answers the cap still allows could settle it, the item stops now (a 1-1 split is then a tie).
    assert (verdict.outcome, verdict.more_answers) == (Outcome.UNRESOLVED if more else Outcome.TIE, more)


def test_answers_that_cannot_settle_an_item_are_not_bought() -> None:
    verdict = one(ConsensusPolicy(min_margin=2, max_answers=5), "cat", "dog", "cat", "dog")
    assert (verdict.outcome, verdict.more_answers) == (Outcome.TIE, 0)  # 3-2 at best: never a lead of 2
    assert (
        verdict.reason == "tie between cat, dog after 4 answers: the 1 more that max_answers 5 allows cannot settle it"
    )
    rejected = one(ConsensusPolicy(min_margin=1, max_answers=3), "cat", "dog", bought=3)
    assert rejected.reason == "tie between cat, dog after 3 answers (2 valid) (max_answers 3)"


def test_at_the_cap_a_tie_is_a_tie() -> None:
    verdict = one(ConsensusPolicy(max_answers=4, min_margin=1), "cat", "dog", "dog", "cat")
    assert (verdict.outcome, verdict.label, verdict.more_answers) == (Outcome.TIE, None, 0)
    assert verdict.reason == "tie between cat, dog after 4 answers (max_answers 4)"


def test_at_the_cap_a_weak_lead_stays_unresolved_and_says_why() -> None:
    verdict = one(ConsensusPolicy(max_answers=5, min_margin=2), "cat", "dog", "dog", "cat", "bird")
    assert verdict.outcome is Outcome.TIE
    verdict = one(ConsensusPolicy(max_answers=5, min_margin=2), "cat", "dog", "dog", "cat", "cat")
    assert (verdict.outcome, verdict.label, verdict.more_answers) == (Outcome.UNRESOLVED, None, 0)
    assert verdict.reason == "no consensus after 5 answers (max_answers 5): cat 3, dog 2"
    assert verdict.confidence == 0.6


def test_the_cap_counts_rejected_answers() -> None:
    verdict = one(ConsensusPolicy(max_answers=4, min_margin=2), "cat", "dog", bought=4)
    assert (verdict.outcome, verdict.more_answers) == (Outcome.TIE, 0)


def test_items_without_valid_answers() -> None:
    decision = decide({"a": []}, LABELS, ConsensusPolicy(max_answers=5), bought={"a": 2, "b": 4, "c": 5})
    assert decision.items["a"] == ItemDecision(Outcome.NO_VALID_ANSWERS, None, 0.0, 0.0, {}, 2, "no valid answer")
    assert decision.items["b"].more_answers == 1  # only one left under the cap
    assert decision.items["c"].more_answers == 0
    fixed = decide({"a": []}, LABELS, ConsensusPolicy.fixed(3), bought={"a": 3})
    assert (fixed.items["a"].outcome, fixed.items["a"].more_answers) == (Outcome.NO_VALID_ANSWERS, 0)


def test_next_round_workers_is_the_smallest_request() -> None:
    decision = decide(
        {"a": answers_of("cat", "dog"), "b": answers_of("cat", "dog", "cat"), "c": answers_of("cat", "cat")},
        LABELS,
        ConsensusPolicy(),
    )
    assert [decision.items[k].more_answers for k in "abc"] == [2, 1, 0]
    assert next_round_workers(decision) == 1
    done = decide({"a": answers_of("cat", "cat")}, LABELS, ConsensusPolicy())
    assert next_round_workers(done) == 0
    assert next_round_workers(decide({"a": answers_of("cat", "dog")}, LABELS, ConsensusPolicy.fixed(2))) == 0


def test_unknown_label_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match=r"item 'x': worker 'w1' answered 'cow', which is not one of the labels"):
        one(ADAPTIVE, "cat", "cow")


def test_a_worker_twice_on_one_item_is_a_caller_bug() -> None:
    twice = [WorkerLabel("w1", "cat"), WorkerLabel("w1", "dog")]
    with pytest.raises(ValueError, match=r"item 'x': worker 'w1' answers twice"):
        decide({"x": twice}, LABELS, ADAPTIVE)
    with pytest.raises(ValueError, match=r"item 'x': worker 'w1' answers twice"):
        decide({"x": twice}, LABELS, ConsensusPolicy(method=ConsensusMethod.DAWID_SKENE))


def test_bought_below_the_valid_answers_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="item 'x': bought 1 answers"):
        one(ADAPTIVE, "cat", "cat", bought=1)


@pytest.mark.parametrize(
    "fields",
    [
        {"initial_answers": 0},
        {"initial_answers": 10, "max_answers": 10},
        {"initial_answers": 3, "max_answers": 2},
        {"min_margin": 0},
        {"min_confidence": 1.5},
        {"min_agreeing": 6, "max_answers": 5},
    ],
)
def test_incoherent_policies_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ConsensusPolicy(**fields)


def test_majority_worker_estimates_count_agreement_on_consolidated_items_only() -> None:
    decision = decide(
        {"a": answers_of("cat", "cat", "dog"), "b": answers_of("cat", "dog")}, LABELS, ConsensusPolicy.fixed(3)
    )
    assert decision.iterations == 0
    assert decision.workers == {
        "w0": WorkerEstimate("w0", 2, 1.0, None, None),
        "w1": WorkerEstimate("w1", 2, 1.0, None, None),
        "w2": WorkerEstimate("w2", 1, 0.0, None, None),
    }


def test_dawid_skene_posterior_tie_is_a_tie_not_the_first_label() -> None:
    decision = decide({"x": answers_of("dog", "cat")}, LABELS, ConsensusPolicy.fixed(2, ConsensusMethod.DAWID_SKENE))
    verdict = decision.items["x"]
    assert (verdict.outcome, verdict.label) == (Outcome.TIE, None)
    assert 1 / 3 < verdict.confidence < 0.5
    assert verdict.reason == "tie between cat, dog after 2 answers (fixed policy)"


def test_dawid_skene_priors_down_weight_a_worker_known_to_be_careless() -> None:
    policy = ConsensusPolicy.fixed(2, ConsensusMethod.DAWID_SKENE)
    split = {"x": [WorkerLabel("careful", "cat"), WorkerLabel("careless", "dog")]}
    priors = {"careful": WorkerPrior("careful", 0.97, 400), "careless": WorkerPrior("careless", 0.4, 400)}
    assert decide(split, LABELS, policy).items["x"].outcome is Outcome.TIE
    decision = decide(split, LABELS, policy, priors=priors)
    assert (decision.items["x"].outcome, decision.items["x"].label) == (Outcome.CONSOLIDATED, "cat")
    careful, careless = decision.workers["careful"], decision.workers["careless"]
    assert careful.accuracy is not None and careless.accuracy is not None
    assert careful.accuracy > 0.8 > 0.5 > careless.accuracy
    assert careless.confusion is not None and len(careless.confusion) == 3


def test_dawid_skene_confidence_rule_ignores_a_known_spammers_dissent() -> None:
    answers = {"x": [WorkerLabel("a", "cat"), WorkerLabel("b", "cat"), WorkerLabel("spam", "dog")]}
    priors = {
        "a": WorkerPrior("a", 0.95, 200),
        "b": WorkerPrior("b", 0.95, 200),
        "spam": WorkerPrior("spam", 1 / 3, 200),
    }
    by_posterior = ConsensusPolicy(method=ConsensusMethod.DAWID_SKENE, min_margin=2, min_confidence=0.95)
    verdict = decide(answers, LABELS, by_posterior, priors=priors).items["x"]
    assert (verdict.outcome, verdict.label) == (Outcome.CONSOLIDATED, "cat")
    assert verdict.confidence >= 0.95
    by_votes = ConsensusPolicy(min_margin=2)
    assert decide(answers, LABELS, by_votes).items["x"].more_answers == 1


def test_dawid_skene_below_the_confidence_asks_for_more_and_says_so() -> None:
    policy = ConsensusPolicy(method=ConsensusMethod.DAWID_SKENE, min_margin=1, min_confidence=0.99)
    verdict = decide({"x": answers_of("cat", "cat")}, LABELS, policy).items["x"]
    assert verdict.outcome is Outcome.UNRESOLVED
    assert 1 <= verdict.more_answers <= 6
    assert verdict.reason is not None and "the stop rule needs confidence 0.99" in verdict.reason


def test_decide_is_deterministic_whatever_the_input_order() -> None:
    rng = random.Random(3)
    answers = {
        f"item-{i}": [WorkerLabel(f"w{w}", rng.choice(LABELS)) for w in rng.sample(range(12), 3)] for i in range(60)
    }
    shuffled = {key: list(reversed(answers[key])) for key in reversed(list(answers))}
    policy = ConsensusPolicy(method=ConsensusMethod.DAWID_SKENE, min_confidence=0.9)
    first = decide(answers, LABELS, policy)
    assert first == decide(shuffled, LABELS, policy)
    assert first == decide(answers, LABELS, policy)
    assert list(first.items) == sorted(answers)
