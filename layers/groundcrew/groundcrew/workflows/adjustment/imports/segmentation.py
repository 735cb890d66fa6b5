"""Other tools' segmentation annotations (COCO, LabelMe, CVAT, Label Studio) read into one model.

Every parser returns `(images, categories, refusals)`: the images with the shapes that could be read, the label
names in the tool's own order (the class map is built from them), and one `Refusal` per shape, part or image that
could not be used, naming the rule it broke and how to fix it. A bad shape never takes its neighbours with it.

Coordinates stay in the tool's pixel space: x to the right, y down, (0, 0) the top-left corner of the image, so a
pixel (col, row) covers [col, col + 1) x [row, row + 1). Shapes partly outside the image are kept (the rasteriser
clips them); shapes wholly outside are refused. Whole-document problems come back as a single refusal with
`image=None`, item "document".

Refusal rules: polygon-too-few-points, polygon-outside-image, unknown-category, unknown-image, duplicate-image,
class-id-over-255, unsupported-shape, bad-coordinates, size-mismatch, bad-document, xml-declarations.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from groundcrew.core.imports import Refusal

Point = tuple[float, float]
Polygon = list[Point]
JsonDocument = str | bytes | Mapping[str, Any] | Sequence[Any]

MAX_CLASSES = 255  # 8-bit masks: value 0 is BACKGROUND, so 255 labels at most


@dataclass(frozen=True, slots=True)
class RLE:
    """COCO run-length encoding: run lengths over the mask read column by column, starting with a run of 0s."""

    height: int
    width: int
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Shape:
    label: str
    polygons: list[Polygon] | None
    rle: RLE | None
    source: str  # where the shape came from in the file, for messages
    crowd: bool = False  # COCO iscrowd; still painted with its class in a semantic mask


@dataclass(frozen=True, slots=True)
class ImageAnnotations:
    file_name: str
    declared_size: tuple[int, int] | None  # (width, height) as the annotation file states it
    shapes: list[Shape] = field(default_factory=list)


Parsed = tuple[list[ImageAnnotations], list[str], list[Refusal]]


# --- shared checks -------------------------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    # bool is an int to Python, but `true` is no coordinate
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _pairs(values: Sequence[object]) -> Polygon | None:
    """[[x, y], ...] as points, or None when any coordinate is not a finite number."""
    points: Polygon = []
    for pair in values:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            return None
        x, y = _number(pair[0]), _number(pair[1])
        if x is None or y is None:
            return None
        points.append((x, y))
    return points


def _polygon_problem(
    polygon: Polygon, size: tuple[int, int] | None, image: str, item: str, shape_type: str = "polygon"
) -> Refusal | None:
    if len(polygon) < 3:
        return Refusal(
            image,
            item,
            "polygon-too-few-points",
            f"a {shape_type} needs at least 3 points, this one has {len(polygon)}; redraw it or delete it",
        )
    if size is not None:
        width, height = size
        xs = [x for x, _ in polygon]
        ys = [y for _, y in polygon]
        # touching the border from outside covers no pixel centre, so it counts as outside
        if max(xs) <= 0 or max(ys) <= 0 or min(xs) >= width or min(ys) >= height:
            return Refusal(
                image,
                item,
                "polygon-outside-image",
                f"the {shape_type} lies wholly outside the {width}x{height} image "
                f"(x {min(xs):g}..{max(xs):g}, y {min(ys):g}..{max(ys):g}); check the image it belongs to",
            )
    return None


def _unsupported(image: str, item: str, kind: str) -> Refusal:
    return Refusal(
        image,
        item,
        "unsupported-shape",
        f"{kind} shapes cover no area and cannot become mask pixels; convert them to polygons or leave them out",
    )


def _unknown_category(image: str, item: str, label: object) -> Refusal:
    return Refusal(
        image, item, "unknown-category", f"label {label!r} is not one of the file's categories; add it or relabel"
    )


def _duplicate(image: str, item: str) -> Refusal:
    return Refusal(
        image,
        item,
        "duplicate-image",
        f"{image!r} is annotated more than once; only the first is imported, merge the others into it",
    )


def _cap_categories(images: list[ImageAnnotations], categories: list[str], refusals: list[Refusal]) -> Parsed:
    """Refuse the shapes of categories past the 255th: an 8-bit mask has no value left for them."""
    if len(categories) <= MAX_CLASSES:
        return images, categories, refusals
    kept, dropped = categories[:MAX_CLASSES], set(categories[MAX_CLASSES:])
    for label in categories[MAX_CLASSES:]:
        refusals.append(
            Refusal(
                None,
                f"category {label!r}",
                "class-id-over-255",
                f"category {label!r} would be class {categories.index(label) + 1}; masks are 8-bit, "
                f"so at most {MAX_CLASSES} categories fit: merge or drop categories",
            )
        )
    capped: list[ImageAnnotations] = []
    for image in images:
        shapes = []
        for shape in image.shapes:
            if shape.label in dropped:
                refusals.append(
                    Refusal(
                        image.file_name,
                        shape.source,
                        "class-id-over-255",
                        f"category {shape.label!r} is past the {MAX_CLASSES}th; merge or drop categories",
                    )
                )
            else:
                shapes.append(shape)
        capped.append(replace(image, shapes=shapes))
    return capped, kept, refusals


def _load_json(document: JsonDocument) -> tuple[Any, Refusal | None]:
    if isinstance(document, str | bytes):
        try:
            return orjson.loads(document), None
        except orjson.JSONDecodeError as error:
            return None, Refusal(None, "document", "bad-document", f"not valid JSON ({error}); re-export the file")
    return document, None


def _bad_document(message: str) -> Parsed:
    return [], [], [Refusal(None, "document", "bad-document", message)]


# --- COCO ----------------------------------------------------------------------------------------------------------


def decode_coco_rle_string(counts: str) -> list[int]:
    """Run lengths from COCO's compressed RLE string.

    Each run is a variable-length number in 5-bit groups, least significant first, each group stored as one
    character (value + 48); bit 0x20 says another group follows, and bit 0x10 of the last group is the sign.
    From the fourth run on, the stored number is the difference to the run two places earlier.
    """
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError("compressed RLE ends in the middle of a number")
            group = ord(counts[position]) - 48
            if not 0 <= group < 64:
                raise ValueError(f"character {counts[position]!r} cannot appear in a compressed RLE")
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            position += 1
            shift += 5
            if not more and group & 0x10:
                value |= -1 << shift  # sign-extend
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def _coco_rle(segmentation: Mapping[str, Any]) -> RLE | str:
    """The RLE, or why it is unusable."""
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if not isinstance(size, list) or len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        return f"RLE size must be [height, width] in pixels, got {size!r}"
    height, width = size
    if isinstance(counts, str):
        try:
            runs = decode_coco_rle_string(counts)
        except ValueError as error:
            return str(error)
    elif isinstance(counts, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        runs = counts
    else:
        return "RLE counts must be a list of integers or a compressed string"
    if any(run < 0 for run in runs) or sum(runs) != height * width:
        return f"RLE runs must be non-negative and add up to {height}x{width}={height * width} pixels"
    return RLE(height, width, tuple(runs))


def _coco_polygon(flat: object) -> Polygon | None:
    if not isinstance(flat, list) or len(flat) % 2:
        return None
    return _pairs([flat[i : i + 2] for i in range(0, len(flat), 2)])


def _coco_category_names(categories: Any) -> dict[object, str]:
    """Category id -> name; the first entry of a repeated id wins."""
    names: dict[object, str] = {}
    for category in categories:
        if isinstance(category, Mapping) and isinstance(category.get("name"), str):
            names.setdefault(category.get("id"), category["name"])
    return names


def _coco_images(entries: list[Any], refusals: list[Refusal]) -> dict[object, ImageAnnotations]:
    """Image id -> its (so far empty) annotations; entries without a file name, repeated files and ids are refused."""
    images: dict[object, ImageAnnotations] = {}
    seen_files: set[str] = set()
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("file_name"), str):
            refusals.append(Refusal(None, f"images[{position}]", "bad-document", "an image needs a file_name"))
            continue
        file_name = entry["file_name"]
        if file_name in seen_files or entry.get("id") in images:
            refusals.append(_duplicate(file_name, f"image id {entry.get('id')!r}"))
            continue
        width, height = entry.get("width"), entry.get("height")
        declared = (width, height) if isinstance(width, int) and isinstance(height, int) else None
        seen_files.add(file_name)
        images[entry.get("id")] = ImageAnnotations(file_name, declared, [])
    return images


def _read_coco_annotation(
    position: int,
    annotation: object,
    images: Mapping[object, ImageAnnotations],
    names: Mapping[object, str],
    refusals: list[Refusal],
) -> None:
    """Adds the annotation's shape to its image, or refuses it (or the parts of it that cannot be used)."""
    if not isinstance(annotation, Mapping):
        refusals.append(Refusal(None, f"annotations[{position}]", "bad-document", "an annotation is an object"))
        return
    item = f"annotation {annotation.get('id', position)!r}"
    image = images.get(annotation.get("image_id"))
    if image is None:
        message = f"image_id {annotation.get('image_id')!r} is not in 'images'; add the image or fix the id"
        refusals.append(Refusal(None, item, "unknown-image", message))
        return
    label = names.get(annotation.get("category_id"))
    if label is None:
        refusals.append(_unknown_category(image.file_name, item, annotation.get("category_id")))
        return
    crowd = annotation.get("iscrowd") == 1
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, Mapping):
        _read_coco_rle(image, label, segmentation, item, crowd, refusals)
    else:
        _read_coco_polygons(image, label, segmentation, item, crowd, refusals)


def _read_coco_rle(
    image: ImageAnnotations,
    label: str,
    segmentation: Mapping[str, Any],
    item: str,
    crowd: bool,
    refusals: list[Refusal],
) -> None:
    name = image.file_name
    rle = _coco_rle(segmentation)
    if isinstance(rle, str):
        refusals.append(Refusal(name, item, "bad-coordinates", f"{rle}; re-export the annotation"))
    elif image.declared_size is not None and (rle.width, rle.height) != image.declared_size:
        message = (
            f"RLE is {rle.width}x{rle.height} but the image is declared "
            f"{image.declared_size[0]}x{image.declared_size[1]}; re-export against the right image"
        )
        refusals.append(Refusal(name, item, "size-mismatch", message))
    else:
        image.shapes.append(Shape(label, None, rle, item, crowd))


def _read_coco_polygons(
    image: ImageAnnotations, label: str, segmentation: object, item: str, crowd: bool, refusals: list[Refusal]
) -> None:
    """One shape of the polygon parts that can be used; each part that cannot is refused on its own."""
    name = image.file_name
    if not isinstance(segmentation, list) or not segmentation:
        message = "segmentation must be a list of [x1, y1, x2, y2, ...] polygons or an RLE object"
        refusals.append(Refusal(name, item, "bad-coordinates", message))
        return
    polygons: list[Polygon] = []
    for part, flat in enumerate(segmentation):
        part_item = f"{item} polygon {part}" if len(segmentation) > 1 else item
        polygon = _coco_polygon(flat)
        if polygon is None:
            message = "a polygon is an even-length list of finite numbers x1, y1, x2, y2, ...; fix or redraw it"
            refusals.append(Refusal(name, part_item, "bad-coordinates", message))
            continue
        problem = _polygon_problem(polygon, image.declared_size, name, part_item)
        if problem:
            refusals.append(problem)
        else:
            polygons.append(polygon)
    if polygons:
        image.shapes.append(Shape(label, polygons, None, item, crowd))


def parse_coco(document: JsonDocument) -> Parsed:
    """COCO instances: polygon (one or more parts) and RLE (list or compressed string) segmentations."""
    data, problem = _load_json(document)
    if problem:
        return [], [], [problem]
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        return _bad_document("a COCO instances file is an object with 'images', 'annotations' and 'categories'")
    refusals: list[Refusal] = []
    names = _coco_category_names(data.get("categories") or [])
    categories = list(dict.fromkeys(names.values()))
    images = _coco_images(data["images"], refusals)
    for position, annotation in enumerate(data.get("annotations") or []):
        _read_coco_annotation(position, annotation, images, names, refusals)
    return _cap_categories(list(images.values()), categories, refusals)


# --- LabelMe -------------------------------------------------------------------------------------------------------


def _rectangle(corner_a: Point, corner_b: Point) -> Polygon:
    (x0, y0), (x1, y1) = corner_a, corner_b
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def parse_labelme(document: JsonDocument) -> Parsed:
    """One LabelMe JSON file: polygon and rectangle shapes; the embedded imageData is not read."""
    data, problem = _load_json(document)
    if problem:
        return [], [], [problem]
    if not isinstance(data, Mapping) or not isinstance(data.get("shapes"), list):
        return _bad_document("a LabelMe file is an object with a 'shapes' list")
    name = data.get("imagePath")
    if not isinstance(name, str) or not name:
        return _bad_document("the LabelMe file has no imagePath; save it again from LabelMe")
    width, height = data.get("imageWidth"), data.get("imageHeight")
    declared = (width, height) if isinstance(width, int) and isinstance(height, int) else None
    refusals: list[Refusal] = []
    image = ImageAnnotations(name, declared, [])
    categories: list[str] = []
    for position, entry in enumerate(data["shapes"]):
        item = f"shapes[{position}]"
        if not isinstance(entry, Mapping):
            refusals.append(Refusal(name, item, "bad-document", "a shape is an object"))
            continue
        label, kind = entry.get("label"), entry.get("shape_type") or "polygon"  # early LabelMe had no shape_type
        if not isinstance(label, str) or not label:
            refusals.append(_unknown_category(name, item, label))
            continue
        if kind not in ("polygon", "rectangle"):
            refusals.append(_unsupported(name, item, repr(kind)))
            continue
        points = _pairs(entry.get("points") or [])
        if points is None:
            refusals.append(Refusal(name, item, "bad-coordinates", "points must be [x, y] pairs of finite numbers"))
            continue
        if kind == "rectangle":
            if len(points) != 2:
                message = f"a rectangle is two corner points, this one has {len(points)}; redraw it"
                refusals.append(Refusal(name, item, "bad-coordinates", message))
                continue
            points = _rectangle(points[0], points[1])
        problem = _polygon_problem(points, declared, name, item, kind)
        if problem:
            refusals.append(problem)
            continue
        if label not in categories:
            categories.append(label)
        image.shapes.append(Shape(label, [points], None, item))
    return _cap_categories([image], categories, refusals)


# --- CVAT for images 1.1 -------------------------------------------------------------------------------------------

_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# label types that can never be painted (children of skeletons are point labels)
_CVAT_NON_AREA_LABELS = {"points", "polyline", "skeleton", "tag", "cuboid"}
_CVAT_UNSUPPORTED = {"points", "polyline", "skeleton", "ellipse", "mask", "cuboid", "tag"}


def _cvat_points(text: str | None) -> Polygon | None:
    points: Polygon = []
    for pair in (text or "").split(";"):
        x_text, _, y_text = pair.partition(",")
        try:
            x, y = float(x_text), float(y_text)
        except ValueError:
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        points.append((x, y))
    return points


def _cvat_box(element: ET.Element) -> Polygon | None:
    try:
        left, top = float(element.get("xtl", "")), float(element.get("ytl", ""))
        right, bottom = float(element.get("xbr", "")), float(element.get("ybr", ""))
        degrees = float(element.get("rotation", "0"))
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (left, top, right, bottom, degrees)):
        return None
    corners = _rectangle((left, top), (right, bottom))
    if degrees == 0:
        return corners
    # CVAT turns boxes clockwise (on screen, y down) about their centre
    cx, cy = (left + right) / 2, (top + bottom) / 2
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos) for x, y in corners]


def _cvat_categories(root: ET.Element) -> list[str]:
    categories: list[str] = []
    labels = root.findall("./meta/task/labels/label") or root.findall("./meta/project/labels/label")
    for label in labels:
        name = label.findtext("name")
        if not name or label.find("parent") is not None:
            continue
        if (label.findtext("type") or "any") in _CVAT_NON_AREA_LABELS:
            continue
        categories.append(name)
    return categories


def _cvat_declared_size(element: ET.Element) -> tuple[int, int] | None:
    try:
        return int(element.get("width", "")), int(element.get("height", ""))
    except ValueError:
        return None


def _cvat_shape(
    index: int, shape: ET.Element, name: str, declared: tuple[int, int] | None, known: set[str]
) -> tuple[float, Shape] | Refusal:
    """One child of an <image>: its z_order and shape, or why it cannot be used."""
    item = f"{shape.tag}[{index}]"
    if shape.tag in _CVAT_UNSUPPORTED:
        return _unsupported(name, item, f"<{shape.tag}>")
    if shape.tag not in ("polygon", "box"):
        return Refusal(name, item, "unsupported-shape", f"<{shape.tag}> is not a CVAT 1.1 shape")
    label = shape.get("label")
    if label not in known:
        return _unknown_category(name, item, label)
    polygon = _cvat_points(shape.get("points")) if shape.tag == "polygon" else _cvat_box(shape)
    if polygon is None:
        return Refusal(name, item, "bad-coordinates", "coordinates must be finite numbers")
    problem = _polygon_problem(polygon, declared, name, item, shape.tag)
    if problem:
        return problem
    try:
        z_order = float(shape.get("z_order", "0"))
    except ValueError:
        z_order = 0.0
    assert label is not None  # in `known`
    return z_order, Shape(label, [polygon], None, item)


def _cvat_image(element: ET.Element, name: str, known: set[str], refusals: list[Refusal]) -> ImageAnnotations:
    """The image's usable shapes, lowest z_order first (file order among equals); the others are refused."""
    declared = _cvat_declared_size(element)
    ordered: list[tuple[float, Shape]] = []
    for index, shape in enumerate(element):
        read = _cvat_shape(index, shape, name, declared, known)
        if isinstance(read, Refusal):
            refusals.append(read)
        else:
            ordered.append(read)
    ordered.sort(key=lambda pair: pair[0])  # stable: file order among equal z_order
    return ImageAnnotations(name, declared, [shape for _, shape in ordered])


def parse_cvat(xml_text: str | bytes) -> Parsed:
    """CVAT for images 1.1 XML: polygons and boxes (rotated boxes turned into 4-point polygons).

    Shapes keep CVAT's z_order: they are listed lowest first (file order among equals), so painting in list order
    puts the shape CVAT showed on top on top.
    """
    raw = xml_text.encode() if isinstance(xml_text, str) else xml_text
    # no DTDs at all: entity expansion ("billion laughs") and external entities start there
    if _DECLARATIONS.search(raw):
        message = "DOCTYPE/ENTITY declarations are refused; export again from CVAT or remove them"
        return [], [], [Refusal(None, "document", "xml-declarations", message)]
    try:
        root = ET.fromstring(raw, parser=ET.XMLParser())
    except ET.ParseError as error:
        return _bad_document(f"not well-formed XML ({error}); re-export the file")
    if root.tag != "annotations":
        return _bad_document(f"the root element is <{root.tag}>, CVAT for images has <annotations>")
    categories = _cvat_categories(root)
    known = set(categories)
    refusals: list[Refusal] = []
    images: list[ImageAnnotations] = []
    seen: set[str] = set()
    for position, element in enumerate(root.iterfind("image")):
        name = element.get("name") or ""
        if not name:
            refusals.append(Refusal(None, f"image[{position}]", "bad-document", "an <image> needs a name"))
            continue
        if name in seen:
            refusals.append(_duplicate(name, f"image id {element.get('id')!r}"))
            continue
        seen.add(name)
        images.append(_cvat_image(element, name, known, refusals))
    return _cap_categories(images, categories, refusals)


# --- Label Studio --------------------------------------------------------------------------------------------------


def _label_studio_name(task: Mapping[str, Any]) -> str | None:
    data = task.get("data")
    if isinstance(data, Mapping):
        if isinstance(data.get("image"), str):
            return str(data["image"])
        strings = [value for value in data.values() if isinstance(value, str)]
        if len(strings) == 1:
            return strings[0]
    upload = task.get("file_upload")
    return upload if isinstance(upload, str) else None


def _label_studio_shape(
    result: Mapping[str, Any], name: str, item: str
) -> tuple[str, Polygon, tuple[int, int]] | Refusal:
    kind = result.get("type")
    value = result.get("value") if isinstance(result.get("value"), Mapping) else {}
    assert isinstance(value, Mapping)
    if kind not in ("polygonlabels", "rectanglelabels"):
        return _unsupported(name, item, repr(kind))
    labels = value.get(kind)
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        message = f"a region needs exactly one label, this one has {labels!r}; pick one"
        return Refusal(name, item, "unknown-category", message)
    width, height = result.get("original_width"), result.get("original_height")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        return Refusal(name, item, "bad-coordinates", "original_width/original_height are missing; re-export")
    if kind == "polygonlabels":
        percent = _pairs(value.get("points") or [])
    else:
        x, y, w, h = (_number(value.get(key)) for key in ("x", "y", "width", "height"))
        if _number(value.get("rotation", 0)) != 0:
            return _unsupported(name, item, "rotated rectangle")
        percent = None if x is None or y is None or w is None or h is None else _rectangle((x, y), (x + w, y + h))
    if percent is None:
        return Refusal(name, item, "bad-coordinates", "points must be [x, y] pairs of finite numbers")
    # Label Studio stores percent of the original image size
    polygon = [(x * width / 100, y * height / 100) for x, y in percent]
    return labels[0], polygon, (width, height)


def parse_label_studio(document: JsonDocument) -> Parsed:
    """Label Studio JSON export: polygonlabels (and unrotated rectanglelabels), points in percent of the image.

    A task with several submitted annotations takes the first that was not cancelled; the others are refused.
    """
    data, problem = _load_json(document)
    if problem:
        return [], [], [problem]
    if not isinstance(data, list):
        return _bad_document("a Label Studio JSON export is a list of tasks")
    refusals: list[Refusal] = []
    images: list[ImageAnnotations] = []
    categories: list[str] = []
    seen: set[str] = set()
    for position, task in enumerate(data):
        task_item = f"task {task.get('id', position)!r}" if isinstance(task, Mapping) else f"task[{position}]"
        name = _label_studio_name(task) if isinstance(task, Mapping) else None
        if name is None:
            refusals.append(Refusal(None, task_item, "bad-document", "the task names no image in data or file_upload"))
            continue
        assert isinstance(task, Mapping)
        if name in seen:
            refusals.append(_duplicate(name, task_item))
            continue
        seen.add(name)
        annotations = [
            a for a in task.get("annotations") or [] if isinstance(a, Mapping) and not a.get("was_cancelled")
        ]
        for extra in annotations[1:]:
            refusals.append(_duplicate(name, f"{task_item} annotation {extra.get('id')!r}"))
        sizes: set[tuple[int, int]] = set()
        shapes: list[Shape] = []
        for index, result in enumerate(annotations[0].get("result") or [] if annotations else []):
            item = f"{task_item} result {result.get('id', index)!r}" if isinstance(result, Mapping) else task_item
            read = _label_studio_shape(result, name, item) if isinstance(result, Mapping) else None
            if read is None:
                refusals.append(Refusal(name, item, "bad-document", "a result is an object"))
                continue
            if isinstance(read, Refusal):
                refusals.append(read)
                continue
            label, polygon, size = read
            problem = _polygon_problem(polygon, size, name, item)
            if problem:
                refusals.append(problem)
                continue
            if sizes and size not in sizes:
                message = f"this region is on a {size[0]}x{size[1]} image, others on {sorted(sizes)}; re-export"
                refusals.append(Refusal(name, item, "size-mismatch", message))
                continue
            sizes.add(size)
            if label not in categories:
                categories.append(label)
            shapes.append(Shape(label, [polygon], None, item))
        images.append(ImageAnnotations(name, next(iter(sizes)) if sizes else None, shapes))
    return _cap_categories(images, categories, refusals)
