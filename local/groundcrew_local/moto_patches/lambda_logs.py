"""What an in-process handler prints goes to its invocation's CloudWatch Logs stream (part of area 1).

While an invocation runs, ``sys.stdout`` and ``sys.stderr`` are routed streams: writes go to the innermost
invocation's buffer (nested invocations each keep their own), and ``save_logs`` writes the buffer's lines to the
function's log group in moto, as the runtime does with START/END/REPORT lines around them.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from moto.awslambda.models import LambdaFunction


class _RoutedStream(io.TextIOBase):
    """Stands for stdout/stderr: writes go to the innermost invocation's buffer, else to the real stream.

    Loggers created at import time (Powertools) keep a reference to sys.stdout; routing keeps their output
    with the invocation that produces it.
    """

    def __init__(self, fallback: TextIO) -> None:
        super().__init__()
        self.fallback = fallback

    def write(self, text: str) -> int:
        target = _CAPTURES[-1] if _CAPTURES else self.fallback
        return target.write(text)

    def flush(self) -> None:
        if not _CAPTURES:
            self.fallback.flush()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


_CAPTURES: list[io.StringIO] = []
_ROUTES: dict[str, _RoutedStream] = {}


@contextlib.contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Everything printed inside the block (by any thread of this invocation) lands in the yielded buffer."""
    buffer = io.StringIO()
    saved = {"stdout": sys.stdout, "stderr": sys.stderr}
    for name, stream in saved.items():
        route = _ROUTES.setdefault(name, _RoutedStream(stream))
        if not isinstance(stream, _RoutedStream):
            route.fallback = stream
        setattr(sys, name, route)
    _CAPTURES.append(buffer)
    try:
        yield buffer
    finally:
        _CAPTURES.pop()
        for name, stream in saved.items():
            setattr(sys, name, stream)


def save_logs(fn: LambdaFunction, stream_name: str, output: str) -> None:
    """One log event per non-empty line, in a new stream of the function's log group."""
    backend = fn.logs_backend
    backend.ensure_log_group(fn.logs_group_name)
    backend.create_log_stream(fn.logs_group_name, stream_name)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in output.splitlines() if line.strip()]
    backend.put_log_events(fn.logs_group_name, stream_name, events)
