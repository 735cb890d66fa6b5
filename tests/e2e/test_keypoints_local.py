"""The keypoint workflow in local mode: the skeleton template, several workers per image, checks, adjustment."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from groundcrew_local.demo import run_demo
from groundcrew_local.environment import pose_answer_key
from groundcrew_local.schemas import validate_events

pytestmark = pytest.mark.e2e
SKELSTACK_FIELDS = {
    "dataset_object_id",
    "data_object_s3_uri",
    "image_file_name",
    "image_s3_location",
    "original_annotations",
    "updated_annotations",
    "worker_id",
    "no_changes_needed",
    "was_modified",
    "total_time_in_seconds",
}


def test_the_keypoint_demo_poses_every_person_and_sends_flagged_poses_back(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path, out, workflow="keypoints")
    text = out.getvalue()
    assert result.succeeded, text
    assert "(round 2:" in text  # two workers disagreed on a pair: the pose went back for adjustment
    events = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    validate_events(events)
    output = [json.loads(line) for line in (result.run_dir / "output.manifest").read_text().splitlines()]
    truth = pose_answer_key()
    assert len(output) == len(truth)
    adjusted = [line for line in output if line["poses"]["rounds"] == [1, 2]]
    assert adjusted, "no item went through an adjustment round"
    for line in output:
        value: dict[str, Any] = line["poses"]
        assert set(value) >= SKELSTACK_FIELDS
        assert value["status"] == "consolidated", value
        assert line["poses-metadata"]["type"] == "groundcrew/keypoints"
        (skeleton,) = value["updated_annotations"]
        placed = {a["label"]: (a["x"], a["y"]) for a in skeleton["annotations"]}
        expected = truth[line["source-ref"].rsplit("/", 1)[-1]]
        # Left stays the person's left (also for people seen from behind), within the workers' pixel noise
        # (a swapped pair would be 20 px or more off).
        for name, (x, y) in expected.items():
            if name in placed:
                assert abs(placed[name][0] - x) <= 12 and abs(placed[name][1] - y) <= 12, (line["source-ref"], name)
        assert len(placed) >= len(expected) - 2
    for line in adjusted:
        # The adjustment round started from the first round's pose: it reached the workers as initial values.
        second_round = [a for a in line["poses"]["answers"] if a["round"] == 2]
        assert second_round and all("content" not in a for a in line["poses"]["answers"])
    completed = [e["detail"] for e in events if e["detail-type"] == "Labeling Job Completed"]
    assert completed[0]["consensus"]["method"] == "median-after-flip-correction"
    detail = completed[0]
    assert detail["seconds_per_image"]["overall"]["count"] == detail["cost"]["answers_bought"]
    # The COCO file loads with the reference reader: one person per image, every placed point visible.
    from pycocotools.coco import COCO

    coco = COCO(str(result.run_dir / "keypoints.coco.json"))
    assert len(coco.getImgIds()) == len(truth)
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert annotation["num_keypoints"] == sum(1 for v in annotation["keypoints"][2::3] if v == 2)
    report = (result.run_dir / "report" / "index.html").read_text(encoding="utf-8")
    overlays = sorted(p.name for p in (result.run_dir / "report").glob("*.png"))
    assert len(overlays) == len(adjusted) and all(name in report for name in overlays)


def test_a_keypoint_project_with_no_component_to_load_fails_before_any_job_with_the_fix() -> None:
    import yaml

    from groundcrew_local.environment import local_environment, pose_images, pose_project_document, pose_workforce

    document = yaml.safe_load(pose_project_document())
    del document["keypoints"]["component_url"]  # and the local stack has no SkeletonComponentUrl
    with local_environment(workforce=pose_workforce()) as env:
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/poses.yaml", Body=yaml.safe_dump(document).encode())
        for path in pose_images()[:2]:
            env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/poses/{path.name}", Body=path.read_bytes())
        env.s3.put_object(Bucket=env.data_bucket, Key="incoming/poses/_SEAL", Body=b"")
        batch_id = env.events_of("Batch Sealed")[-1]["detail"]["batch_id"]
        assert env.wait_for_execution(batch_id)["status"] == "FAILED"
        (failed,) = env.events_of("Labeling Job Failed")
        assert (failed["detail"]["stage"], failed["detail"]["error"]) == ("Prepare", "LabelingJobRejected")
        assert "SkeletonComponentUrl" in failed["detail"]["reason"]
        assert not env.ground_truth.jobs
