"""A HIT's Question and an assignment's Answer, as MTurk's XML schemas define them.

`parse_question` checks a CreateHIT Question like MTurk's schema check (at most 65,535 bytes, well-formed XML,
HTMLQuestion / ExternalQuestion / QuestionForm in their namespaces, HTMLContent and FrameHeight present) and
returns the HTMLQuestion's page. `question_form_answers` writes what an HTMLQuestion assignment's `Answer` holds:
QuestionFormAnswers XML with one Answer, QuestionIdentifier `taskAnswers`, FreeText = a JSON array holding the
crowd-form's object (`[{"category":{"label":"circle"}}]`), or the raw text when a faulty worker's submission is
not JSON.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from groundcrew_local.mturk.errors import MTurkError, parameter_error

MAX_QUESTION_BYTES = 65_535
HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
EXTERNAL_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
)
QUESTION_FORM_NS = {
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd",
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd",
}
ANSWERS_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
ANSWER_IDENTIFIER = "taskAnswers"  # the hidden field crowd-form posts its JSON answers in


def question_form_answers(content: str) -> str:
    """The `Answer` of an HTMLQuestion assignment: crowd-form posts `taskAnswers`, a JSON array of its object."""
    try:
        free_text = json.dumps([json.loads(content)], ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        free_text = content  # a faulty worker's submission, verbatim
    free_text = "".join(ch for ch in free_text if ch in "\t\n\r" or ord(ch) >= 0x20)  # XML 1.0 characters only
    xml = (
        f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{ANSWERS_NS}"><Answer>'
        f"<QuestionIdentifier>{ANSWER_IDENTIFIER}</QuestionIdentifier><FreeText>{escape(free_text)}</FreeText>"
        "</Answer></QuestionFormAnswers>"
    )
    return xml.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _question_parse_error(details: str) -> MTurkError:
    return parameter_error(
        "There was an error parsing the XML question or answer data in your request. Please make sure the data is "
        f"well-formed and validates against the appropriate schema. Details: {details}"
    )


def _local_name(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def parse_question(question: str) -> str | None:
    """Check a CreateHIT Question like MTurk's schema check; return the HTMLQuestion's page (None for others)."""
    if len(question.encode()) > MAX_QUESTION_BYTES:
        raise parameter_error(f"Question is {len(question.encode())} bytes; it must not exceed {MAX_QUESTION_BYTES}")
    try:
        root = ET.fromstring(question)
    except ET.ParseError as error:
        raise _question_parse_error(f"the Question is not well-formed XML: {error}") from None
    namespace, kind = _local_name(root.tag)
    children = {_local_name(child.tag)[1]: child for child in root}
    if kind == "HTMLQuestion":
        if namespace != HTML_QUESTION_NS:
            raise _question_parse_error(f"HTMLQuestion must be in namespace {HTML_QUESTION_NS}, found {namespace!r}")
        content = children.get("HTMLContent")
        if content is None or not (content.text or "").strip():
            raise _question_parse_error(
                "HTMLQuestion needs an HTMLContent element holding the task page (wrap it in <![CDATA[ ... ]]>)"
            )
        _check_frame_height(kind, children)
        return content.text
    if kind == "ExternalQuestion":
        if namespace != EXTERNAL_QUESTION_NS:
            raise _question_parse_error(
                f"ExternalQuestion must be in namespace {EXTERNAL_QUESTION_NS}, found {namespace!r}"
            )
        url = (children["ExternalURL"].text or "").strip() if "ExternalURL" in children else ""
        if not url.startswith("https://"):
            raise _question_parse_error(f"ExternalQuestion needs an https ExternalURL, found {url!r}")
        _check_frame_height(kind, children)
        return None
    if kind == "QuestionForm":
        if namespace not in QUESTION_FORM_NS:
            raise _question_parse_error(f"QuestionForm must be in one of the namespaces {sorted(QUESTION_FORM_NS)}")
        return None
    raise _question_parse_error(f"the root element is {kind}; use HTMLQuestion, ExternalQuestion or QuestionForm")


def _check_frame_height(kind: str, children: dict[str, ET.Element]) -> None:
    height = (children["FrameHeight"].text or "").strip() if "FrameHeight" in children else ""
    if not height.isdigit():
        raise _question_parse_error(f"{kind} needs a FrameHeight (a whole number of pixels, 0 = automatic)")
