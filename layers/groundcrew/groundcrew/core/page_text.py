"""Values baked into a worker template before upload: escaped for an HTML attribute, and unable to open Liquid."""

from __future__ import annotations

import re
from typing import Any

import orjson

_LIQUID_OPENING = re.compile(r"\{(?=[{%#])")


def attribute(value: str) -> str:
    """Escaped for a single- or double-quoted HTML attribute or element text; a brace before another brace, '%' or
    '#' becomes an entity (the browser reads it back), so no value can open a Liquid tag when Ground Truth renders."""
    escaped = (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )
    return _LIQUID_OPENING.sub("&#123;", escaped)


def json_attribute(value: Any) -> str:
    return attribute(orjson.dumps(value).decode())
