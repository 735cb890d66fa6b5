"""The NextToken of the stand-ins' list operations (Ground Truth's ListLabelingJobs, Mechanical Turk's lists).

A token is the offset of the next page, base64-encoded JSON; each stand-in turns a token it did not return into
its own service's error.
"""

from __future__ import annotations

import base64
import json


def encode_page_token(offset: int) -> str:
    """A NextToken of the stand-ins' list operations: the offset of the next page."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int | None:
    """The offset a NextToken names (0 without one); None for a token no list operation returned."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None
