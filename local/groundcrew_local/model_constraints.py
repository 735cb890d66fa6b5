"""Requests checked against botocore's service model, with AWS's wording, for the stand-ins of local mode.

`constraint_violations(params, shape)` lists every constraint of an input shape that a request breaks: required
members, lengths, ranges, patterns and enums, each as AWS words it (`Value '...' at 'humanTaskConfig.x' failed to
satisfy constraint: Member must ...`), with member paths in lower camel case and list items as `.N.member`. The
Ground Truth and Mechanical Turk stand-ins wrap the list in their service's error.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import ListShape, Shape, StructureShape


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    translated = text.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w").replace(r"\p{Z}", r"\s")
    try:
        return re.compile(translated)
    except re.error:
        return None


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _structure_violations(value: dict[str, object], shape: StructureShape, path: str) -> list[str]:
    errors: list[str] = []
    for required in shape.required_members:
        if value.get(required) is None:
            where = f"{path}.{lower_camel(required)}" if path else lower_camel(required)
            errors.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
    for name, member in shape.members.items():
        if value.get(name) is not None:
            where = f"{path}.{lower_camel(name)}" if path else lower_camel(name)
            errors.extend(_violations(value[name], member, where))
    return errors


def _violations(value: object, shape: Shape, path: str) -> list[str]:
    errors: list[str] = []

    def fail(constraint: str) -> None:
        errors.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: Member must {constraint}")

    meta = shape.metadata
    kind = shape.type_name
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        errors.extend(_structure_violations(value, shape, path))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            fail(f"have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"have length less than or equal to {meta['max']}")
        for index, item in enumerate(value, start=1):
            errors.extend(_violations(item, shape.member, f"{path}.{index}.member"))
    elif kind == "string" and isinstance(value, str):
        if "min" in meta and len(value) < meta["min"]:
            fail(f"have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"have length less than or equal to {meta['max']}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            fail(f"satisfy regular expression pattern: {meta['pattern']}")
        enum = meta.get("enum") or getattr(shape, "enum", None)
        if enum and value not in enum:
            fail(f"satisfy enum value set: [{', '.join(enum)}]")
    elif kind in {"integer", "long"} and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            fail(f"have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"have value less than or equal to {meta['max']}")
    return errors


def constraint_violations(params: dict[str, Any], shape: Shape) -> list[str]:
    """Every constraint of a botocore input shape (any service) that `params` breaks, in AWS's wording."""
    return _violations(params, shape, "")
