"""`groundcrew invoke FUNCTION EVENT_FILE`: one function, in-process, against a seeded local stack.

The offline equivalent of `sam local invoke` (which needs Docker). The sample world the files of events/ refer to
is seeded first: the `shapes` project, its images, and one finished sample labeling job whose round is decided.
The Label Studio functions get a real local Label Studio server, where the same round is posted and answered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from groundcrew_local.environment import (
    SAMPLE_DATA,
    TEMPLATE,
    LocalEnvironment,
    sample_images,
    sample_project_document,
    scenes_folder,
)
from groundcrew_local.stack import load_template

SAMPLE_PROJECT = "shapes"
SAMPLE_BATCH_ID = "shapes-20261121t120000-a1b2c3"
SAMPLE_JOB_NAME = f"gc-{SAMPLE_BATCH_ID}-r1"
SAMPLE_IMPORT_ID = "scenes-imp-sample0001"
SAMPLE_PAYLOAD_KEY = (
    f"labeling-jobs/{SAMPLE_JOB_NAME}/annotations/consolidated-annotation/consolidation-request/"
    "iteration-1/2026-11-21_12:00:00.json"
)


def function_logical_ids(template_path: Path) -> dict[str, str]:
    """Folder name under functions/ (and logical id) -> logical id of every function in the template."""
    resources = load_template(template_path)["Resources"]
    names: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            folder = Path(str(resource["Properties"]["CodeUri"])).name
            names[folder] = logical_id
            names[logical_id] = logical_id
    return names


def sample_batch(env: LocalEnvironment) -> dict[str, Any]:
    return {
        "batch_id": SAMPLE_BATCH_ID,
        "project": SAMPLE_PROJECT,
        "bucket": env.data_bucket,
        "manifest_uri": f"s3://{env.data_bucket}/batches/{SAMPLE_PROJECT}/{SAMPLE_BATCH_ID}/input.manifest",
        "item_count": len([p for p in sample_images() if p.suffix in {".png", ".jpg"}]),
    }


def seed_sample_world(env: LocalEnvironment) -> None:
    """Upload the sample project and images without triggering intake, then run one sample job to the end."""
    s3, events = env.s3, env.client("events")
    rule = env.stack.physical_ids["ObjectCreatedRule"]
    events.disable_rule(Name=rule)
    try:
        s3.put_object(Bucket=env.data_bucket, Key=f"projects/{SAMPLE_PROJECT}.yaml", Body=sample_project_document())
        lines = []
        for path in sample_images():
            key = f"incoming/{SAMPLE_PROJECT}/{path.name}"
            s3.put_object(Bucket=env.data_bucket, Key=key, Body=path.read_bytes())
            if path.suffix in {".png", ".jpg"}:
                lines.append(json.dumps({"source-ref": f"s3://{env.data_bucket}/{key}"}, ensure_ascii=False))
        batch = sample_batch(env)
        manifest_key = batch["manifest_uri"].split("/", 3)[3]
        s3.put_object(Bucket=env.data_bucket, Key=manifest_key, Body=("\n".join(lines) + "\n").encode())
        _seed_sample_import(env)
        _seed_sample_lidar(env)
    finally:
        events.enable_rule(Name=rule)
    job = env.stack.invoke("PrepareJobFunction", {"batch": batch})
    env.stack.invoke("LaunchJobFunction", {"batch": batch, "job": job})
    env.ground_truth.run_until_done(SAMPLE_JOB_NAME)
    requests = s3.list_objects_v2(
        Bucket=env.data_bucket,
        Prefix=f"labeling-jobs/{SAMPLE_JOB_NAME}/annotations/consolidated-annotation/consolidation-request/",
    )["Contents"]
    first = sorted(item["Key"] for item in requests)[0]
    s3.copy_object(Bucket=env.data_bucket, Key=SAMPLE_PAYLOAD_KEY, CopySource={"Bucket": env.data_bucket, "Key": first})
    # Round 1 decided, as the state machine would: the ledger the Decide and Finalize samples continue from.
    tracking = env.stack.invoke("TrackJobFunction", {"batch": batch, "job": job})
    collected = env.stack.invoke("CollectOutputFunction", {"batch": batch, "job": job, "tracking": tracking})
    state = {"batch": batch, "job": job, "tracking": tracking, "collected": collected}
    env.stack.invoke("DecideRoundFunction", {"state": state, "round_failed": False})
    # The same round posted as Mechanical Turk HITs, which the TrackHits and CleanUpHits samples work on.
    env.stack.invoke("LaunchHitsFunction", {"batch": batch, "job": {**job, "workforce": "mturk"}})
    if env.labelstudio is not None:
        # And as Label Studio tasks, answered by the simulated annotators, for the Label Studio samples.
        env.stack.invoke("LaunchLabelStudioFunction", {"batch": batch, "job": {**job, "workforce": "labelstudio"}})
        env.labelstudio.work(60.0)


SAMPLE_LIDAR_BATCH = "lidar-20261121t120000-d4e5f6"


def _seed_sample_lidar(env: LocalEnvironment) -> None:
    """The lidar detection project, one scene's raw frames and scene document, and a sealed batch's manifest."""
    s3, bucket = env.s3, env.data_bucket
    folder = SAMPLE_DATA / "lidar"
    s3.put_object(Bucket=bucket, Key="projects/lidar.yaml", Body=(folder / "project.yaml").read_bytes())
    lines = []
    for path in sorted((folder / "drive-0001").iterdir()):
        key = f"incoming/lidar/drive-0001/{path.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        if path.suffix == ".bin":
            lines.append(json.dumps({"source-ref": f"s3://{bucket}/{key}"}))
    manifest = f"batches/lidar/{SAMPLE_LIDAR_BATCH}/input.manifest"
    s3.put_object(Bucket=bucket, Key=manifest, Body=("\n".join(lines) + "\n").encode())


def sample_import(env: LocalEnvironment) -> dict[str, Any]:
    return {
        "project": "scenes",
        "bucket": env.data_bucket,
        "source_key": "imports/scenes/annotations.json",
        "import_id": SAMPLE_IMPORT_ID,
    }


def _seed_sample_import(env: LocalEnvironment) -> None:
    """The scenes adjustment project, its images and COCO file; the sample import planned and converted."""
    folder, s3, bucket = scenes_folder(), env.s3, env.data_bucket
    s3.put_object(Bucket=bucket, Key="projects/scenes.yaml", Body=(folder / "project.yaml").read_bytes())
    for path in sorted((folder / "images").iterdir()):
        s3.put_object(Bucket=bucket, Key=f"images/scenes/{path.name}", Body=path.read_bytes())
    s3.put_object(
        Bucket=bucket, Key="imports/scenes/annotations.json", Body=(folder / "annotations.coco.json").read_bytes()
    )
    ref = sample_import(env)
    planned = env.stack.invoke("PlanImportFunction", {"import": ref})
    body = s3.get_object(Bucket=bucket, Key=planned["items_key"])["Body"].read().decode()
    items = [json.loads(line) for line in body.splitlines() if line]
    batch_input = {**ref, "job_name": planned["job_name"], "created": planned["created"]}
    env.stack.invoke("ConvertImportBatchFunction", {"Items": items, "BatchInput": batch_input})


LABEL_STUDIO_FUNCTIONS = frozenset(
    {"launch_labelstudio", "track_labelstudio", "close_labelstudio"}
    | {"LaunchLabelStudioFunction", "TrackLabelStudioFunction", "CloseLabelStudioFunction"}
)


def needs_labelstudio(function: str) -> bool:
    return function in LABEL_STUDIO_FUNCTIONS


def invoke_function(env: LocalEnvironment, function: str, event: Any) -> Any:
    names = function_logical_ids(TEMPLATE)
    if function not in names:
        known = sorted(name for name in names if not name.endswith("Function"))
        raise KeyError(f"unknown function {function!r}; known: {', '.join(known)}")
    return env.stack.invoke(names[function], event)
