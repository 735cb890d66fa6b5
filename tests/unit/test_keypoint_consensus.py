"""Several workers' skeletons on one image: flips corrected, medians, agreement, and the label value."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from groundcrew.workflows.keypoints import consensus as keypoint_consensus
from groundcrew.workflows.keypoints import rigs
from groundcrew.workflows.keypoints import task as keypoints
from groundcrew.workflows.keypoints.poses import Pose, Rig, RigKeypoint

# The fields the crowd-2d-skeleton sample's consolidation writes per object (contracts section 9.1).
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
OUR_FIELDS = {"workers", "agreement", "flipped_workers"}
IMAGE_URL = "https://data.s3.amazonaws.com/incoming/people/785.jpg"


@pytest.fixture
def coco() -> Rig:
    return rigs.load_preset("coco-person")


@pytest.fixture
def truth(coco: Rig) -> dict[str, tuple[float, float]]:
    """The preset's standing person, moved into an image."""
    return {k.name: (k.x + 200.0, k.y + 30.0) for k in coco.keypoints}


def submission(
    worker: str,
    skeletons: list[dict[str, tuple[float, float]]],
    rig: Rig,
    *,
    original: str = "[]",
    seconds: str = "30",
    no_changes: str = "false",
) -> keypoints.SkeletonAnswer:
    """A worker's answer as the component submits it, parsed the way consolidation parses it."""
    updated = [
        {"name": "", "annotations": [{"label": k, "x": round(x), "y": round(y)} for k, (x, y) in points.items()]}
        for points in skeletons
    ]
    content = {
        "updated_annotations": json.dumps(updated),
        "original_annotations": original,
        "image_s3_uri": IMAGE_URL + "?X-Amz-Signature=abc",
        "image_name": "785.jpg?X-Amz-Signature=abc",
        "no_changes_needed": no_changes,
        "total_time_in_seconds": seconds,
    }
    return keypoints.parse_submission(worker, json.dumps(content), rig)


def noisy(points: dict[str, tuple[float, float]], seed: int, spread: float = 2.0) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return {k: (x + float(rng.normal(0, spread)), y + float(rng.normal(0, spread))) for k, (x, y) in points.items()}


def mirrored(points: dict[str, tuple[float, float]], rig: Rig) -> dict[str, tuple[float, float]]:
    """What a worker who swapped the person's left and right places."""
    return dict(Pose(points).flipped(rig).points)


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def test_a_flipped_worker_is_corrected_and_named(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    answers = [
        submission("w1", [noisy(truth, 1)], coco),
        submission("w2", [noisy(truth, 2)], coco),
        submission("w3", [mirrored(noisy(truth, 3), coco)], coco),
    ]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=(640, 480))
    assert result.flipped_workers == ("w3",)
    assert [w.flipped for w in result.workers] == [False, False, True]
    assert set(result.pose.points) == set(coco.names)
    for name, point in result.pose.points.items():
        assert distance(point, truth[name]) < 5, name
    # Corrected, the flipped worker agrees as well as the others (the flip is reported, not scored).
    assert min(w.agreement for w in result.workers) > 0.9


def test_real_coco_pose_with_a_flipped_worker(coco: Rig, corpus: Path) -> None:
    """Image 785 of COCO val2017 (a skier), its annotated 17 keypoints as the truth."""
    data = json.loads((corpus / "external-annotations" / "coco_person_keypoints_mmpose_test.json").read_text())
    annotation = next(a for a in data["annotations"] if a["image_id"] == 785)
    flat = annotation["keypoints"]
    real = {name: (float(flat[3 * i]), float(flat[3 * i + 1])) for i, name in enumerate(coco.names)}
    answers = [submission(f"w{i}", [noisy(real, i, 1.5)], coco) for i in range(4)]
    answers.append(submission("w4", [mirrored(noisy(real, 4, 1.5), coco)], coco))
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=(640, 425))
    assert result.flipped_workers == ("w4",)
    assert max(distance(result.pose.points[n], real[n]) for n in coco.names) < 4


def test_two_workers_who_disagree_on_sides_are_left_alone(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    """With two workers there is no majority to say which one is flipped."""
    answers = [submission("w1", [truth], coco), submission("w2", [mirrored(truth, coco)], coco)]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=None)
    assert result.flipped_workers == ()


def test_the_median_ignores_one_wild_point(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    wild = dict(truth) | {"left_wrist": (5000.0, 5000.0)}
    answers = [
        submission("w1", [truth], coco),
        submission("w2", [noisy(truth, 5, 1.0)], coco),
        submission("w3", [wild], coco),
    ]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=None)
    assert distance(result.pose.points["left_wrist"], truth["left_wrist"]) < 3
    assert result.flipped_workers == ()
    by_worker = {w.worker_id: w.agreement for w in result.workers}
    assert by_worker["w3"] < by_worker["w1"]  # the wild point costs agreement


def test_a_keypoint_needs_half_the_workers(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    without_ankles = {k: v for k, v in truth.items() if not k.endswith("_ankle")}
    answers = [
        submission("w1", [truth], coco),  # both ankles
        submission("w2", [without_ankles | {"left_ankle": truth["left_ankle"]}], coco),  # left ankle only
        submission("w3", [without_ankles], coco),
        submission("w4", [without_ankles], coco),
    ]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=None)
    assert result.support["left_ankle"] == 2 and result.support["right_ankle"] == 1
    assert "left_ankle" in result.pose.points  # 2 of 4: half
    assert "right_ankle" not in result.pose.points  # 1 of 4: one worker's point
    assert list(result.pose.points) == [n for n in coco.names if n != "right_ankle"]  # rig order


def test_agreement_orders_workers_by_precision(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    answers = [
        submission("exact", [truth], coco),
        submission("exact-too", [truth], coco),
        submission("close", [noisy(truth, 7, 2.0)], coco),
        submission("sloppy", [noisy(truth, 8, 12.0)], coco),
        submission("careless", [noisy(truth, 9, 30.0)], coco),
    ]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=None)
    agreement = [w.agreement for w in result.workers]
    assert agreement[0] == agreement[1]
    assert agreement[0] > agreement[2] > agreement[3] > agreement[4]
    assert result.agreement == pytest.approx(sum(agreement) / 5)


def test_agreement_follows_the_documented_formula(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    shifted = {k: (x + 3.0, y + 4.0) for k, (x, y) in truth.items()}  # 5 px from every true point
    answers = [submission("a", [truth], coco), submission("b", [truth], coco), submission("c", [shifted], coco)]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=None)
    xs, ys = [x for x, _ in truth.values()], [y for _, y in truth.values()]
    area = (max(xs) - min(xs)) * (max(ys) - min(ys))
    assert result.scale == pytest.approx(area)
    expected = np.mean([math.exp(-25 / (2 * area * (2 * keypoint_consensus.COCO_SIGMAS[n]) ** 2)) for n in coco.names])
    assert result.workers[2].agreement == pytest.approx(expected)
    assert result.workers[0].agreement == 1.0
    # An omitted keypoint counts 0 of one more: 16 perfect points of 17.
    partial = {k: v for k, v in truth.items() if k != "nose"}
    again = keypoint_consensus.consolidate_poses(
        [*answers[:2], submission("d", [partial], coco)], coco, image_size=None
    )
    assert again.workers[2].agreement == pytest.approx(16 / 17)


def test_without_extent_the_image_sets_the_scale() -> None:
    dot = Rig("dot", (RigKeypoint("centre", "#000000"),))
    answers = [submission(w, [{"centre": (100.0 + i, 100.0)}], dot) for i, w in enumerate(("a", "b", "c"))]
    result = keypoint_consensus.consolidate_poses(answers, dot, image_size=(200, 100))
    assert result.scale == pytest.approx(200 * 100 * keypoint_consensus.IMAGE_AREA_FRACTION)
    k = 2 * keypoint_consensus.DEFAULT_SIGMA  # not a COCO name
    assert result.workers[0].agreement == pytest.approx(math.exp(-1 / (2 * result.scale * k * k)))
    assert keypoint_consensus.consolidate_poses(answers, dot, image_size=None).scale == 1.0


def test_no_answers_is_an_error(coco: Rig) -> None:
    with pytest.raises(ValueError, match="at least one answer"):
        keypoint_consensus.consolidate_poses([], coco, image_size=None)


# ---------------------------------------------------------------------------------------------- label value


def test_one_worker_gives_exactly_the_skelstack_fields_and_the_whole_answer(
    coco: Rig, truth: dict[str, tuple[float, float]]
) -> None:
    second_person = {"nose": (20.0, 30.0)}
    answer = submission("private.us-east-1.w1", [truth, second_person], coco, seconds="42")
    result = keypoint_consensus.consolidate_poses([answer], coco, image_size=(640, 480))
    value = keypoint_consensus.label_results(result, dataset_object_id="7", data_object_s3_uri="s3://data/785.jpg")
    assert set(value) == SKELSTACK_FIELDS | OUR_FIELDS
    assert value["dataset_object_id"] == "7"
    assert value["data_object_s3_uri"] == "s3://data/785.jpg"
    assert value["image_file_name"] == "785.jpg"
    assert value["image_s3_location"] == IMAGE_URL
    assert value["worker_id"] == "private.us-east-1.w1"
    assert value["original_annotations"] == []
    assert value["updated_annotations"] == keypoints.component_skeletons(answer.poses)  # both people
    assert len(value["updated_annotations"]) == 2
    assert value["no_changes_needed"] is False
    assert value["was_modified"] is True  # everything was added
    assert value["total_time_in_seconds"] == 42
    assert value["workers"] == [
        {
            "worker_id": "private.us-east-1.w1",
            "annotations": value["updated_annotations"],
            "flipped": False,
            "agreement": 1.0,
            "seconds": 42,
        }
    ]
    assert value["agreement"] == 1.0 and value["flipped_workers"] == []
    assert orjson.loads(orjson.dumps(value)) == value  # plain JSON for the output manifest


@pytest.mark.parametrize(("moved", "modified"), [(0, False), (1, False), (2, True)])
def test_was_modified_means_more_than_a_pixel(coco: Rig, moved: int, modified: bool) -> None:
    original = json.dumps([{"name": "", "annotations": [{"label": "nose", "x": 100, "y": 50}]}])
    answer = submission("w", [{"nose": (100.0 + moved, 50.0)}], coco, original=original, no_changes="true")
    value = keypoint_consensus.label_results(
        keypoint_consensus.consolidate_poses([answer], coco, image_size=None),
        dataset_object_id="0",
        data_object_s3_uri=None,
    )
    assert value["was_modified"] is modified
    assert value["no_changes_needed"] is True
    assert value["original_annotations"] == [{"name": "", "annotations": [{"label": "nose", "x": 100, "y": 50}]}]


def test_removing_a_pre_annotated_point_is_a_modification(coco: Rig) -> None:
    original = json.dumps(
        [{"name": "", "annotations": [{"label": "nose", "x": 1, "y": 2}, {"label": "left_eye", "x": 3, "y": 4}]}]
    )
    answer = submission("w", [{"nose": (1.0, 2.0)}], coco, original=original)
    value = keypoint_consensus.label_results(
        keypoint_consensus.consolidate_poses([answer], coco, image_size=None),
        dataset_object_id="0",
        data_object_s3_uri=None,
    )
    assert value["was_modified"] is True


def test_several_workers_give_the_consensus_and_every_answer(coco: Rig, truth: dict[str, tuple[float, float]]) -> None:
    answers = [
        submission("w1", [noisy(truth, 1)], coco, seconds="30"),
        submission("w2", [noisy(truth, 2), {"nose": (5.0, 5.0)}], coco, seconds="45"),
        submission("w3", [mirrored(noisy(truth, 3), coco)], coco, seconds="12"),
    ]
    result = keypoint_consensus.consolidate_poses(answers, coco, image_size=(640, 480))
    value = keypoint_consensus.label_results(result, dataset_object_id="3", data_object_s3_uri="s3://data/785.jpg")
    assert set(value) == SKELSTACK_FIELDS | OUR_FIELDS
    assert value["worker_id"] == ["w1", "w2", "w3"]
    assert value["updated_annotations"] == keypoints.component_skeletons([result.pose])
    assert all(isinstance(p["x"], int) for p in value["updated_annotations"][0]["annotations"])
    assert value["total_time_in_seconds"] == 87
    assert value["flipped_workers"] == ["w3"]
    assert [w["flipped"] for w in value["workers"]] == [False, False, True]
    assert value["workers"][1]["annotations"] == keypoints.component_skeletons(answers[1].poses)  # both skeletons
    assert value["workers"][2]["annotations"] == keypoints.component_skeletons(answers[2].poses)  # as submitted
    assert value["agreement"] == pytest.approx(result.agreement, abs=1e-4)
    assert value["was_modified"] is True
    assert orjson.loads(orjson.dumps(value)) == value


def test_workers_who_place_nothing_give_no_skeleton(coco: Rig) -> None:
    answers = [submission(w, [{}], coco, seconds="5") for w in ("a", "b")]
    answers.append(submission("c", [{"nose": (1.0, 1.0)}], coco, seconds="5"))
    value: dict[str, Any] = keypoint_consensus.label_results(
        keypoint_consensus.consolidate_poses(answers, coco, image_size=None),
        dataset_object_id="0",
        data_object_s3_uri=None,
    )
    assert value["updated_annotations"] == []
    assert value["was_modified"] is False  # nothing was shown, nothing agreed on
    assert [w["agreement"] for w in value["workers"]] == [1.0, 1.0, 0.0]
