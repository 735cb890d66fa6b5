"""Rig documents: the YAML a team writes to say which keypoints a worker places, validated into `poses.Rig`.

```yaml
name: coco-person            # letters, digits, '_', '.', '-'
keypoints:                   # the order is the keypoint order of exports (COCO `keypoints`)
  - {name: nose, color: "#1F77B4", x: 62, y: 11}
  - {name: left_eye}         # color optional (a Tableau 10 colour by position); x/y default to 0
edges:                       # lines drawn between placed keypoints
  - [left_ankle, left_knee]
  - [left_knee, left_hip, "#0000ff"]   # optional line colour
mirrored:                    # left/right pairs, left first (flip correction, horizontal-flip augmentation)
  - [left_eye, right_eye]
box: {left: 0, top: 0, right: 124, bottom: 387}   # optional: keypoint x/y are positions inside this box,
                                                  # used by the component's "draw the whole skeleton" action
required: [left_hip, right_hip]                   # optional: keypoints every answer must place when visible
```

Colours are `#rgb` or `#rrggbb` and must be quoted: in YAML an unquoted `#` starts a comment. Keypoint names are
restricted to letters, digits, `_`, `.` and `-` because the crowd-2d-skeleton component builds element ids and
HTML from them. Anything that does not validate becomes `InvalidRig`, whose `errors` name the field and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

from groundcrew.projects import field_messages
from groundcrew.workflows.keypoints.poses import Rig, RigBox, RigEdge, RigKeypoint

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLOR_PATTERN = re.compile(r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")
# Tableau 10 (the 2016 palette): ten colours that stay distinct, for keypoints that name none.
DEFAULT_COLORS = (
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
PRESETS: tuple[str, ...] = ("coco-person", "vehicle-box-truck")
PRESETS_FOLDER = "rig_presets"  # package data beside this module: rig_presets/<name>.yaml


class RigProblem(NamedTuple):
    field: str  # where in the document, e.g. "edges.3" or "keypoints.2.color"
    message: str


class InvalidRig(ValueError):
    """A rig document that does not validate; `errors` name each field and what is wrong with it."""

    def __init__(self, source: str, errors: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.errors = [RigProblem(field, message) for field, message in errors]
        detail = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(f"rig document {source} is invalid: {detail}")


def _name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not a usable name: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value


def _color(value: Any) -> Any:
    if value is None:
        raise ValueError("is empty; quote colours in YAML (\"#1F77B4\"): an unquoted '#' starts a comment")
    if isinstance(value, str) and not COLOR_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a colour; use #rgb or #rrggbb")
    return value


def _long_hex(color: str) -> str:
    """`#abc` -> `#aabbcc`: Rig colours are always six digits."""
    if len(color) == 4:
        return "#" + "".join(digit * 2 for digit in color[1:])
    return color


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeypointDocument(_Strict):
    name: StrictStr
    color: StrictStr | None = None
    x: StrictInt = 0
    y: StrictInt = 0

    _check_name = field_validator("name")(_name)

    @field_validator("color", mode="before")
    @classmethod
    def _check_color(cls, value: Any) -> Any:
        return _color(value)


class BoxDocument(_Strict):
    left: StrictInt
    top: StrictInt
    right: StrictInt
    bottom: StrictInt


class RigDocument(_Strict):
    name: StrictStr
    keypoints: Annotated[list[KeypointDocument], Field(min_length=1)]
    edges: list[Annotated[list[StrictStr], Field(min_length=2, max_length=3)]] = []
    mirrored: list[Annotated[list[StrictStr], Field(min_length=2, max_length=2)]] = []
    box: BoxDocument | None = None
    required: list[StrictStr] = []

    _check_name = field_validator("name")(_name)


def _cross_references(document: RigDocument) -> list[RigProblem]:
    """What pydantic's per-field checks cannot see: names that must exist, pairs, the box."""
    problems, first_index = _duplicate_keypoints(document)
    problems += _edge_problems(document, first_index)
    problems += _mirrored_problems(document, first_index)
    problems += _required_problems(document, first_index)
    problems += _box_problems(document)
    return problems


def _duplicate_keypoints(document: RigDocument) -> tuple[list[RigProblem], dict[str, int]]:
    """Repeated keypoint names, and the index of each name's first keypoint."""
    problems: list[RigProblem] = []
    first_index: dict[str, int] = {}
    for index, keypoint in enumerate(document.keypoints):
        if keypoint.name in first_index:
            problems.append(
                RigProblem(
                    f"keypoints.{index}.name",
                    f"{keypoint.name!r} is already keypoint {first_index[keypoint.name]}; names must be unique",
                )
            )
        else:
            first_index[keypoint.name] = index
    return problems, first_index


def _unknown_names(names: list[str], first_index: Mapping[str, int]) -> str | None:
    """The message for names that are no keypoint of the rig, or None when all are."""
    missing = [name for name in names if name not in first_index]
    if not missing:
        return None
    listed = ", ".join(repr(name) for name in missing)
    known = ", ".join(first_index)
    return f"names unknown keypoint{'s' if len(missing) > 1 else ''} {listed} (the rig has {known})"


def _edge_problems(document: RigDocument, first_index: Mapping[str, int]) -> list[RigProblem]:
    problems: list[RigProblem] = []
    seen_edges: dict[frozenset[str], int] = {}
    for index, edge in enumerate(document.edges):
        where = f"edges.{index}"
        if message := _unknown_names(edge[:2], first_index):
            problems.append(RigProblem(where, message))
        if edge[0] == edge[1]:
            problems.append(RigProblem(where, f"joins {edge[0]!r} to itself"))
        if len(edge) == 3 and not COLOR_PATTERN.match(edge[2]):
            problems.append(RigProblem(f"{where}.2", f"{edge[2]!r} is not a colour; use #rgb or #rrggbb"))
        pair = frozenset(edge[:2])
        if pair in seen_edges:
            problems.append(RigProblem(where, f"repeats edges.{seen_edges[pair]}"))
        else:
            seen_edges[pair] = index
    return problems


def _mirrored_problems(document: RigDocument, first_index: Mapping[str, int]) -> list[RigProblem]:
    problems: list[RigProblem] = []
    mirrored_in: dict[str, int] = {}
    for index, (left, right) in enumerate(document.mirrored):
        where = f"mirrored.{index}"
        if message := _unknown_names([left, right], first_index):
            problems.append(RigProblem(where, message))
        if left == right:
            problems.append(RigProblem(where, f"mirrors {left!r} with itself"))
            continue
        for name in (left, right):
            if name in mirrored_in:
                problems.append(
                    RigProblem(where, f"{name!r} is already mirrored in mirrored.{mirrored_in[name]}; once only")
                )
            else:
                mirrored_in[name] = index
    return problems


def _required_problems(document: RigDocument, first_index: Mapping[str, int]) -> list[RigProblem]:
    problems: list[RigProblem] = []
    seen_required: set[str] = set()
    for index, name in enumerate(document.required):
        if message := _unknown_names([name], first_index):
            problems.append(RigProblem(f"required.{index}", message))
        if name in seen_required:
            problems.append(RigProblem(f"required.{index}", f"{name!r} is listed twice"))
        seen_required.add(name)
    return problems


def _box_problems(document: RigDocument) -> list[RigProblem]:
    """A box must have an area and hold every keypoint; without a box, keypoints have no x/y."""
    box = document.box
    if box is None:
        return [
            RigProblem(f"keypoints.{index}", "has x/y but the rig has no box; add `box` or drop x/y")
            for index, keypoint in enumerate(document.keypoints)
            if keypoint.x or keypoint.y
        ]
    if box.right <= box.left or box.bottom <= box.top:
        return [RigProblem("box", "needs left < right and top < bottom")]
    problems: list[RigProblem] = []
    for index, keypoint in enumerate(document.keypoints):
        if not box.left <= keypoint.x <= box.right:
            problems.append(
                RigProblem(
                    f"keypoints.{index}.x",
                    f"{keypoint.x} is outside the box (left {box.left}, right {box.right})",
                )
            )
        if not box.top <= keypoint.y <= box.bottom:
            problems.append(
                RigProblem(
                    f"keypoints.{index}.y",
                    f"{keypoint.y} is outside the box (top {box.top}, bottom {box.bottom})",
                )
            )
    return problems


def _field_errors(error: ValidationError) -> list[RigProblem]:
    return [RigProblem(field, message) for field, message in field_messages(error)]


def rig_from_mapping(document: Mapping[str, Any], *, source: str) -> Rig:
    """Validate an already-parsed rig document (YAML or JSON) into a Rig."""
    try:
        parsed = RigDocument.model_validate(document)
    except ValidationError as error:
        raise InvalidRig(source, _field_errors(error)) from None
    if problems := _cross_references(parsed):
        raise InvalidRig(source, problems)
    return Rig(
        name=parsed.name,
        keypoints=tuple(
            RigKeypoint(
                name=k.name,
                color=_long_hex(k.color) if k.color else DEFAULT_COLORS[index % len(DEFAULT_COLORS)],
                x=k.x,
                y=k.y,
            )
            for index, k in enumerate(parsed.keypoints)
        ),
        edges=tuple(
            RigEdge(start=e[0], end=e[1], color=_long_hex(e[2]) if len(e) == 3 else None) for e in parsed.edges
        ),
        mirrored=tuple((left, right) for left, right in parsed.mirrored),
        box=RigBox(parsed.box.left, parsed.box.top, parsed.box.right, parsed.box.bottom) if parsed.box else None,
        required=tuple(parsed.required),
    )


def parse_rig(text: str | bytes, *, source: str) -> Rig:
    """Validate a YAML rig document; `source` names it in error messages (an S3 URI, a file, a preset)."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        raise InvalidRig(source, [RigProblem(where, f"not valid YAML: {error}")]) from None
    if not isinstance(document, dict):
        raise InvalidRig(source, [RigProblem("(document)", "must be a YAML mapping")])
    return rig_from_mapping(document, source=source)


def load_rig(s3: S3Client, bucket: str, name: str) -> Rig:
    """A preset by name, or a rig document under rigs/ of the data bucket."""
    if "/" not in name:
        return load_preset(name)
    try:
        body = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise InvalidRig(f"s3://{bucket}/{name}", [RigProblem("(document)", "no such object")]) from None
    return parse_rig(body, source=f"s3://{bucket}/{name}")


@lru_cache(maxsize=len(PRESETS))
def load_preset(name: str) -> Rig:
    """A rig shipped with groundcrew (see PRESETS)."""
    if name not in PRESETS:
        raise LookupError(f"no rig preset {name!r}; the presets are {', '.join(PRESETS)}")
    text = resources.files(__package__).joinpath(PRESETS_FOLDER).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_rig(text, source=f"preset {name}")


__all__ = [
    "PRESETS",
    "InvalidRig",
    "RigProblem",
    "load_preset",
    "load_rig",
    "parse_rig",
    "rig_from_mapping",
]
