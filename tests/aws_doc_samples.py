"""AWS documentation samples as published are often not strict JSON: this reads them the way a person would.

It removes `//` comments, `...` placeholders (alone, as `{...}` or `[...]`), `{name: value, ...}` placeholders and
trailing commas, and turns single-quoted strings into double-quoted ones; nothing else. A file holding several
objects one after the other (an expanded manifest) is read with `doc_json_values`. The corpus PROVENANCE.md says
which samples need it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_COMMENT = re.compile(r'^((?:[^"\n]|"(?:[^"\\\n]|\\.)*")*?)//[^\n]*$', re.MULTILINE)
_ELLIPSIS_CONTAINER = re.compile(r"\{\s*\.\.\.\s*\}|\[\s*\.\.\.\s*\]")
_ELLIPSIS_LINE = re.compile(r"^\s*\.\.\.\s*,?\s*$", re.MULTILINE)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_NAME_VALUE_PLACEHOLDER = re.compile(r"\{\s*name:\s*value(?:\s*,\s*name:\s*value)*\s*\}")
_SINGLE_QUOTED = re.compile(r"'([^'\n]*)'")


def _clean(text: str) -> str:
    text = _COMMENT.sub(r"\1", text)
    text = _NAME_VALUE_PLACEHOLDER.sub("{}", text)
    text = _SINGLE_QUOTED.sub(r'"\1"', text)
    text = _ELLIPSIS_CONTAINER.sub(lambda m: "{}" if m.group(0).startswith("{") else "[]", text)
    text = _ELLIPSIS_LINE.sub("", text)
    return _TRAILING_COMMA.sub(r"\1", text)


def doc_json(text: str) -> Any:
    return json.loads(_clean(text))


def doc_json_values(text: str) -> list[Any]:
    """Every JSON value in the text, one after the other."""
    text, decoder, values, at = _clean(text), json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def load_doc_json(path: Path) -> Any:
    return doc_json(path.read_text(encoding="utf-8"))
