"""The Liquid environment Ground Truth renders worker task templates with (contracts section 9).

The local Ground Truth stand-in renders pages with it, and so do our Mechanical Turk HITs, whose pages we render
ourselves: the same template gives the same page on both workforces. python-liquid is imported here only, so
only the functions that render pages pay for it.

Ground Truth renders `UiTemplateS3Uri` with `task.input` = the pre-annotation Lambda's `taskInput`, autoescape on,
and three filters of its own:

* `grant_read_access`: `s3://bucket/key` -> a short-lived presigned HTTPS URL (other strings pass through);
* `to_json`: JSON encoding. The result is a plain string, so autoescape still escapes it: AWS's own templates write
  `{{ label | to_json }}` inside attributes (`initial-value="[{label: {{ label | to_json }}}]"`), which only works
  if the quotes come out as `&#34;`. `{{ x | to_json | escape }}` escapes exactly once (python-liquid's `escape`
  returns `Markup` when autoescape is on), so an HTML parser reads the attribute back as the JSON text;
* `skip_autoescape`: mark a value safe, emitted raw (XSS risk with worker-visible user input).

python-liquid 2 differs from 1.x: filters are plain callables in `Environment.filters`, undefined handling is the
`undefined=` class, and autoescape uses markupsafe's `Markup`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from liquid import Environment, Markup, StrictUndefined, Undefined

Presign = Callable[[str], str]


def _json_default(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def to_json(value: object) -> str:
    """Compact JSON like the browser's `JSON.stringify`; non-ASCII kept as is."""
    if isinstance(value, Markup):
        value = str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def skip_autoescape(value: object) -> Markup:
    return value if isinstance(value, Markup) else Markup(str(value))


def make_grant_read_access(presign: Presign) -> Callable[[object], str]:
    def grant_read_access(value: object) -> str:
        text = "" if value is None else str(value)
        return presign(text) if text.startswith("s3://") else text

    return grant_read_access


def ground_truth_liquid_environment(presign: Presign, *, strict: bool = True) -> Environment:
    """`strict` turns a misspelt `task.input.x` into an error (Ground Truth itself renders it as empty)."""
    environment = Environment(autoescape=True, undefined=StrictUndefined if strict else Undefined)
    environment.filters["grant_read_access"] = make_grant_read_access(presign)
    environment.filters["to_json"] = to_json
    environment.filters["skip_autoescape"] = skip_autoescape
    return environment


def render_task_page(
    template_text: str, task_input: Mapping[str, Any], presign: Presign, *, strict: bool = True
) -> str:
    """The HTML page a worker's browser receives for one task."""
    environment = ground_truth_liquid_environment(presign, strict=strict)
    return environment.from_string(template_text).render(task={"input": dict(task_input)})
