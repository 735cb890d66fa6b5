"""Preflight: every manifest rule reports its rule id, line and fix; real Ground Truth manifests parse."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from groundcrew.core.manifests import ManifestLine, parse_lines
from groundcrew.core.preflight import (
    MAX_ATTRIBUTE_CHARS,
    MAX_LINE_CHARS,
    Finding,
    PreflightReport,
    Severity,
    check_line,
    run_preflight,
)
from groundcrew.core.s3_locations import S3Location

IMAGE = "s3://data/incoming/shapes/a.png"


def line(data: dict[str, object], number: int = 1) -> ManifestLine:
    text = orjson.dumps(data).decode()
    return ManifestLine(number=number, raw_length=len(text), data=data)


def rules(data: dict[str, object]) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in check_line(line(data))]


def preflight(text: bytes, sizes: dict[str, int | None] | None = None) -> PreflightReport:
    known = sizes or {}
    return run_preflight(parse_lines(text.splitlines(keepends=True)), lambda location: known.get(location.uri, 100))


def test_good_manifest_passes() -> None:
    report = preflight(b'{"source-ref": "s3://data/a.png"}\n{"source-ref": "s3://data/b.JPG", "extra": 1}\n')
    assert report == PreflightReport(lines=2, findings=[])
    assert report.passed
    assert report.errors == 0


def test_line_that_is_not_json() -> None:
    report = preflight(b'{"source-ref": "s3://data/a.png"}\n{"source-ref": \n')
    (finding,) = report.findings
    assert (finding.line, finding.rule, finding.severity) == (2, "json-lines", Severity.ERROR)
    assert finding.message.startswith("line 2: not valid JSON")
    assert not report.passed


def test_line_that_is_json_but_not_an_object() -> None:
    (finding,) = preflight(b'["s3://data/a.png"]\n').findings
    assert (finding.line, finding.rule, finding.message) == (
        1,
        "json-lines",
        "line 1: must be a JSON object, found list",
    )


@pytest.mark.parametrize(
    "data",
    [{"other": IMAGE}, {"source-ref": IMAGE, "source": "text"}],
)
def test_line_needs_exactly_one_source(data: dict[str, object]) -> None:
    assert rules(data) == [("source", "each line needs exactly one of 'source-ref' (S3 URI) or 'source' (text)")]


def test_text_source_is_not_an_image() -> None:
    assert rules({"source": "a stop sign"}) == [
        ("source", "image classification needs 'source-ref' with an image URI, not 'source'")
    ]


@pytest.mark.parametrize("ref", ["https://data.s3.amazonaws.com/a.png", "s3://data", "s3:///a.png", 42])
def test_source_ref_must_be_an_s3_uri_with_a_key(ref: object) -> None:
    assert rules({"source-ref": ref}) == [("source-ref", f"'source-ref' must be an s3://bucket/key URI, got {ref!r}")]


@pytest.mark.parametrize("name", ["a.gif", "a.tiff", "a", "a.png.txt"])
def test_image_format(name: str) -> None:
    uri = f"s3://data/incoming/{name}"
    assert rules({"source-ref": uri}) == [("image-format", f"{uri} is not a JPEG or PNG file name")]


def test_attribute_name_starting_with_dollar() -> None:
    assert rules({"source-ref": IMAGE, "$id": "1"}) == [
        ("attribute-name", "attribute '$id' starts with '$'; rename it")
    ]


def test_attribute_too_long_and_the_limit_itself() -> None:
    assert rules({"source-ref": IMAGE, "note": "x" * MAX_ATTRIBUTE_CHARS}) == []
    assert rules({"source-ref": IMAGE, "note": "x" * (MAX_ATTRIBUTE_CHARS + 1)}) == [
        ("attribute-too-long", "attribute 'note' has 20001 characters; max 20000")
    ]


def test_attribute_length_of_a_nested_value_counts_its_json() -> None:
    value = {"k": "x" * MAX_ATTRIBUTE_CHARS}  # {"k":"xxx..."} is 8 characters longer
    assert rules({"source-ref": IMAGE, "meta": value}) == [
        ("attribute-too-long", f"attribute 'meta' has {MAX_ATTRIBUTE_CHARS + 8} characters; max 20000")
    ]


def test_line_too_long_although_every_attribute_fits() -> None:
    data: dict[str, object] = {"source-ref": IMAGE, **{f"a{i}": "x" * 19_000 for i in range(6)}}
    findings = list(check_line(line(data, number=7)))
    raw = len(orjson.dumps(data))
    assert raw > MAX_LINE_CHARS
    assert findings == [Finding(7, "line-too-long", f"{raw} characters; Ground Truth allows 100000")]


def test_line_length_counts_characters_not_bytes() -> None:
    (parsed,) = parse_lines([orjson.dumps({"source-ref": IMAGE, "note": "é" * 60_000}) + b"\n"])
    assert parsed.raw_length < MAX_LINE_CHARS < len(orjson.dumps(parsed.data))
    assert list(check_line(parsed)) == [
        Finding(1, "attribute-too-long", "attribute 'note' has 60000 characters; max 20000")
    ]


def test_duplicate_object_is_a_warning_that_does_not_fail_the_manifest() -> None:
    report = preflight(
        b'{"source-ref": "s3://data/a.png"}\n{"source-ref": "s3://data/b.png"}\n{"source-ref": "s3://data/a.png"}\n'
    )
    assert report.findings == [Finding(3, "duplicate-object", "s3://data/a.png is also on line 1", Severity.WARNING)]
    assert report.passed
    assert report.errors == 0


def test_missing_empty_and_oversized_objects() -> None:
    manifest = b"".join(
        orjson.dumps({"source-ref": f"s3://data/{name}"}) + b"\n"
        for name in ["ok.png", "gone.png", "empty.jpg", "huge.png"]
    )
    report = preflight(
        manifest, {"s3://data/gone.png": None, "s3://data/empty.jpg": 0, "s3://data/huge.png": 40 * 1024 * 1024 + 1}
    )
    assert report.findings == [
        Finding(2, "object-missing", "s3://data/gone.png does not exist or is not readable"),
        Finding(3, "object-empty", "s3://data/empty.jpg is empty"),
        Finding(4, "image-too-large", "s3://data/huge.png is 41943041 bytes; max 41943040"),
    ]
    assert report.errors == 3


def test_objects_of_lines_that_already_failed_are_not_looked_up() -> None:
    looked_up: list[S3Location] = []

    def size(location: S3Location) -> int | None:
        looked_up.append(location)
        return 10

    run_preflight(parse_lines([b'{"source-ref": "s3://data/a.gif"}\n', b'{"source-ref": "s3://data/b.png"}\n']), size)
    assert looked_up == [S3Location("data", "b.png")]


@pytest.mark.parametrize("text", [b"", b"\n\n  \n"])
def test_empty_manifest(text: bytes) -> None:
    report = preflight(text)
    assert report == PreflightReport(lines=0, findings=[Finding(None, "empty-manifest", "the manifest has no lines")])
    assert not report.passed


def test_real_image_classification_output_manifest_parses_and_passes_the_line_rules(corpus: Path) -> None:
    path = corpus / "gt-manifests" / "ic_birds_image-classification_output.manifest"
    with path.open("rb") as stream:
        lines = list(parse_lines(stream))

    assert len(lines) == 302
    assert [ln.number for ln in lines] == list(range(1, 303))
    first = lines[0].data
    assert first["source-ref"] == "s3://birdstop-ic-us-west-2/birds-open-images-subset/all_data/0273f487d52c16d2.jpg"
    assert first["birds-open-images-clone-metadata"]["class-name"] == "Canary"
    assert [f for ln in lines for f in check_line(ln)] == []
