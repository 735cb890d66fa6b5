"""Consensus over rounds in local mode: follow-up jobs on only the disputed items, failed rounds, gold, quality."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from groundcrew_local.environment import (
    LocalEnvironment,
    local_environment,
    sample_answer_key,
    sample_gold_images,
    sample_images,
    sample_project_document,
)
from groundcrew_local.ground_truth import GroundTruthStandIn
from groundcrew_local.schemas import validate_events
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

pytestmark = pytest.mark.e2e
IMAGES = [p for p in sample_images() if p.suffix in {".png", ".jpg"}]


def merged(base: Any, changes: Any) -> Any:
    if isinstance(base, dict) and isinstance(changes, dict):
        return {**base, **{key: merged(base.get(key), value) for key, value in changes.items()}}
    return changes


def project(**changes: Any) -> bytes:
    """The sample project with `changes` merged in (nested mappings merge, other values replace)."""
    return yaml.safe_dump(merged(yaml.safe_load(sample_project_document()), changes)).encode()


def workforce(*workers: tuple[str, float], seed: int = 3) -> SimulatedWorkforce:
    crew = [SimulatedWorker.named(name, accuracy=accuracy, seconds_per_task=10.0) for name, accuracy in workers]
    return SimulatedWorkforce(crew, seed=seed, answer_key=sample_answer_key())


def run_batch(
    env: LocalEnvironment, document: bytes, images: list[Path] = IMAGES, gold: bool = True
) -> tuple[str, dict[str, Any]]:
    s3, bucket = env.s3, env.data_bucket
    s3.put_object(Bucket=bucket, Key="projects/shapes.yaml", Body=document)
    if gold:
        for path in sample_gold_images():
            s3.put_object(Bucket=bucket, Key=f"gold/shapes/{path.name}", Body=path.read_bytes())
    for path in images:
        s3.put_object(Bucket=bucket, Key=f"incoming/shapes/{path.name}", Body=path.read_bytes())
    s3.put_object(Bucket=bucket, Key="incoming/shapes/_SEAL", Body=b"")
    batch_id = str(env.events_of("Batch Sealed")[-1]["detail"]["batch_id"])
    return batch_id, env.wait_for_execution(batch_id)


def read_lines(env: LocalEnvironment, uri: str) -> list[dict[str, Any]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = env.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def completed(env: LocalEnvironment) -> dict[str, Any]:
    (event,) = env.events_of("Labeling Job Completed")
    return dict(event["detail"])


@pytest.mark.parametrize("method", ["majority", "dawid-skene"])
def test_only_disputed_items_go_to_a_follow_up_round_and_every_round_is_merged(method: str) -> None:
    crew = workforce(("ada", 1.0), ("bo", 1.0), ("cy", 0.0), ("di", 1.0), ("ed", 1.0))
    document = project(consensus={"method": method, "max_answers": 5, "max_rounds": 4})
    with local_environment(workforce=crew) as env:
        _, execution = run_batch(env, document)
        assert execution["status"] == "SUCCEEDED", execution
        detail = completed(env)
        rounds = detail["consensus"]["rounds"]
        assert len(rounds) >= 2, rounds  # cy is always wrong, so some pairs split
        jobs = env.ground_truth.jobs
        first = jobs[rounds[0]["labeling_job_name"]]
        second = jobs[rounds[1]["labeling_job_name"]]
        # Round 2 holds exactly the items that were not resolved after round 1 (plus gold).
        round_one = {
            line["source-ref"]: line["shapes"]
            for line in read_lines(env, str(first.output_uri))
            if not line.get("groundcrew-gold")
        }
        split = {key for key, value in round_one.items() if value["status"] != "consolidated"}
        second_items = {o.line["source-ref"] for o in second.objects if not o.line.get("groundcrew-gold")}
        assert second_items == split
        assert second.human_task_config["NumberOfHumanWorkersPerDataObject"] == 1
        assert rounds[1]["items"] == len(split)

        output = read_lines(env, detail["output_manifest_uri"])
        assert len(output) == len(IMAGES)  # one line per item, every round merged
        key = sample_answer_key()
        for line in output:
            value = line["shapes"]
            workers = [a["worker_id"] for a in value["answers"]]
            assert len(workers) == len(set(workers)), value  # a worker counts once per item
            if value["status"] == "consolidated":
                assert value["label"] == key[line["source-ref"].rsplit("/", 1)[-1]]
                assert line["shapes-metadata"]["class-name"] == value["label"]
            else:
                assert value["reason"], value
            assert value["rounds"][0] == 1
            assert line["shapes-metadata"]["job-names"] == [r["labeling_job_name"] for r in rounds]
            assert line["shapes-metadata"]["consensus-method"] == method
        bucket, key = detail["worker_report_uri"].removeprefix("s3://").split("/", 1)
        report = json.loads(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert report["labels"] == ["circle", "square", "triangle"]
        confusions = [w["confusion"] for w in report["workers"]]
        if method == "dawid-skene":
            (cy,) = [w for w in report["workers"] if w["worker_id"] == crew.workers[2].worker_id]
            assert cy["estimated_accuracy"] < 0.5  # always wrong, and the weighting knows it
            assert all(len(c) == 3 and all(abs(sum(row) - 1) < 1e-3 for row in c) for c in confusions)
        else:
            assert confusions == [None] * len(confusions)
        assert detail["statistics"]["rounds"] == len(rounds)
        assert len(env.events_of("Labeling Round Completed")) == len(rounds)
        assert detail["cost"]["answers_bought"] == sum(r["answers_bought"] for r in rounds)
        assert detail["cost"]["spend_usd"] == pytest.approx(detail["cost"]["answers_bought"] * 0.036)
        assert 2.0 <= detail["cost"]["answers_per_item"] < 5.0
        validate_events(env.events())


def test_a_failed_follow_up_round_keeps_the_labels_of_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    original_step = GroundTruthStandIn.step

    def fail_round_two(self: GroundTruthStandIn, job: Any) -> None:
        if job.name.endswith("-r2") and job.status == "Initializing":
            bucket, key = job.human_task_config["UiConfig"]["UiTemplateS3Uri"].removeprefix("s3://").split("/", 1)
            env.s3.delete_object(Bucket=bucket, Key=key)  # round 2 fails in Ground Truth
        original_step(self, job)

    monkeypatch.setattr(GroundTruthStandIn, "step", fail_round_two)
    crew = workforce(("ada", 1.0), ("bo", 1.0), ("cy", 0.0))
    with local_environment(workforce=crew) as env:
        _, execution = run_batch(env, project(), gold=False)
        assert execution["status"] == "SUCCEEDED", execution
        detail = completed(env)
        first, second = detail["consensus"]["rounds"]
        assert first["gold_items"] == 0  # the project names gold objects nobody uploaded: said, not hidden
        started = env.events_of("Labeling Job Started")[0]["detail"]
        assert started["gold_missing"] and all("/gold/shapes/" in uri for uri in started["gold_missing"])
        assert (second["status"], second["answers_bought"]) == ("Failed", 0)
        assert "ui-template.liquid.html" in second["failure_reason"]
        output = read_lines(env, detail["output_manifest_uri"])
        unresolved = [line["shapes"] for line in output if line["shapes"]["status"] != "consolidated"]
        assert len(unresolved) == second["items"] > 0
        assert all("round 2 failed" in value["reason"] for value in unresolved)
        assert detail["statistics"]["labeled"] == len(IMAGES) - len(unresolved) == first["resolved"]
        assert {u["item"] for u in detail["consensus"]["unresolved_items"]} == {
            line["source-ref"] for line in output if line["shapes"]["status"] != "consolidated"
        }
        assert not env.events_of("Labeling Job Failed")
        validate_events(env.events())


def test_items_still_split_at_max_answers_are_reported_as_ties_never_guessed() -> None:
    crew = workforce(("ada", 1.0), ("bo", 1.0), ("cy", 0.0))
    document = project(consensus={"initial_answers": 2, "max_answers": 2})
    with local_environment(workforce=crew) as env:
        _, execution = run_batch(env, document, gold=False)
        assert execution["status"] == "SUCCEEDED", execution
        detail = completed(env)
        assert len(detail["consensus"]["rounds"]) == 1  # nothing may be bought beyond max_answers
        ties = [u for u in detail["consensus"]["unresolved_items"] if u["status"] == "tie"]
        assert ties and len(ties) == detail["statistics"]["ties"]
        for tie in ties:
            assert "max_answers 2" in tie["reason"]
            assert sorted(tie["votes"].values()) == [1, 1]
        output = read_lines(env, detail["output_manifest_uri"])
        assert all(line["shapes"]["label"] is None for line in output if line["shapes"]["status"] == "tie")


def test_gold_scores_workers_across_batches_and_flags_the_careless_one() -> None:
    crew = workforce(("ada", 1.0), ("bo", 0.95), ("careless", 0.1), seed=5)
    document = project(quality={"gold": {"rate": 0.5}, "flag_below": 0.7, "min_evidence": 3})
    with local_environment(workforce=crew) as env:
        _, first_execution = run_batch(env, document, images=IMAGES[:6])
        assert first_execution["status"] == "SUCCEEDED", first_execution
        _, second_execution = run_batch(env, document, images=IMAGES[6:])
        assert second_execution["status"] == "SUCCEEDED", second_execution
        first, second = (e["detail"] for e in env.events_of("Labeling Job Completed"))
        assert all(r["gold_items"] > 0 for r in first["consensus"]["rounds"])
        careless_id = crew.workers[2].worker_id
        report = {w["worker_id"]: w for w in second["workers"]}
        assert report[careless_id]["flagged"], report
        assert second["workers"][0]["worker_id"] == careless_id  # flagged workers come first
        assert report[careless_id]["history_answers"] > report[careless_id]["answers"]  # both batches counted
        assert not report[crew.workers[0].worker_id]["flagged"]
        stored = env.client("dynamodb").query(
            TableName=env.stack.physical_ids["BatchesTable"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "WORKERS#shapes"}},
        )["Items"]
        assert {item["worker_id"]["S"] for item in stored} >= {careless_id}
        assert all(len(item["batches"]["SS"]) <= 2 for item in stored)
        # Gold items are scored, never labeled or exported.
        output = read_lines(env, second["output_manifest_uri"])
        assert not any("gold/" in line["source-ref"] for line in output)


def test_training_export_is_written_and_announced() -> None:
    with local_environment() as env:
        _, execution = run_batch(env, project())
        assert execution["status"] == "SUCCEEDED", execution
        (exported,) = env.events_of("Training Data Exported")
        files = exported["detail"]["files"]
        assert set(files) == {"train.jsonl", "test.jsonl", "train.csv", "test.csv"}
        assert completed(env)["export"]["files"] == files
        train = read_lines(env, files["train.jsonl"])
        test = read_lines(env, files["test.jsonl"])
        assert len(train) + len(test) == exported["detail"]["train"] + exported["detail"]["test"]
        assert {line["label"] for line in train} == {"circle", "square", "triangle"}
        bucket, key = files["test.csv"].removeprefix("s3://").split("/", 1)
        rows = list(csv.DictReader(io.StringIO(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))
        assert [row["source-ref"] for row in rows] == [line["source-ref"] for line in test]
        validate_events(env.events())


def test_a_follow_up_round_refused_at_launch_is_reported_and_the_batch_still_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original_create = GroundTruthStandIn.create_labeling_job

    def refuse_round_two(self: GroundTruthStandIn, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        if params["LabelingJobName"].endswith("-r2"):
            self.throttle_next(1, "ValidationException")
        return original_create(self, backend, params)

    monkeypatch.setattr(GroundTruthStandIn, "create_labeling_job", refuse_round_two)
    crew = workforce(("ada", 1.0), ("bo", 1.0), ("cy", 0.0))
    with local_environment(workforce=crew) as env:
        _, execution = run_batch(env, project(), gold=False)
        assert execution["status"] == "SUCCEEDED", execution
        first, second = completed(env)["consensus"]["rounds"]
        assert first["status"] == "Completed"
        assert second["status"] == "LabelingJobRejected in Launch"
        assert second["labeling_job_name"].endswith("-r2") and second["items"] > 0
        assert completed(env)["statistics"]["unresolved"] == second["items"]
