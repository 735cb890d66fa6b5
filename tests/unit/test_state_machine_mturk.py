"""The labeling state machine sends Mechanical Turk jobs (workforce mturk) to the HIT steps, the others as before.

The ASL file is read as deployed; Choice states are evaluated by a small interpreter of the rules the file uses, so
the tests follow the same paths an execution takes.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
ASL = REPO / "statemachine" / "labeling_pipeline.asl.json"
STATES: dict[str, Any] = json.loads(ASL.read_text(encoding="utf-8"))["States"]
TEMPLATE: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(REPO / "template.yaml"))))
MISSING = object()
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
}
HIT_STEPS = {
    "LaunchHits": ("LaunchHitsFunction", "launch_hits"),
    "TrackHits": ("TrackHitsFunction", "track_hits"),
    "CleanUpHits": ("CleanUpHitsFunction", "clean_up_hits"),
    "CleanUpHitsAfterFailure": ("CleanUpHitsFunction", "clean_up_hits"),
}


def resource(logical_id: str) -> dict[str, Any]:
    """A resource's Properties in template.yaml, as plain data."""
    properties: dict[str, Any] = TEMPLATE["Resources"][logical_id]["Properties"]
    return properties


def value_at(document: Any, path: str) -> Any:
    """A `$.a.b` reference path; MISSING where a field is absent."""
    for part in path.removeprefix("$").split(".")[1:]:
        if not isinstance(document, dict) or part not in document:
            return MISSING
        document = document[part]
    return document


def holds(rule: dict[str, Any], document: Any) -> bool:
    """One Choice rule. And/Or stop at the first deciding operand, so IsPresent guards the paths after it."""
    if "And" in rule:
        return all(holds(r, document) for r in rule["And"])
    if "Or" in rule:
        return any(holds(r, document) for r in rule["Or"])
    if "Not" in rule:
        return not holds(rule["Not"], document)
    value = value_at(document, rule["Variable"])
    if "IsPresent" in rule:
        return (value is not MISSING) is rule["IsPresent"]
    if value is MISSING:  # Step Functions fails the execution (States.Runtime) on a missing path
        raise LookupError(f"{rule['Variable']} is missing")
    for operator, test in {
        "StringEquals": lambda v, x: isinstance(v, str) and v == x,
        "StringMatches": lambda v, x: isinstance(v, str) and fnmatch.fnmatchcase(v, x),
        "BooleanEquals": lambda v, x: v is x,
        "NumericEquals": lambda v, x: isinstance(v, int | float) and v == x,
        "IsString": lambda v, x: isinstance(v, str) is x,
    }.items():
        if operator in rule:
            return bool(test(value, rule[operator]))
    raise NotImplementedError(f"rule {rule}")


def choose(name: str, document: Any) -> str:
    state = STATES[name]
    assert state["Type"] == "Choice"
    return next((c["Next"] for c in state["Choices"] if holds(c, document)), state["Default"])


def walk(start: str, stop: str, document: dict[str, Any]) -> list[str]:
    """The states an execution passes from `start` to `stop` when every Task succeeds (results as in `document`)."""
    path, name = [start], start
    while name != stop:
        state = STATES[name]
        name = choose(name, document) if state["Type"] == "Choice" else state["Next"]
        path.append(name)
        assert len(path) < 50, f"no way from {start} to {stop}: {path}"
    return path


def state_with(workforce: str | None, **more: Any) -> dict[str, Any]:
    """The execution's state; `workforce` None: the batch failed before Prepare, so there is no $.job."""
    state: dict[str, Any] = {
        "batch": {"batch_id": "shapes-1", "workflow": "image-classification", "audit_source": None}
    }
    if workforce is not None:
        state["job"] = {"name": "gc-shapes-1-r1", "workforce": workforce, "poll_seconds": 10}
    return {**state, **more}


def finished_round(workforce: str) -> dict[str, Any]:
    return state_with(
        workforce,
        tracking={"status": "Completed", "counters": {"TotalLabeled": 12}},
        consensus={"done": True},
    )


def test_a_ground_truth_round_runs_as_before() -> None:
    assert walk("Prepare", "Finalize", finished_round("groundtruth")) == [
        "Prepare", "Launcher", "Launch", "WaitForProgress", "Tracker", "Track", "JobStatus", "Collect", "Decide",
        "MoreRounds", "HitsToCleanUp", "Finalize",
    ]  # fmt: skip


def test_a_mechanical_turk_round_posts_tracks_and_cleans_up_its_hits() -> None:
    assert walk("Prepare", "Finalize", finished_round("mturk")) == [
        "Prepare", "Launcher", "LaunchHits", "WaitForProgress", "Tracker", "TrackHits", "JobStatus", "Collect",
        "Decide", "MoreRounds", "HitsToCleanUp", "CleanUpHits", "Finalize",
    ]  # fmt: skip


@pytest.mark.parametrize(("workforce", "tracker"), [("groundtruth", "Track"), ("mturk", "TrackHits")])
def test_a_running_round_is_polled_by_its_workforce_tracker(workforce: str, tracker: str) -> None:
    running = state_with(workforce, tracking={"status": "InProgress", "counters": {"TotalLabeled": 3}})
    assert walk("JobStatus", tracker, running) == ["JobStatus", "WaitForProgress", "Tracker", tracker]


@pytest.mark.parametrize("workforce", ["groundtruth", "mturk"])
def test_a_follow_up_round_goes_back_to_prepare_without_cleaning_up(workforce: str) -> None:
    document = {**finished_round(workforce), "consensus": {"done": False}}
    assert walk("MoreRounds", "Prepare", document) == ["MoreRounds", "Prepare"]


def test_hit_steps_are_lambda_tasks_with_the_usual_results() -> None:
    launch, track = STATES["LaunchHits"], STATES["TrackHits"]
    assert (launch["Resource"], launch["ResultPath"], launch["Next"]) == (
        "${LaunchHitsFunctionArn}",
        "$.launch",
        "WaitForProgress",
    )
    assert (track["Resource"], track["ResultPath"], track["Next"]) == (
        "${TrackHitsFunctionArn}",
        "$.tracking",
        "JobStatus",
    )
    assert launch["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "LaunchFailed"}]
    assert track["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TrackFailed"}]


@pytest.mark.parametrize("name", sorted(HIT_STEPS))
def test_hit_steps_retry_only_lambda_service_errors(name: str) -> None:
    # A short balance (InsufficientBalance) or a refused HIT would fail the same way again: straight to the Catch.
    (retry,) = STATES[name]["Retry"]
    assert set(retry["ErrorEquals"]) == LAMBDA_ERRORS
    assert retry["MaxAttempts"] <= 4


def test_a_failed_clean_up_still_finalizes_the_labels() -> None:
    clean_up = STATES["CleanUpHits"]
    assert (clean_up["Resource"], clean_up["ResultPath"], clean_up["Next"]) == (
        "${CleanUpHitsFunctionArn}",
        "$.cleanup",
        "Finalize",
    )
    # Its own ResultPath: a clean-up failure is kept beside the state, not taken for the batch's error ($.error).
    assert clean_up["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "Finalize"}]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (state_with(None), "NotifyFailure"),  # failed in Preflight: no job, no HITs
        (state_with("groundtruth"), "NotifyFailure"),
        (state_with("mturk"), "CleanUpHitsAfterFailure"),
        (state_with("mturk", cleanup={"expired": 15, "deleted": 15, "kept": []}), "NotifyFailure"),  # done already
        (state_with("mturk", cleanup_error={"Error": "Lambda.Unknown"}), "CleanUpHitsAfterFailure"),  # try again
        (state_with("labelstudio"), "CloseLabelStudioAfterFailure"),
        (state_with("labelstudio", cleanup={"closed": 1}), "NotifyFailure"),
    ],
    ids=[
        "before-prepare",
        "groundtruth",
        "mturk",
        "mturk-cleaned-up",
        "mturk-clean-up-failed",
        "labelstudio",
        "labelstudio-closed",
    ],
)
def test_failed_batches_retire_their_hits_once(document: dict[str, Any], expected: str) -> None:
    assert choose("FailedHitsToCleanUp", document) == expected


def test_every_failure_passes_the_hit_clean_up_before_notifying() -> None:
    into_notify = sorted(
        name
        for name, state in STATES.items()
        if "NotifyFailure" in {state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Catch", []))}
    )
    assert into_notify == ["CleanUpHitsAfterFailure", "CloseLabelStudioAfterFailure", "FailedHitsToCleanUp"]
    after = STATES["CleanUpHitsAfterFailure"]
    assert (after["Resource"], after["ResultPath"], after["Next"]) == (
        "${CleanUpHitsFunctionArn}",
        "$.cleanup",
        "NotifyFailure",
    )
    assert after["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "NotifyFailure"}]
    for failed in ("PreflightFailed", "PrepareFramesFailed", "DecideFailed", "FinalizeFailed", "PublishFailed"):
        assert STATES[failed]["Next"] == "FailedHitsToCleanUp"
    assert STATES["RoundOrBatchFailed"]["Default"] == "FailedHitsToCleanUp"


def test_every_state_is_reachable() -> None:
    seen, todo = set[str](), ["Inputs"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = STATES[name]
        todo += [t for t in (state.get("Next"), state.get("Default")) if t]
        todo += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    assert seen == set(STATES)


def test_the_template_wires_the_hit_steps() -> None:
    machine = resource("LabelingStateMachine")
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL.read_text(encoding="utf-8")))
    assert placeholders <= set(machine["DefinitionSubstitutions"])
    invokable = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in machine["Policies"] if "LambdaInvokePolicy" in p
    }
    for state, (logical_id, folder) in HIT_STEPS.items():
        placeholder = STATES[state]["Resource"][2:-1]
        assert machine["DefinitionSubstitutions"][placeholder] == {"Fn::GetAtt": [logical_id, "Arn"]}
        assert logical_id in invokable
        function = resource(logical_id)
        assert function["CodeUri"] == f"functions/{folder}"
        assert function["Environment"]["Variables"]["MTURK_ENVIRONMENT"] == {"Ref": "MTurkEnvironment"}
        assert (REPO / "functions" / folder / "app.py").is_file()


def test_mechanical_turk_permissions_use_the_iam_prefix_on_every_resource() -> None:
    # The SDK calls the service mturk; IAM calls it mechanicalturk, and it has no resource types.
    for logical_id, _ in set(HIT_STEPS.values()):
        statements = resource(logical_id)["Policies"][0]["Statement"]
        actions = [(s, s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) for s in statements]
        turk = [(s, a) for s, a in actions if any(x.split(":")[0] in {"mturk", "mechanicalturk"} for x in a)]
        assert len(turk) == 1 and turk[0][0]["Resource"] == "*"
        assert all(action.startswith("mechanicalturk:") for action in turk[0][1])
