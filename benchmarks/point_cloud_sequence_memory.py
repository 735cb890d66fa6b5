"""Point cloud sequences: peak Python memory of PrepareFrames for a tracking scene of 50 and of 500 frames.

    .venv/bin/python benchmarks/point_cloud_sequence_memory.py [--points 120000 --frames 50 500]

The issue asks that 500-frame sequences convert one frame at a time in bounded memory. One tracking project
(`pointcloud-tracking`), one scene folder of N KITTI .bin frames (random float32 x y z reflectance, --points each)
and its scene.json, staged as one batch; `point_cloud_batches.prepare_frames` converts it and writes the sequence
file. Peak memory is tracemalloc's peak during that call. The S3 stand-in keeps every object in a file of a
temporary folder, so the stored frames are not counted: only what prepare_frames holds. The floor is the smallest
frame count, measured in the same run: ratio = peak(largest) / peak(smallest) must stay at most 2 (one frame at a
time means about 1), or the script exits with status 1. It also prints the growth per added frame: a frame's size
if frames were kept, a few KB of metadata (the parsed scene document, the sequence file) if they are not. With
the issue's 120,000-point frames that metadata is small beside one frame; with small frames (--points 20000) it
dominates and the ratio passes 2 although no frame is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from groundcrew.core.records import BatchRef
from groundcrew.workflows.point_cloud.batches import prepare_frames
from groundcrew_local.disk_s3 import DiskS3

BUCKET = "data"
PROJECT = "drive"
MAX_RATIO = 2.0
PROJECT_YAML = """\
name: drive
workflow: pointcloud-tracking
pointcloud:
  categories:
    labels: [Car, Pedestrian]
workforce:
  workteam_arn: arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/lidar-team
task:
  title: Track every car and pedestrian
  description: Track cars and pedestrians through the sequence
  instructions: Fit each cuboid tightly around the object's points.
"""


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, *details: Any, **_: Any) -> None:
        self.events.extend(details)


def stage_scene(s3: DiskS3, frames: int, points: int, batch_id: str) -> BatchRef:
    """The project, one scene folder of `frames` KITTI frames with its scene.json, and the batch's raw manifest."""
    rng = np.random.default_rng(frames)
    s3.put_object(Bucket=BUCKET, Key=f"projects/{PROJECT}.yaml", Body=PROJECT_YAML.encode())
    folder = f"incoming/{PROJECT}/{batch_id}/"
    scene: dict[str, Any] = {"frames": {}}
    lines = []
    for index in range(frames):
        name = f"{index:06d}.bin"
        xyzi = rng.uniform(-80, 80, (points, 4)).astype("<f4")
        s3.put_object(Bucket=BUCKET, Key=folder + name, Body=xyzi.tobytes())
        del xyzi
        scene["frames"][name] = {
            "unix-timestamp": 1_700_000_000 + index / 10,
            "ego-vehicle-pose": {
                "position": {"x": index * 1.5, "y": 0.0, "z": 0.0},
                "heading": {"qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 1.0},
            },
        }
        lines.append(orjson.dumps({"source-ref": f"s3://{BUCKET}/{folder}{name}"}) + b"\n")
    s3.put_object(Bucket=BUCKET, Key=folder + "scene.json", Body=json.dumps(scene).encode())
    manifest = f"batches/{PROJECT}/{batch_id}/raw.manifest"
    s3.put_object(Bucket=BUCKET, Key=manifest, Body=b"".join(lines))
    return BatchRef(
        batch_id=batch_id,
        project=PROJECT,
        bucket=BUCKET,
        manifest_uri=f"s3://{BUCKET}/{manifest}",
        item_count=frames,
        workflow="pointcloud-tracking",
    )


def peak_memory(frames: int, points: int) -> tuple[int, dict[str, Any]]:
    """tracemalloc's peak (bytes) during prepare_frames of one scene of `frames` frames, and the sequence file."""
    with tempfile.TemporaryDirectory() as root:
        s3 = DiskS3(Path(root))
        batch = stage_scene(s3, frames, points, f"b{frames}")
        publisher = RecordingPublisher()
        tracemalloc.start()
        try:
            prepare_frames(s3, publisher, batch)  # type: ignore[arg-type]  # the disk stand-in for the S3 client
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        (key,) = s3.keys(BUCKET, f"frames/{PROJECT}/{batch.batch_id}/sequences/")
        sequence = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return peak, sequence


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=120_000)
    parser.add_argument("--frames", type=int, nargs="+", default=[50, 500])
    args = parser.parse_args()
    frame_mb = args.points * 16 / 1e6
    print(
        f"tracking scene of KITTI .bin frames, {args.points:,} points ({frame_mb:.2f} MB) each; peak of prepare_frames"
    )
    print(f"{'frames':>7} {'peak MB':>9} {'peak / frame size':>18}")
    peaks = {}
    for frames in args.frames:
        peak, sequence = peak_memory(frames, args.points)
        if len(sequence["frames"]) != frames:
            raise SystemExit(f"{frames} frames: the sequence file lists {len(sequence['frames'])}")
        peaks[frames] = peak
        print(f"{frames:>7} {peak / 1e6:>9.2f} {peak / (frame_mb * 1e6):>18.1f}")
    smallest, largest = min(peaks), max(peaks)
    ratio = peaks[largest] / peaks[smallest]
    per_frame = (peaks[largest] - peaks[smallest]) / (largest - smallest)
    verdict = "PASS" if ratio <= MAX_RATIO else "FAIL"
    print(f"ratio = peak({largest}) / peak({smallest}) = {ratio:.2f}  (at most {MAX_RATIO}) {verdict}")
    # Frames held at once would add a frame's size per frame; what grows instead is per-frame metadata.
    print(f"growth per added frame: {per_frame:,.0f} bytes ({per_frame / (frame_mb * 1e6):.1%} of a frame)")
    if ratio > MAX_RATIO:
        sys.exit(1)


if __name__ == "__main__":
    main()
