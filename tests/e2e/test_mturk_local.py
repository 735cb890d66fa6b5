"""Mechanical Turk as the workforce, in local mode: the same template, consolidation and output as Ground Truth."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from groundcrew_local.demo import run_demo
from groundcrew_local.environment import (
    LocalEnvironment,
    local_environment,
    sample_answer_key,
    sample_images,
    sample_project_document,
)
from groundcrew_local.schemas import validate_events
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

pytestmark = pytest.mark.e2e
IMAGES = [p for p in sample_images() if p.suffix in {".png", ".jpg"}]


def mturk_project(**workforce: Any) -> bytes:
    document = yaml.safe_load(sample_project_document())
    document["workforce"] = {"kind": "mturk", "price_per_task_usd": 0.05, **workforce}
    document["time_limits"] = {"task_seconds": 120, "availability_seconds": 43_200, "job_deadline_hours": 24}
    document["quality"] = {"flag_below": 0.75, "min_evidence": 4}  # gold images are Ground Truth-only here
    return yaml.safe_dump(document).encode()


def crowd(*workers: SimulatedWorker) -> SimulatedWorkforce:
    return SimulatedWorkforce(list(workers), answer_key=sample_answer_key(), seed=11)


def run_batch(env: LocalEnvironment, project: bytes) -> list[dict[str, Any]]:
    env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=project)
    for path in IMAGES:
        env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/shapes/{path.name}", Body=path.read_bytes())
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/_SEAL", Body=b"")
    return list(env.wait_for_all_executions(timeout=300))


def read(env: LocalEnvironment, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture
def careful() -> Iterator[SimulatedWorkforce]:
    yield crowd(
        SimulatedWorker("ada", accuracy=1.0, workforce_type="public"),
        SimulatedWorker("bo", accuracy=1.0, workforce_type="public"),
        SimulatedWorker("cy", accuracy=1.0, workforce_type="public"),
    )


def test_hits_label_the_batch_like_a_ground_truth_job(careful: SimulatedWorkforce) -> None:
    with local_environment(workforce=careful) as env:
        (execution,) = run_batch(env, mturk_project())
        assert execution["status"] == "SUCCEEDED", execution
        (started,) = env.events_of("Labeling Job Started")
        assert started["detail"]["workforce"] == "mturk"
        assert started["detail"]["estimated_cost_usd"] == pytest.approx(len(IMAGES) * 2 * 0.06)  # $0.05 + $0.01
        (completed,) = env.events_of("Labeling Job Completed")
        lines = [json.loads(x) for x in read(env, completed["detail"]["output_manifest_uri"]).decode().splitlines()]
        key = sample_answer_key()
        assert len(lines) == len(IMAGES)
        for line in lines:
            assert line["shapes"]["label"] == key[line["source-ref"].rsplit("/", 1)[-1]]
            assert line["shapes-metadata"]["type"] == "groundcrew/image-classification-consensus"  # as with GT
        assert env.mturk is not None
        assert all(hit.disposed for hit in env.mturk.hits())  # cleaned up at the end
        answers = sum(len(hit.assignments) for hit in env.mturk.hits())
        paid = Decimal("10000.00") - env.mturk.balance.sandbox
        assert paid == Decimal("0.06") * answers  # rewards plus the 20 % fee (at least $0.01 each)
        cost = completed["detail"]["cost"]
        assert Decimal(str(cost["spend_usd"])) + Decimal(str(cost["fees_usd"])) == paid
        assert "requester.mturk.com/pricing" in cost["fee_rule"]
        validate_events(env.events())


def test_a_short_balance_fails_before_any_hit_with_both_figures(careful: SimulatedWorkforce) -> None:
    with local_environment(workforce=careful, mturk_balance="0.10") as env:
        (execution,) = run_batch(env, mturk_project())
        assert execution["status"] == "FAILED"
        (failed,) = env.events_of("Labeling Job Failed")
        reason = failed["detail"]["reason"]
        assert "$0.10" in reason and f"${len(IMAGES) * 2 * 0.06:.2f}" in reason, reason
        assert env.mturk is not None and not env.mturk.hits()
        validate_events(env.events())


def test_spam_is_rejected_with_a_reason_and_replaced() -> None:
    workforce = crowd(
        SimulatedWorker("ada", accuracy=1.0, workforce_type="public"),
        SimulatedWorker("bo", accuracy=1.0, workforce_type="public"),
        SimulatedWorker("zed", accuracy=1.0, workforce_type="public", seconds_per_task=1.0),
        SimulatedWorker("cy", accuracy=1.0, workforce_type="public"),
    )
    with local_environment(workforce=workforce) as env:
        (execution,) = run_batch(env, mturk_project(mturk={"min_seconds_per_task": 3}))
        assert execution["status"] == "SUCCEEDED", execution
        assert env.mturk is not None
        rejected = [a for hit in env.mturk.hits() for a in hit.assignments if a.status == "Rejected"]
        assert rejected and all("seconds" in (a.requester_feedback or "") for a in rejected)
        (completed,) = env.events_of("Labeling Job Completed")
        assert completed["detail"]["statistics"]["labeled"] == len(IMAGES)
        validate_events(env.events())


def test_hits_that_end_short_are_reported_and_nothing_is_dropped() -> None:
    lone = crowd(SimulatedWorker("ada", accuracy=1.0, workforce_type="public"))  # two answers wanted per item
    with local_environment(workforce=lone) as env:
        (execution,) = run_batch(env, mturk_project())
        assert execution["status"] == "FAILED"  # one answer never agrees with another: nothing is resolved
        failures = [f for e in env.events_of("Annotations Consolidated") for f in e["detail"]["failures"]]
        short = [f for f in failures if "ended with 1 of 2 answers" in f["reason"]]
        assert {f["data_object"].rsplit("/", 1)[-1] for f in short} >= {p.name for p in IMAGES[:5]}
        (failed,) = env.events_of("Labeling Job Failed")
        assert "12 items, 12 unresolved" in failed["detail"]["reason"]
        batch = failed["detail"]["batch_id"]
        output = read(env, f"s3://{env.data_bucket}/batches/shapes/{batch}/output/output.manifest").splitlines()
        assert len(output) == len(IMAGES)  # every item has its line, with the answer it got
        assert env.mturk is not None and all(hit.disposed for hit in env.mturk.hits())
        validate_events(env.events())


def test_a_page_that_is_not_valid_xml_fails_with_the_character_and_where() -> None:
    document = yaml.safe_load(mturk_project())
    document["task"]["instructions"] = "Pick the shape.\x0bIgnore the colour."
    with local_environment(workforce=crowd(SimulatedWorker("ada", workforce_type="public"))) as env:
        (execution,) = run_batch(env, yaml.safe_dump(document).encode())
        assert execution["status"] == "FAILED"
        (consolidated,) = env.events_of("Annotations Consolidated")
        reasons = {f["reason"] for f in consolidated["detail"]["failures"]}
        assert reasons and all("U+000B" in reason and "line" in reason for reason in reasons), reasons
        assert env.mturk is not None and not env.mturk.hits()
        validate_events(env.events())


def test_the_demo_runs_on_mechanical_turk(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path, out, workforce="mturk")
    text = out.getvalue()
    assert result.succeeded, text
    assert "as Mechanical Turk HITs (sandbox), estimated $" in text
    assert "Mechanical Turk fees" in text and "12 of 12 labels correct" in text
    validate_events(result.events)


def test_keypoints_run_on_mechanical_turk_with_their_adjustment_round(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path, out, workflow="keypoints", workforce="mturk")
    text = out.getvalue()
    assert result.succeeded, text
    assert "labeled               8 (0 unresolved" in text and "round 2" in text  # flagged poses went back
    assert "Mechanical Turk fees" in text
    validate_events(result.events)


def test_answers_that_cannot_be_read_are_rejected_and_replaced() -> None:
    workforce = crowd(
        SimulatedWorker("ada", accuracy=1.0, workforce_type="public"),
        SimulatedWorker("cut", workforce_type="public", malformed_rate=1.0, malformed_kinds=("not_json",)),
        SimulatedWorker("bo", accuracy=1.0, workforce_type="public"),
        SimulatedWorker("cy", accuracy=1.0, workforce_type="public"),
    )
    with local_environment(workforce=workforce) as env:
        (execution,) = run_batch(env, mturk_project())
        assert execution["status"] == "SUCCEEDED", execution
        assert env.mturk is not None
        rejected = [a for hit in env.mturk.hits() for a in hit.assignments if a.status == "Rejected"]
        assert rejected and all("did not contain the answer" in (a.requester_feedback or "") for a in rejected)
        (completed,) = env.events_of("Labeling Job Completed")
        assert completed["detail"]["statistics"]["labeled"] == len(IMAGES)
        validate_events(env.events())
