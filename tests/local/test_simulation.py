"""`groundcrew simulate consensus`: the shipped decide() on a seeded crowd, against fixed-3 majority."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundcrew.consensus.decisions import ConsensusPolicy
from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind
from groundcrew_local.cli import main
from groundcrew_local.simulation import (
    Population,
    draw_answers,
    draw_crowd,
    project_policy,
    run_policy,
    simulate,
)

JSON_KEYS = {
    "accuracy",
    "answers_per_item",
    "baseline_accuracy",
    "baseline_answers_per_item",
    "unresolved",
    "baseline_unresolved",
    "rounds",
    "spend_usd",
    "baseline_spend_usd",
    "answers_ratio",
    "accuracy_gain_points",
    "policy",
    "population",
}


def simulate_json(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, Any]:
    assert main(["simulate", "consensus", "--json", *flags]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    result: dict[str, Any] = json.loads(out)
    return result


def test_default_policy_meets_the_goal_on_the_default_crowd(capsys: pytest.CaptureFixture[str]) -> None:
    # The goal, on the shipped defaults: binary, workers averaging 90% accuracy, 5% spammers.
    result = simulate_json(capsys)
    assert set(result) >= JSON_KEYS
    assert result["population"] == {
        "items": 2000,
        "classes": 2,
        "workers": 40,
        "accuracy": 0.9,
        "spread": 0.05,
        "spammers": 0.05,
        "seed": 7,
        "spammer_workers": 2,
    }
    assert result["policy"] == {
        "policy": "adaptive",
        "method": "majority",
        "initial_answers": 2,
        "max_answers": 8,
        "min_agreeing": 2,
        "min_margin": 2,
        "min_confidence": None,
        "max_rounds": 4,
    }
    assert result["accuracy"] >= result["baseline_accuracy"] + 0.015
    assert result["accuracy_gain_points"] >= 1.5
    assert result["answers_ratio"] <= 0.85
    assert result["answers_per_item"] <= 0.85 * result["baseline_answers_per_item"]
    assert result["baseline_answers_per_item"] == 3.0
    assert result["baseline_spend_usd"] == pytest.approx(2000 * 3 * 0.012)
    assert result["spend_usd"] == pytest.approx(result["answers_per_item"] * 2000 * 0.012, abs=0.01)
    assert 1 < result["rounds"] <= 4


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "consensus", "--items", "300"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["policy", "accuracy", "answers/item", "unresolved", "rounds", "spend", "USD"]
    assert lines[1].startswith("adaptive majority 2..8, agree 2, lead 2 ")
    assert lines[2].startswith("fixed majority 3 (baseline) ")
    assert lines[3].startswith("answers: ") and "x the baseline's; accuracy: " in lines[3]
    accuracy_ends = lines[0].index("accuracy") + len("accuracy")
    assert lines[1].index("%") + 1 == lines[2].index("%") + 1 == accuracy_ends  # aligned columns


def test_same_seed_same_figures_and_the_fixed_policy_is_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    first = simulate_json(capsys, "--items", "400", "--seed", "3")
    assert simulate_json(capsys, "--items", "400", "--seed", "3") == first
    fixed = simulate_json(capsys, "--items", "400", "--seed", "3", "--policy", "fixed")
    # Both read the same answers (common random numbers): fixed-3 is the baseline exactly.
    assert (fixed["answers_ratio"], fixed["accuracy_gain_points"], fixed["rounds"]) == (1.0, 0.0, 1)
    assert fixed["accuracy"] == fixed["baseline_accuracy"] == first["baseline_accuracy"]


def test_dawid_skene_flags(capsys: pytest.CaptureFixture[str]) -> None:
    result = simulate_json(
        capsys, "--items", "400", "--method", "dawid-skene", "--min-confidence", "0.9", "--max-answers", "6"
    )
    assert result["policy"]["method"] == "dawid-skene"
    assert result["policy"]["min_confidence"] == 0.9
    assert 0.5 < result["answers_ratio"] < 1.0


def test_policy_from_a_project_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project.yaml"
    project.write_text(
        "name: birds\nworkers_per_object: 5\n"
        "consensus:\n  policy: adaptive\n  method: dawid-skene\n  initial_answers: 3\n  max_answers: 7\n"
        "  min_agreeing: 3\n  min_margin: 1\n  min_confidence: 0.97\n  max_rounds: 3\n",
        encoding="utf-8",
    )
    fields, max_rounds = project_policy(project)
    assert ConsensusPolicy(**fields) == ConsensusPolicy(
        kind=PolicyKind.ADAPTIVE,
        method=ConsensusMethod.DAWID_SKENE,
        initial_answers=3,
        max_answers=7,
        min_agreeing=3,
        min_margin=1,
        min_confidence=0.97,
    )
    assert max_rounds == 3
    # Flags override the document.
    result = simulate_json(capsys, "--items", "200", "--project", str(project), "--min-confidence", "0.9")
    assert result["policy"]["min_confidence"] == 0.9 and result["policy"]["max_rounds"] == 3

    project.write_text("workers_per_object: 5\nconsensus:\n  policy: fixed\n", encoding="utf-8")
    fields, _ = project_policy(project)
    assert ConsensusPolicy(**fields) == ConsensusPolicy.fixed(5)


def test_project_document_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project.yaml"
    project.write_text("consensus:\n  min_agreing: 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown consensus keys \['min_agreing'\]"):
        project_policy(project)
    project.write_text("consensus:\n  max_answers: 1\n", encoding="utf-8")
    assert main(["simulate", "consensus", "--project", str(project)]) == 2
    assert "max_answers (1) must not be below initial_answers" in capsys.readouterr().err


def test_crowd_and_answers() -> None:
    population = Population(items=500, classes=3, workers=20, spammers=0.1, seed=5)
    crowd = draw_crowd(population, np.random.default_rng(0))
    assert crowd.spammer.sum() == 2
    assert np.all(crowd.accuracies[crowd.spammer] == pytest.approx(1 / 3))
    good = crowd.accuracies[~crowd.spammer]
    assert good.min() >= 1 / 3 + 0.01 and good.max() <= 0.995
    answers = draw_answers(crowd, np.random.default_rng(1))
    assert np.all(np.sort(answers.queue, axis=1) == np.arange(20))  # each worker once per item
    rows = np.arange(500)[:, None]
    right = answers.answer[rows, np.arange(20)] == crowd.truths[:, None]
    assert abs(right[:, ~crowd.spammer].mean() - good.mean()) < 0.02
    # Wrong answers spread over the other classes.
    wrong = answers.answer[~right & ~crowd.spammer[None, :]]
    assert set(np.unique(wrong).tolist()) == {0, 1, 2}


def test_rounds_stop_at_max_rounds_and_unresolved_items_count_as_wrong() -> None:
    population = Population(items=300, accuracy=0.7, spread=0.0, spammers=0.0, seed=2)
    crowd = draw_crowd(population, np.random.default_rng(0))
    answers = draw_answers(crowd, np.random.default_rng(1))
    strict = ConsensusPolicy(max_answers=9, min_agreeing=5, min_margin=4)
    result = run_policy(crowd, answers, strict, max_rounds=2, price_usd=0.01)
    assert result.rounds == 2
    assert result.unresolved == result.outcomes["unresolved"] > 0
    assert result.accuracy <= 1 - result.unresolved / 300


def test_a_different_policy_does_not_change_the_crowd_or_the_baseline() -> None:
    population = Population(items=300, seed=11)
    lead = simulate(population, ConsensusPolicy())
    dawid_skene = simulate(population, ConsensusPolicy(method=ConsensusMethod.DAWID_SKENE, min_confidence=0.9))
    assert lead.baseline == dawid_skene.baseline


def test_simulate_stays_offline() -> None:
    probe = (
        "import sys; from groundcrew_local.cli import main; "
        "main(['simulate', 'consensus', '--items', '50', '--json']); "
        "print(sorted(m for m in ('boto3', 'botocore', 'moto') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "[]"


def test_project_document_values_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project.yaml"
    project.write_text("consensus:\n  method: votes\n", encoding="utf-8")
    assert main(["simulate", "consensus", "--project", str(project)]) == 2
    assert "consensus.method: 'votes' is not a valid ConsensusMethod" in capsys.readouterr().err
    project.write_text("consensus: [\n", encoding="utf-8")
    assert main(["simulate", "consensus", "--project", str(project)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
