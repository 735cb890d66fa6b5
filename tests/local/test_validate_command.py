"""`groundcrew validate`: a semantic-segmentation adjustment manifest's silent failures, found before any job."""

from __future__ import annotations

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

BUCKET = "data"
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
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out
    try:
        code = main(["validate", str(manifest), "--json", *extra])
    finally:
        sys.stdout = saved
    return code, json.loads(out.getvalue())


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
