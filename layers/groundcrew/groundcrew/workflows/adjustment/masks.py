"""Ground Truth semantic segmentation masks: the class map, rasterising imported shapes, PNG encoding and checks.

A mask is a single-channel 8-bit PNG (mode L) exactly the image's size; each pixel holds a class index: 0 is
BACKGROUND, 1..N the labels in the order given. `internal_color_map` is the matching `<L>-ref-metadata` entry.

Fill rule: a pixel (col, row) belongs to a polygon when its centre (col + 0.5, row + 0.5) is inside it by the
even-odd rule. A centre exactly on a left or top edge is inside, on a right or bottom edge outside, so two
polygons sharing an edge neither overlap nor leave a gap. Parts outside the image are clipped.
"""

from __future__ import annotations

import colorsys
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from groundcrew.core.imports import Refusal
from groundcrew.workflows.adjustment.imports.segmentation import MAX_CLASSES, RLE, Polygon, Shape

if TYPE_CHECKING:
    from groundcrew.projects import Project

BACKGROUND = "BACKGROUND"
BACKGROUND_COLOR = "#ffffff"
_HEX = re.compile(r"^#[0-9a-f]{6}$")

Mask = npt.NDArray[np.uint8]


class TooManyClasses(ValueError):
    rule = "class-id-over-255"


@dataclass(frozen=True, slots=True)
class ClassMap:
    names: tuple[str, ...]  # index = pixel value; names[0] is BACKGROUND
    colors: tuple[str, ...]  # lower-case #rrggbb, same order

    @classmethod
    def from_labels(cls, labels: Sequence[str], colors: Mapping[str, str] | None = None) -> ClassMap:
        """BACKGROUND (#ffffff) at 0, then the labels as 1..N; labels without a given colour get a generated one."""
        if len(labels) > MAX_CLASSES:
            raise TooManyClasses(
                f"{len(labels)} labels, but an 8-bit mask holds BACKGROUND and at most {MAX_CLASSES} labels; "
                "merge or drop categories"
            )
        duplicates = sorted({label for label in labels if list(labels).count(label) > 1})
        if duplicates or BACKGROUND in labels:
            raise ValueError(f"labels must be unique and not {BACKGROUND!r}; repeated or reserved: {duplicates}")
        given = {label: color.lower() for label, color in (colors or {}).items()}
        for label, color in given.items():
            if not _HEX.match(color):
                raise ValueError(f"colour {color!r} for {label!r} is not #rrggbb")
        used = [BACKGROUND_COLOR, *(given[label] for label in labels if label in given)]
        if len(set(used)) != len(used):
            raise ValueError("colours must be distinct (Ground Truth tells classes apart by colour), and not white")
        taken = set(used)
        generated = _distinct_colors(taken, sum(label not in given for label in labels))
        chosen = [given[label] if label in given else next(generated) for label in labels]
        return cls((BACKGROUND, *labels), (BACKGROUND_COLOR, *chosen))

    def index(self, label: str) -> int:
        return self.names.index(label)


def _distinct_colors(taken: set[str], count: int) -> Iterator[str]:
    # golden-ratio steps round the hue circle spread any number of colours apart; same labels, same colours
    hue, produced = 0.0, 0
    step = 0
    while produced < count:
        hue = (hue + 0.618033988749895) % 1.0
        lightness = (0.45, 0.6, 0.35)[(step // 12) % 3]
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.75)
        step += 1
        color = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
        if color not in taken:
            taken.add(color)
            produced += 1
            yield color


def internal_color_map(class_map: ClassMap) -> dict[str, dict[str, str | float]]:
    """The `internal-color-map` of a semantic segmentation label's metadata."""
    # Confidence is 0.0: imported labels were not given by Ground Truth workers, so no worker agreement exists to
    # report, and 0.0 is what Ground Truth itself writes when no consolidation took place.
    return {
        str(index): {"class-name": name, "hex-color": color, "confidence": 0.0}
        for index, (name, color) in enumerate(zip(class_map.names, class_map.colors, strict=True))
    }


# --- rasterising ---------------------------------------------------------------------------------------------------


def decode_rle(rle: RLE) -> npt.NDArray[np.bool_]:
    """The (height, width) boolean mask of a COCO RLE (runs go down the columns, first run is 0s)."""
    values = np.arange(len(rle.counts), dtype=np.uint8) & 1
    flat = np.repeat(values, np.asarray(rle.counts, dtype=np.int64)).astype(bool)
    if flat.size != rle.height * rle.width:
        raise ValueError(f"RLE runs cover {flat.size} pixels, not {rle.height}x{rle.width}")
    return flat.reshape(rle.width, rle.height).T


def _fill_polygon(mask: Mask, polygon: Polygon, value: int) -> None:
    """Paint `value` where pixel centres are inside `polygon` (even-odd), clipped to the mask."""
    height, width = mask.shape
    points = np.asarray(polygon, dtype=np.float64)
    ys = points[:, 1]
    # rows whose centre line y = row + 0.5 can meet the polygon
    top = max(int(np.ceil(ys.min() - 0.5)), 0)
    bottom = min(int(np.ceil(ys.max() - 0.5)), height)
    if top >= bottom:
        return
    x0, y0 = points[:, 0], ys
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    centres = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    # half-open in y: each crossing counted once, horizontal edges never
    low, high = np.minimum(y0, y1), np.maximum(y0, y1)
    crosses = (centres >= low) & (centres < high)
    rows, edges = np.nonzero(crosses)
    if rows.size == 0:
        return
    t = (centres[rows, 0] - y0[edges]) / (y1[edges] - y0[edges])
    xs = x0[edges] + t * (x1[edges] - x0[edges])
    # each crossing flips every pixel whose centre is at or right of it; the parity of flips is the inside test
    columns = np.clip(np.ceil(xs - 0.5), 0, width).astype(np.int64)
    left, right = int(columns.min()), int(columns.max())
    if left >= width or left == right:
        return
    span = right - left + 1
    flips = np.bincount(rows * span + (columns - left), minlength=(bottom - top) * span).reshape(bottom - top, span)
    inside = (np.cumsum(flips, axis=1) & 1).astype(bool)[:, : min(span, width - left)]
    region = mask[top:bottom, left : left + inside.shape[1]]
    region[inside] = value


def rasterize(shapes: Sequence[Shape], class_map: ClassMap, size: tuple[int, int]) -> Mask:
    """A (height, width) uint8 mask of class indices for an image of `size` = (width, height).

    Shapes are painted in order, so where shapes overlap the one later in the annotation file wins. The parts
    of a multi-part polygon are united (COCO's meaning); RLE masks must be exactly the image's size.
    """
    width, height = size
    mask: Mask = np.zeros((height, width), dtype=np.uint8)
    for shape in shapes:
        value = class_map.index(shape.label)
        for polygon in shape.polygons or []:
            _fill_polygon(mask, polygon, value)
        if shape.rle is not None:
            if (shape.rle.width, shape.rle.height) != (width, height):
                raise ValueError(
                    f"{shape.source}: RLE is {shape.rle.width}x{shape.rle.height}, the image {width}x{height}"
                )
            mask[decode_rle(shape.rle)] = value
    return mask


# --- PNG -----------------------------------------------------------------------------------------------------------


def encode_mask(mask: Mask) -> bytes:
    """The mask as a PNG: 8-bit greyscale (mode L), no palette, no alpha, same size."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D uint8 array, got {mask.dtype} with shape {mask.shape}")
    buffer = io.BytesIO()
    # level 1: masks are long runs, and the higher levels cost time for a few percent of size
    Image.fromarray(mask).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_palette_mask(mask: Mask, colors: Sequence[str]) -> bytes:
    """The mask as Ground Truth writes its own: a mode-P PNG, pixel value = class index, palette entry k = the
    hex colour of class k (contracts 1.2.2)."""
    image = Image.fromarray(mask)
    palette = [int(color[i : i + 2], 16) for color in colors for i in (1, 3, 5)]
    image.putpalette(palette + [0] * (768 - len(palette)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def check_mask(png_bytes: bytes, size: tuple[int, int], class_map: ClassMap) -> list[str]:
    """Why the PNG is not a usable mask for an image of `size` = (width, height) and this class map (empty if it is)."""
    try:
        image = Image.open(io.BytesIO(png_bytes))
    except Image.DecompressionBombError as error:
        return [f"too large to decode safely ({error})"]
    except (UnidentifiedImageError, OSError) as error:
        return [f"not a readable image ({error})"]
    problems: list[str] = []
    if image.format != "PNG":
        problems.append(f"format is {image.format}, not PNG")
    if image.mode == "P":
        # Ground Truth writes palette masks itself: fine when each index's palette colour is its hex-color.
        problems.extend(_palette_problems(image, class_map))
    elif image.mode != "L":
        detail = {
            "RGB": "colour",
            "RGBA": "colour with alpha",
            "LA": "greyscale with alpha",
            "P": "palette",
            "I;16": "16-bit",
            "I": "16/32-bit",
        }.get(image.mode, "unexpected")
        problems.append(f"mode is {image.mode} ({detail}); masks must be 8-bit greyscale (L) of class indices")
    elif "transparency" in image.info:
        problems.append("has a transparent colour (tRNS); masks must have no alpha")
    if image.size != size:
        problems.append(f"size is {image.size[0]}x{image.size[1]}, the image is {size[0]}x{size[1]}")
        return problems  # its pixels are not decoded: a wrong size is enough, and may be a decompression bomb
    if image.mode in {"L", "P"}:
        counts = np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256)
        unknown = np.nonzero(counts[len(class_map.names) :])[0] + len(class_map.names)
        if unknown.size:
            shown = ", ".join(str(v) for v in unknown[:10])
            problems.append(f"values {shown} are not class indices (0..{len(class_map.names) - 1})")
    return problems


def _palette_problems(image: Image.Image, class_map: ClassMap) -> list[str]:
    if "transparency" in image.info:
        return ["has a transparent palette entry (tRNS); masks must have no alpha"]
    palette = image.getpalette() or []
    present = np.nonzero(np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256))[0]
    problems = []
    for index in present[present < len(class_map.names)]:
        rgb = palette[3 * index : 3 * index + 3]
        color = "#{:02x}{:02x}{:02x}".format(*rgb) if len(rgb) == 3 else "none"
        if color != class_map.colors[index]:
            problems.append(
                f"palette colour of index {index} is {color}, but the colour map gives class "
                f"{class_map.names[index]!r} {class_map.colors[index]}: indices and colours disagree"
            )
    return problems


# --- image size ----------------------------------------------------------------------------------------------------


def image_size(image_bytes: bytes) -> tuple[int, int]:
    """(width, height) from the image header; the pixels are not decoded."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            return image.size
    except Image.DecompressionBombError as error:
        raise ValueError(f"too large to decode safely ({error})") from error
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"not a readable image ({error})") from error


def resolve_size(
    declared: tuple[int, int] | None, actual: tuple[int, int], image: str | None = None
) -> tuple[int, int] | Refusal:
    """The image's real size, or a refusal when the annotations were drawn on an image of another size."""
    # even one pixel off means the file was annotated on a resized or different image: its shapes would not line up
    if declared is not None and tuple(declared) != tuple(actual):
        return Refusal(
            image,
            "size",
            "size-mismatch",
            f"annotations declare {declared[0]}x{declared[1]} but the image is {actual[0]}x{actual[1]}; "
            "annotate the image itself or scale the annotations",
        )
    return actual


def project_class_map(project: Project) -> ClassMap:
    """BACKGROUND and the project's labels, in order, with their colours: what imported masks are written with."""
    assert project.adjustment is not None  # the project model requires it for adjustment workflows
    return ClassMap.from_labels(project.labels, project.adjustment.colors)
