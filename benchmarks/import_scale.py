"""An import of N generated images through the local import state machine (Plan, Distributed Map, Finish).

    .venv/bin/python benchmarks/import_scale.py [N]

Prints images per second for the whole run next to the floor measured in the same run: the same masks
rasterised and PNG-encoded in one process, with no S3, Step Functions or Lambda around them. The ratio says what
the orchestration costs locally (moto); in AWS the Map's 20 concurrent conversions change the picture.
"""

from __future__ import annotations

import io
import json
import sys
import time

import yaml
from PIL import Image

from groundcrew.workflows.adjustment import masks
from groundcrew.workflows.adjustment.imports import augmented_manifests as importing
from groundcrew_local.environment import local_environment


def main(count: int) -> None:
    width, height = 64, 48
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 140)).save(buffer, format="PNG")
    image = buffer.getvalue()
    coco = {
        "images": [{"id": i, "file_name": f"img-{i:05d}.png", "width": width, "height": height} for i in range(count)],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "segmentation": [[4, 4, 50, 6, 40, 40, 8, 30]]}
            for i in range(count)
        ],
    }
    document = json.dumps(coco).encode()
    parsed = importing.parse_segmentation("coco", [document])
    class_map = masks.ClassMap.from_labels(["thing"])
    started = time.perf_counter()
    for image_annotations in parsed[0]:
        masks.encode_mask(masks.rasterize(image_annotations.shapes, class_map, (width, height)))
    floor = time.perf_counter() - started

    project = {
        "name": "scale",
        "workflow": "semantic-segmentation-adjustment",
        "labels": ["thing"],
        "adjustment": {"format": "coco", "images_prefix": "images/scale/"},
        "batch": {"max_items": 20_000},
        "task": {"title": "t", "description": "d"},
    }
    with local_environment() as env:
        bucket = env.data_bucket
        env.client("events").disable_rule(Name=env.stack.physical_ids["ObjectCreatedRule"])
        env.s3.put_object(Bucket=bucket, Key="projects/scale.yaml", Body=yaml.safe_dump(project).encode())
        for i in range(count):
            env.s3.put_object(Bucket=bucket, Key=f"images/scale/img-{i:05d}.png", Body=image)
        env.s3.put_object(Bucket=bucket, Key="imports/scale/coco.json", Body=document)
        sfn = env.client("stepfunctions")
        ref = {"project": "scale", "bucket": bucket, "source_key": "imports/scale/coco.json", "import_id": "scale-1"}
        started = time.perf_counter()
        sfn.start_execution(
            stateMachineArn=env.import_state_machine_arn, name="scale-1", input=json.dumps({"import": ref})
        )
        execution = env.wait_for_execution("scale-1", timeout=3600, state_machine_arn=env.import_state_machine_arn)
        run = time.perf_counter() - started
    print(
        f"{count} images: import run {run:.1f} s ({count / run:.0f} images/s, {execution['status']}); "
        f"floor (rasterise + PNG in one process) {floor:.2f} s ({count / floor:.0f}/s); ratio {run / floor:.1f}x"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
