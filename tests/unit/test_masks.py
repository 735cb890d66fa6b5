"""Rasterising shapes into Ground Truth masks, the colour map, PNG encoding and the mask check."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundcrew.core.imports import Refusal
from groundcrew.workflows.adjustment.imports.segmentation import RLE, Shape, parse_labelme
from groundcrew.workflows.adjustment.masks import (
    ClassMap,
    TooManyClasses,
    check_mask,
    decode_rle,
    encode_mask,
    image_size,
    internal_color_map,
    rasterize,
    resolve_size,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
CLASSES = ClassMap.from_labels(["road", "car"])


def square(label: str, left: float, top: float, right: float, bottom: float, source: str = "s") -> Shape:
    return Shape(label, [[(left, top), (right, top), (right, bottom), (left, bottom)]], None, source)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- class map -----------------------------------------------------------------------------------------------------


def test_class_map_background_first_and_colours():
    classes = ClassMap.from_labels(["road", "car", "sign"], {"car": "#FF0000"})
    assert classes.names == ("BACKGROUND", "road", "car", "sign")
    assert classes.colors[0] == "#ffffff" and classes.colors[2] == "#ff0000"
    assert len(set(classes.colors)) == 4
    assert ClassMap.from_labels(["road", "car", "sign"], {"car": "#FF0000"}) == classes  # deterministic


def test_generated_colours_stay_distinct_for_255_labels():
    classes = ClassMap.from_labels([f"c{i}" for i in range(255)])
    assert len(set(classes.colors)) == 256


def test_class_map_refusals():
    with pytest.raises(TooManyClasses) as error:
        ClassMap.from_labels([f"c{i}" for i in range(256)])
    assert error.value.rule == "class-id-over-255"
    with pytest.raises(ValueError, match="unique"):
        ClassMap.from_labels(["a", "a"])
    with pytest.raises(ValueError, match="distinct"):
        ClassMap.from_labels(["a", "b"], {"a": "#123456", "b": "#123456"})
    with pytest.raises(ValueError, match="rrggbb"):
        ClassMap.from_labels(["a"], {"a": "red"})


def test_internal_color_map():
    assert internal_color_map(CLASSES) == {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
        "1": {"class-name": "road", "hex-color": CLASSES.colors[1], "confidence": 0.0},
        "2": {"class-name": "car", "hex-color": CLASSES.colors[2], "confidence": 0.0},
    }


# --- rasterising ---------------------------------------------------------------------------------------------------


def test_rasterize_size_background_and_pixel_centres():
    mask = rasterize([square("car", 1, 1, 3, 4)], CLASSES, (6, 5))
    assert mask.shape == (5, 6) and mask.dtype == np.uint8
    expected = np.zeros((5, 6), dtype=np.uint8)
    expected[1:4, 1:3] = 2
    np.testing.assert_array_equal(mask, expected)


def test_rasterize_fractional_edges_use_pixel_centres():
    # centres at 0.5, 1.5, ...: x from 0.6 to 2.5 holds centres 1.5 only (2.5 is the right edge: outside)
    mask = rasterize([square("road", 0.6, 0.5, 2.5, 1.6)], CLASSES, (4, 3))
    assert np.argwhere(mask).tolist() == [[0, 1], [1, 1]]


def test_shared_edges_neither_overlap_nor_gap():
    # column 2's centre lies on the shared edge x=2.5: left edges are inside, right edges outside, so it is "car"
    shapes = [square("road", 0, 0, 2.5, 4), square("car", 2.5, 0, 5, 4)]
    for ordered in (shapes, shapes[::-1]):
        mask = rasterize(ordered, CLASSES, (5, 4))
        assert (mask[:, :2] == 1).all() and (mask[:, 2:] == 2).all()


def test_later_shape_wins_overlap():
    shapes = [square("road", 0, 0, 4, 4), square("car", 2, 2, 6, 6)]
    mask = rasterize(shapes, CLASSES, (6, 6))
    assert mask[3, 3] == 2 and mask[1, 1] == 1 and mask[5, 5] == 2
    assert rasterize(shapes[::-1], CLASSES, (6, 6))[3, 3] == 1


def test_even_odd_self_intersecting_and_multi_part_union():
    # a pentagram: the centre pentagon is crossed twice, so even-odd leaves it empty
    star = Shape("road", [[(5, 0), (8, 10), (0, 3.5), (10, 3.5), (2, 10)]], None, "star")
    mask = rasterize([star], CLASSES, (10, 10))
    assert mask[5, 5] == 0 and mask[2, 5] == 1 and mask[8, 2] == 1
    parts = Shape("car", [[(0, 0), (2, 0), (2, 2), (0, 2)], [(1, 1), (3, 1), (3, 3), (1, 3)]], None, "parts")
    assert rasterize([parts], CLASSES, (4, 4))[1, 1] == 2  # parts are united, overlap is not a hole


def test_clipping_at_the_border():
    mask = rasterize([square("road", -5, -5, 2, 2), square("car", 3, 3, 50, 50)], CLASSES, (5, 4))
    expected = np.zeros((4, 5), dtype=np.uint8)
    expected[:2, :2] = 1
    expected[3:, 3:] = 2
    np.testing.assert_array_equal(mask, expected)
    assert not rasterize([square("road", 6, 0, 9, 3)], CLASSES, (5, 4)).any()


def test_rle_is_column_major():
    # 3 rows x 2 columns; runs: 1 zero, 3 ones, 2 zeros -> column 0 is [0, 1, 1], column 1 is [1, 0, 0]
    rle = RLE(height=3, width=2, counts=(1, 3, 2))
    np.testing.assert_array_equal(decode_rle(rle), [[False, True], [True, False], [True, False]])
    mask = rasterize([Shape("car", None, rle, "r")], CLASSES, (2, 3))
    np.testing.assert_array_equal(mask, [[0, 2], [2, 0], [2, 0]])
    with pytest.raises(ValueError, match="RLE is 2x3"):
        rasterize([Shape("car", None, rle, "r")], CLASSES, (3, 2))


def test_rasterize_labelme_corpus_file():
    path = CORPUS / "external-annotations" / "labelme_2011_000003_polygons.json"
    if not path.exists():
        pytest.skip("corpus not present")
    images, categories, _ = parse_labelme(path.read_bytes())
    mask = rasterize(images[0].shapes, ClassMap.from_labels(categories), images[0].declared_size)
    assert mask.shape == (338, 500)
    assert set(np.unique(mask)) == {0, 1, 2, 3}
    assert mask[200, 250] == 1  # inside the first person


# --- PNG -----------------------------------------------------------------------------------------------------------


def test_encode_and_check_round_trip():
    mask = rasterize([square("car", 1, 1, 3, 4)], CLASSES, (7, 5))
    data = encode_mask(mask)
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode, image.size, image.palette) == ("PNG", "L", (7, 5), None)
        np.testing.assert_array_equal(np.asarray(image), mask)
    assert check_mask(data, (7, 5), CLASSES) == []


def test_encode_refuses_non_masks():
    with pytest.raises(ValueError, match="2-D uint8"):
        encode_mask(np.zeros((2, 2), dtype=np.int32))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("RGB", (4, 3)), "mode is RGB"),
        (Image.new("RGBA", (4, 3)), "mode is RGBA"),
        (Image.new("I;16", (4, 3)), "16-bit"),
        (Image.new("P", (4, 3)), "palette colour of index 0 is #000000"),
        (Image.new("L", (5, 3)), "size is 5x3, the image is 4x3"),
        (Image.new("L", (4, 4)), "size is 4x4"),
        (Image.new("L", (4, 3), 7), "values 7 are not class indices (0..2)"),
    ],
)
def test_check_mask_problems(image, expected):
    problems = check_mask(png(image), (4, 3), CLASSES)
    assert len(problems) == 1 and expected in problems[0]


def test_check_mask_catches_transparency_and_garbage():
    buffer = io.BytesIO()
    Image.new("L", (4, 3)).save(buffer, format="PNG", transparency=0)
    assert "tRNS" in check_mask(buffer.getvalue(), (4, 3), CLASSES)[0]
    assert "not a readable image" in check_mask(b"nope", (4, 3), CLASSES)[0]


def test_check_mask_reads_a_real_ground_truth_palette_mask_by_its_colours():
    # a consolidated Ground Truth output mask is a palette (P) PNG: accepted when its palette matches the map
    path = CORPUS / "images" / "l4v-augmentation_mask.png"
    if not path.exists():
        pytest.skip("corpus not present")
    with Image.open(path) as image:
        palette = image.getpalette() or []
        present = sorted(set(np.asarray(image).ravel().tolist()))
    colors = {f"class-{i}": "#{:02x}{:02x}{:02x}".format(*palette[3 * i : 3 * i + 3]) for i in present if i}
    matching = ClassMap.from_labels(list(colors), colors)
    assert present == [0, 1, 2, 3] and palette[:3] == [255, 255, 255]  # white background, three classes
    assert check_mask(path.read_bytes(), (1696, 959), matching) == []
    problems = check_mask(path.read_bytes(), (1696, 959), CLASSES)
    assert problems and all("palette" in p or "not class indices" in p for p in problems)


def test_a_palette_mask_whose_colours_match_the_map_passes():
    mask = Image.new("P", (4, 3), 0)
    palette = [255, 255, 255] + [int(CLASSES.colors[1][i : i + 2], 16) for i in (1, 3, 5)] + [0] * (254 * 3)
    mask.putpalette(palette)
    mask.putpixel((1, 1), 1)
    assert check_mask(png(mask), (4, 3), CLASSES) == []


# --- image size ----------------------------------------------------------------------------------------------------


def test_image_size_and_resolve():
    path = CORPUS / "images" / "labelme_voc_2011_000003.jpg"
    if not path.exists():
        pytest.skip("corpus not present")
    assert image_size(path.read_bytes()) == (500, 338)
    assert resolve_size((500, 338), (500, 338)) == (500, 338)
    assert resolve_size(None, (500, 338)) == (500, 338)
    refusal = resolve_size((500, 337), (500, 338), "2011_000003.jpg")
    assert isinstance(refusal, Refusal) and (refusal.image, refusal.rule) == ("2011_000003.jpg", "size-mismatch")
    with pytest.raises(ValueError, match="not a readable image"):
        image_size(b"GIF but not really")
