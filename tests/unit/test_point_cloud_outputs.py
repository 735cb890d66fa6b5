"""Reading and writing Ground Truth 3D point cloud outputs, and the KITTI and tracks exports built on them."""

from __future__ import annotations

import copy
import importlib.util
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundcrew.workflows.point_cloud.outputs import (
    CameraBox,
    Cuboid,
    FrameLabels,
    KittiBox,
    PointCloudOutputError,
    audit_line,
    class_point_counts,
    cuboid_corners,
    detection_labels,
    detection_output,
    encode_segmentation,
    kitti_box,
    kitti_box_corners,
    kitti_label_text,
    segmentation_labels,
    segmentation_metadata,
    segmentation_output,
    seq_label_document,
    tracking_labels,
    tracking_metadata,
    tracking_output,
    tracks_document,
)

# `tests` is not a package (no __init__.py, repo root not on sys.path under pytest), so load the helper by path.
_SAMPLES_SPEC = importlib.util.spec_from_file_location(
    "aws_doc_samples", Path(__file__).resolve().parents[1] / "aws_doc_samples.py"
)
assert _SAMPLES_SPEC is not None and _SAMPLES_SPEC.loader is not None
_samples = importlib.util.module_from_spec(_SAMPLES_SPEC)
_SAMPLES_SPEC.loader.exec_module(_samples)
load_doc_json = _samples.load_doc_json

CAR_1 = "06efb020-a782-11ea-b57d-67c51a0561a1"
CAR_2 = "26fad020-a782-11ea-b57d-67c51a0561a1"
CAR_4 = "ae5dc770-a782-11ea-b57d-67c51a0561a1"
SEDAN = {"Occlusion": "Partial", "Type": "Sedan"}
COLOR_MAP = {
    "0": {"class-name": "Background", "hex-color": "#ffffff", "confidence": 0.0},
    "1": {"class-name": "Car", "hex-color": "#2ca02c", "confidence": 0.0},
    "2": {"class-name": "Pedestrian", "hex-color": "#1f77b4", "confidence": 0.0},
    "3": {"class-name": "Tree", "hex-color": "#ff7f0e", "confidence": 0.0},
}
# Standard KITTI axes (x_cam = -y_velo, y_cam = -z_velo, z_cam = x_velo) plus a translation.
VELO_TO_CAM = np.array([[0.0, -1.0, 0.0, 0.5], [0.0, 0.0, -1.0, -0.25], [1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
P2 = np.array([[100.0, 0.0, 50.0, 0.0], [0.0, 100.0, 40.0, 0.0], [0.0, 0.0, 1.0, 0.0]])


def awsdoc(corpus: Path, name: str) -> Any:
    return load_doc_json(corpus / "point-cloud" / "awsdocs" / name)


def cuboid(
    center: tuple[float, float, float] = (10.0, 2.0, -1.0),
    dimensions: tuple[float, float, float] = (4.0, 2.0, 1.5),
    yaw: float = 0.0,
    *,
    label: str = "Car",
    class_id: int = 0,
    object_id: str | None = None,
    object_name: str = "Car:1",
    attributes: dict[str, Any] | None = None,
    roll: float = 0.0,
    pitch: float = 0.0,
) -> Cuboid:
    return Cuboid(label, class_id, object_name, object_id, center, dimensions, (roll, pitch, yaw), attributes or {})


def raises(rule: str, *fragments: str) -> Any:
    """Context manager: a PointCloudOutputError with this rule whose message holds every fragment."""

    class _Check:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: Any, error: Any, trace: Any) -> bool:
            assert isinstance(error, PointCloudOutputError), f"expected PointCloudOutputError({rule}), got {error!r}"
            assert error.rule == rule, str(error)
            for fragment in fragments:
                assert fragment in str(error), (fragment, str(error))
            return True

    return _Check()


def detection_line(label: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    return {"source-ref": "s3://bucket/frame1.bin", "boxes": label, "boxes-metadata": metadata}


def same_corners(a: np.ndarray, b: np.ndarray) -> bool:
    """Both 8x3 arrays hold the same points, in any order."""
    distances = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return bool(np.all(distances.min(axis=1) < 1e-9) and np.all(distances.min(axis=0) < 1e-9))


# --- object detection ----------------------------------------------------------------------------------------------


def test_detection_labels_reads_the_aws_doc_example(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d_object-detection.json")

    frame = detection_labels(line, "3d-bounding-box")

    assert frame == FrameLabels(
        index=0,
        name="s3://AWSDOC-EXAMPLE-BUCKET/examplefolder/frame1.txt",
        cuboids=(
            Cuboid(
                "Car",
                0,
                "Car:1",
                None,
                (-2.616382013657516, 125.04149850484193, 0.311272296465834),
                (2.993000265181146, 1.8355260519692056, 1.3233490884304047),
                (0.0, 0.0, 1.6479308313703527),
                SEDAN,
            ),
            Cuboid(
                "Car",
                0,
                "Car:2",
                None,
                (-5.188984560617168, 99.7954483288783, 0.2226435567445657),
                (4.0, 2.0, 2.0),
                (0.0, 0.0, 1.6243170732068055),
                SEDAN,
            ),
        ),
        frame_attributes={},  # the doc's {name: value, ...} placeholder
        camera_boxes=(),
    )


def test_detection_labels_reads_class_map_with_a_dash_and_frame_attributes() -> None:
    label = {"annotations": [{**_annotation(), "class-id": 1}]}
    metadata = {
        "class-map": {"0": "Car", "1": "Traffic cone"},
        "type": "groundtruth/point_cloud_object_detection",
        "dataset-object-attributes": {"Weather": "Rain"},
    }

    frame = detection_labels(detection_line(label, metadata), "boxes")

    assert frame.frame_attributes == {"Weather": "Rain"}
    assert [(c.label, c.class_id) for c in frame.cuboids] == [("Traffic cone", 1)]


def _annotation(**changes: Any) -> dict[str, Any]:
    annotation = {
        "label-category-attributes": {},
        "object-name": "Car:1",
        "class-id": 0,
        "center-x": 1.0,
        "center-y": 2.0,
        "center-z": 3.0,
        "length": 4.0,
        "width": 2.0,
        "height": 1.5,
        "roll": 0,
        "pitch": 0,
        "yaw": 0.25,
    }
    annotation.update(changes)
    return annotation


DETECTION_METADATA = {"class_map": {"0": "Car"}, "type": "groundtruth/point_cloud_object_detection"}


def test_detection_rejects_an_attribute_ending_in_ref(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d_object-detection.json")
    line["3d-bounding-box-ref"] = line.pop("3d-bounding-box")
    line["3d-bounding-box-ref-metadata"] = line.pop("3d-bounding-box-metadata")

    with raises("detection-attribute-ends-in-ref", "'3d-bounding-box-ref'", "frame1.txt"):
        detection_labels(line, "3d-bounding-box-ref")


def test_detection_rejects_a_wrong_type() -> None:
    metadata = {**DETECTION_METADATA, "type": "groundtruth/object-detection"}

    with raises("wrong-type", "'groundtruth/object-detection'", "groundtruth/point_cloud_object_detection"):
        detection_labels(detection_line({"annotations": [_annotation()]}, metadata), "boxes")


def test_detection_rejects_a_class_id_missing_from_the_class_map() -> None:
    line = detection_line({"annotations": [_annotation(), _annotation(**{"class-id": 7})]}, DETECTION_METADATA)

    with raises("class-id-not-in-class-map", "annotation 1", "class-id 7", "['0']"):
        detection_labels(line, "boxes")


@pytest.mark.parametrize("field", ["center-y", "yaw", "class-id", "object-name", "height"])
def test_detection_names_a_missing_cuboid_field_and_the_object(field: str) -> None:
    broken = _annotation()
    del broken[field]
    line = detection_line({"annotations": [_annotation(), broken]}, DETECTION_METADATA)

    with raises("missing-field", "boxes annotation 1", repr(field)):
        detection_labels(line, "boxes")


def test_detection_rejects_zero_size_and_non_numbers() -> None:
    with raises("non-positive-dimension", "annotation 0", "width is 0.0"):
        detection_labels(detection_line({"annotations": [_annotation(width=0)]}, DETECTION_METADATA), "boxes")
    with raises("malformed-field", "'yaw'", "'1.5'"):
        detection_labels(detection_line({"annotations": [_annotation(yaw="1.5")]}, DETECTION_METADATA), "boxes")


def test_detection_rejects_missing_class_map_and_missing_metadata() -> None:
    with raises("missing-class-map", "boxes-metadata"):
        detection_labels(detection_line({"annotations": []}, {"type": DETECTION_METADATA["type"]}), "boxes")
    with raises("missing-metadata", "boxes-metadata"):
        detection_labels({"source-ref": "s3://b/f.bin", "boxes": {"annotations": []}}, "boxes")


def test_detection_output_round_trips_and_is_shaped_like_the_doc_example() -> None:
    cuboids = (
        cuboid((1.0, 2.0, 3.0), (4.0, 2.0, 1.5), 0.25, attributes={"Type": "Sedan"}),
        cuboid((-5.0, 0.5, 0.2), (0.5, 0.4, 1.0), -1.0, label="Traffic cone", class_id=1, object_name="Cone:1"),
    )

    label, metadata = detection_output(
        cuboids,
        class_map={"0": "Car", "1": "Traffic cone"},
        job_name="identify-3d-objects",
        creation_date="2018-10-18T22:18:13.527256",
        frame_attributes={"Weather": "Rain"},
    )

    assert label["annotations"][0] == {
        "label-category-attributes": {"Type": "Sedan"},
        "object-name": "Car:1",
        "class-id": 0,
        "center-x": 1.0,
        "center-y": 2.0,
        "center-z": 3.0,
        "length": 4.0,
        "width": 2.0,
        "height": 1.5,
        "roll": 0.0,
        "pitch": 0.0,
        "yaw": 0.25,
    }
    assert metadata == {
        "objects": [],
        "class-map": {"0": "Car", "1": "Traffic cone"},
        "type": "groundtruth/point_cloud_object_detection",
        "human-annotated": "yes",
        "creation-date": "2018-10-18T22:18:13.527256",
        "job-name": "identify-3d-objects",
        "dataset-object-attributes": {"Weather": "Rain"},
    }
    frame = detection_labels(detection_line(label, metadata), "boxes")
    assert frame.cuboids == cuboids
    assert frame.frame_attributes == {"Weather": "Rain"}


def test_detection_output_refuses_labels_that_disagree_with_the_class_map() -> None:
    with raises("class-id-not-in-class-map", "cuboid 0", "'Truck'"):
        detection_output(
            [cuboid(label="Truck")], class_map={"0": "Car"}, job_name="j", creation_date="2018-10-18T22:18:13.527256"
        )
    with raises("malformed-creation-date", "'2018-10-18'"):
        detection_output([cuboid()], class_map={"0": "Car"}, job_name="j", creation_date="2018-10-18")


# --- object tracking -----------------------------------------------------------------------------------------------


def test_tracking_output_reads_the_aws_doc_manifest_line(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d_object-tracking_manifest.json")

    assert tracking_output(line, "lidar-label-attribute-ref") == (
        "s3://<CustomerOutputLocation>/<labelingJobName>/annotations/consolidated-annotation/output/"
        "<datasetObjectId>/SeqLabel.json",
        {"0": "Car", "1": "Person"},
    )


def test_tracking_labels_reads_the_aws_doc_seq_label(corpus: Path) -> None:
    frames = tracking_labels(awsdoc(corpus, "output_3d_object-tracking_SeqLabel.json"), {"0": "Car", "1": "Person"})

    assert [(f.index, f.name, f.frame_attributes, f.camera_boxes) for f in frames] == [
        (0, "0.txt.pcd", {}, ()),
        (1, "1.txt.pcd", {}, ()),
    ]
    assert [(c.object_name, c.object_id) for c in frames[0].cuboids] == [
        ("Car:4", CAR_4),
        ("Car:1", CAR_1),
        ("Car:2", CAR_2),
    ]
    assert frames[0].cuboids[1] == Cuboid(
        "Car",
        0,
        "Car:1",
        CAR_1,
        (-2.6451293634707413, 124.9534455706848, 0.5020834081743839),
        (4.0, 2.0, 2.080488827301309),
        (0.0, 0.0, -1.5963335581398077),
        SEDAN,
    )
    assert frames[1].cuboids[2].center == (-5.221311072916759, 100.4639841045424, 0.22917217081212138)
    assert frames[1].cuboids[2].dimensions == (3.8747142207671956, 1.9999999999999918, 2.0)


def test_tracking_labels_reads_the_3d_2d_seq_label(corpus: Path) -> None:
    frames = tracking_labels(awsdoc(corpus, "output_3d-2d_object-tracking_SeqLabel.json"), {"0": "Car"})

    assert [(f.index, f.name, [c.object_name for c in f.cuboids]) for f in frames] == [
        (0, "0.txt.pcd", ["Car:1", "Car:4"]),
        (1, "1.txt.pcd", ["Car:1", "Car:4"]),
        (2, "2.txt.pcd", ["Car:1", "Car:4"]),
    ]
    assert frames[1].cuboids[0].center == (-1.6841480600695489, 126.20198882749516, 1.590525771183712)
    assert frames[0].camera_boxes == (
        CameraBox(
            "camera-0",
            "Car",
            0,
            "Car:2",
            "5229df60-97a4-11ed-8903-dd5b8b903715",
            486.0,
            225.0,
            223.0,
            164.0,
            {"Occlusion": "Partial"},
        ),
    )
    # Cuboid and camera box of one object share the object-id.
    car_4 = "1afcb670-97a9-11ed-9a84-ff627d099e16"
    assert frames[1].camera_boxes[0].object_id == frames[1].cuboids[1].object_id == car_4
    assert (frames[1].camera_boxes[0].left, frames[1].camera_boxes[0].top) == (473.0, 237.0)
    assert frames[2].camera_boxes == ()


def test_tracking_output_reads_both_attributes_of_the_3d_2d_manifest(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d-2d_object-tracking_manifest.json")

    assert tracking_output(line, "3D2D-linking-ref") == (
        "s3://iad-groundtruth-lidar-test-bucket/xyz/3D2D-linking/annotations/consolidated-annotation/output/0/"
        "SeqLabel.json",
        {"0": "Car"},
    )
    assert tracking_output(line, "3D2D-linking-chain-ref")[0].endswith(
        "/3D2D-linking-chain/annotations/consolidated-annotation/output/0/SeqLabel.json"
    )


def test_tracking_without_a_class_map_takes_the_label_from_the_object_name(corpus: Path) -> None:
    frames = tracking_labels(awsdoc(corpus, "output_3d-2d_object-tracking_SeqLabel.json"))

    assert {c.label for f in frames for c in f.cuboids} == {"Car"}


def test_tracking_output_requires_ref_and_the_tracking_type(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d_object-tracking_manifest.json")
    with raises("attribute-missing-ref", "'lidar-label-attribute'", "AWSDOC-EXAMPLE-BUCKET/myfolder/seq1.json"):
        tracking_output(line, "lidar-label-attribute")
    line["lidar-label-attribute-ref-metadata"]["type"] = "groundtruth/point_cloud_object_detection"
    with raises("wrong-type", "groundtruth/point_cloud_object_tracking"):
        tracking_output(line, "lidar-label-attribute-ref")


def test_tracking_labels_rejects_bad_seq_labels(corpus: Path) -> None:
    seq_label = awsdoc(corpus, "output_3d_object-tracking_SeqLabel.json")
    with raises("class-id-not-in-class-map", "frame 0, annotation 0", "class-id 0"):
        tracking_labels(seq_label, {"1": "Person"})

    missing_id = copy.deepcopy(seq_label)
    del missing_id["tracking-annotations"][1]["annotations"][2]["object-id"]
    with raises("missing-field", "frame 1, annotation 2", "'object-id'"):
        tracking_labels(missing_id)

    twice = copy.deepcopy(seq_label)
    twice["tracking-annotations"][0]["annotations"][1]["object-id"] = CAR_4
    with raises("duplicate-object-id", "frame 0", CAR_4):
        tracking_labels(twice)

    with raises("malformed-seq-label", "['frames']"):
        tracking_labels({"frames": []})


def test_seq_label_document_round_trips(corpus: Path) -> None:
    original = awsdoc(corpus, "output_3d_object-tracking_SeqLabel.json")
    frames = tracking_labels(original, {"0": "Car"})

    document = seq_label_document(frames, {"0": "Car"})

    assert tracking_labels(document, {"0": "Car"}) == frames
    assert list(document) == ["tracking-annotations"]
    assert document["tracking-annotations"][1]["annotations"][0] == {
        **original["tracking-annotations"][1]["annotations"][0],
        "length": 4.0,
        "width": 2.0,
        "height": 2.0,
        "roll": 0.0,
        "pitch": 0.0,
    }
    assert [list(entry) for entry in document["tracking-annotations"]] == [
        ["frame-number", "frame-name", "frame-attributes", "annotations"]
    ] * 2


def test_seq_label_document_round_trips_the_3d_2d_form(corpus: Path) -> None:
    frames = tracking_labels(awsdoc(corpus, "output_3d-2d_object-tracking_SeqLabel.json"), {"0": "Car"})

    document = seq_label_document(frames)

    assert list(document) == ["lidar", "camera-0"]
    assert document["camera-0"]["tracking-annotations"][0] == {
        "frame-no": 0,
        "frame": "0.txt.pcd",
        "annotations": [
            {
                "label-category-attributes": {"Occlusion": "Partial"},
                "object-name": "Car:2",
                "class-id": 0,
                "width": 223.0,
                "height": 164.0,
                "top": 225.0,
                "left": 486.0,
                "object-id": "5229df60-97a4-11ed-8903-dd5b8b903715",
            }
        ],
        "frame-attributes": {},
    }
    assert tracking_labels(document, {"0": "Car"}) == frames


def test_seq_label_document_needs_object_ids() -> None:
    with raises("missing-object-id", "frame 3, cuboid 0", "Car:1"):
        seq_label_document([FrameLabels(3, "3.pcd", (cuboid(),))])


def test_tracking_metadata_is_shaped_like_the_doc_example() -> None:
    assert tracking_metadata(
        class_map={"0": "Car", "1": "Person"},
        frame_numbers=[300, 301],
        job_name="identify-3d-objects",
        creation_date="2019-11-12T01:18:14.271944",
        adjustment_status="adjusted",
    ) == {
        "objects": [{"frame-no": 300, "confidence": []}, {"frame-no": 301, "confidence": []}],
        "class-map": {"0": "Car", "1": "Person"},
        "type": "groundtruth/point_cloud_object_tracking",
        "human-annotated": "yes",
        "creation-date": "2019-11-12T01:18:14.271944",
        "job-name": "identify-3d-objects",
        "adjustment-status": "adjusted",
    }


def test_tracking_writers_round_trip_through_the_manifest_reader() -> None:
    metadata = tracking_metadata(
        class_map={"0": "Car"}, frame_numbers=[0], job_name="j", creation_date="2019-11-12T01:18:14.271944"
    )
    line = {"source-ref": "s3://b/seq1.json", "track-ref": "s3://b/out/SeqLabel.json", "track-ref-metadata": metadata}

    assert tracking_output(line, "track-ref") == ("s3://b/out/SeqLabel.json", {"0": "Car"})


# --- semantic segmentation -----------------------------------------------------------------------------------------


def test_segmentation_output_reads_the_aws_doc_example(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d_semantic-segmentation.json")

    assert segmentation_output(line, "lidar-ss-label-attribute-ref") == (
        "s3://your-output-bucket/labeling-job-name/annotations/consolidated-annotation/output/dataset-object-id/"
        "filename.zlib",
        COLOR_MAP,
    )


def test_segmentation_output_requires_ref_type_and_color_map(corpus: Path) -> None:
    line = awsdoc(corpus, "output_3d_semantic-segmentation.json")
    with raises("attribute-missing-ref", "'lidar-ss-label-attribute'"):
        segmentation_output(line, "lidar-ss-label-attribute")

    image_style = copy.deepcopy(line)
    metadata = image_style["lidar-ss-label-attribute-ref-metadata"]
    metadata["internal-color-map"] = metadata.pop("color-map")
    with raises("missing-color-map", "internal-color-map belongs to image segmentation"):
        segmentation_output(image_style, "lidar-ss-label-attribute-ref")

    line["lidar-ss-label-attribute-ref-metadata"]["type"] = "groundtruth/semantic-segmentation"
    with raises("wrong-type", "'groundtruth/semantic-segmentation'"):
        segmentation_output(line, "lidar-ss-label-attribute-ref")


def test_segmentation_labels_decode_what_encode_segmentation_wrote() -> None:
    labels = np.array([0, 1, 1, 3, 0, 0, 2], dtype=np.uint8)

    data = encode_segmentation(labels)
    decoded = segmentation_labels(data, points=7, color_map=COLOR_MAP)

    assert zlib.decompress(data) == bytes([0, 1, 1, 3, 0, 0, 2])
    assert decoded.dtype == np.uint8
    assert decoded.tolist() == [0, 1, 1, 3, 0, 0, 2]
    assert class_point_counts(decoded, COLOR_MAP) == {"Background": 3, "Car": 2, "Pedestrian": 1, "Tree": 1}
    assert segmentation_labels(data, points=None, color_map=COLOR_MAP).tolist() == decoded.tolist()


def test_class_point_counts_lists_empty_classes() -> None:
    labels = np.zeros(5, dtype=np.uint8)

    assert class_point_counts(labels, COLOR_MAP) == {"Background": 5, "Car": 0, "Pedestrian": 0, "Tree": 0}


def test_segmentation_labels_reject_bad_input() -> None:
    with raises("bad-zlib", "not zlib data"):
        segmentation_labels(bytes([0, 1, 2]), points=3, color_map=COLOR_MAP)
    with raises("point-count-mismatch", "hold 4 points", "the frame has 5"):
        segmentation_labels(zlib.compress(bytes([0, 1, 1, 0])), points=5, color_map=COLOR_MAP)
    with raises("unknown-class-index", "[7, 9]", "[0, 1, 2, 3]"):
        segmentation_labels(zlib.compress(bytes([0, 9, 7, 1])), points=4, color_map=COLOR_MAP)
    with raises("unknown-class-index", "[4]"):
        class_point_counts(np.array([4], dtype=np.uint8), COLOR_MAP)
    with raises("class-index-out-of-range", "0..256"):
        encode_segmentation(np.array([0, 256]))


def test_segmentation_metadata_round_trips() -> None:
    metadata = segmentation_metadata(
        color_map=COLOR_MAP,
        job_name="labeling-job-name",
        creation_date="2019-11-12T01:18:14.271944",
        frame_attributes={"Weather": "Fog"},
    )
    line = {"source-ref": "s3://b/f.bin", "ss-ref": "s3://b/out/f.zlib", "ss-ref-metadata": metadata}

    assert metadata == {
        "color-map": COLOR_MAP,
        "type": "groundtruth/point_cloud_single_frame_semantic_segmentation",
        "human-annotated": "yes",
        "creation-date": "2019-11-12T01:18:14.271944",
        "job-name": "labeling-job-name",
        "dataset-object-attributes": {"Weather": "Fog"},
    }
    assert segmentation_output(line, "ss-ref") == ("s3://b/out/f.zlib", COLOR_MAP)


# --- KITTI ---------------------------------------------------------------------------------------------------------


def test_kitti_line_computed_by_hand_with_standard_axes() -> None:
    # Car: centre (10, 2, -1) -> camera (-2 + 0.5, 1 - 0.25, 10 + 1) = (-1.5, 0.75, 11); bottom = y + 1.5 / 2.
    # rotation_y = -yaw - pi/2 = -1.5708; alpha = -1.5708 - atan2(-1.5, 11) = -1.5708 + 0.1355 = -1.4353.
    # Cone: centre (20, -3, 0) -> (3.5, -0.25, 21), bottom y = 0.25; rotation_y = -0.5 - pi/2 = -2.0708;
    # alpha = -2.0708 - atan2(3.5, 21) = -2.0708 - 0.1651 = -2.2359.
    frame = FrameLabels(
        0,
        None,
        (
            cuboid(attributes={"Occlusion": "Partial"}),
            cuboid((20.0, -3.0, 0.0), (0.5, 0.4, 1.0), 0.5, label="Traffic cone", attributes={"OCCLUDED": 2}),
        ),
    )

    text = kitti_label_text(frame, velo_to_cam=VELO_TO_CAM)

    assert text == (
        "Car 0.00 0 -1.44 0.00 0.00 0.00 0.00 1.50 2.00 4.00 -1.50 1.50 11.00 -1.57\n"
        "Traffic_cone 0.00 2 -2.24 0.00 0.00 0.00 0.00 1.00 0.40 0.50 3.50 0.25 21.00 -2.07\n"
    )


def test_kitti_2d_box_projects_and_clips() -> None:
    # Car at camera x in [-2.5, -0.5], y in [0, 1.5], z in [9, 13]; u = 100 x / z + 50, v = 100 y / z + 40:
    # u from -2.5 / 9 -> 22.22 to -0.5 / 13 -> 46.15, v from 0 -> 40.00 to 1.5 / 9 -> 56.67.
    # Left car: x in [-3.5, -1.5], z in [4, 8]: u from -37.5 (clipped to 0) to 31.25, v from 40 to 77.5.
    # Near car: z in [-0.5, 3.5] crosses the camera plane; cut at z = 0.01 it spans the image to the right/bottom.
    frame = FrameLabels(
        0,
        None,
        (
            cuboid(),
            cuboid((5.0, 3.0, -1.0), object_name="Car:2"),
            cuboid((0.5, 0.0, -1.0), object_name="Car:3"),
        ),
    )

    text = kitti_label_text(frame, velo_to_cam=VELO_TO_CAM, projection=P2, image_size=(100, 80))

    assert text.splitlines() == [
        "Car 0.00 0 -1.44 22.22 40.00 46.15 56.67 1.50 2.00 4.00 -1.50 1.50 11.00 -1.57",
        "Car 0.00 0 -1.18 0.00 40.00 31.25 77.50 1.50 2.00 4.00 -2.50 1.50 6.00 -1.57",
        "Car 0.00 0 -1.89 0.00 40.00 99.00 79.00 1.50 2.00 4.00 0.50 1.50 1.50 -1.57",
    ]


def test_kitti_drops_or_refuses_cuboids_the_camera_cannot_see() -> None:
    frame = FrameLabels(4, None, (cuboid((-10.0, 0.0, 0.0), object_name="Car:9"),))

    assert kitti_label_text(frame, velo_to_cam=VELO_TO_CAM, projection=P2, image_size=(100, 80)) == ""
    with raises("outside-image", "frame 4, cuboid 0 (Car:9)", "100x80"):
        kitti_label_text(frame, velo_to_cam=VELO_TO_CAM, projection=P2, image_size=(100, 80), outside_image="error")


def test_kitti_rotation_y_is_minus_yaw_minus_half_pi_for_standard_axes() -> None:
    for yaw in np.linspace(-3.1, 3.1, 13):
        box = kitti_box(cuboid(yaw=float(yaw)), velo_to_cam=VELO_TO_CAM)
        expected = (-yaw - math.pi / 2 + math.pi) % (2 * math.pi) - math.pi
        assert box.rotation_y == pytest.approx(expected, abs=1e-12)


def _rotation_about_camera_y(angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, 0.0, sin, 0.0], [0.0, 1.0, 0.0, 0.0], [-sin, 0.0, cos, 0.0], [0.0, 0.0, 0.0, 1.0]])


@pytest.mark.parametrize("camera_turn", [0.0, 0.3, -2.4])
@pytest.mark.parametrize("yaw", [-3.0, -1.2, 0.0, 0.7, 2.9])
def test_kitti_box_corners_equal_the_transformed_cuboid_corners(camera_turn: float, yaw: float) -> None:
    # A camera turned about its vertical axis: not KITTI's usual axes, but still level.
    velo_to_cam = _rotation_about_camera_y(camera_turn) @ VELO_TO_CAM
    velo_to_cam[:3, 3] += [0.2, -0.1, 0.4]
    box_in_lidar = cuboid((7.0, -1.5, 0.3), (4.2, 1.8, 1.6), yaw)

    box = kitti_box(box_in_lidar, velo_to_cam=velo_to_cam)

    lidar_corners = cuboid_corners(box_in_lidar)
    expected = lidar_corners @ velo_to_cam[:3, :3].T + velo_to_cam[:3, 3]
    assert same_corners(kitti_box_corners(box), expected)
    assert box.dimensions == (1.6, 1.8, 4.2)
    # The KITTI line, read back, rebuilds the same box up to its 2-decimal rounding.
    fields = kitti_label_text(FrameLabels(0, None, (box_in_lidar,)), velo_to_cam=velo_to_cam).split()
    values = [float(value) for value in fields[8:]]
    rebuilt = KittiBox((values[0], values[1], values[2]), (values[3], values[4], values[5]), values[6], 0.0)
    distances = np.linalg.norm(kitti_box_corners(rebuilt)[:, None, :] - expected[None, :, :], axis=2)
    assert distances.min(axis=1).max() < 0.03


def test_kitti_refuses_tilted_cuboids_and_bad_calibration() -> None:
    frame = FrameLabels(2, None, (cuboid(roll=0.1, object_name="Car:5"),))
    with raises("tilted-cuboid", "frame 2, cuboid 0 (Car:5)", "roll 0.1"):
        kitti_label_text(frame, velo_to_cam=VELO_TO_CAM)

    upright = FrameLabels(2, None, (cuboid(),))
    with raises("camera-not-level", "R0_rect @ Tr_velo_to_cam"):
        kitti_label_text(upright, velo_to_cam=np.eye(4))  # lidar z would be the camera's forward axis
    with raises("bad-calibration", "4x4"):
        kitti_label_text(upright, velo_to_cam=VELO_TO_CAM[:3])
    with raises("bad-calibration", "not a rotation"):
        kitti_label_text(upright, velo_to_cam=np.diag([2.0, 2.0, 2.0, 1.0]) @ VELO_TO_CAM)
    with raises("incomplete-projection"):
        kitti_label_text(upright, velo_to_cam=VELO_TO_CAM, projection=P2)


# --- tracks --------------------------------------------------------------------------------------------------------


def test_tracks_document_from_the_aws_doc_seq_label(corpus: Path) -> None:
    frames = tracking_labels(awsdoc(corpus, "output_3d_object-tracking_SeqLabel.json"), {"0": "Car"})

    document = tracks_document(frames, sequence="seq1", timestamps=[1566861644.759115, 1566861644.859115])

    assert (document["sequence"], document["frame_count"]) == ("seq1", 2)
    assert [(t["object_id"], t["object_name"], t["first_frame"], t["last_frame"]) for t in document["tracks"]] == [
        (CAR_4, "Car:4", 0, 1),
        (CAR_1, "Car:1", 0, 1),
        (CAR_2, "Car:2", 0, 1),
    ]
    car_2 = document["tracks"][2]
    assert car_2["label"] == "Car"
    assert car_2["boxes"] == [
        {
            "frame": 0,
            "frame_name": "0.txt.pcd",
            "timestamp": 1566861644.759115,
            "center": [-5.205611313118477, 99.91731932137061, 0.22917217081212138],
            "dimensions": [3.8747142207671956, 1.9999999999999918, 2.0],
            "rotation": [0.0, 0.0, 1.5672228760316775],
            "attributes": SEDAN,
        },
        {
            "frame": 1,
            "frame_name": "1.txt.pcd",
            "timestamp": 1566861644.859115,
            "center": [-5.221311072916759, 100.4639841045424, 0.22917217081212138],
            "dimensions": [3.8747142207671956, 1.9999999999999918, 2.0],
            "rotation": [0.0, 0.0, 1.5672228760316775],
            "attributes": SEDAN,
        },
    ]


def test_tracks_are_ordered_by_first_appearance_and_boxes_by_frame() -> None:
    frames = [
        FrameLabels(5, "5.pcd", (cuboid(object_id="b", object_name="Car:2"),)),
        FrameLabels(2, "2.pcd", (cuboid(object_id="a"), cuboid(object_id="b", object_name="Car:2"))),
        FrameLabels(3, "3.pcd", ()),
    ]

    document = tracks_document(frames, sequence="s")

    assert document["frame_count"] == 3
    assert [(t["object_id"], t["first_frame"], t["last_frame"]) for t in document["tracks"]] == [
        ("a", 2, 2),
        ("b", 2, 5),
    ]
    assert [(box["frame"], box["timestamp"]) for box in document["tracks"][1]["boxes"]] == [(2, None), (5, None)]


def test_tracks_document_rejects_bad_tracks() -> None:
    changed = [
        FrameLabels(0, None, (cuboid(object_id="x"),)),
        FrameLabels(1, None, (cuboid(object_id="x", label="Truck", class_id=1),)),
    ]
    with raises("label-change", "object x", "'Car' in frame 0", "'Truck' in frame 1"):
        tracks_document(changed, sequence="seq9")

    doubled = [FrameLabels(4, None, (cuboid(object_id="x"), cuboid(object_id="x")))]
    with raises("duplicate-object-id", "frame 4", "['x']"):
        tracks_document(doubled, sequence="seq9")

    with raises("missing-object-id", "frame 0, cuboid 0"):
        tracks_document([FrameLabels(0, None, (cuboid(),))], sequence="seq9")
    with raises("timestamp-count-mismatch", "1 timestamps for 2 frames"):
        tracks_document(changed, sequence="seq9", timestamps=[0.0])


# --- audit jobs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "attribute", "task"),
    [
        ("output_3d_object-detection.json", "3d-bounding-box", "detection"),
        ("output_3d_object-tracking_manifest.json", "lidar-label-attribute-ref", "tracking"),
        ("output_3d-2d_object-tracking_manifest.json", "3D2D-linking-chain-ref", "tracking"),
        ("output_3d_semantic-segmentation.json", "lidar-ss-label-attribute-ref", "segmentation"),
    ],
)
def test_audit_line_keeps_the_whole_line(corpus: Path, sample: str, attribute: str, task: Any) -> None:
    line = awsdoc(corpus, sample)

    audit = audit_line(line, previous_attribute=attribute, task=task)

    assert audit == line
    assert audit is not line


def test_audit_line_rejects_unlabeled_lines_and_mismatched_tasks(corpus: Path) -> None:
    unlabeled = {"source-ref": "s3://AWSDOC-EXAMPLE-BUCKET/examplefolder/frame9.bin"}
    with raises("unlabeled-line", "frame9.bin", "'lidar-ss-label-attribute-ref'", "label it again"):
        audit_line(unlabeled, previous_attribute="lidar-ss-label-attribute-ref", task="segmentation")

    detection = awsdoc(corpus, "output_3d_object-detection.json")
    with raises("attribute-missing-ref", "'3d-bounding-box'"):
        audit_line(detection, previous_attribute="3d-bounding-box", task="tracking")
    with raises("detection-attribute-ends-in-ref", "'lidar-label-attribute-ref'"):
        audit_line(detection, previous_attribute="lidar-label-attribute-ref", task="detection")

    tracking = awsdoc(corpus, "output_3d_object-tracking_manifest.json")
    with raises("wrong-type", "groundtruth/point_cloud_single_frame_semantic_segmentation"):
        audit_line(tracking, previous_attribute="lidar-label-attribute-ref", task="segmentation")
