"""Rig documents: the presets, and every way a document can be wrong, each named precisely."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from groundcrew.workflows.keypoints import rigs
from groundcrew.workflows.keypoints.poses import Rig, RigBox, RigEdge

MINIMAL = """
name: arm
keypoints:
  - {name: shoulder, color: "#abc", x: 0, y: 0}
  - {name: elbow, x: 10, y: 40}
  - {name: wrist, color: "#00FF00", x: 20, y: 80}
edges:
  - [shoulder, elbow]
  - [elbow, wrist, "#f00"]
box: {left: 0, top: 0, right: 20, bottom: 80}
"""


def problems(text: str) -> list[rigs.RigProblem]:
    with pytest.raises(rigs.InvalidRig) as caught:
        rigs.parse_rig(text, source="rigs/test.yaml")
    assert str(caught.value).startswith("rig document rigs/test.yaml is invalid: ")
    return caught.value.errors


def document(**overrides: str) -> str:
    """A valid two-sided rig, with whole top-level sections replaced by `overrides`."""
    sections = {
        "name": "name: test",
        "keypoints": """keypoints:
  - {name: left_hand, color: "#112233", x: 0, y: 5}
  - {name: right_hand, color: "#445566", x: 10, y: 5}
  - {name: head, color: "#778899", x: 5, y: 0}""",
        "edges": "edges: [[left_hand, head], [right_hand, head]]",
        "mirrored": "mirrored: [[left_hand, right_hand]]",
        "box": "box: {left: 0, top: 0, right: 10, bottom: 10}",
        "required": "required: [head]",
    }
    sections.update(overrides)
    return "\n".join(text for text in sections.values() if text)


def test_the_valid_document_parses() -> None:
    rig = rigs.parse_rig(document(), source="rigs/test.yaml")
    assert rig.names == ("left_hand", "right_hand", "head")
    assert rig.mirrored == (("left_hand", "right_hand"),)
    assert rig.required == ("head",)
    assert rig.mirror_of("right_hand") == "left_hand"


def test_minimal_document_becomes_a_rig_with_long_colours_and_defaults() -> None:
    rig = rigs.parse_rig(MINIMAL.encode(), source="rigs/arm.yaml")
    assert isinstance(rig, Rig)
    assert rig.names == ("shoulder", "elbow", "wrist")
    assert [k.color for k in rig.keypoints] == ["#aabbcc", rigs.DEFAULT_COLORS[1], "#00FF00"]
    assert rig.edges == (RigEdge("shoulder", "elbow"), RigEdge("elbow", "wrist", "#ff0000"))
    assert rig.box == RigBox(0, 0, 20, 80)
    assert rig.mirrored == () and rig.required == ()


def test_coco_person_preset_matches_the_coco_keypoint_category(corpus: Path) -> None:
    category = json.loads((corpus / "external-annotations" / "coco_person_keypoints_mmpose_test.json").read_text())[
        "categories"
    ][0]
    rig = rigs.load_preset("coco-person")
    assert list(rig.names) == category["keypoints"]  # COCO order: exports index keypoints by position
    coco_edges = {
        frozenset((category["keypoints"][a - 1], category["keypoints"][b - 1])) for a, b in category["skeleton"]
    }
    assert {frozenset((e.start, e.end)) for e in rig.edges} == coco_edges
    assert len(rig.edges) == 19
    assert {name for pair in rig.mirrored for name in pair} == {n for n in rig.names if n != "nose"}
    for left, right in rig.mirrored:
        assert left.startswith("left_") and right == "right_" + left.removeprefix("left_")


def test_coco_person_preset_stands_upright_and_faces_the_viewer() -> None:
    rig = rigs.load_preset("coco-person")
    at = {k.name: (k.x, k.y) for k in rig.keypoints}
    assert rig.box is not None
    assert at["nose"][1] < at["left_shoulder"][1] < at["left_hip"][1] < at["left_knee"][1] < at["left_ankle"][1]
    for left, right in rig.mirrored:
        assert at[left][0] > at[right][0]  # facing the viewer: the person's left is on the image's right


def test_vehicle_preset_is_a_mirrored_box_truck() -> None:
    rig = rigs.load_preset("vehicle-box-truck")
    assert 12 <= len(rig.names) <= 14
    assert {"front_left_wheel", "front_right_wheel", "rear_left_wheel", "rear_right_wheel"} <= set(rig.names)
    sided = {name for name in rig.names if "_left" in name or "_right" in name}
    assert {name for pair in rig.mirrored for name in pair} == sided
    for left, right in rig.mirrored:
        assert right == left.replace("_left", "_right")
    touched = {name for edge in rig.edges for name in (edge.start, edge.end)}
    assert touched == set(rig.names)  # every point is drawn connected


def test_presets_are_exactly_the_shipped_files() -> None:
    folder = resources.files("groundcrew.workflows.keypoints").joinpath(rigs.PRESETS_FOLDER)
    shipped = sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))
    assert shipped == sorted(rigs.PRESETS)
    for name in rigs.PRESETS:
        assert rigs.load_preset(name).name == name


def test_an_unknown_preset_names_the_presets() -> None:
    with pytest.raises(LookupError, match="coco-person, vehicle-box-truck"):
        rigs.load_preset("horse")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"keypoints": "keypoints: [{name: a, x: 1}, {name: a, x: 2}]"},
            "keypoints.1.name",
            "'a' is already keypoint 0",
        ),
        ({"edges": "edges: [[left_hand, tail]]"}, "edges.0", "names unknown keypoint 'tail'"),
        ({"edges": "edges: [[hand, tail]]"}, "edges.0", "names unknown keypoints 'hand', 'tail'"),
        ({"edges": "edges: [[head, head]]"}, "edges.0", "joins 'head' to itself"),
        ({"edges": "edges: [[head, left_hand], [left_hand, head]]"}, "edges.1", "repeats edges.0"),
        ({"edges": "edges: [[head]]"}, "edges.0", "at least 2 items"),
        ({"edges": "edges: [[head, left_hand, '#00f', extra]]"}, "edges.0", "at most 3 items"),
        ({"edges": "edges: [[head, left_hand, red]]"}, "edges.0.2", "'red' is not a colour; use #rgb or #rrggbb"),
        ({"mirrored": "mirrored: [[left_hand, right_foot]]"}, "mirrored.0", "names unknown keypoint 'right_foot'"),
        ({"mirrored": "mirrored: [[head, head]]"}, "mirrored.0", "mirrors 'head' with itself"),
        (
            {"mirrored": "mirrored: [[left_hand, right_hand], [right_hand, head]]"},
            "mirrored.1",
            "'right_hand' is already mirrored in mirrored.0",
        ),
        ({"mirrored": "mirrored: [[left_hand, right_hand, head]]"}, "mirrored.0", "at most 2 items"),
        (
            {"keypoints": "keypoints: [{name: a, color: '#12345'}]", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0.color",
            "'#12345' is not a colour; use #rgb or #rrggbb",
        ),
        (
            {"keypoints": "keypoints:\n  - name: a\n    color: #123456", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0.color",
            "an unquoted '#' starts a comment",
        ),
        (
            {"keypoints": "keypoints: [{name: a, x: 11, y: 3}]", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0.x",
            "11 is outside the box (left 0, right 10)",
        ),
        (
            {"keypoints": "keypoints: [{name: a, x: 1, y: -1}]", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0.y",
            "-1 is outside the box (top 0, bottom 10)",
        ),
        (
            {"box": "", "keypoints": "keypoints: [{name: a, x: 1}]", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0",
            "has x/y but the rig has no box",
        ),
        ({"box": "box: {left: 10, top: 0, right: 10, bottom: 10}"}, "box", "needs left < right and top < bottom"),
        ({"box": "box: {left: 0, top: 0, right: 10}"}, "box.bottom", "Field required"),
        ({"required": "required: [tail]"}, "required.0", "names unknown keypoint 'tail'"),
        ({"required": "required: [head, head]"}, "required.1", "'head' is listed twice"),
        ({"name": "name: test\nlabels: [a]"}, "labels", "unknown field (check its spelling)"),
        ({"keypoints": "keypoints: [{name: head, colour: '#fff'}]"}, "keypoints.0.colour", "unknown field"),
        ({"keypoints": "keypoints: []", "edges": "", "mirrored": "", "required": ""}, "keypoints", "at least 1 item"),
        (
            {"keypoints": "keypoints: [{name: 'left hand'}]", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0.name",
            "'left hand' is not a usable name",
        ),
        (
            {"keypoints": "keypoints: [{name: a, x: true}]", "edges": "", "mirrored": "", "required": ""},
            "keypoints.0.x",
            "valid integer",
        ),
        ({"name": "name: <b>test</b>"}, "name", "is not a usable name"),
        ({"name": ""}, "name", "Field required"),
    ],
)
def test_each_problem_is_named_with_its_field(overrides: dict[str, str], field: str, message: str) -> None:
    found = problems(document(**overrides))
    assert any(p.field == field and message in p.message for p in found), found


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    found = problems(
        document(
            edges="edges: [[left_hand, tail]]",
            mirrored="mirrored: [[head, head]]",
            required="required: [foot]",
        )
    )
    assert [p.field for p in found] == ["edges.0", "mirrored.0", "required.0"]
    assert "(the rig has left_hand, right_hand, head)" in found[0].message


def test_a_document_that_is_not_yaml_or_not_a_mapping() -> None:
    assert problems("keypoints: [a, b")[0].message.startswith("not valid YAML")
    assert problems("- just\n- a list") == [rigs.RigProblem("(document)", "must be a YAML mapping")]


def test_invalid_rig_takes_plain_field_message_pairs() -> None:
    error = rigs.InvalidRig("s3://bucket/rigs/x.yaml", [("(document)", "no such object")])
    assert error.errors == [rigs.RigProblem("(document)", "no such object")]
    assert error.errors[0].field == "(document)"
    assert str(error) == "rig document s3://bucket/rigs/x.yaml is invalid: (document): no such object"


def test_rig_from_mapping_validates_parsed_documents() -> None:
    rig = rigs.rig_from_mapping({"name": "dot", "keypoints": [{"name": "centre"}]}, source="inline")
    assert rig.keypoints[0].color == rigs.DEFAULT_COLORS[0]
    with pytest.raises(rigs.InvalidRig, match="keypoints: Field required"):
        rigs.rig_from_mapping({"name": "dot"}, source="inline")
