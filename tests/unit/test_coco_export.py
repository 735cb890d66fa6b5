"""Ground Truth output back to COCO: the RLE against pycocotools, and the round trip from real annotation files."""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from groundcrew.workflows.adjustment import masks
from groundcrew.workflows.adjustment.coco_export import (
    box_iou,
    decode_rle,
    encode_rle,
    export_coco,
    mask_iou,
    mask_labels,
    relative_to,
    rle_string,
)
from groundcrew.workflows.adjustment.imports import augmented_manifests as importing
from groundcrew.workflows.adjustment.imports.segmentation import ImageAnnotations

# pycocotools 2.0 on numpy 2 warns about its own __array__; nothing to do with the code under test
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
ANNOTATIONS = CORPUS / "external-annotations"
IMAGES = CORPUS / "images"
ATTRIBUTE = "labels-ref"
ADJUSTED = "labels-adjusted-ref"
BOXES = "boxes"
CREATED = "2026-01-02T03:04:05.000000"


def corpus(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"corpus file {path.name} not available")
    return path.read_bytes()


def pycoco_counts(mask: np.ndarray) -> str:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()


def png(array: np.ndarray, mode: str | None = None, palette: Sequence[int] | None = None) -> bytes:
    image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
    if palette is not None:
        image.putpalette(list(palette))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def rgb(hex_color: str) -> list[int]:
    return [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]


def ground_truth_mask(mask: np.ndarray, color_map: Mapping[str, Any], order: Sequence[str] | None = None) -> bytes:
    """A mode P mask as Ground Truth writes it: palette entry i = hex-color of key order[i], pixel = that i.

    `order` None is the safe layout (index = key); a shuffled order makes index and key disagree (contracts 1.2.2).
    """
    keys = list(order) if order is not None else sorted(color_map, key=int)
    index_of_key = np.zeros(256, dtype=np.uint8)
    for index, key in enumerate(keys):
        index_of_key[int(key)] = index
    palette = [channel for key in keys for channel in rgb(color_map[key]["hex-color"])]
    return png(index_of_key[mask], "P", palette)


# --- RLE --------------------------------------------------------------------------------------------------------------


def random_masks() -> list[np.ndarray]:
    generator = np.random.default_rng(7)
    found = [
        np.zeros((5, 7), dtype=bool),
        np.ones((5, 7), dtype=bool),
        np.ones((1, 1), dtype=bool),
        np.zeros((1, 1), dtype=bool),
        np.eye(6, dtype=bool),
    ]
    for _ in range(40):
        height, width = generator.integers(1, 90, size=2)
        density = generator.choice([0.01, 0.3, 0.5, 0.97])
        found.append(generator.random((height, width)) < density)
    # long runs after short ones: large and negative deltas against the run two back
    wide = np.zeros((400, 300), dtype=bool)
    wide[:, 10:250] = True
    wide[5:7, 3] = True
    wide[399, 299] = True
    found.append(wide)
    return found


@pytest.mark.parametrize("mask", random_masks(), ids=lambda m: f"{m.shape[0]}x{m.shape[1]}-{int(m.sum())}")
def test_rle_is_byte_for_byte_pycocotools(mask: np.ndarray) -> None:
    ours = encode_rle(mask)
    assert ours["size"] == list(mask.shape)
    assert ours["counts"] == pycoco_counts(mask)
    assert np.array_equal(decode_rle(ours), mask)
    theirs = coco_mask.decode({"size": ours["size"], "counts": ours["counts"].encode()})
    assert np.array_equal(theirs.astype(bool), mask)


def test_rle_string_of_big_and_negative_deltas_matches_pycocotools() -> None:
    runs = [0, 1, 70000, 2, 3, 1_000_000, 5, 40, 39]
    height = sum(runs)
    mask = np.repeat(np.arange(len(runs)) % 2, runs).astype(bool).reshape(height, 1)
    assert rle_string(runs) == pycoco_counts(mask)


def test_rle_of_every_class_of_a_real_ground_truth_mask() -> None:
    mask = np.asarray(Image.open(io.BytesIO(corpus(IMAGES / "l4v-augmentation_mask.png"))))
    for value in np.unique(mask):
        region = mask == value
        ours = encode_rle(region)
        assert ours["counts"] == pycoco_counts(region)
        assert np.array_equal(decode_rle(ours), region)


# --- overlap measures -------------------------------------------------------------------------------------------------


def test_mask_iou_and_box_iou() -> None:
    a = np.zeros((4, 4), dtype=bool)
    b = np.zeros((4, 4), dtype=bool)
    assert mask_iou(a, b) == 1.0
    a[0, :2] = True
    b[0, 1:3] = True
    assert mask_iou(a, b) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shape"):
        mask_iou(a, np.zeros((2, 2), dtype=bool))
    assert box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert box_iou([0, 0, 2, 2], [1, 0, 2, 2]) == pytest.approx(1 / 3)
    assert box_iou([0, 0, 1, 1], [5, 5, 1, 1]) == 0.0


# --- the round trip through a Ground Truth semantic segmentation job --------------------------------------------------


def blank_image(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format="PNG")
    return buffer.getvalue()


def imported(source_format: str, document: bytes) -> tuple[list[dict[str, Any]], dict[str, bytes], list[Any]]:
    """Import as the pipeline does, storage in memory; the real photo for 2011_000003, blank stand-ins elsewhere."""
    photo = corpus(IMAGES / "labelme_voc_2011_000003.jpg")
    parsed = importing.parse_segmentation(source_format, [document])
    images = {image.file_name: image for image in parsed[0]}

    def read_image(name: str) -> bytes | None:
        # only the header size is read; the corpus holds the 2011_000003 photo, the others get a blank of their size
        size = images[name].declared_size
        return photo if name.endswith("2011_000003.jpg") else blank_image(size) if size else None

    stored: dict[str, bytes] = {}

    def write(path: str, body: bytes, content_type: str) -> str:
        stored[f"s3://bucket/import/{path}"] = body
        return f"s3://bucket/import/{path}"

    result = importing.import_segmentation(
        parsed,
        read_image=read_image,
        write=write,
        source_uri=lambda name: f"s3://bucket/images/{name}",
        attribute=ATTRIBUTE,
        job_name="imported",
        created=CREATED,
    )
    assert not result.summary.refusals
    return result.lines, stored, parsed[0]


def adjustment_output(
    lines: list[dict[str, Any]], stored: dict[str, bytes], shuffle: bool
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """What an unadjusted Ground Truth job writes back: palette masks under the adjustment's attribute."""
    shuffler = random.Random(3)
    outputs: dict[str, bytes] = {}
    output_lines = []
    for number, line in enumerate(lines):
        metadata = line[f"{ATTRIBUTE}-metadata"]
        color_map = metadata["internal-color-map"]
        order = sorted(color_map, key=int)
        if shuffle:
            shuffler.shuffle(order)
            assert order != sorted(color_map, key=int)
        mask = np.asarray(Image.open(io.BytesIO(stored[line[ATTRIBUTE]])))
        uri = f"s3://bucket/job/annotations/consolidated-annotation/output/{number}.png"
        outputs[uri] = ground_truth_mask(mask, color_map, order)
        output_lines.append(
            {
                **line,
                ADJUSTED: uri,
                f"{ADJUSTED}-metadata": {
                    "internal-color-map": color_map,
                    "type": "groundtruth/semantic-segmentation",
                    "human-annotated": "yes",
                    "creation-date": CREATED,
                    "job-name": "labeling-job/adjust",
                    "adjustment-status": "unadjusted",
                },
            }
        )
    return output_lines, outputs


def original_regions(image: ImageAnnotations) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per class: the union of its shapes, and what is left of it under later shapes of other classes.

    Each shape is rasterised alone with a one-class map (the importer's fill rule), so this does not reuse the
    import's own mask. The import paints shapes in file order, so where classes overlap the later one wins.
    """
    assert image.declared_size is not None
    union: dict[str, np.ndarray] = {}
    owner = np.full(image.declared_size[::-1], "", dtype=object)
    for shape in image.shapes:
        drawn = masks.rasterize([shape], masks.ClassMap.from_labels([shape.label]), image.declared_size) > 0
        union[shape.label] = union.get(shape.label, np.zeros_like(drawn)) | drawn
        owner[drawn] = shape.label
    return union, {label: owner == label for label in union}


ROUND_TRIPS = [
    ("labelme", "labelme_2011_000003_polygons.json"),
    ("coco", "coco_instances_labelme2coco.json"),
]


@pytest.mark.parametrize("shuffle", [False, True], ids=["index-is-key", "palette-shuffled"])
@pytest.mark.parametrize(("source_format", "file"), ROUND_TRIPS)
def test_round_trip_gives_back_every_class_region(source_format: str, file: str, shuffle: bool) -> None:
    lines, stored, images = imported(source_format, corpus(ANNOTATIONS / file))
    output_lines, outputs = adjustment_output(lines, stored, shuffle)
    manifest = [orjson.dumps(line) for line in output_lines]  # as read from output.manifest

    exported = export_coco(manifest, ADJUSTED, read=outputs.__getitem__, file_name=relative_to("s3://bucket/images"))

    assert exported.problems == []
    coco = COCO()
    coco.dataset = exported.coco
    coco.createIndex()
    by_name = {image.file_name: image for image in images}
    names = {category["id"]: category["name"] for category in exported.coco["categories"]}
    assert list(names.values()) == importing.parse_segmentation(source_format, [corpus(ANNOTATIONS / file)])[1]
    compared = 0
    for entry in exported.coco["images"]:
        image = by_name[entry["file_name"]]
        assert (entry["width"], entry["height"]) == image.declared_size
        union, visible = original_regions(image)
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[entry["id"]]))
        assert sorted(names[a["category_id"]] for a in annotations) == sorted(union)  # one region per class
        for annotation in annotations:
            label = names[annotation["category_id"]]
            region = coco.annToMask(annotation).astype(bool)  # decoded by pycocotools
            assert mask_iou(region, visible[label]) == 1.0
            if all(not (union[label] & union[other]).any() for other in union if other != label):
                assert mask_iou(region, union[label]) == 1.0  # no other class drawn over it: the shapes, exactly
            assert annotation["area"] == int(coco_mask.area(annotation["segmentation"]))
            assert annotation["bbox"] == coco_mask.toBbox(annotation["segmentation"]).tolist()
            assert annotation["iscrowd"] == 0
            compared += 1
    assert compared == sum(len({shape.label for shape in image.shapes}) for image in images)


def test_shapes_of_classes_that_do_not_overlap_come_back_exactly() -> None:
    """Without the person, 2011_000003's bottle and __ignore__ share no pixel: each comes back as its shapes' union.

    (Every image of the corpus has overlapping classes, so the test above only meets this case here.)
    """
    document = orjson.loads(corpus(ANNOTATIONS / "labelme_2011_000003_polygons.json"))
    document["shapes"] = [shape for shape in document["shapes"] if shape["label"] != "person"]
    lines, stored, images = imported("labelme", orjson.dumps(document))
    output_lines, outputs = adjustment_output(lines, stored, shuffle=True)
    exported = export_coco(output_lines, ADJUSTED, read=outputs.__getitem__)
    union, _ = original_regions(images[0])
    names = {category["id"]: category["name"] for category in exported.coco["categories"]}
    regions = {names[a["category_id"]]: decode_rle(a["segmentation"]) for a in exported.coco["annotations"]}
    assert sorted(regions) == ["__ignore__", "bottle"]
    assert not (union["bottle"] & union["__ignore__"]).any()
    for label, region in regions.items():
        assert mask_iou(region, union[label]) == 1.0


def test_overlapping_classes_come_back_as_the_import_painted_them() -> None:
    """In 2011_000003 the person shares 2 pixels with the bottle and 20 with __ignore__, both later in the file."""
    lines, stored, images = imported("labelme", corpus(ANNOTATIONS / "labelme_2011_000003_polygons.json"))
    output_lines, outputs = adjustment_output(lines, stored, shuffle=True)
    exported = export_coco(output_lines, ADJUSTED, read=outputs.__getitem__)
    union, _ = original_regions(images[0])
    names = {category["id"]: category["name"] for category in exported.coco["categories"]}
    person = next(a for a in exported.coco["annotations"] if names[a["category_id"]] == "person")
    assert int((union["person"] & union["bottle"]).sum()) == 2
    assert int((union["person"] & union["__ignore__"]).sum()) == 20
    assert person["area"] == int(union["person"].sum()) - 22
    assert mask_iou(decode_rle(person["segmentation"]), union["person"]) == pytest.approx(1 - 22 / 32406)
    assert exported.coco["images"][0]["file_name"] == "2011_000003.jpg"


def test_a_real_ground_truth_output_line_exports() -> None:
    line = orjson.loads(corpus(CORPUS / "gt-manifests" / "l4v-augmentation_semantic-segmentation_output.manifest"))
    mask_png = corpus(IMAGES / "l4v-augmentation_mask.png")
    exported = export_coco([line], "S10-label3-ref", read={line["S10-label3-ref"]: mask_png}.__getitem__)
    assert exported.problems == []
    assert [c["name"] for c in exported.coco["categories"]] == ["IC", "resistor1", "resistor2"]
    assert exported.coco["images"] == [{"id": 1, "file_name": "s10.png", "width": 1696, "height": 959}]
    indices = np.asarray(Image.open(io.BytesIO(mask_png)))
    for annotation in exported.coco["annotations"]:
        expected = indices == annotation["category_id"]  # this mask's palette happens to follow the keys
        assert annotation["segmentation"]["counts"] == pycoco_counts(expected)


def test_greyscale_and_rgb_masks_map_by_value_and_colour() -> None:
    color_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "cat", "hex-color": "#2acf59"},
        "2": {"class-name": "dog", "hex-color": "#f28333"},
    }
    keys = np.zeros((6, 5), dtype=np.uint8)
    keys[1:3, 1:4] = 1
    keys[4:, :] = 2
    colors = np.asarray([rgb(color_map[str(k)]["hex-color"]) for k in range(3)], dtype=np.uint8)
    rgba = np.dstack([colors[keys], np.full(keys.shape, 255, dtype=np.uint8)])
    for body in (png(keys, "L"), png(colors[keys], "RGB"), png(rgba, "RGBA"), ground_truth_mask(keys, color_map)):
        labels, names = mask_labels(body, color_map)
        assert names == ("BACKGROUND", "cat", "dog")
        assert np.array_equal(labels, keys)


def test_caller_categories_fix_the_ids() -> None:
    color_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "cat", "hex-color": "#2acf59"},
    }
    keys = np.zeros((3, 3), dtype=np.uint8)
    keys[1, 1] = 1
    line = {"source-ref": "s3://b/a/x.jpg", ATTRIBUTE: "m", f"{ATTRIBUTE}-metadata": {"internal-color-map": color_map}}
    exported = export_coco([line], ATTRIBUTE, read=lambda _: png(keys, "L"), categories=["dog", "cat"], file_name=str)
    assert exported.coco["categories"] == [
        {"id": 1, "name": "dog", "supercategory": ""},
        {"id": 2, "name": "cat", "supercategory": ""},
    ]
    assert exported.coco["annotations"][0]["category_id"] == 2
    assert exported.coco["annotations"][0]["bbox"] == [1, 1, 1, 1]
    assert exported.coco["images"][0]["file_name"] == "s3://b/a/x.jpg"


# --- bounding boxes ---------------------------------------------------------------------------------------------------

VOC_FILES = [
    "voc_datumaro_test_2007_000001.xml",
    "voc2007_000002_mmdetection_test.xml",
    "voc_labelImg_C1_P01_N1_S2_1.xml",
]


def test_voc_boxes_come_back_exactly() -> None:
    files = [(name, corpus(ANNOTATIONS / name)) for name in VOC_FILES]
    boxed, refusals = importing.parse_boxes("voc", files, read_image=lambda _: None)
    sizes = {image.file_name: (image.width, image.height) for image in boxed}
    result = importing.import_boxes(
        boxed,
        refusals,
        read_image=lambda name: blank_image(sizes[name]),  # only the header size is checked
        source_uri=lambda name: f"s3://bucket/images/{name}",
        attribute=BOXES,
        job_name="imported",
        created=CREATED,
    )
    assert result.lines and not result.summary.refusals
    # workers leave the boxes as they are; Ground Truth adds its confidences
    for line in result.lines:
        line[f"{BOXES}-metadata"]["objects"] = [
            {"confidence": 0.5 + i / 100} for i, _ in enumerate(line[BOXES]["annotations"])
        ]

    exported = export_coco(result.lines, BOXES, read=lambda _: b"")

    assert exported.problems == []
    names = {category["id"]: category["name"] for category in exported.coco["categories"]}
    assert list(names.values()) == result.labels
    boxes_by_image = {image.file_name: image.boxes for image in boxed}
    for entry in exported.coco["images"]:
        annotations = [a for a in exported.coco["annotations"] if a["image_id"] == entry["id"]]
        originals = boxes_by_image[entry["file_name"]]
        assert (entry["width"], entry["height"]) == sizes[entry["file_name"]]
        assert len(annotations) == len(originals)
        for position, (annotation, box) in enumerate(zip(annotations, originals, strict=True)):
            original = [box.left, box.top, box.width, box.height]
            assert annotation["bbox"] == original
            assert box_iou(annotation["bbox"], original) == 1.0
            assert names[annotation["category_id"]] == box.class_name
            assert annotation["area"] == box.width * box.height
            assert annotation["score"] == 0.5 + position / 100
            x, y, w, h = original
            assert annotation["segmentation"] == [[x, y, x + w, y, x + w, y + h, x, y + h]]


def test_class_map_with_underscore_is_accepted() -> None:
    line = {
        "source-ref": "s3://b/x.jpg",
        BOXES: {
            "image_size": [{"width": 10, "height": 8, "depth": 3}],
            "annotations": [{"class_id": 5, "left": 1, "top": 2, "width": 3, "height": 4}],
        },
        f"{BOXES}-metadata": {"class_map": {"5": "bone"}},
    }
    exported = export_coco([line], BOXES, read=lambda _: b"")
    assert exported.problems == []
    assert exported.coco["annotations"][0]["bbox"] == [1, 2, 3, 4]
    assert "score" not in exported.coco["annotations"][0]


# --- lines that cannot be exported ------------------------------------------------------------------------------------


def test_bad_lines_are_reported_and_the_good_ones_exported() -> None:
    color_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "cat", "hex-color": "#2acf59"},
    }
    keys = np.zeros((4, 4), dtype=np.uint8)
    keys[:2, :2] = 1
    stranger = keys.copy()
    stranger[3, 3] = 7  # a value no class has
    bodies = {
        "s3://m/good.png": ground_truth_mask(keys, color_map),
        "s3://m/broken.png": b"\x89PNG\r\n\x1a\n not really",
        "s3://m/stranger.png": png(stranger, "L"),
        "s3://m/black.png": png(np.zeros((4, 4, 3), dtype=np.uint8), "RGB"),
    }

    def mask_line(name: str, uri: str) -> dict[str, Any]:
        return {
            "source-ref": f"s3://i/{name}.jpg",
            ATTRIBUTE: uri,
            f"{ATTRIBUTE}-metadata": {"internal-color-map": color_map},
        }

    good_box = {
        "source-ref": "s3://i/boxed.jpg",
        BOXES: {
            "image_size": [{"width": 10, "height": 8, "depth": 3}],
            "annotations": [{"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}],
        },
        f"{BOXES}-metadata": {"class-map": {"0": "dog"}, "objects": [{"confidence": 0.9}]},
    }
    unknown_class = {
        **good_box,
        "source-ref": "s3://i/unknown-class.jpg",
        f"{BOXES}-metadata": {"class-map": {"1": "cat"}},
    }
    mask_lines = [
        mask_line("good", "s3://m/good.png"),
        mask_line("missing", "s3://m/missing.png"),
        mask_line("broken", "s3://m/broken.png"),
        mask_line("stranger", "s3://m/stranger.png"),
        mask_line("black", "s3://m/black.png"),
        {"source-ref": "s3://i/failed.jpg", f"{ATTRIBUTE}-metadata": {"failure-reason": "ClientError"}},
        mask_line("good", "s3://m/good.png"),
    ]

    masks_exported = export_coco([*mask_lines, b"{not json", ""], ATTRIBUTE, read=bodies.__getitem__)
    boxes_exported = export_coco([unknown_class, good_box], BOXES, read=bodies.__getitem__)

    assert [(p.line, p.rule) for p in masks_exported.problems] == [
        (2, "mask-missing"),
        (3, "mask-unreadable"),
        (4, "unknown-color"),
        (5, "unknown-color"),
        (6, "no-label"),
        (7, "duplicate-image"),
        (8, "bad-json"),
    ]
    messages = {p.line: p.message for p in masks_exported.problems}
    assert "value 7 (1 px)" in messages[4]
    assert "#000000 (16 px)" in messages[5]
    assert masks_exported.problems[0].source_ref == "s3://i/missing.jpg"
    assert [image["file_name"] for image in masks_exported.coco["images"]] == ["good.jpg"]
    assert [a["area"] for a in masks_exported.coco["annotations"]] == [4]
    assert [(p.line, p.rule) for p in boxes_exported.problems] == [(1, "unknown-class")]
    assert [image["file_name"] for image in boxes_exported.coco["images"]] == ["boxed.jpg"]
    assert boxes_exported.coco["annotations"][0]["score"] == 0.9


def test_a_real_mask_with_a_colour_outside_its_map_is_refused() -> None:
    """The Lookout for Vision cookie mask has black (unlabelled) pixels its one-class colour map does not name."""
    manifest = corpus(CORPUS / "gt-manifests" / "l4v-cookies_chained_classification+semseg.manifest")
    line = orjson.loads(manifest.splitlines()[0])
    mask_png = corpus(IMAGES / "l4v-cookies_anomaly-1_mask.png")
    exported = export_coco([line], "anomaly-mask-ref", read=lambda _: mask_png)
    assert [(p.rule, p.source_ref) for p in exported.problems] == [("unknown-color", "training-images/anomaly-1.jpg")]
    assert "#000000" in exported.problems[0].message
    assert exported.coco["images"] == []


def test_read_errors_of_any_kind_stay_on_their_line() -> None:
    color_map = {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"}}

    def read(uri: str) -> bytes:
        raise PermissionError("AccessDenied")

    line = {
        "source-ref": "s3://i/x.jpg",
        ATTRIBUTE: "s3://m/x.png",
        f"{ATTRIBUTE}-metadata": {"internal-color-map": color_map},
    }
    exported = export_coco([line], ATTRIBUTE, read=read)
    assert exported.problems[0].rule == "mask-missing"
    assert "AccessDenied" in exported.problems[0].message


def test_the_layer_does_not_need_pycocotools() -> None:
    layer = Path(__file__).resolve().parents[2] / "layers/groundcrew/groundcrew"
    source = (layer / "workflows/adjustment/coco_export.py").read_text()
    assert "import pycocotools" not in source
    assert "from pycocotools" not in source
