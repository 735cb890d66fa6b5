"""Keypoint batches: image sizes from headers, poses rebuilt from the ledger, what goes back for adjustment."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image

from groundcrew.consensus.rounds import LedgerEntry
from groundcrew.core import image_headers
from groundcrew.workflows.keypoints import batches as keypoint_batches
from groundcrew.workflows.keypoints.rigs import load_preset

RIG = load_preset("coco-person")
STANDING = {
    "nose": (160, 40), "left_eye": (165, 35), "right_eye": (155, 35), "left_ear": (171, 38), "right_ear": (149, 38),
    "left_shoulder": (180, 70), "right_shoulder": (140, 70), "left_elbow": (188, 105), "right_elbow": (132, 105),
    "left_wrist": (192, 138), "right_wrist": (128, 138), "left_hip": (172, 135), "right_hip": (148, 135),
    "left_knee": (174, 175), "right_knee": (146, 175), "left_ankle": (175, 215), "right_ankle": (145, 215),
}  # fmt: skip


def submission(points: dict[str, tuple[float, float]], seconds: int = 30) -> dict[str, str]:
    annotations = [{"label": k, "x": round(x), "y": round(y)} for k, (x, y) in points.items()]
    return {
        "updated_annotations": json.dumps([{"name": "", "annotations": annotations}]),
        "original_annotations": "[]",
        "image_s3_uri": "https://b.s3.amazonaws.com/incoming/poses/a.png?X-Amz-Signature=x",
        "image_name": "a.png?X-Amz-Signature=x",
        "no_changes_needed": "false",
        "total_time_in_seconds": str(seconds),
    }


def entry(*answers: tuple[str, int, dict[str, tuple[float, float]]]) -> LedgerEntry:
    return LedgerEntry(
        "s3://b/incoming/poses/a.png",
        answers=[{"worker_id": w, "round": r, "content": submission(p)} for w, r, p in answers],
        bought=len(answers),
        rounds=sorted({r for _, r, _ in answers}),
    )


def swapped(points: dict[str, tuple[float, float]], left: str, right: str) -> dict[str, tuple[float, float]]:
    return {**points, left: points[right], right: points[left]}


def test_image_sizes_come_from_the_header_and_unreadable_ones_say_why(s3: Any, data_bucket: str) -> None:
    png = io.BytesIO()
    Image.new("RGB", (320, 240)).save(png, format="PNG")
    s3.put_object(Bucket=data_bucket, Key="incoming/poses/a.png", Body=png.getvalue())
    s3.put_object(Bucket=data_bucket, Key="incoming/poses/broken.png", Body=b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    sizes = image_headers.image_sizes(
        s3, [f"s3://{data_bucket}/incoming/poses/{name}" for name in ("a.png", "broken.png", "gone.png")]
    )
    assert sizes[f"s3://{data_bucket}/incoming/poses/a.png"] == (image_headers.ImageSize(320, 240), None)
    size, problem = sizes[f"s3://{data_bucket}/incoming/poses/broken.png"]
    assert size is None and problem is not None and "cannot be read" in problem
    assert sizes[f"s3://{data_bucket}/incoming/poses/gone.png"] == (
        None,
        f"image s3://{data_bucket}/incoming/poses/gone.png does not exist",
    )


def test_the_latest_round_supersedes_the_pose_it_adjusted() -> None:
    item = entry(
        ("w1", 1, STANDING),
        ("w2", 1, swapped(STANDING, "left_knee", "right_knee")),
        ("w3", 2, STANDING),
        ("w4", 2, STANDING),
    )
    assert [a["worker_id"] for a in keypoint_batches.latest_answers(item)] == ["w3", "w4"]
    (verdict,) = keypoint_batches.pose_verdicts({item.key: item}, RIG, {}).values()
    assert verdict.pose is not None and verdict.pose.points["left_knee"] == (174, 175)
    assert not verdict.flagged


def test_two_workers_disagreeing_on_a_pair_is_flagged_and_sent_back_from_the_current_pose() -> None:
    item = entry(("w1", 1, STANDING), ("w2", 1, swapped(STANDING, "left_wrist", "right_wrist")))
    sizes = {item.key: (image_headers.ImageSize(320, 240), None)}
    (verdict,) = keypoint_batches.pose_verdicts({item.key: item}, RIG, sizes).values()
    assert verdict.flagged, verdict.findings
    assert verdict.disputed == ["left_wrist", "right_wrist"]  # the median of a swap and no swap matches neither
    assert keypoint_batches.wants_another_pass(verdict)
    line = keypoint_batches.adjustment_line(verdict)
    (skeleton,) = line["annotations"]
    assert {a["label"] for a in skeleton["annotations"]} == set(STANDING)
    value = keypoint_batches.output_value(verdict, item, dataset_object_id="0")
    assert value["status"] == "flagged" and value["reason"]
    assert all("content" not in answer for answer in value["answers"])  # submissions stay in the ledger


def test_an_item_without_a_valid_answer_is_reported_not_dropped() -> None:
    item = LedgerEntry("s3://b/x.png", rejected=[{"worker_id": "w1", "reason": "missing field updated_annotations"}])
    (verdict,) = keypoint_batches.pose_verdicts({item.key: item}, RIG, {}).values()
    value = keypoint_batches.output_value(verdict, item, dataset_object_id="3")
    assert value["status"] == "no-valid-answers"
    assert "missing field updated_annotations" in value["reason"]
    assert keypoint_batches.wants_another_pass(verdict)
