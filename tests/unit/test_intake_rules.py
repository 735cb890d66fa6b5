"""Intake rules: event keys, which objects are labeled, sealed, ignored or rejected, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundcrew.core.media import MAX_IMAGE_BYTES
from groundcrew.intake.rules import (
    Decision,
    Disposition,
    IncomingObject,
    check_signature,
    decide,
    decode_event_key,
    unknown_project_decision,
)

IMAGES = Path(__file__).resolve().parents[2] / "local" / "groundcrew_local" / "sample_data" / "shapes" / "images"


def obj(key: str, size: int = 1234) -> IncomingObject:
    return IncomingObject(bucket="data", key=key, size=size, etag="0123abcd")


@pytest.mark.parametrize(
    ("event_key", "key"),
    [
        ("a+b%2Bc%2F%C3%A9.png", "a b+c/é.png"),
        ("incoming/shapes/square+02%2Bcaf%C3%A9.png", "incoming/shapes/square 02+café.png"),
        ("incoming/shapes/100%25+sure.jpg", "incoming/shapes/100% sure.jpg"),
        ("incoming/shapes/plain.png", "incoming/shapes/plain.png"),
    ],
)
def test_decode_event_key_undoes_s3_form_encoding(event_key: str, key: str) -> None:
    assert decode_event_key(event_key) == key


@pytest.mark.parametrize(
    ("key", "project"),
    [
        ("incoming/shapes/a.png", "shapes"),
        ("incoming/shapes/sub/dir/a.png", "shapes"),
        ("incoming/a.png", None),
        ("incoming//a.png", None),
        ("uploads/shapes/a.png", None),
    ],
)
def test_project_name_is_the_first_folder_under_incoming(key: str, project: str | None) -> None:
    assert obj(key).project_name == project


def test_seal_marker_seals_even_when_empty() -> None:
    assert decide(obj("incoming/shapes/_SEAL", size=0), seal_marker="_SEAL") == Decision(Disposition.SEAL)


def test_custom_seal_marker_is_honoured_and_the_default_one_is_then_just_a_file() -> None:
    assert decide(obj("incoming/shapes/READY", size=0), seal_marker="READY") == Decision(Disposition.SEAL)
    assert decide(obj("incoming/shapes/_SEAL", size=0), seal_marker="READY").rule == "not-an-image"


def test_folder_placeholder_is_ignored() -> None:
    assert decide(obj("incoming/shapes/sub/", size=0), seal_marker="_SEAL") == Decision(
        Disposition.IGNORE, "folder-placeholder", "zero-byte folder placeholder"
    )


def test_non_image_is_rejected_with_the_allowed_formats() -> None:
    assert decide(obj("incoming/shapes/notes.txt"), seal_marker="_SEAL") == Decision(
        Disposition.REJECT,
        "not-an-image",
        "'notes.txt' is not an image Ground Truth can show (.jpeg, .jpg, .png); "
        "drop only images under incoming/<project>/, or '_SEAL' to seal the batch",
    )


def test_zero_byte_image_is_rejected() -> None:
    assert decide(obj("incoming/shapes/a.png", size=0), seal_marker="_SEAL") == Decision(
        Disposition.REJECT, "empty-object", "'a.png' is empty (0 bytes); upload the image again"
    )


def test_image_over_40_mb_is_rejected_and_exactly_40_mb_is_accepted() -> None:
    assert decide(obj("incoming/shapes/a.jpg", size=MAX_IMAGE_BYTES), seal_marker="_SEAL").disposition is (
        Disposition.LABEL
    )
    assert decide(obj("incoming/shapes/a.jpg", size=MAX_IMAGE_BYTES + 1), seal_marker="_SEAL") == Decision(
        Disposition.REJECT,
        "image-too-large",
        f"'a.jpg' is {MAX_IMAGE_BYTES + 1} bytes; Ground Truth image tasks accept at most 41943040 bytes",
    )


@pytest.mark.parametrize("name", ["a.png", "a.PNG", "a.jpg", "a.JPEG", "square 02+café.png"])
def test_image_names_are_labeled_whatever_the_extension_case(name: str) -> None:
    assert decide(obj(f"incoming/shapes/{name}"), seal_marker="_SEAL") == Decision(Disposition.LABEL)


@pytest.mark.parametrize("name", ["circle-01.png", "square-01.jpg", "square 02+café.png"])
def test_real_images_pass_the_signature_check(name: str) -> None:
    head = (IMAGES / name).read_bytes()[:8]
    assert check_signature(obj(f"incoming/shapes/{name}"), head) == Decision(Disposition.LABEL)


def test_text_file_renamed_to_png_fails_the_signature_check() -> None:
    head = (IMAGES / "notes.txt").read_bytes()[:8]
    assert check_signature(obj("incoming/shapes/fake.png"), head) == Decision(
        Disposition.REJECT,
        "not-an-image",
        "'fake.png' has a .png name but its content is not a PNG image; upload the real image file",
    )


def test_jpeg_content_under_a_png_name_fails_the_signature_check() -> None:
    head = (IMAGES / "square-01.jpg").read_bytes()[:8]
    decision = check_signature(obj("incoming/shapes/photo.png"), head)
    assert (decision.disposition, decision.rule) == (Disposition.REJECT, "not-an-image")


def test_png_content_under_a_jpeg_name_fails_the_signature_check() -> None:
    head = (IMAGES / "circle-01.png").read_bytes()[:8]
    decision = check_signature(obj("incoming/shapes/photo.jpeg"), head)
    assert decision.message == (
        "'photo.jpeg' has a .jpeg name but its content is not a JPEG image; upload the real image file"
    )


def test_object_outside_a_project_folder() -> None:
    assert unknown_project_decision(obj("incoming/a.png")) == Decision(
        Disposition.REJECT,
        "no-project-prefix",
        "objects must be dropped under incoming/<project>/, where projects/<project>.yaml describes the project",
    )


def test_object_of_a_project_with_no_document() -> None:
    assert unknown_project_decision(obj("incoming/birds/a.png")) == Decision(
        Disposition.REJECT,
        "unknown-project",
        "no project document projects/birds.yaml in bucket data; create it, then upload the object again",
    )


def test_object_under_an_impossible_project_name() -> None:
    assert unknown_project_decision(obj("incoming/Bird_Photos/a.png")) == Decision(
        Disposition.REJECT, "unknown-project", "'Bird_Photos' is not a valid project name"
    )
