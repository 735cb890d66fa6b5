"""3D point cloud detection in local mode: raw frames and a scene document dropped under incoming/<project>/ are
converted, labeled by the stand-in's emulated 3D task type, and exported as KITTI label files."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import yaml

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


def _project(name: str, workflow: str, **extra: Any) -> bytes:
    """The sample project's categories and workforce under another name and workflow."""
    document = yaml.safe_load((LIDAR / "project.yaml").read_text())
    document.update(name=name, workflow=workflow, **extra)
    return yaml.safe_dump(document).encode()


def test_an_earlier_jobs_output_manifest_becomes_an_adjustment_job() -> None:
    answers = json.loads((LIDAR / "answers.json").read_text())
    crowd = SimulatedWorkforce([SimulatedWorker.named("ada", accuracy=1.0)], answer_key=answers)
    with local_environment(workforce=crowd) as env:
        _drop_scene(env)
        earlier = _detail(env, "Labeling Job Completed")["output_manifest_uri"]
        # The reviewer leaves frame 000000 as it is and adds a pedestrian to 000001.
        del answers["000000.bin"]
        walker = {"label": "Pedestrian", "center": [8.0, -3.0, -0.9], "dimensions": [0.6, 0.6, 1.7], "yaw": 0.0}
        answers["000001.bin"]["cuboids"].append(walker)
        audit = {"mode": "adjustment", "label_attribute": "lidar"}
        pointcloud = yaml.safe_load((LIDAR / "project.yaml").read_text())["pointcloud"] | {"audit": audit}
        review = _project("lidar-review", "pointcloud-detection", pointcloud=pointcloud)
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/lidar-review.yaml", Body=review)
        unlabeled = {"source-ref": "s3://elsewhere/frame.bin", "source-ref-metadata": {"format": "binary/xyzi"}}
        body = _read(env, earlier) + b"{not json\n" + json.dumps(unlabeled).encode() + b"\n"
        for _ in range(2):  # S3 delivers at least once: the second delivery starts nothing
            env.s3.put_object(Bucket=env.data_bucket, Key="imports/lidar-review/output.manifest", Body=body)
        env.s3.put_object(Bucket=env.data_bucket, Key="incoming/lidar-review/000000.bin", Body=b"\0" * 16)
        env.s3.put_object(Bucket=env.data_bucket, Key="imports/lidar-review/notes.txt", Body=b"to do")
        env.s3.put_object(Bucket=env.data_bucket, Key="imports/lidar/output.manifest", Body=body)
        for execution in env.wait_for_all_executions(timeout=300):
            assert execution["status"] == "SUCCEEDED"

        imported = _detail(env, "Annotations Imported")
        assert (imported["format"], imported["images"], imported["shapes"]) == ("ground-truth-output", 2, 2)
        assert [(r["item"], r["rule"]) for r in imported["refusals"]] == [
            ("line 3", "invalid-line"),
            ("line 4", "unlabeled-line"),
        ]
        rejected = {e["detail"]["key"]: e["detail"] for e in env.events_of("Input Rejected")}
        assert {key: detail["rule"] for key, detail in rejected.items()} == {
            "incoming/lidar-review/000000.bin": "adjustment-project-incoming",
            "imports/lidar-review/notes.txt": "not-an-output-manifest",
            "imports/lidar/output.manifest": "not-an-adjustment-project",
        }
        assert "imports/lidar-review/" in rejected["incoming/lidar-review/000000.bin"]["message"]
        assert "pointcloud.audit" in rejected["imports/lidar/output.manifest"]["message"]
        started = [
            e["detail"] for e in env.events_of("Labeling Job Started") if e["detail"]["project"] == "lidar-review"
        ]
        assert [s["item_count"] for s in started] == [2]
        assert not [e for e in env.events_of("Point Clouds Prepared") if e["detail"]["project"] == "lidar-review"]
        (completed,) = [
            e["detail"] for e in env.events_of("Labeling Job Completed") if e["detail"]["project"] == "lidar-review"
        ]
        lines = [json.loads(x) for x in _read(env, completed["output_manifest_uri"]).decode().splitlines()]
        statuses = [line["lidar-review-metadata"]["adjustment-status"] for line in lines]
        assert statuses == ["unadjusted", "adjusted"]
        assert [len(line["lidar-review"]["annotations"]) for line in lines] == [1, 2]
        assert [len(line["lidar"]["annotations"]) for line in lines] == [1, 1]  # the earlier labels ride along
        labels = _read(env, completed["pointcloud"]["exports"]["kitti"] + "000001.txt").decode().splitlines()
        assert sorted(label.split()[0] for label in labels) == ["Car", "Pedestrian"]
        validate_events(env.events())


def _run_scene(env: LocalEnvironment, project: bytes, name: str) -> dict[str, Any]:
    env.s3.put_object(Bucket=env.data_bucket, Key=f"projects/{name}.yaml", Body=project)
    for path in sorted((LIDAR / "drive-0001").iterdir()):
        env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/{name}/drive-0001/{path.name}", Body=path.read_bytes())
    env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/{name}/_SEAL", Body=b"")
    for execution in env.wait_for_all_executions(timeout=300):
        assert execution["status"] == "SUCCEEDED"
    return _detail(env, "Labeling Job Completed")


def test_a_scene_becomes_a_sequence_and_its_tracks_follow_the_car() -> None:
    car = {"id": "car-1", "label": "Car", "dimensions": [4.0, 1.8, 1.5], "yaw": 0.0}
    centers = {"0": [12.0, 2.9, -0.95], "1": [13.5, 2.9, -0.95]}
    answers = {"drive-0001.json": {"objects": [car | {"centers": centers}]}}  # keyed by the sequence file
    crowd = SimulatedWorkforce([SimulatedWorker.named("ada", accuracy=1.0)], answer_key=answers)
    with local_environment(workforce=crowd) as env:
        completed = _run_scene(env, _project("tracks", "pointcloud-tracking"), "tracks")
        prepared = _detail(env, "Point Clouds Prepared")
        assert (prepared["sequences"], prepared["frames"]) == (1, 2)
        report = completed["pointcloud"]
        assert (report["task"], report["frames"], report["objects"], report["tracks"]) == ("tracking", 2, 2, 1)
        (line,) = [json.loads(x) for x in _read(env, completed["output_manifest_uri"]).decode().splitlines()]
        assert line["tracks-ref-metadata"]["type"] == "groundtruth/point_cloud_object_tracking"
        sequence = json.loads(_read(env, line["source-ref"]))
        assert sequence["number-of-frames"] == 2 and sequence["prefix"].endswith("/drive-0001/")
        assert [f["unix-timestamp"] for f in sequence["frames"]] == [1700000000.0, 1700000000.1]
        document = json.loads(_read(env, report["exports"]["tracks"] + "drive-0001.json"))
        (track,) = document["tracks"]
        assert (track["label"], track["first_frame"], track["last_frame"]) == ("Car", 0, 1)
        moved = track["boxes"][1]["center"][0] - track["boxes"][0]["center"][0]
        assert abs(moved - 1.5) < 0.1  # the car drove 1.5 m between the frames
        assert [box["timestamp"] for box in track["boxes"]] == [1700000000.0, 1700000000.1]

        # A verification pass over the sequence: the reviewer changes nothing.
        answers.clear()
        pointcloud = {"categories": {"labels": ["Car", "Pedestrian"]}}
        pointcloud["audit"] = {"mode": "verification", "label_attribute": "tracks-ref"}
        review = _project("tracks-review", "pointcloud-tracking", pointcloud=pointcloud)
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/tracks-review.yaml", Body=review)
        earlier = _read(env, completed["output_manifest_uri"])
        env.s3.put_object(Bucket=env.data_bucket, Key="imports/tracks-review/output.manifest", Body=earlier)
        for execution in env.wait_for_all_executions(timeout=300):
            assert execution["status"] == "SUCCEEDED"
        (verified,) = [
            e["detail"] for e in env.events_of("Labeling Job Completed") if e["detail"]["project"] == "tracks-review"
        ]
        assert (verified["pointcloud"]["audit"], verified["pointcloud"]["tracks"]) == ("verification", 1)
        (line,) = [json.loads(x) for x in _read(env, verified["output_manifest_uri"]).decode().splitlines()]
        assert line["tracks-review-ref-metadata"]["adjustment-status"] == "unadjusted"
        kept = json.loads(_read(env, verified["pointcloud"]["exports"]["tracks"] + "drive-0001.json"))
        assert kept["tracks"] == document["tracks"]
        validate_events(env.events())


def test_painted_points_come_back_as_one_class_index_per_point() -> None:
    region = {"label": "Car", "center": [12.0, 2.9, -0.95], "dimensions": [4.2, 2.0, 1.7], "yaw": 0.0}
    answers = {"000000.bin": {"regions": [region]}, "000001.bin": {"regions": []}}
    crowd = SimulatedWorkforce([SimulatedWorker.named("ada", accuracy=1.0)], answer_key=answers)
    categories = {"labels": ["Car", "Pedestrian"]}
    with local_environment(workforce=crowd) as env:
        project = _project("paint", "pointcloud-segmentation", pointcloud={"categories": categories})
        completed = _run_scene(env, project, "paint")
        report = completed["pointcloud"]
        assert (report["task"], report["frames"], report["not_labeled"]) == ("segmentation", 2, 0)
        lines = [json.loads(x) for x in _read(env, completed["output_manifest_uri"]).decode().splitlines()]
        assert [line["paint-ref-metadata"]["type"] for line in lines] == [
            "groundtruth/point_cloud_single_frame_semantic_segmentation"
        ] * 2
        frame = np.frombuffer(_read(env, lines[0]["source-ref"]), dtype="<f4").reshape(-1, 4)
        labels = np.frombuffer(_read(env, report["exports"]["segmentation"] + "000000.label"), dtype=np.uint8)
        assert len(labels) == len(frame)  # one class index per point, in point order
        inside = (np.abs(frame[:, 0] - 12.0) <= 2.1) & (np.abs(frame[:, 1] - 2.9) <= 1.0)
        inside &= np.abs(frame[:, 2] + 0.95) <= 0.85
        assert inside.any() and (labels[inside] == 1).all() and (labels[~inside] == 0).all()
        assert report["labeled_points"]["Car"] == int(inside.sum())
        assert report["labeled_points"]["Background"] == 2 * len(frame) - int(inside.sum())
        validate_events(env.events())
