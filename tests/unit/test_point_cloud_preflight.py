"""Point cloud preflight: AWS documentation samples and hand-made frame lines and sequence files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from groundcrew.core.manifests import ManifestLine, parse_lines
from groundcrew.core.preflight import Finding, Severity
from groundcrew.workflows.point_cloud.preflight import (
    check_frame_line,
    check_point_cloud_manifest,
    check_sequence_document,
)

# `tests` is not an importable package (no __init__.py, repo root not on sys.path): load the helper by path.
_spec = importlib.util.spec_from_file_location("aws_doc_samples", Path(__file__).parents[1] / "aws_doc_samples.py")
assert _spec is not None and _spec.loader is not None
aws_doc_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aws_doc_samples)
load_doc_json, doc_json_values = aws_doc_samples.load_doc_json, aws_doc_samples.doc_json_values

SEQ = "s3://bucket/seqs/seq1.json"
PREFIX = "s3://bucket/scene/"
W = Severity.WARNING


def image(**changes: Any) -> dict[str, Any]:
    entry = {
        "image-path": "front/000000.jpg",
        "unix-timestamp": 10.0,
        "fx": 721.5,
        "fy": 721.5,
        "cx": 609.5,
        "cy": 172.8,
        "position": {"x": 0.27, "y": 0.06, "z": -0.08},
        "heading": {"qx": -0.5, "qy": 0.5, "qz": -0.5, "qw": 0.5},
        "camera-model": "pinhole",
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def frame_line(**metadata: Any) -> dict[str, Any]:
    meta = {"format": "binary/xyzi", "unix-timestamp": 10.0, "prefix": "s3://bucket/images/", "images": [image()]}
    meta.update(metadata)
    return {
        "source-ref": "s3://bucket/frames/000000.bin",
        "source-ref-metadata": {k: v for k, v in meta.items() if v is not None},
    }


def sequence(frames: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    document = {"seq-no": 1, "prefix": PREFIX, "number-of-frames": len(frames), "frames": frames}
    document.update(changes)
    return document


def seq_frame(index: int, stamp: float, **changes: Any) -> dict[str, Any]:
    frame = {"frame-no": index, "unix-timestamp": stamp, "frame": f"frames/{index:06d}.bin", "format": "binary/xyzi"}
    frame.update(changes)
    return frame


def findings(document: Any) -> list[tuple[str, str, Severity]]:
    return [(f.rule, f.message, f.severity) for f in check_sequence_document(document, line=3, source=SEQ)]


# --- AWS documentation samples ----------------------------------------------------------------------------------


def test_doc_single_frame_manifest_passes(corpus: Path) -> None:
    path = corpus / "point-cloud/awsdocs/singleframe_input.manifest"
    with path.open("rb") as stream:
        checked: list[str] = []
        result = check_point_cloud_manifest(
            parse_lines(stream), tracking=False, read=lambda uri: None, exists=lambda uri: checked.append(uri) or True
        )
    assert result == []
    assert checked == [
        "s3://awsexamplebucket/examplefolder/frame1.bin",
        "s3://awsexamplebucket/examplefolder/frame2.bin",
    ]


def test_doc_single_frame_expanded_lines_pass(corpus: Path) -> None:
    lines = doc_json_values((corpus / "point-cloud/awsdocs/singleframe_input_expanded.json").read_text())
    assert len(lines) == 2
    assert [list(check_frame_line(line, number)) for number, line in enumerate(lines, 1)] == [[], []]


def test_doc_object_detection_output_prefix_lacks_slash(corpus: Path) -> None:
    output = load_doc_json(corpus / "point-cloud/awsdocs/output_3d_object-detection.json")
    line = {"source-ref": output["source-ref"], "source-ref-metadata": output["source-ref-metadata"]}
    assert list(check_frame_line(line, 7)) == [
        Finding(
            7,
            "prefix",
            "source-ref-metadata: 'prefix' must be an s3://bucket/folder/ URI ending with '/', "
            "got 's3://AWSDOC-EXAMPLE-BUCKET/lidar_singleframe_dataset/prefix'",
        ),
        Finding(
            7,
            "unknown-key",
            "source-ref-metadata images[0]: 'camera_model' is not a Ground Truth field; did you mean 'camera-model'?",
            W,
        ),
    ]


def test_doc_sequence_manifest_and_sequence_file(corpus: Path) -> None:
    sample = load_doc_json(corpus / "point-cloud/awsdocs/sequence_file_seq1_expanded.json")
    seq1 = "s3://awsexamplebucket/example-folder/seq1.json"
    files = {seq1: json.dumps(sample).encode()}
    frame303 = "s3://awsexamplebucket/example_lidar_sequence_dataset/seq1/example_lidar_frames/frame303.bin"
    with (corpus / "point-cloud/awsdocs/sequence_input.manifest").open("rb") as stream:
        result = check_point_cloud_manifest(
            parse_lines(stream), tracking=True, read=files.get, exists=lambda uri: uri != frame303
        )
    f0 = f"{seq1} frames[0] ('example_lidar_frames/frame300.bin')"
    f1 = f"{seq1} frames[1] ('example_lidar_frames/frame303.bin')"
    assert [(f.line, f.rule, f.message, f.severity) for f in result] == [
        (1, "number-of-frames", f"{seq1}: 'number-of-frames' is 100 but 'frames' lists 2; set it to 2", Severity.ERROR),
        (
            1,
            "images-prefix",
            f"{f0}: images without a per-frame 'prefix'; add the s3:// folder their 'image-path' is in",
            W,
        ),
        (
            1,
            "format-suffix",
            f"{f1}: format 'text/xyzi' but the file is '.bin'; check that the file really is text or fix 'format'",
            W,
        ),
        (
            1,
            "position-shape",
            f"{f1} ego-vehicle-pose: 'position' must be an object with x, y, z numbers",
            Severity.ERROR,
        ),
        (
            1,
            "heading-shape",
            f"{f1} ego-vehicle-pose: 'heading' must be an object with qx, qy, qz, qw numbers",
            Severity.ERROR,
        ),
        (
            1,
            "image-path",
            f"{f1} images[0]: 'image-path' must be a path relative to the frame's prefix "
            "(no s3://, no leading '/'), got None",
            Severity.ERROR,
        ),
        (
            1,
            "timestamp-missing",
            f"{f1} images[0]: 'unix-timestamp' is required (seconds since 1970, UTC)",
            Severity.ERROR,
        ),
        (1, "camera-intrinsics", f"{f1} images[0]: fx, fy, cx, cy must be numbers (pixels)", Severity.ERROR),
        (1, "position-shape", f"{f1} images[0]: 'position' must be an object with x, y, z numbers", Severity.ERROR),
        (
            1,
            "heading-shape",
            f"{f1} images[0]: 'heading' must be an object with qx, qy, qz, qw numbers",
            Severity.ERROR,
        ),
        (
            1,
            "images-prefix",
            f"{f1}: images without a per-frame 'prefix'; add the s3:// folder their 'image-path' is in",
            W,
        ),
        (
            1,
            "repeated-timestamp",
            f"{seq1}: frames[0] ('example_lidar_frames/frame300.bin') and "
            "frames[1] ('example_lidar_frames/frame303.bin') "
            "both have unix-timestamp 1566861644.759115; each frame needs its own capture time "
            "(Ground Truth interpolates cuboids between frames)",
            Severity.ERROR,
        ),
        (
            1,
            "missing-frames",
            f"{seq1}: 1 of 2 frame files do not exist: '{frame303}'; upload them or remove those frames "
            "(and fix 'number-of-frames')",
            Severity.ERROR,
        ),
        (
            2,
            "sequence-missing",
            "s3://awsexamplebucket/example-folder/seq2.json does not exist or is not readable",
            Severity.ERROR,
        ),
    ]


# --- frame lines -------------------------------------------------------------------------------------------------


def test_valid_frame_line_has_no_findings() -> None:
    assert list(check_frame_line(frame_line(), 1)) == []


def rules(line: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in check_frame_line(line, 4)]


def test_format_defaults_from_suffix_only_for_bin_and_txt() -> None:
    assert rules(frame_line(format=None)) == []
    line = frame_line(format=None)
    line["source-ref"] = "s3://bucket/frames/000000.pcd"
    assert rules(line) == [
        (
            "format-missing",
            "source-ref-metadata: no 'format' and the file suffix '.pcd' has no default (only .bin -> binary/xyzi and "
            ".txt -> text/xyzi); set 'format' to one of binary/xyz, binary/xyzi, binary/xyzrgb, binary/xyzirgb, "
            "text/xyz, text/xyzi, text/xyzrgb, text/xyzirgb",
        )
    ]
    assert rules(frame_line(format="binary/xyzrgbi"))[0][0] == "format"


def test_frame_line_shape_errors_are_all_reported() -> None:
    line = frame_line(
        **{"unix-timestamp": "yesterday", "prefix": "s3://bucket/images", "ego-vehicle-pose": {"position": {"x": 1}}},
        images=[image(fx=None, **{"camera-model": "fisheye", "p1": 0.0, "image-path": "s3://bucket/images/a.jpg"})],
    )
    line["source-ref"] = "frames/000000.bin"
    line["number-of-frames"] = 1
    assert [rule for rule, _ in rules(line)] == [
        "source-ref",
        "sequence-key-in-frame-line",
        "timestamp",
        "position-shape",
        "heading-shape",
        "prefix",
        "image-path",
        "camera-intrinsics",
        "fisheye-tangential",
    ]


def test_frame_line_without_metadata_or_with_nine_cameras() -> None:
    assert rules({"source-ref": "s3://bucket/a.bin"}) == [
        (
            "source-ref-metadata",
            "'source-ref-metadata' (an object with at least 'unix-timestamp') is required for point cloud frames",
        )
    ]
    nine = [image(**{"image-path": f"cam{n}/0.jpg"}) for n in range(9)]
    assert rules(frame_line(images=nine)) == [
        (
            "too-many-cameras",
            "source-ref-metadata: 9 images; Ground Truth shows at most 8 cameras per frame, drop 1",
        )
    ]
    assert rules(frame_line(prefix=None)) == [
        ("images-prefix", "source-ref-metadata: images need 'prefix', the s3:// folder their 'image-path' is in")
    ]


def test_non_unit_heading_is_flagged() -> None:
    heading = {"qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 2.0}
    result = list(check_frame_line(frame_line(images=[image(heading=heading)]), 2))
    assert [(f.rule, f.severity) for f in result] == [("heading-not-unit", W)]
    zero = {"qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 0.0}
    result = list(check_frame_line(frame_line(images=[image(heading=zero)]), 2))
    assert [(f.rule, f.severity) for f in result] == [("heading-not-unit", Severity.ERROR)]


# --- sequence files ----------------------------------------------------------------------------------------------


def test_valid_sequence_has_no_findings() -> None:
    assert findings(sequence([seq_frame(0, 1.0), seq_frame(1, 1.1)])) == []


def test_number_of_frames_mismatch() -> None:
    assert findings(sequence([seq_frame(0, 1.0)], **{"number-of-frames": 3})) == [
        ("number-of-frames", f"{SEQ}: 'number-of-frames' is 3 but 'frames' lists 1; set it to 1", Severity.ERROR)
    ]


def test_repeated_and_decreasing_timestamps_name_the_frames() -> None:
    document = sequence([seq_frame(0, 1.0), seq_frame(1, 2.0), seq_frame(2, 1.0), seq_frame(3, 1.5)])
    assert findings(document) == [
        (
            "repeated-timestamp",
            f"{SEQ}: frames[0] ('frames/000000.bin') and frames[2] ('frames/000002.bin') both have unix-timestamp 1.0; "
            "each frame needs its own capture time (Ground Truth interpolates cuboids between frames)",
            Severity.ERROR,
        ),
        (
            "timestamp-order",
            f"{SEQ}: frames[3] ('frames/000003.bin') has unix-timestamp 1.5, earlier than the frame before it (2.0); "
            "order frames by unix-timestamp",
            Severity.ERROR,
        ),
    ]


def test_more_than_500_frames() -> None:
    frames = [seq_frame(n, 1.0 + n / 10) for n in range(501)]
    assert findings(sequence(frames)) == [
        (
            "sequence-too-long",
            f"{SEQ}: 501 frames; a sequence holds at most 500: split it into 2 sequence files",
            Severity.ERROR,
        )
    ]


def test_sequence_header_and_frame_paths() -> None:
    document = sequence(
        [
            seq_frame(0, 1.0, frame="s3://bucket/scene/frames/0.bin"),
            seq_frame(1, 2.0, frame="/frames/1.bin", prefix="s3://b/x"),
        ],
        **{"seq-no": "1", "prefix": "s3://bucket/scene"},
    )
    assert [rule for rule, _, _ in findings(document)] == ["seq-no", "prefix", "frame-path", "frame-path", "prefix"]
    assert findings({"seq-no": 1, "prefix": PREFIX, "number-of-frames": 0, "frames": []}) == [
        ("frames", f"{SEQ}: 'frames' must be a non-empty list of frames", Severity.ERROR)
    ]


def test_manifest_reports_every_line_and_missing_frames() -> None:
    frames = [seq_frame(n, float(n)) for n in range(8)]
    files = {SEQ: json.dumps(sequence(frames)).encode(), "s3://bucket/seqs/bad.json": b"{not json"}
    lines = [
        ManifestLine(1, 40, {"source-ref": SEQ}),
        ManifestLine(2, 40, {"source-ref": "s3://bucket/seqs/bad.json"}),
        ManifestLine(3, 40, {"source-ref": "s3://bucket/seqs/none.json", "source-ref-metadata": {}}),
    ]
    present = {f"{PREFIX}frames/000000.bin"}
    result = check_point_cloud_manifest(lines, tracking=True, read=files.get, exists=present.__contains__)
    assert [(f.line, f.rule) for f in result] == [
        (1, "missing-frames"),
        (2, "sequence-not-json"),
        (3, "tracking-line"),
        (3, "sequence-missing"),
    ]
    assert result[0].message == (
        f"{SEQ}: 7 of 8 frame files do not exist: '{PREFIX}frames/000001.bin', '{PREFIX}frames/000002.bin', "
        f"'{PREFIX}frames/000003.bin', '{PREFIX}frames/000004.bin', '{PREFIX}frames/000005.bin' and 2 more; "
        "upload them or remove those frames (and fix 'number-of-frames')"
    )


def test_frame_manifest_missing_frame_file_and_empty_manifest() -> None:
    lines = [ManifestLine(1, 10, frame_line())]
    result = check_point_cloud_manifest(lines, tracking=False, read=lambda uri: None, exists=lambda uri: False)
    assert result == [
        Finding(1, "frame-missing", "s3://bucket/frames/000000.bin does not exist; upload it or drop the line")
    ]
    assert check_point_cloud_manifest([], tracking=False, read=lambda uri: None, exists=lambda uri: True) == [
        Finding(None, "empty-manifest", "the manifest has no lines")
    ]


@pytest.mark.parametrize("tracking", [False, True])
def test_too_many_items(tracking: bool) -> None:
    line = {"source-ref": SEQ} if tracking else frame_line()
    body = json.dumps(sequence([seq_frame(0, 1.0)])).encode()
    lines = (ManifestLine(n, 10, line) for n in range(1, 100_002))
    result = check_point_cloud_manifest(lines, tracking=tracking, read=lambda uri: body, exists=lambda uri: True)
    kind = "sequences" if tracking else "frames"
    assert result == [
        Finding(None, "too-many-items", f"100001 {kind}; a labeling job takes at most 100000: split the manifest")
    ]
