"""PrepareFrames converts a tracking scene one frame at a time: peak memory does not grow with the frame count.

The S3 stand-in (local mode's DiskS3) keeps objects in files, so tracemalloc counts only what prepare_frames holds.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundcrew.core.records import BatchRef
from groundcrew.workflows.point_cloud.batches import prepare_frames
from groundcrew_local.disk_s3 import DiskS3

POINTS = 5_000
FRAME_BYTES = POINTS * 16
PROJECT_YAML = b"""\
name: drive
workflow: pointcloud-tracking
pointcloud:
  categories:
    labels: [Car]
workforce:
  workteam_arn: arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/lidar-team
task:
  title: Track every car
  description: Track cars through the sequence
  instructions: Fit each cuboid tightly around the car's points.
"""


class Publisher:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, *details: Any, **_: Any) -> None:
        self.events.extend(details)


def prepare_scene(root: Path, frames: int) -> tuple[int, dict[str, Any], list[Any]]:
    """Peak traced bytes of prepare_frames on one tracking scene of `frames` KITTI frames, the sequence file, events."""
    s3 = DiskS3(root)
    s3.put_object("data", "projects/drive.yaml", PROJECT_YAML)
    folder = "incoming/drive/scene-1/"
    rng = np.random.default_rng(frames)
    scene: dict[str, Any] = {"frames": {}}
    # Names do not sort in time order: the sequence must follow the timestamps.
    names = [f"{(index * 7) % frames:06d}.bin" for index in range(frames)]
    for index, name in enumerate(names):
        s3.put_object("data", folder + name, rng.uniform(-50, 50, (POINTS, 4)).astype("<f4").tobytes())
        scene["frames"][name] = {"unix-timestamp": 1_700_000_000 + index / 10}
    s3.put_object("data", folder + "scene.json", json.dumps(scene).encode())
    raw = "".join(json.dumps({"source-ref": f"s3://data/{folder}{name}"}) + "\n" for name in names)
    s3.put_object("data", "batches/drive/b1/raw.manifest", raw.encode())
    batch = BatchRef(
        batch_id="b1",
        project="drive",
        bucket="data",
        manifest_uri="s3://data/batches/drive/b1/raw.manifest",
        item_count=frames,
        workflow="pointcloud-tracking",
    )
    publisher = Publisher()
    tracemalloc.start()
    try:
        prepare_frames(s3, publisher, batch)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (key,) = s3.keys("data", "frames/drive/b1/sequences/")
    return peak, json.loads(s3.get_object(Bucket="data", Key=key)["Body"].read()), publisher.events


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[int, dict[str, Any], list[Any]]]:
    return {frames: prepare_scene(tmp_path_factory.mktemp(f"s3-{frames}"), frames) for frames in (20, 200)}


def test_sequence_lists_every_frame_in_time_order(runs: dict[int, tuple[int, dict[str, Any], list[Any]]]) -> None:
    _, sequence, events = runs[200]
    listed = sequence["frames"]
    assert len(listed) == 200
    assert [frame["frame-no"] for frame in listed] == list(range(len(listed)))
    expected = [f"{(index * 7) % 200:06d}.bin" for index in range(200)]
    assert [frame["frame"] for frame in listed] == expected  # relative to the scene's frames folder
    (event,) = events
    assert (event.frames, event.sequences, event.refused, event.points) == (200, 1, 0, 200 * POINTS)


def test_frames_are_not_kept_in_memory(runs: dict[int, tuple[int, dict[str, Any], list[Any]]]) -> None:
    small, large = runs[20][0], runs[200][0]
    # Keeping frames would add a frame (80 kB) per frame; the scene's metadata (parsed scene document, sequence
    # file) adds ~3 kB per frame, bounded by the 500-frame limit of a sequence.
    assert (large - small) / 180 < FRAME_BYTES / 10, (small, large)
