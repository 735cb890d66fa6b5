"""`groundcrew demo --workflow pointcloud`: the lidar sample boxed with cuboids, KITTI labels in the run folder."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from groundcrew_local.demo import pointcloud_summary, run_demo, sample_for, timeline
from groundcrew_local.schemas import validate_events


@pytest.mark.e2e
def test_the_pointcloud_demo_prepares_the_frames_and_copies_kitti_labels(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path, out, workflow="pointcloud")
    text = out.getvalue()
    assert result.succeeded, text
    assert result.run_dir.parent == tmp_path
    for expected in [
        "files under s3://",  # the scene folder, frames and scene.json together
        "frames prepared         2 frames, 3790 points (10 NaN or infinite points dropped), 0 refused",
        "(round 1: 2 items x 1 workers)",
        "cuboids labeled       2 cuboids in 2 frames (0 returned without a label)",
        "  by class            Car 2",
        "refused               none",
        "workers per frame     1 ",
        "/output/kitti/label_2/",
        f"copied to {result.run_dir / 'kitti'}/: 000000.txt, 000001.txt",
    ]:
        assert expected in text, f"demo output lacks {expected!r}:\n{text}"
    assert "drive-0001/" in text.splitlines()[2]

    kitti = (result.run_dir / "kitti" / "000000.txt").read_text().split()
    assert kitti[0] == "Car" and [float(v) for v in kitti[8:11]] == [1.5, 1.8, 4.0]  # h, w, l of the answer key
    assert (result.run_dir / "kitti" / "000001.txt").read_text().startswith("Car ")
    output = [json.loads(line) for line in (result.run_dir / "output.manifest").read_text().splitlines()]
    assert [line["lidar-metadata"]["type"] for line in output] == ["groundtruth/point_cloud_object_detection"] * 2
    frames = [json.loads(line) for line in (result.run_dir / "frames.manifest").read_text().splitlines()]
    assert [line["source-ref"].rsplit("/", 1)[-1] for line in frames] == ["000000.bin", "000001.bin"]
    events = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    validate_events(events)
    (started,) = [e["detail"] for e in events if e["detail-type"] == "Labeling Job Started"]
    assert started["workers_per_object"] == 1


def test_the_pointcloud_sample_is_one_scene_answered_by_one_worker() -> None:
    sample = sample_for("pointcloud")
    assert (sample.project, sample.scene) == ("lidar", "drive-0001")
    assert sorted(p.name for p in sample.images) == ["000000.bin", "000001.bin", "scene.json"]
    assert len(sample.workforce().workers) == 1
    with pytest.raises(ValueError, match="pointcloud"):
        sample_for("pointcloud-tracking")


def _prepared(**changes: Any) -> dict[str, Any]:
    detail = {
        "project": "lidar",
        "batch_id": "lidar-1",
        "frames": 2,
        "sequences": 0,
        "points": 3790,
        "dropped_points": 10,
        "refused": 1,
        "refusals": [
            {
                "scene": "drive-0001",
                "item": "incoming/lidar/drive-0001/000002.bin",
                "rule": "truncated-binary",
                "message": "30394 bytes is not a whole number of 16-byte points",
            }
        ],
        "warnings": [],
        "manifest_uri": "s3://data/batches/lidar/lidar-1/frames.manifest",
    }
    return detail | changes


def _completed(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "labeling_job_names": ["gc-lidar-1-r1"],
        "output_manifest_uri": "s3://data/batches/lidar/lidar-1/output/output.manifest",
        "statistics": {"items": 2, "labeled": 2, "rounds": 1},
        "cost": {"answers_bought": 2},
        "pointcloud": {
            "task": "detection",
            "audit": None,
            "frames": 2,
            "objects": 3,
            "tracks": 0,
            "labeled_points": {},
            "not_labeled": 0,
            "exports": {"kitti": "s3://data/batches/lidar/lidar-1/output/kitti/label_2/"},
            "problems": [],
        }
        | report,
    }


def test_refusals_are_named_in_the_timeline_and_the_summary(tmp_path: Path) -> None:
    prepared = _prepared()
    lines = timeline([{"detail-type": "Point Clouds Prepared", "detail": prepared}])
    assert lines[0].endswith("2 frames, 3790 points (10 NaN or infinite points dropped), 1 refused")
    assert lines[1].strip() == (
        "incoming/lidar/drive-0001/000002.bin: [truncated-binary] 30394 bytes is not a whole number of 16-byte points"
    )
    assert lines[2].startswith("frame manifest written") and lines[2].endswith("frames.manifest")

    (tmp_path / "kitti").mkdir()
    (tmp_path / "kitti" / "000000.txt").write_text(
        "Car 0 0 0 0 0 0 0 1.5 1.8 4 0 0 12 0\nPedestrian 0 0 0 0 0 0 0 1.7 1 1 0 0 5 0\n"
    )
    (tmp_path / "kitti" / "000001.txt").write_text("Car 0 0 0 0 0 0 0 1.5 1.8 4 0 0 13 0\n")
    summary = pointcloud_summary(prepared, _completed({}), tmp_path)
    text = "\n".join(summary)
    assert "refused               1\n" in text
    assert "incoming/lidar/drive-0001/000002.bin: [truncated-binary]" in text
    assert "cuboids labeled       3 cuboids in 2 frames (0 returned without a label)" in text
    assert "  by class            Car 2, Pedestrian 1" in text
    assert f"copied to {tmp_path / 'kitti'}/: 000000.txt, 000001.txt" in text


def test_more_refusals_than_the_event_lists_are_counted() -> None:
    lines = timeline([{"detail-type": "Point Clouds Prepared", "detail": _prepared(refused=60)}])
    assert lines[2].strip() == "and 59 more (see the event)"
