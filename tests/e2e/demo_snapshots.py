"""The four demos' output manifests, exports and events, with ids and timestamps masked, to compare field by field.

A restructure must not change what users get. This runs `groundcrew demo` for each workflow and workforce the README
shows, reduces every run to plain JSON (events in order, every artifact file parsed, binary files as hashes) and
compares it with a recorded snapshot:

    .venv/bin/python -m tests.e2e.demo_snapshots record FILE   # run the demos, write their snapshot
    .venv/bin/python -m tests.e2e.demo_snapshots compare A B   # list every field that differs

To compare two checkouts, record with each one's layer and local package first on PYTHONPATH
(`PYTHONPATH=../other/layers/groundcrew:../other/local`), then compare. `test_demo_snapshots.py` compares the
current code with `fixtures/demo-snapshots.json`; re-record it (`record`) when a change is meant to change output.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEMOS = (
    ("image-classification", "groundtruth"),
    ("keypoints", "groundtruth"),
    ("pointcloud", "groundtruth"),
    ("image-classification", "mturk"),
)

# What differs between two runs of the same code: ids, clocks and names derived from them.
_MASKS = (
    (re.compile(r"\b[a-z][a-z0-9-]*-\d{8}t\d{6}-[0-9a-f]{6}\b"), "<batch>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"\b\d{8}T\d{6}\b"), "<time>"),
    (re.compile(r"groundcrew-local-[a-z0-9-]+"), "<stack-resource>"),
)
_VOLATILE_KEYS = {"id", "time"}  # the EventBridge envelope's own
_CLOCK_KEYS = {"deadline", "started_at", "ended_at", "expires_at", "submitted_at", "accepted_at"}


def _answer_order(item: Any) -> tuple[int, str]:
    return (int(item.get("round") or 0), str(item.get("worker_id"))) if isinstance(item, dict) else (0, "")


def mask(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, replacement in _MASKS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, list):
        items = [mask(item) for item in value]
        # The answers of one item arrive in the order Track polled the Mechanical Turk stand-in's HITs, which run in
        # parallel: not a contract. Compare them by round and worker.
        if items and all(isinstance(item, dict) and "worker_id" in item and "round" in item for item in items):
            items.sort(key=_answer_order)
        return items
    if isinstance(value, dict):
        return {mask(k): ("<clock>" if k in _CLOCK_KEYS else mask(v)) for k, v in value.items()}
    return value


def _file_content(path: Path) -> Any:
    data = path.read_bytes()
    if path.suffix in {".manifest", ".jsonl"}:
        return [mask(json.loads(line)) for line in data.decode().splitlines() if line.strip()]
    if path.suffix == ".json":
        return mask(json.loads(data))
    if path.suffix in {".txt", ".html", ".csv"}:
        return mask(data.decode())
    return "sha256:" + hashlib.sha256(data).hexdigest()


def run_snapshot(run_dir: Path) -> dict[str, Any]:
    files = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        name = path.relative_to(run_dir).as_posix()
        if name == "events.jsonl":
            continue
        files[name] = _file_content(path)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    shown = [mask({k: v for k, v in event.items() if k not in _VOLATILE_KEYS}) for event in events]
    return {"events": shown, "files": files}


# Where `new_batch_id` lives, before and after the package restructure: both checkouts must be recordable.
_BATCH_ID_MODULES = ("groundcrew.intake.batches", "groundcrew.batches")


@contextlib.contextmanager
def _fixed_batch_ids() -> Iterator[None]:
    """Batch ids seed the gold choice and the simulated workers: fix them so that two runs of one code agree."""
    for name in _BATCH_ID_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        original = module.new_batch_id
        module.new_batch_id = lambda project, now=None: f"{project}-20261207t000000-000001"
        try:
            yield
        finally:
            module.new_batch_id = original
        return
    raise RuntimeError(f"new_batch_id is in none of {_BATCH_ID_MODULES}")


def record() -> dict[str, Any]:
    """Run the demos (in this process, on local mode's fake credentials) and reduce each run to plain JSON."""
    from groundcrew_local.cli import _local_mode
    from groundcrew_local.demo import run_demo

    environment = dict(os.environ)
    snapshots: dict[str, Any] = {}
    try:
        _local_mode()
        with _fixed_batch_ids(), tempfile.TemporaryDirectory() as out:
            for workflow, workforce in DEMOS:
                result = run_demo(Path(out) / f"{workflow}-{workforce}", io.StringIO(), workflow, workforce)
                snapshots[f"{workflow}/{workforce}"] = {"succeeded": result.succeeded, **run_snapshot(result.run_dir)}
    finally:
        os.environ.clear()
        os.environ.update(environment)
    return snapshots


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Every field that differs, by its path (`demo.events[3].detail.cost`)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                found.append(f"{where}: missing now")
            elif key not in before:
                found.append(f"{where}: new")
            else:
                found.extend(differences(before[key], after[key], where))
        return found
    if isinstance(before, list) and isinstance(after, list):
        found = [f"{path}: {len(before)} entries before, {len(after)} now"] if len(before) != len(after) else []
        for index, (old, new) in enumerate(zip(before, after, strict=False)):
            found.extend(differences(old, new, f"{path}[{index}]"))
        return found
    return [] if before == after else [f"{path}: {before!r} before, {after!r} now"]


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "record":
        Path(argv[1]).write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        found = differences(*(json.loads(Path(name).read_text(encoding="utf-8")) for name in argv[1:]))
        print("\n".join(found) or "the same, field by field (ids and timestamps masked)")
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
