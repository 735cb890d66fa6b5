"""The stand-in emulates Ground Truth's built-in semantic-segmentation and bounding-box task types (and adjustments)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from PIL import Image

from groundcrew.core.vocabulary import Workflow
from groundcrew.workflows.adjustment import manifests as adjustment_manifests
from groundcrew.workflows.adjustment import masks
from groundcrew.workflows.adjustment import tasks as adjustment_tasks
from groundcrew.workforces.ground_truth.task_pages import render_task_page
from groundcrew_local.built_in_tasks import BuiltInTask, iou, palette_png
from groundcrew_local.ground_truth import GroundTruthStandIn, install_ground_truth, uninstall_ground_truth
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce, decode_shown_mask

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUILT_IN_ACCOUNT = "432418664414"
BUCKET = "gc-adjust"
LABELS = ["cat", "dog"]
SIZE = (40, 30)  # width, height
CLASS_MAP = masks.ClassMap.from_labels(LABELS)
CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JOB = "gc-adjust-1"


@cache
def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, config=Config(retries={"total_max_attempts": 1}))


def no_lambda(arn: str, payload: dict[str, Any]) -> Any:
    raise AssertionError(f"built-in task types must not invoke Lambda, called {arn}")


def presign(uri: str) -> str:
    return "https://" + uri.removeprefix("s3://").replace("/", ".s3.amazonaws.com/", 1) + "?X-Amz-Signature=abc"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        client("s3").create_bucket(Bucket=BUCKET)
        yield
        uninstall_ground_truth()


def stand_in(workers: list[SimulatedWorker], answer_key: dict[str, Any] | None = None) -> GroundTruthStandIn:
    crowd = SimulatedWorkforce(workers, seed=5, answer_key=answer_key, clock_start=CLOCK_START)
    return install_ground_truth(no_lambda, crowd, presign=presign)


def careful(count: int = 1) -> list[SimulatedWorker]:
    return [SimulatedWorker(f"w{i}", accuracy=1.0) for i in range(count)]


def put(key: str, body: str | bytes) -> str:
    client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def read(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def png(array: np.ndarray[Any, Any], fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def put_image(name: str, fmt: str = "PNG") -> str:
    width, height = SIZE
    pixels = np.full((height, width, 3), 90, dtype=np.uint8)
    return put(f"images/{name}", png(pixels, fmt))


def sample_mask(seed: int) -> np.ndarray[Any, Any]:
    width, height = SIZE
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[2 + seed : 12 + seed, 3:15] = 1  # cat
    mask[15:25, 20 + seed : 35] = 2  # dog
    return mask


def arns(task_type: str, acs_type: str | None = None) -> dict[str, Any]:
    prefix = f"arn:aws:lambda:{REGION}:{BUILT_IN_ACCOUNT}:function"
    return {
        "PreHumanTaskLambdaArn": f"{prefix}:PRE-{task_type}",
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": f"{prefix}:ACS-{acs_type or task_type}"},
    }


def request(attribute: str, task_type: str, workers: int, acs_type: str | None = None) -> dict[str, Any]:
    return {
        "LabelingJobName": JOB,
        "LabelAttributeName": attribute,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{BUCKET}/manifests/input.manifest"}}},
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/labeling-jobs/"},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/gc-ground-truth",
        "LabelCategoryConfigS3Uri": f"s3://{BUCKET}/config/labels.json",
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/team",
            "UiConfig": {"UiTemplateS3Uri": f"s3://{BUCKET}/config/template.liquid.html"},
            "TaskTitle": "Fix the labels",
            "TaskDescription": "Correct the imported labels.",
            "NumberOfHumanWorkersPerDataObject": workers,
            "TaskTimeLimitInSeconds": 600,
            **arns(task_type, acs_type),
        },
    }


def start(lines: list[dict[str, Any]], template: str, attribute: str, task_type: str, workers: int) -> dict[str, Any]:
    put("manifests/input.manifest", "\n".join(json.dumps(line) for line in lines) + "\n")
    put("config/labels.json", json.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in LABELS]}))
    put("config/template.liquid.html", template)
    sagemaker = client("sagemaker")
    sagemaker.create_labeling_job(**request(attribute, task_type, workers))
    for _ in range(50):
        description: dict[str, Any] = sagemaker.describe_labeling_job(LabelingJobName=JOB)
        if description["LabelingJobStatus"] in {"Completed", "Failed", "Stopped"}:
            return description
    raise AssertionError("the job did not finish")


def output_lines(description: dict[str, Any]) -> list[dict[str, Any]]:
    text = read(description["LabelingJobOutput"]["OutputDatasetS3Uri"]).decode()
    return [json.loads(line) for line in text.splitlines()]


def semseg_template() -> str:
    return adjustment_tasks.ui_template(
        Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT,
        source_attribute="imported-ref",
        header="Fix the masks",
        instructions="Repaint wrong pixels.",
        class_map=CLASS_MAP,
    )


def mask_lines(count: int) -> list[dict[str, Any]]:
    lines = []
    for index in range(count):
        source = put_image(f"pet-{index}.jpg", "JPEG")
        mask_uri = put(f"masks/pet-{index}.png", masks.encode_mask(sample_mask(index)))
        lines.append(
            adjustment_manifests.mask_line(
                source,
                mask_uri,
                "imported-ref",
                masks.internal_color_map(CLASS_MAP),
                job_name="import",
                created="2026-03-01T00:00:00.000000",
            )
        )
    return lines


def decoded(uri: str) -> tuple[Image.Image, np.ndarray[Any, Any]]:
    image = Image.open(io.BytesIO(read(uri)))
    return image, np.asarray(image)


# -- semantic segmentation --------------------------------------------------------------------------------------


def test_accepted_masks_come_back_pixel_identical_as_palette_pngs(aws: None) -> None:
    stand_in(careful(3))
    lines = mask_lines(3)
    description = start(lines, semseg_template(), "imported-adjusted-ref", "AdjustmentSemanticSegmentation", 3)

    assert description["LabelingJobStatus"] == "Completed"
    assert description["LabelCounters"]["HumanLabeled"] == 3
    for index, line in enumerate(output_lines(description)):
        uri = line["imported-adjusted-ref"]
        assert uri.startswith(f"s3://{BUCKET}/labeling-jobs/{JOB}/annotations/consolidated-annotation/output/{index}/")
        assert uri.endswith(".png")
        image, pixels = decoded(uri)
        assert image.mode == "P"
        assert np.array_equal(pixels, sample_mask(index))
        metadata = line["imported-adjusted-ref-metadata"]
        assert metadata["type"] == "groundtruth/semantic-segmentation"
        assert metadata["adjustment-status"] == "unadjusted"
        assert metadata["job-name"] == JOB
        assert metadata["human-annotated"] == "yes"
        color_map = metadata["internal-color-map"]
        assert [color_map[k]["class-name"] for k in ("0", "1", "2")] == ["BACKGROUND", *LABELS]
        assert {entry["confidence"] for entry in color_map.values()} == {1.0}  # three workers agree everywhere
        palette = image.getpalette() or []
        for key, entry in color_map.items():
            k = int(key)
            assert "#{:02x}{:02x}{:02x}".format(*palette[3 * k : 3 * k + 3]) == entry["hex-color"]
            assert entry["hex-color"] == CLASS_MAP.colors[k]
        assert line["imported-ref"] == lines[index]["imported-ref"]  # the input is passed through
        assert masks.check_mask(read(uri), SIZE, CLASS_MAP) == []


def test_a_relabel_truth_adjusts_the_mask(aws: None) -> None:
    stand_in(careful(1), answer_key={"pet-0.jpg": {"relabel": {"cat": "dog"}}})
    description = start(mask_lines(2), semseg_template(), "imported-adjusted-ref", "AdjustmentSemanticSegmentation", 1)

    first, second = output_lines(description)
    assert first["imported-adjusted-ref-metadata"]["adjustment-status"] == "adjusted"
    expected = sample_mask(0)
    expected[expected == 1] = 2
    assert np.array_equal(decoded(first["imported-adjusted-ref"])[1], expected)
    assert first["imported-adjusted-ref-metadata"]["internal-color-map"]["0"]["confidence"] == 0.0  # one worker
    assert second["imported-adjusted-ref-metadata"]["adjustment-status"] == "unadjusted"
    worker_files = client("s3").list_objects_v2(
        Bucket=BUCKET, Prefix=f"labeling-jobs/{JOB}/annotations/worker-response/"
    )
    answer = json.loads(read(f"s3://{BUCKET}/{worker_files['Contents'][0]['Key']}"))["answers"][0]["answerContent"]
    element = answer["crowd-semantic-segmentation"]
    assert element["initialValueModified"] is True
    assert element["inputImageProperties"] == {"height": SIZE[1], "width": SIZE[0]}
    assert set(element["labelMappings"]) == set(LABELS)
    submitted = np.asarray(Image.open(io.BytesIO(base64.b64decode(element["labeledImage"]["pngImageData"]))))
    assert submitted.shape == (SIZE[1], SIZE[0], 3)


def test_a_mask_that_is_not_a_png_labels_silently_with_background_and_missing_colours_fail_the_line(aws: None) -> None:
    stand_in(careful(1))
    good, json_ref, no_hex = mask_lines(3)
    json_ref["imported-ref"] = put("masks/pet-1.json", json.dumps({"not": "a mask"}))
    del no_hex["imported-ref-metadata"]["internal-color-map"]["2"]["hex-color"]
    description = start(
        [good, json_ref, no_hex], semseg_template(), "imported-adjusted-ref", "AdjustmentSemanticSegmentation", 1
    )

    assert description["LabelingJobStatus"] == "Completed"
    assert description["LabelCounters"]["HumanLabeled"] == 2
    assert description["LabelCounters"]["FailedNonRetryableError"] == 1
    lines = output_lines(description)
    assert not decoded(lines[1]["imported-adjusted-ref"])[1].any()  # all background, no error anywhere
    assert lines[1]["imported-adjusted-ref-metadata"]["adjustment-status"] == "unadjusted"
    assert "imported-adjusted-ref" not in lines[2]  # copied unchanged
    events = client("logs").get_log_events(logGroupName="/aws/sagemaker/LabelingJobs", logStreamName=JOB)["events"]
    failures = [e["message"] for e in events if "DATA_OBJECT_FAILED" in e["message"]]
    assert len(failures) == 1
    assert "line 3" in failures[0]
    assert "hex-color" in failures[0]


# -- bounding boxes -------------------------------------------------------------------------------------------------

TRUTH_BOXES = [{"label": "dog", "left": 5, "top": 4, "width": 12, "height": 10}]


def box_lines() -> list[dict[str, Any]]:
    lines = []
    for index in range(2):
        value = {
            "image_size": [{"width": SIZE[0], "height": SIZE[1], "depth": 3}],
            "annotations": [{"class_id": 0, "left": 20, "top": 10, "width": 8.4, "height": 6}],
        }
        metadata = {
            "objects": [{"confidence": 0.0}],
            "class-map": {"0": "cat"},
            "type": "groundtruth/object-detection",
            "human-annotated": "no",
            "creation-date": "2026-03-01T00:00:00.000000",
            "job-name": "import",
        }
        lines.append(adjustment_manifests.box_line(put_image(f"box-{index}.png"), value, metadata, "imported"))
    return lines


def box_template() -> str:
    return adjustment_tasks.ui_template(
        Workflow.BOUNDING_BOX_ADJUSTMENT, source_attribute="imported", header="Fix the boxes", instructions="Fix."
    )


def near(box: dict[str, Any], truth: dict[str, Any]) -> bool:
    return all(abs(box[key] - truth[key]) <= 1 for key in ("left", "top", "width", "height"))


def test_box_adjustment_with_and_without_truth(aws: None) -> None:
    stand_in(careful(1), answer_key={"box-0.png": TRUTH_BOXES})
    description = start(box_lines(), box_template(), "imported-adjusted", "AdjustmentBoundingBox", 1)

    adjusted, accepted = output_lines(description)
    value = adjusted["imported-adjusted"]
    assert value["image_size"] == [{"width": SIZE[0], "height": SIZE[1], "depth": 3}]
    (box,) = value["annotations"]
    assert box["class_id"] == 1
    assert near(box, TRUTH_BOXES[0])
    metadata = adjusted["imported-adjusted-metadata"]
    assert metadata["class-map"] == {"1": "dog"}
    assert metadata["objects"] == [{"confidence": 0.0}]
    assert metadata["type"] == "groundtruth/object-detection"
    assert metadata["adjustment-status"] == "adjusted"
    assert accepted["imported-adjusted"]["annotations"] == [
        {"class_id": 0, "left": 20, "top": 10, "width": 8, "height": 6}
    ]
    assert accepted["imported-adjusted-metadata"]["adjustment-status"] == "unadjusted"


def test_three_workers_keep_the_boxes_a_majority_drew(aws: None) -> None:
    workers = [*careful(2), SimulatedWorker("spam", spammer=True)]
    stand_in(workers, answer_key={"box-0.png": TRUTH_BOXES, "box-1.png": TRUTH_BOXES})
    description = start(box_lines(), box_template(), "imported-adjusted", "AdjustmentBoundingBox", 3)

    for line in output_lines(description):
        (box,) = line["imported-adjusted"]["annotations"]
        assert near(box, TRUTH_BOXES[0])
        assert line["imported-adjusted-metadata"]["objects"] == [{"confidence": 0.67}]
        assert line["imported-adjusted-metadata"]["adjustment-status"] == "adjusted"


def test_plain_bounding_box_jobs_have_no_adjustment_status(aws: None) -> None:
    stand_in(careful(1), answer_key={"box-0.png": TRUTH_BOXES})
    template = (
        '<crowd-form><crowd-bounding-box name="boundingBox" src="{{ task.input.taskObject | grant_read_access }}" '
        'labels="{{ task.input.labels | to_json | escape }}"></crowd-bounding-box></crowd-form>'
    )
    lines = [{"source-ref": put_image("box-0.png")}, {"source-ref": put_image("box-1.png")}]
    description = start(lines, template, "boxes", "BoundingBox", 1)

    first, second = output_lines(description)
    assert near(first["boxes"]["annotations"][0], TRUTH_BOXES[0])
    assert "adjustment-status" not in first["boxes-metadata"]
    assert second["boxes"]["annotations"] == []


def test_consolidation_matches_boxes_by_label_and_overlap() -> None:
    task = BuiltInTask("BoundingBox", tuple(LABELS), "boxes", "job")
    size = {"inputImageProperties": {"height": 30, "width": 40}}

    def answer(*boxes: tuple[str, int, int, int, int]) -> str:
        drawn = [dict(zip(("label", "left", "top", "width", "height"), box, strict=True)) for box in boxes]
        return json.dumps({"boundingBox": {"boundingBoxes": drawn, **size}})

    contents = [
        answer(("cat", 0, 0, 10, 10), ("dog", 20, 20, 10, 10)),
        answer(("cat", 1, 1, 10, 10), ("cat", 20, 20, 10, 10)),
        answer(("cat", 2, 0, 10, 10)),
        "not json",
    ]
    content = task.consolidate("0", {"source-ref": "s3://b/x.png"}, contents, "2026-01-01T00:00:00.000000", str)
    assert content["boxes"]["annotations"] == [{"class_id": 0, "left": 1, "top": 0, "width": 10, "height": 10}]
    assert content["boxes-metadata"]["objects"] == [{"confidence": 1.0}]
    assert iou({"left": 0, "top": 0, "width": 10, "height": 10}, {"left": 5, "top": 0, "width": 10, "height": 10}) == (
        pytest.approx(1 / 3)
    )


# -- what Ground Truth refuses ------------------------------------------------------------------------------------


def test_pre_and_acs_of_different_task_types_are_refused_at_create(aws: None) -> None:
    stand_in(careful(1))
    body = request("imported-adjusted", "AdjustmentBoundingBox", 1, acs_type="BoundingBox")
    with pytest.raises(ClientError) as caught:
        client("sagemaker").create_labeling_job(**body)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "PRE-AdjustmentBoundingBox with ACS-BoundingBox" in error["Message"]


def test_other_built_in_types_still_fail_the_job(aws: None) -> None:
    stand_in(careful(1))
    lines = [{"source-ref": put_image("x.png")}]
    description = start(lines, box_template(), "species", "ImageMultiClass", 1)
    assert description["LabelingJobStatus"] == "Failed"
    assert "built-in task type ImageMultiClass" in description["FailureReason"]


# -- the worker's view --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["P", "RGB", "L-wrong-size"])
def test_workers_see_palette_and_colour_masks_and_nothing_for_a_wrong_size(mode: str) -> None:
    mask = sample_mask(1)
    colours = np.asarray([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in CLASS_MAP.colors], dtype=np.uint8)
    bodies = {
        "P": palette_png(mask, CLASS_MAP),
        "RGB": png(colours[mask]),
        "L-wrong-size": masks.encode_mask(mask[:-1]),
    }
    image = np.full((SIZE[1], SIZE[0], 3), 90, dtype=np.uint8)
    files = {"https://x/i.png": png(image), "https://x/m.png": bodies[mode]}
    line = {"source-ref": "s3://b/i.png", "imported-ref": "s3://b/m.png"}
    task_input = {"taskObject": "s3://b/i.png", "labels": LABELS, "manifestLine": line}
    page = render_task_page(semseg_template(), task_input, lambda uri: "https://x/" + uri.rsplit("/", 1)[-1])
    crowd = SimulatedWorkforce(careful(1), clock_start=CLOCK_START, fetch=files.get)

    (answer,) = crowd.answer(page, line, 1)
    element = json.loads(answer.content)["crowd-semantic-segmentation"]
    submitted = base64.b64decode(element["labeledImage"]["pngImageData"])
    shown = decode_shown_mask(submitted, SIZE, CLASS_MAP.colors)
    expected = np.zeros_like(mask) if mode == "L-wrong-size" else mask
    assert np.array_equal(shown, expected)
    assert element["initialValueModified"] is False
