"""Preflight of semantic-segmentation adjustment manifests: what makes Ground Truth show workers no mask at all.

A job pointed at a JSON file instead of a PNG, an RGB or 16-bit mask, a mask one pixel off its image, or pixel
values the `internal-color-map` does not name starts without any error and shows workers nothing. These rules
(docs/ground-truth-contracts.md sections 1.1 and 1.2.2) read each mask and its image's header before a job exists.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from groundcrew.core.manifests import ManifestLine
from groundcrew.core.preflight import Finding, Severity
from groundcrew.workflows.adjustment import masks

MAX_SEGMENTATION_ITEMS = 20_000
MAX_PIXELS = 100_000_000
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
READ_WORKERS = 16
SEGMENTATION_TYPE = "groundtruth/semantic-segmentation"

ReadObject = Callable[[str], bytes | None]  # an s3:// URI's bytes, None when the object does not exist


def mask_attribute(line: Mapping[str, Any]) -> str | None:
    """The line's existing mask label: an attribute ending in -ref (not source-ref) with its -metadata."""
    for name in line:
        if name.endswith("-ref") and name != "source-ref" and f"{name}-metadata" in line:
            return name
    return None


def check_segmentation_manifest(
    lines: Iterable[ManifestLine], read: ReadObject, *, job_attribute: str | None = None
) -> list[Finding]:
    """Every finding of the manifest's lines, then the item count; masks and images are read in parallel."""
    parsed = list(lines)
    findings: list[Finding] = []
    if len(parsed) > MAX_SEGMENTATION_ITEMS:
        findings.append(
            Finding(
                None,
                "too-many-segmentation-items",
                f"{len(parsed)} items; a semantic segmentation job takes at most {MAX_SEGMENTATION_ITEMS}: "
                "split the manifest into batches",
            )
        )
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        for line_findings in pool.map(lambda line: list(check_line(line, read, job_attribute)), parsed):
            findings.extend(line_findings)
    return findings


def check_line(line: ManifestLine, read: ReadObject, job_attribute: str | None) -> Iterator[Finding]:
    data, number = line.data, line.number
    attribute = mask_attribute(data)
    if attribute is None:
        without_ref = [
            name
            for name, value in data.items()
            if f"{name}-metadata" in data
            and isinstance(data[f"{name}-metadata"], dict)
            and data[f"{name}-metadata"].get("type") == SEGMENTATION_TYPE
        ]
        if without_ref:
            yield Finding(
                number,
                "mask-attribute-ref",
                f"label attribute {without_ref[0]!r} holds a semantic-segmentation label but does not end in -ref; "
                f"rename it (and its -metadata) to {without_ref[0]}-ref",
            )
        else:
            yield Finding(
                number,
                "mask-attribute-missing",
                "no existing mask: an adjustment line needs '<name>-ref' (the mask's s3:// URI) and "
                "'<name>-ref-metadata' with an internal-color-map",
            )
        return
    if job_attribute is not None and job_attribute == attribute:
        yield Finding(
            number,
            "adjustment-attribute-same",
            f"the adjustment job's label attribute {job_attribute!r} is the one holding the existing masks; "
            f"give the job its own, e.g. {attribute.removesuffix('-ref')}-adjusted-ref",
        )
    keys, findings = _color_map(number, attribute, data[f"{attribute}-metadata"])
    yield from findings
    uri = data.get(attribute)
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        yield Finding(number, "mask-uri", f"{attribute} must be the mask PNG's s3:// URI, got {uri!r}")
        return
    yield from _check_mask(number, uri, data.get("source-ref"), keys, read)


@dataclass(frozen=True, slots=True)
class _MaskHeader:
    """What the checks need of a mask file's header (its pixels are decoded only once its size is known good)."""

    mode: str
    size: tuple[int, int]
    palette: list[int] | None
    format: str | None


def _read_mask(body: bytes) -> _MaskHeader:
    """The mask's header; raises UnidentifiedImageError, OSError or DecompressionBombError for what is no image."""
    with Image.open(io.BytesIO(body)) as opened:
        palette = opened.getpalette() if opened.mode == "P" else None
        return _MaskHeader(opened.mode, opened.size, palette, opened.format)


def _mask_values(body: bytes) -> npt.NDArray[np.intp]:
    """The pixel values present in a 1-channel 8-bit mask whose size passed the checks."""
    with Image.open(io.BytesIO(body)) as opened:
        return np.nonzero(np.bincount(np.asarray(opened, dtype=np.uint8).ravel(), minlength=256))[0]


def _color_map(number: int, attribute: str, metadata: object) -> tuple[dict[int, str], list[Finding]]:
    """The internal-color-map's class index -> lower-case #rrggbb, and a finding for each entry it cannot use."""
    color_map = metadata.get("internal-color-map") if isinstance(metadata, dict) else None
    keys: dict[int, str] = {}
    if not isinstance(color_map, dict) or not color_map:
        return keys, [Finding(number, "color-map-missing", f"{attribute}-metadata has no internal-color-map; add one")]
    findings: list[Finding] = []
    for key, entry in color_map.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) <= 255):
            findings.append(
                Finding(number, "color-map-key", f"internal-color-map key {key!r} is not a class index 0..255")
            )
            continue
        if not isinstance(entry, dict) or not entry.get("class-name"):
            findings.append(
                Finding(number, "color-map-class-name", f"internal-color-map entry {key} has no class-name")
            )
        color = entry.get("hex-color") if isinstance(entry, dict) else None
        if not isinstance(color, str) or not HEX_COLOR.match(color):
            findings.append(
                Finding(
                    number,
                    "color-map-hex-color",
                    f"internal-color-map entry {key} has no hex-color (#rrggbb), got {color!r}: "
                    "the adjustment job fails to show the mask without it",
                )
            )
            continue
        keys[int(key)] = color.lower()
    return keys, findings


def _check_mask(number: int, uri: str, source: object, keys: Mapping[int, str], read: ReadObject) -> Iterator[Finding]:
    body = read(uri)
    if body is None:
        yield Finding(number, "mask-missing", f"mask {uri} does not exist")
        return
    if body.lstrip()[:1] in (b"{", b"["):
        yield Finding(
            number,
            "mask-is-json",
            f"{uri} is JSON, not a PNG mask: Ground Truth would start the job and show workers no mask; convert the "
            "annotations with `groundcrew import`",
        )
        return
    try:
        header = _read_mask(body)
    except Image.DecompressionBombError as error:
        yield Finding(number, "mask-too-large", f"{uri} is too large to decode safely ({error})")
        return
    except (UnidentifiedImageError, OSError) as error:
        yield Finding(number, "mask-unreadable", f"{uri} is not a readable image ({error})")
        return
    yield from _check_mask_format(number, uri, header)
    size_findings = list(_check_mask_size(number, uri, header.size, source, read))
    yield from size_findings
    width, height = header.size
    if width * height > MAX_PIXELS:
        yield Finding(number, "mask-too-large", f"{uri} has {width * height:,} pixels; the limit is {MAX_PIXELS:,}")
    elif header.mode in {"L", "P"} and not size_findings:  # pixels are decoded only once the size is known good
        yield from _check_mask_values(number, uri, _mask_values(body), header.palette, keys)


def _check_mask_format(number: int, uri: str, header: _MaskHeader) -> Iterator[Finding]:
    if header.format != "PNG":
        yield Finding(number, "mask-not-png", f"{uri} is {header.format}, not PNG")
    if header.mode not in {"L", "P"}:
        kind = {"RGB": "RGB", "RGBA": "RGBA", "I;16": "16-bit", "I": "16/32-bit", "LA": "greyscale with alpha"}
        yield Finding(
            number,
            "mask-mode",
            f"{uri} is a {kind.get(header.mode, header.mode)} image; a mask must be 1-channel 8-bit: "
            "each pixel its class index",
        )


def _check_mask_values(
    number: int, uri: str, values: npt.NDArray[np.intp], palette: list[int] | None, keys: Mapping[int, str]
) -> Iterator[Finding]:
    """Pixel values the color map does not name, and palette colours that disagree with it."""
    unknown = [int(v) for v in values if int(v) not in keys]
    if unknown and keys:
        yield Finding(
            number,
            "mask-values-unmapped",
            f"{uri} has pixel values {unknown[:10]} that the internal-color-map does not name; add them",
        )
    if palette is None:
        return
    for value in values:
        index = int(value)
        rgb = palette[3 * index : 3 * index + 3]
        color = "#{:02x}{:02x}{:02x}".format(*rgb) if len(rgb) == 3 else None
        if index in keys and color != keys[index]:
            yield Finding(
                number,
                "mask-palette-disagrees",
                f"{uri}: palette colour of index {index} is {color}, the internal-color-map says "
                f"{keys[index]}; workers would see the wrong classes",
            )


def _check_mask_size(
    number: int, uri: str, size: tuple[int, int], source: object, read: ReadObject
) -> Iterator[Finding]:
    """The mask against its image's header: the exact same size, and an image Ground Truth accepts."""
    if not isinstance(source, str) or not source.startswith("s3://"):
        return  # the generic preflight reports the line's source-ref
    image = read(source)
    if image is None:
        return  # reported by the generic existence check
    try:
        width, height = masks.image_size(image)
    except ValueError as error:
        yield Finding(number, "image-unreadable", f"{source} is {error}")
        return
    if width * height > MAX_PIXELS:
        yield Finding(
            number, "image-too-many-pixels", f"{source} has {width * height} pixels; the limit is {MAX_PIXELS}"
        )
    if size != (width, height):
        yield Finding(
            number,
            "mask-size",
            f"mask {uri} is {size[0]}x{size[1]}, its image is {width}x{height}: even one pixel off and workers see "
            "no mask; rasterise it at the image's exact size",
        )


__all__ = ["Severity", "check_segmentation_manifest", "mask_attribute"]
