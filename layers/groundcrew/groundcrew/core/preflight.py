"""Preflight: the manifest rules Ground Truth enforces late or silently, checked before a job is created.

Rules come from docs/ground-truth-contracts.md section 1.1. Each finding names the line, the rule and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from pathlib import PurePosixPath
from typing import Any

import orjson

from groundcrew.core.manifests import ManifestLine, ManifestLineError
from groundcrew.core.media import IMAGE_SIGNATURES, MAX_IMAGE_BYTES
from groundcrew.core.s3_locations import InvalidS3Uri, S3Location

MAX_LINE_CHARS = 100_000
MAX_ATTRIBUTE_CHARS = 20_000
MAX_ITEMS = 100_000
EXISTENCE_CHECK_WORKERS = 16


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    line: int | None
    rule: str
    message: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True)
class PreflightReport:
    lines: int
    findings: list[Finding]

    @property
    def passed(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)


def _attribute_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(orjson.dumps(value).decode())


def check_line(line: ManifestLine) -> Iterator[Finding]:
    """Rules of one image-classification manifest line."""
    data = line.data
    if line.raw_length > MAX_LINE_CHARS:
        yield Finding(
            line.number, "line-too-long", f"{line.raw_length} characters; Ground Truth allows {MAX_LINE_CHARS}"
        )
    for name, value in data.items():
        if name.startswith("$"):
            yield Finding(line.number, "attribute-name", f"attribute {name!r} starts with '$'; rename it")
        length = _attribute_length(value)
        if length > MAX_ATTRIBUTE_CHARS:
            yield Finding(
                line.number,
                "attribute-too-long",
                f"attribute {name!r} has {length} characters; max {MAX_ATTRIBUTE_CHARS}",
            )
    has_ref, has_source = "source-ref" in data, "source" in data
    if has_ref == has_source:
        yield Finding(line.number, "source", "each line needs exactly one of 'source-ref' (S3 URI) or 'source' (text)")
        return
    if has_source:
        yield Finding(line.number, "source", "image classification needs 'source-ref' with an image URI, not 'source'")
        return
    ref = data["source-ref"]
    try:
        location = S3Location.parse(ref) if isinstance(ref, str) else None
    except InvalidS3Uri:
        location = None
    if location is None or not location.key:
        yield Finding(line.number, "source-ref", f"'source-ref' must be an s3://bucket/key URI, got {ref!r}")
        return
    if PurePosixPath(location.key).suffix.lower() not in IMAGE_SIGNATURES:
        yield Finding(line.number, "image-format", f"{location.uri} is not a JPEG or PNG file name")


def run_preflight(
    lines: Iterable[ManifestLine],
    object_size: Callable[[S3Location], int | None],
) -> PreflightReport:
    """Check every line, then that every referenced object exists and is within the size limit."""
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    to_check: list[tuple[int, S3Location]] = []
    count = 0
    unreadable = False
    try:
        for line in lines:
            count += 1
            line_findings = list(check_line(line))
            findings.extend(line_findings)
            ref = line.data.get("source-ref")
            if isinstance(ref, str):
                if ref in seen:
                    findings.append(
                        Finding(line.number, "duplicate-object", f"{ref} is also on line {seen[ref]}", Severity.WARNING)
                    )
                else:
                    seen[ref] = line.number
                    if not line_findings:
                        to_check.append((line.number, S3Location.parse(ref)))
    except ManifestLineError as error:
        findings.append(Finding(error.line_number, "json-lines", str(error)))
        unreadable = True
    if count == 0 and not unreadable:  # a manifest that breaks on line 1 is not empty
        findings.append(Finding(None, "empty-manifest", "the manifest has no lines"))
    if count > MAX_ITEMS:
        findings.append(Finding(None, "too-many-items", f"{count} items; a labeling job takes at most {MAX_ITEMS}"))
    findings.extend(_check_objects(to_check, object_size))
    return PreflightReport(lines=count, findings=findings)


def _check_objects(
    objects: list[tuple[int, S3Location]], object_size: Callable[[S3Location], int | None]
) -> Iterator[Finding]:
    iterator = iter(objects)
    with ThreadPoolExecutor(max_workers=EXISTENCE_CHECK_WORKERS) as pool:
        while chunk := list(islice(iterator, 1000)):
            sizes = pool.map(lambda item: object_size(item[1]), chunk)
            for (number, location), size in zip(chunk, sizes, strict=True):
                if size is None:
                    yield Finding(number, "object-missing", f"{location.uri} does not exist or is not readable")
                elif size == 0:
                    yield Finding(number, "object-empty", f"{location.uri} is empty")
                elif size > MAX_IMAGE_BYTES:
                    yield Finding(number, "image-too-large", f"{location.uri} is {size} bytes; max {MAX_IMAGE_BYTES}")
