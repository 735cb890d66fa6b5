"""Mask rasterising: masks per second of rasterize + encode_mask, against encoding alone and a naive loop.

    .venv/bin/python benchmarks/mask_rasterising.py [--images 200 --polygons 20 --naive-images 5]

Synthetic 1024x768 images with random star-shaped polygons (12-40 vertices, some crossing the border). The
floor is `encode_mask` of the same masks, in the same run: rasterising can at best cost nothing on top of it.
The naive baseline is what simple migration scripts do: for each polygon, an even-odd point-in-polygon test of
every pixel centre of the full grid (numpy over pixels, a Python loop over edges), run on a few images only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy.typing as npt

from groundcrew.workflows.adjustment.imports.segmentation import Shape
from groundcrew.workflows.adjustment.masks import ClassMap, encode_mask, rasterize

WIDTH, HEIGHT = 1024, 768


def synthetic_images(count: int, polygons: int, labels: list[str], seed: int = 7) -> list[list[Shape]]:
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        shapes = []
        for n in range(polygons):
            vertices = int(rng.integers(12, 41))
            cx, cy = rng.uniform(-50, WIDTH + 50), rng.uniform(-50, HEIGHT + 50)
            angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
            radii = rng.uniform(20, 160, vertices)
            points = [
                (float(cx + r * np.cos(a)), float(cy + r * np.sin(a))) for a, r in zip(angles, radii, strict=True)
            ]
            shapes.append(Shape(labels[n % len(labels)], [points], None, f"p{n}"))
        images.append(shapes)
    return images


def naive_rasterize(shapes: list[Shape], class_map: ClassMap) -> npt.NDArray[np.uint8]:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    for shape in shapes:
        for polygon in shape.polygons or []:
            inside = np.zeros((HEIGHT, WIDTH), dtype=bool)
            for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
                if y0 == y1:
                    continue
                crosses = (ys >= min(y0, y1)) & (ys < max(y0, y1))
                inside ^= crosses & (xs >= x0 + (ys - y0) * (x1 - x0) / (y1 - y0))
            mask[inside] = class_map.index(shape.label)
    return mask


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--polygons", type=int, default=20)
    parser.add_argument("--naive-images", type=int, default=5)
    args = parser.parse_args()
    labels = [f"class-{i}" for i in range(8)]
    class_map = ClassMap.from_labels(labels)
    images = synthetic_images(args.images, args.polygons, labels)

    start = time.perf_counter()
    masks = [rasterize(shapes, class_map, (WIDTH, HEIGHT)) for shapes in images]
    rasterized = time.perf_counter() - start
    start = time.perf_counter()
    sizes = [len(encode_mask(mask)) for mask in masks]
    encoded = time.perf_counter() - start
    ours = rasterized + encoded

    subset = images[: args.naive_images]
    start = time.perf_counter()
    naive_masks = [naive_rasterize(shapes, class_map) for shapes in subset]
    for mask in naive_masks:
        encode_mask(mask)
    naive = time.perf_counter() - start
    agree = all(np.array_equal(a, b) for a, b in zip(naive_masks, masks, strict=False))

    count, naive_count = len(images), len(subset)
    print(f"{count} images {WIDTH}x{HEIGHT}, {args.polygons} polygons each; mean PNG {np.mean(sizes) / 1024:.1f} KiB")
    print(f"{'path':<34} {'masks/s':>9} {'ratio to floor':>15}")
    print(f"{'encode_mask only (floor)':<34} {count / encoded:>9.1f} {1.0:>15.2f}")
    print(f"{'rasterize + encode_mask':<34} {count / ours:>9.1f} {encoded / ours:>15.2f}")
    print(f"{'  of which rasterize alone':<34} {count / rasterized:>9.1f} {encoded / rasterized:>15.2f}")
    naive_ratio = (encoded / count) / (naive / naive_count)
    print(f"{'naive point-in-polygon + encode':<34} {naive_count / naive:>9.2f} {naive_ratio:>15.3f}")
    print(f"speed-up over the naive loop: {(naive / naive_count) / (ours / count):.0f}x; identical masks: {agree}")
    print("ratio = path speed / encode-only speed (1.00 = rasterising costs nothing beyond PNG encoding).")


if __name__ == "__main__":
    main()
