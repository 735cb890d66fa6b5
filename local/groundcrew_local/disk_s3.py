"""A fake S3 client that keeps every object in a file, for memory tests and benchmarks.

moto keeps objects in memory, so tracemalloc would count every stored point cloud frame as memory of the code
under test. `DiskS3(root)` stores `s3://<bucket>/<key>` as the file `root/<bucket>/<key>` instead: a measured call
holds only what it reads. It answers the boto3 calls that `prepare_frames` makes, with boto3's names and shapes:
`put_object`, `upload_fileobj` (copied in chunks), `get_object` (a body with `read` and `iter_lines`, and
`ContentLength`; a missing key raises `exceptions.NoSuchKey`) and the `list_objects_v2` paginator (1,000 keys a
page). Anything else raises AttributeError, so a new call shows up at once. Nothing is checked: no permissions,
no ETags, no versions.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PAGE_SIZE = 1000  # keys per list_objects_v2 page, as S3 answers


class NoSuchKey(Exception):
    """What `get_object` raises for a key that is not stored (boto3: `s3.exceptions.NoSuchKey`)."""


class DiskBody:
    """The `Body` of a `get_object` answer: the file is read only when asked."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def read(self) -> bytes:
        return self._path.read_bytes()

    def iter_lines(self, chunk_size: int = 1024, keepends: bool = False) -> Iterator[bytes]:
        """The lines of the object one at a time, like botocore's StreamingBody.iter_lines."""
        with self._path.open("rb") as lines:
            for line in lines:
                yield line if keepends else line.rstrip(b"\r\n")

    def close(self) -> None:
        pass


class DiskPaginator:
    """`get_paginator("list_objects_v2")`: the keys under a prefix, in key order."""

    def __init__(self, s3: DiskS3) -> None:
        self._s3 = s3

    def paginate(self, Bucket: str, Prefix: str = "", **_: Any) -> Iterator[dict[str, Any]]:  # noqa: N803 (boto3)
        keys = self._s3.keys(Bucket, Prefix)
        for start in range(0, len(keys), PAGE_SIZE):
            yield {"Contents": [{"Key": key} for key in keys[start : start + PAGE_SIZE]]}


class DiskS3:
    """The S3 calls of a boto3 client that `prepare_frames` makes, each object kept in a file under `root`."""

    class exceptions:  # noqa: N801 (boto3's spelling: s3.exceptions.NoSuchKey)
        NoSuchKey = NoSuchKey

    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    def path(self, bucket: str, key: str) -> Path:
        """The file that holds `s3://bucket/key`."""
        return self._root / bucket / key

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """Every stored key of the bucket that starts with `prefix`, sorted."""
        base = self._root / bucket
        folder = base / prefix.rpartition("/")[0]  # only the folder the prefix names is walked
        found = (p.relative_to(base).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(key for key in found if key.startswith(prefix))

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803 (boto3 names)
        path = self.path(Bucket, Key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)

    def upload_fileobj(self, Fileobj: io.IOBase, Bucket: str, Key: str, **_: Any) -> None:  # noqa: N803
        path = self.path(Bucket, Key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            while chunk := Fileobj.read(1 << 16):
                out.write(chunk)

    def get_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        path = self.path(Bucket, Key)
        if not path.is_file():
            raise NoSuchKey(Key)
        return {"Body": DiskBody(path), "ContentLength": path.stat().st_size}

    def get_paginator(self, name: str) -> DiskPaginator:
        if name != "list_objects_v2":
            raise NotImplementedError(f"DiskS3 has no {name} paginator (only list_objects_v2)")
        return DiskPaginator(self)
