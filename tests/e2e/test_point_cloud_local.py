"""3D point cloud detection in local mode: raw frames and a scene document dropped under incoming/<project>/ are
converted, labeled by the stand-in's emulated 3D task type, and exported as KITTI label files."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from groundcrew_local.environment import SAMPLE_DATA, LocalEnvironment, local_environment
from groundcrew_local.schemas import validate_events
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

pytestmark = pytest.mark.e2e
LIDAR = SAMPLE_DATA / "lidar"


def _drop_scene(env: LocalEnvironment, frames: dict[str, bytes] | None = None) -> None:
    env.s3.put_object(Bucket=env.data_bucket, Key="projects/lidar.yaml", Body=(LIDAR / "project.yaml").read_bytes())
    files = {p.name: p.read_bytes() for p in sorted((LIDAR / "drive-0001").iterdir())} | (frames or {})
    for name, body in files.items():
        env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/lidar/drive-0001/{name}", Body=body)
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/lidar/_SEAL", Body=b"")
    for execution in env.wait_for_all_executions(timeout=300):
        assert execution["status"] == "SUCCEEDED"


def _read(env: LocalEnvironment, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _detail(env: LocalEnvironment, detail_type: str) -> dict[str, Any]:
    (event,) = env.events_of(detail_type)
    return dict(event["detail"])


def test_lidar_frames_become_cuboids_and_kitti_labels() -> None:
    answers = json.loads((LIDAR / "answers.json").read_text())
    crowd = SimulatedWorkforce([SimulatedWorker.named("ada", accuracy=1.0)], answer_key=answers)
    truncated = (LIDAR / "drive-0001" / "000000.bin").read_bytes()[:-6]
    with local_environment(workforce=crowd) as env:
        _drop_scene(env, {"000002.bin": truncated})
        prepared = _detail(env, "Point Clouds Prepared")
        assert (prepared["frames"], prepared["points"], prepared["dropped_points"]) == (2, 3790, 10)
        (refusal,) = prepared["refusals"]
        assert (refusal["item"], refusal["rule"]) == ("incoming/lidar/drive-0001/000002.bin", "truncated-binary")
        started = _detail(env, "Labeling Job Started")
        assert (started["item_count"], started["workers_per_object"]) == (2, 1)
        completed = _detail(env, "Labeling Job Completed")
        report = completed["pointcloud"]
        assert (report["task"], report["frames"], report["objects"], report["not_labeled"]) == ("detection", 2, 2, 0)
        lines = [json.loads(x) for x in _read(env, completed["output_manifest_uri"]).decode().splitlines()]
        assert [line["lidar-metadata"]["type"] for line in lines] == ["groundtruth/point_cloud_object_detection"] * 2
        frame = np.frombuffer(_read(env, lines[0]["source-ref"]), dtype="<f4").reshape(-1, 4)
        assert len(frame) == 1895 and np.isfinite(frame).all()
        kitti = _read(env, report["exports"]["kitti"] + "000000.txt").decode().split()
        # KITTI axes without a camera: x = -y_lidar, y = -z_lidar + h/2 (bottom centre), z = x_lidar
        assert kitti[0] == "Car" and [float(v) for v in kitti[8:11]] == [1.5, 1.8, 4.0]
        assert abs(float(kitti[11]) + 2.9) < 0.1 and abs(float(kitti[12]) - 1.7) < 0.1
        assert abs(float(kitti[13]) - 12.0) < 0.1  # workers place boxes within a few cm
        validate_events(env.events())


def test_a_scene_without_its_scene_document_is_refused_with_the_fix() -> None:
    with local_environment() as env:
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/lidar.yaml", Body=(LIDAR / "project.yaml").read_bytes())
        body = (LIDAR / "drive-0001" / "000000.bin").read_bytes()
        env.s3.put_object(Bucket=env.data_bucket, Key="incoming/lidar/drive-0009/000000.bin", Body=body)
        env.s3.put_object(Bucket=env.data_bucket, Key="incoming/lidar/_SEAL", Body=b"")
        for execution in env.wait_for_all_executions(timeout=300):
            assert execution["status"] == "FAILED"
        (refusal,) = _detail(env, "Point Clouds Prepared")["refusals"]
        assert refusal["rule"] == "no-scene-document" and "scene.json" in refusal["message"]
        failed = _detail(env, "Labeling Job Failed")
        assert failed["stage"] == "PrepareFrames" and "no frame" in failed["reason"]
        validate_events(env.events())
