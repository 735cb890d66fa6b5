"""Every file of events/ runs through its function in a seeded local stack, as `groundcrew invoke` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.sts.models import sts_backends

from groundcrew_local.environment import local_environment
from groundcrew_local.invoke import invoke_function, needs_labelstudio, seed_sample_world
from groundcrew_local.stack import LambdaInvokeError

pytestmark = pytest.mark.e2e
EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_BY_PREFIX = {
    "intake-": "intake",
    "flush-batches-": "flush_batches",
    "preflight-": "preflight",
    "prepare-job-": "prepare_job",
    "launch-job-": "launch_job",
    "track-job-": "track_job",
    "stop-job-": "stop_job",
    "collect-output-": "collect_output",
    "decide-round-": "decide_round",
    "finalize-batch-": "finalize_batch",
    "publish-outcome-": "publish_outcome",
    "pre-annotation-": "pre_annotation",
    "annotation-consolidation-": "annotation_consolidation",
    "plan-import-": "plan_import",
    "convert-import-batch-": "convert_import_batch",
    "finish-import-": "finish_import",
    "prepare-frames-": "prepare_frames",
    "launch-hits-": "launch_hits",
    "track-hits-": "track_hits",
    "clean-up-hits-": "clean_up_hits",
    "launch-labelstudio-": "launch_labelstudio",
    "track-labelstudio-": "track_labelstudio",
    "close-labelstudio-": "close_labelstudio",
}
EXPECTED_ERRORS = {"pre-annotation-missing-source-ref.json": "DataObjectError"}


def function_for(path: Path) -> str:
    return next(function for prefix, function in FUNCTION_BY_PREFIX.items() if path.name.startswith(prefix))


def test_every_function_has_a_sample_event() -> None:
    functions = {p.name for p in (EVENTS.parent / "functions").iterdir() if (p / "app.py").exists()}
    assert functions == {function_for(p) for p in EVENTS.glob("*.json")}


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.name)
def test_sample_event(path: Path, request: pytest.FixtureRequest) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    labelstudio = request.getfixturevalue("labelstudio_server") if needs_labelstudio(function_for(path)) else None
    with local_environment(labelstudio=labelstudio) as env:
        seed_sample_world(env)
        seeded = len(env.events())
        if path.name in EXPECTED_ERRORS:
            with pytest.raises(LambdaInvokeError) as raised:
                invoke_function(env, function_for(path), event)
            assert raised.value.error_type == EXPECTED_ERRORS[path.name]
            return
        result = invoke_function(env, function_for(path), event)
        executions = env.wait_for_all_executions()
        check_result(path.name, result, env.events()[seeded:], executions)


def check_result(name: str, result: Any, events: list[dict[str, Any]], executions: list[dict[str, Any]]) -> None:
    kinds = [e["detail-type"] for e in events]
    if name.startswith("intake-"):
        failures = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        assert failures == (["059f36b4-87a3-44ab-83d2-661975830009"] if name == "intake-malformed-record.json" else [])
    if name == "intake-duplicate-delivery.json":
        (received,) = [e["detail"] for e in events if e["detail-type"] == "Objects Received"]
        assert (received["received"], received["duplicates"]) == (1, 1)
    if name in {"intake-not-an-image.json", "intake-unknown-project.json"}:
        assert kinds == ["Input Rejected"]
    if name == "intake-seal-marker.json":
        assert "Batch Sealed" in kinds
        assert [e["status"] for e in executions] == ["SUCCEEDED"]
        assert "Labeling Job Completed" in kinds
    if name == "pre-annotation-source-ref.json":
        assert result["isHumanAnnotationRequired"] is True
        assert result["taskInput"]["labels"] == ["circle", "square", "triangle"]
    if name == "annotation-consolidation-request.json":
        assert len(result) == 10
        assert all(set(entry["consolidatedAnnotation"]["content"]) == {"shapes"} for entry in result)
        assert "Annotations Consolidated" in kinds
    if name == "preflight-batch.json":
        assert result["passed"] is True and result["lines"] == 12
    if name == "collect-output-completed.json":
        assert result["statistics"]["items"] == 12
    if name == "decide-round-completed.json":
        # the seeded job left three sample images split 1-1: they, and only they, go to round 2
        assert (result["done"], result["next_round"]["number"], result["next_round"]["item_count"]) == (False, 2, 3)
        assert kinds == ["Labeling Round Completed"]
    if name == "decide-round-failed-round.json":
        assert result["done"] is True and result["next_round"] is None
        failed = result["rounds"][-1]
        assert (failed["round"], failed["status"], failed["answers_bought"]) == (2, "ProjectNotFound in Prepare", 0)
    if name == "finalize-batch-completed.json":
        assert result["statistics"]["items"] == 12
        assert result["statistics"]["labeled"] + result["statistics"]["unresolved"] == 12
        assert "Training Data Exported" in kinds
    if name == "plan-import-coco.json":
        assert (result["items"], result["refused"]) == (4, 2)  # two 'tree' shapes: not one of the labels
    if name == "convert-import-batch-two-images.json":
        assert (result["converted"], result["refused"], result["part"].endswith("/parts/00000000.jsonl")) == (
            2,
            0,
            True,
        )
    if name == "finish-import-converted.json":
        assert (result["images"], result["refused"]) == (4, 2)
        assert kinds[0] == "Annotations Imported"
        assert [e["status"] for e in executions] == ["SUCCEEDED"]  # the started batch: a trial, then the rest
        assert "Trial Batch Checked" in kinds and "Labeling Job Completed" in kinds
    if name == "stop-job-failed-round.json":
        assert result["stopped"] is False and "Completed" in result["why"]
    if name == "launch-labelstudio-prepared.json":
        assert (result["tasks"], result["failed"]) == (12, 0)  # the seeded round's tasks, found again
    if name == "track-labelstudio-poll.json":
        assert (result["status"], result["counters"]["TotalLabeled"]) == ("Completed", 12)
        assert "Annotations Consolidated" in kinds
    if name == "close-labelstudio-done.json":
        assert result == {"closed": 1, "unstarted_tasks_deleted": 0, "problems": []}
    if name.startswith("publish-outcome-"):
        assert kinds == [result["detail_type"]]


def test_consolidation_reads_the_payload_with_the_job_role_when_configured() -> None:
    event = json.loads((EVENTS / "annotation-consolidation-request.json").read_text(encoding="utf-8"))
    with local_environment(parameters={"AssumeLabelingJobRole": "true"}) as env:
        seed_sample_world(env)
        function = env.stack.function_names["AnnotationConsolidationFunction"]
        variables = env.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        assert variables["ASSUME_LABELING_JOB_ROLE"] == "true"
        sessions = sts_backends[env.stack.account_id]["global"].assumed_roles
        before = len(sessions)  # the seeded sample job's own consolidation calls assumed it too
        result = invoke_function(env, "annotation_consolidation", event)
        assert len(result) == 10
        # The role named by the event was assumed (moto's STS backend keeps the sessions it issued).
        assert [(s.role_arn, s.session_name) for s in sessions[before:]] == [
            (event["roleArn"], "groundcrew-consolidation")
        ]
