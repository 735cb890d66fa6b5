"""Failure paths that used to cost a batch or land in the dead-letter queue with nobody told (issue 15).

Intake: a poisoned project document, keys too long to record, objects deleted before intake reads them: each now
ends in an `Input Rejected` event with a named rule, and the SQS record succeeds (no retry can help). The
consolidation Lambda: a job groundcrew did not prepare falls back to its label categories under the function's
real permissions."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import yaml

from groundcrew.projects import MAX_PROJECT_BYTES
from groundcrew_local.environment import LocalEnvironment, local_environment, sample_images, sample_project_document

pytestmark = pytest.mark.e2e
SAMPLE_EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE = json.loads((SAMPLE_EVENTS / "intake-object-created.json").read_text())
PNG = next(p for p in sample_images() if p.suffix == ".png").read_bytes()


def intake(env: LocalEnvironment, key: str, size: int = 576) -> dict[str, Any]:
    """The intake function on one SQS record of an S3 Object Created event (keys arrive URL-encoded)."""
    event = copy.deepcopy(SAMPLE)
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["detail"]["bucket"]["name"] = env.data_bucket
    body["detail"]["object"].update(key=quote_plus(key, safe="/"), size=size)
    record["body"] = json.dumps(body)
    event["Records"] = [record]
    result: dict[str, Any] = env.stack.invoke("IntakeFunction", event)
    return result


def drop_sample_batch(env: LocalEnvironment) -> None:
    """The shapes project, its images and the seal marker, through the real S3 -> intake path."""
    env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=sample_project_document())
    for path in (p for p in sample_images() if p.suffix in {".png", ".jpg"}):
        env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/shapes/{path.name}", Body=path.read_bytes())
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/_SEAL", Body=b"")


def rejections(env: LocalEnvironment) -> list[tuple[str, str]]:
    return [(e["detail"]["key"], e["detail"]["rule"]) for e in env.events_of("Input Rejected")]


def quietly(env: LocalEnvironment) -> None:
    """Objects put by the test reach intake only through `intake()` (the S3 rule is switched off)."""
    events = env.client("events")
    events.disable_rule(Name=env.stack.physical_ids["ObjectCreatedRule"])


def test_a_deeply_nested_project_document_is_rejected_and_its_objects_too_without_a_retry() -> None:
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with local_environment() as env:
        quietly(env)
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/deep.yaml", Body=deep.encode())
        env.s3.put_object(Bucket=env.data_bucket, Key="incoming/deep/a.png", Body=PNG)
        started = time.monotonic()
        assert intake(env, "projects/deep.yaml")["batchItemFailures"] == []
        assert intake(env, "incoming/deep/a.png")["batchItemFailures"] == []
        assert time.monotonic() - started < 10
        assert rejections(env) == [
            ("projects/deep.yaml", "invalid-project"),
            ("incoming/deep/a.png", "invalid-project"),
        ]
        assert all(e["detail"]["errors"] for e in env.events_of("Input Rejected"))  # each says what is wrong


def test_an_oversized_project_document_is_refused_from_its_size_unread() -> None:
    big = sample_project_document() + b"# padding\n" * (MAX_PROJECT_BYTES // 10 + 1)
    with local_environment() as env:
        quietly(env)
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=big)
        assert intake(env, "projects/shapes.yaml")["batchItemFailures"] == []
        (rejected,) = env.events_of("Input Rejected")
        assert rejected["detail"]["rule"] == "invalid-project"
        assert f"may be at most {MAX_PROJECT_BYTES:,}" in rejected["detail"]["errors"][0]["message"]


def test_a_key_too_long_to_record_is_rejected_with_a_named_rule() -> None:
    long_key = "incoming/shapes/" + "d" * 993 + "/circle.png"  # 1,020 bytes: ITEM# + it is over DynamoDB's 1,024
    assert len(long_key.encode()) == 1020
    with local_environment() as env:
        quietly(env)
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=sample_project_document())
        env.s3.put_object(Bucket=env.data_bucket, Key=long_key, Body=PNG)
        assert intake(env, long_key, size=len(PNG))["batchItemFailures"] == []
        (rejected,) = env.events_of("Input Rejected")
        assert (rejected["detail"]["key"], rejected["detail"]["rule"]) == (long_key, "key-too-long")
        assert "at most 1,019 bytes" in rejected["detail"]["message"]


def test_an_object_deleted_before_intake_reads_it_is_rejected_not_retried() -> None:
    with local_environment() as env:
        quietly(env)
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=sample_project_document())
        assert intake(env, "incoming/shapes/gone.png")["batchItemFailures"] == []
        assert rejections(env) == [("incoming/shapes/gone.png", "object-missing")]


def test_consolidating_a_job_groundcrew_did_not_prepare_falls_back_to_a_majority_vote() -> None:
    """The README's promise, under the function's own IAM policy: S3 must say the task config is missing (404),
    not forbidden (403), for the fallback to the request's label categories to happen."""
    from groundcrew_local.invoke import seed_sample_world

    event = json.loads((SAMPLE_EVENTS / "annotation-consolidation-request.json").read_text())
    event["labelingJobArn"] = event["labelingJobArn"].replace("gc-shapes-", "someone-elses-")
    with local_environment() as env:
        seed_sample_world(env)
        result = env.stack.invoke("AnnotationConsolidationFunction", event)
        assert len(result) == 10
        labels = [entry["consolidatedAnnotation"]["content"]["shapes"]["label"] for entry in result]
        assert set(labels) - {None} <= {"circle", "square", "triangle"}  # None: a tie, left unresolved
        assert sum(label is not None for label in labels) >= 5


def test_a_batch_run_again_announces_its_completion_once() -> None:
    """An execution started again with the same input (a redrive, an operator's retry) re-does the work, which is
    idempotent, but consumers hear of the completion and the training export once."""
    with local_environment() as env:
        drop_sample_batch(env)
        (first,) = env.wait_for_all_executions()
        assert first["status"] == "SUCCEEDED"
        sfn = env.client("stepfunctions")
        sfn.start_execution(stateMachineArn=env.state_machine_arn, name=f"{first['name']}-again", input=first["input"])
        assert all(e["status"] == "SUCCEEDED" for e in env.wait_for_all_executions())
        kinds = [e["detail-type"] for e in env.events()]
        assert kinds.count("Labeling Job Completed") == 1
        assert kinds.count("Training Data Exported") == 1
        assert kinds.count("Labeling Round Completed") >= 2  # the work itself did run again


def _unavailable_first(original: Any, times: int) -> Any:
    """SageMaker's own 503 ServiceUnavailable for the first `times` calls, then the real answer."""
    from moto.core.exceptions import JsonRESTError

    calls = {"n": 0}

    def call(backend: Any, params: dict[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] <= times:
            error = JsonRESTError("ServiceUnavailable", "Service Unavailable")
            error.code = 503
            raise error
        return original(backend, params)

    return call


def test_sagemaker_5xx_in_launch_and_track_are_retried_and_the_batch_still_completes() -> None:
    with local_environment() as env:
        env.ground_truth.create_labeling_job = _unavailable_first(env.ground_truth.create_labeling_job, 1)  # type: ignore[method-assign]
        env.ground_truth.describe_labeling_job = _unavailable_first(env.ground_truth.describe_labeling_job, 5)  # type: ignore[method-assign]
        drop_sample_batch(env)
        (execution,) = env.wait_for_all_executions()
        assert execution["status"] == "SUCCEEDED"
        sfn = env.client("stepfunctions")
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        errors = [
            e["lambdaFunctionFailedEventDetails"]["error"] for e in history if e["type"] == "LambdaFunctionFailed"
        ]
        assert errors == ["GroundTruthUnavailable"] * 6  # one create, five describes, each retried
        assert env.events_of("Labeling Job Completed")


def test_a_round_that_fails_after_launch_stops_its_job_before_the_failure_is_reported() -> None:
    """DescribeLabelingJob refused for good (not a retryable error): Track fails, and the job it could no longer
    watch is stopped (it would keep billing) before `Labeling Job Failed` goes out."""
    from moto.core.exceptions import JsonRESTError

    def refused(backend: Any, params: dict[str, Any]) -> Any:
        raise JsonRESTError("AccessDeniedException", "not authorized to perform sagemaker:DescribeLabelingJob")

    with local_environment() as env:
        original = env.ground_truth.describe_labeling_job
        env.ground_truth.describe_labeling_job = refused  # type: ignore[method-assign]
        drop_sample_batch(env)
        (execution,) = env.wait_for_all_executions()
        assert execution["status"] == "FAILED"
        env.ground_truth.describe_labeling_job = original  # type: ignore[method-assign]
        (job,) = env.ground_truth.jobs.values()
        assert job.status in {"Stopping", "Stopped"}
        sfn = env.client("stepfunctions")
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        assert entered.index("StopRoundJob") < entered.index("NotifyFailure")
        assert env.events_of("Labeling Job Failed")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_given_as_masks_are_refused_by_preflight_without_decoding_them(bomb_png: Any) -> None:
    """Two small PNGs claiming 12,000 x 12,000 and 20,000 x 20,000 pixels as the masks of a 20 x 10 image: the
    first is refused for its size (its pixels never decoded), the second is one Pillow will not open; the batch is
    rejected with both rules, quickly, instead of a 1.6 GB decode or an uncaught DecompressionBombError."""
    import resource

    project = {
        "name": "scenes",
        "workflow": "semantic-segmentation-adjustment",
        "labels": ["road", "car"],
        "adjustment": {"format": "coco", "images_prefix": "images/scenes/"},
        "task": {"title": "Correct the masks", "description": "Fix them"},
        "workforce": {"workteam_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/fixers"},
    }
    color_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "road", "hex-color": "#5a5a5a"},
    }
    import io

    from PIL import Image

    with local_environment() as env:
        quietly(env)
        bucket = env.data_bucket
        env.s3.put_object(Bucket=bucket, Key="projects/scenes.yaml", Body=yaml.safe_dump(project).encode())
        image = io.BytesIO()
        Image.new("RGB", (20, 10)).save(image, format="PNG")
        lines = []
        for name, size in (("a", (12_000, 12_000)), ("b", (20_000, 20_000))):
            env.s3.put_object(Bucket=bucket, Key=f"images/scenes/{name}.png", Body=image.getvalue())
            env.s3.put_object(Bucket=bucket, Key=f"imported/scenes/{name}.png", Body=bomb_png(*size))
            lines.append(
                {
                    "source-ref": f"s3://{bucket}/images/scenes/{name}.png",
                    "imported-ref": f"s3://{bucket}/imported/scenes/{name}.png",
                    "imported-ref-metadata": {
                        "internal-color-map": color_map,
                        "type": "groundtruth/semantic-segmentation",
                    },
                }
            )
        manifest = "batches/scenes/scenes-b1/input.manifest"
        env.s3.put_object(Bucket=bucket, Key=manifest, Body="\n".join(json.dumps(x) for x in lines).encode())
        batch = {
            "batch_id": "scenes-b1",
            "project": "scenes",
            "workflow": "semantic-segmentation-adjustment",
            "bucket": bucket,
            "manifest_uri": f"s3://{bucket}/{manifest}",
            "item_count": 2,
        }
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        result = env.stack.invoke("PreflightFunction", {"batch": batch})
        assert time.monotonic() - started < 20
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB: no 1.6 GB decode
        assert result["passed"] is False
        rules = {finding["rule"] for finding in result["findings"]}
        assert {"mask-size", "mask-too-large"} <= rules
