"""Moto's own attributes, kept while a local patch replaces them, so that every patch can be undone.

``patch`` replaces an attribute of a moto class or module (once: installing again keeps the first original) and
``original`` returns what it replaced, which most patches call around their own work. ``restore_all`` puts every
original back; an attribute a class only inherited is deleted again rather than copied onto it.
"""

from __future__ import annotations

from typing import Any

_ORIGINALS: dict[tuple[object, str], Any] = {}
_INHERITED = object()


def patch(owner: Any, name: str, replacement: Any) -> None:
    """Set ``owner.name`` to ``replacement``, remembering moto's original the first time."""
    if (owner, name) not in _ORIGINALS:
        # The class __dict__ keeps the raw function (or nothing, for an inherited one); getattr would do for modules.
        original = owner.__dict__.get(name, _INHERITED) if isinstance(owner, type) else getattr(owner, name)
        _ORIGINALS[(owner, name)] = original
    setattr(owner, name, replacement)


def original(owner: object, name: str) -> Any:
    """What ``patch`` replaced: moto's own function (raw, as the class __dict__ holds it)."""
    return _ORIGINALS[(owner, name)]


def restore_all() -> None:
    """Put back every original and forget them."""
    for (owner, name), replaced in _ORIGINALS.items():
        if replaced is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, replaced)
    _ORIGINALS.clear()


def any_patched() -> bool:
    return bool(_ORIGINALS)
