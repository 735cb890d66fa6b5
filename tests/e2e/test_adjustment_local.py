"""Adjustment jobs in local mode: annotation files dropped under imports/<project>/ go through the import state
machine (a Distributed Map), a trial job, the full job on the rest, and come back as COCO."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from groundcrew.workflows.adjustment import coco_export, masks
from groundcrew.workflows.adjustment.imports import augmented_manifests as importing
from groundcrew_local.environment import LocalEnvironment, local_environment
from groundcrew_local.schemas import validate_events
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

pytestmark = pytest.mark.e2e
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
COCO_FILE = CORPUS / "external-annotations" / "coco_instances_labelme2coco.json"
REAL_IMAGE = CORPUS / "images" / "labelme_voc_2011_000003.jpg"
LABELS = ["person", "bus", "car", "chair", "sofa"]  # the file also has a bottle: refused as an unknown category


def _project(name: str, workflow: str, fmt: str, labels: list[str], **extra: Any) -> bytes:
    document = {
        "name": name,
        "workflow": workflow,
        "labels": labels,
        "adjustment": {"format": fmt, "images_prefix": f"images/{name}/"},
        "task": {"title": "Correct the labels", "description": "Fix what the other tool got wrong"},
        "workforce": {"workteam_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/fixers"},
        **extra,
    }
    return yaml.safe_dump(document).encode()


def _blank_jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _put_voc_images(env: LocalEnvironment, project: str) -> None:
    coco = json.loads(COCO_FILE.read_bytes())
    for image in coco["images"]:
        name = image["file_name"]
        body = (
            REAL_IMAGE.read_bytes()
            if name.endswith("2011_000003.jpg")
            else _blank_jpeg(image["width"], image["height"])
        )
        env.s3.put_object(Bucket=env.data_bucket, Key=f"images/{project}/{name}", Body=body)


def _read(env: LocalEnvironment, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _details(env: LocalEnvironment, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in env.events_of(detail_type)]


def _wait_for_batches(env: LocalEnvironment) -> None:
    for execution in env.wait_for_all_executions(timeout=300):
        assert execution["status"] in {"SUCCEEDED", "FAILED"}


def test_a_coco_import_runs_a_trial_then_the_rest_and_comes_back_as_the_same_regions() -> None:
    project = "voc-masks"
    with local_environment() as env:
        bucket = env.data_bucket
        env.s3.put_object(
            Bucket=bucket,
            Key=f"projects/{project}.yaml",
            Body=_project(project, "semantic-segmentation-adjustment", "coco", LABELS, trial={"items": 1}),
        )
        _put_voc_images(env, project)
        # WHEN the COCO file lands under imports/<project>/ (twice: S3 delivers at least once)
        env.s3.put_object(Bucket=bucket, Key=f"imports/{project}/annotations.json", Body=COCO_FILE.read_bytes())
        _wait_for_batches(env)

        # THEN one import converted the three images and refused the bottle, naming the rule
        (imported,) = _details(env, "Annotations Imported")
        assert (imported["images"], imported["format"]) == (3, "coco")
        assert {r["rule"] for r in imported["refusals"]} == {"unknown-category"}
        assert any("bottle" in r["message"] for r in imported["refusals"])
        (batch_id,) = imported["batch_ids"]
        # a trial job of one image passed its checks; the other two went to the full job
        (trial,) = _details(env, "Trial Batch Checked")
        assert (trial["passed"], trial["items"], trial["rest_items"], trial["findings"]) == (True, 1, 2, [])
        (completed,) = _details(env, "Labeling Job Completed")
        assert completed["batch_id"] == batch_id
        assert [r["items"] for r in completed["consensus"]["rounds"]] == [1, 2]
        assert completed["adjustment"]["trial_items"] == 1
        assert completed["statistics"]["labeled"] == 3
        validate_events(env.events())

        # AND the COCO export holds, per image and class, exactly the region the import rasterised (IoU 1.0)
        coco = json.loads(_read(env, completed["coco_uri"]))
        names = {c["id"]: c["name"] for c in coco["categories"]}
        images = {i["id"]: i["file_name"] for i in coco["images"]}
        parsed = importing.parse_segmentation("coco", [COCO_FILE.read_bytes()])
        class_map = masks.ClassMap.from_labels(LABELS)
        expected: dict[tuple[str, str], np.ndarray] = {}
        for image in parsed[0]:
            kept = [s for s in image.shapes if s.label in LABELS]
            assert image.declared_size is not None
            mask = masks.rasterize(kept, class_map, image.declared_size)
            for index in np.unique(mask)[1:]:
                expected[(image.file_name.rsplit("/", 1)[-1], class_map.names[index])] = mask == index
        found = {
            (images[a["image_id"]], names[a["category_id"]]): coco_export.decode_rle(a["segmentation"])
            for a in coco["annotations"]
        }
        assert set(found) == set(expected)
        for key, region in expected.items():
            assert coco_export.mask_iou(found[key], region) == 1.0, key


def test_a_trial_whose_masks_come_back_empty_stops_the_batch_before_the_full_job() -> None:
    # GIVEN workers who erase every mask (what workers do who were shown none)
    erasers = SimulatedWorkforce([SimulatedWorker.named("eraser", spammer=True)], seed=3)
    project = "voc-erased"
    with local_environment(workforce=erasers) as env:
        bucket = env.data_bucket
        env.s3.put_object(
            Bucket=bucket,
            Key=f"projects/{project}.yaml",
            Body=_project(project, "semantic-segmentation-adjustment", "coco", LABELS, trial={"items": 1}),
        )
        _put_voc_images(env, project)
        env.s3.put_object(Bucket=bucket, Key=f"imports/{project}/annotations.json", Body=COCO_FILE.read_bytes())
        _wait_for_batches(env)

        (trial,) = _details(env, "Trial Batch Checked")
        assert not trial["passed"] and trial["rest_items"] == 0
        assert {f["rule"] for f in trial["findings"]} == {"trial-mask-lost"}
        (failed,) = _details(env, "Labeling Job Failed")
        assert failed["error"] == "TrialRejected" and "were not sent" in failed["reason"]
        assert not _details(env, "Labeling Job Completed")
        jobs = env.ground_truth.jobs
        assert len(jobs) == 1  # the full job was never bought
        validate_events(env.events())


def test_voc_boxes_dropped_as_a_folder_come_back_unchanged_as_coco_boxes() -> None:
    project = "voc-boxes"
    files = ["voc_datumaro_test_2007_000001.xml", "voc2007_000002_mmdetection_test.xml"]
    with local_environment() as env:
        bucket = env.data_bucket
        env.s3.put_object(
            Bucket=bucket,
            Key=f"projects/{project}.yaml",
            Body=_project(project, "bounding-box-adjustment", "voc", ["cat", "person", "train"]),
        )
        env.s3.put_object(Bucket=bucket, Key=f"images/{project}/2007_000001.jpg", Body=_blank_jpeg(20, 10))
        env.s3.put_object(Bucket=bucket, Key=f"images/{project}/000002.jpg", Body=_blank_jpeg(335, 500))
        for name in files:
            body = (CORPUS / "external-annotations" / name).read_bytes()
            env.s3.put_object(Bucket=bucket, Key=f"imports/{project}/drop-1/{name}", Body=body)
        assert not env.execution_names()  # a folder waits for its seal marker
        env.s3.put_object(Bucket=bucket, Key=f"imports/{project}/drop-1/_SEAL", Body=b"")
        _wait_for_batches(env)

        (imported,) = _details(env, "Annotations Imported")
        assert imported["images"] == 2
        (completed,) = _details(env, "Labeling Job Completed")
        coco = json.loads(_read(env, completed["coco_uri"]))
        boxes = sorted(tuple(a["bbox"]) for a in coco["annotations"])
        summary = json.loads(_read(env, imported["summary_uri"]))
        manifest = [json.loads(line) for line in _read(env, imported["manifest_uri"]).decode().splitlines()]
        originals = sorted(
            (b["left"], b["top"], b["width"], b["height"]) for line in manifest for b in line["imported"]["annotations"]
        )
        assert boxes == [tuple(float(v) for v in box) for box in originals] or boxes == originals
        assert summary["converted_images"] == 2
        validate_events(env.events())
