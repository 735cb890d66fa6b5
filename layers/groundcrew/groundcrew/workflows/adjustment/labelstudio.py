"""Adjustment in Label Studio: imported boxes as a prediction on `RectangleLabels`, imported masks as brush
regions on `BrushLabels` (one per class); what the annotator leaves is written back in Ground Truth's own output
format (contracts 1.2.1 to 1.2.3: boxes with their class map, masks as palette PNGs with their colour map, both
with `adjustment-status`), as the built-in adjustment task types would write it, so Decide, Finalize and the
COCO export run unchanged.

One annotator per item (the adjustment workflows' default): that answer is the label; nothing to consolidate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workflows.labelstudio_markup import (
    IMAGE_NAME,
    attribute,
    labeling_view,
    labels_control,
    paragraphs,
    to_percent,
    to_pixels,
)
from groundcrew.workforces.ground_truth.task_config import TaskConfig

if TYPE_CHECKING:
    from groundcrew.workflows.plugin import LabelOutput, ObjectReader

CONTROL_NAME = "boxes"
BOX_TYPE = "groundtruth/object-detection"


def _imported(line: dict[str, Any], config: TaskConfig) -> tuple[list[dict[str, Any]], dict[str, str], int, int]:
    """The line's imported boxes, their class map and the image size they were drawn on."""
    name = config.source_attribute
    value = line.get(name or "")
    metadata = line.get(f"{name}-metadata")
    if not isinstance(value, dict) or not isinstance(metadata, dict):
        raise DataObjectError(f"the line has no imported boxes under {name!r} (and its metadata)")
    try:
        size = value["image_size"][0]
        width, height = int(size["width"]), int(size["height"])
        class_map = {str(k): str(v) for k, v in metadata["class-map"].items()}
        boxes = list(value["annotations"])
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise DataObjectError(f"the imported boxes under {name!r} are not in Ground Truth's format: {error}") from None
    if width <= 0 or height <= 0:
        raise DataObjectError(f"the imported boxes under {name!r} name an image of {width} x {height} pixels")
    return boxes, class_map, width, height


def _pixel_box(box: dict[str, Any]) -> tuple[int, int, int, int]:
    return round(box["left"]), round(box["top"]), round(box["width"]), round(box["height"])


class BoxesInLabelStudio:
    own_consolidation = False  # Ground Truth's built-in type would consolidate; one answer is the label

    def labeling_config(self, config: TaskConfig) -> str:
        labels = [attribute(label) for label in config.labels]
        return labeling_view(
            config.header, labels_control("RectangleLabels", CONTROL_NAME, labels, extra=' strokeWidth="2"')
        )

    def instructions(self, config: TaskConfig) -> str:
        steps = (
            "The boxes another tool drew are shown first. Move or resize the wrong ones, delete the extra ones, and "
            "draw the missing ones (choose the label under the image, then drag on it)."
        )
        return paragraphs(config.short_instructions, steps)

    def predictions(self, line: dict[str, Any], config: TaskConfig, objects: ObjectReader) -> list[dict[str, Any]]:
        boxes, class_map, width, height = _imported(line, config)
        regions = []
        for index, box in enumerate(boxes):
            label = class_map.get(str(box.get("class_id")))
            if label is None:
                raise DataObjectError(
                    f"imported box {index} has class_id {box.get('class_id')!r}, not in its class map"
                )
            left, top, box_width, box_height = _pixel_box(box)
            regions.append(
                {
                    "id": f"b{index}",
                    "type": "rectanglelabels",
                    "from_name": CONTROL_NAME,
                    "to_name": IMAGE_NAME,
                    "original_width": width,
                    "original_height": height,
                    "value": {
                        "x": to_percent(left, width),
                        "y": to_percent(top, height),
                        "width": to_percent(box_width, width),
                        "height": to_percent(box_height, height),
                        "rotation": 0,
                        "rectanglelabels": [label],
                    },
                }
            )
        return regions

    def answer_content(self, results: list[dict[str, Any]], line: dict[str, Any], config: TaskConfig) -> Any:
        """The annotation's boxes in pixels of the imported image size: `{"boxes": [{label, left, ...}]}`."""
        _, _, width, height = _imported(line, config)
        boxes = []
        for result in results:
            if result.get("type") != "rectanglelabels" or result.get("from_name") != CONTROL_NAME:
                continue
            value = result.get("value") or {}
            labels = value.get("rectanglelabels") or []
            if len(labels) != 1 or labels[0] not in config.labels:
                raise AnswerError(f"a box is labeled {labels!r}; each box takes one of {list(config.labels)}")
            if value.get("rotation"):
                raise AnswerError(f"a {labels[0]!r} box is rotated; Ground Truth's boxes are upright")
            try:
                x, y, w, h = (float(value[key]) for key in ("x", "y", "width", "height"))
            except (KeyError, TypeError, ValueError):
                raise AnswerError(f"a {labels[0]!r} box has no numeric position and size: {value!r}") from None
            left, top = round(to_pixels(x, width)), round(to_pixels(y, height))
            right, bottom = round(to_pixels(x + w, width)), round(to_pixels(y + h, height))
            boxes.append({"label": labels[0], "left": left, "top": top, "width": right - left, "height": bottom - top})
        return {"boxes": boxes}

    def output_fields(self, content: Any, line: dict[str, Any], config: TaskConfig, out: LabelOutput) -> dict[str, Any]:
        imported, class_map, width, height = _imported(line, config)
        boxes = content["boxes"]
        ids = {label: index for index, label in enumerate(config.labels)}
        annotations = [
            {
                "class_id": ids[b["label"]],
                "left": b["left"],
                "top": b["top"],
                "width": b["width"],
                "height": b["height"],
            }
            for b in boxes
        ]
        before = sorted((class_map.get(str(b.get("class_id"))), *_pixel_box(b)) for b in imported)
        after = sorted((b["label"], b["left"], b["top"], b["width"], b["height"]) for b in boxes)
        return {
            out.attribute: {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": annotations},
            f"{out.attribute}-metadata": {
                "objects": [{"confidence": 0.0} for _ in annotations],  # one worker: Ground Truth writes 0.00
                "class-map": {str(index): label for index, label in enumerate(config.labels)},
                "type": BOX_TYPE,
                "human-annotated": "yes",
                "adjustment-status": "unadjusted" if before == after else "adjusted",
                **out.metadata,
            },
        }


MASK_CONTROL_NAME = "masks"
MASK_TYPE = "groundtruth/semantic-segmentation"
MAX_MASK_BYTES = 50 * 1024 * 1024  # an imported mask PNG read to pre-annotate a task
MAX_MASK_PIXELS = 100_000_000  # as the mask preflight: no decoding of anything larger


def _imported_mask(line: dict[str, Any], config: TaskConfig) -> tuple[str, dict[str, Any]]:
    """The imported mask's URI and its internal-color-map (`<attribute>-ref` and its metadata)."""
    name = config.source_attribute or ""
    uri, metadata = line.get(name), line.get(f"{name}-metadata")
    if not isinstance(uri, str) or not isinstance(metadata, dict) or "internal-color-map" not in metadata:
        raise DataObjectError(f"the line has no imported mask under {name!r} (and its internal-color-map)")
    return uri, dict(metadata["internal-color-map"])


def _mask_indices(png: bytes) -> Any:
    """The class indices of a mask PNG, its size checked before its pixels are decoded."""
    import io

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as image:
            width, height = image.size
            if width * height > MAX_MASK_PIXELS:
                raise DataObjectError(f"the imported mask has {width * height:,} pixels, over {MAX_MASK_PIXELS:,}")
            if image.mode not in {"L", "P"}:
                raise DataObjectError(f"the imported mask is mode {image.mode}, not class indices (L or P)")
            return np.asarray(image, dtype=np.uint8)
    except Image.DecompressionBombError as error:  # Pillow refuses its own limit before we see the size
        raise DataObjectError(f"the imported mask is too large to decode safely: {error}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DataObjectError(f"the imported mask is not a readable image: {error}") from None


class MasksInLabelStudio:
    own_consolidation = False  # Ground Truth's built-in type would consolidate; one answer is the label

    def labeling_config(self, config: TaskConfig) -> str:
        labels = [attribute(label) for label in config.labels]
        return labeling_view(config.header, labels_control("BrushLabels", MASK_CONTROL_NAME, labels))

    def instructions(self, config: TaskConfig) -> str:
        steps = (
            "The regions another tool painted are shown first, one per class. Erase what is wrong and paint what "
            "is missing (choose the label under the image, then brush over it); unpainted pixels are background."
        )
        return paragraphs(config.short_instructions, steps)

    def predictions(self, line: dict[str, Any], config: TaskConfig, objects: ObjectReader) -> list[dict[str, Any]]:
        from groundcrew.workflows.adjustment import brush

        uri, color_map = _imported_mask(line, config)
        indices = _mask_indices(objects.read(uri, MAX_MASK_BYTES))
        height, width = indices.shape
        regions = []
        for key, entry in sorted(color_map.items(), key=lambda kv: int(kv[0])):
            label = str(entry.get("class-name"))
            if int(key) == 0 or label not in config.labels or not (indices == int(key)).any():
                continue
            regions.append(
                {
                    "id": f"m{key}",
                    "type": "brushlabels",
                    "from_name": MASK_CONTROL_NAME,
                    "to_name": IMAGE_NAME,
                    "original_width": width,
                    "original_height": height,
                    "value": {"format": "rle", "rle": brush.encode(indices == int(key)), "brushlabels": [label]},
                }
            )
        return regions

    def answer_content(self, results: list[dict[str, Any]], line: dict[str, Any], config: TaskConfig) -> Any:
        """The annotation's brush regions (still run-length encoded: answers stay small) with the image size."""
        regions, sizes = [], set()
        for result in results:
            if result.get("type") != "brushlabels" or result.get("from_name") != MASK_CONTROL_NAME:
                continue
            value = result.get("value") or {}
            labels = value.get("brushlabels") or []
            if len(labels) != 1 or labels[0] not in config.labels:
                raise AnswerError(f"a brush region is labeled {labels!r}; each takes one of {list(config.labels)}")
            if value.get("format") != "rle" or not isinstance(value.get("rle"), list):
                raise AnswerError(f"the {labels[0]!r} brush region is not run-length encoded ({value.get('format')!r})")
            sizes.add((result.get("original_width"), result.get("original_height")))
            regions.append({"label": labels[0], "rle": value["rle"]})
        if len(sizes) > 1:
            raise AnswerError(f"the brush regions were painted on images of different sizes: {sorted(sizes)}")
        width, height = next(iter(sizes)) if sizes else (None, None)
        return {"regions": regions, "width": width, "height": height}

    def output_fields(self, content: Any, line: dict[str, Any], config: TaskConfig, out: LabelOutput) -> dict[str, Any]:
        import numpy as np

        from groundcrew.workflows.adjustment import brush, masks

        uri, color_map = _imported_mask(line, config)
        names = [str(color_map[key]["class-name"]) for key in sorted(color_map, key=int)]
        colors = [str(color_map[key]["hex-color"]).lower() for key in sorted(color_map, key=int)]
        imported = _mask_indices(out.objects.read(uri, MAX_MASK_BYTES))
        height, width = imported.shape
        painted = np.zeros((height, width), dtype=np.uint8)  # BACKGROUND where nothing is painted
        for region in content["regions"]:
            try:
                painted[brush.decode(region["rle"], width, height)] = names.index(region["label"])
            except (brush.BrushError, ValueError) as error:
                raise AnswerError(f"the {region['label']!r} brush region cannot be read: {error}") from None
        return {
            out.attribute: out.put("mask.png", masks.encode_palette_mask(painted, colors)),
            f"{out.attribute}-metadata": {
                "internal-color-map": color_map,
                "type": MASK_TYPE,
                "human-annotated": "yes",
                "adjustment-status": "unadjusted" if np.array_equal(painted, imported) else "adjusted",
                **out.metadata,
            },
        }
