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

import io
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from groundcrew.intake import POINT_CLOUD_SUFFIXES
from groundcrew.point_cloud_preflight import FLOATS_PER_POINT

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


def check_signature(name: str, head: bytes) -> str | None:
    """An error message when the first bytes contradict the suffix (a PNG named .pcd), else None.

    .bin and ASCII files have no signature, so they always pass here.
    """
    family = source_format_for(name)
    head = head[:16]
    expected = {
        "pcd": ((b"#", b"VERSION", b"FIELDS"), "'#', 'VERSION' or 'FIELDS'"),
        "ply": ((b"ply",), "'ply'"),
        "las": ((b"LASF",), "'LASF'"),
        "laz": ((b"LASF",), "'LASF'"),
    }.get(family or "")
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
    block = _packed_block([column for column in (cloud.xyz, cloud.intensity, cloud.rgb) if column is not None])
    if block is not None and _surely_finite(block.reshape(-1)):
        return cloud, 0
    keep = np.isfinite(cloud.xyz).all(axis=1)
    if cloud.intensity is not None:
        keep &= np.isfinite(cloud.intensity)
    if cloud.rgb is not None:
        keep &= np.isfinite(cloud.rgb).all(axis=1)
    dropped = int(keep.size - np.count_nonzero(keep))
    if dropped == 0:
        return cloud, 0
    return (
        replace(
            cloud,
            xyz=cloud.xyz[keep],
            intensity=None if cloud.intensity is None else cloud.intensity[keep],
            rgb=None if cloud.rgb is None else cloud.rgb[keep],
        ),
        dropped,
    )


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
    block = _packed_block(columns)
    if block is not None:
        return block.tobytes()  # already laid out as the pack (a KITTI .bin, a binary xyzi PCD): one copy
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
    packed = _encode_if_finite(cloud, output_format) if points_in <= max_points else None
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
    points = np.frombuffer(data, dtype=_F4).reshape(-1, 4)
    return PointCloud(xyz=points[:, :3], intensity=points[:, 3], source_format="kitti/bin")


# --- PCD --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PcdField:
    name: str
    dtype: np.dtype[Any]
    count: int
    offset: int  # bytes from the start of a point (binary), or from the start of a column's point (compressed)
    token: int  # index of its first value in an ASCII row


@dataclass(frozen=True)
class _PcdHeader:
    fields: tuple[_PcdField, ...]
    points: int
    data_kind: str
    data_start: int  # byte offset of the data
    data_line: int  # 1-based line number of the first data line
    viewpoint: tuple[float, ...]

    point_size: int  # bytes per point
    by_name: dict[str, _PcdField]  # lower-case name -> the first field of that name

    def field(self, names: tuple[str, ...]) -> _PcdField | None:
        return next((self.by_name[n] for n in names if n in self.by_name), None)


def _parse_pcd_header(data: bytes, name: str) -> _PcdHeader:
    data_line = _PCD_DATA_LINE.search(data, 0, _PCD_HEADER_LIMIT)
    if data_line is None:
        raise PointCloudError(
            "pcd-bad-header",
            f"{name}: no 'DATA ascii|binary|binary_compressed' line ends the PCD header; add it before the data",
        )
    lines = data[: data_line.start()].decode("latin-1").split("\n")
    values: dict[str, list[str]] = {"DATA": data_line.group(1).decode("latin-1").split()}
    for line_number, line in enumerate(lines, start=1):
        keyword, *rest = line.split() or [""]
        if not keyword or keyword.startswith("#"):
            continue
        if keyword.upper() not in _PCD_KEYWORDS:
            raise PointCloudError(
                "pcd-unknown-keyword",
                f"{name} line {line_number}: unknown PCD header keyword {keyword!r}; a PCD header holds only "
                f"{' '.join(sorted(_PCD_KEYWORDS))} and '#' comments: remove or comment out that line",
            )
        values[keyword.upper()] = rest
    position, line_number = data_line.end(), len(lines)
    names = values.get("FIELDS")
    if not names:
        raise PointCloudError("pcd-bad-header", f"{name}: the PCD header has no FIELDS line")
    sizes = _pcd_ints(values, "SIZE", name, None)
    types = values.get("TYPE")
    counts = _pcd_ints(values, "COUNT", name, [1] * len(names)) or []
    if sizes is None or types is None:
        raise PointCloudError("pcd-bad-header", f"{name}: the PCD header needs SIZE and TYPE lines for every field")
    lengths = {"SIZE": len(sizes), "TYPE": len(types), "COUNT": len(counts)}
    for keyword, length in lengths.items():
        if length != len(names):
            raise PointCloudError(
                "pcd-header-mismatch",
                f"{name}: FIELDS names {len(names)} fields ({' '.join(names)}) but {keyword} gives {length} values; "
                f"give one {keyword} value per field",
            )
    fields, offset, token = [], 0, 0
    for field_name, size, kind, count in zip(names, sizes, types, counts, strict=True):
        dtype = _PCD_TYPES.get((kind.upper(), size))
        if dtype is None or count < 1:
            raise PointCloudError(
                "pcd-bad-field-type",
                f"{name}: field {field_name!r} has TYPE {kind} SIZE {size} COUNT {count}; PCD allows TYPE F with "
                f"SIZE 4 or 8, U and I with SIZE 1, 2, 4 or 8, and COUNT of at least 1",
            )
        fields.append(_PcdField(field_name, dtype, count, offset, token))
        offset, token = offset + size * count, token + count
    width = _pcd_single(values, "WIDTH", name)
    height = _pcd_single(values, "HEIGHT", name)
    points = _pcd_single(values, "POINTS", name)
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
    data_kind = values["DATA"][0].lower() if values["DATA"] else ""
    if data_kind not in ("ascii", "binary", "binary_compressed"):
        raise PointCloudError(
            "pcd-bad-data-kind",
            f"{name}: DATA {data_kind!r} is not a PCD data kind; use ascii, binary or binary_compressed",
        )
    try:
        viewpoint = tuple(float(v) for v in values.get("VIEWPOINT", []))
    except ValueError as error:
        raise PointCloudError("pcd-bad-header", f"{name}: VIEWPOINT must hold 7 numbers: {error}") from None
    by_name: dict[str, _PcdField] = {}
    for f in fields:
        by_name.setdefault(f.name.lower(), f)
    return _PcdHeader(tuple(fields), points, data_kind, position, line_number + 1, viewpoint, offset, by_name)


def _pcd_ints(values: dict[str, list[str]], keyword: str, name: str, default: list[int] | None) -> list[int] | None:
    if keyword not in values:
        return default
    try:
        return [int(v) for v in values[keyword]]
    except ValueError:
        raise PointCloudError(
            "pcd-bad-header", f"{name}: {keyword} must hold whole numbers, got {' '.join(values[keyword])!r}"
        ) from None


def _pcd_single(values: dict[str, list[str]], keyword: str, name: str) -> int | None:
    numbers = _pcd_ints(values, keyword, name, None)
    if numbers is None:
        return None
    if len(numbers) != 1 or numbers[0] < 0:
        raise PointCloudError("pcd-bad-header", f"{name}: {keyword} must be one whole number >= 0")
    return numbers[0]


def _read_pcd(data: bytes, name: str) -> PointCloud:
    header = _parse_pcd_header(data, name)
    column: Callable[[_PcdField], Column]
    if header.data_kind == "binary":
        column = _pcd_binary_columns(data, header, name)
    elif header.data_kind == "binary_compressed":
        column = _pcd_compressed_columns(data, header, name)
    else:
        column = _pcd_ascii_columns(data, header, name)
    xyz_fields = [header.field((axis,)) for axis in "xyz"]
    if any(f is None for f in xyz_fields):
        missing = [axis for axis, f in zip("xyz", xyz_fields, strict=True) if f is None]
        raise PointCloudError(
            "missing-xyz",
            f"{name}: no {'/'.join(missing)} field among FIELDS {' '.join(f.name for f in header.fields)}; "
            f"Ground Truth needs x, y and z: export the cloud with its coordinates",
        )
    x, y, z = (column(f) for f in xyz_fields if f is not None)
    xyz = _xyz_view(x, y, z)
    used = {"x", "y", "z"}
    intensity_field = header.field(INTENSITY_FIELDS)
    intensity = None
    if intensity_field is not None:
        intensity = column(intensity_field)
        if intensity.dtype != _F4:  # astype would copy an unaligned float32 view too
            intensity = intensity.astype(_F4)
        used.add(intensity_field.name.lower())
    rgb = None
    packed_field = header.field(("rgb", "rgba"))
    channels = [header.field((c,)) for c in "rgb"]
    if packed_field is not None:
        rgb = _unpack_rgb(column(packed_field), packed_field.dtype)
        used.add(packed_field.name.lower())
    elif all(channels):
        rgb = np.empty((header.points, 3), dtype=_F4)
        for index, channel in enumerate(channels):
            if channel is not None:
                rgb[:, index] = column(channel)
                used.add(channel.name.lower())
    notes = []
    if header.viewpoint and header.viewpoint != (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0):
        notes.append(
            f"VIEWPOINT {' '.join(f'{v:g}' for v in header.viewpoint)} is not the identity; the points are written "
            f"as stored, in the sensor frame, without applying it"
        )
    multi = [f.name for f in header.fields if f.count > 1 and f.name.lower() in used]
    if multi:
        notes.append(f"fields with COUNT > 1 ({', '.join(multi)}): only their first element is kept")
    ignored = tuple(f.name for f in header.fields if f.name.lower() not in used and f.name != "_")  # "_" is padding
    return PointCloud(xyz, intensity, rgb, ignored, f"pcd/{header.data_kind}", tuple(notes))


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


def _xyz_view(x: Column, y: Column, z: Column) -> Floats:
    """(N, 3) float32: a view when x, y, z are adjacent float32 values of one buffer, else one filled copy."""
    start = x.__array_interface__["data"][0]
    if (
        x.dtype == y.dtype == z.dtype == _F4
        and x.strides == y.strides == z.strides
        and y.__array_interface__["data"][0] == start + 4
        and z.__array_interface__["data"][0] == start + 8
        and x.shape[0] > 0
    ):
        return np.lib.stride_tricks.as_strided(x, shape=(x.shape[0], 3), strides=(x.strides[0], 4), writeable=False)
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


def _encode_if_finite(cloud: PointCloud, fmt: str) -> bytes | None:
    """The pack in one copy when the source already holds it and every value is finite, else None."""
    if fmt != choose_format(cloud):
        return None
    block = _packed_block([column for column in (cloud.xyz, cloud.intensity, cloud.rgb) if column is not None])
    if block is None:
        return None
    packed = block.tobytes()
    # Checked on the copy: aligned and still in cache, whereas the source may sit at any offset after a header.
    return packed if _surely_finite(np.frombuffer(packed, dtype=_F4)) else None


def _surely_finite(values: Floats) -> bool:
    """True only when every value is finite; False may also mean a huge but finite value (then check one by one)."""
    # NaN and infinities survive squaring and summing, so a finite dot product proves every value finite; BLAS
    # computes it at memory speed, several times faster than np.isfinite(values).all().
    return bool(np.isfinite(np.dot(values, values)))


# --- packing ----------------------------------------------------------------------------------------------------


def _packed_block(columns: list[Floats]) -> Floats | None:
    """The (N, width) float32 block these columns make when they sit back to back in one buffer, else None.

    True of a KITTI .bin or a binary PCD holding just these fields: the output is then one copy of the input.
    """
    first = columns[0]
    rows = first.shape[0]
    width = sum(1 if column.ndim == 1 else column.shape[1] for column in columns)
    if rows == 0:
        return None
    start = first.__array_interface__["data"][0]
    offset = 0
    for column in columns:
        if column.dtype != _F4 or column.strides[0] != 4 * width or column.shape[0] != rows:
            return None
        if column.ndim == 2 and column.strides[1] != 4:
            return None
        if column.__array_interface__["data"][0] != start + offset:
            return None
        offset += 4 * (1 if column.ndim == 1 else column.shape[1])
    # Every byte of the block belongs to one of the columns, which checked out above, so the view reads only them.
    return np.lib.stride_tricks.as_strided(first, shape=(rows, width), strides=(4 * width, 4), writeable=False)
