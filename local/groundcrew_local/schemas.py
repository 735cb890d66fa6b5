"""Writes the published JSON Schemas from the models: `python -m groundcrew_local.schemas [--check]`.

docs/events/<detail-type>.schema.json describes a whole event as it arrives on the bus (envelope and detail);
docs/project.schema.json describes a project document.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from groundcrew.core.events import EVENT_MODELS, EVENT_SOURCE, EventDetail
from groundcrew.projects import project_schema

REPO = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPO / "docs" / "events"


def slug(detail_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-")


def validate_events(events: list[dict[str, Any]]) -> None:
    """Check events as they reached the bus against the published schemas (jsonschema.ValidationError if not)."""
    import jsonschema  # a test and demo tool, not a dependency of the pipeline

    if not events:
        raise ValueError("no event reached the bus")
    for event in events:
        schema = json.loads((EVENTS_DIR / f"{slug(event['detail-type'])}.schema.json").read_text(encoding="utf-8"))
        jsonschema.validate(event, schema)


def event_schema(model: type[EventDetail]) -> dict[str, Any]:
    detail = model.model_json_schema()
    definitions = detail.pop("$defs", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://groundcrew.dev/schemas/events/{slug(model.DETAIL_TYPE)}.schema.json",
        "title": model.DETAIL_TYPE,
        "description": (model.__doc__ or model.DETAIL_TYPE).strip(),
        "type": "object",
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"const": model.DETAIL_TYPE},
            "source": {"const": EVENT_SOURCE},
            "account": {"type": "string"},
            "time": {"type": "string"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": detail,
        },
    }
    if definitions:
        schema["$defs"] = definitions
    return schema


def expected_files() -> dict[Path, str]:
    files = {
        EVENTS_DIR / f"{slug(model.DETAIL_TYPE)}.schema.json": json.dumps(event_schema(model), indent=2) + "\n"
        for model in EVENT_MODELS
    }
    files[REPO / "docs" / "project.schema.json"] = json.dumps(project_schema(), indent=2) + "\n"
    return files


def main(argv: list[str]) -> int:
    stale = []
    for path, text in expected_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if "--check" not in argv:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if stale and "--check" in argv:
        print("stale schema files (run python -m groundcrew_local.schemas):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
