"""Shared fixtures. Credentials are fake so nothing can reach a real AWS account by mistake."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "groundcrew-tests",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "groundcrew-tests",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def corpus() -> Iterator[Path]:
    """../shared/corpus: real third-party files. Contract tests skip when it is not beside the repo."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    yield CORPUS


# GROUNDCREW_LOCAL_IAM=record: every call a local-mode handler made that its template Policies do not allow is
# written, with the test that caused it, to $GROUNDCREW_LOCAL_IAM_REPORT (default iam-denials.json) at the end.
if os.environ.get("GROUNDCREW_LOCAL_IAM") == "record":
    import json

    from groundcrew_local import iam_check

    _DENIALS_BY_TEST: list[tuple[str, iam_check.Denial]] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
        iam_check.clear_denials()
        yield
        _DENIALS_BY_TEST.extend((item.nodeid, denial) for denial in iam_check.denials())

    def pytest_sessionfinish(session: pytest.Session) -> None:
        rows: dict[tuple[str, str, str], dict[str, object]] = {}
        for test, denial in _DENIALS_BY_TEST:
            key = (denial.function, denial.action, denial.generalised_resource)
            row = rows.setdefault(key, {"function": key[0], "action": key[1], "resource": key[2], "count": 0})
            row["count"] = int(str(row["count"])) + 1
            row.setdefault("example_test", test)
            row.setdefault("reason", denial.reason)
        path = Path(os.environ.get("GROUNDCREW_LOCAL_IAM_REPORT", "iam-denials.json"))
        path.write_text(
            json.dumps(sorted(rows.values(), key=lambda r: (r["function"], r["action"], r["resource"])), indent=2)
            + "\n",
            encoding="utf-8",
        )


@pytest.fixture(scope="session")
def labelstudio_server() -> Iterator[Any]:
    """One real Label Studio server for the whole session (about 5 s to start from the migrated template that
    `make setup` leaves in .venv-labelstudio); each test works in projects of its own."""
    from groundcrew_local.labelstudio import server

    with server.start() as running:
        yield running


def _bomb_png(width: int, height: int) -> bytes:
    """A greyscale PNG of zeros built row by row: small on disk, width x height bytes once decoded (a
    decompression bomb), without ever holding an image that size here."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), b"\x00" * (width + 1)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.fixture
def bomb_png() -> Any:
    """`bomb_png(width, height)`: the bytes of a PNG that claims that many pixels."""
    return _bomb_png
