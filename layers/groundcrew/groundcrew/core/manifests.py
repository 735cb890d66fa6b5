"""Ground Truth manifests (JSON Lines): streamed in and out, never held whole in memory."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import orjson

from groundcrew.core.s3_locations import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Below this size the manifest stays in memory; above it the temporary file spills to /tmp.
SPOOL_BYTES = 8 * 1024 * 1024


class ManifestLineError(ValueError):
    """A manifest line that is not one JSON object."""

    def __init__(self, line_number: int, message: str) -> None:
        self.line_number = line_number
        super().__init__(f"line {line_number}: {message}")


@dataclass(frozen=True, slots=True)
class ManifestLine:
    number: int  # 1-based
    raw_length: int  # characters, for Ground Truth's 100,000-character rule
    data: dict[str, Any]


def image_line(location: S3Location) -> dict[str, Any]:
    """The input manifest line of one image."""
    return {"source-ref": location.uri}


def encode_line(line: dict[str, Any]) -> bytes:
    return orjson.dumps(line) + b"\n"


def write_manifest(s3: S3Client, location: S3Location, lines: Iterable[dict[str, Any]]) -> int:
    """Stream `lines` to S3 as JSON Lines; returns the number of lines written."""
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        for line in lines:
            spool.write(encode_line(line))
            count += 1
        spool.seek(0)
        s3.upload_fileobj(
            spool,
            location.bucket,
            location.key,
            ExtraArgs={"ContentType": "application/jsonlines", "ServerSideEncryption": "AES256"},
        )
    return count


def parse_line(number: int, raw: bytes) -> ManifestLine | None:
    """One JSON Lines line (None when blank); a bad line raises ManifestLineError."""
    text = raw.rstrip(b"\r\n")
    if not text.strip():
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ManifestLineError(number, f"not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ManifestLineError(number, f"must be a JSON object, found {type(data).__name__}")
    return ManifestLine(number=number, raw_length=len(text.decode("utf-8", errors="replace")), data=data)


def parse_lines(stream: IO[bytes] | Iterable[bytes]) -> Iterator[ManifestLine]:
    """Parse JSON Lines one at a time; blank lines are skipped, a bad line raises ManifestLineError."""
    for number, raw in enumerate(stream, start=1):
        line = parse_line(number, raw)
        if line is not None:
            yield line


def read_manifest(s3: S3Client, location: S3Location) -> Iterator[ManifestLine]:
    """Stream a manifest from S3 line by line."""
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"]
    try:
        yield from parse_lines(body.iter_lines(keepends=True))
    finally:
        body.close()


def read_manifest_past_errors(s3: S3Client, location: S3Location) -> Iterator[ManifestLine | ManifestLineError]:
    """Stream a manifest from S3; a bad line comes back as its error and the lines after it still come."""
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"]
    try:
        for number, raw in enumerate(body.iter_lines(keepends=True), start=1):
            try:
                line = parse_line(number, raw)
            except ManifestLineError as error:
                yield error
                continue
            if line is not None:
                yield line
    finally:
        body.close()
