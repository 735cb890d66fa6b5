"""`groundcrew pointcloud convert INPUT --out OUTPUT [--format binary/xyzi] [--json]`: lidar frames to the binary
packs Ground Truth reads, on a laptop, before anything is uploaded.

INPUT is a file (OUTPUT is then the file to write) or a folder (every .pcd, .bin, .ply, .las, .laz, .txt, .xyz and
.asc in it, sorted, one frame at a time; OUTPUT is then a folder and each frame becomes `<stem>.bin`). Without
--format each frame keeps what it has (xyzirgb, xyzrgb, xyzi or xyz). Exit status 1 when any file failed; the
others are still converted. Needs no AWS credentials.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from groundcrew.workflows.point_cloud import formats as point_clouds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="pointcloud_command", required=True)
    convert = commands.add_parser(
        "convert",
        help="convert lidar frames (PCD, KITTI .bin, PLY, LAS/LAZ, ASCII) to Ground Truth binary packs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("input", help="a point cloud file, or a folder of them")
    convert.add_argument("--out", required=True, help="the file to write (folder when INPUT is a folder)")
    convert.add_argument(
        "--format", choices=point_clouds.FORMATS, help="output pack (default: keep every field the frame has)"
    )
    convert.add_argument("--json", action="store_true", help="print one JSON object with every file's report")
    convert.set_defaults(run=run)


def conversions(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a folder's supported files, sorted, each to `<stem>.bin` in `out`."""
    if not source.is_dir():
        return [(source, out)]
    frames = sorted(
        path for path in source.iterdir() if path.is_file() and path.suffix.lower() in point_clouds.SUFFIXES
    )
    return [(path, out / f"{path.stem}.bin") for path in frames]


def summary_line(source: Path, report: point_clouds.ConversionReport) -> str:
    line = (
        f"{source.name}: {report.source_format}, {report.points_in:,} -> {report.points_out:,} points "
        f"({report.dropped_non_finite:,} non-finite dropped), {report.output_format}"
    )
    if report.ignored_fields:
        line += f", ignored {' '.join(report.ignored_fields)}"
    return line + "".join(f"\n  warning: {warning}" for warning in report.warnings)


def run(args: argparse.Namespace, stdout: Any = None, stderr: Any = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    source, target = Path(args.input), Path(args.out)
    if not source.exists():
        print(f"groundcrew pointcloud convert: {source} does not exist", file=err)
        return 2
    pairs = conversions(source, target)
    if source.is_dir():
        if not pairs:
            print(
                f"groundcrew pointcloud convert: no point cloud files ({', '.join(sorted(point_clouds.SUFFIXES))}) "
                f"in {source}",
                file=err,
            )
            return 1
        target.mkdir(parents=True, exist_ok=True)
    reports: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for frame, destination in pairs:
        try:
            report = point_clouds.convert_file(frame, destination, args.format)
        except point_clouds.PointCloudError as error:
            errors.append({"file": str(frame), "rule": error.rule, "message": str(error)})
            print(f"error [{error.rule}] {error}", file=err)
            continue
        except OSError as error:
            errors.append({"file": str(frame), "rule": "unreadable-file", "message": str(error)})
            print(f"error [unreadable-file] {frame}: {error}", file=err)
            continue
        reports.append({"file": str(frame), "output": str(destination)} | report.as_json())
        if not args.json:
            print(summary_line(frame, report), file=out)
    if args.json:
        out.write(orjson.dumps({"converted": reports, "errors": errors}, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 1 if errors else 0
