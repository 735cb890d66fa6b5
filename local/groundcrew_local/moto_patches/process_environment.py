"""The process's environment and import path as one in-process invocation sees them (part of area 1).

``os._Environ.copy``/``items``/``values`` read one snapshot of the environment: a Step Functions thread creating
a boto3 client calls ``os.environ.copy()`` while an invocation swaps the function's variables in, which raised
KeyError. ``replaced_environment`` swaps them in for the call, ``prepended_sys_path`` puts the function's code
and layer folders first on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from groundcrew_local.moto_patches.originals import patch


def install() -> None:
    for name, view in (("copy", _environ_copy), ("items", _environ_items), ("values", _environ_values)):
        patch(os._Environ, name, view)


def _environ_copy(self: Any) -> dict[str, str]:
    data = self._data.copy()  # dict.copy runs in C, under the GIL: one consistent snapshot
    return {self.decodekey(key): self.decodevalue(value) for key, value in data.items()}


def _environ_items(self: Any) -> Any:
    return _environ_copy(self).items()


def _environ_values(self: Any) -> Any:
    return _environ_copy(self).values()


@contextlib.contextmanager
def replaced_environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ holds exactly `values` inside the block, and what it held before after it."""
    saved = dict(os.environ)
    _replace_environment(values)
    try:
        yield
    finally:
        _replace_environment(saved)


def _replace_environment(values: Mapping[str, str]) -> None:
    # Key by key rather than clear(): Step Functions threads read os.environ meanwhile.
    for key in [key for key in os.environ if key not in values]:
        os.environ.pop(key, None)
    for key, value in values.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextlib.contextmanager
def prepended_sys_path(paths: list[Path]) -> Iterator[None]:
    """`paths` come first on sys.path inside the block."""
    entries = [str(p) for p in paths]
    sys.path[0:0] = entries
    try:
        yield
    finally:
        for entry in entries:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
