from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from groundcrew.core.imports import creation_date, import_job_name
from groundcrew.workflows.adjustment.imports.boxes import (
    MAX_BOX_CATEGORIES,
    Box,
    BoxImage,
    box_metadata,
    class_map,
    parse_voc,
    parse_yolo,
    refuse_unknown_classes,
    to_ground_truth,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "external-annotations"


def corpus_text(name: str) -> str:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not available")
    return path.read_text(encoding="utf-8")


def voc(objects: str, *, size: str = "<size><width>100</width><height>50</height><depth>3</depth></size>") -> str:
    return f"<annotation><filename>a.jpg</filename>{size}{objects}</annotation>"


def voc_object(name: str, xmin: object, ymin: object, xmax: object, ymax: object) -> str:
    return (
        f"<object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


# --- Pascal VOC: corpus files ------------------------------------------------------------------------------------


def test_voc_mmdetection_file_converts_the_one_based_box():
    image, refusals = parse_voc(corpus_text("voc2007_000002_mmdetection_test.xml"))
    assert refusals == []
    assert image == BoxImage("000002.jpg", 335, 500, 3, [Box("train", 138, 199, 69, 102)])


def test_voc_datumaro_file_reads_objects_but_not_their_parts():
    image, refusals = parse_voc(corpus_text("voc_datumaro_test_2007_000001.xml"))
    assert refusals == []
    assert image is not None
    assert (image.file_name, image.width, image.height, image.depth) == ("2007_000001.jpg", 20, 10, 3)
    # cat 1,2,3,4 and person 4,5,6,7; the person's <part> head box (5.5..7.5) is not an object
    assert image.boxes == [Box("cat", 0, 1, 3, 3), Box("person", 3, 4, 3, 3)]


def test_voc_labelimg_file_has_ten_boxes_in_file_order():
    image, refusals = parse_voc(corpus_text("voc_labelImg_C1_P01_N1_S2_1.xml"))
    assert refusals == []
    assert image is not None
    assert (image.width, image.height) == (1363, 2188)
    assert [box.class_name for box in image.boxes] == ["chesterfield"] * 5 + ["muratti"] * 5
    assert image.boxes[0] == Box("chesterfield", 12, 874, 263, 375)  # 13,875,275,1249
    assert image.boxes[-1] == Box("muratti", 1040, 1563, 212, 356)  # 1041,1564,1252,1919


# --- Pascal VOC: conventions and refusals -------------------------------------------------------------------------


def test_voc_single_pixel_box_is_one_pixel_wide():
    image, _ = parse_voc(voc(voc_object("dot", 1, 1, 1, 1)))
    assert image is not None
    assert image.boxes == [Box("dot", 0, 0, 1, 1)]


def test_voc_box_covering_the_whole_image_fits_exactly():
    image, refusals = parse_voc(voc(voc_object("all", 1, 1, 100, 50)))
    assert refusals == []
    assert image is not None
    assert image.boxes == [Box("all", 0, 0, 100, 50)]


def test_voc_fractional_coordinates_round_half_up():
    image, _ = parse_voc(voc(voc_object("f", 5.5, 2.4, 7.5, 3.6)))
    assert image is not None
    # 6,2,8,4 after rounding
    assert image.boxes == [Box("f", 5, 1, 3, 3)]


def test_voc_box_partly_outside_is_clipped():
    image, refusals = parse_voc(voc(voc_object("edge", -4, 40, 10, 70)))
    assert refusals == []
    assert image is not None
    assert image.boxes == [Box("edge", 0, 39, 10, 11)]


def test_voc_box_entirely_outside_is_refused_and_the_rest_kept():
    image, refusals = parse_voc(voc(voc_object("far", 101, 1, 120, 10) + voc_object("ok", 1, 1, 2, 2)))
    assert image is not None
    assert image.boxes == [Box("ok", 0, 0, 2, 2)]
    assert [(r.image, r.item, r.rule) for r in refusals] == [("a.jpg", "object 1 (far)", "box-outside-image")]


def test_voc_degenerate_box_is_refused():
    _, refusals = parse_voc(voc(voc_object("flat", 10, 10, 9, 20)))
    assert [r.rule for r in refusals] == ["box-degenerate"]
    assert "xmax=9" in refusals[0].message


@pytest.mark.parametrize(
    "obj",
    [
        voc_object("x", "one", 1, 2, 2),
        voc_object("x", "nan", 1, 2, 2),
        "<object><name>x</name></object>",
        "<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox></object>",
    ],
)
def test_voc_bad_coordinates_are_refused(obj):
    image, refusals = parse_voc(voc(obj))
    assert image is not None
    assert image.boxes == []
    assert [r.rule for r in refusals] == ["bad-coordinates"]


def test_voc_object_without_name_is_refused():
    _, refusals = parse_voc(voc(voc_object("", 1, 1, 2, 2)))
    assert [r.rule for r in refusals] == ["missing-name"]


@pytest.mark.parametrize(
    "size",
    [
        "",
        "<size><width>100</width></size>",
        "<size><width>0</width><height>50</height></size>",
        "<size><width>10.5</width><height>50</height></size>",
        "<size><width>abc</width><height>50</height></size>",
    ],
)
def test_voc_missing_size_refuses_the_file(size):
    image, refusals = parse_voc(voc(voc_object("x", 1, 1, 2, 2), size=size))
    assert image is None
    assert [(r.image, r.rule) for r in refusals] == [("a.jpg", "missing-size")]


def test_voc_missing_depth_defaults_to_rgb():
    image, _ = parse_voc(voc("", size="<size><width>4</width><height>3</height></size>"))
    assert image is not None
    assert image.depth == 3


@pytest.mark.parametrize(
    "text",
    [
        '<!DOCTYPE a [<!ENTITY x "boom">]><annotation>&x;</annotation>',
        '<!ENTITY x SYSTEM "file:///etc/passwd"><annotation/>',
        '<?xml version="1.0"?>\n<!doctype annotation><annotation/>',
    ],
)
def test_voc_declarations_are_refused_before_parsing(text):
    image, refusals = parse_voc(text)
    assert image is None
    assert [r.rule for r in refusals] == ["xml-declarations"]


def test_voc_malformed_xml_is_refused():
    image, refusals = parse_voc("<annotation><size>")
    assert image is None
    assert [r.rule for r in refusals] == ["bad-xml"]


# --- YOLO ---------------------------------------------------------------------------------------------------------

NAMES = ["dog", "bone"]


def yolo(text: str, width: int = 640, height: int = 480) -> tuple[BoxImage, list]:
    return parse_yolo(text, file_name="img.jpg", width=width, height=height, class_names=NAMES)


def test_yolo_converts_normalised_centre_boxes_to_pixels():
    image, refusals = yolo("0 0.5 0.5 0.25 0.5\n1 0.1 0.2 0.1 0.1\n")
    assert refusals == []
    assert image.boxes == [Box("dog", 240, 120, 160, 240), Box("bone", 32, 72, 64, 48)]
    assert (image.file_name, image.width, image.height, image.depth) == ("img.jpg", 640, 480, 3)


def test_yolo_rounds_edges_half_up_so_half_pixel_boxes_keep_their_width():
    # edges at 1.5 and 2.5 px: half-up gives 2..3 (banker's rounding would give 2..2, an empty box)
    image, refusals = yolo("0 0.5 0.5 0.25 0.25", width=4, height=4)
    assert refusals == []
    assert image.boxes == [Box("dog", 2, 2, 1, 1)]


def test_yolo_rounds_to_nearest_pixel():
    # edges 3.25 and 6.75 px -> 3 and 7
    image, _ = yolo("0 0.5 0.5 0.35 0.35", width=10, height=10)
    assert image.boxes == [Box("dog", 3, 3, 4, 4)]


def test_yolo_box_partly_outside_is_clipped():
    image, refusals = yolo("1 0.95 0.5 0.2 0.2", width=100, height=100)
    assert refusals == []
    assert image.boxes == [Box("bone", 85, 40, 15, 20)]


def test_yolo_blank_lines_are_skipped_and_float_class_ids_accepted():
    image, refusals = yolo("\n  \n1.0 0.5 0.5 0.5 0.5\r\n")
    assert refusals == []
    assert [box.class_name for box in image.boxes] == ["bone"]


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("2 0.5 0.5 0.1 0.1", "unknown-category"),
        ("-1 0.5 0.5 0.1 0.1", "unknown-category"),
        ("0.5 0.5 0.5 0.1 0.1", "unknown-category"),
        ("0 0.5 0.5 0.1", "bad-coordinates"),
        ("0 0.5 0.5 0.1 0.1 0.9", "bad-coordinates"),
        ("0 x 0.5 0.1 0.1", "bad-coordinates"),
        ("0 inf 0.5 0.1 0.1", "bad-coordinates"),
        ("0 1.5 0.5 0.2 0.2", "box-outside-image"),
        ("0 320 240 50 50", "box-outside-image"),
        ("0 0.5 0.5 0 0.1", "box-degenerate"),
        ("0 0.5 0.5 -0.1 0.1", "box-degenerate"),
    ],
)
def test_yolo_refusals(line, rule):
    image, refusals = yolo(f"0 0.5 0.5 0.1 0.1\n{line}\n")
    assert len(image.boxes) == 1
    assert [(r.image, r.rule) for r in refusals] == [("img.jpg", rule)]
    assert refusals[0].item.startswith("line 2")


def test_yolo_needs_an_image_size():
    with pytest.raises(ValueError, match="not a size"):
        yolo("0 0.5 0.5 0.1 0.1", width=0)


# --- class map and Ground Truth output ----------------------------------------------------------------------------


def test_class_map_is_first_seen_order():
    assert class_map(["dog", "bone", "dog", "cat"]) == {"dog": 0, "bone": 1, "cat": 2}


def test_class_map_takes_the_bounding_box_limit_and_refuses_more():
    names = [f"c{i}" for i in range(MAX_BOX_CATEGORIES)]
    assert len(class_map(names)) == 50
    with pytest.raises(ValueError, match="at most 50"):
        class_map([*names, "one-too-many"])


@pytest.mark.parametrize("name", ["", "x" * 257])
def test_class_map_refuses_bad_names(name):
    with pytest.raises(ValueError, match="1-256 characters"):
        class_map([name])


def test_unknown_classes_are_refused_per_box():
    image = BoxImage("a.jpg", 10, 10, 3, [Box("dog", 0, 0, 1, 1), Box("cow", 1, 1, 2, 2)])
    kept, refusals = refuse_unknown_classes(image, {"dog": 0})
    assert kept.boxes == [Box("dog", 0, 0, 1, 1)]
    assert [(r.item, r.rule) for r in refusals] == [("box 2 (cow)", "unknown-category")]


def test_to_ground_truth_matches_the_contract_example():
    image = BoxImage("example_image.png", 500, 400, 3, [Box("dog", 111, 134, 61, 128), Box("bone", 161, 250, 30, 30)])
    classes = {"dog": 0, "cat": 1, "bone": 5}
    assert to_ground_truth(image, classes) == {
        "image_size": [{"width": 500, "height": 400, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 111, "top": 134, "width": 61, "height": 128},
            {"class_id": 5, "left": 161, "top": 250, "width": 30, "height": 30},
        ],
    }
    metadata = box_metadata(image, classes, job_name="imported-voc-20261121", created="2026-11-21T10:00:00.000000")
    assert metadata == {
        "objects": [{"confidence": 0.0}, {"confidence": 0.0}],
        "class-map": {"0": "dog", "5": "bone"},
        "type": "groundtruth/object-detection",
        "human-annotated": "no",
        "creation-date": "2026-11-21T10:00:00.000000",
        "job-name": "imported-voc-20261121",
    }
    assert box_metadata(image, classes, job_name="j", created="c", human_annotated=True)["human-annotated"] == "yes"


def test_to_ground_truth_refuses_classes_outside_the_map():
    with pytest.raises(ValueError, match="cow"):
        to_ground_truth(BoxImage("a.jpg", 10, 10, 3, [Box("cow", 0, 0, 1, 1)]), {"dog": 0})


def test_creation_date_and_job_name():
    moment = datetime(2026, 11, 21, 22, 30, 5, 42, tzinfo=UTC)
    assert creation_date(moment) == "2026-11-21T22:30:05.000042"
    assert import_job_name("voc", moment) == "imported-voc-20261121"
    with pytest.raises(ValueError, match="lowercase"):
        import_job_name("Pascal VOC", moment)
