"""Label Studio as the workforce, in local mode, against a real Label Studio server: the same template, rounds,
consolidation and output as Ground Truth; bad servers, tokens, deletions and annotations end in clear reasons."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import urllib3
import yaml
from PIL import Image

from groundcrew.projects import Project
from groundcrew.workforces.labelstudio.client import LabelStudioClient
from groundcrew_local.demo import run_demo
from groundcrew_local.environment import (
    LocalEnvironment,
    local_environment,
    sample_answer_key,
    sample_images,
    sample_project_document,
    scenes_folder,
)
from groundcrew_local.labelstudio.server import LabelStudioServer
from groundcrew_local.moto_patches.wait_cap import add_wait_listener, remove_wait_listener
from groundcrew_local.schemas import validate_events
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

pytestmark = pytest.mark.e2e
IMAGES = [p for p in sample_images() if p.suffix in {".png", ".jpg"}]
EVENTS = Path(__file__).resolve().parents[2] / "events"


def blank_jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buffer, format="JPEG")
    return buffer.getvalue()


def labelstudio_project(**changes: Any) -> bytes:
    document = yaml.safe_load(sample_project_document())
    document["workforce"] = {"kind": "labelstudio", "price_per_task_usd": 0.036}
    document.update(changes)
    return yaml.safe_dump(document).encode()


FIXED_PAIRS = {"consensus": {"policy": "fixed", "max_rounds": 1}, "workers_per_object": 2, "quality": {}}


def careful() -> SimulatedWorkforce:
    workers = [SimulatedWorker(name, accuracy=1.0) for name in ("ada", "bo", "cy")]
    return SimulatedWorkforce(workers, answer_key=sample_answer_key(), seed=11)


def run_batch(env: LocalEnvironment, project: bytes) -> list[dict[str, Any]]:
    env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=project)
    for path in IMAGES:
        env.s3.put_object(Bucket=env.data_bucket, Key=f"incoming/shapes/{path.name}", Body=path.read_bytes())
    env.s3.put_object(Bucket=env.data_bucket, Key="incoming/shapes/_SEAL", Body=b"")
    return list(env.wait_for_all_executions(timeout=300))


def read(env: LocalEnvironment, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def client(server: LabelStudioServer) -> LabelStudioClient:
    return LabelStudioClient(server.url, server.token)


def project_of(env: LocalEnvironment) -> int:
    (started, *_) = env.events_of("Labeling Job Started")
    return int(started["detail"]["labeling_job_arn"].rsplit("/", 1)[-1])


def lambda_failures(env: LocalEnvironment, batch_id: str) -> list[str]:
    sfn = env.client("stepfunctions")
    arn = env.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{batch_id}"
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["lambdaFunctionFailedEventDetails"]["error"] for e in history if e["type"] == "LambdaFunctionFailed"]


@pytest.fixture
def before_the_team(labelstudio_server: LabelStudioServer) -> Iterator[Callable[[LocalEnvironment, Any], None]]:
    """Run `act(client)` at the first wait of the state machine, before the simulated annotators work."""
    installed: list[tuple[Any, Any]] = []

    def install(env: LocalEnvironment, act: Any) -> None:
        assert env.labelstudio is not None
        team = env.labelstudio
        done: list[bool] = []

        def first_wait(seconds: float) -> None:
            if not done:
                done.append(True)
                act(client(labelstudio_server))
            team.work(seconds)

        remove_wait_listener(team.work)
        add_wait_listener(first_wait)
        installed.append((first_wait, team))

    yield install
    for listener, _team in installed:
        remove_wait_listener(listener)


def test_label_studio_labels_the_batch_like_a_ground_truth_job(labelstudio_server: LabelStudioServer) -> None:
    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        (execution,) = run_batch(env, labelstudio_project(**FIXED_PAIRS))
        assert execution["status"] == "SUCCEEDED", execution
        (started,) = env.events_of("Labeling Job Started")
        assert started["detail"]["workforce"] == "labelstudio"
        assert started["detail"]["labeling_job_arn"].startswith(labelstudio_server.url + "/projects/")
        (completed,) = env.events_of("Labeling Job Completed")
        lines = [json.loads(x) for x in read(env, completed["detail"]["output_manifest_uri"]).decode().splitlines()]
        key = sample_answer_key()
        assert len(lines) == len(IMAGES)
        for line in lines:
            assert line["shapes"]["label"] == key[line["source-ref"].rsplit("/", 1)[-1]]
            assert line["shapes-metadata"]["type"] == "groundcrew/image-classification-consensus"  # as with GT
        # Worker ids are Label Studio users, without their e-mail addresses.
        assert env.labelstudio is not None
        batch_folder = completed["detail"]["output_manifest_uri"].rsplit("/output/", 1)[0]
        ledger = [json.loads(x) for x in read(env, f"{batch_folder}/rounds/r1/ledger.jsonl").decode().splitlines()]
        workers = {answer["worker_id"] for entry in ledger for answer in entry["answers"]}
        assert workers == set(env.labelstudio.worker_ids())
        # The project in the server: one task per item, two annotations each, closed at the end.
        project = project_of(env)
        tasks = list(client(labelstudio_server).tasks(project))
        assert len(tasks) == len(IMAGES)
        assert all(len(task["annotations"]) == 2 and task["overlap"] == 2 for task in tasks)
        assert all(task["data"]["image"] and task["meta"]["groundcrew_item"].startswith("s3://") for task in tasks)
        assert client(labelstudio_server).get(f"/api/projects/{project}/")["title"].startswith("closed ")
        # What an annotator's browser is shown: Label Studio's resolve link redirects to a presigned URL of the
        # bucket (served on 127.0.0.1 in local mode), which returns the very object.
        http = urllib3.PoolManager()
        shown = http.request(
            "GET",
            labelstudio_server.url + tasks[0]["data"]["image"],
            headers={"Authorization": f"Token {labelstudio_server.token}"},
            redirect=False,
        )
        assert shown.status == 303 and "X-Amz-Signature=" in shown.headers["Location"]
        assert http.request("GET", shown.headers["Location"]).data == read(env, tasks[0]["meta"]["groundcrew_item"])
        validate_events(env.events())


def test_the_demo_runs_on_label_studio_with_follow_up_rounds_and_gold(tmp_path: Path) -> None:
    result = run_demo(tmp_path, io.StringIO(), workforce="labelstudio")
    assert result.succeeded, result.execution_status
    started = [e["detail"] for e in result.events if e["detail-type"] == "Labeling Job Started"]
    assert len(started) >= 2 and all(d["workforce"] == "labelstudio" for d in started)
    assert started[0]["gold_items"] > 0
    assert len({d["labeling_job_arn"] for d in started}) == 1  # every round in the batch's one project
    validate_events(result.events)


def test_keypoints_run_on_label_studio_with_a_pose_sent_back(tmp_path: Path) -> None:
    result = run_demo(tmp_path, io.StringIO(), workflow="keypoints", workforce="labelstudio")
    assert result.succeeded, result.execution_status
    issues = [e["detail"] for e in result.events if e["detail-type"] == "Keypoint Quality Issues"]
    assert issues and issues[0]["sent_back"] > 0
    rounds = [e["detail"]["round"] for e in result.events if e["detail-type"] == "Labeling Job Started"]
    assert rounds == [1, 2]
    coco = json.loads((result.run_dir / "keypoints.coco.json").read_text())
    assert len(coco["annotations"]) == 8


def test_an_unreachable_server_is_retried_then_fails_the_batch_naming_its_url(
    labelstudio_server: LabelStudioServer,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once the probe closes
    with local_environment(
        workforce=careful(), labelstudio=labelstudio_server, parameters={"LabelStudioUrl": dead}
    ) as env:
        (execution,) = run_batch(env, labelstudio_project(**FIXED_PAIRS))
        assert execution["status"] == "FAILED"
        (failed,) = env.events_of("Labeling Job Failed")
        assert dead in failed["detail"]["reason"] and "did not answer" in failed["detail"]["reason"]
        batch_id = env.events_of("Batch Sealed")[0]["detail"]["batch_id"]
        assert lambda_failures(env, batch_id).count("LabelStudioUnreachable") == 5  # the first try and 4 retries
        validate_events(env.events())


def test_a_rejected_token_fails_the_batch_at_once(labelstudio_server: LabelStudioServer) -> None:
    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.list_secrets()["SecretList"][0]["ARN"]
        secrets.put_secret_value(SecretId=arn, SecretString="0" * 40)
        (execution,) = run_batch(env, labelstudio_project(**FIXED_PAIRS))
        assert execution["status"] == "FAILED"
        (failed,) = env.events_of("Labeling Job Failed")
        assert "refused the token" in failed["detail"]["reason"]
        batch_id = env.events_of("Batch Sealed")[0]["detail"]["batch_id"]
        assert lambda_failures(env, batch_id).count("LabelStudioTokenRejected") == 1  # no retry storm


def test_a_task_deleted_mid_round_ends_its_item_with_the_reason_and_keeps_the_rest(
    labelstudio_server: LabelStudioServer, before_the_team: Callable[[LocalEnvironment, Any], None]
) -> None:
    deleted: list[int] = []

    def delete_one_task(ls: LabelStudioClient) -> None:
        project = max(int(p["id"]) for p in ls.get("/api/projects/", page_size=1000)["results"])
        first = next(iter(ls.tasks(project)))
        ls.delete(f"/api/tasks/{first['id']}/")
        deleted.append(int(first["id"]))

    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        before_the_team(env, delete_one_task)
        (execution,) = run_batch(env, labelstudio_project(**FIXED_PAIRS))
        assert execution["status"] == "SUCCEEDED", execution
        (consolidated,) = env.events_of("Annotations Consolidated")
        reasons = [f["reason"] for f in consolidated["detail"]["failures"]]
        assert reasons == [f"Label Studio task {deleted[0]} was deleted with 0 of 2 answers"]
        assert consolidated["detail"]["labeled"] == len(IMAGES) - 1
        validate_events(env.events())


def test_a_project_deleted_mid_round_fails_the_batch_with_the_reason(
    labelstudio_server: LabelStudioServer, before_the_team: Callable[[LocalEnvironment, Any], None]
) -> None:
    def delete_project(ls: LabelStudioClient) -> None:
        project = max(int(p["id"]) for p in ls.get("/api/projects/", page_size=1000)["results"])
        ls.delete(f"/api/projects/{project}/")

    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        before_the_team(env, delete_project)
        (execution,) = run_batch(env, labelstudio_project(**FIXED_PAIRS))
        assert execution["status"] == "FAILED"
        (consolidated,) = env.events_of("Annotations Consolidated")
        assert {f["reason"] for f in consolidated["detail"]["failures"]} == {
            f"Label Studio project {project_of(env)} was deleted with 0 of 2 answers"
        }
        (failed,) = env.events_of("Labeling Job Failed")
        assert "nothing labeled" in failed["detail"]["reason"]


def test_unknown_choices_and_second_annotations_are_rejected_with_reasons(
    labelstudio_server: LabelStudioServer, before_the_team: Callable[[LocalEnvironment, Any], None]
) -> None:
    def annotate_badly(ls: LabelStudioClient) -> None:
        project = max(int(p["id"]) for p in ls.get("/api/projects/", page_size=1000)["results"])
        first, second, third, *_ = ls.tasks(project)
        user = next(u for u in ls.get("/api/users/") if u["email"] == "admin@groundcrew.local")["id"]
        choice = {"type": "choices", "from_name": "category", "to_name": "image"}
        for task, label in ((first, "hexagon"), (second, "circle"), (second, "square")):
            body = {"result": [{**choice, "value": {"choices": [label]}}], "completed_by": user, "lead_time": 4.0}
            ls.post(f"/api/tasks/{task['id']}/annotations/", body)
        ls.post(f"/api/tasks/{third['id']}/annotations/", {"result": [], "completed_by": user, "was_cancelled": True})

    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        before_the_team(env, annotate_badly)
        (execution,) = run_batch(env, labelstudio_project(**FIXED_PAIRS))
        assert execution["status"] == "SUCCEEDED", execution
        (consolidated,) = env.events_of("Annotations Consolidated")
        assert consolidated["detail"]["rejected_answers"] == 2
        (completed,) = env.events_of("Labeling Job Completed")
        batch_folder = completed["detail"]["output_manifest_uri"].rsplit("/output/", 1)[0]
        ledger = read(env, f"{batch_folder}/rounds/r1/ledger.jsonl").decode()
        assert "names unknown label 'hexagon'" in ledger
        assert "second answer of the same worker" in ledger
        # The second annotation filled the task in Label Studio's eyes: it was asked for one more, from another
        # user, so the item still has two usable answers; the skip is an answer not given, with its reason.
        tasks = {t["id"]: t for t in client(labelstudio_server).tasks(project_of(env))}
        second = sorted(tasks)[1]
        assert (tasks[second]["overlap"], len(tasks[second]["annotations"])) == (3, 3)
        round_ledger = read(
            env,
            f"s3://{env.data_bucket}/labeling-jobs/{completed['detail']['labeling_job_names'][0]}"
            "/labelstudio/tasks.jsonl",
        ).decode()
        assert "skipped the task" in round_ledger
        validate_events(env.events())


def test_a_person_labels_the_demo_in_label_studio_and_the_pipeline_consolidates_it(
    labelstudio_server: LabelStudioServer, tmp_path: Path
) -> None:
    """--interactive, with this test as the person: it waits for the project, then labels every task through the
    same API the browser uses, as the logged-in admin."""
    from groundcrew_local.labelstudio.interactive import run_interactive
    from groundcrew_local.labelstudio.team import image_uri

    ls = client(labelstudio_server)
    before = {int(p["id"]) for p in ls.get("/api/projects/", page_size=1000)["results"]}
    outcome: list[Any] = []
    held: list[str] = []
    runner = threading.Thread(
        target=lambda: outcome.append(
            run_interactive(
                tmp_path,
                io.StringIO(),
                running=labelstudio_server,
                labeling_seconds=120,
                hold=lambda server, stream: held.append(server.url),
            )
        )
    )
    runner.start()
    key = sample_answer_key()
    me = next(u for u in ls.get("/api/users/") if u["email"] == labelstudio_server.admin_email)["id"]
    labeled: set[int] = set()
    deadline = time.monotonic() + 120
    while runner.is_alive() and time.monotonic() < deadline:
        for project in ls.get("/api/projects/", page_size=1000)["results"]:
            if int(project["id"]) in before:
                continue
            for task in ls.tasks(int(project["id"])):
                if int(task["id"]) in labeled:
                    continue
                label = key[image_uri(task["data"]["image"]).rsplit("/", 1)[-1]]
                choice = {"type": "choices", "from_name": "category", "to_name": "image"}
                body = {"result": [{**choice, "value": {"choices": [label]}}], "completed_by": me, "lead_time": 3.5}
                ls.post(f"/api/tasks/{task['id']}/annotations/", body)
                labeled.add(int(task["id"]))
        time.sleep(0.5)
    runner.join(timeout=30)
    (result,) = outcome
    assert result.succeeded, result.execution_status
    assert held == [labelstudio_server.url]  # the server is left running for the person
    lines = [json.loads(x) for x in (result.run_dir / "output.manifest").read_text().splitlines()]
    assert all(line["shapes"]["label"] == key[line["source-ref"].rsplit("/", 1)[-1]] for line in lines)
    assert len(labeled) == len(lines) + 3  # and the gold items


def test_boxes_from_another_tool_are_adjusted_in_label_studio_and_written_as_ground_truth_would(
    labelstudio_server: LabelStudioServer, corpus: Path
) -> None:
    """VOC boxes imported, shown as predictions, corrected by one annotator where they were wrong, and written in
    Ground Truth's bounding-box output format (with adjustment-status) for Decide, Finalize and the COCO export."""
    project = "voc-boxes"
    document = {
        "name": project,
        "workflow": "bounding-box-adjustment",
        "labels": ["cat", "person", "train"],
        "adjustment": {"format": "voc", "images_prefix": f"images/{project}/"},
        "task": {"title": "Correct the boxes", "description": "Fix what the other tool got wrong"},
        "workforce": {"kind": "labelstudio"},
    }
    drawn = {"label": "person", "left": 10, "top": 20, "width": 100, "height": 200}
    fixer = SimulatedWorkforce([SimulatedWorker("fixer", accuracy=1.0)], answer_key={"000002.jpg": [drawn]}, seed=3)
    with local_environment(workforce=fixer, labelstudio=labelstudio_server) as env:
        bucket = env.data_bucket
        env.s3.put_object(Bucket=bucket, Key=f"projects/{project}.yaml", Body=yaml.safe_dump(document).encode())
        for name, size in (("2007_000001.jpg", (20, 10)), ("000002.jpg", (335, 500))):
            env.s3.put_object(Bucket=bucket, Key=f"images/{project}/{name}", Body=blank_jpeg(*size))
        for name in ("voc_datumaro_test_2007_000001.xml", "voc2007_000002_mmdetection_test.xml"):
            body = (corpus / "external-annotations" / name).read_bytes()
            env.s3.put_object(Bucket=bucket, Key=f"imports/{project}/drop-1/{name}", Body=body)
        env.s3.put_object(Bucket=bucket, Key=f"imports/{project}/drop-1/_SEAL", Body=b"")
        executions = env.wait_for_all_executions(timeout=300)
        assert all(e["status"] == "SUCCEEDED" for e in executions), executions

        (completed,) = env.events_of("Labeling Job Completed")
        lines = {
            line["source-ref"].rsplit("/", 1)[-1]: line
            for line in map(json.loads, read(env, completed["detail"]["output_manifest_uri"]).decode().splitlines())
        }
        attribute = Project.model_validate(document).attribute_name
        fixed, kept = lines["000002.jpg"], lines["2007_000001.jpg"]
        assert fixed[f"{attribute}-metadata"]["adjustment-status"] == "adjusted"
        ((box,),) = [fixed[attribute]["annotations"]]
        assert box["class_id"] == 1 and abs(box["left"] - 10) <= 1 and abs(box["height"] - 200) <= 2
        assert fixed[f"{attribute}-metadata"]["class-map"] == {"0": "cat", "1": "person", "2": "train"}
        assert kept[f"{attribute}-metadata"]["adjustment-status"] == "unadjusted"
        imported = kept["imported"]["annotations"]
        assert [(b["left"], b["top"], b["width"], b["height"]) for b in kept[attribute]["annotations"]] == [
            (round(b["left"]), round(b["top"]), round(b["width"]), round(b["height"])) for b in imported
        ]
        assert completed["detail"]["coco_uri"]
        validate_events(env.events())


def test_masks_from_another_tool_are_repainted_in_label_studio_and_written_as_ground_truth_would(
    labelstudio_server: LabelStudioServer,
) -> None:
    """The scenes sample's COCO masks, shown as brush regions (one per class), repainted by one annotator where
    the other tool got the class wrong, and written as Ground Truth's semantic-segmentation output: a palette PNG
    per image with its internal-color-map and adjustment-status."""
    folder = scenes_folder()
    document = yaml.safe_load((folder / "project.yaml").read_text())
    document["workforce"] = {"kind": "labelstudio"}
    fixer = SimulatedWorkforce(
        [SimulatedWorker("painter", accuracy=1.0)], answer_key={"scene-2.jpg": {"relabel": {"car": "person"}}}, seed=5
    )
    with local_environment(workforce=fixer, labelstudio=labelstudio_server) as env:
        bucket = env.data_bucket
        env.s3.put_object(Bucket=bucket, Key="projects/scenes.yaml", Body=yaml.safe_dump(document).encode())
        for path in sorted((folder / "images").iterdir()):
            env.s3.put_object(Bucket=bucket, Key=f"images/scenes/{path.name}", Body=path.read_bytes())
        body = (folder / "annotations.coco.json").read_bytes()
        env.s3.put_object(Bucket=bucket, Key="imports/scenes/annotations.json", Body=body)
        executions = env.wait_for_all_executions(timeout=300)
        assert executions and all(e["status"] == "SUCCEEDED" for e in executions), executions

        (completed,) = env.events_of("Labeling Job Completed")
        assert completed["detail"]["statistics"]["labeled"] == 4
        attribute = Project.model_validate(document).attribute_name
        for raw in read(env, completed["detail"]["output_manifest_uri"]).decode().splitlines():
            line = json.loads(raw)
            name = line["source-ref"].rsplit("/", 1)[-1]
            metadata = line[f"{attribute}-metadata"]
            assert metadata["type"] == "groundtruth/semantic-segmentation"
            names = {int(k): v["class-name"] for k, v in metadata["internal-color-map"].items()}
            with Image.open(io.BytesIO(read(env, line[attribute]))) as image:
                assert image.mode == "P"
                after = np.asarray(image)
            imported_key = next(k for k in line if k.endswith("-ref") and k not in {attribute, "source-ref"})
            with Image.open(io.BytesIO(read(env, line[imported_key]))) as image:
                before = np.asarray(image)
            car, person = (next(k for k, v in names.items() if v == label) for label in ("car", "person"))
            if name == "scene-2.jpg":
                assert metadata["adjustment-status"] == "adjusted"
                assert (before == car).any() and not (after == car).any()
                assert np.array_equal(after[before == car], np.full((before == car).sum(), person, np.uint8))
                assert np.array_equal(after[before != car], before[before != car])
            else:
                assert metadata["adjustment-status"] == "unadjusted"
                assert np.array_equal(after, before)
        validate_events(env.events())


def test_at_the_deadline_unfinished_items_end_with_the_reason_and_the_close_step_retires_their_tasks(
    labelstudio_server: LabelStudioServer,
) -> None:
    """The sample round posted and answered; two tasks lose their annotations (nobody answered them), then a poll
    after the job's deadline ends the round: those two are reported with why, the rest keep their labels."""
    from groundcrew.core.events import EventPublisher
    from groundcrew.core.records import BatchRef, PreparedJob
    from groundcrew.workforces.labelstudio import rounds
    from groundcrew_local.invoke import sample_batch, seed_sample_world

    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        seed_sample_world(env)  # the sample round as Label Studio tasks, answered
        event = json.loads((EVENTS / "track-labelstudio-poll.json").read_text())
        batch, job = BatchRef.model_validate(sample_batch(env)), PreparedJob.model_validate(event["job"])
        ls = client(labelstudio_server)
        project = rounds._read_project_id(env.s3, batch)
        emptied = sorted(ls.tasks(project), key=lambda t: int(t["id"]))[:2]
        for task in emptied:
            for annotation in task["annotations"]:
                ls.delete(f"/api/annotations/{annotation['id']}/")
        publisher = EventPublisher(env.client("events"), env.event_bus)
        tracking = rounds.track_round(env.s3, ls, publisher, batch, job, None, now=job.deadline + 1)
        assert tracking["status"] == "Completed"
        assert tracking["counters"]["TotalLabeled"] == len(IMAGES) - 2
        consolidated = env.events_of("Annotations Consolidated")[-1]["detail"]
        reasons = [f["reason"] for f in consolidated["failures"]]
        assert reasons == ["the round reached its deadline with 0 of 2 answers"] * 2
        assert rounds.close_rounds(env.s3, ls, batch) == {"closed": 1, "unstarted_tasks_deleted": 2, "problems": []}
        assert len(list(ls.tasks(project))) == len(IMAGES) - 2  # the annotated ones stay


def test_annotations_of_users_outside_the_annotators_are_rejected_and_replaced(
    labelstudio_server: LabelStudioServer, before_the_team: Callable[[LocalEnvironment, Any], None]
) -> None:
    def outsider_answers(ls: LabelStudioClient) -> None:
        project = max(int(p["id"]) for p in ls.get("/api/projects/", page_size=1000)["results"])
        first = min(ls.tasks(project), key=lambda t: int(t["id"]))
        admin = next(u for u in ls.get("/api/users/") if u["email"] == labelstudio_server.admin_email)["id"]
        result = [{"type": "choices", "from_name": "category", "to_name": "image", "value": {"choices": ["circle"]}}]
        ls.post(f"/api/tasks/{first['id']}/annotations/", {"result": result, "completed_by": admin})

    team = [f"{name}@annotators.groundcrew.local" for name in ("ada", "bo", "cy")]
    document = labelstudio_project(**FIXED_PAIRS)
    parsed = yaml.safe_load(document)
    parsed["workforce"]["labelstudio"] = {"annotators": team}
    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        before_the_team(env, outsider_answers)
        (execution,) = run_batch(env, yaml.safe_dump(parsed).encode())
        assert execution["status"] == "SUCCEEDED", execution
        (completed,) = env.events_of("Labeling Job Completed")
        assert completed["detail"]["statistics"]["labeled"] == len(IMAGES)
        job = completed["detail"]["labeling_job_names"][0]
        ledger = read(env, f"s3://{env.data_bucket}/labeling-jobs/{job}/labelstudio/tasks.jsonl").decode()
        assert "is not one of workforce.labelstudio.annotators" in ledger
        first = min(client(labelstudio_server).tasks(project_of(env)), key=lambda t: int(t["id"]))
        assert (first["overlap"], len(first["annotations"])) == (3, 3)  # one more asked for, and given


def test_a_project_of_yours_takes_the_batch_and_keeps_its_title(labelstudio_server: LabelStudioServer) -> None:
    ls = client(labelstudio_server)
    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        yours = ls.post("/api/projects/", {"title": "Our shapes queue"})["id"]  # the team works in new projects
        parsed = yaml.safe_load(labelstudio_project(**FIXED_PAIRS))
        parsed["workforce"]["labelstudio"] = {"project_id": yours}
        (execution,) = run_batch(env, yaml.safe_dump(parsed).encode())
        assert execution["status"] == "SUCCEEDED", execution
        assert project_of(env) == yours
        batch_id = env.events_of("Batch Sealed")[0]["detail"]["batch_id"]
        tasks = list(ls.tasks(yours))
        assert len(tasks) == len(IMAGES) and {t["meta"]["groundcrew_batch"] for t in tasks} == {batch_id}
        project = ls.get(f"/api/projects/{yours}/")
        assert project["title"] == "Our shapes queue" and "<Choices" in project["label_config"]


def test_a_project_of_yours_with_other_tasks_is_refused_with_the_reason(labelstudio_server: LabelStudioServer) -> None:
    ls = client(labelstudio_server)
    config = (
        '<View><Text name="text" value="$text"/><Choices name="c" toName="text"><Choice value="a"/></Choices></View>'
    )
    busy = ls.post("/api/projects/", {"title": "Sentiment", "label_config": config})["id"]
    ls.post(f"/api/projects/{busy}/import", [{"data": {"text": "hello"}}])
    parsed = yaml.safe_load(labelstudio_project(**FIXED_PAIRS))
    parsed["workforce"]["labelstudio"] = {"project_id": busy}
    with local_environment(workforce=careful(), labelstudio=labelstudio_server) as env:
        (execution,) = run_batch(env, yaml.safe_dump(parsed).encode())
        assert execution["status"] == "FAILED"
        (failed,) = env.events_of("Labeling Job Failed")
        assert (
            f"Label Studio project {busy} already has tasks under another labeling config" in failed["detail"]["reason"]
        )
        assert len(list(ls.tasks(busy))) == 1  # nothing of ours was added, nothing of theirs removed
