"""The 3D point cloud label category file: models, builder, validator and reader, against AWS's own samples."""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from groundcrew.core.vocabulary import AuditMode
from groundcrew.workflows.point_cloud.label_categories import (
    CategoryAttribute,
    CategoryProblem,
    InvalidLabelCategories,
    LabelCategory,
    PointCloudCategories,
    categories_from_document,
    label_category_document,
    validate_label_category_document,
)


def _doc_samples() -> ModuleType:
    # tests/ is not a package (no __init__.py), so the shared reader of AWS doc samples is loaded by its path.
    spec = importlib.util.spec_from_file_location(
        "aws_doc_samples", Path(__file__).resolve().parents[1] / "aws_doc_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


load_doc_json = _doc_samples().load_doc_json


def summary(problems: list[CategoryProblem]) -> list[tuple[str, str, str]]:
    return [(p.path, p.rule, p.severity) for p in problems]


def sample(corpus: Path, name: str) -> dict[str, Any]:
    document = load_doc_json(corpus / "point-cloud" / "awsdocs" / f"label-category_3d_{name}.json")
    assert isinstance(document, dict)
    return document


def valid_document() -> dict[str, Any]:
    return {
        "documentVersion": "2020-03-01",
        "labels": [
            {"label": "Car", "categoryAttributes": [{"name": "axles", "type": "number", "minimum": 2, "maximum": 9}]},
            {"label": "Pedestrian"},
        ],
        "categoryGlobalAttributes": [{"name": "occluded", "type": "string", "enum": ["yes", "no"]}],
        "frameAttributes": [{"name": "weather", "type": "string", "enum": ["sun", "rain"], "description": "Sky"}],
        "instructions": {"shortInstruction": "Draw tight cuboids", "fullInstruction": "<p>Tight.</p>"},
    }


def free_text(name: str) -> dict[str, Any]:
    return {"name": name, "type": "string", "description": "free"}


def choice(name: str) -> dict[str, Any]:
    return {"name": name, "type": "string", "enum": ["a", "b"], "description": "choose"}


NUMBER_RANGE_ERRORS = [
    ("labels[0].categoryAttributes[0]", "number-range-required", "error"),
    ("labels[1].categoryAttributes", "empty-attribute-list", "warning"),
    ("frameAttributes[0]", "number-range-required", "error"),
]


# ---------------------------------------------------------------------------------------------------------------
# AWS's own samples (docs sms-label-cat-config-attributes)


def test_object_detection_sample_breaks_number_ranges_and_leaves_a_placeholder(corpus: Path) -> None:
    problems = validate_label_category_document(sample(corpus, "od_ot"), task="detection")

    assert summary(problems) == NUMBER_RANGE_ERRORS
    assert problems[0].message == (
        "attribute 'X' is a number, so it needs integer minimum and maximum (inclusive): add minimum and maximum"
    )
    assert "'[...]' placeholder" in problems[1].message
    assert problems[2].message.startswith("attribute 'count players' is a number")


def test_object_detection_sample_as_segmentation_also_has_ignored_category_attributes(corpus: Path) -> None:
    problems = validate_label_category_document(sample(corpus, "od_ot"), task="segmentation")

    assert summary(problems) == [
        *NUMBER_RANGE_ERRORS,
        ("categoryGlobalAttributes", "segmentation-category-attributes", "error"),
        ("labels[0].categoryAttributes", "segmentation-category-attributes", "error"),
    ]


def test_adjustment_sample_for_an_adjustment_job(corpus: Path) -> None:
    document = sample(corpus, "adjustment")

    problems = validate_label_category_document(document, task="tracking", audit=AuditMode.ADJUSTMENT)

    assert summary(problems) == NUMBER_RANGE_ERRORS


def test_adjustment_sample_for_a_plain_job_has_an_audit_name_too_many(corpus: Path) -> None:
    problems = validate_label_category_document(sample(corpus, "adjustment"), task="tracking")

    assert summary(problems) == [
        *NUMBER_RANGE_ERRORS,
        ("auditLabelAttributeName", "audit-label-attribute-unexpected", "error"),
    ]
    assert "remove it" in problems[-1].message


def test_adjustment_sample_for_a_verification_job_lets_workers_edit(corpus: Path) -> None:
    problems = validate_label_category_document(
        sample(corpus, "adjustment"), task="detection", audit=AuditMode.VERIFICATION
    )

    assert summary(problems) == [
        *NUMBER_RANGE_ERRORS,
        ("labels[0].editsAllowed", "verification-edits-allowed", "error"),
        ("labels[1].editsAllowed", "verification-edits-allowed", "error"),
    ]
    assert problems[-2].message.endswith("label 'Car' has 'any': set it to 'none'")
    assert problems[-1].message.endswith("label 'Pedestrian' has none set: set it to 'none'")


def test_verification_sample_for_a_verification_job(corpus: Path) -> None:
    problems = validate_label_category_document(
        sample(corpus, "verification"), task="detection", audit=AuditMode.VERIFICATION
    )

    assert summary(problems) == NUMBER_RANGE_ERRORS


def test_semantic_segmentation_sample(corpus: Path) -> None:
    problems = validate_label_category_document(sample(corpus, "semseg"), task="segmentation")

    assert summary(problems) == [("frameAttributes[0]", "number-range-required", "error")]


def test_categories_from_a_sample_as_published_is_refused(corpus: Path) -> None:
    with pytest.raises(InvalidLabelCategories) as raised:
        categories_from_document(sample(corpus, "od_ot"))

    assert summary(raised.value.problems) == NUMBER_RANGE_ERRORS
    assert str(raised.value).startswith("label category configuration has 2 error(s): labels[0].categoryAttributes[0]:")


def _repaired(document: dict[str, Any]) -> dict[str, Any]:
    """A doc sample with its number ranges given and its placeholder removed."""
    fixed = copy.deepcopy(document)
    fixed["frameAttributes"][0].update(minimum=0, maximum=50)
    for label in fixed["labels"]:
        for attribute in label.get("categoryAttributes", []):
            if attribute["type"] == "number":
                attribute.update(minimum=0, maximum=10)
        if label.get("categoryAttributes") == []:
            del label["categoryAttributes"]
    return fixed


@pytest.mark.parametrize(
    ("name", "task", "audit"),
    [
        ("od_ot", "detection", None),
        ("od_ot", "tracking", None),
        ("adjustment", "tracking", AuditMode.ADJUSTMENT),
        ("verification", "detection", AuditMode.VERIFICATION),
        ("semseg", "segmentation", None),
    ],
)
def test_repaired_samples_validate_and_rebuild_to_the_same_file(
    corpus: Path, name: str, task: Any, audit: AuditMode | None
) -> None:
    document = _repaired(sample(corpus, name))

    assert validate_label_category_document(document, task=task, audit=audit) == []
    rebuilt = label_category_document(
        categories_from_document(document),
        task=task,
        audit=audit,
        audit_label_attribute=document.get("auditLabelAttributeName"),
    )
    assert rebuilt == document


def test_repaired_detection_sample_reads_into_models(corpus: Path) -> None:
    categories = categories_from_document(_repaired(sample(corpus, "od_ot")))

    assert categories.frame_attributes[1] == CategoryAttribute(
        name="select one", type="string", enum=["clear", "blurry"], description="describe the scene", required=True
    )
    assert [label.label for label in categories.labels] == ["Car", "Pedestrian"]
    assert [a.name for a in categories.labels[0].attributes] == ["X", "Y", "Z"]
    assert categories.global_attributes[0].enum == ["foo", "buzz", "biz"]
    assert categories.short_instruction == "Draw a tight Cuboid"
    assert categories.full_instruction == "<html markup>"


# ---------------------------------------------------------------------------------------------------------------
# Project models


PROJECT_SECTION: dict[str, Any] = {
    "labels": [
        "Car",
        {
            "label": "Truck",
            "edits_allowed": "any",
            "attributes": [
                {"name": "axles", "type": "number", "minimum": 2, "maximum": 9, "required": True},
                {"name": "company", "type": "string", "description": "Name on the side", "edits_allowed": "none"},
            ],
        },
    ],
    "global_attributes": [{"name": "occluded", "type": "string", "enum": ["yes", "no"]}],
    "frame_attributes": [{"name": "weather", "type": "string", "enum": ["sun", "rain"], "description": "Sky"}],
    "short_instruction": "Draw tight cuboids",
    "full_instruction": "<p>Tight.</p>",
}
EXPECTED_DOCUMENT: dict[str, Any] = {
    "documentVersion": "2020-03-01",
    "labels": [
        {"label": "Car"},
        {
            "label": "Truck",
            "categoryAttributes": [
                {"name": "axles", "type": "number", "minimum": 2, "maximum": 9, "isRequired": True},
                {"name": "company", "type": "string", "description": "Name on the side", "editsAllowed": "none"},
            ],
            "editsAllowed": "any",
        },
    ],
    "categoryGlobalAttributes": [{"name": "occluded", "type": "string", "enum": ["yes", "no"]}],
    "frameAttributes": [{"name": "weather", "type": "string", "enum": ["sun", "rain"], "description": "Sky"}],
    "instructions": {"shortInstruction": "Draw tight cuboids", "fullInstruction": "<p>Tight.</p>"},
}


def test_labels_may_be_plain_strings() -> None:
    categories = PointCloudCategories.model_validate({"labels": ["Car", {"label": "Truck"}]})

    assert categories.labels == [LabelCategory(label="Car"), LabelCategory(label="Truck")]


def test_builder_writes_the_camel_case_file() -> None:
    categories = PointCloudCategories.model_validate(PROJECT_SECTION)

    assert label_category_document(categories, task="detection") == EXPECTED_DOCUMENT


def test_builder_omits_everything_not_given() -> None:
    categories = PointCloudCategories.model_validate({"labels": ["Car"]})

    assert label_category_document(categories, task="tracking") == {
        "documentVersion": "2020-03-01",
        "labels": [{"label": "Car"}],
    }


def test_builder_keeps_only_the_instruction_given() -> None:
    categories = PointCloudCategories.model_validate({"labels": ["Car"], "full_instruction": "<p>x</p>"})

    assert label_category_document(categories, task="tracking")["instructions"] == {"fullInstruction": "<p>x</p>"}


def test_builder_for_an_adjustment_names_the_audited_attribute() -> None:
    categories = PointCloudCategories.model_validate(PROJECT_SECTION)

    document = label_category_document(
        categories, task="tracking", audit=AuditMode.ADJUSTMENT, audit_label_attribute="first-pass-ref"
    )

    assert document == {**EXPECTED_DOCUMENT, "auditLabelAttributeName": "first-pass-ref"}


def test_builder_for_a_verification_forbids_edits_on_every_label() -> None:
    categories = PointCloudCategories.model_validate(PROJECT_SECTION)

    document = label_category_document(
        categories, task="detection", audit=AuditMode.VERIFICATION, audit_label_attribute="first-pass"
    )

    assert [label["editsAllowed"] for label in document["labels"]] == ["none", "none"]
    assert document["labels"][1]["categoryAttributes"] == EXPECTED_DOCUMENT["labels"][1]["categoryAttributes"]


@pytest.mark.parametrize(
    ("task", "audit"),
    [("detection", None), ("tracking", AuditMode.ADJUSTMENT), ("detection", AuditMode.VERIFICATION)],
)
def test_round_trip(task: Any, audit: AuditMode | None) -> None:
    categories = PointCloudCategories.model_validate(PROJECT_SECTION)
    audit_name = "first-pass" if audit else None
    document = label_category_document(categories, task=task, audit=audit, audit_label_attribute=audit_name)

    assert validate_label_category_document(document, task=task, audit=audit) == []
    read_back = categories_from_document(document)
    assert label_category_document(read_back, task=task, audit=audit, audit_label_attribute=audit_name) == document
    if audit is None:
        assert read_back == categories


def test_round_trip_of_segmentation_with_frame_attributes() -> None:
    categories = PointCloudCategories.model_validate(
        {"labels": ["Road", "Curb"], "frame_attributes": PROJECT_SECTION["frame_attributes"]}
    )
    document = label_category_document(categories, task="segmentation")

    assert validate_label_category_document(document, task="segmentation") == []
    assert categories_from_document(document) == categories


def test_builder_refuses_attributes_for_segmentation_in_project_terms() -> None:
    categories = PointCloudCategories.model_validate(PROJECT_SECTION)

    with pytest.raises(InvalidLabelCategories) as raised:
        label_category_document(categories, task="segmentation")

    assert summary(raised.value.problems) == [
        ("global_attributes", "segmentation-category-attributes", "error"),
        ("labels[1].attributes", "segmentation-category-attributes", "error"),
    ]
    assert "Ground Truth ignores label category attributes" in raised.value.problems[0].message


@pytest.mark.parametrize(
    ("audit", "audit_name", "rule", "hint"),
    [
        (AuditMode.ADJUSTMENT, None, "audit-label-attribute-required", "set it to the LabelAttributeName"),
        (AuditMode.VERIFICATION, None, "audit-label-attribute-required", "verification jobs need"),
        (None, "first-pass", "audit-label-attribute-unexpected", "remove it"),
        (AuditMode.ADJUSTMENT, "first_pass", "audit-label-attribute-pattern", "copy the earlier job's"),
        (AuditMode.ADJUSTMENT, "-first", "audit-label-attribute-pattern", "letters and digits"),
        (AuditMode.ADJUSTMENT, "a" * 128, "audit-label-attribute-pattern", "at most 127 characters"),
    ],
)
def test_builder_checks_the_audited_attribute(
    audit: AuditMode | None, audit_name: str | None, rule: str, hint: str
) -> None:
    categories = PointCloudCategories.model_validate({"labels": ["Car"]})

    with pytest.raises(InvalidLabelCategories) as raised:
        label_category_document(categories, task="tracking", audit=audit, audit_label_attribute=audit_name)

    assert summary(raised.value.problems) == [("audit_label_attribute", rule, "error")]
    assert hint in raised.value.problems[0].message


def test_builder_accepts_the_longest_audited_attribute() -> None:
    categories = PointCloudCategories.model_validate({"labels": ["Car"]})

    document = label_category_document(
        categories, task="tracking", audit=AuditMode.ADJUSTMENT, audit_label_attribute="a-" * 63 + "b"
    )

    assert document["auditLabelAttributeName"] == "a-" * 63 + "b"


def _with(path: list[str | int], value: Any) -> dict[str, Any]:
    section = copy.deepcopy(PROJECT_SECTION)
    target: Any = section
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return section


@pytest.mark.parametrize(
    ("section", "location", "hint"),
    [
        (
            _with(["labels", 0], "A" * 17),
            ("labels", 0),
            "label 'AAAAAAAAAAAAAAAAA' is 17 characters; Ground Truth allows 1-16: shorten it",
        ),
        (_with(["labels", 1], "Car"), (), "labels[1].label: label 'Car' already appears at labels[0]"),
        (_with(["labels"], []), ("labels",), "List should have at least 1 item"),
        (_with(["labels"], [f"L{i}" for i in range(31)]), ("labels",), "List should have at most 30 items"),
        (
            _with(["global_attributes", 0, "name"], "is it occluded by"),
            ("global_attributes", 0),
            "attribute name 'is it occluded by' is 17 characters",
        ),
        (
            _with(["global_attributes", 0, "name"], "axles"),
            (),
            "labels[1].attributes[0].name: attribute name 'axles' is already used at global_attributes[0]",
        ),
        (
            _with(["global_attributes", 0, "type"], "number"),
            ("global_attributes", 0),
            "enum is only allowed with type 'string'",
        ),
        (
            _with(["global_attributes", 0, "enum"], []),
            ("global_attributes", 0),
            "enum has 0 values; Ground Truth allows 1-10: remove enum",
        ),
        (
            _with(["global_attributes", 0, "enum"], [str(i) for i in range(11)]),
            ("global_attributes", 0),
            "enum has 11 values",
        ),
        (
            _with(["global_attributes", 0, "enum"], ["yes", "not at all, never"]),
            ("global_attributes", 0),
            "enum[1]: enum value 'not at all, never' is 17 characters",
        ),
        (
            _with(["global_attributes", 0, "description"], "d" * 129),
            ("global_attributes", 0),
            "is 129 characters; Ground Truth allows at most 128",
        ),
        (
            _with(["labels", 1, "attributes", 0, "minimum"], None),
            ("labels", 1, "attributes", 0),
            "minimum: attribute 'axles' is a number, so it needs integer minimum and maximum (inclusive): add minimum",
        ),
        (
            _with(["labels", 1, "attributes", 0, "minimum"], 10),
            ("labels", 1, "attributes", 0),
            "minimum 10 greater than maximum 9: swap them",
        ),
        (
            _with(["labels", 1, "attributes", 0, "minimum"], "2"),
            ("labels", 1, "attributes", 0, "minimum"),
            "Input should be a valid integer",
        ),
        (
            _with(["labels", 1, "attributes", 1, "maximum"], 5),
            ("labels", 1, "attributes", 1),
            "maximum: attribute 'company' is a string, but minimum and maximum apply to type 'number' only",
        ),
        (
            _with(["labels", 1, "attributes", 1, "type"], "text"),
            ("labels", 1, "attributes", 1, "type"),
            "Input should be 'string' or 'number'",
        ),
        (
            _with(["labels", 1, "edits_allowed"], "some"),
            ("labels", 1, "edits_allowed"),
            "Input should be 'none' or 'any'",
        ),
        (_with(["labels", 1, "editsAllowed"], "none"), ("labels", 1, "editsAllowed"), "Extra inputs are not permitted"),
        (
            _with(["frame_attributes", 0, "description"], None),
            (),
            "frame_attributes[0].description: frame attribute 'weather' has no description",
        ),
        (
            _with(["frame_attributes"], [choice(f"f{i}") for i in range(11)]),
            (),
            "frame_attributes: frame_attributes has 11 attributes; Ground Truth allows at most 10: remove 1",
        ),
        (
            _with(["frame_attributes"], [free_text(f"f{i}") for i in range(6)]),
            (),
            "has 6 free-text attributes (type 'string' without enum); Ground Truth allows at most 5: "
            "give 1 of them an enum",
        ),
        (
            _with(["frame_attributes"], [choice("same"), choice("same")]),
            (),
            "frame_attributes[1].name: attribute name 'same' is already used at frame_attributes[0]",
        ),
        (
            _with(["labels", 1, "attributes"], [choice(f"a{i}") for i in range(10)]),
            (),
            "labels[1].attributes: label 'Truck' (global and own attributes together) has 11 attributes",
        ),
        (
            _with(["labels", 1, "attributes"], [free_text(f"a{i}") for i in range(6)]),
            (),
            "label 'Truck' (global and own attributes together) has 6 free-text attributes",
        ),
        (
            _with(["short_instruction"], "s" * 255),
            (),
            "short_instruction: the short instruction is 255 characters; Ground Truth needs fewer than 255",
        ),
        (
            _with(["full_instruction"], "f" * 2048),
            (),
            "full_instruction: the full instruction is 2048 characters; Ground Truth needs fewer than 2048",
        ),
    ],
)
def test_project_section_rules(section: dict[str, Any], location: tuple[Any, ...], hint: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PointCloudCategories.model_validate(section)

    errors = raised.value.errors()
    assert [error["loc"] for error in errors] == [location]
    assert hint in errors[0]["msg"]


@pytest.mark.parametrize(
    "section",
    [
        _with(["labels", 0], "A" * 16),
        _with(["global_attributes", 0, "enum"], [str(i) for i in range(10)]),
        _with(["global_attributes", 0, "description"], ""),
        _with(["labels", 1, "attributes", 0, "minimum"], 9),
        _with(["labels"], [f"L{i}" for i in range(30)]),
        _with(["frame_attributes"], [choice(f"f{i}") for i in range(5)] + [free_text(f"t{i}") for i in range(5)]),
        _with(
            ["labels", 1, "attributes"], [choice(f"a{i}") for i in range(5)] + [free_text(f"t{i}") for i in range(4)]
        ),
        _with(["short_instruction"], "s" * 254),
        _with(["full_instruction"], "f" * 2047),
    ],
)
def test_project_section_limits_are_inclusive_where_ground_truth_says_so(section: dict[str, Any]) -> None:
    PointCloudCategories.model_validate(section)


def test_frame_attribute_names_may_repeat_label_attribute_names() -> None:
    section = _with(["frame_attributes", 0, "name"], "occluded")

    assert PointCloudCategories.model_validate(section).frame_attributes[0].name == "occluded"


# ---------------------------------------------------------------------------------------------------------------
# Team files: every rule of the validator


def _changed(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    document = valid_document()
    change(document)
    return document


def test_the_valid_document_is_valid() -> None:
    assert validate_label_category_document(valid_document(), task="detection") == []


def test_not_an_object() -> None:
    problems = validate_label_category_document([{"label": "Car"}], task="detection")

    assert summary(problems) == [("", "not-an-object", "error")]
    assert str(problems[0]) == (
        "document: a label category file is a JSON object with documentVersion and labels, not a list"
    )


DOCUMENT_CASES: list[tuple[str, Callable[[dict[str, Any]], Any], list[tuple[str, str, str]], str]] = [
    # top level
    (
        "misspelt key",
        lambda d: d.update(lables=d.pop("labels")),
        [("lables", "unknown-key", "error"), ("labels", "labels-required", "error")],
        "'lables' is not a key of a label category file: did you mean 'labels'?",
    ),
    (
        "snake-case key",
        lambda d: d.update(frame_attributes=d.pop("frameAttributes")),
        [("frame_attributes", "unknown-key", "error")],
        "did you mean 'frameAttributes'?",
    ),
    (
        "unrelated key",
        lambda d: d.update(colour="red"),
        [("colour", "unknown-key", "error")],
        "the keys of a label category file are documentVersion, labels,",
    ),
    (
        "video-only key",
        lambda d: d.update(annotationType="Polygon"),
        [("annotationType", "unsupported-key", "error")],
        "remove it",
    ),
    (
        "hyphenated version",
        lambda d: d.update({"document-version": d.pop("documentVersion")}),
        [("document-version", "document-version-spelling", "warning")],
        "rename 'document-version' to 'documentVersion'",
    ),
    (
        "both version spellings",
        lambda d: d.update({"document-version": "2020-03-01"}),
        [("document-version", "document-version-spelling", "warning")],
        "rename",
    ),
    (
        "image task version",
        lambda d: d.update(documentVersion="2018-11-28"),
        [("documentVersion", "document-version", "error")],
        "set it to '2020-03-01'",
    ),
    (
        "other version, hyphenated",
        lambda d: d.update({"document-version": "2021"}) or d.pop("documentVersion"),
        [
            ("document-version", "document-version-spelling", "warning"),
            ("document-version", "document-version", "error"),
        ],
        "document-version is '2021'",
    ),
    (
        "no version",
        lambda d: d.pop("documentVersion"),
        [("documentVersion", "document-version-missing", "warning")],
        "add documentVersion: '2020-03-01'",
    ),
    # labels
    ("no labels", lambda d: d.pop("labels"), [("labels", "labels-required", "error")], "add labels"),
    (
        "labels not a list",
        lambda d: d.update(labels={"label": "Car"}),
        [("labels", "wrong-type", "error")],
        "must be a list of label objects, not an object",
    ),
    (
        "empty labels",
        lambda d: d.update(labels=[]),
        [("labels", "label-count", "error")],
        "labels has 0 entries; Ground Truth allows 1-30: add at least one label",
    ),
    (
        "31 labels",
        lambda d: d.update(labels=[{"label": f"L{i}"} for i in range(31)]),
        [("labels", "label-count", "error")],
        "remove 1",
    ),
    (
        "label as a string",
        lambda d: d["labels"].append("Cyclist"),
        [("labels[2]", "wrong-type", "error")],
        'must be a label object like {"label": "Car"}',
    ),
    (
        "label without label",
        lambda d: d["labels"][1].pop("label"),
        [("labels[1].label", "required-key", "error")],
        "add label",
    ),
    (
        "label not a string",
        lambda d: d["labels"][1].update(label=7),
        [("labels[1].label", "wrong-type", "error")],
        "must be a string, not a number (7)",
    ),
    (
        "empty label",
        lambda d: d["labels"][1].update(label=""),
        [("labels[1].label", "label-length", "error")],
        "is 0 characters; Ground Truth allows 1-16",
    ),
    (
        "long label",
        lambda d: d["labels"][1].update(label="Pedestrian crowds"),
        [("labels[1].label", "label-length", "error")],
        "shorten it",
    ),
    (
        "duplicate label",
        lambda d: d["labels"][1].update(label="Car"),
        [("labels[1].label", "duplicate-label", "error")],
        "label 'Car' already appears at labels[0]; labels must be unique",
    ),
    (
        "bad editsAllowed",
        lambda d: d["labels"][1].update(editsAllowed="all"),
        [("labels[1].editsAllowed", "edits-allowed-value", "error")],
        "use 'none' (workers may not change it) or 'any'",
    ),
    (
        "alternate attributes key",
        lambda d: d["labels"][0].update(attributes=d["labels"][0].pop("categoryAttributes")),
        [("labels[0].attributes", "alternate-key", "error")],
        "rename it to 'categoryAttributes'",
    ),
    (
        "alternate attributes key still checked",
        lambda d: d["labels"][1].update(attributes=[{"name": "n", "type": "number"}]),
        [
            ("labels[1].attributes", "alternate-key", "error"),
            ("labels[1].attributes[0]", "number-range-required", "error"),
        ],
        "rename it",
    ),
    (
        "unknown label key",
        lambda d: d["labels"][1].update(shortDisplayName="P"),
        [("labels[1].shortDisplayName", "unknown-key", "error")],
        "the keys of a label are label, categoryAttributes, editsAllowed",
    ),
    # attributes
    (
        "attribute list not a list",
        lambda d: d.update(frameAttributes={"name": "x"}),
        [("frameAttributes", "wrong-type", "error")],
        "must be a list of attribute objects",
    ),
    (
        "empty attribute list",
        lambda d: d.update(frameAttributes=[]),
        [("frameAttributes", "empty-attribute-list", "warning")],
        "list the attributes or remove the key",
    ),
    (
        "attribute not an object",
        lambda d: d["categoryGlobalAttributes"].append("size"),
        [("categoryGlobalAttributes[1]", "wrong-type", "error")],
        "must be an attribute object with name and type, not a string ('size')",
    ),
    (
        "attribute without name",
        lambda d: d["categoryGlobalAttributes"][0].pop("name"),
        [("categoryGlobalAttributes[0].name", "required-key", "error")],
        "add a name of 1-16 characters",
    ),
    (
        "attribute name not a string",
        lambda d: d["categoryGlobalAttributes"][0].update(name=["occluded"]),
        [("categoryGlobalAttributes[0].name", "wrong-type", "error")],
        "must be a string, not a list",
    ),
    (
        "long attribute name",
        lambda d: d["categoryGlobalAttributes"][0].update(name="occlusion-percent"),
        [("categoryGlobalAttributes[0].name", "attribute-name-length", "error")],
        "attribute name 'occlusion-percent' is 17 characters; Ground Truth allows 1-16: shorten it",
    ),
    (
        "empty attribute name",
        lambda d: d["categoryGlobalAttributes"][0].update(name=""),
        [("categoryGlobalAttributes[0].name", "attribute-name-length", "error")],
        "is 0 characters",
    ),
    (
        "attribute without type",
        lambda d: d["categoryGlobalAttributes"][0].pop("type"),
        [("categoryGlobalAttributes[0].type", "required-key", "error")],
        "add type: 'string' or 'number'",
    ),
    (
        "attribute of another type",
        lambda d: d["labels"][0]["categoryAttributes"][0].update(type="integer"),
        [("labels[0].categoryAttributes[0].type", "attribute-type", "error")],
        "type is 'integer'; use 'string'",
    ),
    (
        "enum not a list",
        lambda d: d["categoryGlobalAttributes"][0].update(enum="yes,no"),
        [("categoryGlobalAttributes[0].enum", "wrong-type", "error")],
        "must be a list of strings",
    ),
    (
        "enum on a number",
        lambda d: d["labels"][0]["categoryAttributes"][0].update(enum=["2", "3"]),
        [("labels[0].categoryAttributes[0].enum", "enum-needs-string-type", "error")],
        "attribute 'axles' is a number, but enum is only allowed with type 'string'",
    ),
    (
        "empty enum",
        lambda d: d["categoryGlobalAttributes"][0].update(enum=[]),
        [("categoryGlobalAttributes[0].enum", "enum-count", "error")],
        "remove enum to ask for free text",
    ),
    (
        "11 enum values",
        lambda d: d["categoryGlobalAttributes"][0].update(enum=[str(i) for i in range(11)]),
        [("categoryGlobalAttributes[0].enum", "enum-count", "error")],
        "keep the 10 that matter most",
    ),
    (
        "enum value not a string",
        lambda d: d["categoryGlobalAttributes"][0].update(enum=["yes", 0]),
        [("categoryGlobalAttributes[0].enum[1]", "wrong-type", "error")],
        "must be a string, not a number (0)",
    ),
    (
        "long enum value",
        lambda d: d["categoryGlobalAttributes"][0].update(enum=["yes", "partly, not fully"]),
        [("categoryGlobalAttributes[0].enum[1]", "enum-value-length", "error")],
        "enum value 'partly, not fully' is 17 characters",
    ),
    (
        "empty enum value",
        lambda d: d["categoryGlobalAttributes"][0].update(enum=["yes", ""]),
        [("categoryGlobalAttributes[0].enum[1]", "enum-value-length", "error")],
        "is 0 characters; Ground Truth allows 1-16",
    ),
    (
        "description not a string",
        lambda d: d["categoryGlobalAttributes"][0].update(description=None),
        [("categoryGlobalAttributes[0].description", "wrong-type", "error")],
        "must be a string, not null",
    ),
    (
        "long description",
        lambda d: d["categoryGlobalAttributes"][0].update(description="d" * 129),
        [("categoryGlobalAttributes[0].description", "description-length", "error")],
        "the description of attribute 'occluded' is 129 characters; Ground Truth allows at most 128",
    ),
    (
        "frame attribute without description",
        lambda d: d["frameAttributes"][0].pop("description"),
        [("frameAttributes[0].description", "frame-description-required", "error")],
        "frame attribute 'weather' has no description, which frame attributes need: add one",
    ),
    (
        "number without maximum",
        lambda d: d["labels"][0]["categoryAttributes"][0].pop("maximum"),
        [("labels[0].categoryAttributes[0].maximum", "number-range-required", "error")],
        "add maximum",
    ),
    (
        "number bound not an integer",
        lambda d: d["labels"][0]["categoryAttributes"][0].update(maximum=9.5),
        [("labels[0].categoryAttributes[0].maximum", "wrong-type", "error")],
        "must be an integer, not a number (9.5)",
    ),
    (
        "number bound a boolean",
        lambda d: d["labels"][0]["categoryAttributes"][0].update(minimum=True),
        [("labels[0].categoryAttributes[0].minimum", "wrong-type", "error")],
        "must be an integer, not a boolean (True)",
    ),
    (
        "number range reversed",
        lambda d: d["labels"][0]["categoryAttributes"][0].update(minimum=10),
        [("labels[0].categoryAttributes[0]", "number-range-order", "error")],
        "attribute 'axles' has minimum 10 greater than maximum 9: swap them",
    ),
    (
        "bounds on a string",
        lambda d: d["categoryGlobalAttributes"][0].update(minimum=0),
        [("categoryGlobalAttributes[0].minimum", "range-needs-number-type", "error")],
        "set type to 'number' or remove minimum",
    ),
    (
        "isRequired not a boolean",
        lambda d: d["categoryGlobalAttributes"][0].update(isRequired="yes"),
        [("categoryGlobalAttributes[0].isRequired", "wrong-type", "error")],
        "must be true or false, not a string ('yes')",
    ),
    (
        "attribute editsAllowed",
        lambda d: d["frameAttributes"][0].update(editsAllowed=False),
        [("frameAttributes[0].editsAllowed", "edits-allowed-value", "error")],
        "editsAllowed is False",
    ),
    (
        "snake-case attribute key",
        lambda d: d["frameAttributes"][0].update(is_required=True),
        [("frameAttributes[0].is_required", "unknown-key", "error")],
        "did you mean 'isRequired'?",
    ),
    # across attributes
    (
        "own name repeats a global name",
        lambda d: d["labels"][0]["categoryAttributes"].append(choice("occluded")),
        [("labels[0].categoryAttributes[1].name", "duplicate-attribute-name", "error")],
        "attribute name 'occluded' is already used at categoryGlobalAttributes[0]; a label's own attributes and "
        "the global attributes need unique names",
    ),
    (
        "own names repeat",
        lambda d: d["labels"][0]["categoryAttributes"].append(choice("axles")),
        [("labels[0].categoryAttributes[1].name", "duplicate-attribute-name", "error")],
        "already used at labels[0].categoryAttributes[0]",
    ),
    (
        "global names repeat",
        lambda d: d["categoryGlobalAttributes"].append(choice("occluded")),
        [("categoryGlobalAttributes[1].name", "duplicate-attribute-name", "error")],
        "the global attributes need unique names: rename one of them",
    ),
    (
        "frame names repeat",
        lambda d: d["frameAttributes"].append(choice("weather")),
        [("frameAttributes[1].name", "duplicate-attribute-name", "error")],
        "frame attributes need unique names",
    ),
    (
        "11 attributes on a label",
        lambda d: d["labels"][1].update(categoryAttributes=[choice(f"a{i}") for i in range(10)]),
        [("labels[1].categoryAttributes", "attribute-count", "error")],
        "label 'Pedestrian' (global and own attributes together) has 11 attributes; Ground Truth allows at most "
        "10: remove 1",
    ),
    (
        "11 global attributes",
        lambda d: d.update(categoryGlobalAttributes=[choice(f"g{i}") for i in range(11)]),
        [("categoryGlobalAttributes", "attribute-count", "error")],
        "categoryGlobalAttributes (asked for every label) has 11 attributes",
    ),
    (
        "6 free-text attributes on a label",
        lambda d: d["labels"][1].update(categoryAttributes=[free_text(f"t{i}") for i in range(6)]),
        [("labels[1].categoryAttributes", "free-text-count", "error")],
        "has 6 free-text attributes (type 'string' without enum); Ground Truth allows at most 5",
    ),
    (
        "6 free-text global attributes",
        lambda d: d.update(categoryGlobalAttributes=[free_text(f"t{i}") for i in range(6)]),
        [("categoryGlobalAttributes", "free-text-count", "error")],
        "give 1 of them an enum or remove them",
    ),
    (
        "11 frame attributes",
        lambda d: d.update(frameAttributes=[choice(f"f{i}") for i in range(11)]),
        [("frameAttributes", "attribute-count", "error")],
        "frameAttributes has 11 attributes",
    ),
    (
        "6 free-text frame attributes",
        lambda d: d.update(frameAttributes=[free_text(f"t{i}") for i in range(6)]),
        [("frameAttributes", "free-text-count", "error")],
        "frameAttributes has 6 free-text attributes",
    ),
    # instructions
    (
        "instructions not an object",
        lambda d: d.update(instructions="Draw"),
        [("instructions", "wrong-type", "error")],
        "must be an object with shortInstruction and fullInstruction",
    ),
    (
        "instruction not a string",
        lambda d: d["instructions"].update(fullInstruction=["<p>"]),
        [("instructions.fullInstruction", "wrong-type", "error")],
        "must be a string (HTML allowed)",
    ),
    (
        "alternate instruction key",
        lambda d: d["instructions"].update(shortIntroduction=d["instructions"].pop("shortInstruction")),
        [("instructions.shortIntroduction", "alternate-key", "error")],
        "rename it to 'shortInstruction'",
    ),
    (
        "long alternate instruction",
        lambda d: d["instructions"].update(fullIntroduction="f" * 2048),
        [
            ("instructions.fullIntroduction", "alternate-key", "error"),
            ("instructions.fullIntroduction", "instruction-length", "error"),
        ],
        "rename it to 'fullInstruction'",
    ),
    (
        "unknown instruction key",
        lambda d: d["instructions"].update(shortInstructions="x"),
        [("instructions.shortInstructions", "unknown-key", "error")],
        "did you mean 'shortInstruction'?",
    ),
    (
        "long short instruction",
        lambda d: d["instructions"].update(shortInstruction="s" * 255),
        [("instructions.shortInstruction", "instruction-length", "error")],
        "the short instruction is 255 characters; Ground Truth needs fewer than 255: shorten it (move detail to "
        "the full instruction)",
    ),
    (
        "long full instruction",
        lambda d: d["instructions"].update(fullInstruction="f" * 2048),
        [("instructions.fullInstruction", "instruction-length", "error")],
        "the full instruction is 2048 characters; Ground Truth needs fewer than 2048",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected", "hint"), [case[1:] for case in DOCUMENT_CASES], ids=[case[0] for case in DOCUMENT_CASES]
)
def test_document_rules(
    change: Callable[[dict[str, Any]], Any], expected: list[tuple[str, str, str]], hint: str
) -> None:
    problems = validate_label_category_document(_changed(change), task="detection")

    assert summary(problems) == expected
    assert any(hint in problem.message for problem in problems), [p.message for p in problems]


def test_limits_of_team_files_are_inclusive_where_ground_truth_says_so() -> None:
    def at_limits(d: dict[str, Any]) -> None:
        d["labels"] = [{"label": f"Label-{i:02d}-sixteen"[:16]} for i in range(30)]
        d["labels"][0]["categoryAttributes"] = [choice(f"a{i}") for i in range(4)] + [
            free_text(f"t{i}") for i in range(5)
        ]
        d["frameAttributes"] = [choice(f"f{i}") for i in range(5)] + [free_text(f"t{i}") for i in range(5)]
        d["categoryGlobalAttributes"][0].update(enum=["e" * 16 for _ in range(10)], description="d" * 128)
        d["instructions"] = {"shortInstruction": "s" * 254, "fullInstruction": "f" * 2047}

    document = _changed(at_limits)

    assert len({label["label"] for label in document["labels"]}) == 30
    assert validate_label_category_document(document, task="tracking") == []


@pytest.mark.parametrize(
    ("audit", "change", "expected", "hint"),
    [
        (
            AuditMode.ADJUSTMENT,
            lambda d: None,
            [("auditLabelAttributeName", "audit-label-attribute-required", "error")],
            "adjustment jobs need auditLabelAttributeName",
        ),
        (
            None,
            lambda d: d.update(auditLabelAttributeName="first-pass"),
            [("auditLabelAttributeName", "audit-label-attribute-unexpected", "error")],
            "only adjustment and verification jobs read",
        ),
        (
            AuditMode.ADJUSTMENT,
            lambda d: d.update(auditLabelAttributeName="first pass"),
            [("auditLabelAttributeName", "audit-label-attribute-pattern", "error")],
            "auditLabelAttributeName 'first pass' is not a label attribute name",
        ),
        (
            AuditMode.ADJUSTMENT,
            lambda d: d.update(auditLabelAttributeName=12),
            [("auditLabelAttributeName", "audit-label-attribute-pattern", "error")],
            "12",
        ),
        (
            AuditMode.VERIFICATION,
            lambda d: d.update(auditLabelAttributeName="first-pass") or d["labels"][0].update(editsAllowed="none"),
            [("labels[1].editsAllowed", "verification-edits-allowed", "error")],
            "every label needs editsAllowed 'none'",
        ),
    ],
)
def test_job_rules(
    audit: AuditMode | None, change: Callable[[dict[str, Any]], Any], expected: list[tuple[str, str, str]], hint: str
) -> None:
    problems = validate_label_category_document(_changed(change), task="tracking", audit=audit)

    assert summary(problems) == expected
    assert hint in problems[0].message


def test_segmentation_refuses_category_attributes_but_keeps_frame_attributes() -> None:
    problems = validate_label_category_document(valid_document(), task="segmentation")

    assert summary(problems) == [
        ("categoryGlobalAttributes", "segmentation-category-attributes", "error"),
        ("labels[0].categoryAttributes", "segmentation-category-attributes", "error"),
    ]
    assert problems[0].message.endswith("remove them (frame attributes are shown and allowed)")


def test_segmentation_refuses_attributes_under_the_alternate_key_too() -> None:
    document = {"documentVersion": "2020-03-01", "labels": [{"label": "Road", "attributes": [choice("wet")]}]}

    problems = validate_label_category_document(document, task="segmentation")

    assert summary(problems) == [
        ("labels[0].attributes", "alternate-key", "error"),
        ("labels[0].attributes", "segmentation-category-attributes", "error"),
    ]


# ---------------------------------------------------------------------------------------------------------------
# Reading a team's file


def test_categories_from_document_leaves_the_audit_name_to_the_job() -> None:
    document = {**valid_document(), "auditLabelAttributeName": "first-pass"}

    categories = categories_from_document(document)

    assert label_category_document(categories, task="detection") == valid_document()


def test_categories_from_document_accepts_warnings() -> None:
    document = valid_document()
    document["document-version"] = document.pop("documentVersion")

    categories = categories_from_document(document)

    assert label_category_document(categories, task="detection") == valid_document()


def test_categories_from_document_reports_every_problem() -> None:
    document = _changed(
        lambda d: d["labels"][0].update(label="Car", attributes=[]) or d["labels"].append({"label": "Car"})
    )

    with pytest.raises(InvalidLabelCategories) as raised:
        categories_from_document(document)

    assert summary(raised.value.problems) == [
        ("labels[0].attributes", "alternate-key", "error"),
        ("labels[0].attributes", "empty-attribute-list", "warning"),
        ("labels[2].label", "duplicate-label", "error"),
    ]
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == (
        "label category configuration has 2 error(s): labels[0].attributes: 'attributes' appears in only one AWS "
        "example and Ground Truth may not read it: rename it to 'categoryAttributes', the name the label category "
        "schema documents; labels[2].label: label 'Car' already appears at labels[0]; labels must be unique: remove "
        "or rename this one"
    )
