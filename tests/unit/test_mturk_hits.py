"""Mechanical Turk HITs as data: HTMLQuestion, answers (AWS's own examples), fees, qualifications, spam."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from groundcrew.workforces.mturk import hits as mturk_hits
from groundcrew.workforces.mturk.hits import (
    ENDPOINTS,
    MAX_QUESTION_BYTES,
    WORKER_SITES,
    AnswerProblem,
    CostEstimate,
    InvalidQuestion,
    assignment_cost,
    assignment_fee,
    estimate_cost,
    format_usd,
    html_question,
    max_assignments_allowed,
    parse_answer,
    preview_url,
    qualification_requirements,
    spam_reason,
)

NS = {"q": mturk_hits.HTML_QUESTION_NAMESPACE}
CLASSIFIER_PAGE = """<crowd-form>
  <crowd-image-classifier name="category" src="https://example.com/cat.jpg" categories="['cat', 'dog']"
    header="What is in the picture?">
  </crowd-image-classifier>
</crowd-form>
"""

# The AWS documentation's examples, as published:
# https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMechanicalTurkRequester/RetrievingResults.html
DOC_CROWD_FORM_ANSWER = """<?xml version="1.0" encoding="ASCII"?>
<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">
  <Answer>
    <QuestionIdentifier>taskAnswers</QuestionIdentifier>
    <FreeText>
      [
        {
          "country": "United States",
          "weather": "It's currently raining lightly"
        }
      ]
    </FreeText>
  </Answer>
</QuestionFormAnswers>
"""
DOC_PLAIN_FORM_ANSWER = """<?xml version="1.0" encoding="ASCII"?>
<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">
  <Answer>
    <QuestionIdentifier>country</QuestionIdentifier>
    <FreeText>United States</FreeText>
  </Answer>
  <Answer>
    <QuestionIdentifier>weather</QuestionIdentifier>
    <FreeText>It's currently raining lightly</FreeText>
  </Answer>
</QuestionFormAnswers>
"""


def _content(question: str) -> tuple[str, str]:
    root = ET.fromstring(question)
    assert root.tag == f"{{{NS['q']}}}HTMLQuestion"
    content = root.find("q:HTMLContent", NS)
    height = root.find("q:FrameHeight", NS)
    assert content is not None and content.text is not None and height is not None and height.text is not None
    return content.text, height.text


def _task_answers(free_text: str) -> str:
    return (
        f'<QuestionFormAnswers xmlns="{mturk_hits.ANSWERS_NAMESPACE}"><Answer>'
        f"<QuestionIdentifier>taskAnswers</QuestionIdentifier><FreeText>{free_text}</FreeText>"
        "</Answer></QuestionFormAnswers>"
    )


# --- HTMLQuestion -------------------------------------------------------------------------------------------------


def test_html_question_wraps_a_crowd_page_with_doctype_and_loader() -> None:
    content, height = _content(html_question(CLASSIFIER_PAGE))
    assert content.startswith("<!DOCTYPE html>\n" + mturk_hits.CROWD_LOADER)
    assert content.index(mturk_hits.CROWD_LOADER) < content.index("<crowd-form>")
    assert content.endswith(CLASSIFIER_PAGE)
    assert height == "0"


def test_html_question_keeps_a_page_that_already_has_doctype_and_loader() -> None:
    page = f"\n  <!doctype html>\n<html><head>{mturk_hits.CROWD_LOADER}</head><body>{CLASSIFIER_PAGE}</body></html>"
    content, height = _content(html_question(page, frame_height=640))
    assert content == page.lstrip()
    assert content.count("crowd-html-elements.js") == 1
    assert height == "640"


def test_plain_html_pages_get_no_loader() -> None:
    content, _ = _content(html_question('<form><input name="weather"></form>'))
    assert content == '<!DOCTYPE html>\n<form><input name="weather"></form>'


def test_cdata_terminator_inside_the_page_survives() -> None:
    page = "<crowd-form><script>var a = [[1]]>0; // ]]> twice ]]></script></crowd-form>"
    question = html_question(page)
    content, _ = _content(question)
    assert content.endswith(page)
    assert question.count("<![CDATA[") == 4  # one section, split at each of the three "]]>"


def test_unicode_text_and_crlf_line_ends_are_kept() -> None:
    page = "<p>Catégorie: 猫 🐈</p>\r\n<crowd-form></crowd-form>"
    content, _ = _content(html_question(page))
    assert "Catégorie: 猫 🐈" in content


@pytest.mark.parametrize("bad", ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\ufffe", "\uffff"])
def test_hostile_characters_are_named_with_line_and_column(bad: str) -> None:
    page = f"<crowd-form>\n  <p>label: cat{bad}s</p>\n</crowd-form>"
    with pytest.raises(InvalidQuestion) as raised:
        html_question(page)
    assert raised.value.rule == "invalid-xml-character"
    message = str(raised.value)
    assert f"U+{ord(bad):04X}" in message
    assert "line 2, column 16" in message
    assert "remove or escape it" in message


def test_every_forbidden_character_is_counted() -> None:
    with pytest.raises(InvalidQuestion, match=r"line 1, column 4 \(2 more after it\)"):
        html_question("<p>\x01\x02\x03</p>")


def test_size_limit_counts_utf8_bytes() -> None:
    overhead = len(html_question("").encode("utf-8"))
    fits = "a" * (MAX_QUESTION_BYTES - overhead)
    assert len(html_question(fits).encode("utf-8")) == MAX_QUESTION_BYTES
    with pytest.raises(InvalidQuestion) as raised:
        html_question(fits + "é")  # one more character, two more bytes
    assert raised.value.rule == "question-too-long"
    assert "65,537 bytes" in str(raised.value) and "2 over" in str(raised.value)


def test_frame_height_must_be_a_whole_number_of_pixels() -> None:
    for bad in (-1, True, 1.5):
        with pytest.raises(InvalidQuestion) as raised:
            html_question("<p></p>", frame_height=bad)  # type: ignore[arg-type]
        assert raised.value.rule == "invalid-frame-height"


def test_well_formedness_is_checked_by_parsing() -> None:
    with pytest.raises(InvalidQuestion) as raised:
        mturk_hits._check_well_formed("<HTMLQuestion><HTMLContent></HTMLQuestion>", "")
    assert raised.value.rule == "not-well-formed"
    assert "line 1, column" in str(raised.value)


def test_preview_urls_and_endpoints() -> None:
    assert preview_url("3AB", sandbox=True) == "https://workersandbox.mturk.com/mturk/preview?groupId=3AB"
    assert preview_url("3AB", sandbox=False).startswith(WORKER_SITES["production"])
    assert all(".us-east-1." in url for url in ENDPOINTS.values())


# --- Answers ------------------------------------------------------------------------------------------------------


def test_crowd_form_answer_from_the_aws_docs() -> None:
    assert parse_answer(DOC_CROWD_FORM_ANSWER) == {
        "country": "United States",
        "weather": "It's currently raining lightly",
    }


def test_crowd_image_classifier_answer_is_the_answer_content() -> None:
    content = {"category": {"label": "cat"}}
    assert parse_answer(_task_answers(json.dumps([content]))) == content


def test_plain_form_answer_from_the_aws_docs() -> None:
    assert parse_answer(DOC_PLAIN_FORM_ANSWER) == {
        "country": "United States",
        "weather": "It's currently raining lightly",
    }


def test_plain_answer_with_empty_free_text_is_an_empty_string() -> None:
    xml_text = DOC_PLAIN_FORM_ANSWER.replace("<FreeText>United States</FreeText>", "<FreeText/>")
    assert parse_answer(xml_text)["country"] == ""


@pytest.mark.parametrize(
    ("xml_text", "rule", "says"),
    [
        ("", "no-task-answers", "empty"),
        ("<QuestionFormAnswers", "not-xml", "not XML"),
        ("{'taskAnswers': []}", "not-xml", "not XML"),
        ("<Answers/>", "not-xml", "<Answers>"),
        (f'<QuestionFormAnswers xmlns="{mturk_hits.ANSWERS_NAMESPACE}"/>', "no-task-answers", "no Answer"),
        (_task_answers("[{'category': 'cat'}]"), "task-answers-not-json", "not JSON"),
        (_task_answers(""), "task-answers-not-json", "not JSON"),
        (_task_answers("[]"), "task-answers-not-one-object", "a list of 0"),
        (_task_answers("[{}, {}]"), "task-answers-not-one-object", "a list of 2"),
        (_task_answers('{"category": "cat"}'), "task-answers-not-one-object", "a JSON dict"),
        (_task_answers('["cat"]'), "task-answers-not-one-object", "a list holding a JSON str"),
        (
            DOC_PLAIN_FORM_ANSWER.replace("<QuestionIdentifier>weather<", "<QuestionIdentifier>country<"),
            "duplicate-question",
            "'country' more than once",
        ),
        (
            DOC_PLAIN_FORM_ANSWER.replace(
                "<FreeText>United States</FreeText>", "<SelectionIdentifier>us</SelectionIdentifier>"
            ),
            "unsupported-answer",
            "SelectionIdentifier",
        ),
        (
            DOC_CROWD_FORM_ANSWER.replace(
                "</QuestionFormAnswers>",
                "<Answer><QuestionIdentifier>extra</QuestionIdentifier><FreeText>x</FreeText></Answer>"
                "</QuestionFormAnswers>",
            ),
            "task-answers-not-one-object",
            "other fields (extra)",
        ),
    ],
)
def test_malformed_answers_name_the_rule_and_what_was_found(xml_text: str, rule: str, says: str) -> None:
    with pytest.raises(AnswerProblem) as raised:
        parse_answer(xml_text)
    assert raised.value.rule == rule
    assert says in str(raised.value)


# --- Fees and cost ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reward", "max_assignments", "masters", "fee"),
    [
        ("0.05", 3, False, "0.01"),  # 20% is exactly the minimum
        ("0.01", 1, False, "0.01"),  # $0.002 lifted to the $0.01 minimum
        ("0.00", 1, False, "0.01"),  # UNCONFIRMED: the minimum also applies to a $0.00 reward
        ("1.00", 3, False, "0.20"),
        ("1.00", 9, False, "0.20"),
        ("1.00", 10, False, "0.40"),  # 10 or more assignments: +20%
        ("1.00", 3, True, "0.25"),  # Masters: +5%
        ("1.00", 10, True, "0.45"),
        ("0.50", 3, True, "0.13"),  # $0.125 rounds half up, not to even
        ("0.52", 3, False, "0.10"),  # $0.104 rounds down
        ("0.53", 3, False, "0.11"),  # $0.106 rounds up
        ("0.07", 1, True, "0.02"),  # $0.0175
        ("12.34", 2, False, "2.47"),  # $2.468
    ],
)
def test_assignment_fee(reward: str, max_assignments: int, masters: bool, fee: str) -> None:
    assert assignment_fee(Decimal(reward), max_assignments=max_assignments, masters=masters) == Decimal(fee)
    assert assignment_cost(Decimal(reward), max_assignments=max_assignments, masters=masters) == Decimal(
        reward
    ) + Decimal(fee)


@pytest.mark.parametrize("reward", [Decimal("0.125"), Decimal("-0.05"), Decimal("NaN"), Decimal("Infinity")])
def test_rewards_are_whole_cents(reward: Decimal) -> None:
    with pytest.raises(ValueError, match="whole number of US cents"):
        assignment_fee(reward, max_assignments=1)


def test_rewards_are_decimals_not_floats() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        assignment_fee(0.05, max_assignments=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, -1, True])
def test_assignment_counts_are_checked(count: int) -> None:
    with pytest.raises(ValueError, match="assignments"):
        assignment_fee(Decimal("0.05"), max_assignments=count)


def test_estimate_cost() -> None:
    estimate = estimate_cost(items=1000, assignments_per_item=3, reward=Decimal("0.05"))
    assert estimate == CostEstimate(
        items=1000,
        assignments=3000,
        reward=Decimal("0.05"),
        fee_per_assignment=Decimal("0.01"),
        rewards=Decimal("150.00"),
        fees=Decimal("30.00"),
        total=Decimal("180.00"),
        fee_rule=estimate.fee_rule,
    )
    assert "20%" in estimate.fee_rule and "https://requester.mturk.com/pricing" in estimate.fee_rule
    assert "\n" not in estimate.fee_rule


def test_estimate_cost_of_large_masters_hits() -> None:
    estimate = estimate_cost(items=10, assignments_per_item=10, reward=Decimal("1.00"), masters=True)
    assert (estimate.rewards, estimate.fees, estimate.total) == (Decimal("100.00"), Decimal("45.00"), Decimal("145.00"))
    assert estimate.fee_rule.startswith("MTurk fee 45%")


def test_estimate_of_nothing_costs_nothing() -> None:
    assert estimate_cost(items=0, assignments_per_item=3, reward=Decimal("0.05")).total == 0
    with pytest.raises(ValueError, match="items"):
        estimate_cost(items=-1, assignments_per_item=3, reward=Decimal("0.05"))


def test_max_assignments_allowed() -> None:
    assert max_assignments_allowed(1) == 9
    assert max_assignments_allowed(9) == 9
    assert max_assignments_allowed(10) == mturk_hits.MAX_ASSIGNMENTS_API
    with pytest.raises(ValueError):
        max_assignments_allowed(0)


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("10000"), "10000.00"), (Decimal("0.5"), "0.50"), (Decimal("0.010"), "0.01"), (Decimal(0), "0.00")],
)
def test_format_usd(amount: Decimal, text: str) -> None:
    assert format_usd(amount) == text


def test_format_usd_refuses_fractions_of_a_cent() -> None:
    with pytest.raises(ValueError, match="cents"):
        format_usd(Decimal("0.125"))


# --- Qualification requirements -----------------------------------------------------------------------------------


def test_qualification_requirements_in_production() -> None:
    requirements = qualification_requirements(
        min_approval_rate=98, min_approved_hits=1000, locales=["US", "ca", "US-WA"], masters=True, sandbox=False
    )
    assert requirements == [
        {
            "QualificationTypeId": "000000000000000000L0",
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [98],
            "ActionsGuarded": "Accept",
        },
        {
            "QualificationTypeId": "00000000000000000040",
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [1000],
            "ActionsGuarded": "Accept",
        },
        {
            "QualificationTypeId": "00000000000000000071",
            "Comparator": "In",
            "LocaleValues": [{"Country": "US"}, {"Country": "CA"}, {"Country": "US", "Subdivision": "WA"}],
            "ActionsGuarded": "Accept",
        },
        {"QualificationTypeId": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "Comparator": "Exists", "ActionsGuarded": "Accept"},
    ]


def test_masters_differs_in_the_sandbox() -> None:
    requirements = qualification_requirements(
        min_approval_rate=None, min_approved_hits=None, masters=True, sandbox=True
    )
    assert requirements == [
        {"QualificationTypeId": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "Comparator": "Exists", "ActionsGuarded": "Accept"}
    ]


def test_no_requirements() -> None:
    assert qualification_requirements(min_approval_rate=None, min_approved_hits=None, sandbox=True) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"min_approval_rate": 101},
        {"min_approval_rate": -1},
        {"min_approved_hits": -5},
        {"min_approval_rate": True},
        {"locales": ["USA"]},
        {"locales": ["U"]},
        {"locales": ["US"] * 31},
    ],
)
def test_bad_requirements_are_refused(arguments: dict[str, object]) -> None:
    values: dict[str, object] = {"min_approval_rate": None, "min_approved_hits": None, "sandbox": False}
    with pytest.raises(ValueError):
        qualification_requirements(**{**values, **arguments})  # type: ignore[arg-type]


def test_locales_must_be_a_sequence_of_codes() -> None:
    with pytest.raises(TypeError, match="sequence"):
        qualification_requirements(min_approval_rate=None, min_approved_hits=None, locales="US", sandbox=False)


# --- Spam ---------------------------------------------------------------------------------------------------------


def test_a_real_answer_is_not_spam() -> None:
    content = {"category": {"label": "cat"}}
    assert spam_reason(content, seconds_spent=12, min_seconds=3, expected_fields=["category"]) is None


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"other": "x"},
        {"category": None},
        {"category": "   "},
        {"category": {"label": ""}},
        {"category": []},
        [],
        None,
    ],
)
def test_nothing_answered_is_spam(content: object) -> None:
    reason = spam_reason(content, seconds_spent=30, min_seconds=3, expected_fields=["category"])
    assert reason is not None
    assert reason.startswith("Thank you") and "could not accept" in reason


def test_spam_reason_names_the_missing_fields() -> None:
    reason = spam_reason({}, seconds_spent=30, min_seconds=3, expected_fields=["category", "notes"])
    assert reason is not None and "(category, notes)" in reason


def test_one_answered_field_is_enough() -> None:
    content = {"category": {"label": "cat"}, "notes": ""}
    assert spam_reason(content, seconds_spent=30, min_seconds=3, expected_fields=["category", "notes"]) is None


def test_zero_and_false_are_answers() -> None:
    assert spam_reason({"count": 0}, seconds_spent=30, min_seconds=3, expected_fields=["count"]) is None
    assert spam_reason({"ok": False}, seconds_spent=30, min_seconds=3, expected_fields=["ok"]) is None


def test_without_expected_fields_every_field_counts() -> None:
    assert spam_reason({"a": "", "b": None}, seconds_spent=30, min_seconds=3, expected_fields=[]) is not None
    assert spam_reason({"a": "", "b": "x"}, seconds_spent=30, min_seconds=3, expected_fields=[]) is None


def test_too_fast_is_spam() -> None:
    reason = spam_reason({"category": {"label": "cat"}}, seconds_spent=1, min_seconds=4, expected_fields=["category"])
    assert reason is not None and "submitted 1 second after" in reason and "at least 4 seconds" in reason


def test_spam_reason_fits_requester_feedback() -> None:
    fields = [f"field_{'x' * 200}_{n}" for n in range(20)]
    reason = spam_reason({}, seconds_spent=30, min_seconds=3, expected_fields=fields)
    assert reason is not None and len(reason) <= mturk_hits.MAX_FEEDBACK_CHARS
    assert "and 10 more" in reason or reason.endswith("...")


def test_negative_times_are_refused() -> None:
    with pytest.raises(ValueError):
        spam_reason({}, seconds_spent=-1, min_seconds=3, expected_fields=[])


def test_import_stays_light() -> None:
    import subprocess
    import sys

    heavy = "('numpy', 'boto3', 'botocore')"
    code = f"import sys, groundcrew.workforces.mturk.hits; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_client_settings_name_the_environment_endpoint_and_refuse_others() -> None:
    assert mturk_hits.client_settings("sandbox") == {
        "region_name": "us-east-1",
        "endpoint_url": "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
    }
    with pytest.raises(ValueError, match="sandbox"):
        mturk_hits.client_settings("prod")
