"""`groundcrew demo`: the whole pipeline offline, from dropped images to consolidated labels and events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from groundcrew.s3_locations import S3Location
from groundcrew_local.environment import (
    LocalEnvironment,
    local_environment,
    sample_answer_key,
    sample_images,
    sample_project_document,
)

PROJECT = "shapes"


@dataclass
class DemoResult:
    succeeded: bool
    run_dir: Path
    events: list[dict[str, Any]]
    execution_status: str


def run_demo(out_dir: Path, stream: TextIO) -> DemoResult:
    with local_environment() as env:
        return _run(env, out_dir, stream)


def _run(env: LocalEnvironment, out_dir: Path, stream: TextIO) -> DemoResult:
    s3 = env.s3
    bucket = env.data_bucket
    images = sample_images()
    print(f"groundcrew demo: local stack up (bucket {bucket}, bus {env.event_bus})", file=stream)
    s3.put_object(Bucket=bucket, Key=f"projects/{PROJECT}.yaml", Body=sample_project_document())
    print(f"  project document      s3://{bucket}/projects/{PROJECT}.yaml", file=stream)
    for path in images:
        s3.put_object(Bucket=bucket, Key=f"incoming/{PROJECT}/{path.name}", Body=path.read_bytes())
    print(f"  dropped               {len(images)} files under s3://{bucket}/incoming/{PROJECT}/", file=stream)
    s3.put_object(Bucket=bucket, Key=f"incoming/{PROJECT}/_SEAL", Body=b"")
    print("  dropped               the seal marker _SEAL", file=stream)

    sealed = env.events_of("Batch Sealed")
    if not sealed:
        print("FAILED: no batch was sealed; see the events above", file=stream)
        return DemoResult(False, out_dir, env.events(), "NOT_STARTED")
    batch_id = sealed[0]["detail"]["batch_id"]
    execution = env.wait_for_execution(batch_id)
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
    if completed:
        for line in summary(completed[-1]["detail"], run_dir, _accuracy(run_dir / "output.manifest")):
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
    completed = [e["detail"] for e in events if e["detail-type"] == "Labeling Job Completed"]
    for name, uri in [
        ("input.manifest", sealed[0]["manifest_uri"] if sealed else None),
        ("output.manifest", completed[-1]["output_manifest_uri"] if completed else None),
    ]:
        if uri:
            location = S3Location.parse(uri)
            body = env.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
            (run_dir / name).write_bytes(body)


def _accuracy(output_manifest: Path) -> tuple[int, int] | None:
    """Consolidated labels that match the sample's answer key (the demo knows the truth; real runs do not)."""
    if not output_manifest.exists():
        return None
    key = sample_answer_key()
    correct = total = 0
    for raw in output_manifest.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        name = line["source-ref"].rsplit("/", 1)[-1]
        label = (line.get(PROJECT) or {}).get("label")
        if name in key:
            total += 1
            correct += label == key[name]
    return correct, total


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
        if kind == "Input Rejected":
            lines.append(f"{'input rejected':<24}{d['key']}: [{d['rule']}] {d['message']}")
        elif kind == "Batch Sealed":
            lines.append(f"{'batch sealed':<24}{d['batch_id']} ({d['reason']}, {d['item_count']} items)")
            lines.append(f"{'manifest written':<24}{d['manifest_uri']}")
        elif kind == "Labeling Job Started":
            lines.append(
                f"{'labeling job created':<24}{d['labeling_job_name']} "
                f"({d['item_count']} items x {d['workers_per_object']} workers)"
            )
        elif kind == "Labeling Job Progress":
            c = d["label_counters"]
            lines.append(
                f"{'progress':<24}{d['status']}: {c['TotalLabeled']} labeled, {c['Unlabeled']} to go, "
                f"{c['FailedNonRetryableError']} failed"
            )
        elif kind == "Annotations Consolidated":
            lines.append(
                f"{'consolidation':<24}{d['objects']} objects: {d['labeled']} labeled, {d['unresolved']} unresolved, "
                f"{d['rejected_answers']} answers rejected"
            )
            lines.extend(f"{'':<24}  object {f['dataset_object_id']}: {f['reason']}" for f in d["failures"])
        elif kind == "Labeling Job Completed":
            s = d["statistics"]
            lines.append(f"{'job completed':<24}{d['labeling_job_name']}: {s['labeled']}/{s['items']} labeled")
        elif kind == "Labeling Job Failed":
            lines.append(f"{'job failed':<24}[{d['stage']}] {d['error']}: {d['reason']}")
        else:
            lines.append(f"{kind:<24}{json.dumps(d)[:120]}")
    flush_received()
    return lines


def summary(detail: dict[str, Any], run_dir: Path, accuracy: tuple[int, int] | None) -> list[str]:
    s = detail["statistics"]
    agreement = f"{s['mean_agreement']:.2f}" if s["mean_agreement"] is not None else "n/a"
    seconds = f"{s['mean_seconds_per_item']:.1f}" if s["mean_seconds_per_item"] is not None else "n/a"
    lines = [
        f"{'items':<22}{s['items']}",
        f"{'labeled':<22}{s['labeled']} ({s['unresolved']} unresolved, {s['failed']} failed)",
        f"{'agreement':<22}{agreement} mean share of workers agreeing with the label; {s['unanimous']} unanimous",
        f"{'answers':<22}{s['answers']} from {s['workers']} workers",
        f"{'mean seconds per item':<22}{seconds} (worker time, all workers of an item summed)",
    ]
    if accuracy is not None:
        lines.append(f"{'vs answer key':<22}{accuracy[0]}/{accuracy[1]} consolidated labels correct")
    lines += [
        f"{'output manifest':<22}{detail['output_manifest_uri']}",
        f"{'local copies':<22}{run_dir / 'input.manifest'}, {run_dir / 'output.manifest'}, {run_dir / 'events.jsonl'}",
    ]
    return lines
