"""Keypoints in Label Studio: `KeyPointLabels` with the rig's names and colours, read back as crowd-2d-skeleton's
submission (so the same checks and consensus apply).

Label Studio places each keypoint as its own region, in percent of the image; it has no skeleton grouping, so an
annotation is one pose (one person per image, as in the keypoint demo). A pose sent back for adjustment becomes a
prediction the annotator starts from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.workflows.keypoints import task
from groundcrew.workflows.keypoints.poses import Rig, rig_from_dict
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

CONTROL_NAME = "keypoints"


def _rig(config: TaskConfig) -> Rig:
    if config.rig is None:
        raise DataObjectError("the job's task config has no rig")
    return rig_from_dict(config.rig)


class KeypointsInLabelStudio:
    own_consolidation = True  # answers go through our consolidation, like the page\'s

    def labeling_config(self, config: TaskConfig) -> str:
        labels = [f"{attribute(k.name)} background={attribute(k.color)}" for k in _rig(config).keypoints]
        control = labels_control("KeyPointLabels", CONTROL_NAME, labels, extra=' strokeWidth="2"')
        return labeling_view(config.header, control, control_first=True)  # pick a name, then click

    def instructions(self, config: TaskConfig) -> str:
        rig = _rig(config)
        pairs = ", ".join(f"{left} / {right}" for left, right in rig.mirrored)
        mirrored = (
            f"Mirrored pairs: {pairs}. Left and right are the subject's own sides, not the image's: a person "
            "facing you has their left side on the right of the picture."
            if pairs
            else ""
        )
        steps = "Choose a keypoint name above the image, then click where that point is."
        return paragraphs(config.short_instructions, steps, mirrored)

    def predictions(self, line: dict[str, Any], config: TaskConfig, objects: ObjectReader) -> list[dict[str, Any]]:
        rig = _rig(config)
        skeletons = orjson.loads(task.task_input(line, rig)["initial_values"])
        points = [point for skeleton in skeletons[:1] for point in skeleton["annotations"]]
        if not points:
            return []
        width, height = objects.image_size(str(line.get("source-ref")))
        return [
            {
                "id": f"k{index}",
                "type": "keypointlabels",
                "from_name": CONTROL_NAME,
                "to_name": IMAGE_NAME,
                "original_width": width,
                "original_height": height,
                "value": {
                    "x": to_percent(point["x"], width),
                    "y": to_percent(point["y"], height),
                    "width": 0.5,
                    "keypointlabels": [point["label"]],
                },
            }
            for index, point in enumerate(points)
        ]

    def answer_content(self, results: list[dict[str, Any]], line: dict[str, Any], config: TaskConfig) -> Any:
        """crowd-2d-skeleton's hidden fields; a point with an unknown name or placed twice is left for the
        keypoint reader to reject, with its reason."""
        points = []
        for result in results:
            if result.get("type") != "keypointlabels" or result.get("from_name") != CONTROL_NAME:
                continue
            value = result.get("value") or {}
            names = value.get("keypointlabels") or []
            width, height = result.get("original_width"), result.get("original_height")
            if len(names) != 1 or not isinstance(width, int) or not isinstance(height, int) or width <= 0:
                raise AnswerError(f"a keypoint region has {len(names)} names or no image size: {value!r}")
            x, y = value.get("x"), value.get("y")
            if not isinstance(x, int | float) or not isinstance(y, int | float) or height <= 0:
                raise AnswerError(f"keypoint {names[0]!r} has no numeric position: {value!r}")
            points.append({"label": names[0], "x": round(to_pixels(x, width)), "y": round(to_pixels(y, height))})
        shown = task.task_input(line, _rig(config))["initial_values"]
        source = str(line.get("source-ref", ""))
        return {
            "updated_annotations": orjson.dumps([{"name": "", "annotations": points}]).decode(),
            "original_annotations": shown,
            "image_s3_uri": source,
            "image_name": source.rsplit("/", 1)[-1],
            "no_changes_needed": "false",
        }

    def output_fields(self, content: Any, line: dict[str, Any], config: TaskConfig, out: LabelOutput) -> dict[str, Any]:
        raise NotImplementedError("these answers are consolidated by groundcrew's consolidation")
