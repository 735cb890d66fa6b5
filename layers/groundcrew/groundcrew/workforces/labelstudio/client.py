"""Label Studio's REST API over plain HTTP: retries with backoff, paging, and errors that say what to do.

Facts this client relies on (Label Studio 1.23, open-source edition, read in its source):

* Paths are exact, trailing slash included or not (`/api/projects/`, but `/api/projects/<id>/import`): Django
  answers 404 to the other spelling.
* Authentication: a legacy API token is sent as `Authorization: Token <key>` (the server must allow legacy
  tokens: `--enable-legacy-api-token`, or the organisation's setting); a personal access token is a JWT refresh
  token, exchanged at `POST /api/token/refresh/` for a short-lived access token sent as `Authorization: Bearer`.
* `GET /api/tasks/?project=<id>&page=<n>&page_size=<k>` answers `{"tasks": [...], "total": ...}` and 404 past the
  last page; `fields=all` adds each task's annotations.

Retried (with exponential backoff): connection failures, timeouts, 429 and 5xx answers. Not retried: a rejected
token (401, or 403 about the credentials: it never heals by itself, and a retry storm would only fill the
server's log) and other 4xx answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import urllib3

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
PAGE_SIZE = 500
# A refreshed access token lives about five minutes; renew it a little before.
ACCESS_TOKEN_SECONDS = 240


class LabelStudioError(RuntimeError):
    """Base of this client's errors; the state machine matches the subclasses by name."""


class LabelStudioUnreachable(LabelStudioError):
    """The server did not answer (or answered 5xx) on every attempt."""


class LabelStudioTokenRejected(LabelStudioError):
    """401, or 403 about the credentials: the token is wrong, expired, or not accepted in this form."""


class LabelStudioNotFound(LabelStudioError):
    """404: the project, task or page does not exist (a person may have deleted it)."""


class LabelStudioRefused(LabelStudioError):
    """Another 4xx answer: the server refused the request; the message carries its reason."""


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


@dataclass
class LabelStudioClient:
    """One server, one token. `sleep` is injectable so tests of the backoff do not wait."""

    url: str
    token: str = field(repr=False)
    timeout_seconds: float = 30.0
    # A blip is retried here; a longer outage fails the call, and the state machine's Retry (LabelStudioUnreachable,
    # minutes apart) owns the real backoff, where the execution history shows it.
    attempts: int = 2
    backoff_seconds: float = 0.25
    sleep: Callable[[float], None] = time.sleep
    _http: urllib3.PoolManager = field(init=False, repr=False)
    _access: tuple[str, float] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"the Label Studio URL must start with http:// or https://, got {self.url!r}")
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(10.0, self.timeout_seconds), read=self.timeout_seconds),
            retries=False,  # ours, below: urllib3's would also retry the 4xx we want to see at once
            maxsize=8,
        )

    # -- verbs ----------------------------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def tasks(self, project_id: int, *, with_annotations: bool = True) -> Iterator[dict[str, Any]]:
        """Every task of a project, page by page (a deleted project raises LabelStudioNotFound)."""
        page = 1
        params: dict[str, Any] = {"project": project_id, "page_size": PAGE_SIZE}
        if with_annotations:
            params["fields"] = "all"
        while True:
            try:
                answer = self.get("/api/tasks/", **params, page=page)
            except LabelStudioNotFound:
                if page == 1:
                    raise
                return  # past the last page
            tasks = answer.get("tasks", []) if isinstance(answer, dict) else answer
            yield from tasks
            total = answer.get("total") if isinstance(answer, dict) else None
            if len(tasks) < PAGE_SIZE or (isinstance(total, int) and page * PAGE_SIZE >= total):
                return
            page += 1

    # -- the wire ---------------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        if not path.startswith("/api/"):
            raise ValueError(f"Label Studio API paths start with /api/, got {path!r}")
        headers = {"Authorization": self._authorization(), "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(body)
        response = self._send(method, path, headers=headers, fields=params, body=data)
        return orjson.loads(response.data) if response.data else None

    def _send(
        self, method: str, path: str, *, headers: dict[str, str], fields: dict[str, Any] | None, body: bytes | None
    ) -> urllib3.BaseHTTPResponse:
        where = f"{method} {self.url}{path}"
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = self._http.request(
                    method,
                    self.url + path,
                    fields={k: str(v) for k, v in (fields or {}).items()} or None,
                    headers=headers,
                    body=body,
                )
            except urllib3.exceptions.HTTPError as error:  # refused, reset, timed out, name not resolved
                problem = f"{type(error).__name__}: {error}"
                continue
            if response.status in RETRIED_STATUSES:
                problem = f"HTTP {response.status}: {_detail(response)}"
                continue
            _raise_for_status(response, where)
            return response
        raise LabelStudioUnreachable(
            f"Label Studio at {self.url} did not answer {method} {path} after {self.attempts} attempts "
            f"(last: {problem}); check that the server runs, that this function can reach it (its VPC subnets "
            "and security groups, the LabelStudioUrl stack parameter), and that it is not overloaded"
        )

    def _authorization(self) -> str:
        if not _looks_like_jwt(self.token):
            return f"Token {self.token}"
        if self._access is None or self._access[1] < time.monotonic():
            response = self._http.request(
                "POST",
                self.url + "/api/token/refresh/",
                body=orjson.dumps({"refresh": self.token}),
                headers={"Content-Type": "application/json"},
            )
            _raise_for_status(response, f"POST {self.url}/api/token/refresh/")
            access = orjson.loads(response.data)["access"]
            self._access = (str(access), time.monotonic() + ACCESS_TOKEN_SECONDS)
        return f"Bearer {self._access[0]}"


def _detail(response: urllib3.BaseHTTPResponse) -> str:
    """The server's own words: Label Studio answers errors as JSON with `detail` or validation messages."""
    try:
        data = orjson.loads(response.data)
    except orjson.JSONDecodeError:
        return response.data[:300].decode("utf-8", "replace").strip() or response.reason or ""
    if isinstance(data, dict):
        detail = data.get("detail") or data.get("validation_errors") or data
        return str(detail)[:500]
    return str(data)[:500]


def _about_credentials(detail: str) -> bool:
    """Label Studio answers 403 for a bad token and also for a refused request (its SSRF guard, a permission)."""
    text = detail.lower()
    return any(word in text for word in ("token", "credentials", "authenticat"))


def _raise_for_status(response: urllib3.BaseHTTPResponse, where: str) -> None:
    status = response.status
    if status < 400:
        return
    detail = _detail(response)
    if status == 401 or (status == 403 and _about_credentials(detail)):
        raise LabelStudioTokenRejected(
            f"Label Studio refused the token ({where}: HTTP {status}, {detail}); put a valid API token of a user "
            "who may manage projects in the secret named by the LabelStudioTokenSecretArn stack parameter (a "
            "legacy token needs the server's legacy tokens enabled; a personal access token works as it is)"
        )
    if status == 404:
        raise LabelStudioNotFound(f"{where}: not found ({detail})")
    raise LabelStudioRefused(f"{where}: HTTP {status}, {detail}")
