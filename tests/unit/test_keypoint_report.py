"""Keypoint report: PNG overlays on the real image, and an HTML page that escapes everything users wrote."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from groundcrew.workflows.keypoints.checks import Finding, Rule, Severity
from groundcrew.workflows.keypoints.poses import Pose, Rig, RigEdge, RigKeypoint
from groundcrew.workflows.keypoints.report import ImageDecodeError, ReportEntry, render_overlay, render_report

SHARED_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"  # beside the repo, like the `corpus` fixture

IMAGE = SHARED_CORPUS / "images/coco_val2017_000000000785.jpg"
ANNOTATIONS = SHARED_CORPUS / "external-annotations/coco_person_keypoints_mmpose_test.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def photo() -> bytes:
    if not IMAGE.exists():
        pytest.skip(f"corpus image {IMAGE} is not here")
    return IMAGE.read_bytes()


@pytest.fixture
def skier() -> tuple[Pose, Rig]:
    """The person of COCO image 785 and a rig with a colour per side, as COCO annotates them."""
    document = json.loads(ANNOTATIONS.read_text(encoding="utf-8"))
    names = document["categories"][0]["keypoints"]
    (annotation,) = [a for a in document["annotations"] if a["image_id"] == 785]
    values = annotation["keypoints"]
    pose = Pose({name: (float(values[3 * k]), float(values[3 * k + 1])) for k, name in enumerate(names)})
    colors = {"left": "#00ff00", "right": "#0000ff"}
    rig = Rig(
        "coco-person",
        tuple(RigKeypoint(name, colors.get(name.split("_")[0], "#ffff00")) for name in names),
        edges=tuple(RigEdge(names[a - 1], names[b - 1], "#ff00ff") for a, b in document["categories"][0]["skeleton"]),
    )
    return pose, rig


def test_the_overlay_is_a_png_of_the_images_size_with_the_skeleton_drawn(photo: bytes, skier: tuple[Pose, Rig]) -> None:
    pose, rig = skier
    png = render_overlay(photo, pose, rig, [])
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as overlay:
        assert overlay.size == (640, 425)
        pixels = overlay.convert("RGB")
        x, y = pose.points["left_knee"]
        assert pixels.getpixel((round(x), round(y))) == (0, 255, 0)  # the keypoint's colour
        x, y = pose.points["right_hip"]
        assert pixels.getpixel((round(x), round(y))) == (0, 0, 255)
        # Halfway along the left thigh (hip to knee), the edge's colour.
        (hx, hy), (kx, ky) = pose.points["left_hip"], pose.points["left_knee"]
        assert pixels.getpixel((round((hx + kx) / 2), round((hy + ky) / 2))) == (255, 0, 255)


def test_flagged_keypoints_are_ringed_in_red(photo: bytes, skier: tuple[Pose, Rig]) -> None:
    pose, rig = skier
    finding = Finding(Rule.LEFT_RIGHT_SWAP, ("left_wrist", "right_wrist"), "swapped", Severity.ERROR)

    def red_around(png: bytes, name: str) -> int:
        x, y = pose.points[name]
        with Image.open(io.BytesIO(png)) as overlay:
            pixels = overlay.convert("RGB")
            return sum(
                pixels.getpixel((round(x) + dx, round(y) + dy)) == (255, 0, 0)
                for dx in range(-10, 11)
                for dy in range(-10, 11)
            )

    flagged, plain = render_overlay(photo, pose, rig, [finding]), render_overlay(photo, pose, rig, [])
    assert red_around(flagged, "left_wrist") > 20 and red_around(flagged, "right_wrist") > 20
    assert red_around(plain, "left_wrist") == 0 and red_around(flagged, "nose") == 0


def test_bytes_that_are_no_image_or_a_cut_off_one_are_named(photo: bytes, skier: tuple[Pose, Rig]) -> None:
    pose, rig = skier
    with pytest.raises(ImageDecodeError, match="not an image"):
        render_overlay(b"<html>an error page, not a photo</html>", pose, rig, [])
    with pytest.raises(ImageDecodeError, match="truncated"):
        render_overlay(photo[: len(photo) // 2], pose, rig, [])


def test_a_rig_colour_that_is_not_a_colour_is_named(photo: bytes) -> None:
    rig = Rig("bad", (RigKeypoint("nose", "blue-ish"),))
    with pytest.raises(ValueError, match="rig 'bad': keypoint nose has colour 'blue-ish', which is not a colour"):
        render_overlay(photo, Pose({"nose": (10.0, 10.0)}), rig, [])


def test_the_overlay_draws_any_image_mode() -> None:
    # A greyscale PNG with transparency: drawn in colour all the same.
    source = io.BytesIO()
    Image.new("LA", (30, 20), (128, 255)).save(source, format="PNG")
    rig = Rig("dot", (RigKeypoint("a", "#ff8800"),))
    png = render_overlay(source.getvalue(), Pose({"a": (15.0, 10.0)}), rig, [])
    with Image.open(io.BytesIO(png)) as overlay:
        assert overlay.size == (30, 20) and overlay.mode == "RGB"
        assert overlay.getpixel((15, 10)) == (255, 136, 0)


def test_the_report_escapes_every_user_text() -> None:
    finding = Finding(
        Rule.LEFT_RIGHT_SWAP, ("<script>", "right_eye"), 'left <b>"eye"</b> & <script>x()</script>', Severity.ERROR
    )
    entries = [
        ReportEntry('<script>alert("image")</script>.jpg', "javascript:alert(1)", [finding], label="<script>"),
        ReportEntry("clean.jpg", "clean.png", []),
    ]
    page = render_report(entries, "QA <script>alert('title')</script>")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "left &lt;b&gt;&quot;eye&quot;&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;" in page
    assert "<title>QA &lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;</title>" in page
    # The overlay link stays a relative path: the scheme's colon is quoted away.
    assert 'src="javascript%3Aalert%281%29"' in page


def test_the_report_has_one_section_per_flagged_image_with_its_overlay_and_findings() -> None:
    swap = Finding(Rule.LEFT_RIGHT_SWAP, ("left_knee", "right_knee"), "knees look swapped", Severity.ERROR)
    spot = Finding(Rule.SAME_SPOT, ("nose", "left_eye"), "one spot", Severity.WARNING)
    entries = [
        ReportEntry("images/a b.jpg", "overlays/a b.png", [swap, spot], label="worker 3, Skeleton 1"),
        ReportEntry("images/c.jpg", "overlays/c.png", []),
        ReportEntry("images/d.jpg", "overlays/d.png", [swap]),
    ]
    page = render_report(entries, "Keypoint QA")
    assert page.startswith("<!doctype html>")
    assert page.count("<section>") == 2
    assert "2 of 3 skeletons flagged (left-right-swap: 2, same-spot: 1)" in page
    assert 'src="overlays/a%20b.png"' in page and "images/c.jpg" not in page
    assert '<li class="error"><code>left-right-swap</code> left_knee, right_knee: knees look swapped</li>' in page
    assert '<li class="warning"><code>same-spot</code>' in page
    assert "worker 3, Skeleton 1" in page
    assert "default-src 'none'" in page  # no script could run even if something slipped through


def test_an_empty_report_says_so() -> None:
    page = render_report([], "Keypoint QA")
    assert "0 of 0 skeletons flagged (no findings)" in page and "<section>" not in page
