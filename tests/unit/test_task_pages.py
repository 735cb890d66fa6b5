"""Ground Truth's Liquid: autoescape, grant_read_access, to_json, skip_autoescape, strict undefined."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from liquid import Environment
from liquid.exceptions import LiquidError

from groundcrew.workforces.ground_truth.task_pages import ground_truth_liquid_environment, render_task_page

REPO = Path(__file__).resolve().parents[2]
TRICKY = '<b>"x"&\''


class Attributes(HTMLParser):
    """Attributes of every start tag, unescaped the way a browser does."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, dict[str, str | None]] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = dict(attrs)


def presign(uri: str) -> str:
    return f"https://signed.example/{uri.removeprefix('s3://')}?X-Amz-Expires=3600&X-Amz-Signature=f00"


def render(template: str, **task_input: object) -> str:
    return render_task_page(template, task_input, presign)


def test_grant_read_access_presigns_s3_uris_and_passes_other_strings() -> None:
    page = render(
        '<img src="{{ task.input.a | grant_read_access }}"><a href="{{ task.input.b | grant_read_access }}">',
        a="s3://bucket/images/a b.png",
        b="https://example.com/x.png",
    )
    tags = Attributes(page).tags
    assert tags["img"]["src"] == "https://signed.example/bucket/images/a b.png?X-Amz-Expires=3600&X-Amz-Signature=f00"
    assert "&amp;X-Amz-Signature" in page  # the URL is escaped in the page, a browser reads it back
    assert tags["a"]["href"] == "https://example.com/x.png"


def test_to_json_escape_gives_an_attribute_that_parses_back_to_the_json() -> None:
    labels = [TRICKY, "café", "tab\there"]
    page = render('<crowd-image-classifier categories="{{ task.input.labels | to_json | escape }}">', labels=labels)
    assert TRICKY not in page
    assert "&amp;amp;" not in page  # escaped once, not twice
    assert json.loads(Attributes(page).tags["crowd-image-classifier"]["categories"] or "") == labels


def test_to_json_alone_is_still_autoescaped_as_in_aws_attribute_snippets() -> None:
    # DG sms-ui-template-crowd-bounding-box writes `label: {{label | to_json}}` inside initial-value="[...]"
    page = render('<crowd-bounding-box initial-value="[{label: {{ task.input.label | to_json }}}]">', label=TRICKY)
    assert Attributes(page).tags["crowd-bounding-box"]["initial-value"] == '[{label: "<b>\\"x\\"&\'"}]'


def test_to_json_of_objects_and_numbers() -> None:
    page = render("{{ task.input.value | to_json | skip_autoescape }}", value={"a": [1, 2.5, None, True], "b": "é"})
    assert json.loads(page) == {"a": [1, 2.5, None, True], "b": "é"}
    assert render("{{ task.input.n | to_json }}", n=3) == "3"


def test_autoescape_is_on_and_skip_autoescape_turns_it_off() -> None:
    assert render("<h1>{{ task.input.header }}</h1>", header="<script>x</script>") == (
        "<h1>&lt;script&gt;x&lt;/script&gt;</h1>"
    )
    assert render("{{ task.input.html | skip_autoescape }}", html="<p>ok</p>") == "<p>ok</p>"
    assert render("{{ task.input.text | escape }}", text="a&b") == "a&amp;b"


def test_strict_undefined_names_the_misspelt_variable_and_lenient_mode_renders_nothing() -> None:
    with pytest.raises(LiquidError, match=r"task\.input\.heading"):
        render("{{ task.input.heading }}", header="x")
    lenient = ground_truth_liquid_environment(presign, strict=False)
    assert lenient.from_string("[{{ task.input.heading }}]").render(task={"input": {}}) == "[]"


def test_the_environment_is_python_liquid_2_with_ground_truth_filters() -> None:
    environment = ground_truth_liquid_environment(presign)
    assert isinstance(environment, Environment)
    assert environment.autoescape
    assert {"grant_read_access", "to_json", "skip_autoescape", "escape"} <= set(environment.filters)


def test_the_apps_image_classification_template_renders_for_workers() -> None:
    template = (
        REPO / "layers/groundcrew/groundcrew/workflows/classification/image_classification.liquid.html"
    ).read_text()
    page = render(
        template,
        taskObject="s3://bucket/incoming/shapes/square 02+café.png",
        labels=["circle", TRICKY],
        header="Which shape is this?",
        shortInstructions="Pick one.",
        fullInstructions="Ignore colour & size.",
    )
    classifier = Attributes(page).tags["crowd-image-classifier"]
    assert classifier["name"] == "category"
    assert json.loads(classifier["categories"] or "") == ["circle", TRICKY]
    assert (classifier["src"] or "").startswith("https://signed.example/bucket/incoming/shapes/square 02+café.png?")


def test_aws_sample_templates_render(corpus: Path) -> None:
    ner = (corpus / "templates" / "task-uis" / "text__named-entity-recognition.liquid.html").read_text()
    page = render(ner, labels=[{"label": "Person", "shortDisplayName": "per"}], taskObject="Sue & Bob")
    element = Attributes(page).tags["crowd-entity-annotation"]
    assert json.loads(element["labels"] or "") == [{"label": "Person", "shortDisplayName": "per"}]
    assert element["text"] == "Sue & Bob"
    classification = (corpus / "templates" / "task-uis" / "images__image-classification.liquid.html").read_text()
    assert "https://signed.example/b/k.png" in render(classification, taskObject="s3://b/k.png")
