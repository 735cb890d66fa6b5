"""`groundcrew demo`: the whole pipeline offline, from dropped images (or lidar frames) to labels and events."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from groundcrew.core.s3_locations import S3Location
from groundcrew.projects import MTURK_MAX_LIFETIME_SECONDS as MTURK_LIFETIME
from groundcrew_local.environment import (
    SAMPLE_DATA,
    LocalEnvironment,
    demo_workforce,
    local_environment,
    pose_images,
    pose_project_document,
    pose_workforce,
    sample_answer_key,
    sample_gold_images,
    sample_images,
    sample_project_document,
)
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

LIDAR = SAMPLE_DATA / "lidar"
LIDAR_SCENE = "drive-0001"


@dataclass(frozen=True)
class DemoSample:
    """What one workflow's demo drops into the bucket, and who answers."""

    project: str
    document: bytes
    images: list[Path]
    gold: list[Path]
    workforce: Callable[[], SimulatedWorkforce]
    attribute: str
    scene: str = ""  # folder under incoming/<project>/ the files go in: a point cloud scene with its scene.json


def lidar_workforce(seed: int = 7) -> SimulatedWorkforce:
    """One careful lidar annotator: Ground Truth's 3D task types take exactly one worker per frame."""
    answers = json.loads((LIDAR / "answers.json").read_text(encoding="utf-8"))
    worker = SimulatedWorker.named("ada", accuracy=1.0, seconds_per_task=95.0)
    return SimulatedWorkforce([worker], seed=seed, answer_key=answers)


def sample_for(workflow: str) -> DemoSample:
    if workflow == "pointcloud":
        document = (LIDAR / "project.yaml").read_bytes()
        frames = sorted((LIDAR / LIDAR_SCENE).iterdir())
        return DemoSample("lidar", document, frames, [], lidar_workforce, "lidar", scene=LIDAR_SCENE)
    if workflow == "keypoints":
        return DemoSample("poses", pose_project_document(), pose_images(), [], pose_workforce, "poses")
    if workflow == "image-classification":
        return DemoSample(
            "shapes", sample_project_document(), sample_images(), sample_gold_images(), demo_workforce, "shapes"
        )
    raise ValueError(f"no demo for workflow {workflow!r}; choose image-classification, keypoints or pointcloud")


@dataclass
class DemoResult:
    succeeded: bool
    run_dir: Path
    events: list[dict[str, Any]]
    execution_status: str


def run_demo(
    out_dir: Path, stream: TextIO, workflow: str = "image-classification", workforce: str = "groundtruth"
) -> DemoResult:
    sample = sample_for(workflow)
    if workforce == "mturk":
        sample = on_mechanical_turk(sample)
    if workforce == "labelstudio":
        return _run_on_label_studio(on_label_studio(sample), out_dir, stream)
    with local_environment(workforce=sample.workforce()) as env:
        return run_sample(env, sample, out_dir, stream)


def _run_on_label_studio(sample: DemoSample, out_dir: Path, stream: TextIO) -> DemoResult:
    from groundcrew_local.labelstudio import server

    if not server.installed():
        print("groundcrew demo: installing Label Studio in .venv-labelstudio (once, about two minutes)", file=stream)
    with server.start() as labelstudio:
        print(f"groundcrew demo: Label Studio {labelstudio.url} up (data in {labelstudio.data_dir})", file=stream)
        with local_environment(workforce=sample.workforce(), labelstudio=labelstudio) as env:
            return run_sample(env, sample, out_dir, stream)


def on_label_studio(sample: DemoSample) -> DemoSample:
    """The sample project with its tasks on a local Label Studio server instead of a Ground Truth workteam."""
    import yaml

    document = yaml.safe_load(sample.document)
    if document.get("pointcloud") is not None:
        raise ValueError("point cloud jobs need 3D tools, which Label Studio does not have")
    workforce = {k: v for k, v in document.get("workforce", {}).items() if k == "price_per_task_usd"}
    document["workforce"] = {"kind": "labelstudio", **workforce}
    return dataclasses.replace(sample, document=yaml.safe_dump(document, sort_keys=False).encode())


MTURK_REWARD_USD = 0.05


def on_mechanical_turk(sample: DemoSample) -> DemoSample:
    """The sample project with its HITs on Mechanical Turk's sandbox instead of a Ground Truth workteam."""
    import yaml

    document = yaml.safe_load(sample.document)
    if document.get("pointcloud") is not None:
        raise ValueError("point cloud jobs run on Ground Truth's own 3D worker UI; Mechanical Turk cannot host them")
    document["workforce"] = {"kind": "mturk", "price_per_task_usd": MTURK_REWARD_USD}
    limits = document.get("time_limits") or {}
    document["time_limits"] = {
        **limits,
        "availability_seconds": min(limits.get("availability_seconds", MTURK_LIFETIME), MTURK_LIFETIME),
    }
    return dataclasses.replace(sample, document=yaml.safe_dump(document, sort_keys=False).encode())


def run_sample(
    env: LocalEnvironment, sample: DemoSample, out_dir: Path, stream: TextIO, timeout: float = 120.0
) -> DemoResult:
    s3 = env.s3
    bucket = env.data_bucket
    project = sample.project
    print(f"groundcrew demo: local stack up (bucket {bucket}, bus {env.event_bus})", file=stream)
    s3.put_object(Bucket=bucket, Key=f"projects/{project}.yaml", Body=sample.document)
    print(f"  project document      s3://{bucket}/projects/{project}.yaml", file=stream)
    for path in sample.gold:
        s3.put_object(Bucket=bucket, Key=f"gold/{project}/{path.name}", Body=path.read_bytes())
    if sample.gold:
        print(
            f"  gold items            {len(sample.gold)} images with known answers under s3://{bucket}/gold/{project}/",
            file=stream,
        )
    folder = f"incoming/{project}/" + (f"{sample.scene}/" if sample.scene else "")
    for path in sample.images:
        s3.put_object(Bucket=bucket, Key=f"{folder}{path.name}", Body=path.read_bytes())
    print(f"  dropped               {len(sample.images)} files under s3://{bucket}/{folder}", file=stream)
    s3.put_object(Bucket=bucket, Key=f"incoming/{project}/_SEAL", Body=b"")
    print("  dropped               the seal marker _SEAL", file=stream)

    sealed = env.events_of("Batch Sealed")
    if not sealed:
        print("FAILED: no batch was sealed; see the events above", file=stream)
        return DemoResult(False, out_dir, env.events(), "NOT_STARTED")
    batch_id = sealed[0]["detail"]["batch_id"]
    execution = env.wait_for_execution(batch_id, timeout=timeout)
    events = env.events()

    run_dir = out_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{batch_id}"
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_artifacts(env, run_dir, events)
    print("\nTimeline", file=stream)
    for line in timeline(events):
        print(f"  {line}", file=stream)
    completed = [e for e in events if e["detail-type"] == "Labeling Job Completed"]
    succeeded = execution["status"] == "SUCCEEDED" and bool(completed)
    print("\nSummary", file=stream)
    if completed and completed[-1]["detail"].get("pointcloud"):
        prepared = [e["detail"] for e in events if e["detail-type"] == "Point Clouds Prepared"]
        for line in pointcloud_summary(prepared[-1] if prepared else None, completed[-1]["detail"], run_dir):
            print(f"  {line}", file=stream)
    elif completed:
        names = {worker.worker_id: worker.name for worker in env.workforce.workers}
        names.update(env.labelstudio.worker_ids() if env.labelstudio else {})
        accuracy = _accuracy(run_dir / "output.manifest") if sample.project == "shapes" else None
        for line in summary(completed[-1]["detail"], run_dir, accuracy, names):
            print(f"  {line}", file=stream)
    else:
        failed = [e["detail"] for e in events if e["detail-type"] == "Labeling Job Failed"]
        reason = failed[-1]["reason"] if failed else execution.get("cause", "unknown")
        print(f"  the pipeline did not complete ({execution['status']}): {reason}", file=stream)
    print(f"  run artifacts         {run_dir}", file=stream)
    return DemoResult(succeeded, run_dir, events, execution["status"])


def _write_artifacts(env: LocalEnvironment, run_dir: Path, events: list[dict[str, Any]]) -> None:
    with (run_dir / "events.jsonl").open("w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
    sealed = [e["detail"] for e in events if e["detail-type"] == "Batch Sealed"]
    prepared = [e["detail"] for e in events if e["detail-type"] == "Point Clouds Prepared"]
    completed = [e["detail"] for e in events if e["detail-type"] == "Labeling Job Completed"]
    for name, uri in [
        ("input.manifest", sealed[0]["manifest_uri"] if sealed else None),
        ("frames.manifest", prepared[-1]["manifest_uri"] if prepared else None),
        ("output.manifest", completed[-1]["output_manifest_uri"] if completed else None),
        ("keypoints.coco.json", completed[-1].get("coco_uri") if completed else None),
    ]:
        if uri:
            location = S3Location.parse(uri)
            body = env.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
            (run_dir / name).write_bytes(body)
    pointcloud = completed[-1].get("pointcloud") if completed else None
    for name, prefix in (pointcloud or {}).get("exports", {}).items():  # KITTI labels, tracks, per-point labels
        _copy_prefix(env, S3Location.parse(prefix), run_dir / name)
    report = completed[-1].get("report_uri") if completed else None
    if report:  # the keypoint report and its overlays, to open in a browser
        folder = S3Location.parse(report)
        _copy_prefix(env, S3Location(folder.bucket, folder.key.rsplit("/", 1)[0] + "/"), run_dir / "report")


def _copy_prefix(env: LocalEnvironment, folder: S3Location, target: Path) -> None:
    """Every object under an s3:// folder, into a local folder (keys below it become subfolders)."""
    target.mkdir(parents=True, exist_ok=True)
    pages = env.s3.get_paginator("list_objects_v2").paginate(Bucket=folder.bucket, Prefix=folder.key)
    for item in (item for page in pages for item in page.get("Contents", [])):
        path = target / item["Key"][len(folder.key) :]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(env.s3.get_object(Bucket=folder.bucket, Key=item["Key"])["Body"].read())


def _accuracy(output_manifest: Path) -> tuple[int, int] | None:
    """Labels that match the sample's answer key, of all labels given (the demo knows the truth; real runs do not)."""
    if not output_manifest.exists():
        return None
    key = sample_answer_key()
    correct = labeled = 0
    for raw in output_manifest.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        name = line["source-ref"].rsplit("/", 1)[-1]
        label = (line.get("shapes") or {}).get("label")
        if name in key and label is not None:
            labeled += 1
            correct += label == key[name]
    return correct, labeled


def timeline(events: list[dict[str, Any]]) -> list[str]:
    """One readable line per event, consecutive 'Objects Received' folded into one."""
    lines: list[str] = []
    received = duplicates = 0
    batch_count = 0

    def flush_received() -> None:
        nonlocal received, duplicates
        if received or duplicates:
            lines.append(
                f"{'objects received':<24}{received} recorded, {duplicates} duplicate deliveries ignored "
                f"(batch now {batch_count})"
            )
            received = duplicates = 0

    for event in events:
        kind, d = event["detail-type"], event["detail"]
        if kind == "Objects Received":
            received += d["received"]
            duplicates += d["duplicates"]
            batch_count = d["batch_item_count"]
            continue
        flush_received()
        describe = _EVENT_LINES.get(kind)
        lines.extend(describe(d) if describe else [f"{kind:<24}{json.dumps(d)[:120]}"])
    flush_received()
    return lines


def _input_rejected(d: dict[str, Any]) -> list[str]:
    return [f"{'input rejected':<24}{d['key']}: [{d['rule']}] {d['message']}"]


def _point_clouds_prepared(d: dict[str, Any]) -> list[str]:
    sequences = f" in {d['sequences']} sequence(s)" if d["sequences"] else ""
    return [
        f"{'frames prepared':<24}{d['frames']} frames{sequences}, {d['points']} points "
        f"({d['dropped_points']} NaN or infinite points dropped), {d['refused']} refused",
        *_refusal_lines(d, f"{'':<24}  "),
        *(f"{'':<24}  warning: {w}" for w in d["warnings"]),
        f"{'frame manifest written':<24}{d['manifest_uri']}",
    ]


def _batch_sealed(d: dict[str, Any]) -> list[str]:
    return [
        f"{'batch sealed':<24}{d['batch_id']} ({d['reason']}, {d['item_count']} items)",
        f"{'manifest written':<24}{d['manifest_uri']}",
    ]


def _labeling_job_started(d: dict[str, Any]) -> list[str]:
    gold = f" + {d['gold_items']} gold" if d.get("gold_items") else ""
    lines = [
        f"{'labeling job created':<24}{d['labeling_job_name']} (round {d.get('round', 1)}: "
        f"{d['item_count']} items{gold} x {d['workers_per_object']} workers)"
    ]
    if d.get("gold_missing"):
        lines.append(f"{'':<24}  gold objects missing, left out: {', '.join(d['gold_missing'])}")
    if d.get("workforce") == "labelstudio":
        lines.append(f"{'':<24}  as tasks in Label Studio: {d.get('preview_url')}")
    if d.get("workforce") == "mturk":
        estimate = d.get("estimated_cost_usd")
        lines.append(
            f"{'':<24}  as Mechanical Turk HITs (sandbox), estimated ${estimate:.2f} with fees; "
            f"preview: {d.get('preview_url') or 'more assignments on the HITs of round 1'}"
        )
    return lines


def _labeling_job_progress(d: dict[str, Any]) -> list[str]:
    c = d["label_counters"]
    return [
        f"{'progress':<24}{d['status']}: {c['TotalLabeled']} labeled, {c['Unlabeled']} to go, "
        f"{c['FailedNonRetryableError']} failed"
    ]


def _annotations_consolidated(d: dict[str, Any]) -> list[str]:
    return [
        f"{'consolidation':<24}{d['objects']} objects: {d['labeled']} labeled, {d['unresolved']} unresolved, "
        f"{d['rejected_answers']} answers rejected",
        *(f"{'':<24}  object {f['dataset_object_id']}: {f['reason']}" for f in d["failures"]),
    ]


def _labeling_round_completed(d: dict[str, Any]) -> list[str]:
    r = d["summary"]
    spend = f", ${r['spend_usd']:.3f}" if r["spend_usd"] is not None else ""
    follow_up = (
        f"; round {r['round'] + 1} for {d['next_round_items']} items x {d['next_round_workers_per_object']}"
        if d["next_round_items"]
        else "; no further round"
    )
    return [
        f"{'round completed':<24}round {r['round']} ({r['status']}): {r['answers_bought']} answers{spend}, "
        f"{r['resolved']} resolved, {d['unresolved']} unresolved{follow_up}"
    ]


def _keypoint_quality_issues(d: dict[str, Any]) -> list[str]:
    lines = [
        f"{'poses flagged':<24}round {d['round']}: {d['flagged']} flagged, {d['sent_back']} sent back for adjustment"
    ]
    for item in d["items"]:
        why = [f["message"] for f in item["findings"] if f["severity"] == "error"]
        if item["disputed"]:
            why.append(f"workers disagree on {', '.join(item['disputed'])}")
        lines.append(f"{'':<24}  {item['item'].rsplit('/', 1)[-1]}: {'; '.join(why) or 'see the report'}")
    return lines


def _training_data_exported(d: dict[str, Any]) -> list[str]:
    return [f"{'training data exported':<24}{d['train']} train, {d['test']} test, {d['excluded']} excluded"]


def _labeling_job_completed(d: dict[str, Any]) -> list[str]:
    s = d["statistics"]
    lines = [
        f"{'batch completed':<24}{', '.join(d['labeling_job_names'])}: {s['labeled']}/{s['items']} labeled "
        f"in {s['rounds']} round(s)"
    ]
    if d.get("pointcloud"):
        lines.append(f"{'':<24}  {_pointcloud_labeled(d['pointcloud'])}")
    return lines


def _labeling_job_failed(d: dict[str, Any]) -> list[str]:
    return [f"{'job failed':<24}[{d['stage']}] {d['error']}: {d['reason']}"]


# How each event reads in the timeline (other events: their name and the start of their detail).
_EVENT_LINES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "Input Rejected": _input_rejected,
    "Point Clouds Prepared": _point_clouds_prepared,
    "Batch Sealed": _batch_sealed,
    "Labeling Job Started": _labeling_job_started,
    "Labeling Job Progress": _labeling_job_progress,
    "Annotations Consolidated": _annotations_consolidated,
    "Labeling Round Completed": _labeling_round_completed,
    "Keypoint Quality Issues": _keypoint_quality_issues,
    "Training Data Exported": _training_data_exported,
    "Labeling Job Completed": _labeling_job_completed,
    "Labeling Job Failed": _labeling_job_failed,
}


def summary(
    detail: dict[str, Any],
    run_dir: Path,
    accuracy: tuple[int, int] | None,
    worker_names: dict[str, str] | None = None,
) -> list[str]:
    s = detail["statistics"]
    cost = detail["cost"]
    agreement = f"{s['mean_agreement']:.2f}" if s["mean_agreement"] is not None else "n/a"
    seconds = f"{s['mean_seconds_per_item']:.1f}" if s["mean_seconds_per_item"] is not None else "n/a"
    spend = f"${cost['spend_usd']:.3f}" if cost["spend_usd"] is not None else "n/a (no price_per_task_usd)"
    lines = [
        f"{'items':<22}{s['items']}",
        f"{'labeled':<22}{s['labeled']} ({s['unresolved']} unresolved, {s['ties']} ties, {s['failed']} failed)",
        f"{'confidence':<22}{agreement} mean share of workers agreeing with the label; {s['unanimous']} unanimous",
        f"{'rounds':<22}{s['rounds']} ({detail['consensus']['policy']} policy, {detail['consensus']['method']})",
        f"{'answers per item':<22}{cost['answers_per_item']:.2f} "
        f"({cost['answers_bought']} answers bought, {cost['gold_answers_bought']} of them on gold items)",
        f"{'spend':<22}{spend}"
        + (f" at ${cost['price_per_task_usd']:.3f} per answer" if cost["price_per_task_usd"] is not None else "")
        + (f", plus ${cost['fees_usd']:.2f} Mechanical Turk fees" if cost.get("fees_usd") is not None else ""),
        f"{'mean seconds per item':<22}{seconds} (worker time, all workers of an item summed)",
    ]
    for r in detail["consensus"]["rounds"]:
        r_spend = f"${r['spend_usd']:.3f}" if r["spend_usd"] is not None else "n/a"
        lines.append(
            f"{'  round ' + str(r['round']):<22}{r['items']} items + {r['gold_items']} gold, "
            f"{r['answers_bought']} answers, {r_spend}, {r['resolved']} resolved after it ({r['status']})"
        )
    lines.extend(
        f"{'  unresolved':<22}{u['item'].rsplit('/', 1)[-1]}: {u['reason']}"
        for u in detail["consensus"]["unresolved_items"]
    )
    lines.append(f"{'workers':<22}{s['workers']} ({detail['flagged_workers']} flagged)")
    for w in detail["workers"]:
        agree = f"{w['agreement']:.2f}" if w["agreement"] is not None else "n/a"
        gold = f"{w['gold_accuracy']:.2f} of {w['gold_answers']}" if w["gold_accuracy"] is not None else "n/a"
        name = (worker_names or {}).get(w["worker_id"], "")
        lines.append(
            f"{'  ' + name:<22}{w['worker_id']}: {w['answers']} answers, agreement {agree}, gold {gold}"
            + ("  FLAGGED" if w["flagged"] else "")
        )
    if accuracy is not None:
        lines.append(f"{'vs answer key':<22}{accuracy[0]} of {accuracy[1]} labels correct (the demo knows the truth)")
    timing = detail.get("seconds_per_image")
    if timing and timing["overall"]["count"]:
        o = timing["overall"]
        lines.append(
            f"{'seconds per image':<22}mean {o['mean']:.1f}, median {o['median']:.1f}, p90 {o['p90']:.1f} "
            f"(one worker on one image, {o['count']} answers)"
        )
        for worker, w in timing["workers"].items():
            name = (worker_names or {}).get(worker, worker)
            lines.append(f"{'  ' + name:<22}mean {w['mean']:.1f}, median {w['median']:.1f}, p90 {w['p90']:.1f}")
    if detail.get("report_uri"):
        lines.append(f"{'quality report':<22}{detail['report_uri']}")
    if detail.get("coco_uri"):
        lines.append(f"{'COCO keypoints':<22}{detail['coco_uri']}")
    if detail.get("export"):
        files = detail["export"]["files"]
        lines.append(f"{'training export':<22}{', '.join(sorted(files.values()))}")
    lines += [
        f"{'output manifest':<22}{detail['output_manifest_uri']}",
        f"{'local copies':<22}{run_dir / 'input.manifest'}, {run_dir / 'output.manifest'}, {run_dir / 'events.jsonl'}",
    ]
    return lines


EXPORT_NAMES = {"kitti": "KITTI labels", "tracks": "tracks", "segmentation": "per-point labels"}


def _refusal_lines(prepared: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent}{r['item']}: [{r['rule']}] {r['message']}" for r in prepared["refusals"]]
    if prepared["refused"] > len(prepared["refusals"]):
        lines.append(f"{indent}and {prepared['refused'] - len(prepared['refusals'])} more (see the event)")
    return lines


def _pointcloud_labeled(report: dict[str, Any]) -> str:
    """What the workers drew: cuboids (and tracks) or points per class, and the frames left without a label."""
    if report["task"] == "segmentation":
        per_class = ", ".join(f"{label} {count}" for label, count in sorted(report["labeled_points"].items()))
        drawn = f"points labeled per class: {per_class or 'none'}"
    else:
        tracks = f" on {report['tracks']} tracks" if report["task"] == "tracking" else ""
        drawn = f"{report['objects']} cuboids{tracks}"
    return f"{drawn} in {report['frames']} frames ({report['not_labeled']} returned without a label)"


def pointcloud_summary(prepared: dict[str, Any] | None, detail: dict[str, Any], run_dir: Path) -> list[str]:
    """The point cloud batch in a few lines: frames and points in, refusals, cuboids out, where the exports are."""
    report = detail["pointcloud"]
    s = detail["statistics"]
    task = report["task"] + (f" ({report['audit']} of earlier labels)" if report["audit"] else "")
    lines = [f"{'task':<22}3D point cloud {task}, {s['rounds']} round(s): {', '.join(detail['labeling_job_names'])}"]
    if prepared is not None:
        sequences = f" in {prepared['sequences']} sequence(s)" if prepared["sequences"] else ""
        lines += [
            f"{'frames prepared':<22}{prepared['frames']}{sequences}",
            f"{'points':<22}{prepared['points']} ({prepared['dropped_points']} NaN or infinite points dropped)",
            f"{'refused':<22}{prepared['refused'] or 'none'}",
        ]
        lines.extend(_refusal_lines(prepared, f"{'':<22}  "))
    labeled = "points labeled" if report["task"] == "segmentation" else "cuboids labeled"
    lines.append(f"{labeled:<22}{_pointcloud_labeled(report)}")
    kitti = sorted((run_dir / "kitti").glob("*.txt")) if report["exports"].get("kitti") else []
    rows = (row for path in kitti for row in path.read_text(encoding="utf-8").splitlines() if row.strip())
    classes = Counter(row.split(maxsplit=1)[0] for row in rows)  # KITTI's first column is the class
    if classes:
        lines.append(f"{'  by class':<22}{', '.join(f'{label} {n}' for label, n in sorted(classes.items()))}")
    item = "sequence" if report["task"] == "tracking" else "frame"
    lines.append(
        f"{'workers per ' + item:<22}1 (Ground Truth's 3D task types take exactly one); "
        f"{detail['cost']['answers_bought']} answers in all"
    )
    lines.extend(f"{'  problem':<22}{problem}" for problem in report["problems"])
    for name, prefix in sorted(report["exports"].items()):
        folder = run_dir / name
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        lines.append(f"{EXPORT_NAMES.get(name, name):<22}{prefix}")
        lines.append(f"{'':<22}copied to {folder}/: {', '.join(files) or 'nothing'}")
    copies = ("input.manifest", "frames.manifest", "output.manifest", "events.jsonl")
    lines += [
        f"{'output manifest':<22}{detail['output_manifest_uri']}",
        f"{'local copies':<22}{', '.join(n for n in copies if (run_dir / n).exists())} in the run folder",
    ]
    return lines
