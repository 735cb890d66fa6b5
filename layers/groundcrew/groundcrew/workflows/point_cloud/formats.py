"""Lidar point clouds: reading the formats teams have (PCD, KITTI .bin, PLY, LAS/LAZ, ASCII) and writing the
binary packs Ground Truth reads (binary/xyz, binary/xyzi, binary/xyzrgb, binary/xyzirgb).

A binary pack is a headerless stream of little-endian float32 values, one point after another, elements in the
order the format names; colours are 0-255 stored as float32. Ground Truth recommends at most 500,000 points per
frame, and more than 1,000,000 may not render.

Choices made where inputs are ambiguous (each also noted where it is applied):
- PCD fields with COUNT > 1 keep their first element (x, y, z, intensity, rgb); other fields are listed as ignored.
- PCD binary data is read as little-endian (PCL writes native order, little-endian on x86 and ARM).
- PLY float colours: 0-1 when no value exceeds 1 (scaled by 255), else taken as 0-255 already.
- LAS 16-bit colours: divided by 257 (65535 -> 255) when any value exceeds 255, else kept (8-bit writers).
- Rows whose x, y, z, intensity or colour is NaN or infinite are dropped and counted (`drop_non_finite`).

numpy is the only import at module level: lzf, laspy and plyfile are imported by the readers that need them, so
the intake Lambda can call `check_signature` without loading them.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from groundcrew.core.media import POINT_CLOUD_SUFFIXES
from groundcrew.workflows.point_cloud.preflight import FLOATS_PER_POINT

MAX_POINTS = 1_000_000  # above this Ground Truth may not render the frame
RECOMMENDED_POINTS = 500_000
FORMATS = tuple(FLOATS_PER_POINT)  # the binary packs (contracts 2.3)
INTENSITY_FIELDS = ("intensity", "i", "reflectance", "remission")
_PLY_INTENSITY_FIELDS = (*INTENSITY_FIELDS, "scalar_intensity")
_FAMILIES = {
    ".pcd": "pcd",
    ".bin": "kitti/bin",
    ".ply": "ply",
    ".las": "las",
    ".laz": "laz",
    ".txt": "ascii",
    ".xyz": "ascii",
    ".asc": "ascii",
}
SUFFIXES: frozenset[str] = POINT_CLOUD_SUFFIXES  # what intake accepts as frames; each has a family above
_PCD_KEYWORDS = {"VERSION", "FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS", "DATA"}
_PCD_TYPES: dict[tuple[str, int], np.dtype[Any]] = {
    (kind, size): np.dtype(f"<{kind.lower()}{size}")
    for kind, sizes in (("F", (2, 4, 8)), ("U", (1, 2, 4, 8)), ("I", (1, 2, 4, 8)))
    for size in sizes
}
_PCD_DATA_LINE = re.compile(rb"^[ \t]*DATA\b([^\n]*)(?:\n|$)", re.MULTILINE)  # comments start with '#'
_PCD_HEADER_LINE = re.compile(r"^[^\S\n]*([^#\s]\S*)(.*)$", re.MULTILINE)  # keyword and rest; skips '#', blanks
_PCD_HEADER_LIMIT = 1 << 16  # a PCD header is a few hundred bytes; stop looking for DATA after this
_PRECISE_LIMIT = 65536.0  # float32 steps reach 7.8 mm beyond this coordinate magnitude
_F4 = np.dtype("<f4")

Floats = npt.NDArray[np.float32]
Column = npt.NDArray[Any]


class PointCloudError(ValueError):
    """A point cloud that cannot be read or converted; `rule` says which check failed."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class PointCloud:
    xyz: Floats  # (N, 3) float32, possibly a read-only view into the source bytes
    intensity: Floats | None = None  # (N,) float32
    rgb: Floats | None = None  # (N, 3) float32, 0-255
    ignored_fields: tuple[str, ...] = ()
    source_format: str = ""  # e.g. "pcd/binary_compressed", "kitti/bin", "ply/ascii", "laz", "ascii/xyzi"
    warnings: tuple[str, ...] = ()  # things the reader noticed that the caller should hear about
    # (N, 3 or 4) float32 view of the source rows holding x y z, then intensity when the cloud has it, side by side
    # (a KITTI .bin, a binary PCD): xyz and intensity are views into it, and the pack is one copy of it.
    source_rows: Floats | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.xyz.shape[0])


@dataclass(frozen=True)
class ConversionReport:
    source_format: str
    points_in: int
    points_out: int
    dropped_non_finite: int
    output_format: str
    ignored_fields: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"ignored_fields": list(self.ignored_fields)}


@dataclass(frozen=True)
class Converted:
    data: bytes
    report: ConversionReport


def source_format_for(name: str) -> str | None:
    """The format family a file name's suffix announces ("pcd", "kitti/bin", "ply", "las", "laz", "ascii")."""
    return _FAMILIES.get(_suffix(name))


def _suffix(name: str) -> str:
    base = name.replace("\\", "/").rpartition("/")[2]
    return base[base.rfind(".") :].lower() if base.rfind(".") > 0 else ""


_SIGNATURES = {
    "pcd": ((b"#", b"VERSION", b"FIELDS"), "'#', 'VERSION' or 'FIELDS'"),
    "ply": ((b"ply",), "'ply'"),
    "las": ((b"LASF",), "'LASF'"),
    "laz": ((b"LASF",), "'LASF'"),
}


def check_signature(name: str, head: bytes) -> str | None:
    """An error message when the first bytes contradict the suffix (a PNG named .pcd), else None.

    .bin and ASCII files have no signature, so they always pass here.
    """
    family = source_format_for(name)
    head = head[:16]
    expected = _SIGNATURES.get(family or "")
    if expected is None or head.lstrip(b"\xef\xbb\xbf").startswith(expected[0]):
        return None
    return (
        f"{name}: a {family} file starts with {expected[1]}, but this one starts with {head[:8]!r}; "
        f"the file is not {family} (renamed or corrupt): export it again as {family} or give it its real suffix"
    )


def read_point_cloud(data: bytes, name: str) -> PointCloud:
    """Every point of the file as stored (non-finite rows included), the format chosen by the suffix."""
    family = source_format_for(name)
    readers: dict[str, Callable[[bytes, str], PointCloud]] = {
        "pcd": _read_pcd,
        "kitti/bin": _read_kitti,
        "ply": _read_ply,
        "las": _read_las,
        "laz": _read_las,
        "ascii": _read_ascii,
    }
    if family is None:
        raise PointCloudError(
            "unsupported-format",
            f"{name}: unsupported point cloud suffix {_suffix(name) or '(none)'!r}; "
            f"use one of {', '.join(sorted(SUFFIXES))}",
        )
    return readers[family](data, name)


def drop_non_finite(cloud: PointCloud) -> tuple[PointCloud, int]:
    """The cloud without rows whose x, y, z, intensity or colour is NaN or infinite, and how many were dropped."""
    # PCL "organized" clouds mark missing points with NaN; Ground Truth has no use for them.
    rows = cloud.source_rows
    if rows is not None:
        keep = np.isfinite(rows).all(axis=1)  # x y z and intensity in one pass over the source
    else:
        keep = np.isfinite(cloud.xyz).all(axis=1)
        if cloud.intensity is not None:
            keep &= np.isfinite(cloud.intensity)
    if cloud.rgb is not None:
        keep &= np.isfinite(cloud.rgb).all(axis=1)
    dropped = int(keep.size - np.count_nonzero(keep))
    if dropped == 0:
        return cloud, 0
    rgb = None if cloud.rgb is None else cloud.rgb[keep]
    if rows is not None:
        kept = rows[keep]  # one compaction copy; the columns stay views into it
        intensity = kept[:, 3] if kept.shape[1] == 4 else None
        return replace(cloud, xyz=kept[:, :3], intensity=intensity, rgb=rgb, source_rows=kept), dropped
    intensity = None if cloud.intensity is None else cloud.intensity[keep]
    return replace(cloud, xyz=cloud.xyz[keep], intensity=intensity, rgb=rgb), dropped


def choose_format(cloud: PointCloud) -> str:
    """The binary pack that keeps everything the cloud has."""
    return "binary/xyz" + ("i" if cloud.intensity is not None else "") + ("rgb" if cloud.rgb is not None else "")


def encode(cloud: PointCloud, fmt: str) -> bytes:
    """The cloud as Ground Truth's binary pack `fmt`: interleaved little-endian float32, one point after another."""
    if fmt not in FORMATS:
        raise PointCloudError(
            "unsupported-output-format", f"output format {fmt!r} is not a binary pack; use one of {', '.join(FORMATS)}"
        )
    columns: list[Floats] = [cloud.xyz]
    for wanted, column, what in (("i", cloud.intensity, "intensity"), ("rgb", cloud.rgb, "colour")):
        if wanted not in fmt.removeprefix("binary/xyz"):
            continue
        if column is None:
            source = cloud.source_format or "this cloud"
            raise PointCloudError(
                "field-missing-for-format",
                f"{fmt} needs {what}, but {source} has none; ask for {choose_format(cloud)} "
                f"(or omit the format to keep what the cloud has)",
            )
        columns.append(column)
    rows = _source_rows(cloud, fmt)
    if rows is not None:
        return rows.tobytes()  # the source already holds the pack (a KITTI .bin, a binary xyzi PCD): one copy
    width = sum(1 if column.ndim == 1 else column.shape[1] for column in columns)
    out = np.empty((len(cloud), width), dtype=_F4)
    start = 0
    for column in columns:
        if column.ndim == 1:
            out[:, start] = column
            start += 1
        else:
            out[:, start : start + column.shape[1]] = column
            start += column.shape[1]
    return out.tobytes()


def convert(data: bytes, name: str, fmt: str | None = None, *, max_points: int = MAX_POINTS) -> Converted:
    """One frame to a Ground Truth binary pack (`fmt`, else the one that keeps every field), with its report."""
    if fmt is not None and fmt not in FORMATS:
        raise PointCloudError(
            "unsupported-output-format", f"{name}: {fmt!r} is not a binary pack; use one of {', '.join(FORMATS)}"
        )
    mismatch = check_signature(name, data[:16])
    if mismatch:
        raise PointCloudError("wrong-signature", mismatch)
    cloud = read_point_cloud(data, name)
    output_format = fmt or choose_format(cloud)
    points_in = len(cloud)
    packed = _pack_if_finite(cloud, output_format, data) if points_in <= max_points else None
    dropped = 0
    if packed is None:
        cloud, dropped = drop_non_finite(cloud)
    points_out = len(cloud)
    if points_out == 0:
        why = f"all {points_in} points have NaN or infinite values" if points_in else "the file holds no points"
        raise PointCloudError("no-points", f"{name}: nothing to label: {why}; check the export from the sensor")
    if points_out > max_points:
        raise PointCloudError(
            "too-many-points",
            f"{name}: {points_out:,} points, more than {max_points:,} (Ground Truth may not render such a frame); "
            f"downsample it (voxel grid or crop to the region of interest) to at most {RECOMMENDED_POINTS:,} points",
        )
    report_warnings = list(cloud.warnings)
    if points_out > RECOMMENDED_POINTS:
        report_warnings.append(
            f"{points_out:,} points: Ground Truth recommends at most {RECOMMENDED_POINTS:,} per frame; "
            f"downsample for a responsive labeling tool"
        )
    if packed is None:
        try:
            packed = encode(cloud, output_format)
        except PointCloudError as error:
            raise PointCloudError(error.rule, f"{name}: {error}") from None
    report = ConversionReport(
        source_format=cloud.source_format,
        points_in=points_in,
        points_out=points_out,
        dropped_non_finite=dropped,
        output_format=output_format,
        ignored_fields=cloud.ignored_fields,
        warnings=report_warnings,
    )
    return Converted(packed, report)


def convert_file(src: Path, dst: Path, fmt: str | None = None) -> ConversionReport:
    """Convert the file `src` into `dst`; nothing is written when the conversion fails."""
    converted = convert(src.read_bytes(), src.name, fmt)
    dst.write_bytes(converted.data)
    return converted.report


# --- KITTI ------------------------------------------------------------------------------------------------------


def _read_kitti(data: bytes, name: str) -> PointCloud:
    if len(data) % 16:
        raise PointCloudError(
            "truncated-binary",
            f"{name}: {len(data)} bytes is not a whole number of KITTI points (16 bytes each: float32 x y z "
            f"reflectance), {len(data) % 16} bytes too many; the file was cut short: copy it again",
        )
    points: Floats = np.ndarray((len(data) // 16, 4), _F4, buffer=data)  # a view: its base is `data`
    return PointCloud(xyz=points[:, :3], intensity=points[:, 3], source_format="kitti/bin", source_rows=points)


# --- PCD --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PcdField:
    name: str
    dtype: np.dtype[Any]
    count: int
    offset: int  # bytes from the start of a point (binary), or from the start of a column's point (compressed)
    token: int  # index of its first value in an ASCII row


@dataclass(frozen=True)
class _PcdLayout:
    """What FIELDS, SIZE, TYPE and COUNT say, and which fields become x y z, intensity and colour."""

    fields: tuple[_PcdField, ...]
    point_size: int  # bytes per point
    xyz: tuple[_PcdField, _PcdField, _PcdField] | None  # None when one is missing (named in `missing_xyz`)
    missing_xyz: tuple[str, ...]
    intensity: _PcdField | None
    packed_rgb: _PcdField | None  # rgb or rgba, PCL's packed colour
    channels: tuple[_PcdField, _PcdField, _PcdField] | None  # separate r g b fields
    rows_width: int  # 4: x y z intensity side by side as float32, 3: x y z, 0: neither
    multi: tuple[str, ...]  # used fields with COUNT > 1
    ignored: tuple[str, ...]


@dataclass(slots=True)
class _PcdHeader:
    layout: _PcdLayout
    points: int
    data_kind: str
    data_start: int  # byte offset of the data
    data_line: int  # 1-based line number of the first data line
    viewpoint: tuple[float, ...]

    @property
    def fields(self) -> tuple[_PcdField, ...]:
        return self.layout.fields

    @property
    def point_size(self) -> int:
        return self.layout.point_size


def _parse_pcd_header(data: bytes, name: str) -> _PcdHeader:
    data_line = _PCD_DATA_LINE.search(data, 0, _PCD_HEADER_LIMIT)
    if data_line is None:
        raise PointCloudError(
            "pcd-bad-header",
            f"{name}: no 'DATA ascii|binary|binary_compressed' line ends the PCD header; add it before the data",
        )
    head = data[: data_line.start()].decode("latin-1")
    lines = _PCD_HEADER_LINE.findall(head)  # (keyword, rest of the line); the last line of a keyword counts
    values = dict(lines)
    if not values.keys() <= _PCD_KEYWORDS:  # lower-case keywords are accepted too
        values = {keyword.upper(): rest for keyword, rest in lines}
        if not values.keys() <= _PCD_KEYWORDS:
            _raise_unknown_keyword(head, name)
    try:
        layout = _pcd_layout(values.get("FIELDS"), values.get("SIZE"), values.get("TYPE"), values.get("COUNT"))
        width = _pcd_single(values, "WIDTH")
        height = _pcd_single(values, "HEIGHT")
        points = _pcd_single(values, "POINTS")
    except PointCloudError as error:
        raise PointCloudError(error.rule, f"{name}: {error}") from None
    if width is None and points is None:
        raise PointCloudError("pcd-bad-header", f"{name}: the PCD header needs WIDTH (and HEIGHT) or POINTS")
    if points is None:  # VERSION .5 writers may leave POINTS out
        points = (width or 0) * (1 if height is None else height)
    elif width is not None and points != width * (1 if height is None else height):
        raise PointCloudError(
            "pcd-header-mismatch",
            f"{name}: POINTS {points} but WIDTH {width} x HEIGHT {height} = {width * (height or 1)}; "
            f"fix the header so POINTS = WIDTH x HEIGHT",
        )
    data_words = data_line.group(1).decode("latin-1").split()
    data_kind = data_words[0].lower() if data_words else ""
    if data_kind not in ("ascii", "binary", "binary_compressed"):
        raise PointCloudError(
            "pcd-bad-data-kind",
            f"{name}: DATA {data_kind!r} is not a PCD data kind; use ascii, binary or binary_compressed",
        )
    try:
        viewpoint = tuple(map(float, values["VIEWPOINT"].split())) if "VIEWPOINT" in values else ()
    except ValueError as error:
        raise PointCloudError("pcd-bad-header", f"{name}: VIEWPOINT must hold 7 numbers: {error}") from None
    return _PcdHeader(layout, points, data_kind, data_line.end(), head.count("\n") + 2, viewpoint)


@functools.lru_cache(maxsize=64)
def _pcd_layout(fields: str | None, sizes: str | None, types: str | None, counts: str | None) -> _PcdLayout:
    """The layout the four lines describe; errors leave out the file name, which the caller adds.

    Cached: the frames of one sensor share these lines (POINTS, WIDTH and VIEWPOINT, which change from frame to
    frame, are read for every frame), so a sequence works its layout out once.
    """
    found, point_size = _pcd_fields(fields, sizes, types, counts)
    by_name: dict[str, _PcdField] = {}
    for f in found:
        by_name.setdefault(f.name.lower(), f)
    x, y, z = (by_name.get(axis) for axis in "xyz")
    xyz = (x, y, z) if x is not None and y is not None and z is not None else None
    intensity = next((by_name[n] for n in INTENSITY_FIELDS if n in by_name), None)
    packed_rgb = by_name.get("rgb") or by_name.get("rgba")
    r, g, b = (by_name.get(c) for c in "rgb")
    channels = (r, g, b) if packed_rgb is None and r is not None and g is not None and b is not None else None
    used = {f.name.lower() for f in (*(xyz or ()), intensity, packed_rgb, *(channels or ())) if f is not None}
    rows_width = _float32_run(xyz, intensity)
    return _PcdLayout(
        fields=found,
        point_size=point_size,
        xyz=xyz,
        missing_xyz=tuple(axis for axis in "xyz" if axis not in by_name),
        intensity=intensity,
        packed_rgb=packed_rgb,
        channels=channels,
        rows_width=rows_width if rows_width >= 3 else 0,
        multi=tuple(f.name for f in found if f.count > 1 and f.name.lower() in used),
        ignored=tuple(f.name for f in found if f.name.lower() not in used and f.name != "_"),  # "_" is padding
    )


def _pcd_fields(
    fields: str | None, sizes: str | None, types: str | None, counts: str | None
) -> tuple[tuple[_PcdField, ...], int]:
    """The fields FIELDS, SIZE, TYPE and COUNT declare, with their offsets, and the bytes per point."""
    names = fields.split() if fields is not None else []
    if not names:
        raise PointCloudError("pcd-bad-header", "the PCD header has no FIELDS line")
    size_values = _pcd_ints(sizes, "SIZE", None)
    type_values = types.split() if types is not None else None
    count_values = _pcd_ints(counts, "COUNT", [1] * len(names)) or []
    if size_values is None or type_values is None:
        raise PointCloudError("pcd-bad-header", "the PCD header needs SIZE and TYPE lines for every field")
    lengths = {"SIZE": len(size_values), "TYPE": len(type_values), "COUNT": len(count_values)}
    for keyword, length in lengths.items():
        if length != len(names):
            raise PointCloudError(
                "pcd-header-mismatch",
                f"FIELDS names {len(names)} fields ({' '.join(names)}) but {keyword} gives {length} values; "
                f"give one {keyword} value per field",
            )
    found, offset, token = [], 0, 0
    for field_name, size, kind, count in zip(names, size_values, type_values, count_values, strict=True):
        dtype = _PCD_TYPES.get((kind.upper(), size))
        if dtype is None or count < 1:
            raise PointCloudError(
                "pcd-bad-field-type",
                f"field {field_name!r} has TYPE {kind} SIZE {size} COUNT {count}; PCD allows TYPE F with "
                f"SIZE 4 or 8, U and I with SIZE 1, 2, 4 or 8, and COUNT of at least 1",
            )
        found.append(_PcdField(field_name, dtype, count, offset, token))
        offset, token = offset + size * count, token + count
    return tuple(found), offset


def _float32_run(xyz: tuple[_PcdField, _PcdField, _PcdField] | None, intensity: _PcdField | None) -> int:
    """How many of x y z (then intensity) lie side by side as float32 values, from x on (0 without x y z)."""
    run = 0
    if xyz is not None:
        # x y z (then intensity) as adjacent float32 values: one strided view of the data holds them.
        for candidate in (*xyz, intensity):
            if candidate is None or candidate.dtype != _F4 or candidate.offset != xyz[0].offset + 4 * run:
                break
            run += 1
    return run


def _raise_unknown_keyword(head: str, name: str) -> None:
    for line_number, words in enumerate(map(str.split, head.split("\n")), start=1):
        if words and not words[0].startswith("#") and words[0].upper() not in _PCD_KEYWORDS:
            raise PointCloudError(
                "pcd-unknown-keyword",
                f"{name} line {line_number}: unknown PCD header keyword {words[0]!r}; a PCD header holds only "
                f"{' '.join(sorted(_PCD_KEYWORDS))} and '#' comments: remove or comment out that line",
            )


def _pcd_ints(text: str | None, keyword: str, default: list[int] | None) -> list[int] | None:
    if text is None:
        return default
    try:
        return list(map(int, text.split()))
    except ValueError:
        raise PointCloudError(
            "pcd-bad-header", f"{keyword} must hold whole numbers, got {' '.join(text.split())!r}"
        ) from None


def _pcd_single(values: dict[str, str], keyword: str) -> int | None:
    text = values.get(keyword)
    if text is None:
        return None
    try:
        number = int(text)  # int() ignores the whitespace around the one number
    except ValueError:
        numbers = _pcd_ints(text, keyword, None) or []  # raises when a value is not a whole number
        number = numbers[0] if len(numbers) == 1 else -1
    if number < 0:
        raise PointCloudError("pcd-bad-header", f"{keyword} must be one whole number >= 0")
    return number


def _read_pcd(data: bytes, name: str) -> PointCloud:
    header = _parse_pcd_header(data, name)
    layout = header.layout
    column: Callable[[_PcdField], Column]
    if header.data_kind == "binary":
        column = _pcd_binary_columns(data, header, name)
    elif header.data_kind == "binary_compressed":
        column = _pcd_compressed_columns(data, header, name)
    else:
        column = _pcd_ascii_columns(data, header, name)
    if layout.xyz is None:
        raise PointCloudError(
            "missing-xyz",
            f"{name}: no {'/'.join(layout.missing_xyz)} field among FIELDS {' '.join(f.name for f in layout.fields)}; "
            f"Ground Truth needs x, y and z: export the cloud with its coordinates",
        )
    x, y, z = layout.xyz
    source_rows = None
    if header.data_kind == "binary" and layout.rows_width and header.points:
        # x y z (intensity) side by side: a strided view of the data, no copy (the length was checked above).
        rows: Floats = np.ndarray(
            (header.points, layout.rows_width),
            _F4,
            buffer=data,
            offset=header.data_start + x.offset,
            strides=(layout.point_size, 4),
        )
        xyz = rows[:, :3]
        if layout.rows_width == 4 or layout.intensity is None:
            source_rows = rows
    else:
        xyz = _xyz(column(x), column(y), column(z))
    intensity = None
    if layout.intensity is not None:
        intensity = source_rows[:, 3] if source_rows is not None else column(layout.intensity)
        if intensity.dtype != _F4:  # astype would copy an unaligned float32 view too
            intensity = intensity.astype(_F4)
    rgb = None
    if layout.packed_rgb is not None:
        rgb = _unpack_rgb(column(layout.packed_rgb), layout.packed_rgb.dtype)
    elif layout.channels is not None:
        rgb = np.empty((header.points, 3), dtype=_F4)
        for index, channel in enumerate(layout.channels):
            rgb[:, index] = column(channel)
    notes = []
    if header.viewpoint and header.viewpoint != (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0):
        notes.append(
            f"VIEWPOINT {' '.join(f'{v:g}' for v in header.viewpoint)} is not the identity; the points are written "
            f"as stored, in the sensor frame, without applying it"
        )
    if layout.multi:
        notes.append(f"fields with COUNT > 1 ({', '.join(layout.multi)}): only their first element is kept")
    return PointCloud(xyz, intensity, rgb, layout.ignored, f"pcd/{header.data_kind}", tuple(notes), source_rows)


def _pcd_binary_columns(data: bytes, header: _PcdHeader, name: str) -> Callable[[_PcdField], Column]:
    needed = header.points * header.point_size
    available = len(data) - header.data_start
    if available < needed:
        raise PointCloudError(
            "truncated-binary",
            f"{name}: the header promises {header.points} points of {header.point_size} bytes ({needed} bytes) but "
            f"only {available} bytes of data follow; the file was cut short: copy or export it again",
        )

    def column(f: _PcdField) -> Column:
        # A strided view into the file's bytes: no copy (trailing bytes, which PCL sometimes pads with, are ignored).
        return np.ndarray(
            (header.points,), f.dtype, buffer=data, offset=header.data_start + f.offset, strides=(header.point_size,)
        )

    return column


def _pcd_compressed_columns(data: bytes, header: _PcdHeader, name: str) -> Callable[[_PcdField], Column]:
    import lzf

    start = header.data_start
    if len(data) < start + 8:
        raise PointCloudError(
            "truncated-binary", f"{name}: binary_compressed data ends before its two size words; export it again"
        )
    compressed_size, raw_size = (int(v) for v in np.frombuffer(data, "<u4", 2, start))
    expected = header.points * header.point_size
    if raw_size != expected:
        raise PointCloudError(
            "corrupt-compressed-data",
            f"{name}: binary_compressed says {raw_size} bytes uncompressed, but {header.points} points of "
            f"{header.point_size} bytes are {expected}; the header and the data disagree: export the file again",
        )
    if len(data) - start - 8 < compressed_size:
        raise PointCloudError(
            "truncated-binary",
            f"{name}: binary_compressed says {compressed_size} compressed bytes but only {len(data) - start - 8} "
            f"follow; the file was cut short: copy or export it again",
        )
    try:
        raw = lzf.decompress(data[start + 8 : start + 8 + compressed_size], raw_size) if raw_size else b""
    except ValueError:
        raw = None
    if raw is None or len(raw) != raw_size:
        raise PointCloudError(
            "corrupt-compressed-data",
            f"{name}: the LZF block of binary_compressed data does not decompress to {raw_size} bytes; "
            f"the file is corrupt: export it again (or as DATA binary)",
        )

    def column(f: _PcdField) -> Column:
        # Column-major: all points' values of one field, then the next field (the first element when COUNT > 1).
        return np.ndarray(
            (header.points,),
            f.dtype,
            buffer=raw,
            offset=f.offset * header.points,
            strides=(f.dtype.itemsize * f.count,),
        )

    return column


def _pcd_ascii_columns(data: bytes, header: _PcdHeader, name: str) -> Callable[[_PcdField], Column]:
    width = sum(f.count for f in header.fields)
    rows = _parse_ascii_rows(data[header.data_start :], name, header.data_line, width)
    if rows.shape[0] != header.points:
        raise PointCloudError(
            "pcd-header-mismatch",
            f"{name}: the header says POINTS {header.points} but {rows.shape[0]} data rows follow; "
            f"fix POINTS (and WIDTH x HEIGHT) or restore the missing rows",
        )
    return lambda f: rows[:, f.token]


def _xyz(x: Column, y: Column, z: Column) -> Floats:
    """(N, 3) float32 filled from three columns (compressed or ASCII PCD, or binary with x y z apart)."""
    xyz = np.empty((x.shape[0], 3), dtype=_F4)
    xyz[:, 0], xyz[:, 1], xyz[:, 2] = x, y, z
    return xyz


def _unpack_rgb(packed: Column, declared: np.dtype[Any]) -> Floats:
    """PCL packs colour as 0x00RRGGBB (alpha in the top byte for rgba) in a float32 or uint32."""
    if declared.kind == "f":
        # The colour is the bit pattern of a float32 (ASCII PCD prints that float, parsed here as float64).
        bits = packed.view("<u4") if packed.dtype == _F4 else packed.astype(_F4).view("<u4")
    else:
        bits = packed.astype("<u4")
    rgb = np.empty((bits.shape[0], 3), dtype=_F4)
    rgb[:, 0] = (bits >> 16) & 0xFF
    rgb[:, 1] = (bits >> 8) & 0xFF
    rgb[:, 2] = bits & 0xFF
    return rgb


# --- ASCII ------------------------------------------------------------------------------------------------------

_ASCII_LAYOUTS = {3: "xyz", 4: "xyzi", 6: "xyzrgb", 7: "xyzirgb"}
_COMMENT = re.compile(rb"#[^\n]*")


def _parse_ascii_rows(text: bytes, name: str, first_line: int, width: int | None) -> npt.NDArray[np.float64]:
    """Whitespace-separated numbers as (rows, width) float64; '#' comments and blank lines are skipped.

    Counts values per line with numpy on the whole text, so that only the error paths look at single lines.
    """
    if b"#" in text:
        text = _COMMENT.sub(b"", text)
    chars = np.frombuffer(text, dtype=np.uint8)
    blank = chars <= 32  # space, tab, CR, LF and other control characters separate values
    starts = np.flatnonzero(~blank & np.concatenate(([True], blank[:-1])))
    newlines = np.flatnonzero(chars == 10)
    line_of_value = np.searchsorted(newlines, starts)
    per_line = np.bincount(line_of_value, minlength=newlines.size + 1)
    filled = np.flatnonzero(per_line)
    if filled.size == 0:
        return np.empty((0, width or 3))
    expected = width if width is not None else int(per_line[filled[0]])
    wrong = filled[per_line[filled] != expected]
    if wrong.size:
        line = int(wrong[0])
        raise PointCloudError(
            "ascii-columns",
            f"{name} line {line + first_line}: {per_line[line]} values where {_ascii_expectation(expected, width)}; "
            f"every row must hold the same whitespace-separated columns: fix or remove that line",
        )
    if width is None and expected not in _ASCII_LAYOUTS:
        raise PointCloudError(
            "ascii-columns",
            f"{name} line {int(filled[0]) + first_line}: {expected} values per row; an ASCII point cloud has "
            f"3 (x y z), 4 (x y z i), 6 (x y z r g b) or 7 (x y z i r g b) whitespace-separated columns; if the file "
            f"is not a point cloud, keep it apart from the frames",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy warns, then stops, at the first non-number
        try:
            values = np.fromstring(text, dtype=np.float64, sep=" ")
        except ValueError:
            values = np.empty(0)
    if values.size != starts.size:
        index = values.size if values.size < starts.size else 0
        token = text[starts[index] :].split(maxsplit=1)[0].decode("latin-1")
        raise PointCloudError(
            "ascii-bad-number",
            f"{name} line {int(line_of_value[index]) + first_line}: {token!r} is not a number; "
            f"fix that value (use nan for a missing one)",
        )
    return values.reshape(-1, expected)


def _ascii_expectation(expected: int, width: int | None) -> str:
    if width is not None:
        return f"the header's fields make {width}"
    return f"the first row has {expected}"


def _read_ascii(data: bytes, name: str) -> PointCloud:
    rows = _parse_ascii_rows(data, name, 1, None)
    layout = _ASCII_LAYOUTS.get(rows.shape[1], "xyz")
    xyz = rows[:, :3].astype(_F4)
    intensity = rows[:, 3].astype(_F4) if "i" in layout else None
    rgb = rows[:, -3:].astype(_F4) if "rgb" in layout else None
    return PointCloud(xyz, intensity, rgb, (), f"ascii/{layout}", _precision_notes(rows[:, :3]))


def _precision_notes(xyz: npt.NDArray[Any]) -> tuple[str, ...]:
    """Ground Truth reads float32: far from the origin (georeferenced data) that loses millimetres."""
    if xyz.size == 0:
        return ()
    largest = float(np.max(np.abs(xyz), initial=0.0, where=np.isfinite(xyz)))
    if largest < _PRECISE_LIMIT:
        return ()
    step = float(np.spacing(np.float32(largest)))
    return (
        f"coordinates reach {largest:,.1f}; as float32 they are rounded to steps of {step:g} there: subtract a "
        f"local origin (e.g. the frame's centre) before converting if that matters",
    )


# --- PLY --------------------------------------------------------------------------------------------------------


def _read_ply(data: bytes, name: str) -> PointCloud:
    import plyfile

    try:
        ply = plyfile.PlyData.read(io.BytesIO(data))
    except (plyfile.PlyParseError, ValueError, EOFError, IndexError, TypeError) as error:
        raise PointCloudError(
            "unreadable-ply", f"{name}: not a readable PLY file ({error}); export it again as PLY"
        ) from None
    elements = {element.name: element for element in ply.elements}
    vertex = elements.get("vertex")
    names = [prop.name for prop in vertex.properties] if vertex is not None else []
    if vertex is None or not {"x", "y", "z"} <= set(names):
        raise PointCloudError(
            "missing-xyz",
            f"{name}: a PLY point cloud needs a 'vertex' element with x, y and z properties; found "
            f"{', '.join(f'{e}({len(elements[e].properties)} properties)' for e in elements) or 'no elements'}",
        )
    vertices = vertex.data
    xyz_source = np.column_stack([vertices[axis] for axis in "xyz"])
    used = {"x", "y", "z"}
    intensity_name = next((n for n in _PLY_INTENSITY_FIELDS if n in names), None)
    intensity = None
    if intensity_name is not None:
        intensity = vertices[intensity_name].astype(_F4)
        used.add(intensity_name)
    rgb = None
    if {"red", "green", "blue"} <= set(names):
        rgb = np.column_stack([vertices[c] for c in ("red", "green", "blue")]).astype(_F4)
        used |= {"red", "green", "blue"}
        if vertices["red"].dtype.kind == "f":
            rgb = _float_colours(rgb, name)
    ignored = tuple(n for n in names if n not in used) + tuple(e for e in elements if e != "vertex")
    encoding = "ascii" if ply.text else "binary_big_endian" if ply.byte_order == ">" else "binary_little_endian"
    return PointCloud(xyz_source.astype(_F4), intensity, rgb, ignored, f"ply/{encoding}", _precision_notes(xyz_source))


def _float_colours(rgb: Floats, name: str) -> Floats:
    finite = rgb[np.isfinite(rgb)]
    largest = float(finite.max(initial=0.0))
    if finite.size and (finite.min() < 0 or largest > 255):
        raise PointCloudError(
            "colour-out-of-range",
            f"{name}: float colours range {finite.min():g}..{largest:g}; write them as 0-1 or 0-255 (or as uchar)",
        )
    # Float colours that never exceed 1 are fractions (0-1); larger ones are taken as 0-255 already.
    return rgb * np.float32(255) if largest <= 1.0 else rgb


# --- LAS / LAZ --------------------------------------------------------------------------------------------------


def _read_las(data: bytes, name: str) -> PointCloud:
    import laspy

    family = source_format_for(name) or "las"
    try:
        las = laspy.read(io.BytesIO(data))
    except (laspy.errors.LaspyException, ValueError, EOFError, OSError) as error:
        raise PointCloudError(
            "unreadable-las",
            f"{name}: not a readable {family.upper()} file ({error}); export it again as LAS 1.2-1.4"
            + (" (LAZ needs the lazrs or laszip backend)" if family == "laz" else ""),
        ) from None
    scaled = np.column_stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)])
    dimensions = list(las.point_format.dimension_names)
    intensity = np.asarray(las.intensity).astype(_F4) if "intensity" in dimensions else None  # raw uint16 values
    rgb = None
    if {"red", "green", "blue"} <= set(dimensions):
        rgb = np.column_stack([np.asarray(las[c]) for c in ("red", "green", "blue")]).astype(_F4)
        # LAS says 16-bit colour; many writers store 8-bit values unscaled, so scale only when they exceed 255.
        if rgb.size and rgb.max() > 255:
            rgb /= np.float32(257)
    used = {"X", "Y", "Z", "intensity", "red", "green", "blue"}
    ignored = tuple(d for d in dimensions if d not in used)
    return PointCloud(scaled.astype(_F4), intensity, rgb, ignored, family, _precision_notes(scaled))


def _pack_if_finite(cloud: PointCloud, fmt: str, data: bytes) -> bytes | None:
    """The pack in one copy (none when the file is the pack) when the source holds it and every value is finite,
    else None."""
    if fmt != choose_format(cloud):  # a field left out could hold the NaN that should drop its row
        return None
    rows = _source_rows(cloud, fmt)
    if rows is None:
        return None
    if type(data) is bytes and rows.base is data and rows.nbytes == len(data) and rows.flags.c_contiguous:
        # The whole file is the pack (a KITTI .bin to binary/xyzi): bytes are immutable, so no copy at all.
        return data if _surely_finite(rows.reshape(-1)) else None
    packed = rows.tobytes()
    # Checked on the copy: aligned and still in cache, whereas the source may sit at any offset after a header.
    return packed if _surely_finite(np.frombuffer(packed, dtype=_F4)) else None


def _surely_finite(values: Floats) -> bool:
    """True only when every value is finite; False may also mean a huge but finite value (then check one by one)."""
    # NaN and infinities survive squaring and summing, so a finite dot product proves every value finite; BLAS
    # computes it at memory speed, several times faster than np.isfinite(values).all().
    return bool(np.isfinite(np.dot(values, values)))


def _source_rows(cloud: PointCloud, fmt: str) -> Floats | None:
    """The source's rows cut to the pack `fmt` when they hold it (x y z, or x y z intensity), else None."""
    rows = cloud.source_rows
    width = FLOATS_PER_POINT[fmt]
    if rows is None or "rgb" in fmt or rows.shape[1] < width:
        return None
    return rows if rows.shape[1] == width else rows[:, :width]
