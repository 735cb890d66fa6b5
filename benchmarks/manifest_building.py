"""Manifest building: lines per second and peak memory, against plain orjson encoding of the same lines.

    .venv/bin/python benchmarks/manifest_building.py [--sizes 100000 1000000]

The measured path is what sealing a batch does (groundcrew.manifests.write_manifest: one dict per object,
orjson, a spooled temporary file, an S3 upload) minus the network: the upload reads the spooled file in
8 MB parts and discards them. The floor is `orjson.dumps` of the same dicts in a loop, in the same run.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from groundcrew.core.manifests import image_line, write_manifest
from groundcrew.core.s3_locations import S3Location


class DiscardingS3:
    """Reads the upload stream the way boto3's transfer does, in parts, and throws it away."""

    def upload_fileobj(self, fileobj: Any, bucket: str, key: str, ExtraArgs: Any = None) -> None:  # noqa: N803
        while fileobj.read(8 * 1024 * 1024):
            pass


def locations(count: int) -> Iterator[S3Location]:
    for i in range(count):
        yield S3Location("example-bucket", f"incoming/street-signs/2026/11/21/camera-{i % 40:02d}/frame-{i:08d}.jpg")


def build_with_groundcrew(count: int) -> None:
    write_manifest(DiscardingS3(), S3Location("b", "m.manifest"), (image_line(loc) for loc in locations(count)))  # type: ignore[arg-type]


def floor_orjson(count: int) -> None:
    for loc in locations(count):
        orjson.dumps(image_line(loc))


def timed(fn: Callable[[int], None], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn(count)
        best = min(best, time.perf_counter() - start)
    return best


def peak_mib(fn: Callable[[int], None], count: int) -> float:
    gc.collect()
    tracemalloc.start()
    fn(count)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'objects':>10} {'groundcrew lines/s':>19} {'orjson floor lines/s':>21} {'ratio':>6} {'peak MiB':>9}")
    for count in args.sizes:
        ours = timed(build_with_groundcrew, count, args.repeats)
        floor = timed(floor_orjson, count, args.repeats)
        memory = peak_mib(build_with_groundcrew, count)
        print(f"{count:>10} {count / ours:>19,.0f} {count / floor:>21,.0f} {floor / ours:>6.2f} {memory:>9.1f}")
    print("ratio = groundcrew speed / orjson-only speed (1.00 = no overhead beyond encoding).")
    print("peak MiB = Python heap peak while building (tracemalloc); flat across sizes means streaming.")


if __name__ == "__main__":
    main()
