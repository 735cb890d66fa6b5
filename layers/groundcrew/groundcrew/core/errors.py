"""Errors every workflow raises the same way, and how a caught error reads once Step Functions has carried it."""

from __future__ import annotations

from typing import Any

import orjson


class DataObjectError(ValueError):
    """A manifest line the workflow cannot turn into a task."""


class AnswerError(ValueError):
    """A worker answer that cannot be counted; the message says why."""


class NothingLabeled(RuntimeError):
    """The job (or the whole batch) completed but not one item got a label."""


class ImportNotPossible(ValueError):
    """An import cannot start (wrong project, no annotation files); the message says what to change."""


def cause_message(cause: Any) -> str:
    """Lambda errors arrive as a JSON Cause with errorMessage; service errors as plain text."""
    if not isinstance(cause, str):
        return "" if cause is None else str(cause)
    try:
        parsed = orjson.loads(cause)
    except orjson.JSONDecodeError:
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause
