"""Point clouds: the real PCL and KITTI files of the corpus, PLY/LAS/LAZ made here from known arrays, and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import lzf
import numpy as np
import numpy.typing as npt
import pytest

from groundcrew.workflows.point_cloud.formats import (
    SUFFIXES,
    PointCloud,
    PointCloudError,
    check_signature,
    choose_format,
    convert,
    convert_file,
    drop_non_finite,
    encode,
    read_point_cloud,
    source_format_for,
)

PCD_XYZI_HEADER = (
    "VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
    "WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {kind}\n"
)
XYZI = np.array([[1.5, -2.25, 3.0, 0.5], [4.0, 5.125, -6.5, 1.0], [-7.75, 8.0, 9.5, 0.0]], dtype="<f4")


def corpus_file(corpus: Path, name: str) -> tuple[bytes, str]:
    return (corpus / "point-cloud" / name).read_bytes(), name


def pack(*columns: npt.ArrayLike) -> bytes:
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]).astype("<f4").tobytes()


def rule_of(data: bytes, name: str, fmt: str | None = None, **kwargs: int) -> str:
    with pytest.raises(PointCloudError) as caught:
        convert(data, name, fmt, **kwargs)
    assert str(caught.value).startswith(f"{name}: ") or str(caught.value).startswith(f"{name} line ")
    return caught.value.rule


def pcd_xyzi(kind: str, body: bytes, n: int = 3) -> bytes:
    return PCD_XYZI_HEADER.format(n=n, kind=kind).encode() + body


def compressed_xyzi(points: npt.NDArray[np.float32]) -> bytes:
    column_major = np.ascontiguousarray(points.T).tobytes()
    block = lzf.compress(column_major, len(column_major) + 64)
    return np.array([len(block), len(column_major)], "<u4").tobytes() + block


# --- the corpus -------------------------------------------------------------------------------------------------


def test_kitti_frames_pass_through_as_xyzi(corpus: Path) -> None:
    for name, count in (("kitti_000000_test_velodyne_800pts.bin", 800), ("kitti_000008_velodyne_reduced.bin", 17238)):
        data, _ = corpus_file(corpus, name)
        converted = convert(data, name)
        assert converted.data == data  # KITTI velodyne is binary/xyzi already
        assert (converted.report.points_in, converted.report.points_out) == (count, count)
        assert converted.report.source_format == "kitti/bin"
        assert converted.report.output_format == "binary/xyzi"
    cloud = read_point_cloud(*corpus_file(corpus, "kitti_000008_velodyne_reduced.bin"))
    assert cloud.xyz[0].tolist() == np.array([21.554, 0.028, 0.938], "<f4").tolist()
    assert cloud.intensity is not None and cloud.intensity[:2].tolist() == np.array([0.34, 0.24], "<f4").tolist()


def test_bunny_ascii_version_05(corpus: Path) -> None:
    data, name = corpus_file(corpus, "pcl_bunny_ascii_v05.pcd")
    cloud = read_point_cloud(data, name)
    assert (len(cloud), cloud.intensity, cloud.rgb, cloud.source_format) == (397, None, None, "pcd/ascii")
    assert cloud.xyz[0].tolist() == np.array([0.0054216, 0.11349, 0.040749], "<f4").tolist()
    assert cloud.xyz[-1].tolist() == np.array([-0.07793, 0.17516, -0.0444], "<f4").tolist()
    converted = convert(data, name)
    text_rows = [line.split() for line in data.decode().splitlines()[10:]]
    assert converted.data == np.asarray([[float(v) for v in row] for row in text_rows], "<f4").tobytes()
    assert converted.report.output_format == "binary/xyz"


def test_nhood_ascii_xyzi(corpus: Path) -> None:
    data, name = corpus_file(corpus, "pcl_nhood_test_ascii_xyzi.pcd")
    converted = convert(data, name)
    assert (converted.report.points_out, converted.report.output_format) == (36, "binary/xyzi")
    first = np.frombuffer(converted.data, "<f4")[:8]
    assert (
        first.tolist()
        == np.array([-1.05057, -0.75085, 1.527237, 0.0, -1.059155, -0.756576, 1.518478, 0.000183], "<f4").tolist()
    )


def test_office_keypoints_binary_xyzi(corpus: Path) -> None:
    data, name = corpus_file(corpus, "pcl_office1_keypoints_binary_xyzi.pcd")
    converted = convert(data, name)
    assert converted.report.source_format == "pcd/binary"
    assert (converted.report.points_out, converted.report.output_format) == (1318, "binary/xyzi")
    assert converted.data == data[-1318 * 16 :]  # x y z intensity float32: the data section is the pack
    assert np.frombuffer(converted.data, "<f4")[:4].tolist() == pytest.approx(
        [3.6486306, 4.245653, 0.45956555, 0.9396742]
    )


def test_coloured_cloud_unpacks_u4_rgb_and_ignores_normals(corpus: Path) -> None:
    data, name = corpus_file(corpus, "pcl_colored_cloud_binary_rgb_normals.pcd")
    converted = convert(data, name)
    report = converted.report
    # The packed colour read as float32 is NaN in 647 rows: TYPE U says it is an integer, so nothing is dropped.
    assert (report.points_in, report.points_out, report.dropped_non_finite) == (1000, 1000, 0)
    assert report.ignored_fields == ("normal_x", "normal_y", "normal_z", "curvature")
    assert report.output_format == "binary/xyzrgb"
    rows = np.frombuffer(converted.data, "<f4").reshape(-1, 6)
    assert rows[0, 3:].tolist() == [108.0, 109.0, 105.0]
    assert rows[1, 3:].tolist() == [109.0, 109.0, 106.0]
    assert rows[-1, 3:].tolist() == [168.0, 181.0, 176.0]
    source = np.frombuffer(data[-32000:], "<f4").reshape(-1, 8)
    assert rows[:, :3].tobytes() == np.ascontiguousarray(source[:, :3]).tobytes()


def test_milk_binary_compressed(corpus: Path) -> None:
    data, name = corpus_file(corpus, "pcl_milk_binary_compressed.pcd")
    converted = convert(data, name)
    assert converted.report.source_format == "pcd/binary_compressed"
    assert (converted.report.points_out, converted.report.output_format) == (13704, "binary/xyz")
    xyz = np.frombuffer(converted.data, "<f4").reshape(-1, 3)
    assert xyz[0].tolist() == np.array([-0.1316076, -0.2095429, 0.772], "<f4").tolist()
    assert xyz[-1].tolist() == np.array([0.01380667, -0.1882067, 0.763], "<f4").tolist()


def test_no_corpus_frame_has_non_finite_points(corpus: Path) -> None:
    for path in sorted((corpus / "point-cloud").iterdir()):
        if path.suffix in (".pcd", ".bin"):
            assert convert(path.read_bytes(), path.name).report.dropped_non_finite == 0, path.name


# --- PCD made here ----------------------------------------------------------------------------------------------


def test_binary_compressed_round_trip() -> None:
    points = np.tile(XYZI, (50, 1))  # repeats, so that LZF finds something to compress
    converted = convert(pcd_xyzi("binary_compressed", compressed_xyzi(points), n=150), "frame.pcd")
    assert converted.data == points.tobytes()


def test_organized_cloud_nans_are_dropped_and_counted() -> None:
    points = np.array([[1, 2, 3, 0.5], [np.nan, np.nan, np.nan, 0.7], [4, 5, 6, np.inf], [7, 8, 9, 1]], "<f4")
    header = PCD_XYZI_HEADER.replace("WIDTH {n}\nHEIGHT 1", "WIDTH 2\nHEIGHT 2").format(n=4, kind="binary")
    converted = convert(header.encode() + points.tobytes(), "organized.pcd")
    assert converted.report.dropped_non_finite == 2
    assert (converted.report.points_in, converted.report.points_out) == (4, 2)
    assert converted.data == points[[0, 3]].tobytes()


def test_pcd_mixed_types_count_and_float_rgb() -> None:
    header = (
        "# made by hand\nFIELDS x y z rgb reflectance hist\nSIZE 8 8 8 4 2 4\nTYPE F F F F U F\nCOUNT 1 1 1 1 1 3\n"
        "WIDTH 2\nDATA binary\n"
    )
    dtype = np.dtype([("x", "<f8"), ("y", "<f8"), ("z", "<f8"), ("rgb", "<u4"), ("i", "<u2"), ("h", "<f4", 3)])
    rows = np.zeros(2, dtype)
    rows["x"], rows["y"], rows["z"] = [1.25, -2.5], [3.0, 4.0], [5.5, 6.5]
    rows["rgb"] = [0x00FF8001, 0x000A141E]
    rows["i"] = [300, 7]
    cloud = read_point_cloud(header.encode() + rows.tobytes(), "typed.pcd")
    assert cloud.xyz.tolist() == [[1.25, 3.0, 5.5], [-2.5, 4.0, 6.5]]
    assert cloud.rgb is not None and cloud.rgb.tolist() == [[255.0, 128.0, 1.0], [10.0, 20.0, 30.0]]
    assert cloud.intensity is not None and cloud.intensity.tolist() == [300.0, 7.0]
    assert cloud.ignored_fields == ("hist",)
    ascii_rgb = np.array([0x00FF8001], "<u4").view("<f4")[0]  # PCL prints the float whose bits are the colour
    text = f"FIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F F\nWIDTH 1\nPOINTS 1\nDATA ascii\n1 2 3 {float(ascii_rgb)!r}\n"
    coloured = read_point_cloud(text.encode(), "float_rgb.pcd")
    assert coloured.rgb is not None and coloured.rgb.tolist() == [[255.0, 128.0, 1.0]]


# --- other formats made here ------------------------------------------------------------------------------------


def test_ascii_text_layouts_comments_and_blank_lines() -> None:
    text = b"# exported by hand\n1.5 -2.25 3 0.5 10 20 30\n\n4 5.125 -6.5 1 40 50 60  # trailing note\r\n"
    converted = convert(text, "frame.TXT")
    assert converted.report.source_format == "ascii/xyzirgb"
    assert converted.data == pack([1.5, 4], [-2.25, 5.125], [3, -6.5], [0.5, 1], [10, 40], [20, 50], [30, 60])
    assert convert(b"1 2 3\n4 5 6\n", "a.xyz").data == pack([1, 4], [2, 5], [3, 6])
    assert convert(b"1 2 3 9 9 9\n", "a.asc").report.source_format == "ascii/xyzrgb"
    assert convert(b"1 2 3 nan\n4 5 6 7\n", "a.txt").report.dropped_non_finite == 1


def test_ply_ascii_and_binary_round_trip() -> None:
    import plyfile

    vertices = np.array(
        [(1.5, -2.25, 3.0, 0.5, 10, 20, 30, 0.1), (4.0, 5.125, -6.5, 1.0, 40, 50, 60, 0.2)],
        dtype=[(n, "<f4") for n in ("x", "y", "z", "intensity")]
        + [(n, "u1") for n in ("red", "green", "blue")]
        + [("nx", "<f4")],
    )
    expected = pack([1.5, 4], [-2.25, 5.125], [3, -6.5], [0.5, 1], [10, 40], [20, 50], [30, 60])
    for text, byte_order, encoding in (
        (True, "=", "ascii"),
        (False, "<", "binary_little_endian"),
        (False, ">", "binary_big_endian"),
    ):
        buffer = io.BytesIO()
        plyfile.PlyData([plyfile.PlyElement.describe(vertices, "vertex")], text=text, byte_order=byte_order).write(
            buffer
        )
        converted = convert(buffer.getvalue(), "scan.ply")
        assert converted.report.source_format == f"ply/{encoding}"
        assert converted.report.ignored_fields == ("nx",)
        assert converted.data == expected, encoding


def test_ply_float_colours_scale_from_fractions() -> None:
    import plyfile

    vertices = np.array(
        [(1.0, 2.0, 3.0, 1.0, 0.5, 0.0, 7.0)],
        dtype=[(n, "<f8") for n in "xyz"] + [(n, "<f4") for n in ("red", "green", "blue", "scalar_intensity")],
    )
    buffer = io.BytesIO()
    plyfile.PlyData([plyfile.PlyElement.describe(vertices, "vertex")]).write(buffer)
    cloud = read_point_cloud(buffer.getvalue(), "scan.ply")
    assert cloud.rgb is not None and cloud.rgb.tolist() == [[255.0, 127.5, 0.0]]
    assert cloud.intensity is not None and cloud.intensity.tolist() == [7.0]
    assert choose_format(cloud) == "binary/xyzirgb"


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_and_laz_round_trip(suffix: str) -> None:
    import laspy

    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.array([0.25, 0.25, 0.25])  # values on the 0.25 grid survive quantisation exactly
    header.offsets = np.array([100.0, -50.0, 0.0])
    las = laspy.LasData(header)
    las.x = np.array([101.5, 99.25, 100.0])
    las.y = np.array([-50.0, -48.75, -60.5])
    las.z = np.array([0.25, 3.0, -1.5])
    las.intensity = np.array([0, 1000, 65535], np.uint16)
    las.red = np.array([0, 128 * 257, 65535], np.uint16)
    las.green = np.array([257, 2 * 257, 3 * 257], np.uint16)
    las.blue = np.array([255 * 257, 0, 10 * 257], np.uint16)
    buffer = io.BytesIO()
    las.write(buffer, do_compress=suffix == ".laz")
    converted = convert(buffer.getvalue(), f"tile{suffix}")
    assert converted.report.source_format == suffix[1:]
    assert converted.report.output_format == "binary/xyzirgb"
    assert "classification" in converted.report.ignored_fields
    assert converted.data == pack(
        [101.5, 99.25, 100.0],
        [-50, -48.75, -60.5],
        [0.25, 3, -1.5],
        [0, 1000, 65535],
        [0, 128, 255],
        [1, 2, 3],
        [255, 0, 10],
    )


def test_far_coordinates_warn_about_float32_precision() -> None:
    converted = convert(b"500000.123 4000000.5 10\n", "utm.txt")
    assert len(converted.report.warnings) == 1
    assert converted.report.warnings[0].startswith("coordinates reach 4,000,000.5; as float32 they are rounded")


# --- encoding ---------------------------------------------------------------------------------------------------


def test_encode_each_format_and_choose_format() -> None:
    xyz, intensity = XYZI[:, :3], XYZI[:, 3]
    rgb = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], "<f4")
    cloud = PointCloud(xyz, intensity, rgb)
    assert choose_format(cloud) == "binary/xyzirgb"
    assert encode(cloud, "binary/xyz") == np.ascontiguousarray(xyz).tobytes()
    assert encode(cloud, "binary/xyzi") == XYZI.tobytes()
    assert encode(cloud, "binary/xyzrgb") == np.hstack([xyz, rgb]).tobytes()
    assert encode(cloud, "binary/xyzirgb") == np.hstack([XYZI, rgb]).tobytes()
    assert choose_format(PointCloud(xyz)) == "binary/xyz"
    assert choose_format(PointCloud(xyz, rgb=rgb)) == "binary/xyzrgb"
    assert len(encode(PointCloud(xyz), "binary/xyz")) == 3 * 12


def test_drop_non_finite_keeps_clean_clouds_untouched() -> None:
    cloud = PointCloud(XYZI[:, :3], XYZI[:, 3])
    assert drop_non_finite(cloud) == (cloud, 0)
    dirty = PointCloud(XYZI[:, :3], np.array([0, np.nan, 1], "<f4"))
    kept, dropped = drop_non_finite(dirty)
    assert (dropped, kept.xyz.tolist()) == (1, XYZI[[0, 2], :3].tolist())


def test_convert_file_writes_the_pack(tmp_path: Path) -> None:
    (tmp_path / "frame.bin").write_bytes(XYZI.tobytes())
    report = convert_file(tmp_path / "frame.bin", tmp_path / "out.bin", "binary/xyz")
    assert (tmp_path / "out.bin").read_bytes() == np.ascontiguousarray(XYZI[:, :3]).tobytes()
    assert report.output_format == "binary/xyz"


# --- intake helpers ---------------------------------------------------------------------------------------------


def test_intake_helpers() -> None:
    assert {".pcd", ".bin", ".ply", ".las", ".laz", ".txt", ".xyz", ".asc"} == SUFFIXES
    assert [source_format_for(n) for n in ("a/B.PCD", "x.bin", "y.laz", "z.asc", "w.png", "pcd")] == [
        "pcd",
        "kitti/bin",
        "laz",
        "ascii",
        None,
        None,
    ]
    assert check_signature("a.pcd", b"# .PCD v0.7 - Poi") is None
    assert check_signature("a.pcd", b"VERSION .5\nFIELDS") is None
    assert check_signature("a.ply", b"ply\nformat ascii") is None
    assert check_signature("a.laz", b"LASF\x00\x00") is None
    assert check_signature("a.bin", b"\x89PNG\r\n\x1a\n") is None  # .bin and ASCII carry no signature
    message = check_signature("scan.pcd", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert message is not None and message.startswith("scan.pcd: a pcd file starts with '#', 'VERSION' or 'FIELDS'")
    assert rule_of(b"\x89PNG\r\n\x1a\n" + bytes(40), "scan.pcd") == "wrong-signature"
    assert check_signature("a.las", b"PK\x03\x04") is not None


# --- bad input --------------------------------------------------------------------------------------------------


def test_truncated_kitti_bin() -> None:
    with pytest.raises(PointCloudError) as caught:
        convert(XYZI.tobytes()[:-3], "000001.bin")
    assert caught.value.rule == "truncated-binary"
    assert str(caught.value).startswith("000001.bin: 45 bytes is not a whole number of KITTI points")


def test_pcd_binary_shorter_than_header_says() -> None:
    assert rule_of(pcd_xyzi("binary", XYZI.tobytes()[:-1]), "short.pcd") == "truncated-binary"


def test_binary_compressed_wrong_sizes_and_corrupt_lzf() -> None:
    block = compressed_xyzi(np.tile(XYZI, (50, 1)))
    compressed_size, raw_size = np.frombuffer(block[:8], "<u4")
    wrong_raw = np.array([compressed_size, raw_size + 4], "<u4").tobytes() + block[8:]
    assert rule_of(pcd_xyzi("binary_compressed", wrong_raw, n=150), "a.pcd") == "corrupt-compressed-data"
    too_long = np.array([compressed_size + 100, raw_size], "<u4").tobytes() + block[8:]
    assert rule_of(pcd_xyzi("binary_compressed", too_long, n=150), "a.pcd") == "truncated-binary"
    garbage = block[:8] + bytes([0xFF]) * (len(block) - 8)
    assert rule_of(pcd_xyzi("binary_compressed", garbage, n=150), "a.pcd") == "corrupt-compressed-data"
    assert rule_of(pcd_xyzi("binary_compressed", b"\x01\x00"), "a.pcd") == "truncated-binary"


@pytest.mark.parametrize(
    ("header", "rule", "message"),
    [
        (
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 3\nHEIGHT 1\nPOINTS 4\nDATA ascii\n",
            "pcd-header-mismatch",
            "bad.pcd: POINTS 4 but WIDTH 3 x HEIGHT 1 = 3",
        ),
        (
            "FIELDS x y z\nSIZE 4 4\nTYPE F F F\nWIDTH 3\nDATA ascii\n",
            "pcd-header-mismatch",
            "bad.pcd: FIELDS names 3 fields (x y z) but SIZE gives 2 values",
        ),
        (
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1\nWIDTH 3\nDATA ascii\n",
            "pcd-header-mismatch",
            "bad.pcd: FIELDS names 3 fields (x y z) but COUNT gives 2 values",
        ),
        (
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F\nWIDTH 3\nDATA ascii\n",
            "pcd-header-mismatch",
            "bad.pcd: FIELDS names 3 fields (x y z) but TYPE gives 2 values",
        ),
        (
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 3\nDATA binary_lz4\n",
            "pcd-bad-data-kind",
            "bad.pcd: DATA 'binary_lz4' is not a PCD data kind",
        ),
        (
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 3\nSCALE 1\nDATA ascii\n",
            "pcd-unknown-keyword",
            "bad.pcd line 5: unknown PCD header keyword 'SCALE'",
        ),
        (
            "FIELDS a b c\nSIZE 4 4 4\nTYPE F F F\nWIDTH 3\nDATA ascii\n",
            "missing-xyz",
            "bad.pcd: no x/y/z field among FIELDS a b c",
        ),
        (
            "FIELDS x y z\nSIZE 4 4 3\nTYPE F F F\nWIDTH 3\nDATA ascii\n",
            "pcd-bad-field-type",
            "bad.pcd: field 'z' has TYPE F SIZE 3 COUNT 1",
        ),
        (
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 3\n",
            "pcd-bad-header",
            "bad.pcd: no 'DATA ascii|binary|binary_compressed' line",
        ),
    ],
)
def test_bad_pcd_headers(header: str, rule: str, message: str) -> None:
    with pytest.raises(PointCloudError) as caught:
        read_point_cloud(header.encode() + b"1 2 3\n4 5 6\n7 8 9\n", "bad.pcd")
    assert caught.value.rule == rule
    assert str(caught.value).startswith(message)


def test_pcd_ascii_rows_must_match_header() -> None:
    header = "VERSION .5\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 3\nHEIGHT 1\nPOINTS 3\nDATA ascii\n"
    with pytest.raises(PointCloudError) as caught:
        read_point_cloud((header + "1 2 3\n4 5\n7 8 9\n").encode(), "rows.pcd")
    assert (caught.value.rule, str(caught.value).split(";")[0]) == (
        "ascii-columns",
        "rows.pcd line 11: 2 values where the header's fields make 3",
    )
    assert rule_of((header + "1 2 3\n").encode(), "rows.pcd") == "pcd-header-mismatch"


def test_ascii_row_with_wrong_column_count_names_the_line() -> None:
    with pytest.raises(PointCloudError) as caught:
        convert(b"# x y z i\n1 2 3 4\n\n5 6 7 8\n9 10 11\n", "frame.txt")
    assert caught.value.rule == "ascii-columns"
    assert str(caught.value).startswith("frame.txt line 5: 3 values where the first row has 4")
    assert rule_of(b"1 2\n3 4\n", "frame.txt") == "ascii-columns"
    with pytest.raises(PointCloudError) as bad_number:
        convert(b"1 2 3\n4 five 6\n", "frame.xyz")
    assert (bad_number.value.rule, str(bad_number.value).split(";")[0]) == (
        "ascii-bad-number",
        "frame.xyz line 2: 'five' is not a number",
    )


def test_las_garbage_and_unreadable_ply() -> None:
    assert rule_of(b"LASF" + bytes(range(200)), "tile.las") == "unreadable-las"
    assert rule_of(b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n1\n", "a.ply") in (
        "unreadable-ply",
        "missing-xyz",
    )
    assert rule_of(b"ply\nformat binary_little_endian 1.0\nelement vertex 5\nproperty float x\n", "b.ply") == (
        "unreadable-ply"
    )


def test_too_many_points_names_the_count() -> None:
    points = np.zeros((1_000_001, 4), "<f4")
    with pytest.raises(PointCloudError) as caught:
        convert(points.tobytes(), "huge.bin")
    assert caught.value.rule == "too-many-points"
    assert str(caught.value).startswith("huge.bin: 1,000,001 points, more than 1,000,000")
    assert "downsample" in str(caught.value)
    assert rule_of(XYZI.tobytes(), "small.bin", max_points=2) == "too-many-points"


def test_recommended_limit_is_a_warning() -> None:
    converted = convert(np.zeros((500_001, 4), "<f4").tobytes(), "big.bin")
    assert converted.report.warnings == [
        "500,001 points: Ground Truth recommends at most 500,000 per frame; downsample for a responsive labeling tool"
    ]


def test_empty_after_dropping_non_finite() -> None:
    with pytest.raises(PointCloudError) as caught:
        convert(np.full((3, 4), np.nan, "<f4").tobytes(), "blind.bin")
    assert caught.value.rule == "no-points"
    assert str(caught.value).startswith("blind.bin: nothing to label: all 3 points have NaN or infinite values")
    assert rule_of(b"", "empty.bin") == "no-points"


def test_format_asking_for_a_missing_field() -> None:
    with pytest.raises(PointCloudError) as caught:
        convert(XYZI.tobytes(), "000002.bin", "binary/xyzrgb")
    assert caught.value.rule == "field-missing-for-format"
    assert str(caught.value).startswith(
        "000002.bin: binary/xyzrgb needs colour, but kitti/bin has none; ask for binary/xyzi"
    )
    assert rule_of(XYZI.tobytes(), "000002.bin", "text/xyzi") == "unsupported-output-format"


def test_unsupported_suffix() -> None:
    with pytest.raises(PointCloudError) as caught:
        read_point_cloud(b"", "scan.e57")
    assert caught.value.rule == "unsupported-format"
    assert str(caught.value).startswith("scan.e57: unsupported point cloud suffix '.e57'")
