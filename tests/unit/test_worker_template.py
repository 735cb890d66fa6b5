"""The worker task template, rendered as Ground Truth renders it (python-liquid, autoescape, its filters)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from liquid.exceptions import LiquidError

from groundcrew.consensus.decisions import ConsensusPolicy
from groundcrew.core.vocabulary import Workflow
from groundcrew.workflows.classification import task as image_classification
from groundcrew.workforces.ground_truth.task_config import TaskConfig
from groundcrew.workforces.ground_truth.task_pages import render_task_page

HOSTILE = "<script>alert(\"x\")</script> & 'quotes'"


def presign(uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Signature=abc&X-Amz-Expires=3600"


def config(labels: tuple[str, ...] = ("cat", "dog")) -> TaskConfig:
    return TaskConfig(
        project="pets",
        batch_id="pets-20261121t120000-a1b2c3",
        workflow=Workflow.IMAGE_CLASSIFICATION,
        labels=labels,
        header=f"Which pet? {HOSTILE}",
        short_instructions=f"Pick one {HOSTILE}",
        full_instructions="Look closely.",
        consensus=ConsensusPolicy(),
        workers_per_object=3,
    )


class ClassifierAttributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str | None] = {}
        self.scripts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "crowd-image-classifier":
            self.found = dict(attrs)
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))


def render(task_config: TaskConfig) -> str:
    task_input = image_classification.task_input({"source-ref": "s3://data/incoming/pets/a cat.jpg"}, task_config)
    return render_task_page(image_classification.ui_template(), task_input, presign, strict=True)


def test_template_renders_the_classifier_with_every_input() -> None:
    page = ClassifierAttributes()
    page.feed(render(config()))
    assert page.found["name"] == image_classification.ELEMENT_NAME
    assert json.loads(page.found["categories"] or "") == ["cat", "dog"]
    assert (page.found["src"] or "").startswith("https://data.s3.amazonaws.com/incoming/pets/a cat.jpg?X-Amz-")
    assert page.scripts == ["https://assets.crowd.aws/crowd-html-elements.js"]  # no script from the data


def test_every_value_reaching_the_page_is_escaped() -> None:
    labels = (HOSTILE, "dog")
    html = render(config(labels))
    assert "<script>alert" not in html
    page = ClassifierAttributes()
    page.feed(html)
    assert json.loads(page.found["categories"] or "") == list(labels)  # the element still gets the exact labels
    assert page.found["header"] == f"Which pet? {HOSTILE}"
    assert page.scripts == ["https://assets.crowd.aws/crowd-html-elements.js"]


def test_a_misspelt_input_fails_under_strict_undefined() -> None:
    template = image_classification.ui_template().replace("task.input.labels", "task.input.lables")
    task_input = image_classification.task_input({"source-ref": "s3://data/a.jpg"}, config())
    with pytest.raises(LiquidError):
        render_task_page(template, task_input, presign, strict=True)
