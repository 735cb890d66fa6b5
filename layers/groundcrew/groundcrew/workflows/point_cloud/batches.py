"""Point cloud batches: raw frames in, Ground Truth frames out (PrepareFrames), training formats at the end (Finalize).

PrepareFrames reads the batch's raw frames, grouped by scene folder (the folder holding them under
`incoming/<project>/`, with its scene document), converts each frame on its own (bounded memory: one frame and its
converted copy at a time) to `frames/<project>/<batch>/<scene>/<stem>.bin`, and writes the job's input manifest:
one frame line per frame (detection, segmentation) or one sequence file per scene (tracking,
`frames/<project>/<batch>/sequences/<scene>.json`). A frame that does not convert is refused on its own for
detection and segmentation; for tracking it refuses its scene, since a sequence with a frame missing would mislead
the worker's interpolation. Every refusal is in the Point Clouds Prepared event; the good frames go on.

Finalize merges the job's output into one manifest line per item and exports:
* detection: KITTI label files, `output/kitti/label_2/<frame stem>.txt`, in the camera frame of the line's first
  camera (its extrinsics and intrinsics); without a camera, in the lidar frame with KITTI's camera axes
  (x = -y_lidar, y = -z_lidar, z = x_lidar), the usual convention for lidar-only training;
* tracking: one tracks document per sequence, `output/tracks/<sequence>.json` (format in point_cloud_outputs);
* segmentation: one class index per point, `output/segmentation/<frame stem>.label` (uint8, point order), and
  the points per class in the event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from groundcrew.consensus import rounds
from groundcrew.core import manifests
from groundcrew.core.events import (
    MAX_LISTED,
    EventPublisher,
    FrameRefusal,
    PointCloudReport,
    PointCloudsPrepared,
)
from groundcrew.core.records import BatchRef
from groundcrew.core.s3_locations import S3Location, object_reader, put_object
from groundcrew.projects import Project, load_project
from groundcrew.workflows.point_cloud import formats as point_clouds
from groundcrew.workflows.point_cloud import frames as point_cloud_frames
from groundcrew.workflows.point_cloud import outputs as point_cloud_outputs
from groundcrew.workflows.point_cloud import tasks
from groundcrew.workflows.point_cloud.preflight import FLOATS_PER_POINT
from groundcrew.workforces.ground_truth import built_in_rounds

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.workflows.plugin import BatchSteps

FRAMES_PREFIX = "frames/"
ROOT_SCENE = "_"  # frames dropped directly under incoming/<project>/
KITTI_AXES = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


class NoFramesToLabel(ValueError):
    """Every frame or scene of the batch was refused: there is nothing to send to Ground Truth."""


@dataclass
class _Preparation:
    refusals: list[FrameRefusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: int = 0
    sequences: int = 0
    points: int = 0
    dropped: int = 0

    def refuse(self, scene: str, item: str, rule: str, message: str) -> None:
        self.refusals.append(FrameRefusal(scene=scene, item=item, rule=rule, message=message))


def scene_folders(keys: Iterable[str], incoming_prefix: str) -> dict[str, list[str]]:
    """Raw frame keys grouped by their scene folder (the key prefix ending in '/'), both sorted."""
    scenes: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        scenes[key.rsplit("/", 1)[0] + "/"].append(key)
    return {folder: sorted(scenes[folder]) for folder in sorted(scenes) if folder.startswith(incoming_prefix)}


def prepare_frames(s3: S3Client, publisher: EventPublisher, batch: BatchRef) -> dict[str, Any]:
    """Convert the batch's frames and write its job manifest; returns the batch with the new manifest."""
    project = load_project(s3, batch.bucket, batch.project)
    assert project.pointcloud is not None  # the state machine sends point cloud batches only
    task = tasks.task_for(project.workflow)
    raw = [S3Location.parse(str(line.data["source-ref"])).key for line in manifests.read_manifest(s3, _loc(batch))]
    folders = scene_folders(raw, project.incoming_prefix)
    done = _Preparation()
    lines: list[dict[str, Any]] = []
    for number, (folder, keys) in enumerate(folders.items(), start=1):
        lines.extend(_prepare_scene(s3, batch, project, task, folder, keys, number, done))
    location = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("frames.manifest")
    count = manifests.write_manifest(s3, location, lines)
    publisher.publish(
        PointCloudsPrepared(
            project=batch.project,
            batch_id=batch.batch_id,
            frames=done.frames,
            sequences=done.sequences,
            points=done.points,
            dropped_points=done.dropped,
            refused=len(done.refusals),
            refusals=done.refusals[:MAX_LISTED],
            warnings=done.warnings[:MAX_LISTED],
            manifest_uri=location.uri,
        )
    )
    if not count:
        first = done.refusals[0] if done.refusals else None
        detail = f"; first: {first.item}: {first.message}" if first else ""
        raise NoFramesToLabel(
            f"no frame of batch {batch.batch_id} could be prepared ({len(done.refusals)} refused){detail}"
        )
    return {
        **batch.model_dump(),
        "manifest_uri": location.uri,
        "item_count": count,
        "raw_manifest_uri": _loc(batch).uri,
    }


def _loc(batch: BatchRef) -> S3Location:
    return S3Location.parse(batch.manifest_uri)


def _prepare_scene(
    s3: S3Client,
    batch: BatchRef,
    project: Project,
    task: tasks.PointCloudTask,
    folder: str,
    keys: list[str],
    number: int,
    done: _Preparation,
) -> list[dict[str, Any]]:
    assert project.pointcloud is not None
    scene_name = folder.removeprefix(project.incoming_prefix).rstrip("/") or ROOT_SCENE
    read = object_reader(s3)
    scene = _read_scene_document(read, batch, project, folder, scene_name, len(keys), done)
    if scene is None:
        return []
    out_folder = S3Location(batch.bucket, f"{FRAMES_PREFIX}{batch.project}/{batch.batch_id}/{scene_name}/")
    converted: list[point_cloud_frames.ConvertedFrame] = []
    for key in keys:
        frame = _convert_frame(s3, batch, project, scene_name, key, out_folder, done)
        if frame is not None:
            converted.append(frame)
    if task.kind == "tracking" and len(converted) < len(keys):
        done.refuse(
            scene_name,
            folder,
            "sequence-frame-refused",
            f"{len(keys) - len(converted)} frame(s) of scene {scene_name} could not be converted (see their "
            "refusals), so its sequence would miss frames; fix or remove them and upload the scene again",
        )
        return []
    if task.kind != "tracking":
        scene = _converted_frames_only(scene, keys, converted, scene_name, project.pointcloud.scene_document, done)
    image_prefix = S3Location(batch.bucket, folder).uri
    existing = _relative_keys(s3, batch.bucket, folder)
    texts = _calibration_texts(read, batch.bucket, folder, scene)
    try:
        if task.kind == "tracking":
            document = point_cloud_frames.scene_sequence(
                scene,
                converted,
                seq_no=number,
                prefix=out_folder.uri,
                image_prefix=image_prefix,
                existing_images=existing,
                calibration_texts=texts,
            )
            return [_write_sequence(s3, batch, scene_name, document, len(converted), done)]
        frame_lines = point_cloud_frames.scene_frame_lines(
            scene, converted, image_prefix=image_prefix, existing_images=existing, calibration_texts=texts
        )
    except point_cloud_frames.SceneError as error:
        for problem in error.problems:
            done.refuse(scene_name, folder, problem.rule, problem.message)
        return []
    done.frames += len(frame_lines)
    return frame_lines


def _read_scene_document(
    read: Callable[[str], bytes | None],
    batch: BatchRef,
    project: Project,
    folder: str,
    scene_name: str,
    frame_count: int,
    done: _Preparation,
) -> point_cloud_frames.SceneDocument | None:
    """The scene folder's scene document, or None when it is missing or invalid (the scene is refused)."""
    assert project.pointcloud is not None
    document_key = f"{folder}{project.pointcloud.scene_document}"
    body = read(S3Location(batch.bucket, document_key).uri)
    if body is None:
        done.refuse(
            scene_name,
            document_key,
            "no-scene-document",
            f"scene folder {folder} has {frame_count} frame(s) but no {project.pointcloud.scene_document}: Ground "
            "Truth needs each frame's unix timestamp; upload the scene document (README: point cloud scenes), then "
            "the frames again",
        )
        return None
    try:
        return point_cloud_frames.parse_scene_document(body)
    except point_cloud_frames.InvalidSceneDocument as error:
        done.refuse(scene_name, document_key, "invalid-scene-document", str(error))
        return None


def _converted_frames_only(
    scene: point_cloud_frames.SceneDocument,
    keys: list[str],
    converted: list[point_cloud_frames.ConvertedFrame],
    scene_name: str,
    scene_document: str,
    done: _Preparation,
) -> point_cloud_frames.SceneDocument:
    """The scene without the frames that were not converted; a warning names frames the document lists but were
    never uploaded (single-frame tasks go on without them)."""
    unlisted = sorted(set(scene.frames) - {PurePosixPath(key).name for key in keys})
    if unlisted:
        done.warnings.append(
            f"scene {scene_name}: {len(unlisted)} frame(s) of {scene_document} were not uploaded, e.g. {unlisted[0]}"
        )
    names = {frame.name for frame in converted}
    return scene.model_copy(update={"frames": {n: f for n, f in scene.frames.items() if n in names}})


def _calibration_texts(
    read: Callable[[str], bytes | None], bucket: str, folder: str, scene: point_cloud_frames.SceneDocument
) -> dict[str, str]:
    """The calibration files the scene names that exist, by their path inside the scene folder."""
    return {
        path: text.decode("utf-8", errors="replace")
        for path in point_cloud_frames.calibration_files(scene)
        if (text := read(S3Location(bucket, folder + path).uri)) is not None
    }


def _write_sequence(
    s3: S3Client, batch: BatchRef, scene_name: str, document: dict[str, Any], frames: int, done: _Preparation
) -> dict[str, Any]:
    """Writes a tracking scene's sequence file; returns its manifest line."""
    sequence = S3Location(batch.bucket, f"{FRAMES_PREFIX}{batch.project}/{batch.batch_id}/sequences/")
    location = sequence.child(f"{scene_name}.json")
    put_object(s3, location, orjson.dumps(document), "application/json")
    done.sequences += 1
    done.frames += frames
    return {"source-ref": location.uri}


def _convert_frame(
    s3: S3Client,
    batch: BatchRef,
    project: Project,
    scene_name: str,
    key: str,
    out_folder: S3Location,
    done: _Preparation,
) -> point_cloud_frames.ConvertedFrame | None:
    assert project.pointcloud is not None
    name = PurePosixPath(key).name
    fmt = None if project.pointcloud.format == "auto" else project.pointcloud.format
    body = s3.get_object(Bucket=batch.bucket, Key=key)["Body"].read()
    try:
        converted = point_clouds.convert(body, name, fmt)
    except point_clouds.PointCloudError as error:
        done.refuse(scene_name, key, error.rule, str(error))
        return None
    del body  # one frame in memory at a time
    report = converted.report
    done.points += report.points_out
    done.dropped += report.dropped_non_finite
    done.warnings.extend(f"{key}: {warning}" for warning in report.warnings)
    target = out_folder.child(f"{PurePosixPath(name).stem}.bin")
    put_object(s3, target, converted.data, "application/octet-stream")
    return point_cloud_frames.ConvertedFrame(name=name, uri=target.uri, format=report.output_format)


def _relative_keys(s3: S3Client, bucket: str, folder: str) -> set[str]:
    found: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        found.update(item["Key"].removeprefix(folder) for item in page.get("Contents", []))
    return found


# -- Finalize -------------------------------------------------------------------------------------------------------


@dataclass
class _Exports:
    frames: int = 0
    objects: int = 0
    tracks: int = 0
    labeled_points: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def finalize(steps: BatchSteps) -> dict[str, Any]:
    """The merged output manifest, the workflow's training export, and what the completed event reports."""
    s3, project, batch = steps.s3, steps.project, steps.batch
    attribute = project.attribute_name
    task = tasks.task_for(project.workflow)
    merged = built_in_rounds.merge_batch(steps)
    output, tally, summaries = merged.location, merged.tally, merged.summaries
    folder = rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("output")
    exports = _Exports()
    labeled = (line for line in manifests.read_manifest(s3, output) if attribute in line.data)
    export_name = {"detection": "kitti", "tracking": "tracks", "segmentation": "segmentation"}[task.kind]
    export_folder = folder.child(export_name if task.kind != "detection" else "kitti/label_2")
    for line in labeled:
        try:
            _export_line(s3, task.kind, line.data, attribute, export_folder, exports)
        except (point_cloud_outputs.PointCloudOutputError, ValueError, KeyError) as error:
            exports.problems.append(f"line {line.number}: {error}")
    audit = project.pointcloud.audit if project.pointcloud else None
    return {
        **built_in_rounds.built_in_final(project, summaries, output, tally),
        "pointcloud": PointCloudReport(
            task=task.kind,
            audit=audit.mode.value if audit else None,
            frames=exports.frames,
            objects=exports.objects,
            tracks=exports.tracks,
            labeled_points=exports.labeled_points,
            not_labeled=tally.failed,
            exports={export_name: export_folder.uri + "/"},
            problems=exports.problems[:MAX_LISTED],
        ).model_dump(mode="json"),
    }


def _export_line(
    s3: S3Client, kind: str, line: dict[str, Any], attribute: str, folder: S3Location, exports: _Exports
) -> None:
    source = str(line["source-ref"])
    stem = PurePosixPath(source).stem
    read = object_reader(s3)
    if kind == "detection":
        frame = point_cloud_outputs.detection_labels(line, attribute)
        # 2D boxes would need each image's size; they are written as zeros (KITTI readers recompute them).
        velo_to_cam, _ = camera_transform(line)
        text = point_cloud_outputs.kitti_label_text(frame, velo_to_cam=velo_to_cam)
        put_object(s3, folder.child(f"{stem}.txt"), text.encode(), "text/plain")
        exports.frames += 1
        exports.objects += len(frame.cuboids)
        return
    if kind == "tracking":
        seq_uri, class_map = point_cloud_outputs.tracking_output(line, attribute)
        frames = point_cloud_outputs.tracking_labels(_json(read(seq_uri), seq_uri), class_map)
        sequence = _json(read(source), source)
        timestamps = {index: frame.get("unix-timestamp") for index, frame in enumerate(sequence.get("frames", []))}
        document = point_cloud_outputs.tracks_document(
            frames, sequence=stem, timestamps=[float(timestamps.get(f.index) or 0.0) for f in frames]
        )
        put_object(s3, folder.child(f"{stem}.json"), orjson.dumps(document), "application/json")
        exports.frames += len(frames)
        exports.objects += sum(len(f.cuboids) for f in frames)
        exports.tracks += len(document["tracks"])
        return
    label_uri, color_map = point_cloud_outputs.segmentation_output(line, attribute)
    body = read(label_uri)
    if body is None:
        raise ValueError(f"the label file {label_uri} does not exist")
    labels = point_cloud_outputs.segmentation_labels(body, points=_point_count(s3, line), color_map=color_map)
    put_object(s3, folder.child(f"{stem}.label"), labels.tobytes(), "application/octet-stream")
    for name, count in point_cloud_outputs.class_point_counts(labels, color_map).items():
        exports.labeled_points[name] = exports.labeled_points.get(name, 0) + count
    exports.frames += 1


def _point_count(s3: S3Client, line: dict[str, Any]) -> int | None:
    metadata = line.get("source-ref-metadata") or {}
    width = FLOATS_PER_POINT.get(str(metadata.get("format") or "binary/xyzi"))
    if width is None:
        return None
    location = S3Location.parse(str(line["source-ref"]))
    size = s3.head_object(Bucket=location.bucket, Key=location.key)["ContentLength"]
    return int(size) // (4 * width)


def camera_transform(line: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """(4x4 point cloud -> camera transform, 3x4 projection) of the line's first camera; KITTI axes without one."""
    images = (line.get("source-ref-metadata") or {}).get("images") or []
    if not images:
        return KITTI_AXES, None
    image = images[0]
    heading, position = image["heading"], image["position"]
    rotation = _rotation(heading["qx"], heading["qy"], heading["qz"], heading["qw"])  # camera -> point cloud
    transform = np.eye(4)
    transform[:3, :3] = rotation.T
    transform[:3, 3] = -rotation.T @ np.array([position["x"], position["y"], position["z"]], dtype=np.float64)
    k = np.array([[image["fx"], image.get("skew", 0.0), image["cx"]], [0, image["fy"], image["cy"]], [0, 0, 1]])
    return transform, np.hstack([k, np.zeros((3, 1))])


def _rotation(qx: float, qy: float, qz: float, qw: float) -> np.ndarray:
    q = np.array([qw, qx, qy, qz], dtype=np.float64)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _json(body: bytes | None, uri: str) -> dict[str, Any]:
    if body is None:
        raise ValueError(f"{uri} does not exist")
    document = orjson.loads(body)
    if not isinstance(document, dict):
        raise ValueError(f"{uri} is not a JSON object")
    return document
