"""Manifests: streamed to S3 through a spool that spills to disk, streamed back line by line."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from groundcrew.core import manifests
from groundcrew.core.manifests import ManifestLine, ManifestLineError, parse_lines, read_manifest, write_manifest
from groundcrew.core.s3_locations import S3Location


class WatchedSpool(tempfile.SpooledTemporaryFile):
    """Records whether the manifest spool moved from memory to a file on disk."""

    instances: list[WatchedSpool] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spilled = False
        # the patch is global (botocore and moto spool too): keep only the manifest writer's spool
        if kwargs.get("max_size") == manifests.SPOOL_BYTES:
            WatchedSpool.instances.append(self)

    def rollover(self) -> None:
        self.spilled = True
        super().rollover()


@pytest.fixture
def watched_spool(monkeypatch: pytest.MonkeyPatch) -> list[WatchedSpool]:
    WatchedSpool.instances = []
    monkeypatch.setattr(manifests.tempfile, "SpooledTemporaryFile", WatchedSpool)
    return WatchedSpool.instances


def image_lines(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"source-ref": f"s3://data/incoming/shapes/image-{i:06d}.png", "batch": "shapes-20240506t070809-a1b2c3"}


def test_large_manifest_spills_to_disk_and_round_trips(
    s3: Any, data_bucket: str, watched_spool: list[WatchedSpool]
) -> None:
    # GIVEN ~9.5 MB of lines, more than the 8 MB kept in memory
    location = S3Location(data_bucket, "batches/shapes/b1/input.manifest")
    count = 95_000

    written = write_manifest(s3, location, image_lines(count))

    assert written == count
    (spool,) = watched_spool
    assert spool.spilled
    head = s3.head_object(Bucket=data_bucket, Key=location.key)
    assert head["ContentLength"] > manifests.SPOOL_BYTES
    assert head["ContentType"] == "application/jsonlines"
    assert head["ServerSideEncryption"] == "AES256"
    read_back = read_manifest(s3, location)
    for expected_number, (line, expected) in enumerate(zip(read_back, image_lines(count), strict=True), start=1):
        assert line.number == expected_number
        assert line.data == expected


def test_small_manifest_stays_in_memory(s3: Any, data_bucket: str, watched_spool: list[WatchedSpool]) -> None:
    write_manifest(s3, S3Location(data_bucket, "m.manifest"), image_lines(10))
    assert not watched_spool[0].spilled


def test_lines_are_compact_json_with_raw_utf8(s3: Any, data_bucket: str) -> None:
    location = S3Location(data_bucket, "m.manifest")
    lines = [{"source-ref": "s3://data/incoming/shapes/square 02+café.png"}, {"source-ref": "s3://data/日本.jpg"}]

    assert write_manifest(s3, location, iter(lines)) == 2

    body = s3.get_object(Bucket=data_bucket, Key=location.key)["Body"].read()
    assert (
        body
        == (
            '{"source-ref":"s3://data/incoming/shapes/square 02+café.png"}\n{"source-ref":"s3://data/日本.jpg"}\n'
        ).encode()
    )
    assert [line.data for line in read_manifest(s3, location)] == lines


def test_empty_manifest_is_written_as_an_empty_object(s3: Any, data_bucket: str) -> None:
    location = S3Location(data_bucket, "empty.manifest")
    assert write_manifest(s3, location, iter([])) == 0
    assert s3.get_object(Bucket=data_bucket, Key=location.key)["Body"].read() == b""
    assert list(read_manifest(s3, location)) == []


def test_image_line() -> None:
    assert manifests.image_line(S3Location("data", "incoming/a b.png")) == {"source-ref": "s3://data/incoming/a b.png"}


def test_blank_lines_are_skipped_but_keep_their_numbers() -> None:
    lines = list(parse_lines([b'{"a": 1}\n', b"\n", b"   \r\n", b'{"b": 2}\r\n', b'{"c": 3}']))
    assert lines == [
        ManifestLine(number=1, raw_length=8, data={"a": 1}),
        ManifestLine(number=4, raw_length=8, data={"b": 2}),
        ManifestLine(number=5, raw_length=8, data={"c": 3}),
    ]


def test_raw_length_counts_characters() -> None:
    (line,) = parse_lines(['{"s":"café"}\n'.encode()])
    assert line.raw_length == 12


def test_bad_json_names_its_line_number() -> None:
    stream = parse_lines([b'{"a": 1}\n', b"\n", b'{"a": \n'])
    assert next(stream).number == 1
    with pytest.raises(ManifestLineError, match=r"^line 3: not valid JSON") as info:
        next(stream)
    assert info.value.line_number == 3


@pytest.mark.parametrize(
    ("raw", "kind"), [(b"[1, 2]", "list"), (b'"text"', "str"), (b"42", "int"), (b"null", "NoneType")]
)
def test_json_that_is_not_an_object_names_its_line_and_type(raw: bytes, kind: str) -> None:
    with pytest.raises(ManifestLineError) as info:
        list(parse_lines([b'{"a": 1}\n', raw + b"\n"]))
    assert str(info.value) == f"line 2: must be a JSON object, found {kind}"
    assert info.value.line_number == 2


def test_non_ascii_split_across_read_chunks_survives(s3: Any, data_bucket: str) -> None:
    # botocore reads the body in 1 KB chunks: put a multi-byte character across a chunk boundary
    location = S3Location(data_bucket, "chunks.manifest")
    prefix = "x" * (1024 - len('{"source-ref":"s3://data/') - 1)
    lines = [{"source-ref": f"s3://data/{prefix}é{i}.png"} for i in range(3)]
    write_manifest(s3, location, lines)
    assert [line.data for line in read_manifest(s3, location)] == lines


def test_reading_past_errors_returns_bad_lines_as_errors_and_keeps_the_rest(s3: Any, data_bucket: str) -> None:
    body = b'{"a": 1}\n{broken\n\n[2]\n{"b": 2}\n'
    s3.put_object(Bucket=data_bucket, Key="m.manifest", Body=body)
    read = list(manifests.read_manifest_past_errors(s3, S3Location(data_bucket, "m.manifest")))
    assert [(r.number, r.data) for r in read if isinstance(r, ManifestLine)] == [(1, {"a": 1}), (5, {"b": 2})]
    errors = [r for r in read if isinstance(r, ManifestLineError)]
    assert [e.line_number for e in errors] == [2, 4]
    assert "not valid JSON" in str(errors[0]) and "found list" in str(errors[1])
