"""Worker answers: the JSON document a task page submitted, read the same way for every workflow, and the typed
shape of an answer once counted (what the consolidation, the answer ledger and the output lines carry)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Required, TypedDict

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


class WorkerAnswer(TypedDict, total=False):
    """One worker's counted answer, as the consolidation writes it and the answer ledger and output lines keep it."""

    worker_id: Required[str]
    round: int  # the labeling round that bought it
    label: str  # classification: the label chosen
    content: Any  # keypoints: the submission as the page posted it (the consensus is rebuilt from it)
    seconds: float | None  # keypoints: the time the worker spent, when the page says


class RejectedAnswer(TypedDict):
    """An answer that was paid for but cannot count, and why."""

    worker_id: str
    reason: str
    round: int
