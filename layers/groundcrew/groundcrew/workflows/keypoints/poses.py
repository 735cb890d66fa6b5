"""Skeleton rigs and poses: the shared vocabulary of the keypoint workflow.

A rig names the keypoints a worker places, the edges drawn between them, which keypoints mirror each other
(left/right), and optionally where each keypoint sits in the rig's bounding box (the component's "draw the whole
skeleton" action). A pose is one skeleton placed on one image: keypoint name -> (x, y) in image pixels, with
missing keypoints simply absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RigKeypoint:
    name: str
    color: str  # "#rrggbb"
    x: int = 0  # position inside the rig's bounding box (0 when the rig has none)
    y: int = 0


@dataclass(frozen=True, slots=True)
class RigEdge:
    start: str
    end: str
    color: str | None = None  # line colour; the component's default when None


@dataclass(frozen=True, slots=True)
class RigBox:
    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True, slots=True)
class Rig:
    name: str
    keypoints: tuple[RigKeypoint, ...]
    edges: tuple[RigEdge, ...] = ()
    mirrored: tuple[tuple[str, str], ...] = ()  # (left, right) pairs, e.g. ("left_knee", "right_knee")
    box: RigBox | None = None
    required: tuple[str, ...] = ()  # keypoints every answer must place (when visible)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keypoints)

    def mirror_of(self, name: str) -> str | None:
        for left, right in self.mirrored:
            if name == left:
                return right
            if name == right:
                return left
        return None


@dataclass(frozen=True, slots=True)
class Pose:
    """One skeleton on one image; `points` holds only the keypoints that were placed."""

    points: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    name: str = ""

    def flipped(self, rig: Rig) -> Pose:
        """The same pose with every left/right pair exchanged."""
        swapped = {}
        for label, xy in self.points.items():
            swapped[rig.mirror_of(label) or label] = xy
        return Pose(swapped, self.name)


def rig_to_dict(rig: Rig) -> dict[str, Any]:
    """Plain data for the job's task config (the task Lambdas read it without pydantic or YAML)."""
    return {
        "name": rig.name,
        "keypoints": [{"name": k.name, "color": k.color, "x": k.x, "y": k.y} for k in rig.keypoints],
        "edges": [[e.start, e.end, *([e.color] if e.color else [])] for e in rig.edges],
        "mirrored": [list(pair) for pair in rig.mirrored],
        "box": None if rig.box is None else [rig.box.left, rig.box.top, rig.box.right, rig.box.bottom],
        "required": list(rig.required),
    }


def rig_from_dict(raw: Mapping[str, Any]) -> Rig:
    box = raw.get("box")
    return Rig(
        name=str(raw["name"]),
        keypoints=tuple(
            RigKeypoint(str(k["name"]), str(k["color"]), int(k.get("x", 0)), int(k.get("y", 0)))
            for k in raw["keypoints"]
        ),
        edges=tuple(RigEdge(str(e[0]), str(e[1]), str(e[2]) if len(e) > 2 else None) for e in raw.get("edges", [])),
        mirrored=tuple((str(a), str(b)) for a, b in raw.get("mirrored", [])),
        box=None if box is None else RigBox(*(int(v) for v in box)),
        required=tuple(str(name) for name in raw.get("required", [])),
    )
