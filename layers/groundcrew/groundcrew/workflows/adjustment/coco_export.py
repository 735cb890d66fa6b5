"""A Ground Truth output manifest (semantic segmentation or bounding boxes) back to a COCO instances file.

This closes the round trip of an adjustment job: COCO/LabelMe/CVAT/Label Studio/VOC/YOLO in (`importing`),
workers adjust, COCO out. Lines are read one at a time and masks decoded one at a time, so memory holds one mask
and the COCO dict being built.

Semantic segmentation comes back COCO-Stuff style: a mask PNG holds one class per pixel and no instance identity,
so each class present in an image becomes ONE annotation (the class's region), with `segmentation` a compressed
COCO RLE, `area` its pixel count, `bbox` its tight pixel box and `iscrowd` 0. Two person polygons that were
imported separately come back as one "person" region; shapes of distinct classes that did not overlap come back
pixel for pixel (IoU 1.0 against the rasterised originals, see `masks.rasterize` for the fill rule).

Mask pixels are mapped to classes through the line's `internal-color-map` (contracts 1.2.2):
* mode P (Ground Truth's output): by the PALETTE COLOUR of each index matched to `hex-color`, never by index,
  since index and key may disagree;
* mode L (our imports): the pixel value is the colour map key;
* RGB / RGBA: by colour (alpha is ignored).
A pixel whose colour or value is not in the map rejects the line: guessing its class would corrupt the export.

Bounding boxes (contracts 1.2.1) come back one annotation per box, `bbox` exactly the numbers in the label,
`area` width * height, `iscrowd` 0, `score` the box's confidence when the metadata has one, and `segmentation`
the box as a 4-corner polygon: that is what pycocotools writes for detection results without masks, and it keeps
`annToMask` and segm tooling working on the file.

Compressed RLE: runs over the mask read column by column, starting with a run of 0s; each run is written as
5-bit groups (least significant first, character = group + 48, bit 0x20 = another group follows, bit 0x10 of the
last group = sign), and from the fourth run on as the difference to the run two places earlier. This is
pycocotools' `rleToString`, reimplemented so the layer does not need pycocotools; the tests compare byte for byte.

A line that cannot be exported becomes a `LineProblem` (line number, rule, message) and the rest still are: a
line with one unusable box or pixel is rejected whole, because a COCO image missing an object reads as "no object".
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from PIL import Image, UnidentifiedImageError

from groundcrew.workflows.adjustment.imports.segmentation import RLE, decode_coco_rle_string
from groundcrew.workflows.adjustment.masks import BACKGROUND
from groundcrew.workflows.adjustment.masks import decode_rle as decode_runs

Read = Callable[[str], bytes]  # a mask's bytes by its URI (S3 or local); raises when it cannot be read
BoolMask = npt.NDArray[np.bool_]
Labels = npt.NDArray[np.int32]

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_UNKNOWN = -1


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int  # 1-based position in the manifest
    source_ref: str | None
    rule: str
    message: str


@dataclass(slots=True)
class CocoExport:
    coco: dict[str, Any]
    problems: list[LineProblem] = field(default_factory=list)


class _Rejected(Exception):
    """One line cannot be exported; carries the rule and the message for its LineProblem."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# --- file names ------------------------------------------------------------------------------------------------------


def source_basename(source_ref: str) -> str:
    """The default COCO file_name: the last part of the source-ref (s3://b/p/x.jpg -> x.jpg)."""
    return PurePosixPath(source_ref.split("://", 1)[-1]).name


def relative_to(prefix: str) -> Callable[[str], str]:
    """A file_name function keeping the path below `prefix` (e.g. the dataset's s3:// root); other URIs unchanged."""
    root = prefix.rstrip("/") + "/"
    return lambda source_ref: source_ref.removeprefix(root)


# --- RLE -------------------------------------------------------------------------------------------------------------


def _runs_from_spans(starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], total: int) -> list[int]:
    """COCO runs (0s first) for the 1-spans [start, end) of a flat column-major mask of `total` pixels."""
    if starts.size == 0:
        return [total]
    runs = np.empty(2 * starts.size, dtype=np.int64)
    runs[0::2] = starts - np.concatenate(([0], ends[:-1]))
    runs[1::2] = ends - starts
    tail = total - int(ends[-1])
    return [*runs.tolist(), tail] if tail else runs.tolist()


def _spans(flat: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Start, end (exclusive) and value of every run of equal values in a 1-D array."""
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], boundaries)).astype(np.int64)
    ends = np.concatenate((boundaries, [flat.size])).astype(np.int64)
    return starts, ends, flat[starts]


def rle_runs(mask: BoolMask) -> list[int]:
    """Run lengths of a (height, width) boolean mask read column by column, starting with a (maybe empty) 0-run."""
    flat = np.asarray(mask, dtype=bool).T.ravel()
    if flat.size == 0:
        return []
    starts, ends, values = _spans(flat)
    return _runs_from_spans(starts[values], ends[values], flat.size)


def rle_string(runs: Sequence[int]) -> str:
    """COCO's compressed counts string for these runs (pycocotools `rleToString`)."""
    out: list[str] = []
    for position, run in enumerate(runs):
        value = run - runs[position - 2] if position > 2 else run
        more = True
        while more:
            group = value & 0x1F
            value >>= 5  # arithmetic shift: negative deltas end at -1
            more = value != -1 if group & 0x10 else value != 0
            out.append(chr((group | 0x20 if more else group) + 48))
    return "".join(out)


def encode_rle(mask: BoolMask) -> dict[str, Any]:
    """A (height, width) boolean mask as a compressed COCO RLE: {"size": [h, w], "counts": str}."""
    height, width = mask.shape
    return {"size": [int(height), int(width)], "counts": rle_string(rle_runs(mask))}


def decode_rle(rle: Mapping[str, Any]) -> BoolMask:
    """The (height, width) boolean mask of a COCO RLE, compressed string or list of runs."""
    height, width = rle["size"]
    counts = rle["counts"]
    runs = decode_coco_rle_string(counts) if isinstance(counts, str) else list(counts)
    return decode_runs(RLE(int(height), int(width), tuple(runs)))


# --- overlap ---------------------------------------------------------------------------------------------------------


def mask_iou(a: BoolMask, b: BoolMask) -> float:
    """Intersection over union of two same-shape boolean masks; 1.0 when both are empty."""
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two COCO boxes [x, y, width, height]; 1.0 for two identical empty boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap_w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = overlap_w * overlap_h
    union = aw * ah + bw * bh - inter
    if union <= 0:
        return 1.0 if list(a) == list(b) else 0.0
    return inter / union


# --- masks -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ColorMap:
    names: tuple[str, ...]  # distinct class names in key order; labels index into this
    by_key: dict[int, int]  # colour map key -> name index
    by_color: dict[int, int]  # 0xRRGGBB -> name index


def _color_map(metadata: Mapping[str, Any]) -> _ColorMap:
    entries = metadata.get("internal-color-map")
    if not isinstance(entries, Mapping) or not entries:
        raise _Rejected("bad-label", "metadata has no internal-color-map; it is needed to tell the classes apart")
    names: list[str] = []
    by_key: dict[int, int] = {}
    by_color: dict[int, int] = {}
    if not all(isinstance(key, str) and key.isdigit() for key in entries):
        raise _Rejected("bad-label", f"internal-color-map keys must be class indices like '0', got {list(entries)}")
    for key in sorted(entries, key=int):
        entry = entries[key]
        name = entry.get("class-name") if isinstance(entry, Mapping) else None
        color = entry.get("hex-color") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            raise _Rejected("bad-label", f"internal-color-map[{key!r}] has no class-name")
        if not isinstance(color, str) or not _HEX.match(color):
            raise _Rejected("bad-label", f"internal-color-map[{key!r}] has no hex-color like '#2acf59'")
        if name not in names:
            names.append(name)
        packed = int(color[1:], 16)
        if by_color.get(packed, names.index(name)) != names.index(name):
            raise _Rejected("bad-label", f"hex-color {color} is given to two classes; colours must tell classes apart")
        by_key[int(key)] = by_color[packed] = names.index(name)
    return _ColorMap(tuple(names), by_key, by_color)


def _hex(packed: int) -> str:
    return f"#{packed:06x}"


def _lookup(values: npt.NDArray[Any], table: npt.NDArray[np.int32], describe: Callable[[int], str]) -> Labels:
    """Class indices of `values` through `table`; rejected when any value has no class."""
    labels: Labels = table[values]
    if np.any(labels == _UNKNOWN):
        unknown, counts = np.unique(values[labels == _UNKNOWN], return_counts=True)
        shown = ", ".join(f"{describe(int(v))} ({int(n)} px)" for v, n in zip(unknown[:5], counts[:5], strict=True))
        raise _Rejected(
            "unknown-color",
            f"mask pixels {shown} are not in the internal-color-map; fix the mask or add the class to the map",
        )
    return labels


def mask_labels(png: bytes, color_map: Mapping[str, Any]) -> tuple[Labels, tuple[str, ...]]:
    """(height, width) class indices of a mask PNG and the class names they index, mapped as the docstring says.

    `color_map` is the line's `internal-color-map`. Raises ValueError naming the problem when the mask cannot be
    mapped (unreadable, unsupported mode, a colour or value not in the map).
    """
    try:
        return _mask_labels(png, _color_map({"internal-color-map": color_map}))
    except _Rejected as rejected:
        raise ValueError(rejected.message) from None


def _mask_labels(png: bytes, colors: _ColorMap) -> tuple[Labels, tuple[str, ...]]:
    try:
        with Image.open(io.BytesIO(png)) as image:
            mode = image.mode
            palette = image.getpalette("RGB") if mode == "P" else None
            pixels = np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise _Rejected("mask-unreadable", f"mask is not a readable image ({error})") from None
    if mode == "P":
        entries = np.asarray(palette or [], dtype=np.int64).reshape(-1, 3)
        packed = (entries[:, 0] << 16) | (entries[:, 1] << 8) | entries[:, 2]
        table = np.full(256, _UNKNOWN, dtype=np.int32)
        table[: packed.size] = [colors.by_color.get(int(c), _UNKNOWN) for c in packed]
        described = {i: _hex(int(c)) for i, c in enumerate(packed)}
        labels = _lookup(pixels, table, lambda i: f"index {i} = {described.get(i, 'no palette colour')}")
    elif mode == "L":
        table = np.full(256, _UNKNOWN, dtype=np.int32)
        for key, name_index in colors.by_key.items():
            if key < 256:
                table[key] = name_index
        labels = _lookup(pixels, table, lambda v: f"value {v}")
    elif mode in {"RGB", "RGBA"}:
        rgb = pixels[..., :3].astype(np.int64)
        packed_pixels = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        present, inverse = np.unique(packed_pixels, return_inverse=True)
        by_present = np.asarray([colors.by_color.get(int(c), _UNKNOWN) for c in present], dtype=np.int32)
        labels = _lookup(inverse.reshape(packed_pixels.shape), by_present, lambda i: _hex(int(present[i])))
    else:
        raise _Rejected(
            "mask-unreadable", f"mask mode is {mode}; masks must be palette (P), greyscale (L), RGB or RGBA PNGs"
        )
    return labels.astype(np.int32, copy=False), colors.names


def _regions(labels: Labels) -> Iterable[tuple[int, list[int], int, list[int]]]:
    """(class index, COCO runs, pixel count, tight bbox) for every class present, from one column-major pass."""
    height = labels.shape[0]
    flat = labels.T.ravel()
    if flat.size == 0:
        return
    starts, ends, values = _spans(flat)
    for value in np.unique(values):
        chosen = values == value
        first, last = starts[chosen], ends[chosen] - 1
        # a run crossing into the next column covers the bottom of one column and the top of the next
        crosses = (first // height) != (last // height)
        x_min, x_max = int(first.min() // height), int(last.max() // height)
        y_min = 0 if crosses.any() else int((first % height).min())
        y_max = height - 1 if crosses.any() else int((last % height).max())
        area = int((ends[chosen] - starts[chosen]).sum())
        bbox = [x_min, y_min, x_max - x_min + 1, y_max - y_min + 1]
        yield int(value), _runs_from_spans(starts[chosen], ends[chosen], flat.size), area, bbox


# --- the export ------------------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, categories: Sequence[str], file_name: Callable[[str], str]) -> None:
        duplicates = sorted({name for name in categories if list(categories).count(name) > 1})
        if duplicates:
            raise ValueError(f"categories must be unique; repeated: {duplicates}")
        self.category_ids: dict[str, int] = {}
        for name in categories:
            self.category(name)
        self.file_name = file_name
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.seen: set[str] = set()

    def category(self, name: str) -> int:
        return self.category_ids.setdefault(name, len(self.category_ids) + 1)

    def add(self, source_ref: str, width: int, height: int, annotations: list[dict[str, Any]]) -> None:
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": self.file_name(source_ref), "width": width, "height": height})
        for annotation in annotations:
            annotation.update(id=len(self.annotations) + 1, image_id=image_id)
            self.annotations.append(annotation)


def _mask_line(line: Mapping[str, Any], attribute: str, read: Read, builder: _Builder) -> None:
    uri = line[attribute]
    colors = _color_map(_metadata(line, attribute))
    try:
        png = read(uri)
    except Exception as error:  # any storage error (S3, disk, missing key) is this line's problem, not the run's
        raise _Rejected("mask-missing", f"cannot read mask {uri!r}: {type(error).__name__}: {error}") from None
    labels, names = _mask_labels(png, colors)
    height, width = labels.shape
    annotations: list[dict[str, Any]] = []
    for name_index, runs, area, bbox in _regions(labels):
        if names[name_index] == BACKGROUND:
            continue
        annotations.append(
            {
                "category_id": names[name_index],  # resolved to an id once the line is accepted
                "segmentation": {"size": [height, width], "counts": rle_string(runs)},
                "area": area,
                "bbox": bbox,
                "iscrowd": 0,
            }
        )
    for name in names:
        if name != BACKGROUND:
            builder.category(name)
    for annotation in annotations:
        annotation["category_id"] = builder.category(annotation["category_id"])
    builder.add(line["source-ref"], width, height, annotations)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _box_line(line: Mapping[str, Any], attribute: str, builder: _Builder) -> None:
    value = line[attribute]
    metadata = _metadata(line, attribute)
    sizes = value.get("image_size")
    size = sizes[0] if isinstance(sizes, list) and len(sizes) == 1 and isinstance(sizes[0], Mapping) else {}
    width, height = size.get("width"), size.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise _Rejected("bad-label", "image_size must be [{'width': int, 'height': int, ...}] with positive sizes")
    boxes = value.get("annotations")
    if not isinstance(boxes, list):
        raise _Rejected("bad-label", "the label has no annotations list")
    class_map = metadata.get("class-map", metadata.get("class_map"))  # contracts 7.3: both spellings occur
    if not isinstance(class_map, Mapping):
        raise _Rejected("bad-label", "metadata has no class-map; it names the classes of the boxes")
    class_map = {str(key): name for key, name in class_map.items()}  # JSON keys are strings; dicts may not be
    objects = metadata.get("objects")
    if objects is not None and (not isinstance(objects, list) or len(objects) != len(boxes)):
        raise _Rejected("bad-label", f"metadata objects must hold one entry per box ({len(boxes)})")
    annotations: list[dict[str, Any]] = []
    for position, box in enumerate(boxes):
        numbers: list[Any] = (
            [box.get(k) for k in ("left", "top", "width", "height")] if isinstance(box, Mapping) else []
        )
        if len(numbers) != 4 or not all(_finite(n) for n in numbers) or numbers[2] <= 0 or numbers[3] <= 0:
            raise _Rejected("bad-box", f"box {position}: left, top and a positive width and height are needed")
        name = class_map.get(str(box.get("class_id")))
        if not isinstance(name, str) or not name:
            raise _Rejected(
                "unknown-class",
                f"box {position}: class_id {box.get('class_id')!r} is not in the class-map {dict(class_map)}",
            )
        left, top, box_width, box_height = numbers
        annotation: dict[str, Any] = {
            "category_id": name,
            "segmentation": [
                [left, top, left + box_width, top, left + box_width, top + box_height, left, top + box_height]
            ],
            "area": box_width * box_height,
            "bbox": [left, top, box_width, box_height],
            "iscrowd": 0,
        }
        confidence = objects[position].get("confidence") if objects and isinstance(objects[position], Mapping) else None
        if _finite(confidence):
            annotation["score"] = confidence
        annotations.append(annotation)
    for key in sorted(class_map, key=_key_order):
        if isinstance(class_map[key], str) and class_map[key]:
            builder.category(class_map[key])
    for annotation in annotations:
        annotation["category_id"] = builder.category(annotation["category_id"])
    builder.add(line["source-ref"], width, height, annotations)


def _key_order(key: str) -> tuple[int, str]:
    # class ids are numbers as strings: "10" after "9"
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def _metadata(line: Mapping[str, Any], attribute: str) -> Mapping[str, Any]:
    metadata = line.get(f"{attribute}-metadata")
    if not isinstance(metadata, Mapping):
        raise _Rejected("bad-label", f"the line has no {attribute}-metadata object")
    return metadata


def _parse(raw: Mapping[str, Any] | str | bytes) -> Mapping[str, Any] | None:
    if isinstance(raw, Mapping):
        return raw
    if not raw.strip():
        return None
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _Rejected("bad-json", f"not a JSON object ({error})") from None
    if not isinstance(line, Mapping):
        raise _Rejected("bad-json", "a manifest line is a JSON object")
    return line


def _export_line(line: Mapping[str, Any], attribute: str, read: Read, builder: _Builder) -> None:
    source_ref = line.get("source-ref")
    if not isinstance(source_ref, str) or not source_ref:
        raise _Rejected("bad-line", "the line has no source-ref; only image lines can be exported to COCO")
    if source_ref in builder.seen:
        raise _Rejected("duplicate-image", f"{source_ref!r} is on an earlier line; it is exported once")
    value = line.get(attribute)
    if isinstance(value, str):
        _mask_line(line, attribute, read, builder)
    elif isinstance(value, Mapping):
        _box_line(line, attribute, builder)
    elif value is None:
        raise _Rejected(
            "no-label", f"the line has no {attribute!r} label (the task failed or the attribute name is wrong)"
        )
    else:
        raise _Rejected("bad-label", f"{attribute!r} is neither a mask URI nor a bounding-box label")
    builder.seen.add(source_ref)


def export_coco(
    lines: Iterable[Mapping[str, Any] | str | bytes],
    attribute: str,
    *,
    read: Read,
    categories: Sequence[str] = (),
    file_name: Callable[[str], str] = source_basename,
    info: Mapping[str, Any] | None = None,
) -> CocoExport:
    """The COCO instances dict of a semantic-segmentation or bounding-box output manifest, and its problem lines.

    `lines` are manifest lines as dicts or raw JSON text (blank lines are skipped); `attribute` is the label
    attribute name to export (an adjustment job's own name, not the original's). `categories` fixes the first
    category ids (1..N in that order, e.g. the original COCO file's names); classes not in it follow in
    first-seen order. `file_name` turns a source-ref into the image's file_name: `source_basename` (default),
    `relative_to(prefix)` or `str` for the full URI.
    """
    builder = _Builder([name for name in categories if name != BACKGROUND], file_name)
    problems: list[LineProblem] = []
    for number, raw in enumerate(lines, start=1):
        source_ref = None
        try:
            line = _parse(raw)
            if line is None:
                continue
            source_ref = line.get("source-ref") if isinstance(line.get("source-ref"), str) else None
            _export_line(line, attribute, read, builder)
        except _Rejected as rejected:
            problems.append(LineProblem(number, source_ref, rejected.rule, rejected.message))
    coco = {
        "info": {"description": f"Ground Truth labels {attribute!r} exported by groundcrew", **(info or {})},
        "images": builder.images,
        "annotations": builder.annotations,
        "categories": [{"id": i, "name": name, "supercategory": ""} for name, i in builder.category_ids.items()],
    }
    return CocoExport(coco, problems)
