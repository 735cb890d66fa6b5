"""Several workers' skeletons on one image -> one consensus skeleton, each worker's agreement, and the label value.

Consensus is on skeleton 1 of each answer. On multi-person images every worker's full answer is kept (in
`workers`), but matching skeleton k of one worker to skeleton j of another is not attempted.

Steps, for one image:

1. Left/right flip correction. Workers confuse the person's left with the image's left. With at least three
   workers, each worker's pose is compared with the per-keypoint median of the others, as placed and with every
   mirrored pair exchanged; a worker is flipped when the exchanged pose is less than half as far (mean distance
   over shared keypoints). The clearest case is flipped first and the rest judged again against the corrected
   poses, so one flipped worker does not drag the others' reference. With two workers there is no majority to
   say who is flipped.
2. Per-keypoint median of the workers who placed the keypoint (coordinate-wise). A keypoint enters the consensus
   only when at least half the workers placed it, so one worker's stray point does not, and one worker's omission
   does not remove a point the others agree on.
3. Agreement, OKS-like (COCO's object keypoint similarity): for worker w and consensus c,

       agreement(w) = sum over keypoints in both of exp(-d² / (2 s² k²)) / number of keypoints in either

   d = distance between the worker's point and the consensus point (after flip correction), s² = area of the
   consensus pose's bounding box (a tenth of the image area when that box is empty and the image size is known,
   else 1 px²), k = 2 sigma with COCO's per-keypoint sigma for the COCO person keypoints and 0.07 otherwise. A
   keypoint placed by only one side counts 0, so omissions and extra points both lower agreement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from groundcrew.workflows.keypoints.poses import Pose, Rig
from groundcrew.workflows.keypoints.task import SkeletonAnswer, component_skeletons

# COCO keypoint sigmas (pycocotools COCOeval), by keypoint name.
COCO_SIGMAS: Mapping[str, float] = {
    "nose": 0.026,
    "left_eye": 0.025,
    "right_eye": 0.025,
    "left_ear": 0.035,
    "right_ear": 0.035,
    "left_shoulder": 0.079,
    "right_shoulder": 0.079,
    "left_elbow": 0.072,
    "right_elbow": 0.072,
    "left_wrist": 0.062,
    "right_wrist": 0.062,
    "left_hip": 0.107,
    "right_hip": 0.107,
    "left_knee": 0.087,
    "right_knee": 0.087,
    "left_ankle": 0.089,
    "right_ankle": 0.089,
}
DEFAULT_SIGMA = 0.07
FLIP_RATIO = 0.5  # flip only when the exchanged pose is at most half as far from the others
MIN_WORKERS_TO_FLIP = 3
IMAGE_AREA_FRACTION = 0.1  # the scale when the consensus has no extent: an object about a tenth of the image
MODIFIED_PIXELS = 1.0  # was_modified: a point moved further than this, or points added or removed


@dataclass(frozen=True, slots=True)
class WorkerPose:
    worker_id: str
    pose: Pose  # skeleton 1 as used for the consensus (exchanged left/right when `flipped`)
    flipped: bool
    agreement: float


@dataclass(frozen=True, slots=True)
class PoseConsensus:
    pose: Pose  # the consensus of skeleton 1, keypoints in rig order, coordinates rounded to whole pixels
    support: Mapping[str, int]  # keypoint -> how many workers placed it
    workers: tuple[WorkerPose, ...]  # in the order of the answers
    answers: tuple[SkeletonAnswer, ...]
    agreement: float  # mean of the workers' agreement
    scale: float  # s² of the agreement formula, in px²

    @property
    def flipped_workers(self) -> tuple[str, ...]:
        return tuple(w.worker_id for w in self.workers if w.flipped)


def _median_pose(poses: Sequence[Pose], names: Sequence[str], min_support: int) -> tuple[Pose, dict[str, int]]:
    points: dict[str, tuple[float, float]] = {}
    support: dict[str, int] = {}
    for name in names:
        placed = [pose.points[name] for pose in poses if name in pose.points]
        support[name] = len(placed)
        if placed and len(placed) >= min_support:
            x, y = np.median(np.asarray(placed, dtype=float), axis=0)
            points[name] = (float(x), float(y))
    return Pose(points), support


def _mean_distance(pose: Pose, reference: Pose) -> float | None:
    shared = [name for name in pose.points if name in reference.points]
    if not shared:
        return None
    mine = np.asarray([pose.points[name] for name in shared], dtype=float)
    theirs = np.asarray([reference.points[name] for name in shared], dtype=float)
    return float(np.linalg.norm(mine - theirs, axis=1).mean())


def _flips(poses: Sequence[Pose], rig: Rig) -> list[bool]:
    """Greedy: flip the clearest case first, then judge the rest against the corrected poses."""
    flips = [False] * len(poses)
    if len(poses) < MIN_WORKERS_TO_FLIP or not rig.mirrored:
        return flips
    current = list(poses)
    while True:
        best: tuple[float, int] | None = None
        for index, pose in enumerate(current):
            if flips[index]:
                continue  # once only: flipping back would undo the correction
            others, _ = _median_pose([p for i, p in enumerate(current) if i != index], rig.names, min_support=1)
            as_placed = _mean_distance(pose, others)
            exchanged = _mean_distance(pose.flipped(rig), others)
            if as_placed is None or exchanged is None or not exchanged < FLIP_RATIO * as_placed:
                continue
            ratio = exchanged / as_placed
            if best is None or ratio < best[0]:
                best = (ratio, index)
        if best is None:
            return flips
        flips[best[1]] = True
        current[best[1]] = current[best[1]].flipped(rig)


def _scale(pose: Pose, image_size: tuple[int, int] | None) -> float:
    if len(pose.points) >= 2:
        xy = np.asarray(list(pose.points.values()), dtype=float)
        width, height = xy.max(axis=0) - xy.min(axis=0)
        if width * height > 0:
            return float(width * height)
    if image_size is not None and image_size[0] * image_size[1] > 0:
        return image_size[0] * image_size[1] * IMAGE_AREA_FRACTION
    return 1.0


def _agreement(pose: Pose, consensus: Pose, scale: float) -> float:
    either = set(pose.points) | set(consensus.points)
    if not either:
        return 1.0  # nobody placed anything, and neither did this worker
    total = 0.0
    for name in set(pose.points) & set(consensus.points):
        (x, y), (cx, cy) = pose.points[name], consensus.points[name]
        k = 2 * COCO_SIGMAS.get(name, DEFAULT_SIGMA)
        total += math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * scale * k * k))
    return total / len(either)


def consolidate_poses(
    answers: Sequence[SkeletonAnswer], rig: Rig, *, image_size: tuple[int, int] | None
) -> PoseConsensus:
    """The consensus of skeleton 1 over `answers` (one image; at least one answer). `image_size` is (width, height)."""
    if not answers:
        raise ValueError("consolidate_poses needs at least one answer")
    poses = [answer.first_pose for answer in answers]
    flips = _flips(poses, rig)
    corrected = [pose.flipped(rig) if flip else pose for pose, flip in zip(poses, flips, strict=True)]
    median, support = _median_pose(corrected, rig.names, min_support=math.ceil(len(corrected) / 2))
    named = next((pose.name for pose in poses if pose.name), "")
    consensus = Pose({name: (float(round(x)), float(round(y))) for name, (x, y) in median.points.items()}, named)
    scale = _scale(consensus, image_size)
    workers = tuple(
        WorkerPose(answer.worker_id, pose, flip, _agreement(pose, consensus, scale))
        for answer, pose, flip in zip(answers, corrected, flips, strict=True)
    )
    return PoseConsensus(
        pose=consensus,
        support=support,
        workers=workers,
        answers=tuple(answers),
        agreement=sum(w.agreement for w in workers) / len(workers),
        scale=scale,
    )


def _differ(updated: Sequence[Pose], original: Sequence[Pose]) -> bool:
    if len(updated) != len(original):
        return True
    for new, old in zip(updated, original, strict=True):
        if set(new.points) != set(old.points):
            return True
        for name, (x, y) in new.points.items():
            ox, oy = old.points[name]
            if math.hypot(x - ox, y - oy) > MODIFIED_PIXELS:
                return True
    return False


def _seconds(value: float) -> int | float:
    return int(value) if value.is_integer() else round(value, 3)


def label_results(
    consensus: PoseConsensus, *, dataset_object_id: str, data_object_s3_uri: str | None
) -> dict[str, Any]:
    """The label value of one object, under the job's label attribute.

    The fields of the crowd-2d-skeleton sample's consolidation (SkelStack) first, then ours (`workers`,
    `agreement`, `flipped_workers`). With one worker, `updated_annotations` is that worker's whole answer, every
    skeleton; with several it is the consensus skeleton alone, and each worker's whole answer is in `workers`.
    Annotations are in the component's shape (lists of `{name, annotations: [{label, x, y}]}`), parsed, not
    JSON strings.
    """
    answers = consensus.answers
    first = answers[0]
    # Several workers: no skeleton at all when no keypoint has the support of half of them.
    updated = list(first.poses) if len(answers) == 1 else [consensus.pose] if consensus.pose.points else []
    original = list(first.original) if len(answers) == 1 else list(first.original[:1])
    times = [answer.seconds for answer in answers if answer.seconds is not None]
    return {
        "dataset_object_id": dataset_object_id,
        "data_object_s3_uri": data_object_s3_uri,
        "image_file_name": first.image_name,
        "image_s3_location": first.image_url_without_query,
        "original_annotations": component_skeletons(first.original),
        "updated_annotations": component_skeletons(updated),
        "worker_id": first.worker_id if len(answers) == 1 else [answer.worker_id for answer in answers],
        "no_changes_needed": all(answer.no_changes_needed for answer in answers),
        "was_modified": _differ(updated, original),
        "total_time_in_seconds": _seconds(sum(times)) if times else None,
        "workers": [
            {
                "worker_id": answer.worker_id,
                "annotations": component_skeletons(answer.poses),
                "flipped": worker.flipped,
                "agreement": round(worker.agreement, 4),
                "seconds": None if answer.seconds is None else _seconds(answer.seconds),
            }
            for answer, worker in zip(answers, consensus.workers, strict=True)
        ],
        "agreement": round(consensus.agreement, 4),
        "flipped_workers": list(consensus.flipped_workers),
    }
