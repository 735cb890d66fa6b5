"""The whole stack in local mode: real template, real state machine, real handlers, the Ground Truth stand-in."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
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
from groundcrew_local.ground_truth import GroundTruthStandIn
from groundcrew_local.schemas import validate_events
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

pytestmark = pytest.mark.e2e
IMAGES = [p for p in sample_images() if p.suffix in {".png", ".jpg"}]


@pytest.fixture
def env() -> Iterator[LocalEnvironment]:
    with local_environment() as environment:
        yield environment


def upload_project(env: LocalEnvironment, document: bytes | None = None, name: str = "shapes") -> None:
    env.s3.put_object(Bucket=env.data_bucket, Key=f"projects/{name}.yaml", Body=document or sample_project_document())


def drop(env: LocalEnvironment, images: list[Path], project: str = "shapes") -> None:
    for path in images:
        env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/{project}/{path.name}", Body=path.read_bytes())


def seal(env: LocalEnvironment, project: str = "shapes") -> str:
    env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/{project}/_SEAL", Body=b"")
    sealed = env.events_of("Batch Sealed")
    assert sealed, f"no batch sealed; events: {[e['detail-type'] for e in env.events()]}"
    return str(sealed[-1]["detail"]["batch_id"])


def test_demo_labels_every_sample_image_and_records_the_completed_event(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path, out)
    text = out.getvalue()
    assert result.succeeded, text
    for step in [
        "objects received",
        "batch sealed",
        "manifest written",
        "labeling job created",
        "progress",
        "consolidation",
        "round completed",
        "(round 2:",  # the demo's disagreements get a follow-up job
        "training data exported",
        "batch completed",
        "answers per item",
        "spend",
    ]:
        assert step in text, f"demo output lacks {step!r}:\n{text}"
    events = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    validate_events(events)
    assert [e["detail-type"] for e in events].count("Labeling Job Completed") == 1
    output = [json.loads(line) for line in (result.run_dir / "output.manifest").read_text().splitlines()]
    assert len(output) == len(IMAGES)
    key = sample_answer_key()
    for line in output:
        name = line["source-ref"].rsplit("/", 1)[-1]
        assert name in key
        label = line["shapes"]
        if label["status"] == "consolidated":
            assert label["label"] in {"circle", "square", "triangle"}
            assert line["shapes-metadata"]["class-name"] == label["label"]
        else:
            assert label["label"] is None and label["reason"], line
        assert len(label["answers"]) >= 1
        assert line["shapes-metadata"]["human-annotated"] == "yes"
        assert line["shapes-metadata"]["job-names"][0].endswith("-r1")
    input_manifest = (result.run_dir / "input.manifest").read_text(encoding="utf-8")
    assert "square 02+café.png" in input_manifest  # URL-decoded, UTF-8, one JSON object per line
    assert "notes.txt" not in input_manifest


def test_rejections_name_the_rule_and_never_reach_a_manifest(env: LocalEnvironment) -> None:
    upload_project(env)
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/birds/bird.png", Body=IMAGES[0].read_bytes())
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/loose-file.png", Body=IMAGES[0].read_bytes())
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/notes.txt", Body=b"not an image")
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/empty.png", Body=b"")
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/fake.jpg", Body=b"hello, I am text")
    drop(env, IMAGES[:2])
    rules = {e["detail"]["key"]: e["detail"]["rule"] for e in env.events_of("Input Rejected")}
    assert rules == {
        "incoming/birds/bird.png": "unknown-project",
        "incoming/loose-file.png": "no-project-prefix",
        "incoming/shapes/notes.txt": "not-an-image",
        "incoming/shapes/empty.png": "empty-object",
        "incoming/shapes/fake.jpg": "not-an-image",
    }
    batch_id = seal(env)
    manifest = env.s3.get_object(Bucket=env.data_bucket, Key=f"batches/shapes/{batch_id}/input.manifest")
    lines = manifest["Body"].read().decode().splitlines()
    assert sorted(json.loads(line)["source-ref"].rsplit("/", 1)[-1] for line in lines) == sorted(
        p.name for p in IMAGES[:2]
    )
    validate_events(env.events())


def test_invalid_project_document_is_rejected_naming_the_field(env: LocalEnvironment) -> None:
    document = sample_project_document().replace(b"initial_answers: 2", b"initial_answers: 12")
    upload_project(env, document)
    drop(env, IMAGES[:1])
    rejected = env.events_of("Input Rejected")
    assert [e["detail"]["rule"] for e in rejected] == ["invalid-project", "invalid-project"]
    fields = [error["field"] for error in rejected[0]["detail"]["errors"]]
    assert fields == ["consensus.initial_answers"]
    assert "less than or equal to 9" in rejected[0]["detail"]["errors"][0]["message"]
    assert not env.events_of("Objects Received")


def test_keys_with_spaces_plus_and_non_ascii_are_decoded(env: LocalEnvironment) -> None:
    upload_project(env)
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/a b+c/été 1.png", Body=IMAGES[0].read_bytes())
    batch_id = seal(env)
    body = env.s3.get_object(Bucket=env.data_bucket, Key=f"batches/shapes/{batch_id}/input.manifest")["Body"].read()
    assert json.loads(body) == {"source-ref": f"s3://{env.data_bucket}/incoming/shapes/a b+c/été 1.png"}


def test_the_same_s3_event_delivered_twice_adds_nothing(env: LocalEnvironment) -> None:
    upload_project(env)
    sqs = env.client("sqs")
    queue_url = env.stack.outputs.get("IntakeQueueUrl") or env.stack.physical_ids["IntakeQueue"]
    drop(env, IMAGES[:1])
    received = env.events_of("Objects Received")
    assert [e["detail"]["received"] for e in received] == [1]
    # Redeliver the identical EventBridge event (as SQS may): intake records nothing new.
    event = {
        "version": "0",
        "id": "3f2c1a5e-0000-4000-8000-000000000001",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": env.stack.account_id,
        "time": "2026-11-21T12:00:00Z",
        "region": env.stack.region,
        "resources": [f"arn:aws:s3:::{env.data_bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": env.data_bucket},
            "object": {
                "key": f"incoming/shapes/{IMAGES[0].name}",
                "size": IMAGES[0].stat().st_size,
                "etag": env.s3.head_object(Bucket=env.data_bucket, Key=f"incoming/shapes/{IMAGES[0].name}")[
                    "ETag"
                ].strip('"'),
                "sequencer": "0062E99A88DC407460",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": env.stack.account_id,
            "reason": "PutObject",
        },
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    received = env.events_of("Objects Received")
    assert [(e["detail"]["received"], e["detail"]["duplicates"]) for e in received] == [(1, 0), (0, 1), (0, 1)]
    assert received[-1]["detail"]["batch_item_count"] == 1


def fixed_policy_document(workers: int = 3) -> bytes:
    """The sample project asking `workers` answers of every image in one job (no follow-up rounds)."""
    document = yaml.safe_load(sample_project_document())
    document["consensus"] = {"policy": "fixed", "method": "majority"}
    document["workers_per_object"] = workers
    return yaml.safe_dump(document).encode()


def run_batch(
    env: LocalEnvironment, images: list[Path] | None = None, document: bytes | None = None
) -> tuple[str, dict[str, Any]]:
    upload_project(env, document)
    drop(env, images or IMAGES)
    batch_id = seal(env)
    return batch_id, env.wait_for_execution(batch_id)


def test_ground_truth_throttling_is_retried(env: LocalEnvironment) -> None:
    env.ground_truth.throttle_next(2, "ThrottlingException")
    _, execution = run_batch(env, IMAGES[:3])
    assert execution["status"] == "SUCCEEDED", execution
    history = env.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    failed_launches = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert len(failed_launches) == 2
    assert all("GroundTruthThrottled" in e["lambdaFunctionFailedEventDetails"]["error"] for e in failed_launches)
    assert env.events_of("Labeling Job Completed")


def test_ground_truth_validation_error_fails_the_batch_with_the_message(env: LocalEnvironment) -> None:
    env.ground_truth.throttle_next(1, "ValidationException")
    _, execution = run_batch(env, IMAGES[:2])
    assert execution["status"] == "FAILED"
    failed = env.events_of("Labeling Job Failed")
    assert len(failed) == 1
    detail = failed[0]["detail"]
    assert detail["stage"] == "Launch"
    assert detail["error"] == "LabelingJobRejected"
    assert "ValidationException" in detail["reason"]
    validate_events(env.events())


def test_malformed_worker_answers_are_reported_and_good_answers_still_count() -> None:
    workers = [
        SimulatedWorker.named("careful", accuracy=1.0, seconds_per_task=20),
        SimulatedWorker.named("steady", accuracy=1.0, seconds_per_task=25),
        SimulatedWorker.named("broken", accuracy=1.0, seconds_per_task=5, malformed_rate=1.0),
    ]
    crowd = SimulatedWorkforce(workers, seed=3, answer_key=sample_answer_key())
    with local_environment(workforce=crowd) as local:
        _, execution = run_batch(local, IMAGES[:4], fixed_policy_document(3))
        assert execution["status"] == "SUCCEEDED"
        completed = local.events_of("Labeling Job Completed")[0]["detail"]
        uri = completed["output_manifest_uri"].removeprefix(f"s3://{local.data_bucket}/")
        lines = local.s3.get_object(Bucket=local.data_bucket, Key=uri)["Body"].read().decode().splitlines()
        for raw in lines:
            label = json.loads(raw)["shapes"]
            assert label["status"] == "consolidated"
            assert len(label["answers"]) == 2
            (rejected,) = label["rejected_answers"]
            assert rejected["reason"].startswith("answer of worker")
            assert "not valid JSON" in rejected["reason"] or "unknown label" in rejected["reason"]
        consolidated = local.events_of("Annotations Consolidated")
        assert sum(e["detail"]["rejected_answers"] for e in consolidated) == 4
        validate_events(local.events())


def test_a_job_that_completes_with_nothing_labeled_fails_the_batch() -> None:
    broken = [
        SimulatedWorker.named(f"broken-{i}", accuracy=1.0, seconds_per_task=5, malformed_rate=1.0) for i in range(3)
    ]
    with local_environment(workforce=SimulatedWorkforce(broken, seed=1, answer_key={})) as env:
        _, execution = run_batch(env, IMAGES[:2])
        assert execution["status"] == "FAILED"
        (failed,) = env.events_of("Labeling Job Failed")
        assert failed["detail"]["stage"] == "Finalize"  # after the rounds the policy allows
        assert failed["detail"]["error"] == "NothingLabeled"
        assert "nothing labeled" in failed["detail"]["reason"]
        assert not env.events_of("Labeling Job Completed")
        validate_events(env.events())


def test_a_job_stopped_by_an_operator_fails_the_batch(env: LocalEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    original_step = GroundTruthStandIn.step
    stopped: list[str] = []

    def step_then_stop(self: GroundTruthStandIn, job: Any) -> None:
        original_step(self, job)
        if job.status == "InProgress" and not stopped:
            stopped.append(job.name)  # someone presses Stop in the console after the first chunk
            env.client("sagemaker").stop_labeling_job(LabelingJobName=job.name)

    monkeypatch.setattr(GroundTruthStandIn, "step", step_then_stop)
    _, execution = run_batch(env, IMAGES)
    assert execution["status"] == "FAILED"
    (failed,) = env.events_of("Labeling Job Failed")
    assert (failed["detail"]["stage"], failed["detail"]["error"]) == ("Track", "LabelingJobStopped")
    assert failed["detail"]["labeling_job_name"] == stopped[0]
    assert not env.events_of("Labeling Job Completed")
    validate_events(env.events())


def test_a_job_ground_truth_fails_fails_the_batch_with_its_reason(
    env: LocalEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    original_step = GroundTruthStandIn.step

    def lose_template_then_step(self: GroundTruthStandIn, job: Any) -> None:
        if job.status == "Initializing":  # the worker template disappears before Ground Truth reads it
            template = job.human_task_config["UiConfig"]["UiTemplateS3Uri"].removeprefix("s3://").split("/", 1)
            env.s3.delete_object(Bucket=template[0], Key=template[1])
        original_step(self, job)

    monkeypatch.setattr(GroundTruthStandIn, "step", lose_template_then_step)
    _, execution = run_batch(env, IMAGES[:2])
    assert execution["status"] == "FAILED"
    (failed,) = env.events_of("Labeling Job Failed")
    assert (failed["detail"]["stage"], failed["detail"]["error"]) == ("Track", "LabelingJobFailed")
    assert "ui-template.liquid.html" in failed["detail"]["reason"]
    validate_events(env.events())
