"""Amazon Mechanical Turk HITs as plain data: the HTMLQuestion, answers, fees, qualifications, spam and endpoints.

Pure and side-effect free: callers make the boto3 calls and pass the data in. Sources, by rule:

* HTMLQuestion and its namespace, FrameHeight 0 (the frame scales to the window):
  https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_HTMLQuestionArticle.html,
  https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMechanicalTurkRequester/mturk-hits-defining-questions-definitions.html,
  https://blog.mturk.com/tasks-can-now-scale-to-a-workers-browser-window-size-c6e66f4bdfc9
* Crowd HTML Elements need the loader script before the form:
  https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_HTMLCustomElementsArticle.html
* The Question parameter is at most 64 kilobytes (65,535 bytes) including whitespace: CreateHIT in the MTurk API
  model (botocore `mturk/2017-01-17/service-2.json`, CreateHITRequest.Question),
  https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_CreateHITOperation.html
* Characters XML 1.0 allows (production [2] Char): https://www.w3.org/TR/xml/#charsets
* Answers, plain and crowd-form (`taskAnswers`):
  https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMechanicalTurkRequester/RetrievingResults.html,
  https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_QuestionFormAnswersDataStructureArticle.html
* Fees: https://requester.mturk.com/pricing (see `assignment_fee`)
* Qualifications: https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_QualificationRequirementDataStructureArticle.html
* Additional assignments: https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_CreateAdditionalAssignmentsForHITOperation.html

Note: Mechanical Turk was reported (news quoting a notice on https://www.mturk.com) to stop
accepting new customers on 30 July 2026, existing requesters keeping the service; check before counting on a new
requester account.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict

REGION = "us-east-1"  # MTurk's requester API exists in us-east-1 only
ENDPOINTS = {
    "sandbox": "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
    "production": "https://mturk-requester.us-east-1.amazonaws.com",
}


class ClientSettings(TypedDict):
    region_name: str
    endpoint_url: str


def client_settings(environment: str) -> ClientSettings:
    """boto3.client("mturk", **client_settings(env)) for the stack's MTurkEnvironment (sandbox or production)."""
    if environment not in ENDPOINTS:
        raise ValueError(f"MTurkEnvironment must be one of {sorted(ENDPOINTS)}, got {environment!r}")
    return {"region_name": REGION, "endpoint_url": ENDPOINTS[environment]}


WORKER_SITES = {
    "sandbox": "https://workersandbox.mturk.com",
    "production": "https://worker.mturk.com",
}

HTML_QUESTION_NAMESPACE = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
ANSWERS_NAMESPACE = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
)
CROWD_LOADER_URL = "https://assets.crowd.aws/crowd-html-elements.js"
CROWD_LOADER = f'<script src="{CROWD_LOADER_URL}"></script>'
# CreateHIT's Question: at most 64 kilobytes, 65,535 bytes, whitespace included (botocore's MTurk model says so).
MAX_QUESTION_BYTES = 65_535
TASK_ANSWERS = "taskAnswers"  # the one QuestionIdentifier crowd-form submits
MAX_FEEDBACK_CHARS = 1024  # RequesterFeedback of RejectAssignment / ApproveAssignment

# System qualification types (same ids in the sandbox and in production) and Masters (one id per environment).
# https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_QualificationRequirementDataStructureArticle.html
# (the same ids are listed by MTurkR, https://rdrr.io/cran/MTurkR/src/R/ListQualificationTypes.R)
PERCENT_ASSIGNMENTS_APPROVED = "000000000000000000L0"
NUMBER_HITS_APPROVED = "00000000000000000040"
WORKER_LOCALE = "00000000000000000071"
MASTERS = {"sandbox": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "production": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"}
MAX_LOCALE_VALUES = 30  # LocaleValues with In / NotIn (QualificationRequirement.LocaleValues in the API model)

# Fees, https://requester.mturk.com/pricing: 20% of the reward and bonus, +20% of the reward for HITs with 10 or
# more assignments, +5% of the reward for Masters, at least $0.01 per assignment or bonus payment; the pricing FAQ
# rounds half up to the cent ($0.105 -> $0.11, $0.104 -> $0.10).
FEE_SOURCE = "https://requester.mturk.com/pricing"
BASE_FEE_RATE = Decimal("0.20")
LARGE_HIT_FEE_RATE = Decimal("0.20")
LARGE_HIT_ASSIGNMENTS = 10
MASTERS_FEE_RATE = Decimal("0.05")
MIN_FEE = Decimal("0.01")
CENT = Decimal("0.01")
# CreateAdditionalAssignmentsForHIT: a HIT created with fewer than 10 assignments cannot reach 10 or more.
MAX_ASSIGNMENTS_BELOW_LARGE = LARGE_HIT_ASSIGNMENTS - 1
# UNCONFIRMED for the 2017-01-17 API (its model states no maximum): the legacy CreateHIT reference allowed
# MaxAssignments from 1 to 1,000,000,000.
MAX_ASSIGNMENTS_API = 1_000_000_000

# Anything outside XML 1.0's Char production: C0 controls but tab/LF/CR, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DOCTYPE = re.compile(r"<!doctype\s", re.IGNORECASE)
_CROWD_TAG = re.compile(r"<crowd-[a-z]", re.IGNORECASE)
_LOCALE = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")


class InvalidQuestion(ValueError):
    """A rendered task page cannot become a valid HTMLQuestion; `rule` names the rule it broke.

    Rules: invalid-xml-character, question-too-long, not-well-formed, invalid-frame-height.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class AnswerProblem(ValueError):
    """An assignment's Answer cannot be read; `rule` names the rule it broke.

    Rules: not-xml, no-task-answers, task-answers-not-json, task-answers-not-one-object, duplicate-question,
    unsupported-answer.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


# --- HTMLQuestion -------------------------------------------------------------------------------------------------


def html_question(page_html: str, *, frame_height: int = 0) -> str:
    """The HTMLQuestion XML for CreateHIT's `Question` from a rendered task page (the Liquid template's output).

    The page gets `<!DOCTYPE html>` first if it lacks one, and the Crowd HTML Elements loader if it uses crowd-*
    tags without it. `frame_height` is in pixels; 0 lets MTurk scale the frame to the worker's window.
    """
    if isinstance(frame_height, bool) or not isinstance(frame_height, int) or frame_height < 0:
        raise InvalidQuestion(
            "invalid-frame-height",
            f"FrameHeight must be a whole number of pixels, 0 or more (0 fits the worker's window), "
            f"not {frame_height!r}",
        )
    _check_xml_characters(page_html)
    page = _with_loader(_with_doctype(page_html))
    # "]]>" would end the CDATA section early: close it after "]]" and open a new one before ">".
    cdata = "<![CDATA[" + page.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    question = (
        f'<HTMLQuestion xmlns="{HTML_QUESTION_NAMESPACE}">'
        f"<HTMLContent>{cdata}</HTMLContent>"
        f"<FrameHeight>{frame_height}</FrameHeight>"
        "</HTMLQuestion>"
    )
    _check_well_formed(question, page)
    size = len(question.encode("utf-8"))
    if size > MAX_QUESTION_BYTES:
        raise InvalidQuestion(
            "question-too-long",
            f"the HTMLQuestion is {size:,} bytes (UTF-8), {size - MAX_QUESTION_BYTES:,} over CreateHIT's limit of "
            f"{MAX_QUESTION_BYTES:,} bytes; shrink the page: move inline data (base64 images, large JSON, styles, "
            "scripts) to files the page loads by URL (e.g. presigned S3 URLs)",
        )
    return question


def _check_xml_characters(page: str) -> None:
    match = _NOT_XML_CHAR.search(page)
    if match is None:
        return
    at = match.start()
    line = page.count("\n", 0, at) + 1
    column = at - (page.rfind("\n", 0, at) + 1) + 1
    others = len(_NOT_XML_CHAR.findall(page)) - 1
    more = f" ({others} more after it)" if others else ""
    context = _NOT_XML_CHAR.sub("\N{REPLACEMENT CHARACTER}", page[max(0, at - 30) : at + 30])
    raise InvalidQuestion(
        "invalid-xml-character",
        f"the rendered page has U+{ord(match.group()):04X}, a character XML 1.0 forbids, at line {line}, column "
        f"{column}{more}, near {context!r}; it usually comes from item data (a file name, a label, metadata): "
        "remove or escape it in the data or in the template (e.g. drop control characters) and render again",
    )


def _with_doctype(page: str) -> str:
    stripped = page.lstrip()
    if _DOCTYPE.match(stripped):
        return stripped
    return "<!DOCTYPE html>\n" + stripped


def _with_loader(page: str) -> str:
    if not _CROWD_TAG.search(page) or CROWD_LOADER_URL in page:
        return page
    # The loader goes right after the doctype, before any form that uses the elements.
    end_of_doctype = page.index(">") + 1
    return page[:end_of_doctype] + "\n" + CROWD_LOADER + page[end_of_doctype:]


def _check_well_formed(question: str, page: str) -> None:
    try:
        root = ET.fromstring(question)
    except ET.ParseError as error:
        line, column = error.position
        raise InvalidQuestion(
            "not-well-formed",
            f"the HTMLQuestion is not well-formed XML at line {line}, column {column} of the question: {error}",
        ) from error
    content = root.find(f"{{{HTML_QUESTION_NAMESPACE}}}HTMLContent")
    expected = page.replace("\r\n", "\n").replace("\r", "\n")  # XML parsers normalise line ends, CDATA too
    if root.tag != f"{{{HTML_QUESTION_NAMESPACE}}}HTMLQuestion" or content is None or content.text != expected:
        raise InvalidQuestion(
            "not-well-formed", "the HTMLQuestion does not parse back to the page it wraps (a bug in html_question)"
        )


def preview_url(hit_group_id: str, *, sandbox: bool) -> str:
    """Where a requester previews a HIT on the worker site, from CreateHIT's `HIT.HITGroupId`."""
    site = WORKER_SITES["sandbox" if sandbox else "production"]
    return f"{site}/mturk/preview?groupId={hit_group_id}"


# --- Answers ------------------------------------------------------------------------------------------------------


def parse_answer(xml_text: str) -> dict[str, Any]:
    """The form's values from an assignment's `Answer` (a QuestionFormAnswers document).

    crowd-form submits one Answer, `taskAnswers`, whose FreeText is a JSON array of one object: that object is
    returned (Ground Truth's `answerContent`). A plain HTML form submits one Answer per field: `{identifier: text}`
    is returned, every value a string, as the worker's browser sent it.
    """
    answers = _answers(xml_text)
    if TASK_ANSWERS in answers:
        if len(answers) > 1:
            others = ", ".join(sorted(name for name in answers if name != TASK_ANSWERS))
            raise AnswerProblem(
                "task-answers-not-one-object",
                f"the Answer has {TASK_ANSWERS} and other fields ({others}); crowd-form submits {TASK_ANSWERS} alone",
            )
        return _task_answers(answers[TASK_ANSWERS])
    return answers


def _answers(xml_text: str) -> dict[str, str]:
    if not xml_text.strip():
        raise AnswerProblem(
            "no-task-answers", "the Answer is empty: the worker submitted no fields (MTurk then may return no XML)"
        )
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as error:
        raise AnswerProblem("not-xml", f"the Answer is not XML ({error}): {_snippet(xml_text)}") from error
    if _local(root.tag) != "QuestionFormAnswers":
        raise AnswerProblem("not-xml", f"the Answer's root element is <{_local(root.tag)}>, not <QuestionFormAnswers>")
    answers: dict[str, str] = {}
    for answer in root:
        if _local(answer.tag) != "Answer":
            continue
        fields = {_local(child.tag): child for child in answer}
        identifier = (fields["QuestionIdentifier"].text or "").strip() if "QuestionIdentifier" in fields else ""
        if not identifier:
            raise AnswerProblem("unsupported-answer", "an Answer element has no QuestionIdentifier")
        if identifier in answers:
            raise AnswerProblem(
                "duplicate-question", f"the Answer has QuestionIdentifier {identifier!r} more than once"
            )
        if "FreeText" not in fields:
            found = ", ".join(name for name in fields if name != "QuestionIdentifier") or "nothing"
            raise AnswerProblem(
                "unsupported-answer",
                f"the answer to {identifier!r} holds {found}, not FreeText: only HTML forms (HTMLQuestion) are read",
            )
        answers[identifier] = fields["FreeText"].text or ""
    if not answers:
        raise AnswerProblem("no-task-answers", "the Answer has no Answer elements: the worker submitted no fields")
    return answers


def _task_answers(free_text: str) -> dict[str, Any]:
    try:
        value = json.loads(free_text)
    except json.JSONDecodeError as error:
        raise AnswerProblem(
            "task-answers-not-json", f"{TASK_ANSWERS} is not JSON ({error}): {_snippet(free_text)}"
        ) from error
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        found = f"a list of {len(value)}" if isinstance(value, list) else f"a JSON {type(value).__name__}"
        if isinstance(value, list) and len(value) == 1:
            found = f"a list holding a JSON {type(value[0]).__name__}"
        raise AnswerProblem(
            "task-answers-not-one-object",
            f"{TASK_ANSWERS} should be a JSON array of one object, found {found}: {_snippet(free_text)}",
        )
    return value[0]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _snippet(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --- Fees and cost ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostEstimate:
    """What a batch costs once every assignment is approved (rejected work is neither paid nor charged)."""

    items: int
    assignments: int
    reward: Decimal
    fee_per_assignment: Decimal
    rewards: Decimal
    fees: Decimal
    total: Decimal
    fee_rule: str


def fee_rate(*, max_assignments: int, masters: bool = False) -> Decimal:
    """MTurk's fee as a share of the reward for a HIT with `max_assignments` (https://requester.mturk.com/pricing)."""
    _check_assignments(max_assignments)
    rate = BASE_FEE_RATE
    if max_assignments >= LARGE_HIT_ASSIGNMENTS:
        rate += LARGE_HIT_FEE_RATE
    if masters:
        rate += MASTERS_FEE_RATE
    return rate


def assignment_fee(reward: Decimal, *, max_assignments: int, masters: bool = False) -> Decimal:
    """MTurk's fee for one approved assignment of a HIT created with `max_assignments`.

    Rule (https://requester.mturk.com/pricing): 20% of the reward, +20% when the HIT has 10 or more assignments,
    +5% with the Masters qualification; at least $0.01; rounded half up to the cent. UNCONFIRMED: the percentages
    are added before one rounding, and the $0.01 minimum applies to a $0.00 reward too.
    """
    reward = _whole_cents(reward, "reward")
    fee = (reward * fee_rate(max_assignments=max_assignments, masters=masters)).quantize(CENT, ROUND_HALF_UP)
    return max(fee, MIN_FEE)


def assignment_cost(reward: Decimal, *, max_assignments: int, masters: bool = False) -> Decimal:
    """What one approved assignment costs the requester: the worker's reward plus MTurk's fee."""
    return _whole_cents(reward, "reward") + assignment_fee(reward, max_assignments=max_assignments, masters=masters)


def estimate_cost(*, items: int, assignments_per_item: int, reward: Decimal, masters: bool = False) -> CostEstimate:
    """The cost of one HIT per item with `assignments_per_item` assignments, all approved, before any bonus.

    Assignments added later on disagreement cost `assignment_cost` each, at the fee of the HIT's original size.
    """
    if isinstance(items, bool) or not isinstance(items, int) or items < 0:
        raise ValueError(f"items must be a whole number, 0 or more, not {items!r}")
    reward = _whole_cents(reward, "reward")
    fee = assignment_fee(reward, max_assignments=assignments_per_item, masters=masters)
    assignments = items * assignments_per_item
    rate = fee_rate(max_assignments=assignments_per_item, masters=masters)
    fee_rule = (
        f"MTurk fee {rate * 100:.0f}% of the reward (20% base, +20% for HITs with 10 or more assignments, +5% for "
        f"Masters), at least $0.01 per assignment, rounded half up to the cent: ${format_usd(fee)} per assignment "
        f"({FEE_SOURCE})"
    )
    return CostEstimate(
        items=items,
        assignments=assignments,
        reward=reward,
        fee_per_assignment=fee,
        rewards=reward * assignments,
        fees=fee * assignments,
        total=(reward + fee) * assignments,
        fee_rule=fee_rule,
    )


def max_assignments_allowed(initial: int) -> int:
    """The most assignments a HIT created with `initial` can reach through CreateAdditionalAssignmentsForHIT.

    A HIT created with fewer than 10 cannot be extended to 10 or more (InvalidMaximumAssignmentsIncrease):
    https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_CreateAdditionalAssignmentsForHITOperation.html
    """
    _check_assignments(initial)
    return MAX_ASSIGNMENTS_BELOW_LARGE if initial < LARGE_HIT_ASSIGNMENTS else MAX_ASSIGNMENTS_API


def format_usd(amount: Decimal) -> str:
    """An amount as MTurk writes one ("10000.00"): CreateHIT's Reward, SendBonus's BonusAmount, account balances."""
    return f"{_whole_cents(amount, 'amount'):.2f}"


def _whole_cents(amount: Decimal, name: str) -> Decimal:
    # MTurk's CurrencyAmount pattern, ^[0-9]+(\.)?[0-9]{0,2}$, allows neither signs nor fractions of a cent.
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (floats cannot hold cents exactly), not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT, ROUND_HALF_UP):
        raise ValueError(f"{name} must be a whole number of US cents, 0 or more (e.g. Decimal('0.05')), not {amount}")
    return amount.quantize(CENT)


def _check_assignments(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ASSIGNMENTS_API:
        raise ValueError(f"a HIT has 1 to {MAX_ASSIGNMENTS_API:,} assignments, not {count!r}")


# --- Qualification requirements -----------------------------------------------------------------------------------


def qualification_requirements(
    *,
    min_approval_rate: int | None,
    min_approved_hits: int | None,
    locales: Sequence[str] = (),
    masters: bool = False,
    sandbox: bool,
) -> list[dict[str, Any]]:
    """CreateHIT's `QualificationRequirements`: who may accept the HIT (everyone may still preview it).

    `locales` are ISO 3166 country codes ("US") or country-subdivision codes ("US-WA").
    """
    requirements: list[dict[str, Any]] = []
    if min_approval_rate is not None:
        _check_int(min_approval_rate, "min_approval_rate", 0, 100)
        requirements.append(_at_least(PERCENT_ASSIGNMENTS_APPROVED, min_approval_rate))
    if min_approved_hits is not None:
        _check_int(min_approved_hits, "min_approved_hits", 0, None)
        requirements.append(_at_least(NUMBER_HITS_APPROVED, min_approved_hits))
    if locales:
        if isinstance(locales, str):
            raise TypeError(f"locales must be a sequence of codes such as ['US'], not the string {locales!r}")
        if len(locales) > MAX_LOCALE_VALUES:
            raise ValueError(f"a locale requirement takes at most {MAX_LOCALE_VALUES} locales, not {len(locales)}")
        requirements.append(
            {
                "QualificationTypeId": WORKER_LOCALE,
                "Comparator": "In",
                "LocaleValues": [_locale(code) for code in locales],
                "ActionsGuarded": "Accept",
            }
        )
    if masters:
        requirements.append(
            {
                "QualificationTypeId": MASTERS["sandbox" if sandbox else "production"],
                "Comparator": "Exists",
                "ActionsGuarded": "Accept",
            }
        )
    return requirements


def _at_least(qualification_type_id: str, value: int) -> dict[str, Any]:
    return {
        "QualificationTypeId": qualification_type_id,
        "Comparator": "GreaterThanOrEqualTo",
        "IntegerValues": [value],
        "ActionsGuarded": "Accept",
    }


def _locale(code: str) -> dict[str, str]:
    match = _LOCALE.match(code.strip().upper()) if isinstance(code, str) else None
    if match is None:
        raise ValueError(f"locale {code!r} is not an ISO 3166 country code ('US') or subdivision code ('US-WA')")
    country, subdivision = match.groups()
    return {"Country": country} if subdivision is None else {"Country": country, "Subdivision": subdivision}


def _check_int(value: int, name: str, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"{low} to {high}" if high is not None else f"{low} or more"
        raise ValueError(f"{name} must be a whole number, {bounds}, not {value!r}")


# --- Spam ---------------------------------------------------------------------------------------------------------


def spam_reason(
    content: Any, *, seconds_spent: float, min_seconds: float, expected_fields: Sequence[str]
) -> str | None:
    """Why an answer is obviously spam, as RequesterFeedback for RejectAssignment; None when it is not.

    Conservative on purpose (a rejection lowers a worker's approval rate): only two rules reject.
    1. Nothing was answered: the content is not an object, or every expected field (every field when none are
       expected) is missing or empty (None, blank text, an empty list or object, or an object of empty values;
       0 and false are answers).
    2. The worker submitted in less than `min_seconds` (SubmitTime - AcceptTime); choose it well below the fastest
       honest time seen in the sandbox.
    Wrong answers are never spam here: consensus and worker quality judge those.
    """
    if seconds_spent < 0 or min_seconds < 0:
        raise ValueError(f"seconds must be 0 or more, got seconds_spent={seconds_spent}, min_seconds={min_seconds}")
    if not isinstance(content, Mapping):
        return _feedback("the submission contained no answers.")
    fields = list(expected_fields) or [str(name) for name in content]
    if all(_empty(content.get(name)) for name in fields):
        listed = ", ".join(fields[:10]) + (f" and {len(fields) - 10} more" if len(fields) > 10 else "")
        return _feedback(f"none of the required answers were given ({listed or 'the form was empty'}).")
    if seconds_spent < min_seconds:
        return _feedback(
            f"it was submitted {_seconds(seconds_spent)} after it was accepted, and this task needs at least "
            f"{_seconds(min_seconds)} to look at the item and answer."
        )
    return None


def _seconds(value: float) -> str:
    return "1 second" if round(value) == 1 else f"{value:.0f} seconds"


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping):
        return all(_empty(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_empty(item) for item in value)
    return False  # numbers and booleans, 0 and false included, are answers


def _feedback(reason: str) -> str:
    text = (
        f"Thank you for working on this task. We could not accept this submission because {reason} "
        "If you think this is a mistake, please contact us through Mechanical Turk and we will look at it again."
    )
    return text if len(text) <= MAX_FEEDBACK_CHARS else text[: MAX_FEEDBACK_CHARS - 3] + "..."
