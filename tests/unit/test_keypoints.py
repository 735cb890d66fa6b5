"""The crowd-2d-skeleton workflow: the generated template as Ground Truth renders it, task input, submissions."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workflows.keypoints import rigs
from groundcrew.workflows.keypoints import task as keypoints
from groundcrew.workflows.keypoints.poses import Pose, Rig, RigEdge, RigKeypoint
from groundcrew.workforces.ground_truth.task_pages import render_task_page

COMPONENT_URL = "https://d111111abcdef8.cloudfront.net/crowd-2d-skeleton.js?v=3&build=7"
HOSTILE = "\"'><script>alert(1)</script>{{ task.input.image_s3_uri }}{% raw %}&amp;"
IMAGE = "s3://data/incoming/people/a person.jpg"


def presign(uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Signature=abc&X-Amz-Expires=3600"


class Page(HTMLParser):
    """Every element's attributes, as a browser reads them (entities decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.slot_text: list[str] = []
        self._in_slot = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_slot = dict(attrs).get("slot") == "instructions"

    def handle_endtag(self, tag: str) -> None:
        self._in_slot = False

    def handle_data(self, data: str) -> None:
        if self._in_slot:
            self.slot_text.append(data)

    def first(self, tag: str) -> dict[str, str | None]:
        return next(attrs for name, attrs in self.elements if name == tag)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


def render(rig: Rig, task_input: dict[str, Any], **options: Any) -> Page:
    html = render_task_page(keypoints.ui_template(rig, COMPONENT_URL, **options), task_input, presign, strict=True)
    return Page(html)


def attribute(attrs: dict[str, str | None], name: str) -> str:
    value = attrs[name]
    assert value is not None
    return value


@pytest.fixture
def coco() -> Rig:
    return rigs.load_preset("coco-person")


def test_the_pre_annotation_path_stays_light() -> None:
    """Pre-annotation runs per task a worker opens: no pydantic, YAML, numpy, Pillow or Liquid on its import path."""
    heavy = ("pydantic", "yaml", "numpy", "PIL", "liquid")
    probe = f"import sys, groundcrew.workflows.keypoints.task; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "[]\n"


# ---------------------------------------------------------------------------------------------- template


def test_template_renders_every_rig_attribute_as_its_json(coco: Rig) -> None:
    page = render(coco, keypoints.task_input({"source-ref": IMAGE}, coco))
    element = page.first("crowd-2d-skeleton")
    classes = json.loads(attribute(element, "keypointclasses"))
    assert [c["label"] for c in classes] == list(coco.names)
    assert classes[0] == {
        "id": keypoints.keypoint_id("coco-person", "nose"),
        "color": coco.keypoints[0].color,
        "label": "nose",
        "x": coco.keypoints[0].x,
        "y": coco.keypoints[0].y,
    }
    assert len({c["id"] for c in classes}) == len(classes)
    assert all(uuid.UUID(c["id"]).version == 5 for c in classes)
    rig_edges = [[e.start, e.end, *([e.color] if e.color else [])] for e in coco.edges]
    assert json.loads(attribute(element, "skeletonrig")) == rig_edges
    assert json.loads(attribute(element, "skeletonboundingbox")) == {"left": 0, "top": 0, "right": 120, "bottom": 400}
    assert attribute(element, "imgsrc").startswith("https://data.s3.amazonaws.com/incoming/people/a person.jpg?X-Amz-")
    assert attribute(element, "initialvalues") == "[]"


def test_template_is_deterministic_and_names_the_rig_by_content(coco: Rig) -> None:
    assert keypoints.ui_template(coco, COMPONENT_URL) == keypoints.ui_template(coco, COMPONENT_URL)
    other = Rig("other", coco.keypoints)
    assert keypoints.keypoint_id("other", "nose") != keypoints.keypoint_id("coco-person", "nose")
    assert keypoints.ui_template(other, COMPONENT_URL) != keypoints.ui_template(coco, COMPONENT_URL)


def test_template_has_the_structure_of_the_component_readme_template(coco: Rig, corpus: Path) -> None:
    theirs = Page((corpus / "templates" / "crowd-2d-skeleton_full_template_README.liquid.html").read_text())
    ours = render(coco, keypoints.task_input({"source-ref": IMAGE}, coco))
    assert set(ours.first("crowd-2d-skeleton")) == set(theirs.first("crowd-2d-skeleton"))
    assert ours.first("crowd-form") == theirs.first("crowd-form") == {"id": "crowd-form"}
    assert ours.first("crowd-button") == theirs.first("crowd-button")
    assert ours.first("crowd-button")["form-action"] == "submit"
    loaders = [s["src"] for s in ours.all("script") if s.get("src")]
    assert loaders == ["https://assets.crowd.aws/crowd-html-elements.js"]  # the component itself is fetched
    # The same COCO skeleton as the component's own COCO rig, whatever the order and colours.
    their_element = theirs.first("crowd-2d-skeleton")
    their_edges = {frozenset(edge[:2]) for edge in json.loads(attribute(their_element, "skeletonrig"))}
    assert {frozenset((e.start, e.end)) for e in coco.edges} == their_edges
    their_labels = {c["label"] for c in json.loads(attribute(their_element, "keypointclasses"))}
    assert their_labels == set(coco.names)


def test_the_component_is_fetched_from_the_escaped_url(coco: Rig) -> None:
    page = render(coco, keypoints.task_input({"source-ref": IMAGE}, coco))
    loader = next(s for s in page.all("script") if "data-component-url" in s)
    assert loader["data-component-url"] == COMPONENT_URL
    assert "fetch(loader.dataset.componentUrl)" in keypoints.ui_template(coco, COMPONENT_URL)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/crowd-2d-skeleton.js",
        "javascript:alert(1)",
        "https:///crowd-2d-skeleton.js",
        "//example.com/crowd-2d-skeleton.js",
        "https://example.com/a b.js",
        'https://example.com/a".js',
        "https://example.com/a<b>.js",
        "https://example.com/{{x}}.js",
        "https://example.com/a.js\n",
    ],
)
def test_the_component_url_must_be_plain_https(coco: Rig, url: str) -> None:
    with pytest.raises(ValueError, match="plain https:// URL"):
        keypoints.ui_template(coco, url)


def test_hostile_initial_values_cannot_leave_the_attribute(coco: Rig) -> None:
    page = render(coco, {"image_s3_uri": IMAGE, "initial_values": HOSTILE})
    element = page.first("crowd-2d-skeleton")
    assert element["initialvalues"] == HOSTILE  # the component gets the exact text back
    assert [name for name, _ in page.elements].count("script") == 2  # the loader and crowd-html-elements only
    assert set(element) == {"imgsrc", "keypointclasses", "skeletonrig", "skeletonboundingbox", "initialvalues"}


def test_hostile_rig_text_survives_html_and_liquid() -> None:
    rig = Rig(
        name=HOSTILE,
        keypoints=(RigKeypoint(HOSTILE, "#123456"), RigKeypoint("b'c\"d{%", "#abcdef")),
        edges=(RigEdge(HOSTILE, "b'c\"d{%", "#000000"),),
    )
    page = render(rig, {"image_s3_uri": IMAGE, "initial_values": "[]"}, instructions=HOSTILE)
    element = page.first("crowd-2d-skeleton")
    assert [c["label"] for c in json.loads(attribute(element, "keypointclasses"))] == [HOSTILE, "b'c\"d{%"]
    assert json.loads(attribute(element, "skeletonrig")) == [[HOSTILE, "b'c\"d{%", "#000000"]]
    assert "skeletonboundingbox" not in element  # a rig without a box leaves the attribute out
    assert "".join(page.slot_text) == HOSTILE
    assert [name for name, _ in page.elements].count("script") == 2


def test_instructions_go_to_the_component_slot(coco: Rig) -> None:
    page = render(coco, {"image_s3_uri": IMAGE, "initial_values": "[]"}, instructions="Mark every visible joint.")
    assert "".join(page.slot_text) == "Mark every visible joint."


# ---------------------------------------------------------------------------------------------- task input


def initial(line: dict[str, Any], rig: Rig | tuple[str, ...]) -> Any:
    task = keypoints.task_input(line, rig)
    assert set(task) == {"image_s3_uri", "initial_values"}
    assert task["image_s3_uri"] == line["source-ref"]
    return json.loads(task["initial_values"])


def test_no_annotations_start_empty(coco: Rig) -> None:
    assert initial({"source-ref": IMAGE}, coco) == []
    assert initial({"source-ref": IMAGE, "annotations": None}, coco) == []
    assert initial({"source-ref": IMAGE, "annotations": []}, coco) == []


def test_skeletons_in_the_component_shape_pass_with_whole_pixels(coco: Rig) -> None:
    options = {"line_color": "#6a5acd", "keypoint_style": "SolidCircle", "editable": True}
    line = {
        "source-ref": IMAGE,
        "annotations": [
            {
                "name": "Person 1",
                "annotations": [{"label": "nose", "x": 356.4, "y": 73.6, "score": 0.9}],
                "annotation_options": options,
                "annotation_issues": [{"reason": "occluded"}],
            },
            {"annotations": [{"label": "left_eye", "x": 10, "y": 11}]},
        ],
    }
    assert initial(line, coco) == [
        {
            "name": "Person 1",
            "annotations": [{"label": "nose", "x": 356, "y": 74}],
            "annotation_options": options,
            "annotation_issues": [{"reason": "occluded"}],
        },
        {"name": "", "annotations": [{"label": "left_eye", "x": 10, "y": 11}]},
    ]


def test_a_list_of_points_becomes_one_skeleton(coco: Rig) -> None:
    points = [{"label": "nose", "x": 356, "y": 73}, {"label": "left_eye", "x": 360, "y": 70}]
    expected = [{"name": "Skeleton 1", "annotations": points}]
    assert initial({"source-ref": IMAGE, "annotations": points}, coco) == expected
    # The component README's manifest keeps them as a JSON string.
    assert initial({"source-ref": IMAGE, "annotations": json.dumps(points)}, coco) == expected


def test_keypoint_names_alone_are_enough(coco: Rig) -> None:
    points = [{"label": "nose", "x": 1, "y": 2}]
    assert initial({"source-ref": IMAGE, "annotations": points}, coco.names) == initial(
        {"source-ref": IMAGE, "annotations": points}, coco
    )


def test_another_attribute_can_hold_the_pre_annotation(coco: Rig) -> None:
    task = keypoints.task_input(
        {"source-ref": IMAGE, "model-poses": [{"label": "nose", "x": 1, "y": 2}]}, coco, attribute="model-poses"
    )
    assert json.loads(task["initial_values"])[0]["annotations"] == [{"label": "nose", "x": 1, "y": 2}]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"source": "a sentence"}, "needs 'source-ref' with an s3:// image URI, got None (it has 'source'"),
        ({"source-ref": "https://example.com/a.jpg"}, "needs 'source-ref' with an s3:// image URI"),
        ({"source-ref": IMAGE, "annotations": {"nose": [1, 2]}}, "must be a list of skeletons or of points, not dict"),
        ({"source-ref": IMAGE, "annotations": "[{"}, "is a string but not JSON"),
        (
            {"source-ref": IMAGE, "annotations": [{"label": "tail", "x": 1, "y": 2}]},
            "annotations[0] names keypoint 'tail', which rig 'coco-person' does not have (it has left_ankle, ",
        ),
        (
            {"source-ref": IMAGE, "annotations": [{"annotations": [{"label": "nose", "x": "12", "y": 2}]}]},
            "annotations[0].annotations[0] ('nose') needs numeric x and y, got x='12', y=2",
        ),
        ({"source-ref": IMAGE, "annotations": [{"label": "nose", "x": True, "y": 2}]}, "needs numeric x and y"),
        ({"source-ref": IMAGE, "annotations": [{"label": "nose", "x": math.nan, "y": 2}]}, "needs numeric x and y"),
        ({"source-ref": IMAGE, "annotations": [{"label": "nose", "x": 1, "y": math.inf}]}, "needs numeric x and y"),
        ({"source-ref": IMAGE, "annotations": [{"label": "nose", "x": 10**400, "y": 2}]}, "needs numeric x and y"),
        ({"source-ref": IMAGE, "annotations": [{"label": "nose", "x": 1}]}, "got x=1, y=None"),
        (
            {
                "source-ref": IMAGE,
                "annotations": [{"label": "nose", "x": 1, "y": 2}, {"label": "nose", "x": 3, "y": 4}],
            },
            "annotations[1] places 'nose' a second time",
        ),
        (
            {"source-ref": IMAGE, "annotations": [{"label": "nose", "x": 1, "y": 2}, {"annotations": []}]},
            "not a mix or anything else",
        ),
        ({"source-ref": IMAGE, "annotations": [{"annotations": "nose"}]}, "annotations[0].annotations must be a list"),
        (
            {"source-ref": IMAGE, "annotations": [{"annotations": [], "name": 3}]},
            "annotations[0].name must be a string",
        ),
        (
            {"source-ref": IMAGE, "annotations": [{"annotations": [], "annotation_options": []}]},
            "annotations[0].annotation_options must be a mapping",
        ),
        ({"source-ref": IMAGE, "annotations": [{"annotations": ["nose"]}]}, "must be a point {label, x, y}"),
    ],
)
def test_lines_the_workflow_cannot_use_are_named(coco: Rig, line: dict[str, Any], message: str) -> None:
    with pytest.raises(DataObjectError) as caught:
        keypoints.task_input(line, coco)
    assert message in str(caught.value)


# ---------------------------------------------------------------------------------------------- submissions


def content(**fields: Any) -> dict[str, Any]:
    """What the component's hidden inputs submit (section 9.1), with `fields` replaced; None removes one."""
    submitted: dict[str, Any] = {
        "updated_annotations": json.dumps(
            [
                {
                    "name": "",
                    "annotations": [{"label": "nose", "x": 356, "y": 73}, {"label": "left_eye", "x": 362, "y": 66}],
                },
                {"name": "Person 2", "annotations": [{"label": "nose", "x": 12, "y": 30}]},
            ]
        ),
        "original_annotations": json.dumps(
            [{"name": "Skeleton 1", "annotations": [{"label": "nose", "x": 350, "y": 70}]}]
        ),
        "image_s3_uri": "https://data.s3.amazonaws.com/incoming/people/a%20person.jpg?X-Amz-Signature=abc",
        "image_name": "a%20person.jpg?X-Amz-Signature=abc",
        "no_changes_needed": "false",
        "total_time_in_seconds": "42",
    }
    for name, value in fields.items():
        if value is None:
            submitted.pop(name)
        else:
            submitted[name] = value
    return submitted


def test_a_submission_becomes_poses_and_metadata(coco: Rig) -> None:
    answer = keypoints.parse_submission("private.us-east-1.abc", json.dumps(content()), coco)
    assert answer.worker_id == "private.us-east-1.abc"
    assert answer.poses == (
        Pose({"nose": (356.0, 73.0), "left_eye": (362.0, 66.0)}, ""),
        Pose({"nose": (12.0, 30.0)}, "Person 2"),
    )
    assert answer.first_pose == answer.poses[0]
    assert answer.original == (Pose({"nose": (350.0, 70.0)}, "Skeleton 1"),)
    assert answer.no_changes_needed is False
    assert answer.seconds == 42.0
    assert answer.image_name == "a%20person.jpg"
    assert answer.image_url_without_query == "https://data.s3.amazonaws.com/incoming/people/a%20person.jpg"


def test_parsed_content_and_json_booleans_and_numbers_are_accepted(coco: Rig) -> None:
    answer = keypoints.parse_submission("w", content(no_changes_needed=True, total_time_in_seconds=12.5), coco)
    assert answer.no_changes_needed is True and answer.seconds == 12.5
    assert keypoints.parse_submission("w", content(no_changes_needed="true"), coco).no_changes_needed is True
    assert keypoints.parse_submission("w", content(total_time_in_seconds="7.25"), coco).seconds == 7.25


def test_an_answer_without_its_timer_still_counts(coco: Rig) -> None:
    assert keypoints.parse_submission("w", content(total_time_in_seconds=None), coco).seconds is None


def test_empty_original_and_skeletons_without_name(coco: Rig) -> None:
    answer = keypoints.parse_submission(
        "w",
        content(original_annotations="", updated_annotations='[{"annotations":[]}]'),
        coco,
    )
    assert answer.original == ()
    assert answer.poses == (Pose({}, ""),)
    assert keypoints.parse_submission("w", content(updated_annotations="[]"), coco).first_pose == Pose()


def test_the_rendered_initial_values_come_back_as_the_original(coco: Rig) -> None:
    """The component submits its initialValues attribute verbatim as original_annotations."""
    line = {"source-ref": IMAGE, "annotations": [{"label": "left_knee", "x": 80.4, "y": 290}]}
    page = render(coco, keypoints.task_input(line, coco))
    shown = attribute(page.first("crowd-2d-skeleton"), "initialvalues")
    answer = keypoints.parse_submission("w", content(original_annotations=shown), coco)
    assert answer.original == (Pose({"left_knee": (80.0, 290.0)}, "Skeleton 1"),)


@pytest.mark.parametrize(
    ("submitted", "message"),
    [
        ("{not json", "answer of worker w7 is not valid JSON"),
        ("[]", "answer of worker w7 is not a JSON object"),
        (content(updated_annotations=None), "answer of worker w7 has no updated_annotations"),
        (
            content(image_name=None, no_changes_needed=None),
            "answer of worker w7 has no image_name, no_changes_needed",
        ),
        (content(updated_annotations="[{"), "answer of worker w7: updated_annotations is not JSON"),
        (content(updated_annotations="{}"), "updated_annotations is not a list of skeletons"),
        (content(updated_annotations=[]), "updated_annotations must be a string, got list"),
        (content(updated_annotations='[{"name":"a"}]'), "updated_annotations skeleton 1 has no annotations list"),
        (content(updated_annotations='["nose"]'), "updated_annotations skeleton 1 has no annotations list"),
        (
            content(updated_annotations='[{"annotations":[]},{"annotations":[{"label":"tail","x":1,"y":2}]}]'),
            "answer of worker w7: updated_annotations skeleton 2 places keypoint 'tail', which rig 'coco-person' "
            "does not have",
        ),
        (content(updated_annotations='[{"annotations":[{"x":1,"y":2}]}]'), "has a point without a string label"),
        (content(updated_annotations='[{"annotations":[{"label":"nose","x":"1","y":2}]}]'), "'nose' has x='1', y=2"),
        (content(updated_annotations='[{"annotations":[{"label":"nose","x":true,"y":2}]}]'), "has x=True, y=2"),
        (content(updated_annotations='[{"annotations":[{"label":"nose","x":1}]}]'), "has x=1, y=None"),
        (
            content(
                updated_annotations='[{"annotations":[{"label":"nose","x":1,"y":2},{"label":"nose","x":1,"y":2}]}]'
            ),
            "skeleton 1 places 'nose' twice",
        ),
        (content(original_annotations="nope"), "original_annotations is not JSON"),
        (content(original_annotations='[{"annotations":[{"label":"tail","x":1,"y":2}]}]'), "places keypoint 'tail'"),
        (content(image_s3_uri=None), "has no image_s3_uri"),
        (content(image_s3_uri=3), "image_s3_uri must be a string, got int"),
        (content(no_changes_needed="yes"), 'no_changes_needed is \'yes\', not "true" or "false"'),
        (content(no_changes_needed=1), "no_changes_needed is 1"),
        (content(no_changes_needed="undefined"), "no_changes_needed is 'undefined'"),
        (content(total_time_in_seconds="NaN"), "total_time_in_seconds is 'NaN', not a number of seconds"),
        (content(total_time_in_seconds="4 2"), "total_time_in_seconds is '4 2'"),
        (content(total_time_in_seconds=-1), "total_time_in_seconds is -1"),
        (content(total_time_in_seconds=True), "total_time_in_seconds is True"),
    ],
)
def test_every_unusable_submission_is_refused_with_its_reason(coco: Rig, submitted: Any, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        keypoints.parse_submission("w7", submitted if isinstance(submitted, str) else json.dumps(submitted), coco)
    assert message in str(caught.value)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e400"])
def test_non_finite_coordinates_are_refused(coco: Rig, bad: str) -> None:
    updated = '[{"annotations":[{"label":"nose","x":' + bad + ',"y":2}]}]'
    with pytest.raises(AnswerError, match="updated_annotations is not JSON"):
        keypoints.parse_submission("w", content(updated_annotations=updated), coco)


def test_keypoint_names_alone_are_enough_to_parse_a_submission() -> None:
    answer = keypoints.parse_submission(
        "w",
        content(updated_annotations='[{"annotations":[{"label":"a","x":1,"y":2}]}]', original_annotations="[]"),
        ("a",),
    )
    assert answer.first_pose.points == {"a": (1.0, 2.0)}
    with pytest.raises(AnswerError, match="places keypoint 'nose', which the rig does not have"):
        keypoints.parse_submission("w", content(), ("a",))
