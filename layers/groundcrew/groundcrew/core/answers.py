"""Worker answers as they arrive: the JSON document a task page submitted, read the same way for every workflow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from groundcrew.core.errors import AnswerError


def answer_document(worker_id: str, content: str | Mapping[str, Any]) -> Any:
    """The submission as data: `content` is the JSON text the page posted (or, from some sources, already data)."""
    if not isinstance(content, str):
        return content
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise AnswerError(f"answer of worker {worker_id} is not valid JSON") from None
