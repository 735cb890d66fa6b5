"""`groundcrew pointcloud convert`: a frame or a folder of frames to Ground Truth binary packs, without AWS."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from groundcrew_local.cli import main

XYZI = np.array([[1.5, -2.25, 3.0, 0.5], [4.0, 5.125, -6.5, 1.0]], dtype="<f4")


def test_one_file_to_xyz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "000001.bin").write_bytes(XYZI.tobytes())
    code = main(
        [
            "pointcloud",
            "convert",
            str(tmp_path / "000001.bin"),
            "--out",
            str(tmp_path / "out.bin"),
            "--format",
            "binary/xyz",
        ]
    )
    assert code == 0
    assert (tmp_path / "out.bin").read_bytes() == np.ascontiguousarray(XYZI[:, :3]).tobytes()
    assert capsys.readouterr().out == "000001.bin: kitti/bin, 2 -> 2 points (0 non-finite dropped), binary/xyz\n"


def test_folder_with_one_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "b.bin").write_bytes(XYZI.tobytes())
    (frames / "a.txt").write_bytes(b"1 2 3\nnan 0 0\n4 5 6\n")
    (frames / "c.pcd").write_bytes(b"FIELDS x y\nSIZE 4 4\nTYPE F F\nWIDTH 1\nDATA ascii\n1 2\n")
    (frames / "notes.md").write_text("not a frame")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    code = main(["pointcloud", "convert", str(frames), "--out", str(tmp_path / "packs")])
    assert code == 1
    assert "AWS_ACCESS_KEY_ID" not in os.environ  # no local mode: this command touches no AWS
    assert sorted(p.name for p in (tmp_path / "packs").iterdir()) == ["a.bin", "b.bin"]
    assert (tmp_path / "packs" / "a.bin").read_bytes() == np.array([[1, 2, 3], [4, 5, 6]], "<f4").tobytes()
    assert (tmp_path / "packs" / "b.bin").read_bytes() == XYZI.tobytes()
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "a.txt: ascii/xyz, 3 -> 2 points (1 non-finite dropped), binary/xyz",
        "b.bin: kitti/bin, 2 -> 2 points (0 non-finite dropped), binary/xyzi",
    ]
    assert captured.err.startswith("error [missing-xyz] c.pcd: no z field among FIELDS x y")


def test_folder_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "good.bin").write_bytes(XYZI.tobytes())
    (frames / "cut.bin").write_bytes(XYZI.tobytes()[:-2])
    code = main(["pointcloud", "convert", str(frames), "--out", str(tmp_path / "packs"), "--json"])
    assert code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["converted"] == [
        {
            "file": str(frames / "good.bin"),
            "output": str(tmp_path / "packs" / "good.bin"),
            "source_format": "kitti/bin",
            "points_in": 2,
            "points_out": 2,
            "dropped_non_finite": 0,
            "output_format": "binary/xyzi",
            "ignored_fields": [],
            "warnings": [],
        }
    ]
    assert [(e["file"], e["rule"]) for e in result["errors"]] == [(str(frames / "cut.bin"), "truncated-binary")]
    assert not (tmp_path / "packs" / "cut.bin").exists()


def test_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pointcloud", "convert", str(tmp_path / "nope.pcd"), "--out", str(tmp_path / "x.bin")]) == 2
    assert capsys.readouterr().err == f"groundcrew pointcloud convert: {tmp_path / 'nope.pcd'} does not exist\n"
