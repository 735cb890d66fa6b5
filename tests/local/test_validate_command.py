"""`groundcrew validate`: a semantic-segmentation adjustment manifest's silent failures, found before any job."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image

from groundcrew_local.cli import main

# `tests` is not an importable package (no __init__.py, repo root not on sys.path): load the helper by path.
_spec = importlib.util.spec_from_file_location("aws_doc_samples", Path(__file__).parents[1] / "aws_doc_samples.py")
assert _spec is not None and _spec.loader is not None
aws_doc_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aws_doc_samples)

BUCKET = "data"
DOC_BUCKET = "awsexamplebucket"  # the bucket the AWS documentation's point cloud samples name
COLOR_MAP = {
    "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
    "1": {"class-name": "road", "hex-color": "#2acf59", "confidence": 0.0},
}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def put(s3: Any, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def line(
    s3: Any, name: str, mask: bytes, color_map: dict[str, Any] | None = None, size: tuple[int, int] = (8, 6)
) -> dict[str, Any]:
    image = put(s3, f"images/{name}.png", png(Image.new("RGB", size)))
    mask_uri = put(s3, f"masks/{name}.png", mask)
    return {
        "source-ref": image,
        "streets-ref": mask_uri,
        "streets-ref-metadata": {
            "internal-color-map": COLOR_MAP if color_map is None else color_map,
            "type": "groundtruth/semantic-segmentation",
            "human-annotated": "no",
            "creation-date": "2026-11-21T00:00:00.000000",
            "job-name": "imported-coco-20261121",
        },
    }


def validate(tmp_path: Path, lines: list[dict[str, Any]], *extra: str) -> tuple[int, dict[str, Any]]:
    manifest = tmp_path / "input.manifest"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, text = validate_file(manifest, "--json", *extra)
    return code, json.loads(text)


def validate_file(manifest: Path, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out
    try:
        code = main(["validate", str(manifest), *extra])
    finally:
        sys.stdout = saved
    return code, out.getvalue()


def rules(report: dict[str, Any]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["line"], set()).add(finding["rule"])
    return found


def test_every_silent_mask_failure_is_an_error_on_its_line(s3: Any, tmp_path: Path) -> None:
    good = np.zeros((6, 8), dtype=np.uint8)
    good[2:4, 2:6] = 1
    palette = Image.fromarray(good, mode="P")
    palette.putpalette([255, 255, 255, 0x2A, 0xCF, 0x59] + [0] * 762)
    wrong_palette = Image.fromarray(good, mode="P")
    wrong_palette.putpalette([255, 255, 255, 255, 0, 0] + [0] * 762)
    unmapped = good.copy()
    unmapped[0, 0] = 7
    lines = [
        line(s3, "good", png(Image.fromarray(good, mode="L"))),
        line(s3, "palette", png(palette)),
        line(s3, "json", json.dumps({"annotations": []}).encode()),
        line(s3, "rgb", png(Image.new("RGB", (8, 6)))),
        line(s3, "sixteen", png(Image.new("I;16", (8, 6)))),
        line(s3, "wrong-palette", png(wrong_palette)),
        line(s3, "one-pixel-off", png(Image.new("L", (8, 7)))),
        line(s3, "unmapped", png(Image.fromarray(unmapped, mode="L"))),
        line(
            s3,
            "no-hex",
            png(Image.fromarray(good, mode="L")),
            {"0": {"class-name": "BACKGROUND"}, **{"1": COLOR_MAP["1"]}},
        ),
    ]
    lines.append({**lines[0], "source-ref": f"s3://{BUCKET}/images/gone.png"})

    code, report = validate(tmp_path, lines)

    assert code == 1
    assert report["workflow"] == "semantic-segmentation-adjustment"
    found = rules(report)
    assert 1 not in found and 2 not in found  # a correct L mask and Ground Truth's own palette form both pass
    assert found[3] == {"mask-is-json"}
    assert "mask-mode" in found[4] and "mask-mode" in found[5]
    assert "mask-palette-disagrees" in found[6]
    assert found[7] == {"mask-size"}
    assert found[8] == {"mask-values-unmapped"}
    assert "color-map-hex-color" in found[9]
    assert found[10] == {"object-missing"}  # the image is gone (its mask is line 1's, which exists)


def test_the_adjustment_job_needs_its_own_label_attribute_and_a_ref_suffix(s3: Any, tmp_path: Path) -> None:
    mask = png(Image.new("L", (8, 6)))
    good = line(s3, "a", mask)
    other = line(s3, "b", mask)
    no_ref = {
        "source-ref": other["source-ref"],
        "streets": other["streets-ref"],
        "streets-metadata": other["streets-ref-metadata"],
    }
    code, report = validate(tmp_path, [good, no_ref], "--workflow", "semantic-segmentation-adjustment",
                            "--job-label-attribute", "streets-ref")  # fmt: skip
    assert code == 1
    found = rules(report)
    assert "adjustment-attribute-same" in found[1]
    assert found[2] == {"mask-attribute-ref"}


def test_text_output_and_a_clean_manifest_exit_zero(s3: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "m.manifest"
    manifest.write_text(json.dumps(line(s3, "a", png(Image.new("L", (8, 6))))) + "\n")
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out
    try:
        assert main(["validate", str(manifest)]) == 0
    finally:
        sys.stdout = saved
    assert "1 lines checked as semantic-segmentation-adjustment: 0 error(s)" in out.getvalue()


# --- point cloud manifests: frame lines (detection, segmentation) and sequence files (tracking) -------------------


@pytest.fixture
def doc_bucket(s3: Any, corpus: Path) -> Any:
    """The AWS documentation samples' bucket, with a real KITTI frame to put wherever a sample names a frame."""
    s3.create_bucket(Bucket=DOC_BUCKET)
    return s3


def put_frames(s3: Any, corpus: Path, *keys: str) -> None:
    frame = (corpus / "point-cloud/kitti_000000_test_velodyne_800pts.bin").read_bytes()
    for key in keys:
        s3.put_object(Bucket=DOC_BUCKET, Key=key, Body=frame)


@pytest.mark.parametrize("workflow", ["pointcloud-detection", "pointcloud-segmentation"])
def test_the_doc_single_frame_manifest_passes_when_its_frames_exist(
    doc_bucket: Any, corpus: Path, workflow: str
) -> None:
    put_frames(doc_bucket, corpus, "examplefolder/frame1.bin", "examplefolder/frame2.bin")
    code, text = validate_file(corpus / "point-cloud/awsdocs/singleframe_input.manifest", "--workflow", workflow)
    assert code == 0, text
    assert text == f"2 lines checked as {workflow}: 0 error(s), 0 warning(s)\n"


def test_a_frame_line_whose_frame_is_missing_is_an_error_on_its_line(doc_bucket: Any, corpus: Path) -> None:
    put_frames(doc_bucket, corpus, "examplefolder/frame1.bin")
    manifest = corpus / "point-cloud/awsdocs/singleframe_input.manifest"
    code, text = validate_file(manifest, "--workflow", "pointcloud-detection", "--json")
    report = json.loads(text)
    assert code == 1
    assert (report["workflow"], report["lines"], report["errors"]) == ("pointcloud-detection", 2, 1)
    (finding,) = report["findings"]
    assert (finding["line"], finding["rule"], finding["severity"]) == (2, "frame-missing", "error")
    assert finding["message"].startswith(f"s3://{DOC_BUCKET}/examplefolder/frame2.bin does not exist")


def test_the_doc_sequence_repeats_a_timestamp_and_misses_frames(doc_bucket: Any, corpus: Path) -> None:
    # The documentation's seq1.json as published: two frames sharing one unix-timestamp, 'number-of-frames' 100.
    sequence = aws_doc_samples.load_doc_json(corpus / "point-cloud/awsdocs/sequence_file_seq1_expanded.json")
    doc_bucket.put_object(Bucket=DOC_BUCKET, Key="example-folder/seq1.json", Body=json.dumps(sequence).encode())
    put_frames(doc_bucket, corpus, "example_lidar_sequence_dataset/seq1/example_lidar_frames/frame300.bin")
    manifest = corpus / "point-cloud/awsdocs/sequence_input.manifest"

    code, text = validate_file(manifest, "--workflow", "pointcloud-tracking", "--json")

    assert code == 1
    report = json.loads(text)
    assert report["workflow"] == "pointcloud-tracking"
    found = rules(report)
    assert {"repeated-timestamp", "missing-frames", "number-of-frames"} <= found[1]
    assert found[2] == {"sequence-missing"}
    (missing,) = [f for f in report["findings"] if f["rule"] == "missing-frames"]
    assert "1 of 2 frame files do not exist" in missing["message"] and "frame303.bin" in missing["message"]
    code, text = validate_file(manifest, "--workflow", "pointcloud-tracking")
    assert code == 1
    assert "line 1: error [repeated-timestamp] s3://awsexamplebucket/example-folder/seq1.json: frames[0]" in text
    assert "line 2: error [sequence-missing] s3://awsexamplebucket/example-folder/seq2.json does not exist" in text


def complete_doc_sequence(corpus: Path, seconds_apart: float) -> dict[str, Any]:
    """The documentation's seq1.json with its placeholder frame replaced by a copy of the complete one."""
    sequence: dict[str, Any] = aws_doc_samples.load_doc_json(
        corpus / "point-cloud/awsdocs/sequence_file_seq1_expanded.json"
    )
    first = sequence["frames"][0]
    first["prefix"] = "s3://awsexamplebucket/example_lidar_sequence_dataset/seq1/"  # where its image-path is
    second = {**first, "frame-no": 303, "unix-timestamp": first["unix-timestamp"] + seconds_apart}
    second["frame"] = "example_lidar_frames/frame303.bin"
    sequence.update({"number-of-frames": 2, "frames": [first, second]})
    return sequence


def validate_sequence(s3: Any, sequence: dict[str, Any], tmp_path: Path, *extra: str) -> tuple[int, str]:
    s3.put_object(Bucket=DOC_BUCKET, Key="example-folder/seq1.json", Body=json.dumps(sequence).encode())
    manifest = tmp_path / "sequences.manifest"
    manifest.write_text(json.dumps({"source-ref": f"s3://{DOC_BUCKET}/example-folder/seq1.json"}) + "\n")
    return validate_file(manifest, "--workflow", "pointcloud-tracking", *extra)


def test_a_well_formed_sequence_with_its_frames_passes(doc_bucket: Any, corpus: Path, tmp_path: Path) -> None:
    sequence = complete_doc_sequence(corpus, seconds_apart=0.1)
    put_frames(doc_bucket, corpus, *(f"example_lidar_sequence_dataset/seq1/{f['frame']}" for f in sequence["frames"]))

    code, text = validate_sequence(doc_bucket, sequence, tmp_path)

    assert code == 0, text
    assert text == "1 lines checked as pointcloud-tracking: 0 error(s), 0 warning(s)\n"


def test_a_repeated_timestamp_and_a_missing_frame_fail_the_sequence(
    doc_bucket: Any, corpus: Path, tmp_path: Path
) -> None:
    sequence = complete_doc_sequence(corpus, seconds_apart=0.0)
    put_frames(doc_bucket, corpus, "example_lidar_sequence_dataset/seq1/example_lidar_frames/frame300.bin")

    code, text = validate_sequence(doc_bucket, sequence, tmp_path, "--json")

    assert code == 1
    report = json.loads(text)
    assert (report["lines"], report["errors"], report["warnings"]) == (1, 2, 0)
    assert rules(report) == {1: {"missing-frames", "repeated-timestamp"}}
