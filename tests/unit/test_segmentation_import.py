"""Parsers of other tools' segmentation files, on real exports from the corpus and on hand-made edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundcrew.workflows.adjustment.imports.segmentation import (
    RLE,
    decode_coco_rle_string,
    parse_coco,
    parse_cvat,
    parse_label_studio,
    parse_labelme,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "external-annotations"


def corpus(name: str) -> bytes:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} is not present")
    return path.read_bytes()


def rules(refusals) -> list[tuple[str, str]]:
    return [(r.item, r.rule) for r in refusals]


# --- corpus files --------------------------------------------------------------------------------------------------


def test_coco_datumaro_polygon_and_uncompressed_rle():
    images, categories, refusals = parse_coco(corpus("coco_instances_datumaro_test_rle.json"))
    assert categories == ["a", "b", "c"]
    assert refusals == []
    (image,) = images
    assert (image.file_name, image.declared_size) == ("b.jpg", (5, 10))
    polygon, crowd = image.shapes
    assert polygon.label == "a" and polygon.rle is None and not polygon.crowd
    assert polygon.polygons == [[(0.0, 0.0), (1.0, 0.0), (1.0, 2.0), (0.0, 2.0)]]
    assert crowd.label == "b" and crowd.crowd and crowd.polygons is None
    assert crowd.rle == RLE(height=10, width=5, counts=(0, 20, 30))


def test_coco_labelme2coco_polygons_keep_category_order_and_parts():
    images, categories, refusals = parse_coco(corpus("coco_instances_labelme2coco.json"))
    assert refusals == []
    assert categories[:3] == ["_background_", "aeroplane", "bicycle"] and len(categories) == 21
    assert [(i.file_name, i.declared_size, len(i.shapes)) for i in images] == [
        ("JPEGImages/2011_000003.jpg", (500, 338), 3),
        ("JPEGImages/2011_000025.jpg", (500, 375), 3),
        ("JPEGImages/2011_000006.jpg", (500, 375), 6),
    ]
    first = images[0].shapes[0]
    assert first.label == "person" and first.source == "annotation 0"
    assert len(first.polygons[0]) == 41
    assert first.polygons[0][0] == pytest.approx((250.8142292490119, 107.33596837944665))
    sofa = images[2].shapes[-1]
    assert sofa.label == "sofa" and [len(p) for p in sofa.polygons] == [9, 3, 9, 4]


def test_labelme_polygons():
    images, categories, refusals = parse_labelme(corpus("labelme_2011_000003_polygons.json"))
    assert refusals == []
    assert categories == ["person", "bottle", "__ignore__"]
    (image,) = images
    assert (image.file_name, image.declared_size) == ("2011_000003.jpg", (500, 338))
    assert [s.label for s in image.shapes] == ["person", "person", "person", "bottle", "__ignore__"]
    assert [len(s.polygons[0]) for s in image.shapes] == [41, 41, 4, 9, 12]
    assert image.shapes[3].polygons[0][0] == pytest.approx((374.81422924901193, 159.33596837944665))


def test_labelme_embedded_image_data_is_ignored():
    images, categories, refusals = parse_labelme(corpus("labelme_apc2016_obj3_embedded_imageData.json"))
    assert refusals == []
    assert categories == [
        "shelf",
        "highland_6539_self_stick_notes",
        "mead_index_cards",
        "kong_air_dog_squeakair_tennis_ball",
    ]
    assert images[0].declared_size == (1210, 907)
    assert [len(s.polygons[0]) for s in images[0].shapes] == [4, 10, 9, 28]


def test_cvat_boxes_polygons_and_refused_shapes():
    images, categories, refusals = parse_cvat(corpus("cvat_for_images_1.1_datumaro_test.xml"))
    assert categories == ["label1", "label2"]  # skeleton and its point labels cannot be painted
    assert [(i.file_name, i.declared_size) for i in images] == [("img0.jpg", (8, 8)), ("img1.jpg", (10, 10))]
    (box,) = images[0].shapes
    assert box.label == "label1" and box.polygons == [[(0.0, 2.0), (4.0, 2.0), (4.0, 4.0), (0.0, 4.0)]]
    assert images[1].shapes == []
    assert [(r.image, r.item, r.rule) for r in refusals] == [
        ("img0.jpg", "polyline[1]", "unsupported-shape"),
        ("img0.jpg", "skeleton[2]", "unsupported-shape"),
        ("img1.jpg", "polygon[0]", "unknown-category"),  # label=""
        ("img1.jpg", "points[1]", "unsupported-shape"),
        ("img1.jpg", "skeleton[2]", "unsupported-shape"),
    ]


def test_label_studio_percent_points_become_pixels():
    images, categories, refusals = parse_label_studio(corpus("label-studio_export_polygonlabels.json"))
    assert refusals == []
    assert categories == ["Airplane"]
    (image,) = images
    assert (image.file_name, image.declared_size) == ("/image2", (640, 426))
    (shape,) = image.shapes
    assert len(shape.polygons[0]) == 37
    assert shape.polygons[0][0] == pytest.approx((60 * 640 / 100, 19.55922865013774 * 426 / 100))


# --- RLE -----------------------------------------------------------------------------------------------------------


def test_compressed_rle_string_hand_encoded():
    # runs 3, 2, 5 are single characters (value + 48); run 40 is stored as 40 - 2 = 38 = 6 + 1*32:
    # groups 6|0x20 -> 'V', 1 -> '1'; run 1 is stored as 1 - 5 = -4 -> group 28 with the sign bit -> 'L'
    assert decode_coco_rle_string("325V1L") == [3, 2, 5, 40, 1]
    assert decode_coco_rle_string("") == []


def test_compressed_rle_in_coco_document():
    document = {
        "images": [{"id": 1, "file_name": "x.png", "width": 17, "height": 3}],
        "categories": [{"id": 7, "name": "thing"}],
        "annotations": [
            {
                "id": 5,
                "image_id": 1,
                "category_id": 7,
                "iscrowd": 1,
                "segmentation": {"size": [3, 17], "counts": "325V1L"},
            }
        ],
    }
    images, _, refusals = parse_coco(json.dumps(document))
    assert refusals == []
    assert images[0].shapes[0].rle == RLE(3, 17, (3, 2, 5, 40, 1))


@pytest.mark.parametrize("counts", ["32", "3#", [1, 2]])
def test_bad_rle_is_refused(counts):
    document = {
        "images": [{"id": 1, "file_name": "x.png", "width": 17, "height": 3}],
        "categories": [{"id": 7, "name": "thing"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 7, "segmentation": {"size": [3, 17], "counts": counts}}
        ],
    }
    images, _, refusals = parse_coco(document)
    assert rules(refusals) == [("annotation 5", "bad-coordinates")] and images[0].shapes == []


def test_rle_of_another_size_is_refused():
    document = {
        "images": [{"id": 1, "file_name": "x.png", "width": 4, "height": 3}],
        "categories": [{"id": 7, "name": "thing"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 7, "segmentation": {"size": [4, 3], "counts": [12]}}],
    }
    assert rules(parse_coco(document)[2]) == [("annotation 5", "size-mismatch")]


# --- refusal rules, each next to a good shape that must survive -----------------------------------------------------

GOOD = [10, 10, 20, 10, 20, 20]


def coco_with(*segmentations, category_id=1, images=None):
    return {
        "images": images or [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [GOOD]},
            *(
                {"id": n, "image_id": 1, "category_id": category_id, "segmentation": s}
                for n, s in enumerate(segmentations, start=2)
            ),
        ],
    }


@pytest.mark.parametrize(
    ("segmentation", "rule"),
    [
        ([[1, 1, 5, 5]], "polygon-too-few-points"),
        ([[200, 10, 210, 10, 210, 20]], "polygon-outside-image"),
        ([[-30, -5, -1, -5, -1, 0]], "polygon-outside-image"),
        ([[1, 1, "x", 5, 5, 1]], "bad-coordinates"),
        ([[1, 1, float("nan"), 5, 5, 1]], "bad-coordinates"),
        ([[1, 1, 5, 5, 1]], "bad-coordinates"),
        ([[1, 1, True, 5, 5, 1]], "bad-coordinates"),
    ],
)
def test_coco_refusals_keep_good_shapes(segmentation, rule):
    images, _, refusals = parse_coco(coco_with(segmentation))
    assert rules(refusals) == [("annotation 2", rule)]
    assert [s.source for s in images[0].shapes] == ["annotation 1"]


def test_partly_outside_polygon_is_kept():
    images, _, refusals = parse_coco(coco_with([[-10, -10, 50, 10, 10, 200]]))
    assert refusals == [] and len(images[0].shapes) == 2


def test_bad_part_of_multi_part_polygon_is_refused_alone():
    images, _, refusals = parse_coco(coco_with([GOOD, [1, 2]]))
    assert rules(refusals) == [("annotation 2 polygon 1", "polygon-too-few-points")]
    assert images[0].shapes[1].polygons == [[(10, 10), (20, 10), (20, 20)]]


def test_unknown_category_and_unknown_image():
    document = coco_with([GOOD], category_id=9)
    document["annotations"].append({"id": 3, "image_id": 99, "category_id": 1, "segmentation": [GOOD]})
    images, _, refusals = parse_coco(document)
    assert rules(refusals) == [("annotation 2", "unknown-category"), ("annotation 3", "unknown-image")]
    assert len(images[0].shapes) == 1


def test_duplicate_image_keeps_the_first():
    images_list = [
        {"id": 1, "file_name": "a.jpg", "width": 100, "height": 50},
        {"id": 2, "file_name": "a.jpg", "width": 100, "height": 50},
    ]
    images, _, refusals = parse_coco(coco_with(images=images_list))
    assert [(r.image, r.rule) for r in refusals] == [("a.jpg", "duplicate-image")]
    assert len(images) == 1 and len(images[0].shapes) == 1


def test_more_than_255_categories_refuses_the_extra_ones_only():
    labels = [f"c{i}" for i in range(257)]
    document = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": i, "name": name} for i, name in enumerate(labels)],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 0, "segmentation": [GOOD]},
            {"id": 2, "image_id": 1, "category_id": 256, "segmentation": [GOOD]},
        ],
    }
    images, categories, refusals = parse_coco(document)
    assert categories == labels[:255]
    assert ("annotation 2", "class-id-over-255") in rules(refusals)
    assert {r.rule for r in refusals} == {"class-id-over-255"}
    assert [s.label for s in images[0].shapes] == ["c0"]


def test_labelme_rectangle_and_unsupported_shapes():
    document = {
        "imagePath": "p.jpg",
        "imageWidth": 40,
        "imageHeight": 30,
        "shapes": [
            {"label": "box", "shape_type": "rectangle", "points": [[1, 2], [5, 8]]},
            {"label": "ring", "shape_type": "circle", "points": [[10, 10], [12, 12]]},
            {"label": "", "shape_type": "polygon", "points": [[1, 1], [2, 1], [2, 2]]},
            {"label": "far", "shape_type": "polygon", "points": [[100, 1], [120, 1], [120, 20]]},
            {"label": "nan", "shape_type": "polygon", "points": [[1, 1], [2, "NaN"], [2, 2]]},
        ],
    }
    images, categories, refusals = parse_labelme(document)
    assert categories == ["box"]
    assert images[0].shapes[0].polygons == [[(1, 2), (5, 2), (5, 8), (1, 8)]]
    assert rules(refusals) == [
        ("shapes[1]", "unsupported-shape"),
        ("shapes[2]", "unknown-category"),
        ("shapes[3]", "polygon-outside-image"),
        ("shapes[4]", "bad-coordinates"),
    ]
    assert "'circle'" in refusals[0].message


def test_cvat_refuses_doctype_and_entities():
    text = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><annotations>&x;</annotations>'
    images, _, refusals = parse_cvat(text)
    assert images == [] and rules(refusals) == [("document", "xml-declarations")]


def test_cvat_duplicate_image_z_order_and_rotation():
    text = """<annotations><meta><task><labels><label><name>a</name></label><label><name>b</name></label>
    </labels></task></meta>
    <image name="i.jpg" width="10" height="10">
      <polygon label="a" points="0,0;9,0;9,9" z_order="2"/>
      <polygon label="b" points="0,0;9,0;0,9" z_order="1"/>
      <polygon label="b" points="0,0;nan,0;0,9"/>
      <box label="a" xtl="2" ytl="2" xbr="6" ybr="4" rotation="90"/>
    </image>
    <image name="i.jpg" width="10" height="10"/></annotations>"""
    images, _, refusals = parse_cvat(text)
    assert rules(refusals) == [("polygon[2]", "bad-coordinates"), ("image id None", "duplicate-image")]
    assert [s.source for s in images[0].shapes] == ["box[3]", "polygon[1]", "polygon[0]"]
    rotated = images[0].shapes[0].polygons[0]
    assert [(round(x, 6), round(y, 6)) for x, y in rotated] == [(5, 1), (5, 5), (3, 5), (3, 1)]


def test_label_studio_refusals_and_extra_annotations():
    def result(kind, value):
        return {"id": kind, "type": kind, "value": value, "original_width": 200, "original_height": 100}

    tasks = [
        {
            "id": 1,
            "data": {"image": "s3://b/one.jpg"},
            "annotations": [
                {
                    "id": 10,
                    "result": [
                        result("polygonlabels", {"points": [[10, 10], [20, 10], [20, 20]], "polygonlabels": ["a"]}),
                        result(
                            "rectanglelabels", {"x": 50, "y": 50, "width": 10, "height": 20, "rectanglelabels": ["b"]}
                        ),
                        result("keypointlabels", {"x": 5, "y": 5, "keypointlabels": ["a"]}),
                    ],
                },
                {"id": 11, "result": []},
                {"id": 12, "was_cancelled": True, "result": []},
            ],
        },
        {"id": 2, "data": {"image": "s3://b/one.jpg"}, "annotations": []},
    ]
    images, categories, refusals = parse_label_studio(tasks)
    assert categories == ["a", "b"]
    assert images[0].shapes[1].polygons == [[(100, 50), (120, 50), (120, 70), (100, 70)]]
    assert rules(refusals) == [
        ("task 1 annotation 11", "duplicate-image"),
        ("task 1 result 'keypointlabels'", "unsupported-shape"),
        ("task 2", "duplicate-image"),
    ]


def test_unreadable_documents_are_one_refusal():
    assert rules(parse_coco(b"{nope")[2]) == [("document", "bad-document")]
    assert rules(parse_labelme({"shapes": "x"})[2]) == [("document", "bad-document")]
    assert rules(parse_cvat("<annotations>")[2]) == [("document", "bad-document")]
    assert rules(parse_label_studio({"not": "a list"})[2]) == [("document", "bad-document")]
