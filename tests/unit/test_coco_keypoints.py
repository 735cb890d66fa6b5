"""COCO person_keypoints export: pycocotools reads it, and real COCO keypoints survive a round trip."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from groundcrew.workflows.keypoints.coco import CocoImage, from_coco, to_coco
from groundcrew.workflows.keypoints.poses import Pose, Rig, RigEdge, RigKeypoint

SHARED_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"  # beside the repo, like the `corpus` fixture

CORPUS = SHARED_CORPUS / "external-annotations"
MMPOSE = CORPUS / "coco_person_keypoints_mmpose_test.json"
DATUMARO = CORPUS / "coco_person_keypoints_datumaro_test.json"


def corpus(path: Path) -> dict[str, Any]:
    if not path.exists():
        pytest.skip(f"corpus file {path} is not here")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def rig_of(category: dict[str, Any]) -> Rig:
    """The rig a COCO category describes (keypoint names, 1-based skeleton); left/right pairs by name."""
    names = category["keypoints"]
    return Rig(
        name=category["name"],
        keypoints=tuple(RigKeypoint(name, "#ff0000") for name in names),
        edges=tuple(RigEdge(names[a - 1], names[b - 1]) for a, b in category["skeleton"]),
        mirrored=tuple((name, "right" + name[4:]) for name in names if name.startswith("left")),
    )


@pytest.fixture
def person() -> Rig:
    return rig_of(corpus(MMPOSE)["categories"][0])


def load(document: dict[str, Any], tmp_path: Path) -> COCO:
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        return COCO(str(path))


def test_the_export_loads_in_pycocotools(person: Rig, tmp_path: Path) -> None:
    items = [
        CocoImage("a.jpg", 640, 480, [Pose({"nose": (100.0, 50.0), "left_hip": (120.0, 150.0)}, "s1"), Pose({})]),
        CocoImage("b.jpg", 320, 240, [Pose({"left_ankle": (10.5, 200.25)}), Pose({"right_eye": (5.0, 6.0)})]),
        CocoImage("empty.jpg", 100, 100, []),
    ]
    document = to_coco(items, person)
    coco = load(document, tmp_path)
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    assert [image["file_name"] for image in coco.loadImgs([1, 2, 3])] == ["a.jpg", "b.jpg", "empty.jpg"]
    (first,) = coco.loadAnns(coco.getAnnIds(imgIds=[1]))  # the empty pose is left out
    assert first["num_keypoints"] == 2
    assert len(first["keypoints"]) == 3 * 17
    assert first["keypoints"][:3] == [100.0, 50.0, 2]
    assert first["keypoints"][3:6] == [0, 0, 0]
    assert first["keypoints"][33:36] == [120.0, 150.0, 2]  # left_hip is COCO's 12th keypoint
    assert first["bbox"] == [100.0, 50.0, 20.0, 100.0]
    assert first["area"] == 2000.0 and first["iscrowd"] == 0
    assert len(coco.getAnnIds(imgIds=[2])) == 2 and coco.getAnnIds(imgIds=[3]) == []
    (category,) = coco.loadCats(coco.getCatIds(catNms=["person"]))
    assert category["keypoints"] == list(person.names)
    # COCO numbers keypoints from 1: the skeleton is the corpus' own, number for number.
    assert category["skeleton"] == corpus(MMPOSE)["categories"][0]["skeleton"]
    assert category["supercategory"] == "person"


def test_the_export_evaluates_against_itself_perfectly(person: Rig, tmp_path: Path) -> None:
    # The corpus' people, exported, then scored with COCO's own keypoint evaluation (OKS) against themselves.
    items = [item for item in from_coco(corpus(MMPOSE)) if item.poses]
    document = to_coco(items, person)
    ground_truth = load(document, tmp_path)
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in document["annotations"]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(results), iouType="keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP at OKS 0.50:0.95


def test_real_coco_keypoints_round_trip(person: Rig) -> None:
    document = corpus(MMPOSE)
    images = from_coco(document, category_name="person")
    assert [image.file_name for image in images] == [image["file_name"] for image in document["images"]]
    image_785 = next(image for image in images if image.file_name == "000000000785.jpg")
    assert (image_785.width, image_785.height) == (640, 425)
    (pose,) = image_785.poses
    assert pose.points["nose"] == (367.0, 81.0) and pose.points["right_ankle"] == (396.0, 341.0)
    exported = to_coco([image_785], person)
    (original,) = [a for a in document["annotations"] if a["image_id"] == 785]
    (annotation,) = exported["annotations"]
    assert annotation["keypoints"] == original["keypoints"]
    assert annotation["num_keypoints"] == original["num_keypoints"] == 17


def test_every_placed_keypoint_of_the_corpus_survives_and_hidden_ones_count_as_placed(person: Rig) -> None:
    document = corpus(MMPOSE)
    exported = to_coco(from_coco(document), person)
    originals = [a for a in document["annotations"] if a["num_keypoints"] > 0]  # empty skeletons are left out
    assert len(exported["annotations"]) == len(originals)
    for mine, theirs in zip(exported["annotations"], originals, strict=True):
        for k in range(17):
            x, y, v = theirs["keypoints"][3 * k : 3 * k + 3]
            if v > 0:
                assert mine["keypoints"][3 * k : 3 * k + 3] == [x, y, 2]  # v=1 (labelled, hidden) was placed
            else:
                assert mine["keypoints"][3 * k + 2] == 0


def test_reading_keeps_empty_skeletons_and_names_poses_by_annotation_id() -> None:
    images = from_coco(corpus(MMPOSE))
    image_40083 = next(image for image in images if image.file_name == "000000040083.jpg")
    assert [len(pose.points) for pose in image_40083.poses] == [14, 15, 0]
    assert all(pose.name for pose in image_40083.poses)
    assert "left_ear" not in image_40083.poses[0].points  # v=0


def test_reading_a_category_and_refusing_keypoints_that_do_not_fit_it() -> None:
    document = corpus(DATUMARO)
    (image,) = from_coco(document, category_name="a")
    assert image.file_name == "b.jpg" and (image.width, image.height) == (5, 10)
    (pose,) = image.poses
    assert pose.points == {"a_1": (1.0, 2.0), "a_2": (3.0, 4.0), "a_3": (2.0, 3.0)}
    # Category "b" has no keypoint names, yet its annotation lists three keypoints.
    with pytest.raises(ValueError, match=r"annotation 2: 9 keypoint numbers, but category 'b' has 0 keypoints"):
        from_coco(document)
    with pytest.raises(ValueError, match=r"no category 'person' in the document; it has \['a', 'b'\]"):
        from_coco(document, category_name="person")


def test_refusals_name_the_problem(person: Rig) -> None:
    with pytest.raises(ValueError, match=r"pose 'skeleton 2': keypoints \['tail'\] are not in rig 'person'"):
        to_coco([CocoImage("a.jpg", 10, 10, [Pose({"tail": (1.0, 1.0)}, "skeleton 2")])], person)
    with pytest.raises(ValueError, match="size 0x10 is not a size"):
        to_coco([CocoImage("a.jpg", 0, 10, [])], person)
    with pytest.raises(ValueError, match="not a COCO keypoints document"):
        from_coco({"images": [{"id": 1}]})
    base = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 2, "height": 2}],
        "categories": [{"id": 1, "name": "p"}],
    }
    with pytest.raises(ValueError, match="annotation 7: unknown image_id 3"):
        from_coco(base | {"annotations": [{"id": 7, "image_id": 3, "category_id": 1}]})
    with pytest.raises(ValueError, match="annotation 8: unknown category_id 2"):
        from_coco(base | {"annotations": [{"id": 8, "image_id": 1, "category_id": 2}]})
