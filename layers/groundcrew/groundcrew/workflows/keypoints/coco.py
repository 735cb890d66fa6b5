"""COCO person_keypoints JSON: write skeletons for training, and read them back (tests, imports of COCO data).

Writing (`to_coco`): images get ids 1, 2, ... in the order given and annotations 1, 2, ... in image order. Each
annotation lists every rig keypoint in rig order as x, y, v: v=2 (placed, visible) or 0, 0, 0 (not placed). The
bbox is the tight box around the placed keypoints, not padded: a pose has no body outline, and a padding would be
made up. `area` is that box's area, so OKS evaluation against these boxes is a little stricter than against COCO's
segmentation areas. A skeleton with no keypoint placed carries nothing and is left out. The category's skeleton
is the rig's edges as 1-based keypoint numbers, as COCO numbers them.

Reading (`from_coco`): keypoints with v=0 are absent from the pose; v=1 (labelled, hidden) and v=2 are placed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from groundcrew.workflows.keypoints.poses import Pose, Rig

VISIBLE = 2  # COCO's "labelled and visible"
NOT_LABELLED = 0


@dataclass(frozen=True, slots=True)
class CocoImage:
    file_name: str
    width: int
    height: int
    poses: list[Pose] = field(default_factory=list)


def to_coco(items: Iterable[CocoImage], rig: Rig, *, category_name: str = "person") -> dict[str, Any]:
    """A COCO keypoints document (images, annotations, one category) of the items' poses."""
    names = rig.names
    position = {name: i for i, name in enumerate(names)}
    for edge in rig.edges:
        if edge.start not in position or edge.end not in position:
            raise ValueError(f"rig {rig.name!r}: edge {edge.start}-{edge.end} names a keypoint it does not have")
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, item in enumerate(items, start=1):
        if item.width <= 0 or item.height <= 0:
            raise ValueError(f"image {item.file_name!r}: size {item.width}x{item.height} is not a size")
        images.append({"id": image_id, "file_name": item.file_name, "width": item.width, "height": item.height})
        for pose in item.poses:
            unknown = sorted(set(pose.points) - set(position))
            if unknown:
                raise ValueError(
                    f"image {item.file_name!r}, pose {pose.name!r}: keypoints {unknown} are not in rig {rig.name!r}"
                )
            if not pose.points:
                continue
            keypoints: list[float] = []
            for name in names:
                if name in pose.points:
                    x, y = pose.points[name]
                    keypoints += [x, y, VISIBLE]
                else:
                    keypoints += [0, 0, NOT_LABELLED]
            xs = [x for x, _ in pose.points.values()]
            ys = [y for _, y in pose.points.values()]
            box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "keypoints": keypoints,
                    "num_keypoints": len(pose.points),
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    category = {
        "id": 1,
        "name": category_name,
        "supercategory": category_name,
        "keypoints": list(names),
        "skeleton": [[position[edge.start] + 1, position[edge.end] + 1] for edge in rig.edges],
    }
    return {"images": images, "annotations": annotations, "categories": [category]}


class _Category(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    name: str
    keypoints: list[str] = []


class _Image(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    file_name: str
    width: int
    height: int


class _Annotation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    image_id: int
    category_id: int
    keypoints: list[float] = []


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore")
    images: list[_Image]
    annotations: list[_Annotation] = []
    categories: list[_Category]


def from_coco(document: Mapping[str, Any], *, category_name: str | None = None) -> list[CocoImage]:
    """Every image of a COCO keypoints document with its skeletons (of `category_name` only, when given).

    Poses are named by their annotation id. Raises ValueError naming what does not fit: an unknown image or
    category, or keypoints that are not three numbers per keypoint of their category.
    """
    try:
        parsed = _Document.model_validate(document)
    except ValidationError as error:
        raise ValueError(f"not a COCO keypoints document: {error}") from error
    categories = {category.id: category for category in parsed.categories}
    if category_name is not None and category_name not in {c.name for c in categories.values()}:
        known = sorted(c.name for c in categories.values())
        raise ValueError(f"no category {category_name!r} in the document; it has {known}")
    poses: dict[int, list[Pose]] = {image.id: [] for image in parsed.images}
    if len(poses) < len(parsed.images):
        raise ValueError("image ids repeat: every image of a COCO document needs its own id")
    for annotation in parsed.annotations:
        category = categories.get(annotation.category_id)
        if category is None:
            raise ValueError(f"annotation {annotation.id}: unknown category_id {annotation.category_id}")
        if category_name is not None and category.name != category_name:
            continue
        if annotation.image_id not in poses:
            raise ValueError(f"annotation {annotation.id}: unknown image_id {annotation.image_id}")
        values = annotation.keypoints
        if len(values) != 3 * len(category.keypoints):
            raise ValueError(
                f"annotation {annotation.id}: {len(values)} keypoint numbers, but category {category.name!r} has "
                f"{len(category.keypoints)} keypoints (x, y, v each: {3 * len(category.keypoints)} numbers)"
            )
        points = {
            name: (values[3 * k], values[3 * k + 1])
            for k, name in enumerate(category.keypoints)
            if values[3 * k + 2] != NOT_LABELLED
        }
        poses[annotation.image_id].append(Pose(points, str(annotation.id)))
    return [CocoImage(image.file_name, image.width, image.height, poses[image.id]) for image in parsed.images]
