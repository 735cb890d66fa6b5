"""State machine steps: failure and completion events, tracking a job, collecting its output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import orjson
import pytest
from botocore.stub import Stubber

from groundcrew.core.events import (
    EventDetail,
    EventPublisher,
    JobStatistics,
    LabelCounters,
    LabelingJobCompleted,
    LabelingJobFailed,
    LabelingJobProgress,
    PreflightFinding,
)
from groundcrew.core.records import BatchRef, ExecutionState, PreparedJob
from groundcrew.steps.collect import collect_output
from groundcrew.steps.preflight import run_preflight
from groundcrew.steps.publish import completed_event, failed_event
from groundcrew.steps.track import track_job
from groundcrew.workforces.ground_truth.jobs import GroundTruthThrottled, LabelingJobDeadlineExceeded

BUCKET = "groundcrew-data"
BATCH_ID = "shapes-20240506t070809-a1b2c3"
JOB = f"gc-{BATCH_ID}-r1"
JOB_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB}"
MANIFEST = f"s3://{BUCKET}/batches/shapes/{BATCH_ID}/input.manifest"
OUTPUT = f"s3://{BUCKET}/labeling-jobs/{JOB}/manifests/output/output.manifest"
BATCH = {"batch_id": BATCH_ID, "project": "shapes", "bucket": BUCKET, "manifest_uri": MANIFEST, "item_count": 3}
DEADLINE = 1_700_000_000


class FakePublisher(EventPublisher):
    """Keeps what would have been put on the bus."""

    def __init__(self) -> None:
        self.published: list[EventDetail] = []

    def publish(self, *details: EventDetail, resources: Any = ()) -> None:
        self.published.extend(details)


def prepared_job() -> PreparedJob:
    return PreparedJob(name=JOB, request={}, label_attribute_name="shapes", deadline=DEADLINE, poll_seconds=60)


def described(status: str, labeled: int = 0, unlabeled: int = 3, output: str | None = None) -> dict[str, Any]:
    now = datetime(2024, 5, 6, tzinfo=UTC)
    response: dict[str, Any] = {
        "LabelingJobStatus": status,
        "LabelCounters": {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 0,
            "Unlabeled": unlabeled,
        },
        "CreationTime": now,
        "LastModifiedTime": now,
        "JobReferenceCode": "ref",
        "LabelingJobName": JOB,
        "LabelingJobArn": JOB_ARN,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": MANIFEST}}},
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/labeling-jobs/"},
        "RoleArn": "arn:aws:iam::123456789012:role/gt",
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
            "UiConfig": {"UiTemplateS3Uri": f"s3://{BUCKET}/ui.html"},
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
        },
    }
    if output:
        response["LabelingJobOutput"] = {"OutputDatasetS3Uri": output}
    return response


def track(
    responses: list[tuple[str, dict[str, Any]]], previous: dict[str, Any] | None, now: float = DEADLINE - 1
) -> tuple[dict[str, Any], list[EventDetail]]:
    client = boto3.client("sagemaker", region_name="us-east-1")
    publisher = FakePublisher()
    with Stubber(client) as stub:
        for operation, response in responses:
            stub.add_response(operation, response, expected_params={"LabelingJobName": JOB})
        try:
            result = track_job(client, publisher, BatchRef.model_validate(BATCH), prepared_job(), previous, now=now)
        finally:
            stub.assert_no_pending_responses()
    return result, publisher.published


# -- failed_event / completed_event -----------------------------------------------------------------------------
def test_failed_event_reads_the_error_message_of_a_lambda_cause() -> None:
    cause = json.dumps(
        {
            "errorMessage": f"s3://{BUCKET}/projects/shapes.yaml",
            "errorType": "ProjectNotFound",
            "requestId": "r",
            "stackTrace": ['  File "/var/task/app.py", line 1'],
        }
    )
    state = {"batch": BATCH, "failed_stage": "Prepare", "error": {"Error": "ProjectNotFound", "Cause": cause}}

    assert failed_event(ExecutionState.model_validate(state)) == LabelingJobFailed(
        project="shapes",
        batch_id=BATCH_ID,
        stage="Prepare",
        labeling_job_name=None,
        error="ProjectNotFound",
        reason=f"s3://{BUCKET}/projects/shapes.yaml",
        findings=[],
    )


def test_failed_event_keeps_a_plain_text_cause_and_names_the_job() -> None:
    state = {
        "batch": BATCH,
        "failed_stage": "Track",
        "job": {"name": JOB},
        "error": {"Error": "States.Timeout", "Cause": "The task timed out after 3600 seconds."},
    }

    event = failed_event(ExecutionState.model_validate(state))

    assert (event.stage, event.labeling_job_name, event.error) == ("Track", JOB, "States.Timeout")
    assert event.reason == "The task timed out after 3600 seconds."


def test_failed_event_without_cause_or_stage_still_says_something() -> None:
    event = failed_event(ExecutionState.model_validate({"batch": BATCH, "error": {"Error": "States.Runtime"}}))
    assert (event.stage, event.error, event.reason) == ("Unknown", "States.Runtime", "States.Runtime")


def test_failed_event_for_json_cause_without_error_message_keeps_the_text() -> None:
    cause = '{"Code": "ValidationException"}'
    state = {"batch": BATCH, "failed_stage": "Launch", "error": {"Error": "X", "Cause": cause}}
    event = failed_event(ExecutionState.model_validate(state))
    assert event.reason == cause


def test_failed_event_lists_the_preflight_errors_and_not_the_warnings(s3: Any, data_bucket: str) -> None:
    # GIVEN a manifest with a duplicate (warning), a missing object and a GIF (errors), checked by the Preflight step
    s3.put_object(Bucket=BUCKET, Key="incoming/shapes/a.png", Body=b"\x89PNG\r\n\x1a\n")
    lines = [f"s3://{BUCKET}/incoming/shapes/{name}" for name in ["a.png", "a.png", "gone.png", "b.gif"]]
    s3.put_object(
        Bucket=BUCKET,
        Key=MANIFEST.split("/", 3)[3],
        Body=b"".join(orjson.dumps({"source-ref": ref}) + b"\n" for ref in lines),
    )
    report = run_preflight(s3, BatchRef.model_validate(BATCH))
    assert (report["passed"], report["lines"], report["errors"]) == (False, 4, 2)

    # WHEN the state machine's Catch turns it into the failure event
    event = failed_event(
        ExecutionState.model_validate(
            {
                "batch": BATCH,
                "failed_stage": "Preflight",
                "preflight": report,
                "error": {"Error": "PreflightFailed", "Cause": "preflight failed"},
            }
        )
    )

    # THEN the event names the manifest, the first error and lists every error
    assert event.findings == [
        PreflightFinding(
            line=4, rule="image-format", message=f"s3://{BUCKET}/incoming/shapes/b.gif is not a JPEG or PNG file name"
        ),
        PreflightFinding(
            line=3,
            rule="object-missing",
            message=f"s3://{BUCKET}/incoming/shapes/gone.png does not exist or is not readable",
        ),
    ]
    assert event.reason == (
        f"preflight found 2 error(s) in {MANIFEST}; first: line 4: s3://{BUCKET}/incoming/shapes/b.gif "
        "is not a JPEG or PNG file name"
    )
    assert (event.stage, event.error) == ("Preflight", "PreflightFailed")


def test_completed_event_comes_from_the_finalize_step() -> None:
    statistics: dict[str, Any] = {
        "items": 3,
        "labeled": 2,
        "unresolved": 1,
        "failed": 0,
        "mean_agreement": 0.8333,
        "unanimous": 1,
        "answers": 9,
        "mean_seconds_per_item": 12.5,
        "workers": 3,
        "ties": 1,
        "rounds": 2,
    }
    rounds = [
        {
            "round": n,
            "labeling_job_name": f"gc-{BATCH_ID}-r{n}",
            "status": "Completed",
            "items": items,
            "gold_items": 0,
            "answers_bought": answers,
            "spend_usd": None,
            "resolved": resolved,
        }
        for n, items, answers, resolved in [(1, 3, 6, 1), (2, 2, 2, 2)]
    ]
    final = {
        "output_manifest_uri": OUTPUT,
        "labeling_job_names": [JOB, f"gc-{BATCH_ID}-r2"],
        "statistics": statistics,
        "consensus": {"policy": "adaptive", "method": "majority", "rounds": rounds, "ties": 1},
        "cost": {
            "price_per_task_usd": None,
            "answers_bought": 8,
            "gold_answers_bought": 0,
            "answers_per_item": 2.6667,
            "spend_usd": None,
        },
        "workers": [],
        "flagged_workers": 0,
        "export": None,
    }

    event = completed_event(
        ExecutionState.model_validate({"batch": BATCH, "job": {"name": f"gc-{BATCH_ID}-r2"}, "final": final})
    )

    assert isinstance(event, LabelingJobCompleted)
    assert event.labeling_job_name == f"gc-{BATCH_ID}-r2"
    assert event.labeling_job_names == [JOB, f"gc-{BATCH_ID}-r2"]
    assert event.statistics == JobStatistics(**statistics)
    assert [r.answers_bought for r in event.consensus.rounds] == [6, 2]
    assert event.model_dump(mode="json")["cost"]["answers_per_item"] == 2.6667


# -- track_job --------------------------------------------------------------------------------------------------
def test_first_poll_publishes_progress_and_returns_the_state() -> None:
    result, published = track([("describe_labeling_job", described("InProgress", labeled=1, unlabeled=2))], None)

    assert result == {
        "status": "InProgress",
        "counters": {
            "TotalLabeled": 1,
            "HumanLabeled": 1,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 0,
            "Unlabeled": 2,
        },
        "failure_reason": None,
        "output_manifest_uri": None,
    }
    assert published == [
        LabelingJobProgress(
            project="shapes",
            batch_id=BATCH_ID,
            labeling_job_name=JOB,
            status="InProgress",
            label_counters=LabelCounters(TotalLabeled=1, HumanLabeled=1, Unlabeled=2),
        )
    ]


def test_unchanged_poll_publishes_nothing() -> None:
    previous, _ = track([("describe_labeling_job", described("InProgress", labeled=1, unlabeled=2))], None)
    _, published = track([("describe_labeling_job", described("InProgress", labeled=1, unlabeled=2))], previous)
    assert published == []


def test_moved_counters_are_published() -> None:
    previous, _ = track([("describe_labeling_job", described("InProgress", labeled=1, unlabeled=2))], None)
    _, published = track([("describe_labeling_job", described("InProgress", labeled=2, unlabeled=1))], previous)
    assert [p.label_counters.TotalLabeled for p in published] == [2]  # type: ignore[attr-defined]


def test_status_change_alone_is_published() -> None:
    previous, _ = track([("describe_labeling_job", described("Initializing"))], None)
    _, published = track([("describe_labeling_job", described("InProgress"))], previous)
    assert [p.status for p in published] == ["InProgress"]  # type: ignore[attr-defined]


def test_terminal_status_returns_the_output_without_a_progress_event() -> None:
    previous, _ = track([("describe_labeling_job", described("InProgress", labeled=2, unlabeled=1))], None)
    result, published = track(
        [("describe_labeling_job", described("Completed", labeled=3, unlabeled=0, output=OUTPUT))],
        previous,
        now=DEADLINE + 10,  # past the deadline, but finished: nothing to stop
    )
    assert published == []
    assert (result["status"], result["output_manifest_uri"]) == ("Completed", OUTPUT)


def test_job_past_its_deadline_is_stopped_then_fails_the_step() -> None:
    with pytest.raises(LabelingJobDeadlineExceeded) as info:
        track(
            [("describe_labeling_job", described("InProgress")), ("stop_labeling_job", {})],
            {"status": "InProgress", "counters": LabelCounters(Unlabeled=3).model_dump()},
            now=DEADLINE + 1,
        )
    assert str(info.value) == f"labeling job {JOB} was still InProgress at its deadline; it has been stopped"


def test_throttled_describe_is_retryable() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("describe_labeling_job", service_error_code="ThrottlingException")
        with pytest.raises(GroundTruthThrottled, match=JOB):
            track_job(client, FakePublisher(), BatchRef.model_validate(BATCH), prepared_job(), None)


# -- collect_output ---------------------------------------------------------------------------------------------
def label(status: str, label_value: str | None, workers: list[str]) -> dict[str, Any]:
    return {
        "label": label_value,
        "status": status,
        "confidence": 1.0 if label_value else 0.0,
        "votes": {label_value: len(workers)} if label_value else {},
        "answers": [{"worker_id": w, "label": label_value} for w in workers],
    }


def put_output(s3: Any, lines: list[dict[str, Any]]) -> None:
    s3.put_object(
        Bucket=BUCKET, Key=OUTPUT.split("/", 3)[3], Body=b"".join(orjson.dumps(line) + b"\n" for line in lines)
    )


def test_collect_output_summarizes_labels_and_worker_time(s3: Any, data_bucket: str) -> None:
    put_output(
        s3,
        [
            {"source-ref": "s3://d/a.png", "shapes": label("consolidated", "circle", ["w1", "w2"])},
            {"source-ref": "s3://d/b.png", "shapes": label("tie", None, ["w3"])},
        ],
    )
    folder = f"labeling-jobs/{JOB}/annotations/worker-response/iteration-1"
    for object_id, seconds in [("0", [2.0, 3.0]), ("1", [5.0])]:
        body = {"answers": [{"workerId": "w", "timeSpentInSeconds": s} for s in seconds]}
        s3.put_object(Bucket=BUCKET, Key=f"{folder}/{object_id}/2024-05-06_07:08:09.json", Body=json.dumps(body))

    collected = collect_output(s3, BatchRef.model_validate(BATCH), prepared_job(), OUTPUT)

    assert collected == {
        "output_manifest_uri": OUTPUT,
        "statistics": {
            "items": 2,
            "labeled": 1,
            "unresolved": 1,
            "failed": 0,
            "mean_agreement": 1.0,
            "unanimous": 1,
            "answers": 3,
            "mean_seconds_per_item": 5.0,
            "workers": 3,
            "ties": 0,
            "rounds": 1,
        },
    }
