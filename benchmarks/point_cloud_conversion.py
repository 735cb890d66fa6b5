"""Point cloud conversion: points per second of convert() to binary/xyzi, against a plain numpy read and write.

    .venv/bin/python benchmarks/point_cloud_conversion.py [--points 120000 --repeats 200]

One frame of random float32 x y z intensity (seeded), written as a KITTI .bin, a binary PCD and a
binary_compressed PCD. The floor is `np.frombuffer(data, "<f4").tobytes()` of the same bytes, in the same run:
one read and copy, which converting must otherwise add a finiteness check to (a KITTI .bin already is the
binary/xyzi pack, so convert() checks it and returns its bytes without a copy: its ratio is above 1).
ratio = floor time / convert time (best of --repeats each);
for a PCD, the floor reads its whole bytes (header included) as float32. The binary inputs (KITTI .bin and binary
PCD) must reach 0.5, or the script exits with status 1.

Against noise (a shared machine, CPU frequency, the allocator settling): both are warmed up first, then timed in
alternation, one floor run then one convert run per repeat, so that a busy moment slows both alike rather than
only the one being timed; each keeps its best time. Neither the floor nor the required ratio depends on this.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial

import lzf
import numpy as np
import numpy.typing as npt

from groundcrew.workflows.point_cloud.formats import convert

REQUIRED_RATIO = 0.5
WARM_UP = 5  # untimed repeats first: page faults of the first large allocations, cold caches
PCD_HEADER = (
    "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\n"
    "TYPE F F F F\nCOUNT 1 1 1 1\nWIDTH {points}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {points}\nDATA {kind}\n"
)


def frame(points: int, seed: int = 7) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    xyzi = rng.uniform(-80, 80, (points, 4)).astype("<f4")
    xyzi[:, 3] = rng.uniform(0, 1, points)
    return xyzi


def inputs(xyzi: npt.NDArray[np.float32]) -> dict[str, tuple[str, bytes, bool]]:
    """name -> (file name, bytes, whether the ratio requirement applies)."""
    points = len(xyzi)
    column_major = np.ascontiguousarray(xyzi.T).tobytes()
    # Random floats do not compress: allow LZF's literal-run overhead, as PCL does.
    compressed = lzf.compress(column_major, len(column_major) + len(column_major) // 16 + 64)
    sizes = np.array([len(compressed), len(column_major)], "<u4").tobytes()
    return {
        "KITTI .bin": ("frame.bin", xyzi.tobytes(), True),
        "PCD binary": ("frame.pcd", PCD_HEADER.format(points=points, kind="binary").encode() + xyzi.tobytes(), True),
        "PCD binary_compressed": (
            "frame.pcd",
            PCD_HEADER.format(points=points, kind="binary_compressed").encode() + sizes + compressed,
            False,
        ),
    }


def plain_read_and_write(data: bytes, count: int) -> bytes:
    return np.frombuffer(data, "<f4", count).tobytes()


def best_of_alternating(repeats: int, *runs: Callable[[], object]) -> list[float]:
    """The best time of each run, after a warm-up, the runs taking turns in every repeat."""
    best = [float("inf")] * len(runs)
    for repeat in range(repeats + WARM_UP):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            if repeat >= WARM_UP:
                best[index] = min(best[index], elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=120_000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    xyzi = frame(args.points)
    expected = xyzi.tobytes()
    failed = False
    print(f"{args.points:,} points of float32 x y z intensity, to binary/xyzi; best of {args.repeats}")
    print(f"{'input':<24} {'bytes':>10} {'floor pts/s':>13} {'convert pts/s':>14} {'ratio':>7}  verdict")
    for label, (name, data, required) in inputs(xyzi).items():
        if convert(data, name, "binary/xyzi").data != expected:
            raise SystemExit(f"{label}: convert() output differs from the frame written")
        whole = len(data) // 4  # a PCD header need not be a whole number of float32 values
        floor, ours = best_of_alternating(
            args.repeats, partial(plain_read_and_write, data, whole), partial(convert, data, name, "binary/xyzi")
        )
        ratio = floor / ours
        verdict = ("PASS" if ratio >= REQUIRED_RATIO else "FAIL") if required else "(no requirement)"
        failed |= required and ratio < REQUIRED_RATIO
        print(
            f"{label:<24} {len(data):>10,} {args.points / floor:>13,.0f} {args.points / ours:>14,.0f} "
            f"{ratio:>7.2f}  {verdict}"
        )
    print(f"ratio = floor time / convert time; binary inputs need >= {REQUIRED_RATIO}.")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
