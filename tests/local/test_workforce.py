"""The simulated workforce: reads the task page like a browser, answers like crowd-image-classifier, on a clock."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from groundcrew.workforces.ground_truth.task_pages import render_task_page
from groundcrew_local.workforce import (
    ELEMENT_ANSWERERS,
    UNKNOWN_LABEL,
    SimulatedWorker,
    SimulatedWorkforce,
    UnsupportedTaskPage,
    crowd_elements,
    default_workforce,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LABELS = ["circle", "square", "triangle"]
TEMPLATE = (
    '<crowd-form><crowd-image-classifier name="category" src="{{ task.input.taskObject | grant_read_access }}" '
    'categories="{{ task.input.labels | to_json | escape }}" header="{{ task.input.header }}">'
    "</crowd-image-classifier></crowd-form>"
)


def page(labels: list[str] = LABELS, source: str = "s3://bucket/images/circle-01.png") -> str:
    task_input = {"taskObject": source, "labels": labels, "header": "Which shape?"}
    return render_task_page(TEMPLATE, task_input, lambda uri: "https://example.test/presigned")


def labels_of(answers: list[Any]) -> list[str]:
    return [json.loads(answer.content)["category"]["label"] for answer in answers]


def test_worker_ids_derive_from_names_like_real_private_and_public_ids() -> None:
    ada = SimulatedWorker("ada")
    assert re.fullmatch(r"private\.us-east-1\.[0-9a-f]{16}", ada.worker_id)
    assert SimulatedWorker("ada", accuracy=0.1).worker_id == ada.worker_id
    assert SimulatedWorker("bob").worker_id != ada.worker_id
    assert re.fullmatch(r"private\.eu-west-1\.[0-9a-f]{16}", SimulatedWorker("ada", region="eu-west-1").worker_id)
    assert re.fullmatch(r"public\.us-east-1\.[A-Z2-7]{26}", SimulatedWorker("ada", workforce_type="public").worker_id)
    assert SimulatedWorker.named("ada", accuracy=0.5) == SimulatedWorker("ada", accuracy=0.5)


@pytest.mark.parametrize(
    "options",
    [{"accuracy": 1.5}, {"malformed_rate": -0.1}, {"seconds_per_task": 0}, {"malformed_kinds": ("typo",)}],
)
def test_impossible_workers_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="ada"):
        SimulatedWorker("ada", **options)


def test_the_same_seed_gives_the_same_answers_and_times() -> None:
    def answers(seed: int) -> list[tuple[str, str, datetime, datetime]]:
        crowd = default_workforce(seed=seed, clock_start=START)
        return [
            (a.worker_id, a.content, a.acceptance_time, a.submission_time)
            for i in range(20)
            for a in crowd.answer(page(source=f"s3://b/{i}.png"), {"source-ref": f"s3://b/{i}.png"}, 3)
        ]

    assert answers(7) == answers(7)
    assert answers(7) != answers(8)


def test_an_objects_answers_do_not_depend_on_other_objects_asked_before() -> None:
    alone = default_workforce(seed=7, clock_start=START)
    busy = default_workforce(seed=7, clock_start=START)
    for i in range(5):
        busy.answer(page(), {"source-ref": f"s3://b/other-{i}.png"}, 3)
    target = {"source-ref": "s3://b/target.png"}
    first = alone.answer(page(), target, 3)
    second = busy.answer(page(), target, 3)
    assert sorted((a.worker_id, a.content) for a in first) == sorted((a.worker_id, a.content) for a in second)


def test_n_distinct_workers_answer_in_submission_order() -> None:
    crowd = default_workforce(seed=7, clock_start=START)
    answers = crowd.answer(page(), {"source-ref": "s3://bucket/images/circle-01.png"}, 3)
    assert len({a.worker_id for a in answers}) == 3
    assert [a.submission_time for a in answers] == sorted(a.submission_time for a in answers)
    assert len(crowd.answer(page(), {"source-ref": "s3://b/x.png"}, 9)) == 5  # only five workers exist


def test_answers_are_what_crowd_image_classifier_submits() -> None:
    crowd = SimulatedWorkforce([SimulatedWorker("ada", accuracy=1.0)], answer_key={"circle-01.png": "circle"})
    (answer,) = crowd.answer(page(), {"source-ref": "s3://bucket/images/circle-01.png"}, 1)
    assert answer.content == '{"category":{"label":"circle"}}'
    assert answer.answer_content == {"category": {"label": "circle"}}


@pytest.mark.parametrize(
    ("key", "source"),
    [
        ("circle-01.png", "s3://bucket/images/circle-01.png"),
        ("s3://bucket/images/circle-01.png", "s3://bucket/images/circle-01.png"),
        ("square 02+café.png", "s3://bucket/images/square%2002%2Bcaf%C3%A9.png"),
    ],
)
def test_the_answer_key_matches_basenames_full_uris_and_quoted_keys(key: str, source: str) -> None:
    crowd = SimulatedWorkforce([SimulatedWorker("ada", accuracy=1.0)], answer_key={key: "triangle"})
    assert crowd.truth_for({"source-ref": source}) == "triangle"
    assert labels_of(crowd.answer(page(source=source), {"source-ref": source}, 1)) == ["triangle"]


def test_text_objects_are_keyed_by_their_source() -> None:
    crowd = SimulatedWorkforce([SimulatedWorker("ada")], answer_key={"Lorem ipsum": "square"})
    assert crowd.truth_for({"source": "Lorem ipsum"}) == "square"
    assert crowd.truth_for({"source": "other"}) is None


def test_accuracy_is_the_share_of_correct_answers() -> None:
    worker = SimulatedWorker("dagny", accuracy=0.8, seconds_per_task=5)
    crowd = SimulatedWorkforce(
        [worker], seed=11, answer_key={f"{i}.png": "circle" for i in range(600)}, clock_start=START
    )
    labels = [labels_of(crowd.answer(page(), {"source-ref": f"s3://b/{i}.png"}, 1))[0] for i in range(600)]
    share = labels.count("circle") / len(labels)
    assert 0.75 < share < 0.85
    wrong = Counter(label for label in labels if label != "circle")
    assert set(wrong) == {"square", "triangle"}


def test_spammers_and_unknown_objects_answer_at_random() -> None:
    crowd = SimulatedWorkforce(
        [SimulatedWorker("spam", accuracy=1.0, spammer=True, seconds_per_task=2)],
        answer_key={f"{i}.png": "circle" for i in range(300)},
        clock_start=START,
    )
    labels = [labels_of(crowd.answer(page(), {"source-ref": f"s3://b/{i}.png"}, 1))[0] for i in range(300)]
    assert 0.2 < labels.count("circle") / 300 < 0.47
    honest = SimulatedWorkforce([SimulatedWorker("ada", accuracy=1.0)], answer_key={}, clock_start=START)
    guesses = {labels_of(honest.answer(page(), {"source-ref": f"s3://b/{i}.png"}, 1))[0] for i in range(60)}
    assert guesses == set(LABELS)


def test_labels_with_html_characters_come_back_exactly() -> None:
    tricky = '<b>"x"&\''
    html = page(labels=[tricky, "plain"])
    assert "<b>" not in html
    (element,) = [e for e in crowd_elements(html) if e.tag == "crowd-image-classifier"]
    assert json.loads(element.attributes["categories"]) == [tricky, "plain"]
    crowd = SimulatedWorkforce([SimulatedWorker("ada", accuracy=1.0)], answer_key={"odd.png": tricky})
    assert labels_of(crowd.answer(html, {"source-ref": "s3://b/odd.png"}, 1)) == [tricky]


def test_malformed_submissions_are_injected_verbatim() -> None:
    def submission(kind: str) -> str:
        worker = SimulatedWorker("broken", malformed_rate=1.0, malformed_kinds=(kind,))
        (answer,) = SimulatedWorkforce([worker], clock_start=START).answer(page(), {"source-ref": "s3://b/1.png"}, 1)
        return answer.content

    not_json = submission("not_json")
    with pytest.raises(ValueError):
        json.loads(not_json)
    assert json.loads(submission("unknown_label")) == {"category": {"label": UNKNOWN_LABEL}}
    worker = SimulatedWorker("broken", malformed_rate=1.0, malformed_kinds=("not_json",))
    (answer,) = SimulatedWorkforce([worker], clock_start=START).answer(page(), {"source-ref": "s3://b/1.png"}, 1)
    assert answer.worker_response_entry()["answerContent"] == answer.content  # the raw text, as submitted


def test_a_page_without_a_known_element_names_what_it_found() -> None:
    crowd = default_workforce(clock_start=START)
    with pytest.raises(UnsupportedTaskPage, match="crowd-form, crowd-polygon"):
        crowd.answer('<crowd-form><crowd-polygon name="b" labels="[]"></crowd-polygon></crowd-form>', {}, 1)
    with pytest.raises(UnsupportedTaskPage, match="no crowd-\\* element"):
        crowd.answer("<p>hello</p>", {}, 1)
    with pytest.raises(UnsupportedTaskPage, match="no name attribute"):
        crowd.answer('<crowd-image-classifier categories="[&#34;a&#34;]"></crowd-image-classifier>', {}, 1)
    with pytest.raises(UnsupportedTaskPage, match="is not an array"):
        crowd.answer('<crowd-image-classifier name="c" categories="a, b"></crowd-image-classifier>', {}, 1)
    assert "crowd-image-classifier" in ELEMENT_ANSWERERS


def test_timings_run_on_the_simulated_clock() -> None:
    crowd = SimulatedWorkforce([SimulatedWorker("ada", seconds_per_task=20)], clock_start=START)
    first = crowd.answer(page(), {"source-ref": "s3://b/1.png"}, 1)[0]
    second = crowd.answer(page(), {"source-ref": "s3://b/2.png"}, 1)[0]
    assert START < first.acceptance_time < first.submission_time
    assert first.submission_time - first.acceptance_time == timedelta(seconds=first.time_spent_seconds)
    assert second.acceptance_time > first.submission_time  # one worker does one task at a time
    assert crowd.now == START  # the stand-in moves the clock
    crowd.advance_to(second.submission_time)
    crowd.advance_to(START)
    assert crowd.now == second.submission_time
    entry = first.worker_response_entry()
    assert list(entry) == [
        "acceptanceTime",
        "answerContent",
        "submissionTime",
        "timeSpentInSeconds",
        "workerId",
        "workerMetadata",
    ]
    assert re.fullmatch(r"2026-03-02T09:\d\d:\d\d\.\d{3}Z", entry["acceptanceTime"])
    assert entry["workerMetadata"]["identityData"]["identityProviderType"] == "Cognito"
    public = SimulatedWorkforce([SimulatedWorker("mturk", workforce_type="public")], clock_start=START)
    assert "workerMetadata" not in public.answer(page(), {"source-ref": "s3://b/1.png"}, 1)[0].worker_response_entry()


def test_slow_workers_time_out_and_late_tasks_expire() -> None:
    workers = [SimulatedWorker("slow", seconds_per_task=600), SimulatedWorker("quick", seconds_per_task=10)]
    crowd = SimulatedWorkforce(workers, seed=3, clock_start=START)
    answers = crowd.answer(page(), {"source-ref": "s3://b/1.png"}, 2, time_limit_seconds=120)
    assert [a.worker_id for a in answers] == [workers[1].worker_id]
    queue = SimulatedWorkforce([SimulatedWorker("only", seconds_per_task=100)], clock_start=START)
    for i in range(3):
        queue.answer(page(), {"source-ref": f"s3://b/{i}.png"}, 1, posted_at=START)
    assert queue.answer(page(), {"source-ref": "s3://b/late.png"}, 1, posted_at=START, availability_seconds=60) == []


def test_aws_sample_templates_with_single_quoted_categories_are_answered(corpus: Path) -> None:
    template = (corpus / "templates" / "task-uis" / "images__image-classification.liquid.html").read_text()
    html = render_task_page(template, {"taskObject": "s3://b/1.png"}, lambda uri: "https://example.test/1.png")
    crowd = SimulatedWorkforce([SimulatedWorker("ada", accuracy=1.0)], answer_key={"1.png": "Bird"})
    (answer,) = crowd.answer(html, {"source-ref": "s3://b/1.png"}, 1)
    assert answer.answer_content == {"crowd-image-classifier": {"label": "Bird"}}


def test_worker_response_entries_hold_every_key_of_real_files(corpus: Path) -> None:
    crowd = default_workforce(clock_start=START)
    entry = crowd.answer(page(), {"source-ref": "s3://b/1.png"}, 1)[0].worker_response_entry()
    for path in (corpus / "gt-manifests" / "worker-response").glob("*.json"):
        for real in json.loads(path.read_text())["answers"]:
            assert set(real) <= set(entry)
            assert type(real["answerContent"]) is type(entry["answerContent"])


def test_a_workforce_needs_distinct_workers() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SimulatedWorkforce([])
    with pytest.raises(ValueError, match="unique"):
        SimulatedWorkforce([SimulatedWorker("ada"), SimulatedWorker("ada", accuracy=0.2)])
