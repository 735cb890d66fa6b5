from __future__ import annotations

import json

import pytest

from groundcrew.core.imports import ImportSummary, Refusal
from groundcrew.workflows.adjustment.manifests import (
    MAX_ATTRIBUTE_CHARS,
    MAX_LINE_CHARS,
    REF_FORBIDDEN,
    REF_REQUIRED,
    adjustment_attribute_name,
    box_line,
    check_label_attribute_name,
    check_line_size,
    mask_line,
)

# Contracts 6.1: the task types whose label attribute name must end in -ref.
MUST_END_IN_REF = [
    "SemanticSegmentation",
    "AdjustmentSemanticSegmentation",
    "VideoObjectDetection",
    "AdjustmentVideoObjectDetection",
    "VideoObjectTracking",
    "AdjustmentVideoObjectTracking",
    "3DPointCloudSemanticSegmentation",
    "Adjustment3DPointCloudSemanticSegmentation",
    "3DPointCloudObjectTracking",
    "Adjustment3DPointCloudObjectTracking",
]
MUST_NOT_END_IN_REF = [
    "BoundingBox",
    "AdjustmentBoundingBox",
    "VerificationBoundingBox",
    "VerificationSemanticSegmentation",
    "ImageMultiClass",
    "ImageMultiClassMultiLabel",
    "TextMultiClass",
    "TextMultiClassMultiLabel",
    "NamedEntityRecognition",
    "VideoMultiClass",
    "3DPointCloudObjectDetection",
    "Adjustment3DPointCloudObjectDetection",
    "PassThrough",
]


def test_task_type_table_covers_all_23_lambda_suffixes():
    assert set(MUST_END_IN_REF) == REF_REQUIRED
    assert set(MUST_NOT_END_IN_REF) == REF_FORBIDDEN
    assert len(REF_REQUIRED | REF_FORBIDDEN) == 23


@pytest.mark.parametrize("task_type", MUST_END_IN_REF)
def test_ref_required(task_type):
    assert check_label_attribute_name("city-streets-ref", task_type) == []
    problems = check_label_attribute_name("city-streets", task_type)
    assert len(problems) == 1
    assert "must end in '-ref'" in problems[0]


@pytest.mark.parametrize("task_type", MUST_NOT_END_IN_REF)
def test_ref_forbidden(task_type):
    assert check_label_attribute_name("boxes", task_type) == []
    problems = check_label_attribute_name("boxes-ref", task_type)
    assert len(problems) == 1
    assert "must not end in '-ref'" in problems[0]


@pytest.mark.parametrize(
    ("name", "task_type", "fragment"),
    [
        ("source", "BoundingBox", "reserved"),
        ("source-ref", "SemanticSegmentation", "reserved"),
        ("boxes-metadata", "BoundingBox", "-metadata"),
        ("boxes_v2", "BoundingBox", "letters, digits and hyphens"),
        ("$boxes", "BoundingBox", "letters, digits and hyphens"),
        ("-boxes", "BoundingBox", "letters, digits and hyphens"),
        ("boxes-", "BoundingBox", "letters, digits and hyphens"),
        ("box.es", "BoundingBox", "letters, digits and hyphens"),
        ("", "BoundingBox", "1-127 characters"),
        ("b" * 128, "BoundingBox", "1-127 characters"),
        ("boxes", "Polygon", "unknown"),
    ],
)
def test_name_rules(name, task_type, fragment):
    problems = check_label_attribute_name(name, task_type)
    assert any(fragment in problem for problem in problems), problems


def test_longest_name_and_double_hyphens_are_allowed():
    assert check_label_attribute_name("b" * 127, "BoundingBox") == []
    assert check_label_attribute_name("a--b", "BoundingBox") == []


@pytest.mark.parametrize(
    ("original", "task_type", "expected"),
    [
        ("city-streets-ref", "AdjustmentSemanticSegmentation", "city-streets-adjusted-ref"),
        ("boxes", "AdjustmentBoundingBox", "boxes-adjusted"),
        ("boxes-adjusted", "AdjustmentBoundingBox", "boxes-adjusted-adjusted"),
        ("city-streets-ref", "VerificationSemanticSegmentation", "city-streets-adjusted"),
    ],
)
def test_adjustment_name_differs_and_follows_the_ref_rule(original, task_type, expected):
    name = adjustment_attribute_name(original, task_type)
    assert name == expected
    assert name != original
    assert check_label_attribute_name(name, task_type) == []


def test_adjustment_name_of_a_long_name_stays_within_the_limit():
    name = adjustment_attribute_name("a" * 120 + "-" + "b" * 6, "AdjustmentSemanticSegmentation")
    assert len(name) <= 127
    assert name.endswith("-adjusted-ref")
    assert check_label_attribute_name(name, "AdjustmentSemanticSegmentation") == []


def test_adjustment_name_refuses_an_unknown_task_type():
    with pytest.raises(ValueError, match="unknown"):
        adjustment_attribute_name("boxes", "Polygon")


# Contracts 1.2.2 example.
COLOR_MAP = {
    "0": {"class-name": "BACKGROUND", "confidence": 0.9, "hex-color": "#ffffff"},
    "1": {"class-name": "buildings", "confidence": 0.9, "hex-color": "#2acf59"},
    "2": {"class-name": "road", "confidence": 0.9, "hex-color": "#f28333"},
}


def test_mask_line_matches_the_contract_example():
    line = mask_line(
        "s3://bucket/example_city_image.png",
        "s3://bucket/path/to/mask.png",
        "city-streets-ref",
        COLOR_MAP,
        job_name="label-city-streets",
        created="2018-10-18T22:18:13.527256",
        human_annotated=True,
    )
    assert line == {
        "source-ref": "s3://bucket/example_city_image.png",
        "city-streets-ref": "s3://bucket/path/to/mask.png",
        "city-streets-ref-metadata": {
            "internal-color-map": COLOR_MAP,
            "type": "groundtruth/semantic-segmentation",
            "human-annotated": "yes",
            "creation-date": "2018-10-18T22:18:13.527256",
            "job-name": "label-city-streets",
        },
    }
    assert json.loads(json.dumps(line)) == line
    assert check_line_size(line) == []


def test_mask_line_defaults_to_not_human_annotated():
    line = mask_line(
        "s3://b/i.png", "s3://b/m.png", "seg-ref", COLOR_MAP, job_name="imported-masks-20261121", created="c"
    )
    assert line["seg-ref-metadata"]["human-annotated"] == "no"


@pytest.mark.parametrize(
    ("attribute", "mask", "color_map", "fragment"),
    [
        ("city-streets", "s3://b/m.png", COLOR_MAP, "-ref"),
        ("source-ref", "s3://b/m.png", COLOR_MAP, "reserved"),
        ("seg-ref", "/tmp/m.png", COLOR_MAP, "s3://"),
        ("seg-ref", "s3://b/m.png", {"0": {"class-name": "BACKGROUND"}}, "hex-color"),
        ("seg-ref", "s3://b/m.png", {"0": {"class-name": "x", "hex-color": "white"}}, "hex-color"),
        ("seg-ref", "s3://b/m.png", {"0": {"hex-color": "#ffffff"}}, "class-name"),
        ("seg-ref", "s3://b/m.png", {"zero": {"class-name": "x", "hex-color": "#ffffff"}}, "class indices"),
    ],
)
def test_mask_line_refusals(attribute, mask, color_map, fragment):
    with pytest.raises(ValueError, match=fragment):
        mask_line("s3://b/i.png", mask, attribute, color_map, job_name="j", created="c")


# Contracts 1.2.1 example.
BOX_VALUE = {
    "image_size": [{"width": 500, "height": 400, "depth": 3}],
    "annotations": [
        {"class_id": 0, "left": 111, "top": 134, "width": 61, "height": 128},
        {"class_id": 5, "left": 161, "top": 250, "width": 30, "height": 30},
    ],
}
BOX_METADATA = {
    "objects": [{"confidence": 0.8}, {"confidence": 0.9}],
    "class-map": {"0": "dog", "5": "bone"},
    "type": "groundtruth/object-detection",
    "human-annotated": "yes",
    "creation-date": "2018-10-18T22:18:13.527256",
    "job-name": "identify-dogs-and-toys",
}


def test_box_line_matches_the_contract_example():
    line = box_line("s3://bucket/example_image.png", BOX_VALUE, BOX_METADATA, "bounding-box-attribute-name")
    assert line == {
        "source-ref": "s3://bucket/example_image.png",
        "bounding-box-attribute-name": BOX_VALUE,
        "bounding-box-attribute-name-metadata": BOX_METADATA,
    }
    assert list(line) == ["source-ref", "bounding-box-attribute-name", "bounding-box-attribute-name-metadata"]


@pytest.mark.parametrize(
    ("attribute", "value", "metadata", "fragment"),
    [
        ("boxes-ref", BOX_VALUE, BOX_METADATA, "-ref"),
        ("boxes", {**BOX_VALUE, "image_size": []}, BOX_METADATA, "image_size"),
        ("boxes", {"image_size": BOX_VALUE["image_size"]}, BOX_METADATA, "annotations"),
        ("boxes", BOX_VALUE, {**BOX_METADATA, "objects": [{"confidence": 0.8}]}, "one confidence"),
        ("boxes", BOX_VALUE, {**BOX_METADATA, "class-map": {"0": "dog"}}, "class-map"),
        ("boxes", BOX_VALUE, {**BOX_METADATA, "type": "groundtruth/semantic-segmentation"}, "type"),
    ],
)
def test_box_line_refusals(attribute, value, metadata, fragment):
    with pytest.raises(ValueError, match=fragment):
        box_line("s3://b/i.png", value, metadata, attribute)


def test_line_size_limits():
    # the attribute is measured as its JSON value, quotes included
    at_limit = {"source-ref": "s3://" + "a" * (MAX_ATTRIBUTE_CHARS - 7)}
    assert len(json.dumps(at_limit["source-ref"])) == MAX_ATTRIBUTE_CHARS
    assert check_line_size(at_limit) == []
    over = {"source-ref": "s3://" + "a" * (MAX_ATTRIBUTE_CHARS - 6)}
    problems = check_line_size(over)
    assert len(problems) == 1
    assert "'source-ref' is 20,001 characters" in problems[0]


def test_line_over_100000_characters_is_refused():
    line = {f"k{i}": "x" * 10_000 for i in range(10)}
    problems = check_line_size(line)
    assert len(problems) == 1
    assert "limit is 100,000" in problems[0]
    assert len(json.dumps(line, separators=(",", ":"))) > MAX_LINE_CHARS


def test_line_size_counts_characters_not_bytes():
    assert check_line_size({"source": "é" * (MAX_ATTRIBUTE_CHARS - 2)}) == []


def test_dollar_attribute_names_are_refused():
    assert any("'$'" in problem for problem in check_line_size({"source-ref": "s3://b/i", "$x": 1}))


def test_import_summary_groups_refusals():
    summary = ImportSummary()
    summary.add(3, [Refusal("a.jpg", f"object {i}", "box-degenerate", "no area") for i in range(5)])
    summary.add(2, [Refusal("b.jpg", "line 1", "unknown-category", "class 9")])
    summary.add(0, [])
    assert (summary.converted_images, summary.shapes, len(summary.refusals)) == (3, 5, 6)
    grouped = summary.by_rule()
    assert list(grouped) == ["box-degenerate", "unknown-category"]
    assert grouped["box-degenerate"][0] == 5
    assert [r.item for r in grouped["box-degenerate"][1]] == ["object 0", "object 1", "object 2"]
    document = json.loads(summary.to_json())
    assert document["refused"] == 6
    assert document["refusals"]["unknown-category"] == {
        "count": 1,
        "examples": [{"image": "b.jpg", "item": "line 1", "rule": "unknown-category", "message": "class 9"}],
    }
    text = summary.to_text()
    assert text.splitlines()[0] == "3 images converted, 5 shapes, 6 refused"
    assert "  box-degenerate: 5" in text
    assert "b.jpg line 1: class 9" in text
