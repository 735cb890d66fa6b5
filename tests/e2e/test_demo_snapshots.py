"""The four README demos give the same output manifests, exports and events as recorded (ids and times masked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.demo_snapshots import DEMOS, differences, record

pytestmark = pytest.mark.e2e

RECORDED = Path(__file__).parent / "fixtures" / "demo-snapshots.json"


def test_the_demos_give_what_was_recorded() -> None:
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    now = record()
    assert sorted(now) == sorted(f"{workflow}/{workforce}" for workflow, workforce in DEMOS)
    assert all(run["succeeded"] for run in now.values())
    assert differences(recorded, now) == []


def test_differences_name_each_field_that_changed() -> None:
    before = {"demo": {"events": [{"cost": 1.0}], "files": {"a": [1, 2]}}}
    after = {"demo": {"events": [{"cost": 1.5}], "files": {"a": [1], "b": 1}}}
    assert differences(before, after) == [
        "demo.events[0].cost: 1.0 before, 1.5 now",
        "demo.files.a: 2 entries before, 1 now",
        "demo.files.b: new",
    ]
