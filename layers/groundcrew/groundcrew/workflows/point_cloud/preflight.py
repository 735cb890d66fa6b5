"""Preflight for 3D point cloud manifests: frame lines (object detection, semantic segmentation) and sequence files
(object tracking), checked before a labeling job is created.

Rules come from docs/ground-truth-contracts.md sections 2.1 (frame lines), 2.2 (sequence files), 2.3 (formats) and
1.1 (manifest limits). Each finding names the line (and the sequence file and frame), the rule and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any, TypeGuard

import orjson

from groundcrew.core.manifests import ManifestLine, ManifestLineError
from groundcrew.core.preflight import MAX_LINE_CHARS, Finding, Severity

POINT_CLOUD_FORMATS = (
    "binary/xyz",
    "binary/xyzi",
    "binary/xyzrgb",
    "binary/xyzirgb",
    "text/xyz",
    "text/xyzi",
    "text/xyzrgb",
    "text/xyzirgb",
)
DEFAULT_FORMAT_BY_SUFFIX = {".bin": "binary/xyzi", ".txt": "text/xyzi"}
# Contracts 2.3: a binary pack is one float32 per element the format names (x, y, z, i, r, g, b).
FLOATS_PER_POINT = {fmt: len(fmt.removeprefix("binary/")) for fmt in POINT_CLOUD_FORMATS if fmt.startswith("binary/")}
CAMERA_MODELS = ("pinhole", "fisheye")
MAX_CAMERAS = 8
MAX_SEQUENCE_FRAMES = 500
MAX_POINT_CLOUD_ITEMS = 100_000  # frames per frame manifest, sequences per sequence manifest
QUATERNION_TOLERANCE = 1e-3  # |norm - 1| accepted for a heading quaternion
MISSING_NAMED = 5  # missing files named in one finding; the rest are counted

_REQUIRED_INTRINSICS = ("fx", "fy", "cx", "cy")
_OPTIONAL_CAMERA_NUMBERS = ("k1", "k2", "k3", "k4", "p1", "p2", "skew")
_IMAGE_KEYS = frozenset(
    {"image-path", "unix-timestamp", "position", "heading", "camera-model", *_REQUIRED_INTRINSICS}
    | set(_OPTIONAL_CAMERA_NUMBERS)
)
_METADATA_KEYS = frozenset({"format", "unix-timestamp", "ego-vehicle-pose", "prefix", "images"})
_SEQUENCE_FRAME_KEYS = _METADATA_KEYS | {"frame", "frame-no"}
_SEQUENCE_ONLY_KEYS = ("frame", "frame-no", "frames", "number-of-frames", "seq-no")


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number Ground Truth can use: int or float, finite, and not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_s3_folder(value: Any) -> TypeGuard[str]:
    """`s3://bucket/folder/`: Ground Truth appends relative paths to it, so the trailing '/' matters."""
    return (
        isinstance(value, str) and value.startswith("s3://") and len(value) > 6 and value[5] != "/" and value[-1] == "/"
    )


def is_relative_path(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value) and not value.startswith(("/", "s3://"))


def _s3_object(value: Any) -> TypeGuard[str]:
    if not isinstance(value, str) or not value.startswith("s3://"):
        return False
    bucket, _, key = value[5:].partition("/")
    return bool(bucket) and bool(key) and not key.endswith("/")


def _named(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:MISSING_NAMED])
    return f"{shown} and {len(values) - MISSING_NAMED} more" if len(values) > MISSING_NAMED else shown


def _unknown_keys(data: dict[str, Any], known: frozenset[str], where: str, line: int | None) -> Iterator[Finding]:
    # Ground Truth ignores unknown keys, so a misspelled optional one (the DG output sample's "camera_model") silently
    # loses its value: warn, with the spelling Ground Truth reads when it is only '_' for '-'.
    for key in data:
        if key not in known:
            hint = key.replace("_", "-")
            fix = f"did you mean {hint!r}?" if hint in known else "Ground Truth ignores it; remove it"
            yield Finding(line, "unknown-key", f"{where}: {key!r} is not a Ground Truth field; {fix}", Severity.WARNING)


def _check_format(value: Any, file_name: str, where: str, line: int | None) -> Iterator[Finding]:
    suffix = PurePosixPath(file_name).suffix.lower()
    allowed = ", ".join(POINT_CLOUD_FORMATS)
    if value is None:
        if suffix not in DEFAULT_FORMAT_BY_SUFFIX:
            yield Finding(
                line,
                "format-missing",
                f"{where}: no 'format' and the file suffix {suffix or '(none)'!r} has no default "
                f"(only .bin -> binary/xyzi and .txt -> text/xyzi); set 'format' to one of {allowed}",
            )
    elif value not in POINT_CLOUD_FORMATS:
        yield Finding(line, "format", f"{where}: format {value!r} is not one of {allowed}")
    elif suffix in DEFAULT_FORMAT_BY_SUFFIX and value.split("/")[0] != DEFAULT_FORMAT_BY_SUFFIX[suffix].split("/")[0]:
        yield Finding(
            line,
            "format-suffix",
            f"{where}: format {value!r} but the file is {suffix!r}; check that the file really is "
            f"{value.split('/')[0]} or fix 'format'",
            Severity.WARNING,
        )


def _check_timestamp(value: Any, where: str, line: int | None) -> Iterator[Finding]:
    if value is None:
        yield Finding(line, "timestamp-missing", f"{where}: 'unix-timestamp' is required (seconds since 1970, UTC)")
    elif not is_number(value):
        yield Finding(line, "timestamp", f"{where}: 'unix-timestamp' must be a number of seconds, got {value!r}")


def _check_vector(value: Any, fields: tuple[str, ...], name: str, where: str, line: int | None) -> Iterator[Finding]:
    if not isinstance(value, dict):
        yield Finding(line, f"{name}-shape", f"{where}: '{name}' must be an object with {', '.join(fields)} numbers")
        return
    bad = [field for field in fields if not is_number(value.get(field))]
    if bad:
        yield Finding(line, f"{name}-shape", f"{where}: '{name}' needs numbers {', '.join(bad)}; got {value!r}")
    elif name == "heading":
        norm = math.sqrt(sum(value[field] ** 2 for field in fields))
        if abs(norm - 1) > QUATERNION_TOLERANCE:
            yield Finding(
                line,
                "heading-not-unit",
                f"{where}: heading quaternion has length {norm:.6g}; divide qx, qy, qz, qw by it "
                "(use qw=1 and the rest 0 when the orientation is unknown)",
                Severity.ERROR if norm == 0 else Severity.WARNING,
            )


def _check_pose(value: Any, where: str, line: int | None) -> Iterator[Finding]:
    if not isinstance(value, dict):
        yield Finding(line, "pose-shape", f"{where}: must be an object with 'position' and 'heading'")
        return
    yield from _check_vector(value.get("position"), ("x", "y", "z"), "position", where, line)
    yield from _check_vector(value.get("heading"), ("qx", "qy", "qz", "qw"), "heading", where, line)


def _check_image(image: Any, where: str, line: int | None) -> Iterator[Finding]:
    if not isinstance(image, dict):
        yield Finding(line, "image-shape", f"{where}: each image must be an object, got {image!r}")
        return
    path = image.get("image-path")
    if not is_relative_path(path):
        yield Finding(
            line,
            "image-path",
            f"{where}: 'image-path' must be a path relative to the frame's prefix (no s3://, no leading '/'), "
            f"got {path!r}",
        )
    yield from _check_timestamp(image.get("unix-timestamp"), where, line)
    missing = [name for name in _REQUIRED_INTRINSICS if not is_number(image.get(name))]
    if missing:
        yield Finding(line, "camera-intrinsics", f"{where}: {', '.join(missing)} must be numbers (pixels)")
    elif image["fx"] <= 0 or image["fy"] <= 0:
        yield Finding(line, "camera-intrinsics", f"{where}: focal lengths fx, fy must be positive")
    for name in _OPTIONAL_CAMERA_NUMBERS:
        if name in image and not is_number(image[name]):
            yield Finding(line, "camera-distortion", f"{where}: {name!r} must be a number, got {image[name]!r}")
    yield from _check_vector(image.get("position"), ("x", "y", "z"), "position", where, line)
    yield from _check_vector(image.get("heading"), ("qx", "qy", "qz", "qw"), "heading", where, line)
    model = image.get("camera-model", "pinhole")
    if model not in CAMERA_MODELS:
        yield Finding(line, "camera-model", f"{where}: 'camera-model' must be 'pinhole' or 'fisheye', got {model!r}")
    elif model == "fisheye" and ("p1" in image or "p2" in image):
        yield Finding(
            line,
            "fisheye-tangential",
            f"{where}: p1/p2 (tangential distortion) apply to pinhole cameras only; remove them for a fisheye camera",
        )
    yield from _unknown_keys(image, _IMAGE_KEYS, where, line)


def _check_images(images: Any, where: str, line: int | None) -> Iterator[Finding]:
    if not isinstance(images, list):
        yield Finding(line, "images-shape", f"{where}: 'images' must be a list of camera images")
        return
    if len(images) > MAX_CAMERAS:
        yield Finding(
            line,
            "too-many-cameras",
            f"{where}: {len(images)} images; Ground Truth shows at most {MAX_CAMERAS} cameras per frame, "
            f"drop {len(images) - MAX_CAMERAS}",
        )
    for index, image in enumerate(images):
        yield from _check_image(image, f"{where} images[{index}]", line)


def check_frame_line(line: dict[str, Any], number: int) -> Iterator[Finding]:
    """Rules of one frame line of a 3D object detection or semantic segmentation manifest (contracts 2.1)."""
    if not isinstance(line, dict):
        yield Finding(number, "frame-line-shape", "a frame line must be a JSON object")
        return
    ref = line.get("source-ref")
    if not _s3_object(ref):
        yield Finding(
            number, "source-ref", f"'source-ref' must be the s3://bucket/key URI of a frame file, got {ref!r}"
        )
    metadata = line.get("source-ref-metadata")
    for key in _SEQUENCE_ONLY_KEYS:
        if key in line or (isinstance(metadata, dict) and key in metadata):
            yield Finding(
                number,
                "sequence-key-in-frame-line",
                f"{key!r} belongs in sequence files (3D object tracking); remove it from this frame line",
            )
    if not isinstance(metadata, dict):
        yield Finding(
            number,
            "source-ref-metadata",
            "'source-ref-metadata' (an object with at least 'unix-timestamp') is required for point cloud frames",
        )
        return
    where = "source-ref-metadata"
    yield from _check_format(metadata.get("format"), ref if isinstance(ref, str) else "", where, number)
    yield from _check_timestamp(metadata.get("unix-timestamp"), where, number)
    if "ego-vehicle-pose" in metadata:
        yield from _check_pose(metadata["ego-vehicle-pose"], f"{where} ego-vehicle-pose", number)
    prefix = metadata.get("prefix")
    if prefix is not None and not is_s3_folder(prefix):
        yield Finding(
            number, "prefix", f"{where}: 'prefix' must be an s3://bucket/folder/ URI ending with '/', got {prefix!r}"
        )
    images = metadata.get("images")
    if images is not None:
        yield from _check_images(images, where, number)
        if images and prefix is None:
            yield Finding(
                number, "images-prefix", f"{where}: images need 'prefix', the s3:// folder their 'image-path' is in"
            )
    yield from _unknown_keys(metadata, _METADATA_KEYS, where, number)


def _frame_label(index: int, frame: Any) -> str:
    name = frame.get("frame") if isinstance(frame, dict) else None
    return f"frames[{index}] ({name!r})" if isinstance(name, str) else f"frames[{index}]"


def _check_sequence_frame(frame: Any, where: str, line: int | None) -> Iterator[Finding]:
    if not isinstance(frame, dict):
        yield Finding(line, "frame-shape", f"{where}: each frame must be an object")
        return
    path = frame.get("frame")
    if not is_relative_path(path):
        yield Finding(
            line,
            "frame-path",
            f"{where}: 'frame' must be the frame file's path relative to the sequence prefix "
            f"(no s3://, no leading '/'), got {path!r}",
        )
    if "frame-no" in frame and (not isinstance(frame["frame-no"], int) or isinstance(frame["frame-no"], bool)):
        yield Finding(line, "frame-no", f"{where}: 'frame-no' must be an integer, got {frame['frame-no']!r}")
    yield from _check_timestamp(frame.get("unix-timestamp"), where, line)
    yield from _check_format(frame.get("format"), path if isinstance(path, str) else "", where, line)
    if "ego-vehicle-pose" in frame:
        yield from _check_pose(frame["ego-vehicle-pose"], f"{where} ego-vehicle-pose", line)
    prefix = frame.get("prefix")
    if prefix is not None and not is_s3_folder(prefix):
        yield Finding(
            line, "prefix", f"{where}: 'prefix' must be an s3://bucket/folder/ URI ending with '/', got {prefix!r}"
        )
    images = frame.get("images")
    if images is not None:
        yield from _check_images(images, where, line)
        if images and prefix is None:
            # UNCONFIRMED whether Ground Truth then resolves image-path against the sequence prefix (the DG sample
            # does this); a per-frame prefix leaves no doubt.
            yield Finding(
                line,
                "images-prefix",
                f"{where}: images without a per-frame 'prefix'; add the s3:// folder their 'image-path' is in",
                Severity.WARNING,
            )
    yield from _unknown_keys(frame, _SEQUENCE_FRAME_KEYS, where, line)


def _check_timestamp_order(frames: list[Any], source: str, line: int | None) -> Iterator[Finding]:
    seen: dict[float, int] = {}
    latest: float | None = None
    for index, frame in enumerate(frames):
        stamp = frame.get("unix-timestamp") if isinstance(frame, dict) else None
        if not is_number(stamp):
            continue
        label = _frame_label(index, frame)
        if stamp in seen:
            first = seen[stamp]
            yield Finding(
                line,
                "repeated-timestamp",
                f"{source}: {_frame_label(first, frames[first])} and {label} both have unix-timestamp {stamp}; "
                "each frame needs its own capture time (Ground Truth interpolates cuboids between frames)",
            )
        elif latest is not None and stamp < latest:
            yield Finding(
                line,
                "timestamp-order",
                f"{source}: {label} has unix-timestamp {stamp}, earlier than the frame before it ({latest}); "
                "order frames by unix-timestamp",
            )
        seen.setdefault(stamp, index)
        latest = stamp if latest is None else max(latest, stamp)


def check_sequence_document(document: Any, *, line: int | None, source: str) -> Iterator[Finding]:
    """Rules of one sequence file of a 3D object tracking job (contracts 2.2); `source` names it in messages."""
    if not isinstance(document, dict):
        yield Finding(line, "sequence-shape", f"{source}: a sequence file must be one JSON object")
        return
    seq_no = document.get("seq-no")
    if not isinstance(seq_no, int) or isinstance(seq_no, bool):
        yield Finding(line, "seq-no", f"{source}: 'seq-no' must be an integer, got {seq_no!r}")
    prefix = document.get("prefix")
    if not is_s3_folder(prefix):
        yield Finding(
            line,
            "prefix",
            f"{source}: 'prefix' must be the s3://bucket/folder/ URI (ending with '/') the frame paths are relative "
            f"to, got {prefix!r}",
        )
    frames = document.get("frames")
    if not isinstance(frames, list) or not frames:
        yield Finding(line, "frames", f"{source}: 'frames' must be a non-empty list of frames")
        frames = []
    elif len(frames) > MAX_SEQUENCE_FRAMES:
        yield Finding(
            line,
            "sequence-too-long",
            f"{source}: {len(frames)} frames; a sequence holds at most {MAX_SEQUENCE_FRAMES}: split it into "
            f"{math.ceil(len(frames) / MAX_SEQUENCE_FRAMES)} sequence files",
        )
    count = document.get("number-of-frames")
    if not isinstance(count, int) or isinstance(count, bool):
        yield Finding(line, "number-of-frames", f"{source}: 'number-of-frames' must be an integer, got {count!r}")
    elif frames and count != len(frames):
        yield Finding(
            line,
            "number-of-frames",
            f"{source}: 'number-of-frames' is {count} but 'frames' lists {len(frames)}; set it to {len(frames)}",
        )
    for index, frame in enumerate(frames):
        yield from _check_sequence_frame(frame, f"{source} {_frame_label(index, frame)}", line)
    yield from _check_timestamp_order(frames, source, line)


def _sequence_frame_uris(document: Any) -> list[str]:
    if not isinstance(document, dict) or not is_s3_folder(document.get("prefix")):
        return []
    frames = document.get("frames")
    if not isinstance(frames, list):
        return []
    return [
        document["prefix"] + frame["frame"]
        for frame in frames
        if isinstance(frame, dict) and is_relative_path(frame.get("frame"))
    ]


def _check_tracking_line(
    line: ManifestLine, read: Callable[[str], bytes | None], exists: Callable[[str], bool]
) -> Iterator[Finding]:
    ref = line.data.get("source-ref")
    if "source-ref-metadata" in line.data or "source" in line.data:
        yield Finding(
            line.number,
            "tracking-line",
            'a tracking line is {"source-ref": <sequence file>} only; frame metadata belongs in the sequence file',
        )
    if not _s3_object(ref):
        yield Finding(
            line.number, "source-ref", f"'source-ref' must be the s3://bucket/key URI of a sequence file, got {ref!r}"
        )
        return
    body = read(ref)
    if body is None:
        yield Finding(line.number, "sequence-missing", f"{ref} does not exist or is not readable")
        return
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        yield Finding(line.number, "sequence-not-json", f"{ref} is not JSON ({error}); write one JSON object")
        return
    yield from check_sequence_document(document, line=line.number, source=ref)
    uris = _sequence_frame_uris(document)
    missing = [uri for uri in uris if not exists(uri)]
    if missing:
        yield Finding(
            line.number,
            "missing-frames",
            f"{ref}: {len(missing)} of {len(uris)} frame files do not exist: {_named(missing)}; "
            "upload them or remove those frames (and fix 'number-of-frames')",
        )


def check_point_cloud_manifest(
    lines: Iterable[ManifestLine],
    *,
    tracking: bool,
    read: Callable[[str], bytes | None],
    exists: Callable[[str], bool],
) -> list[Finding]:
    """Every finding of a point cloud manifest: frame lines (tracking=False) or lines naming sequence files.

    `read` returns an object's bytes (None when missing), `exists` says whether an object exists; both take s3 URIs.
    """
    findings: list[Finding] = []
    count = 0
    unreadable = False
    try:
        for line in lines:
            count += 1
            if line.raw_length > MAX_LINE_CHARS:
                findings.append(
                    Finding(
                        line.number,
                        "line-too-long",
                        f"{line.raw_length} characters; Ground Truth allows {MAX_LINE_CHARS}",
                    )
                )
            if tracking:
                findings.extend(_check_tracking_line(line, read, exists))
                continue
            line_findings = list(check_frame_line(line.data, line.number))
            findings.extend(line_findings)
            ref = line.data.get("source-ref")
            if _s3_object(ref) and not exists(ref):
                findings.append(
                    Finding(line.number, "frame-missing", f"{ref} does not exist; upload it or drop the line")
                )
    except ManifestLineError as error:
        findings.append(Finding(error.line_number, "json-lines", str(error)))
        unreadable = True
    if count == 0 and not unreadable:
        findings.append(Finding(None, "empty-manifest", "the manifest has no lines"))
    if count > MAX_POINT_CLOUD_ITEMS:
        kind = "sequences" if tracking else "frames"
        findings.append(
            Finding(
                None,
                "too-many-items",
                f"{count} {kind}; a labeling job takes at most {MAX_POINT_CLOUD_ITEMS}: split the manifest",
            )
        )
    return findings
