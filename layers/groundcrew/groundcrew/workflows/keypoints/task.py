"""Keypoints with the open-source crowd-2d-skeleton component: worker template, task input, worker submissions.

Contract: docs/ground-truth-contracts.md section 9.1. The template is generated per rig (the component takes the
keypoint classes, edges and box as attributes); the task input carries the image and any pre-annotation; a worker's
submission is the component's hidden form fields, all strings.

This module stays light because the pre-annotation Lambda imports it for every task a worker opens: orjson and the
plain dataclasses of `poses` only. Rig documents (pydantic, YAML) live in `rigs`, consensus (numpy) in
`keypoint_consensus`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import urlsplit

import orjson

from groundcrew.core.answers import answer_document
from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workflows.keypoints.poses import Pose, Rig

TEMPLATE_RESOURCE = "skeleton.liquid.html"
ANNOTATIONS_ATTRIBUTE = "annotations"  # the manifest attribute holding pre-annotations
# The hidden inputs the component adds to #crowd-form on submit (section 9.1); the time is optional metadata.
SUBMISSION_FIELDS = ("updated_annotations", "original_annotations", "image_s3_uri", "image_name", "no_changes_needed")
TIME_FIELD = "total_time_in_seconds"
# keypointClasses ids are UUID5s of (rig name, keypoint name): the same rig always yields the same template.
KEYPOINT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "groundcrew:crowd-2d-skeleton:keypoint-classes")
_URL_FORBIDDEN = frozenset('"<>\\^`{|}')
_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_LIQUID_OPENING = re.compile(r"\{(?=[{%#])")

__all__ = [
    "ANNOTATIONS_ATTRIBUTE",
    "SkeletonAnswer",
    "component_skeletons",
    "keypoint_id",
    "parse_submission",
    "task_input",
    "ui_template",
]


@dataclass(frozen=True, slots=True)
class SkeletonAnswer:
    """One worker's submission: usually one skeleton, several on multi-person images."""

    worker_id: str
    poses: tuple[Pose, ...]
    original: tuple[Pose, ...]  # what the worker was shown (the pre-annotation), parsed from original_annotations
    no_changes_needed: bool
    seconds: float | None
    image_name: str  # without the presigned query string
    image_url_without_query: str

    @property
    def first_pose(self) -> Pose:
        return self.poses[0] if self.poses else Pose()


def keypoint_id(rig_name: str, keypoint_name: str) -> str:
    return str(uuid.uuid5(KEYPOINT_ID_NAMESPACE, orjson.dumps([rig_name, keypoint_name]).decode()))


def _attribute(value: str) -> str:
    """Escaped for a single-quoted HTML attribute (JSON keeps its double quotes readable), and so that no value can
    open a Liquid tag: a brace before another brace, '%' or '#' becomes an entity, which the browser reads back."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    return _LIQUID_OPENING.sub("&#123;", escaped)


def _json_attribute(value: Any) -> str:
    return _attribute(orjson.dumps(value).decode())


def _component_url(url: str) -> str:
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c in _URL_FORBIDDEN for c in url)
    ):
        raise ValueError(f"the crowd-2d-skeleton component URL must be a plain https:// URL, got {url!r}")
    return url


def ui_template(rig: Rig, component_url: str, *, instructions: str = "") -> str:
    """The Liquid worker template for `rig`, loading the component's JavaScript from `component_url` (https)."""
    classes = [
        {"id": keypoint_id(rig.name, k.name), "color": k.color, "label": k.name, "x": k.x, "y": k.y}
        for k in rig.keypoints
    ]
    edges = [[e.start, e.end] if e.color is None else [e.start, e.end, e.color] for e in rig.edges]
    box = ""
    if rig.box is not None:
        value = {"left": rig.box.left, "top": rig.box.top, "right": rig.box.right, "bottom": rig.box.bottom}
        box = f"\n    skeletonBoundingBox='{_json_attribute(value)}'"
    text = resources.files(__package__).joinpath(TEMPLATE_RESOURCE).read_text(encoding="utf-8")
    return Template(text).substitute(
        component_url=_attribute(_component_url(component_url)),
        keypoint_classes=_json_attribute(classes),
        skeleton_rig=_json_attribute(edges),
        skeleton_bounding_box=box,
        instructions=_attribute(instructions),
    )


def _keypoint_names(rig: Rig | Collection[str]) -> tuple[frozenset[str], str]:
    """The names, and how to name the rig in messages (the pre-annotation Lambda may only have the names)."""
    if isinstance(rig, Rig):
        return frozenset(rig.names), f"rig {rig.name!r}"
    return frozenset(rig), "the rig"


def _number(value: Any) -> float | None:
    """A finite JSON number; bool is not one (True would be read as 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _pixel(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def component_skeletons(poses: Sequence[Pose]) -> list[dict[str, Any]]:
    """Poses in the component's shape: `[{"name", "annotations": [{"label", "x", "y"}]}]`."""
    return [
        {
            "name": pose.name,
            "annotations": [{"label": label, "x": _pixel(x), "y": _pixel(y)} for label, (x, y) in pose.points.items()],
        }
        for pose in poses
    ]


# ---------------------------------------------------------------------------------------------- task input


def task_input(
    line: Mapping[str, Any], rig: Rig | Collection[str], *, attribute: str = ANNOTATIONS_ATTRIBUTE
) -> dict[str, str]:
    """The `taskInput` of one manifest line: the image and the pre-annotation the worker starts from.

    The line's `attribute` may be absent (the worker starts empty), a list of skeletons in the component's shape
    (`[{"name", "annotations": [{"label", "x", "y"}], "annotation_options"?, "annotation_issues"?}]`), a list of
    points `[{"label", "x", "y"}]` (one skeleton), or either as a JSON string (the component README's manifest
    example). Coordinates are rounded to whole pixels, the only kind the component accepts; point keys other
    than label/x/y (a model's score, say) are dropped.
    """
    names, rig_text = _keypoint_names(rig)
    source_ref = line.get("source-ref")
    if not isinstance(source_ref, str) or not source_ref.startswith("s3://"):
        hint = " (it has 'source', inline text, but keypoints are placed on an image)" if "source" in line else ""
        raise DataObjectError(f"manifest line needs 'source-ref' with an s3:// image URI, got {source_ref!r}{hint}")
    skeletons = _initial_skeletons(line.get(attribute), attribute, names, rig_text)
    return {"image_s3_uri": source_ref, "initial_values": orjson.dumps(skeletons).decode()}


def _initial_skeletons(value: Any, attribute: str, names: frozenset[str], rig_text: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise DataObjectError(f"manifest line's {attribute!r} is a string but not JSON") from None
    if not isinstance(value, list):
        raise DataObjectError(
            f"manifest line's {attribute!r} must be a list of skeletons or of points, not {type(value).__name__}"
        )
    if not value:
        return []
    if all(isinstance(item, dict) and "annotations" in item for item in value):
        return [_initial_skeleton(item, f"{attribute}[{i}]", names, rig_text) for i, item in enumerate(value)]
    if all(isinstance(item, dict) and "label" in item for item in value):
        return [{"name": "Skeleton 1", "annotations": _initial_points(value, attribute, names, rig_text)}]
    raise DataObjectError(
        f"manifest line's {attribute!r} must be a list of skeletons ({{name, annotations}}) "
        "or a list of points ({label, x, y}), not a mix or anything else"
    )


def _initial_skeleton(item: dict[str, Any], where: str, names: frozenset[str], rig_text: str) -> dict[str, Any]:
    name = item.get("name", "")
    if not isinstance(name, str):
        raise DataObjectError(f"manifest line's {where}.name must be a string")
    points = item["annotations"]
    if not isinstance(points, list):
        raise DataObjectError(f"manifest line's {where}.annotations must be a list of points {{label, x, y}}")
    skeleton: dict[str, Any] = {
        "name": name,
        "annotations": _initial_points(points, f"{where}.annotations", names, rig_text),
    }
    for key, kind in (("annotation_options", dict), ("annotation_issues", list)):
        if key in item:
            if not isinstance(item[key], kind):
                raise DataObjectError(
                    f"manifest line's {where}.{key} must be a {'mapping' if kind is dict else 'list'}"
                )
            skeleton[key] = item[key]
    return skeleton


def _initial_points(points: list[Any], where: str, names: frozenset[str], rig_text: str) -> list[dict[str, Any]]:
    placed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, point in enumerate(points):
        at = f"{where}[{index}]"
        label = point.get("label") if isinstance(point, dict) else None
        if not isinstance(label, str):
            raise DataObjectError(f"manifest line's {at} must be a point {{label, x, y}} with a string label")
        if label not in names:
            raise DataObjectError(
                f"manifest line's {at} names keypoint {label!r}, which {rig_text} does not have "
                f"(it has {', '.join(sorted(names))})"
            )
        if label in seen:
            raise DataObjectError(f"manifest line's {at} places {label!r} a second time in the same skeleton")
        seen.add(label)
        x, y = _number(point.get("x")), _number(point.get("y"))
        if x is None or y is None:
            raise DataObjectError(
                f"manifest line's {at} ({label!r}) needs numeric x and y, "
                f"got x={point.get('x')!r}, y={point.get('y')!r}"
            )
        placed.append({"label": label, "x": round(x), "y": round(y)})
    return placed


# ---------------------------------------------------------------------------------------------- submissions


def parse_submission(worker_id: str, content: str | Mapping[str, Any], rig: Rig | Collection[str]) -> SkeletonAnswer:
    """Read what crowd-2d-skeleton submitted (`annotationData.content`, a JSON string or already parsed).

    The fields are strings (hidden inputs). Whether `no_changes_needed` and `total_time_in_seconds` stay strings
    after crowd-form serializes them is unconfirmed, so JSON booleans and numbers are accepted for those two.
    """
    answer = answer_document(worker_id, content)
    if not isinstance(answer, Mapping):
        raise AnswerError(f"answer of worker {worker_id} is not a JSON object")
    missing = [name for name in SUBMISSION_FIELDS if name not in answer]
    if missing:
        raise AnswerError(
            f"answer of worker {worker_id} has no {', '.join(missing)} "
            "(is the task template the crowd-2d-skeleton one?)"
        )
    names, rig_text = _keypoint_names(rig)
    image_url = _string(worker_id, answer, "image_s3_uri")
    image_name = _string(worker_id, answer, "image_name")
    return SkeletonAnswer(
        worker_id=worker_id,
        poses=_submitted_skeletons(worker_id, answer, "updated_annotations", names, rig_text),
        original=_submitted_skeletons(worker_id, answer, "original_annotations", names, rig_text),
        no_changes_needed=_boolean(worker_id, answer["no_changes_needed"]),
        seconds=_seconds(worker_id, answer.get(TIME_FIELD)),
        image_name=image_name.split("?", 1)[0],
        image_url_without_query=image_url.split("?", 1)[0],
    )


def _string(worker_id: str, answer: Mapping[str, Any], field: str) -> str:
    value = answer[field]
    if not isinstance(value, str):
        raise AnswerError(f"answer of worker {worker_id}: {field} must be a string, got {type(value).__name__}")
    return value


def _submitted_skeletons(
    worker_id: str, answer: Mapping[str, Any], field: str, names: frozenset[str], rig_text: str
) -> tuple[Pose, ...]:
    text = _string(worker_id, answer, field)
    if field == "original_annotations" and not text:
        return ()  # the component echoes the initialValues attribute, empty when the template set none
    try:
        skeletons: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise AnswerError(f"answer of worker {worker_id}: {field} is not JSON") from None
    if not isinstance(skeletons, list):
        raise AnswerError(f"answer of worker {worker_id}: {field} is not a list of skeletons")
    poses = []
    for number, skeleton in enumerate(skeletons, start=1):
        where = f"answer of worker {worker_id}: {field} skeleton {number}"
        points = skeleton.get("annotations") if isinstance(skeleton, dict) else None
        if not isinstance(points, list):
            raise AnswerError(f"{where} has no annotations list")
        name = skeleton.get("name")
        placed: dict[str, tuple[float, float]] = {}
        for point in points:
            label = point.get("label") if isinstance(point, dict) else None
            if not isinstance(label, str):
                raise AnswerError(f"{where} has a point without a string label: {point!r}")
            if label not in names:
                raise AnswerError(f"{where} places keypoint {label!r}, which {rig_text} does not have")
            if label in placed:
                raise AnswerError(f"{where} places {label!r} twice")
            x, y = _number(point.get("x")), _number(point.get("y"))
            if x is None or y is None:
                raise AnswerError(
                    f"{where}: {label!r} has x={point.get('x')!r}, y={point.get('y')!r}; both must be finite numbers"
                )
            placed[label] = (x, y)
        poses.append(Pose(placed, name if isinstance(name, str) else ""))
    return tuple(poses)


def _boolean(worker_id: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise AnswerError(f'answer of worker {worker_id}: no_changes_needed is {value!r}, not "true" or "false"')


def _seconds(worker_id: str, value: Any) -> float | None:
    if value is None:
        return None  # only metadata: an answer without its timer still counts
    if isinstance(value, str) and _SECONDS.match(value):
        return float(value)
    number = _number(value)
    if number is None or number < 0:
        raise AnswerError(f"answer of worker {worker_id}: {TIME_FIELD} is {value!r}, not a number of seconds")
    return number
