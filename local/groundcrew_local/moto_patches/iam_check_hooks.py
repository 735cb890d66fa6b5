"""8. Local IAM check hooks: the calls a handler makes are checked against its template Policies.

``BotocoreStubber.__call__`` hands each request to ``iam_check.checked_request`` before moto serves it (a denied
call fails as AccessDenied, as on AWS); ``ThreadPoolExecutor.submit`` carries the running function into the
handler's worker threads, so their calls are checked against the same function's policy.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber

from groundcrew_local import iam_check
from groundcrew_local.moto_patches.originals import original, patch


def install() -> None:
    patch(BotocoreStubber, "__call__", _checked_botocore_call)
    patch(ThreadPoolExecutor, "submit", _submit_with_caller)


def _checked_botocore_call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
    return iam_check.checked_request(original(BotocoreStubber, "__call__"), self, event_name, request, **kwargs)


def _submit_with_caller(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return original(ThreadPoolExecutor, "submit")(self, iam_check.carry_caller(fn), *args, **kwargs)
