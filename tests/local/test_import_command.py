"""`groundcrew import`: other tools' annotations into masks or boxes and an adjustment job's manifest."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from PIL import Image

from groundcrew.workflows.adjustment.masks import ClassMap, check_mask
from groundcrew_local.cli import main


def image(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 150)).save(path)


def run(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    import sys

    saved, sys.stdout = sys.stdout, out
    try:
        code = main(["import", *args, "--json"])
    finally:
        sys.stdout = saved
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def test_coco_polygons_become_exact_size_masks_and_a_manifest(corpus: Path, tmp_path: Path) -> None:
    annotations = corpus / "external-annotations" / "coco_instances_labelme2coco.json"
    document = json.loads(annotations.read_text())
    images = tmp_path / "images"
    for entry in document["images"][:2]:  # the third image is missing on purpose
        image(images / entry["file_name"], (entry["width"], entry["height"]))
    out = tmp_path / "out"

    code, summary = run(
        "coco", str(annotations), "--images", str(images), "--out", str(out),
        "--images-s3-prefix", "s3://data/images/", "--out-s3-prefix", "s3://data/imports/shapes/",
    )  # fmt: skip

    assert code == 0
    assert summary["converted_images"] == 2
    assert summary["refusals"]["image-missing"]["count"] == 1
    assert summary["adjustment_label_attribute"].endswith("-ref")
    assert summary["adjustment_label_attribute"] != summary["label_attribute"]
    lines = [json.loads(line) for line in (out / "output.manifest").read_text().splitlines()]
    assert len(lines) == 2
    class_map = ClassMap.from_labels(summary["labels"])
    for line, entry in zip(lines, document["images"], strict=False):
        assert line["source-ref"] == f"s3://data/images/{entry['file_name']}"
        mask_uri = line["imported-ref"]
        assert mask_uri.startswith("s3://data/imports/shapes/masks/")
        metadata = line["imported-ref-metadata"]
        assert metadata["type"] == "groundtruth/semantic-segmentation"
        assert metadata["internal-color-map"]["0"]["class-name"] == "BACKGROUND"
        mask = (out / mask_uri.removeprefix("s3://data/imports/shapes/")).read_bytes()
        assert check_mask(mask, (entry["width"], entry["height"]), class_map) == []
        with Image.open(io.BytesIO(mask)) as opened:
            assert opened.mode == "L" and opened.size == (entry["width"], entry["height"])
            assert opened.getextrema()[1] > 0  # the shapes were painted


def test_voc_boxes_are_checked_against_the_real_image_size(corpus: Path, tmp_path: Path) -> None:
    annotations = corpus / "external-annotations" / "voc2007_000002_mmdetection_test.xml"
    text = annotations.read_text()
    name = text.split("<filename>")[1].split("</filename>")[0]
    width = int(text.split("<width>")[1].split("</width>")[0])
    height = int(text.split("<height>")[1].split("</height>")[0])
    images = tmp_path / "images"
    image(images / name, (width, height))

    code, summary = run(
        "voc", str(annotations), "--images", str(images), "--out", str(tmp_path / "out"),
        "--images-s3-prefix", "s3://data/images/",
    )  # fmt: skip

    assert code == 0 and summary["converted_images"] == 1
    (line,) = [json.loads(x) for x in (tmp_path / "out" / "output.manifest").read_text().splitlines()]
    value, metadata = line["imported"], line["imported-metadata"]
    assert value["image_size"] == [{"width": width, "height": height, "depth": 3}]
    assert len(value["annotations"]) == len(metadata["objects"]) > 0
    assert metadata["type"] == "groundtruth/object-detection"

    image(images / name, (width + 1, height))  # the same file name, resized by one pixel
    code, summary = run(
        "voc", str(annotations), "--images", str(images), "--out", str(tmp_path / "out2"),
        "--images-s3-prefix", "s3://data/images/",
    )  # fmt: skip
    assert code == 1 and summary["refusals"]["size-mismatch"]["count"] == 1


def test_yolo_needs_its_classes_and_reads_sizes_from_the_images(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "cat.txt").write_text("0 0.5 0.5 0.5 0.5\n7 0.5 0.5 0.1 0.1\n")
    (labels / "classes.txt").write_text("cat\ndog\n")
    image(tmp_path / "images" / "cat.jpg", (200, 100))

    code, summary = run(
        "yolo", str(labels), "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out"),
        "--classes", str(labels / "classes.txt"), "--images-s3-prefix", "s3://data/images/",
    )  # fmt: skip

    assert code == 0
    assert summary["refusals"]["unknown-category"]["count"] == 1
    (line,) = [json.loads(x) for x in (tmp_path / "out" / "output.manifest").read_text().splitlines()]
    assert line["imported"]["annotations"] == [{"class_id": 0, "left": 50, "top": 25, "width": 100, "height": 50}]


def test_a_label_attribute_that_breaks_ground_truths_rules_is_refused(tmp_path: Path) -> None:
    code = main(["import", "coco", str(tmp_path), "--images", str(tmp_path), "--out", str(tmp_path),
                 "--label-attribute", "masks"])  # fmt: skip
    assert code == 2  # semantic segmentation labels must end in -ref


def test_s3_in_and_out(tmp_path: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        buffer = io.BytesIO()
        Image.new("RGB", (60, 40)).save(buffer, format="PNG")
        s3.put_object(Bucket="data", Key="images/a.png", Body=buffer.getvalue())
        labelme = {
            "imagePath": "a.png",
            "imageWidth": 60,
            "imageHeight": 40,
            "shapes": [{"label": "road", "shape_type": "polygon", "points": [[0, 0], [30, 0], [30, 20]]}],
        }
        s3.put_object(Bucket="data", Key="incoming-labels/a.json", Body=json.dumps(labelme).encode())

        code, summary = run(
            "labelme", "s3://data/incoming-labels/", "--images", "s3://data/images/", "--out", "s3://data/imports/x/"
        )

        assert code == 0 and summary["converted_images"] == 1
        manifest = s3.get_object(Bucket="data", Key="imports/x/output.manifest")["Body"].read().decode()
        line = json.loads(manifest)
        assert line["source-ref"] == "s3://data/images/a.png"
        assert line["imported-ref"] == "s3://data/imports/x/masks/a.png"
        mask = s3.get_object(Bucket="data", Key="imports/x/masks/a.png")
        assert mask["ServerSideEncryption"] == "AES256"
