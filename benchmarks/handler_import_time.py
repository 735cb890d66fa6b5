"""Cold-start proxy: how long importing each handler module takes, in fresh interpreters.

    .venv/bin/python benchmarks/handler_import_time.py [--runs 7] [--against ../other-checkout]

Each run starts a new Python process with the function folder and the layer on sys.path (as in Lambda),
imports `app`, and reports the median minus the median of a bare interpreter measured the same way.
`--against` measures another checkout's handlers in the same run (interleaved, so both see the same machine) and
prints this checkout's time as a ratio of the other's: how a change moved cold starts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
ENV = {
    "DATA_BUCKET": "example-bucket",
    "EVENT_BUS_NAME": "groundcrew-events",
    "BATCHES_TABLE": "batches",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:x",
    "GROUND_TRUTH_ROLE_ARN": "arn:aws:iam::123456789012:role/gt",
    "PRE_ANNOTATION_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:pre",
    "CONSOLIDATION_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:acs",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "MTURK_ENVIRONMENT": "sandbox",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_SERVICE_NAME": "groundcrew",
}


def measure(stmt: str, path: list[Path], runs: int) -> float:
    env = {**os.environ, **ENV, "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(stmt=stmt)], env=env, capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout whose handlers to measure in the same run")
    args = parser.parse_args()
    baseline = measure("pass", [], args.runs)
    if args.against is None:
        print(f"{'function':<26}{'import ms':>10}")
    else:
        print(f"{'function':<26}{'import ms':>10}{'other ms':>10}{'ratio':>8}")
    for folder in sorted((REPO / "functions").iterdir()):
        ms = measure("import app", [folder, REPO / "layers" / "groundcrew"], args.runs) - baseline
        other_folder = args.against / "functions" / folder.name if args.against else None
        if other_folder is None or not other_folder.is_dir():
            print(f"{folder.name:<26}{ms:>10.0f}")
            continue
        other = measure("import app", [other_folder, args.against / "layers" / "groundcrew"], args.runs) - baseline
        print(f"{folder.name:<26}{ms:>10.0f}{other:>10.0f}{ms / other:>8.2f}")
    print(f"(median of {args.runs} fresh processes each, bare interpreter subtracted)")


if __name__ == "__main__":
    main()
