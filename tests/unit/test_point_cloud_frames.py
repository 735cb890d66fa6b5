"""Scene documents, KITTI calibration and the Ground Truth frame lines / sequence files built from them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundcrew.core.manifests import ManifestLine
from groundcrew.workflows.point_cloud.frames import (
    CalibrationError,
    ConvertedFrame,
    InvalidSceneDocument,
    SceneError,
    calibration_files,
    parse_kitti_calib,
    parse_scene_document,
    scene_frame_lines,
    scene_sequence,
)
from groundcrew.workflows.point_cloud.preflight import check_point_cloud_manifest

# KITTI object benchmark training/calib/000000.txt (values as published).
KITTI_CALIB = """\
P0: 7.070493e+02 0.000000e+00 6.040814e+02 0.000000e+00 0.000000e+00 7.070493e+02 1.805066e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
P1: 7.070493e+02 0.000000e+00 6.040814e+02 -3.797842e+02 0.000000e+00 7.070493e+02 1.805066e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
P2: 7.070493e+02 0.000000e+00 6.040814e+02 4.575831e+01 0.000000e+00 7.070493e+02 1.805066e+02 -3.454157e-01 0.000000e+00 0.000000e+00 1.000000e+00 4.981016e-03
P3: 7.070493e+02 0.000000e+00 6.040814e+02 -3.341081e+02 0.000000e+00 7.070493e+02 1.805066e+02 2.330660e+00 0.000000e+00 0.000000e+00 1.000000e+00 3.201153e-03
R0_rect: 9.999128e-01 1.009263e-02 -8.511932e-03 -1.012729e-02 9.999406e-01 -4.037671e-03 8.470675e-03 4.123522e-03 9.999556e-01
Tr_velo_to_cam: 6.927964e-03 -9.999722e-01 -2.757829e-03 -2.457729e-02 -1.162982e-03 2.749836e-03 -9.999955e-01 -6.127237e-02 9.999753e-01 6.931141e-03 -1.143899e-03 -3.321029e-01
Tr_imu_to_velo: 9.999976e-01 7.553071e-04 -2.035826e-03 -8.086759e-01 -7.854027e-04 9.998898e-01 -1.482298e-02 3.195559e-01 2.024406e-03 1.482454e-02 9.998881e-01 -7.997231e-01
"""  # noqa: E501 (verbatim KITTI lines)
IMAGES = "s3://bucket/scene1/images/"
FRAMES = "s3://bucket/scene1/frames/"
POSE = {"position": {"x": 1.0, "y": 2.0, "z": 0.5}, "heading": {"qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 1.0}}
FRONT = {
    "intrinsics": {"fx": 700.0, "fy": 700.0, "cx": 600.0, "cy": 180.0, "k1": 0.01, "p1": 0.0},
    "extrinsics": {
        "position": {"x": 0.27, "y": 0.0, "z": -0.08},
        "heading": {"qx": -0.5, "qy": 0.5, "qz": -0.5, "qw": 0.5},
    },
}


def rotation(heading: Any) -> np.ndarray:
    x, y, z, w = heading.qx, heading.qy, heading.qz, heading.qw
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def scene(frames: dict[str, Any], cameras: dict[str, Any] | None = None) -> Any:
    return parse_scene_document(json.dumps({"frames": frames, "cameras": cameras or {}}))


def converted(*names: str) -> list[ConvertedFrame]:
    return [ConvertedFrame(name, FRAMES + name, "binary/xyzi") for name in names]


# --- KITTI calibration -------------------------------------------------------------------------------------------


def test_bare_demo_calibration_has_intrinsics_only(corpus: Path) -> None:
    calibration = parse_kitti_calib((corpus / "point-cloud/kitti_000008_demo_calib.txt").read_text())
    intrinsics = calibration.intrinsics
    assert (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, intrinsics.skew) == (
        721.5377,
        721.5377,
        609.5593,
        172.854,
        0.0,
    )
    assert calibration.extrinsics is None


def test_standard_calibration_pose_reprojects_like_kitti() -> None:
    calibration = parse_kitti_calib(KITTI_CALIB)
    pose = calibration.extrinsics
    assert pose is not None
    i = calibration.intrinsics
    assert (i.fx, i.fy, i.cx, i.cy, i.skew) == (707.0493, 707.0493, 604.0814, 180.5066, 0.0)
    values = {line.split(":")[0]: [float(v) for v in line.split()[1:]] for line in KITTI_CALIB.splitlines()}
    p2 = np.array(values["P2"]).reshape(3, 4)
    r0 = np.eye(4)
    r0[:3, :3] = np.array(values["R0_rect"]).reshape(3, 3)
    tr = np.vstack([np.array(values["Tr_velo_to_cam"]).reshape(3, 4), [0, 0, 0, 1]])
    # by hand: the camera centre is the lidar point that P2 @ R0 @ Tr sends to (0, 0, 0)
    centre = np.linalg.solve((p2 @ r0 @ tr)[:, :3], -(p2 @ r0 @ tr)[:, 3])
    position = np.array([pose.position.x, pose.position.y, pose.position.z])
    np.testing.assert_allclose(position, centre, atol=1e-6)
    np.testing.assert_allclose(position, [0.3273, 0.0384, -0.0627], atol=5e-4)  # ahead, left of and below the lidar
    # heading: camera z (optical axis) along lidar +x, camera x (right) along lidar -y, camera y (down) along -z
    camera_to_lidar = rotation(pose.heading)
    np.testing.assert_allclose(camera_to_lidar, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=0.02)
    k = np.array([[i.fx, i.skew, i.cx], [0, i.fy, i.cy], [0, 0, 1]])
    world_to_camera = np.linalg.inv(np.vstack([np.hstack([camera_to_lidar, position[:, None]]), [0, 0, 0, 1]]))
    points = np.array([[10.0, 2.0, -1.0, 1.0], [25.0, -6.0, 0.5, 1.0], [5.0, 0.3, -1.6, 1.0]]).T
    kitti = p2 @ r0 @ tr @ points
    ground_truth = np.hstack([k, np.zeros((3, 1))]) @ world_to_camera @ points  # DG: [K|0] @ inv([Rc Tc; 0 1])
    np.testing.assert_allclose(ground_truth[:2] / ground_truth[2], kitti[:2] / kitti[2], atol=1e-3)


def test_raw_data_names_and_tracking_names_parse() -> None:
    lines = dict(line.split(": ", 1) for line in KITTI_CALIB.splitlines())
    raw = "\n".join(
        [
            "calib_time: 09-Jan-2012 13:57:47",
            f"P_rect_02: {lines['P2']}",
            f"R_rect_00: {lines['R0_rect']}",
            "R: " + " ".join(lines["Tr_velo_to_cam"].split()[i] for i in (0, 1, 2, 4, 5, 6, 8, 9, 10)),
            "T: " + " ".join(lines["Tr_velo_to_cam"].split()[i] for i in (3, 7, 11)),
        ]
    )
    tracking = f"P2: {lines['P2']}\nR_rect {lines['R0_rect']}\nTr_velo_cam {lines['Tr_velo_to_cam']}\n"
    assert parse_kitti_calib(raw) == parse_kitti_calib(KITTI_CALIB) == parse_kitti_calib(tracking)


@pytest.mark.parametrize(
    ("text", "rule", "message"),
    [
        ("", "calibration-empty", "the calibration file is empty; it needs at least the P2 line"),
        ("P2: 1 2 3\n", "calibration-count", "line 1: P2 has 3 numbers; it needs 12"),
        (
            "P0: 1 0 0 0 0 1 0 0 0 0 1 0\nP2: 7 0 6 4 0 7 1 x 0 0 1 0\n",
            "calibration-number",
            "line 2 (P2): 'x' is not a number",
        ),
        (
            "P0: 1 0 0 0 0 1 0 0 0 0 1 0\n",
            "calibration-missing-projection",
            "no P2 line (P_rect_02 in raw data); add camera 2's 3x4 projection",
        ),
        ("1 2 3 4 5\n", "calibration-count", "line 1: a bare P2 has 12 (3x4) or 16 (4x4) numbers, got 5"),
        (
            "P2: 7 0 6 4 0 7 1 0 0 0 1 0\nP2: 7 0 6 4 0 7 1 0 0 0 1 0\n",
            "calibration-duplicate",
            "line 2: P2 repeats line 1; keep one",
        ),
        (
            "P2: 7 0 6 4 0 7 1 0 0 0 1 0\nR0_rect: 1 0 0 0 1 0 0 0 0\nTr_velo_to_cam: 1 0 0 0 0 1 0 0 0 0 1 0\n",
            "calibration-rotation",
            "R0_rect (line 2) is singular (determinant 0)",
        ),
        (
            "P2: 7 0 6 4 0 7 1 0 0 0 1 0\nTr_velo_to_cam: 1 0 0 0 0 1 0 0 0 0 1 0\n",
            "calibration-missing-rectification",
            "Tr_velo_to_cam is given but R0_rect is not (R_rect_00 in raw calib_cam_to_cam.txt); add it",
        ),
        (
            "P2: 7 0 6 4 1 7 1 0 0 0 1 0\n",
            "calibration-projection",
            "line 1: P2 is not K @ [I | t] (K upper triangular, positive focal lengths, K[2,2] = 1)",
        ),
    ],
)
def test_bad_calibration(text: str, rule: str, message: str) -> None:
    with pytest.raises(CalibrationError) as raised:
        parse_kitti_calib(text)
    assert (raised.value.rule, str(raised.value)) == (rule, message)


# --- scene documents ---------------------------------------------------------------------------------------------


def test_unknown_fields_and_bad_quaternion_are_named() -> None:
    text = json.dumps(
        {
            "frames": {
                "0.bin": {
                    "unix-timestamp": 1.0,
                    "timestamp": 2,
                    "ego-vehicle-pose": {**POSE, "heading": {"qx": 0, "qy": 0, "qz": 0, "qw": 0.5}},
                }
            },
            "cameras": {"front": {**FRONT, "lens": "wide"}},
        }
    )
    with pytest.raises(InvalidSceneDocument) as raised:
        parse_scene_document(text)
    assert raised.value.errors == [
        ("frames.0.bin.timestamp", "unknown field (check its spelling)"),
        (
            "frames.0.bin.ego-vehicle-pose.heading",
            "heading quaternion has length 0.5, not 1; divide qx, qy, qz, qw by it (qw=1 and the rest 0 when the orientation is unknown)",  # noqa: E501
        ),
        ("cameras.front.lens", "unknown field (check its spelling)"),
    ]


def test_nine_cameras_and_fisheye_tangential_are_refused() -> None:
    cameras = {f"cam{n}": FRONT for n in range(9)}
    with pytest.raises(InvalidSceneDocument) as raised:
        scene({"0.bin": {"unix-timestamp": 1.0}}, cameras)
    assert raised.value.errors == [
        (
            "cameras",
            "9 cameras; Ground Truth shows at most 8 per frame: remove 1 of ['cam0', 'cam1', 'cam2', 'cam3', 'cam4', 'cam5', 'cam6', 'cam7', 'cam8']",  # noqa: E501
        )
    ]
    with pytest.raises(InvalidSceneDocument) as raised:
        scene({"0.bin": {"unix-timestamp": 1.0}}, {"fish": {**FRONT, "camera-model": "fisheye"}})
    assert raised.value.errors == [
        ("cameras.fish", "p1/p2 (tangential distortion) apply to pinhole cameras only; remove them or use pinhole")
    ]


# --- builders ----------------------------------------------------------------------------------------------------


def test_frame_lines_in_timestamp_order_pass_preflight() -> None:
    document = scene(
        {
            "000001.bin": {
                "unix-timestamp": 2.0,
                "images": {"front": {"image-path": "front/retake.jpg", "unix-timestamp": 1.95}},
            },
            "000000.bin": {"unix-timestamp": 1.0, "ego-vehicle-pose": POSE},
        },
        {"front": FRONT},
    )
    lines = scene_frame_lines(
        document,
        converted("000000.bin", "000001.bin"),
        image_prefix=IMAGES,
        existing_images={"front/000000.jpg", "front/retake.jpg"},
    )
    front = {
        "fx": 700.0, "fy": 700.0, "cx": 600.0, "cy": 180.0, "k1": 0.01, "p1": 0.0,
        "position": {"x": 0.27, "y": 0.0, "z": -0.08}, "heading": {"qx": -0.5, "qy": 0.5, "qz": -0.5, "qw": 0.5},
        "camera-model": "pinhole",
    }  # fmt: skip
    assert lines == [
        {
            "source-ref": FRAMES + "000000.bin",
            "source-ref-metadata": {
                "format": "binary/xyzi",
                "unix-timestamp": 1.0,
                "ego-vehicle-pose": POSE,
                "prefix": IMAGES,
                "images": [{"image-path": "front/000000.jpg", "unix-timestamp": 1.0} | front],
            },
        },
        {
            "source-ref": FRAMES + "000001.bin",
            "source-ref-metadata": {
                "format": "binary/xyzi",
                "unix-timestamp": 2.0,
                "prefix": IMAGES,
                "images": [{"image-path": "front/retake.jpg", "unix-timestamp": 1.95} | front],
            },
        },
    ]
    manifest = [ManifestLine(n, 1000, line) for n, line in enumerate(lines, 1)]
    assert check_point_cloud_manifest(manifest, tracking=False, read=lambda uri: None, exists=lambda uri: True) == []


def test_sequence_from_kitti_calibration_passes_preflight() -> None:
    document = scene(
        {
            "b.bin": {"unix-timestamp": 2.0, "ego-vehicle-pose": POSE},
            "a.bin": {"unix-timestamp": 1.0, "ego-vehicle-pose": POSE},
        },
        {"left": {"kitti-calibration": "calib/{stem}.txt", "image-path": "image_2/{stem}.png"}},
    )
    assert calibration_files(document) == {"calib/a.txt", "calib/b.txt"}
    sequence = scene_sequence(
        document,
        converted("a.bin", "b.bin"),
        seq_no=7,
        prefix="s3://bucket/scene1/",
        image_prefix=IMAGES,
        existing_images={"image_2/a.png", "image_2/b.png"},
        calibration_texts={"calib/a.txt": KITTI_CALIB, "calib/b.txt": KITTI_CALIB},
    )
    assert [(f["frame-no"], f["frame"], f["unix-timestamp"]) for f in sequence["frames"]] == [
        (0, "frames/a.bin", 1.0),
        (1, "frames/b.bin", 2.0),
    ]
    assert (sequence["seq-no"], sequence["prefix"], sequence["number-of-frames"]) == (7, "s3://bucket/scene1/", 2)
    image = sequence["frames"][0]["images"][0]
    assert (image["image-path"], image["fx"], image["cy"], image["camera-model"]) == (
        "image_2/a.png",
        707.0493,
        180.5066,
        "pinhole",
    )
    assert math.isclose(image["position"]["x"], 0.3273, abs_tol=5e-4)
    files = {"s3://bucket/seq7.json": json.dumps(sequence).encode()}
    manifest = [ManifestLine(1, 40, {"source-ref": "s3://bucket/seq7.json"})]
    assert check_point_cloud_manifest(manifest, tracking=True, read=files.get, exists=lambda uri: True) == []


def test_every_scene_problem_is_reported() -> None:
    document = scene(
        {"a.bin": {"unix-timestamp": 1.0}, "b.bin": {"unix-timestamp": 1.0}, "gone.bin": {"unix-timestamp": 3.0}},
        {"left": {"kitti-calibration": "calib.txt"}, "front": FRONT},
    )
    with pytest.raises(SceneError) as raised:
        scene_sequence(
            document,
            converted("a.bin", "b.bin", "extra.bin"),
            seq_no=1,
            prefix="s3://bucket/scene1/",
            image_prefix=IMAGES,
            existing_images={"front/a.jpg"},
            calibration_texts={
                "calib.txt": "721.5377 0.0 609.5593 44.85728 0.0 721.5377 172.854 0.2163791 0.0 0.0 1.0 0.002745884 0.0 0.0 0.0 1.0"  # noqa: E501
            },
        )
    assert [(p.rule, p.message) for p in raised.value.problems] == [
        (
            "frame-not-in-scene",
            "1 frames have no entry in the scene document: 'extra.bin'; add their unix-timestamp (and pose) under 'frames'",  # noqa: E501
        ),
        (
            "missing-frames",
            "1 frames of the scene document have no frame file: 'gone.bin'; add the files or remove their entries",
        ),
        ("repeated-timestamp", "frames 'a.bin' and 'b.bin' both have unix-timestamp 1.0; fix one of them"),
        (
            "camera-extrinsics-unknown",
            "camera 'left', calib.txt: the file has only a projection matrix, so the camera's pose is unknown; add Tr_velo_to_cam and R0_rect to it, or give 'intrinsics' and 'extrinsics' in the scene document",  # noqa: E501
        ),
        (
            "image-missing",
            f"3 images referenced but not under {IMAGES}: 'left/a.jpg', 'left/b.jpg', 'front/b.jpg'; upload them or fix the camera's 'image-path'",  # noqa: E501
        ),
    ]


def test_more_than_500_frames_must_be_split() -> None:
    names = [f"{n:06d}.bin" for n in range(1001)]
    document = scene({name: {"unix-timestamp": 100.0 + n / 10} for n, name in enumerate(names)})
    with pytest.raises(SceneError) as raised:
        scene_sequence(document, converted(*names), seq_no=1, prefix=FRAMES, image_prefix=None, existing_images=set())
    assert [(p.rule, p.message) for p in raised.value.problems] == [
        (
            "sequence-too-long",
            "1001 frames; a sequence holds at most 500: split the scene into 3 scene folders of at most 500 consecutive frames each",  # noqa: E501
        )
    ]
    lines = scene_frame_lines(document, converted(*names), image_prefix=None, existing_images=set())
    assert len(lines) == 1001  # single-frame jobs have no 500-frame limit
