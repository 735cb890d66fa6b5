"""Label Studio rounds at scale: tasks per second imported by LaunchLabelStudio and collected by TrackLabelStudio,
each against a plain paged GET of the same tasks from the same server in the same run.

    .venv/bin/python benchmarks/labelstudio_throughput.py [--tasks 10000]

A real local Label Studio (`.venv-labelstudio`) and moto's S3 (in-process, plus its server for the project's
storage check). Import: `rounds.launch_round` on a round of N classification items (the manifest read, the
project, its storage, the import in chunks, the task ids read back), against `GET /api/tasks/` pages without
annotations. Collect: `rounds.track_round` on a round whose N tasks each hold two annotations (imported with them:
posting 20,000 annotations one by one takes Label Studio about half an hour), which reads every page with its
annotations, turns them into answers, consolidates and writes Ground Truth's output, against the same pages
with annotations (`fields=all`). The floors are measured right after each step; ratios are the figures to keep.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import boto3
import orjson
from moto import mock_aws
from moto.server import ThreadedMotoServer

from groundcrew.core.events import EventPublisher
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.projects import parse_project
from groundcrew.workforces.ground_truth.task_config import TaskConfig, task_config_location
from groundcrew.workforces.labelstudio import rounds
from groundcrew.workforces.labelstudio.client import LabelStudioClient
from groundcrew_local.environment import sample_project_document
from groundcrew_local.labelstudio import server

BUCKET = "groundcrew-bench"
LABELS = ("circle", "square", "triangle")


def project_document() -> bytes:
    import yaml

    document = yaml.safe_load(sample_project_document())
    document.update(workforce={"kind": "labelstudio"}, quality={}, workers_per_object=2)
    document["consensus"] = {"policy": "fixed", "max_rounds": 1}
    return yaml.safe_dump(document).encode()


def prepared(s3: Any, batch: BatchRef, lines: int) -> PreparedJob:
    name = f"gc-{batch.batch_id}-r1"
    manifest = S3Location(BUCKET, f"batches/shapes/{batch.batch_id}/input.manifest")
    body = b"".join(
        orjson.dumps({"source-ref": f"s3://{BUCKET}/incoming/shapes/img-{i:06d}.png"}) + b"\n" for i in range(lines)
    )
    put_object(s3, manifest, body)
    project = parse_project(project_document(), source="projects/shapes.yaml")
    put_object(s3, task_config_location(BUCKET, name), TaskConfig.for_project(project, batch.batch_id).to_json())
    request = {
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest.uri}}},
        "HumanTaskConfig": {"NumberOfHumanWorkersPerDataObject": 2},
    }
    return PreparedJob(
        name=name, request=request, label_attribute_name="shapes", deadline=4102444800, poll_seconds=10,
        workforce="labelstudio", item_count=lines,
    )  # fmt: skip


def paged_get(client: LabelStudioClient, project: int, *, with_annotations: bool) -> tuple[int, float]:
    start = time.perf_counter()
    count = sum(1 for _ in client.tasks(project, with_annotations=with_annotations))
    return count, time.perf_counter() - start


def annotated_round(
    s3: Any, client: LabelStudioClient, publisher: EventPublisher, tasks: int, storage: rounds.ImageStorage
) -> tuple[Any, Any]:
    """A launched round whose tasks already hold two annotations each (users bench-1 and bench-2)."""
    batch = BatchRef(
        batch_id="shapes-20261208t000000-c0ffee", project="shapes", bucket=BUCKET, manifest_uri="", item_count=0
    )
    job = prepared(s3, batch, tasks)
    rounds.launch_round(s3, client, publisher, batch, job, storage)  # an empty project would do; this one is real
    users = [client.post("/api/users/", {"email": f"bench-{n}@bench.local", "username": f"b{n}"})["id"] for n in (1, 2)]
    project = rounds._read_project_id(s3, batch)
    ledger = rounds._read_ledger(s3, batch, job)
    fresh = client.post("/api/projects/", {"title": "bench annotated", "label_config": _config(client, project)})
    choice = {"type": "choices", "from_name": "category", "to_name": "image"}
    documents = [
        {
            "data": {"image": item.line["source-ref"]},
            "meta": {rounds.LINE_FIELD: rounds.line_digest(batch, item.line)},
            "annotations": [
                {"result": [{**choice, "value": {"choices": [LABELS[i % 3]]}}], "completed_by": user, "lead_time": 4}
                for user in users
            ],
        }
        for i, item in enumerate(ledger)
    ]
    for start in range(0, len(documents), rounds.IMPORT_CHUNK):
        client.post(f"/api/projects/{fresh['id']}/import", documents[start : start + rounds.IMPORT_CHUNK])
    ids = {
        task["meta"][rounds.LINE_FIELD]: int(task["id"]) for task in client.tasks(fresh["id"], with_annotations=False)
    }
    for item in ledger:
        item.task_id = ids[rounds.line_digest(batch, item.line)]
    rounds._write_ledger(s3, batch, job, ledger)
    location = rounds._project_location(batch)
    put_object(s3, location, orjson.dumps({"id": fresh["id"], "url": client.url, "title": "bench annotated"}))
    return batch, job


def _config(client: LabelStudioClient, project: int) -> str:
    return str(client.get(f"/api/projects/{project}/")["label_config"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    tasks = parser.parse_args().tasks
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with server.start() as labelstudio, mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="projects/shapes.yaml", Body=project_document())
        events = boto3.client("events", region_name="us-east-1")
        publisher = EventPublisher(events, "default")
        endpoint = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        endpoint.start()
        storage = rounds.ImageStorage("us-east-1", "http://{}:{}".format(*endpoint.get_host_and_port()))
        client = LabelStudioClient(labelstudio.url, labelstudio.token, timeout_seconds=300)
        try:
            batch = BatchRef(
                batch_id="shapes-20261208t000000-1a2b3c", project="shapes", bucket=BUCKET, manifest_uri="", item_count=0
            )
            job = prepared(s3, batch, tasks)
            start = time.perf_counter()
            launched = rounds.launch_round(s3, client, publisher, batch, job, storage)
            imported = time.perf_counter() - start
            assert launched["tasks"] == tasks, launched
            count, floor = paged_get(client, launched["project_id"], with_annotations=False)
            report("import (launch_round)", tasks, imported, count, floor)

            batch, job = annotated_round(s3, client, publisher, tasks, storage)
            start = time.perf_counter()
            tracking = rounds.track_round(s3, client, publisher, batch, job, None)
            collected = time.perf_counter() - start
            assert tracking["status"] == "Completed" and tracking["counters"]["TotalLabeled"] == tasks, tracking
            count, floor = paged_get(client, rounds._read_project_id(s3, batch), with_annotations=True)
            report("collect (track_round)", tasks, collected, count, floor)
        finally:
            endpoint.stop()


def report(what: str, tasks: int, seconds: float, floor_tasks: int, floor_seconds: float) -> None:
    rate, floor_rate = tasks / seconds, floor_tasks / floor_seconds
    print(
        f"{what:<24} {rate:8.0f} tasks/s ({tasks} in {seconds:.1f} s); paged GET {floor_rate:8.0f} tasks/s; "
        f"ratio {rate / floor_rate:.2f}"
    )


if __name__ == "__main__":
    main()
