"""Bounding-box adjustment in Label Studio: the imported boxes as a prediction on `RectangleLabels`, the corrected
boxes written back in Ground Truth's bounding-box output format (contracts 1.2.1 and 1.2.3), as the built-in
adjustment task type would write them, so Decide, Finalize and the COCO export run unchanged.

One annotator per item (the adjustment workflows' default): that answer is the label; nothing to consolidate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workflows.labelstudio_markup import IMAGE_NAME, attribute, paragraphs, to_percent, to_pixels
from groundcrew.workforces.ground_truth.task_config import TaskConfig

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
        labels = "".join(f"\n    <Label value={attribute(label)}/>" for label in config.labels)
        return (
            "<View>\n"
            f"  <Header value={attribute(config.header)}/>\n"
            f'  <Image name="{IMAGE_NAME}" value="$image" zoom="true" zoomControl="true"/>\n'
            f'  <RectangleLabels name="{CONTROL_NAME}" toName="{IMAGE_NAME}" strokeWidth="2">{labels}\n'
            "  </RectangleLabels>\n"
            "</View>"
        )

    def instructions(self, config: TaskConfig) -> str:
        steps = (
            "The boxes another tool drew are shown first. Move or resize the wrong ones, delete the extra ones, and "
            "draw the missing ones (choose the label under the image, then drag on it)."
        )
        return paragraphs(config.short_instructions, steps)

    def predictions(
        self, line: dict[str, Any], config: TaskConfig, image_size: Callable[[], tuple[int, int]]
    ) -> list[dict[str, Any]]:
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

    def output_fields(
        self, content: Any, line: dict[str, Any], config: TaskConfig, attribute: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
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
            attribute: {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": annotations},
            f"{attribute}-metadata": {
                "objects": [{"confidence": 0.0} for _ in annotations],  # one worker: Ground Truth writes 0.00
                "class-map": {str(index): label for index, label in enumerate(config.labels)},
                "type": BOX_TYPE,
                "human-annotated": "yes",
                "adjustment-status": "unadjusted" if before == after else "adjusted",
                **metadata,
            },
        }
