"""A local stand-in for the Amazon Mechanical Turk requester API (2017-01-17), served through moto.

moto has no Mechanical Turk. `install_mturk` hooks `BotocoreStubber.process_request` (moto's router for every
botocore request while `mock_aws` is active), so requests to `https://mturk-requester-sandbox.us-east-1.amazonaws.com`
and `https://mturk-requester.us-east-1.amazonaws.com` (JSON 1.1, `X-Amz-Target: MTurkRequesterServiceV20170117.<Op>`)
are answered here. moto_patches' local IAM check lives in `BotocoreStubber.__call__`, which calls
`process_request`: the check still runs first. Sandbox and production are two separate requester accounts (their
own HITs and balance), as on MTurk. Requests to the moto *server* (`ThreadedMotoServer`) are not served.

Operations: GetAccountBalance, CreateHIT, GetHIT, ListHITs, ListReviewableHITs, ListAssignmentsForHIT,
ApproveAssignment, RejectAssignment, CreateAdditionalAssignmentsForHIT, UpdateExpirationForHIT, DeleteHIT. Any
other operation raises NotImplementedError in the caller.

Errors (HTTP 400, body `{"__type", "Message", "TurkErrorCode"}`; messages end in ` (<epoch millis>)` like MTurk's):
* requests breaking botocore's model (required members, types, lengths, ranges, patterns, enums; ground_truth's
  wording) or MTurk's documented parameter rules (AssignmentDurationInSeconds 30..31536000, a Question of at most
  65,535 bytes that parses as HTMLQuestion / ExternalQuestion / QuestionForm XML...) -> `ParameterValidationError`.
  MTurk really answers bad parameters with that `__type` although the model lists only RequestError/ServiceFault
  (boto/boto3#2108, a CreateHIT with bad HTML5 in tylin/coco-ui#4); botocore raises it as a plain ClientError.
* state and business rules -> `RequestError` with a `TurkErrorCode`: unknown HIT `Hit <id> does not exist.`
  (AWS.MechanicalTurk.HITDoesNotExist), an assignment not Submitted `This operation can be called with a status
  of: Submitted` (AWS.MechanicalTurk.InvalidAssignmentState), both observed (NRGI/resourcecontracts.org#1384).

Simulated work. An HTMLQuestion's HTMLContent is the task page. Workers answer it through
`SimulatedWorkforce.answer(page, data_object, n, posted_at=now, time_limit_seconds=AssignmentDurationInSeconds,
availability_seconds=<lifetime left>, fetch=...)`; the workforce's own availability rule drops workers who would
accept after the HIT expired, so a HIT can end with fewer assignments than MaxAssignments. No worker answers the
same HIT twice. The data object (answer-key lookup) comes from the first crowd element with a `src`: a presigned
S3 URL, path-style or virtual-hosted, becomes `{"source-ref": "s3://bucket/key"}`; otherwise RequesterAnnotation
when it is a JSON object with `source-ref` or `source`. Workers load URLs through `presign_reader` (default: the
object of moto's S3 that the URL names; signatures and expiry are not checked). ExternalQuestion and QuestionForm
HITs, and pages the workforce cannot answer, get no assignments (the reason is kept in `HIT.problems`).

Each answer becomes an assignment: WorkerId `A` + 13 base-32 characters derived from the simulated worker's id,
`Answer` = QuestionFormAnswers XML holding one Answer, QuestionIdentifier `taskAnswers`, FreeText = a JSON array
holding the crowd-form's object (`[{"category":{"label":"circle"}}]`), or the raw text when a faulty worker's
submission is not JSON.

Time is the workforce's simulated clock (`workforce.now`): CreationTime, Expiration, AcceptTime... all come from
it, and error-message millis too. Step rule, deterministic like ground_truth's one step per DescribeLabelingJob:
every GetHIT and every ListAssignmentsForHIT without NextToken first advances that HIT one step; ListHITs and
ListReviewableHITs without NextToken advance every HIT of the account one step. A step submits the HIT's next
simulated answer (in submission order; the clock moves to its SubmitTime); when no answer is left and the HIT is
neither full nor expired, the step moves the clock to its Expiration. `run_until_done()` steps every HIT until
each is Reviewable or Disposed. Submitted assignments are approved automatically once the clock passes their
AutoApprovalTime.

Status: Assignable; Unassignable when every assignment is taken or the HIT expired while workers still hold some;
Reviewable when MaxAssignments were submitted, or it expired and nobody holds one; Disposed after DeleteHIT.

Decisions where the documentation is silent (UNCONFIRMED against the live service):
* UniqueRequestToken: CreateHIT with a token seen in the last 24 h -> RequestError
  `AWS.MechanicalTurk.HitAlreadyExists`, `The idempotency token "<t>" has already been processed. The HIT with ID
  <id> already exists.` (the model documents the code and "a message containing the HITId"; the first sentence
  is the wording observed for another operation, Dallinger/Dallinger#3109). CreateAdditionalAssignmentsForHIT
  repeats -> RequestError with that first sentence.
* CreateHIT needs the balance to cover (reward + fee) x MaxAssignments (AWS.MechanicalTurk.InsufficientFunds);
  nothing is put on hold. ApproveAssignment deducts reward + fee, refused when the balance is short.
* Fee: the product's rule, `groundcrew.mturk_hits.assignment_fee` (Masters, which needs the qualification, is
  not emulated).
* Defaults: MaxAssignments 1, AutoApprovalDelayInSeconds 2,592,000 (30 days, the legacy API's default),
  MaxResults 10. Limits from the legacy API reference: LifetimeInSeconds 30..31536000, AutoApprovalDelayInSeconds
  0..2592000, MaxAssignments 1..1,000,000,000, Title 128, Description 2,000, Keywords 1,000, RequesterAnnotation
  255, RequesterFeedback 1,024 characters.
* Adding assignments from <10 to >=10 -> RequestError AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease
  (documented code; the message is ours). DeleteHIT on a HIT that is not Reviewable ->
  AWS.MechanicalTurk.InvalidHITState; with Submitted assignments left -> the same code, another message.
* UpdateExpirationForHIT compares ExpireAt with the simulated clock: the usual `datetime(2015, 1, 1)` expires
  now; workers who already accepted still submit. A later ExpireAt reopens the HIT and recruits workers for the
  assignments still missing.
* QualificationRequirements, review policies, HITLayoutId (refused) and HIT types are not emulated; HITTypeId
  derives from the HIT's type properties, HITGroupId from HITTypeId. State lives on the stand-in (one requester),
  not on moto's backends: a `mock_aws` reset does not clear it, installing a new stand-in does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSPreparedRequest
from botocore.model import ListShape, Shape, StructureShape
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.exceptions import ServiceException
from moto.core.utils import get_service_model
from moto.s3.models import s3_backends

from groundcrew.workforces.mturk.hits import ENDPOINTS, assignment_fee
from groundcrew_local.model_constraints import constraint_violations
from groundcrew_local.page_tokens import encode_page_token, page_offset
from groundcrew_local.workforce import Fetch, SimulatedWorkforce, UnsupportedTaskPage, WorkerAnswer, crowd_elements

logger = logging.getLogger(__name__)

Environment = Literal["sandbox", "production"]
SANDBOX_ENDPOINT = ENDPOINTS["sandbox"]
PRODUCTION_ENDPOINT = ENDPOINTS["production"]
HOSTS: dict[str, Environment] = {
    "mturk-requester-sandbox.us-east-1.amazonaws.com": "sandbox",
    "mturk-requester.us-east-1.amazonaws.com": "production",
}
TARGET_PREFIX = "MTurkRequesterServiceV20170117."
SANDBOX_BALANCE = "10000.00"
CENT = Decimal("0.01")
DEFAULT_PAGE_SIZE = 10
DEFAULT_AUTO_APPROVAL_SECONDS = 2_592_000
TOKEN_LIFETIME = timedelta(hours=24)
OVERRIDE_REJECTION_WINDOW = timedelta(days=30)
MAX_QUESTION_BYTES = 65_535
ASSIGNMENT_LIMIT_THRESHOLD = 10
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
# (member, lowest, highest) of CreateHIT beyond the model (legacy API reference; AssignmentDuration also today's)
CREATE_HIT_RANGES = (
    ("AssignmentDurationInSeconds", 30, 31_536_000),
    ("LifetimeInSeconds", 30, 31_536_000),
    ("AutoApprovalDelayInSeconds", 0, 2_592_000),
    ("MaxAssignments", 1, 1_000_000_000),
)
CREATE_HIT_LENGTHS = (("Title", 128), ("Description", 2000), ("Keywords", 1000), ("RequesterAnnotation", 255))
MAX_FEEDBACK_CHARS = 1024
S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")


class MTurkError(Exception):
    """An error response: `__type` = code, HTTP 400 unless told."""

    def __init__(self, code: str, message: str, turk_error_code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.turk_error_code = turk_error_code
        self.status = status


# ---------------------------------------------------------------------------------------------------------------
# State


@dataclass
class Assignment:
    assignment_id: str
    worker_id: str  # MTurk style, e.g. A1B2C3D4E5F6G7
    simulated_worker_id: str  # the SimulatedWorker's id it derives from
    hit_id: str
    accept_time: datetime
    submit_time: datetime
    deadline: datetime
    auto_approval_time: datetime
    answer: str  # QuestionFormAnswers XML
    content: str  # what the crowd-form posted, verbatim
    status: str = "Submitted"
    approval_time: datetime | None = None
    rejection_time: datetime | None = None
    requester_feedback: str | None = None


@dataclass
class HIT:
    hit_id: str
    hit_type_id: str
    hit_group_id: str
    environment: Environment
    account_id: str
    request: dict[str, Any]
    created: datetime
    expiration: datetime
    max_assignments: int
    reward: Decimal
    page_html: str | None  # HTMLQuestion's HTMLContent; None for ExternalQuestion / QuestionForm
    data_object: dict[str, Any]
    sequence: int = 0  # creation order
    queued: list[WorkerAnswer] = field(default_factory=list)  # simulated answers not submitted yet
    assignments: list[Assignment] = field(default_factory=list)
    disposed: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def assignment_duration(self) -> int:
        return int(self.request["AssignmentDurationInSeconds"])

    @property
    def auto_approval_delay(self) -> int:
        return int(self.request.get("AutoApprovalDelayInSeconds", DEFAULT_AUTO_APPROVAL_SECONDS))

    def expired(self, now: datetime) -> bool:
        return self.expiration <= now

    def full(self) -> bool:
        return len(self.assignments) >= self.max_assignments

    def pending(self, now: datetime) -> int:
        """Assignments accepted by a worker and not submitted yet."""
        return sum(1 for answer in self.queued if answer.acceptance_time <= now)

    def status(self, now: datetime) -> str:
        if self.disposed:
            return "Disposed"
        pending = self.pending(now)
        if self.full() or self.expired(now):
            return "Unassignable" if pending else "Reviewable"
        return "Assignable" if self.available(now) else "Unassignable"

    def available(self, now: datetime) -> int:
        if self.disposed or self.expired(now):
            return 0
        return max(0, self.max_assignments - len(self.assignments) - self.pending(now))

    def settled(self, now: datetime) -> bool:
        """Nothing left to simulate: Reviewable (or Disposed)."""
        return self.status(now) in {"Reviewable", "Disposed"}


@dataclass
class _Account:
    balance: Decimal
    hits: dict[str, HIT] = field(default_factory=dict)
    tokens: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # "<operation>|<token>" -> (when, HITId)


@dataclass(frozen=True)
class Balances:
    sandbox: Decimal
    production: Decimal


def _entity_id(*parts: object) -> str:
    """30 characters of [A-Z0-9] starting with 3, like MTurk's HIT, HIT type and assignment ids."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return "3" + base64.b32encode(digest).decode()[:29]


def mturk_worker_id(simulated_worker_id: str) -> str:
    """An MTurk WorkerId (`A` + 13 of [A-Z0-9], like A2YUCJ28XANFOX) derived from a simulated worker's id."""
    digest = hashlib.sha256(simulated_worker_id.encode()).digest()
    return "A" + base64.b32encode(digest).decode()[:13]


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


def s3_uri_of_url(url: str) -> str | None:
    """`s3://bucket/key` of an S3 URL (presigned or not; path-style or virtual-hosted), None for other URLs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = S3_HOST.match(parts.hostname or "")
    if parts.scheme not in {"http", "https"} or match is None:
        return None
    path = unquote(parts.path).lstrip("/")
    bucket = match.group("bucket")
    if bucket is None:
        bucket, _, path = path.partition("/")
    if not bucket or not path:
        return None
    return f"s3://{bucket}/{path}"


def data_object_of_page(page_html: str, requester_annotation: str | None) -> dict[str, Any]:
    """What the answer key is looked up by: the first crowd element's S3 `src`, else RequesterAnnotation's JSON."""
    for element in crowd_elements(page_html):
        src = element.attributes.get("src")
        if src:
            uri = s3_uri_of_url(src)
            if uri is not None:
                return {"source-ref": uri}
            break
    if requester_annotation:
        try:
            annotation = json.loads(requester_annotation)
        except ValueError:
            return {}
        if isinstance(annotation, dict):
            return {key: annotation[key] for key in ("source-ref", "source") if isinstance(annotation.get(key), str)}
    return {}


def moto_s3_reader(account_id: str) -> Fetch:
    def read(url: str) -> bytes | None:
        uri = s3_uri_of_url(url)
        if uri is None:
            return None
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            found = s3_backends[account_id]["aws"].get_object(bucket, key)
        except ServiceException:
            return None
        return None if found is None else bytes(found.value)

    return read


# ---------------------------------------------------------------------------------------------------------------
# Request validation


@cache
def _input_shape(operation: str) -> Shape | None:
    return get_service_model("mturk").operation_model(operation).input_shape


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "timestamp": (int, float, str),
    "double": (int, float),
    "float": (int, float),
    "list": (list,),
    "structure": (dict,),
    "map": (dict,),
}


def _type_violations(value: object, shape: Shape, path: str) -> list[str]:
    expected = _JSON_TYPES.get(shape.type_name)
    wrong_bool = isinstance(value, bool) and bool not in (expected or ())
    if expected is not None and (wrong_bool or not isinstance(value, expected)):
        return [f"Value '{value}' at '{path}' failed to satisfy constraint: Member must be of type {shape.type_name}"]
    errors: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if value.get(name) is not None:
                where = f"{path}.{name[:1].lower()}{name[1:]}" if path else f"{name[:1].lower()}{name[1:]}"
                errors.extend(_type_violations(value[name], member, where))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value, start=1):
            errors.extend(_type_violations(item, shape.member, f"{path}.{index}.member"))
    return errors


def _parameter_error(message: str) -> MTurkError:
    return MTurkError("ParameterValidationError", message)


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """ParameterValidationError listing every type and model constraint the request breaks."""
    shape = _input_shape(operation)
    if shape is None:
        return
    errors = _type_violations(params, shape, "") or constraint_violations(params, shape)
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise _parameter_error(f"{len(errors)} validation error{plural} detected: " + "; ".join(errors))


def _question_parse_error(details: str) -> MTurkError:
    return _parameter_error(
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
        raise _parameter_error(f"Question is {len(question.encode())} bytes; it must not exceed {MAX_QUESTION_BYTES}")
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


def _check_create_hit_rules(params: dict[str, Any]) -> None:
    for name, lowest, highest in CREATE_HIT_RANGES:
        value = params.get(name)
        if value is not None and not lowest <= value <= highest:
            raise _parameter_error(f"{name} {value} is out of range: it must be between {lowest} and {highest}")
    for name, longest in CREATE_HIT_LENGTHS:
        value = params.get(name)
        if value is not None and len(value) > longest:
            raise _parameter_error(f"{name} is {len(value)} characters long; it must not exceed {longest}")
    if not params.get("Title") or not params.get("Description"):
        raise _parameter_error("Title and Description must not be empty")
    if params.get("HITLayoutId") is not None:
        raise MTurkError("RequestError", "HITLayoutId is not emulated by the local MTurk stand-in: pass Question")
    if not params.get("Question"):
        raise _parameter_error("Either a Question parameter or a HITLayoutId parameter must be provided")


def _check_feedback(params: dict[str, Any]) -> None:
    feedback = params.get("RequesterFeedback")
    if feedback is not None and len(feedback) > MAX_FEEDBACK_CHARS:
        raise _parameter_error(
            f"RequesterFeedback is {len(feedback)} characters long; it must not exceed {MAX_FEEDBACK_CHARS}"
        )


def _timestamp(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decode_token(token: str | None) -> int:
    offset = page_offset(token)
    if offset is None:
        raise _parameter_error(f"NextToken {token!r} is not a token this operation returned")
    return offset


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    offset = _decode_token(params.get("NextToken"))
    size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
    page = items[offset : offset + size]
    extra: dict[str, Any] = {"NumResults": len(page)}
    if offset + size < len(items):
        extra["NextToken"] = encode_page_token(offset + size)
    return page, extra


# ---------------------------------------------------------------------------------------------------------------
# The stand-in


class MTurkStandIn:
    """The requester API of one MTurk requester, sandbox and production, worked on by a simulated workforce."""

    def __init__(
        self,
        workforce: SimulatedWorkforce,
        *,
        balance: str = "0.00",
        sandbox_balance: str = SANDBOX_BALANCE,
        presign_reader: Fetch | None = None,
    ) -> None:
        self.workforce = workforce
        self.presign_reader = presign_reader
        self._accounts: dict[Environment, _Account] = {
            "sandbox": _Account(Decimal(sandbox_balance)),
            "production": _Account(Decimal(balance)),
        }
        self._created = 0
        self._lock = threading.RLock()

    # -- test controls ------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.workforce.now

    @property
    def balance(self) -> Balances:
        return Balances(self._accounts["sandbox"].balance, self._accounts["production"].balance)

    def hits(self, environment: Environment | None = None) -> list[HIT]:
        """Every HIT (Disposed ones included), oldest first."""
        found = [
            hit
            for name, account in self._accounts.items()
            if environment in (None, name)
            for hit in account.hits.values()
        ]
        return sorted(found, key=lambda hit: (hit.created, hit.sequence))

    def hit(self, hit_id: str) -> HIT:
        for hit in self.hits():
            if hit.hit_id == hit_id:
                return hit
        raise KeyError(f"no HIT {hit_id}")

    def assignments(self, hit_id: str | None = None) -> list[Assignment]:
        return [a for hit in self.hits() if hit_id in (None, hit.hit_id) for a in hit.assignments]

    def run_until_done(self, max_steps: int = 100_000) -> list[HIT]:
        """Step every HIT until each is Reviewable or Disposed."""
        with self._lock:
            for _ in range(max_steps):
                live = [hit for hit in self.hits() if not hit.settled(self.now)]
                if not live:
                    return self.hits()
                for hit in live:
                    self._step(hit)
        raise RuntimeError(f"HITs still running after {max_steps} steps")

    # -- dispatch -----------------------------------------------------------------------------------------------

    def handle(self, environment: Environment, operation: str, params: dict[str, Any], account_id: str) -> Any:
        method = _OPERATIONS.get(operation)
        if method is None:
            raise NotImplementedError(
                f"MTurk {operation} is not emulated by the local stand-in (groundcrew_local.mturk)"
            )
        with self._lock:
            validate_request(operation, params)
            return method(self, self._accounts[environment], environment, params, account_id)

    # -- operations ---------------------------------------------------------------------------------------------

    def get_account_balance(self, account: _Account, *_: Any) -> dict[str, Any]:
        return {"AvailableBalance": f"{account.balance:.2f}"}

    def create_hit(
        self, account: _Account, environment: Environment, params: dict[str, Any], account_id: str
    ) -> dict[str, Any]:
        _check_create_hit_rules(params)
        page = parse_question(params["Question"])
        now = self.now
        token = params.get("UniqueRequestToken")
        if token is not None:
            self._forget_tokens(account)
            seen = account.tokens.get(f"CreateHIT|{token}")
            if seen is not None:
                raise self._request_error(
                    f'The idempotency token "{token}" has already been processed. The HIT with ID {seen[1]} already '
                    "exists.",
                    "AWS.MechanicalTurk.HitAlreadyExists",
                )
        reward = Decimal(params["Reward"]).quantize(CENT)
        max_assignments = int(params.get("MaxAssignments") or 1)
        cost = (reward + assignment_fee(reward, max_assignments=max_assignments)) * max_assignments
        if account.balance < cost:
            raise self._request_error(
                f"This Requester has insufficient funds in their account to complete this transaction: the HIT can "
                f"cost ${cost:.2f} and the balance is ${account.balance:.2f}",
                "AWS.MechanicalTurk.InsufficientFunds",
            )
        self._created += 1
        type_properties = [
            params[name] if name != "QualificationRequirements" else json.dumps(params[name], sort_keys=True)
            for name in (
                "Title",
                "Description",
                "Reward",
                "AssignmentDurationInSeconds",
                "AutoApprovalDelayInSeconds",
                "Keywords",
                "QualificationRequirements",
            )
            if params.get(name) is not None
        ]
        hit_type_id = _entity_id("hit-type", environment, *type_properties)
        hit = HIT(
            hit_id=_entity_id("hit", environment, self._created),
            hit_type_id=hit_type_id,
            hit_group_id=_entity_id("hit-group", hit_type_id),
            environment=environment,
            account_id=account_id,
            request=dict(params),
            created=now,
            expiration=now + timedelta(seconds=int(params["LifetimeInSeconds"])),
            max_assignments=max_assignments,
            reward=reward,
            page_html=page,
            data_object=data_object_of_page(page, params.get("RequesterAnnotation")) if page is not None else {},
            sequence=self._created,
        )
        if page is None:
            hit.problems.append("only HTMLQuestion HITs are worked on by the simulated workforce")
        account.hits[hit.hit_id] = hit
        if token is not None:
            account.tokens[f"CreateHIT|{token}"] = (now, hit.hit_id)
        self._recruit(hit, max_assignments)
        return {"HIT": self._describe(hit)}

    def get_hit(self, account: _Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        hit = self._find(account, params["HITId"])
        self._step(hit)
        return {"HIT": self._describe(hit)}

    def list_hits(self, account: _Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        self._step_all(account, params)
        hits = [hit for hit in self._ordered(account) if not hit.disposed]
        page, extra = _page(hits, params)
        return {**extra, "HITs": [self._describe(hit) for hit in page]}

    def list_reviewable_hits(
        self, account: _Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        self._step_all(account, params)
        wanted = params.get("Status") or "Reviewable"
        hits = [
            hit
            for hit in self._ordered(account)
            if hit.status(self.now) == wanted and params.get("HITTypeId") in (None, hit.hit_type_id)
        ]
        page, extra = _page(hits, params)
        return {**extra, "HITs": [self._describe(hit) for hit in page]}

    def list_assignments_for_hit(
        self, account: _Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        hit = self._find(account, params["HITId"])
        if not params.get("NextToken"):
            self._step(hit)
        else:
            self._refresh(account, hit)
        statuses = set(params.get("AssignmentStatuses") or ["Submitted", "Approved", "Rejected"])
        chosen = [a for a in hit.assignments if a.status in statuses]
        page, extra = _page(chosen, params)
        return {**extra, "Assignments": [self._describe_assignment(a) for a in page]}

    def approve_assignment(self, account: _Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        _check_feedback(params)
        hit, assignment = self._find_assignment(account, params["AssignmentId"])
        self._refresh(account, hit)
        override = bool(params.get("OverrideRejection"))
        if assignment.status == "Rejected" and override:
            if hit.disposed:
                raise self._request_error(
                    f"Assignment {assignment.assignment_id} belongs to a deleted HIT: its rejection can no longer be "
                    "overridden",
                    "AWS.MechanicalTurk.InvalidAssignmentState",
                )
            if self.now - assignment.submit_time > OVERRIDE_REJECTION_WINDOW:
                raise self._request_error(
                    "A rejection can only be overridden within 30 days of the submission",
                    "AWS.MechanicalTurk.InvalidAssignmentState",
                )
        elif assignment.status != "Submitted":
            raise self._request_error(
                "This operation can be called with a status of: Submitted", "AWS.MechanicalTurk.InvalidAssignmentState"
            )
        self._pay(account, hit, assignment, self.now)
        assignment.requester_feedback = params.get("RequesterFeedback")
        assignment.rejection_time = None
        return {}

    def reject_assignment(self, account: _Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        _check_feedback(params)
        hit, assignment = self._find_assignment(account, params["AssignmentId"])
        self._refresh(account, hit)
        if assignment.status != "Submitted":
            raise self._request_error(
                "This operation can be called with a status of: Submitted", "AWS.MechanicalTurk.InvalidAssignmentState"
            )
        assignment.status, assignment.rejection_time = "Rejected", self.now
        assignment.requester_feedback = params["RequesterFeedback"]
        return {}

    def create_additional_assignments_for_hit(
        self, account: _Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        hit = self._find(account, params["HITId"])
        extra = int(params["NumberOfAdditionalAssignments"])
        if extra < 1:
            raise _parameter_error(f"NumberOfAdditionalAssignments {extra} must be at least 1")
        token = params.get("UniqueRequestToken")
        if token is not None:
            self._forget_tokens(account)
            if f"CreateAdditionalAssignmentsForHIT|{token}" in account.tokens:
                raise self._request_error(
                    f'The idempotency token "{token}" has already been processed.',
                    "AWS.MechanicalTurk.DuplicateRequest",
                )
        if hit.disposed:
            raise self._invalid_hit_state(hit, "Assignable, Unassignable, Reviewable")
        total = hit.max_assignments + extra
        if hit.max_assignments < ASSIGNMENT_LIMIT_THRESHOLD <= total:
            raise self._request_error(
                f"HIT {hit.hit_id} was created with {hit.max_assignments} assignments: HITs with fewer than "
                f"{ASSIGNMENT_LIMIT_THRESHOLD} assignments cannot be extended to {ASSIGNMENT_LIMIT_THRESHOLD} or more "
                f"(asked for {total})",
                "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
            )
        if token is not None:
            account.tokens[f"CreateAdditionalAssignmentsForHIT|{token}"] = (self.now, hit.hit_id)
        hit.max_assignments = total
        self._recruit(hit, extra)
        return {}

    def update_expiration_for_hit(
        self, account: _Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        hit = self._find(account, params["HITId"])
        if hit.disposed:
            raise self._invalid_hit_state(hit, "Assignable, Unassignable, Reviewable")
        expire_at = _timestamp(params["ExpireAt"])
        now = self.now
        # The requester's ExpireAt is wall-clock time; the simulated clock may have run ahead of it (waiting for
        # answers), so a future ExpireAt keeps its distance from now on the simulated clock.
        ahead = expire_at - datetime.now(UTC)
        if ahead <= timedelta(0):
            hit.expiration = now
            hit.queued = [answer for answer in hit.queued if answer.acceptance_time <= now]  # those accepted finish
        else:
            hit.expiration = now + ahead
            self._recruit(hit, hit.max_assignments - len(hit.assignments) - len(hit.queued))
        return {}

    def delete_hit(self, account: _Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        hit = self._find(account, params["HITId"])
        self._refresh(account, hit)
        if hit.status(self.now) != "Reviewable":
            raise self._invalid_hit_state(hit, "Reviewable")
        waiting = [a.assignment_id for a in hit.assignments if a.status == "Submitted"]
        if waiting:
            raise self._request_error(
                f"HIT {hit.hit_id} has {len(waiting)} submitted assignments that are neither approved nor rejected "
                f"({', '.join(waiting)}): approve or reject them before deleting the HIT",
                "AWS.MechanicalTurk.InvalidHITState",
            )
        hit.disposed = True
        return {}

    # -- simulation ---------------------------------------------------------------------------------------------

    def _recruit(self, hit: HIT, n: int) -> None:
        """Ask the workforce for n more answers from workers who have not worked on this HIT."""
        if n <= 0 or hit.page_html is None:
            return
        now = self.now
        lifetime_left = (hit.expiration - now).total_seconds()
        if lifetime_left <= 0:
            return
        used = {a.simulated_worker_id for a in hit.assignments} | {answer.worker_id for answer in hit.queued}
        try:
            answers = self.workforce.answer(
                hit.page_html,
                hit.data_object,
                n + len(used),
                posted_at=now,
                time_limit_seconds=float(hit.assignment_duration),
                availability_seconds=lifetime_left,
                fetch=self.presign_reader or moto_s3_reader(hit.account_id),
            )
        except UnsupportedTaskPage as error:
            hit.problems.append(f"the simulated workforce cannot work on this page: {error}")
            logger.warning("MTurk HIT %s gets no assignments: %s", hit.hit_id, error)
            return
        fresh = [answer for answer in answers if answer.worker_id not in used][:n]
        hit.queued = sorted([*hit.queued, *fresh], key=lambda answer: answer.submission_time)

    def _step(self, hit: HIT) -> None:
        if hit.disposed:
            return
        if hit.queued:
            answer = hit.queued.pop(0)
            self.workforce.advance_to(answer.submission_time)
            hit.assignments.append(self._assignment(hit, answer))
        elif not hit.full() and not hit.expired(self.now):
            self.workforce.advance_to(hit.expiration)
        self._refresh(self._accounts[hit.environment], hit)

    def _step_all(self, account: _Account, params: dict[str, Any]) -> None:
        if params.get("NextToken"):
            for hit in account.hits.values():
                self._refresh(account, hit)
            return
        for hit in self._ordered(account):
            self._step(hit)

    def _refresh(self, account: _Account, hit: HIT) -> None:
        """Approve Submitted assignments whose AutoApprovalTime has passed."""
        for assignment in hit.assignments:
            if assignment.status == "Submitted" and assignment.auto_approval_time <= self.now:
                try:
                    self._pay(account, hit, assignment, assignment.auto_approval_time)
                except MTurkError as error:
                    logger.warning("MTurk auto-approval of %s failed: %s", assignment.assignment_id, error.message)

    def _assignment(self, hit: HIT, answer: WorkerAnswer) -> Assignment:
        return Assignment(
            assignment_id=_entity_id("assignment", hit.hit_id, answer.worker_id),
            worker_id=mturk_worker_id(answer.worker_id),
            simulated_worker_id=answer.worker_id,
            hit_id=hit.hit_id,
            accept_time=answer.acceptance_time,
            submit_time=answer.submission_time,
            deadline=answer.acceptance_time + timedelta(seconds=hit.assignment_duration),
            auto_approval_time=answer.submission_time + timedelta(seconds=hit.auto_approval_delay),
            answer=question_form_answers(answer.content),
            content=answer.content,
        )

    def _pay(self, account: _Account, hit: HIT, assignment: Assignment, moment: datetime) -> None:
        cost = hit.reward + assignment_fee(hit.reward, max_assignments=hit.max_assignments)
        if account.balance < cost:
            raise self._request_error(
                f"This Requester has insufficient funds in their account to complete this transaction: approving "
                f"{assignment.assignment_id} costs ${cost:.2f} and the balance is ${account.balance:.2f}",
                "AWS.MechanicalTurk.InsufficientFunds",
            )
        account.balance -= cost
        assignment.status, assignment.approval_time = "Approved", moment

    # -- helpers ------------------------------------------------------------------------------------------------

    def _millis(self) -> int:
        return int(self.now.timestamp() * 1000)

    def _request_error(self, message: str, turk_error_code: str) -> MTurkError:
        return MTurkError("RequestError", f"{message} ({self._millis()})", turk_error_code)

    def _invalid_hit_state(self, hit: HIT, allowed: str) -> MTurkError:
        return self._request_error(
            f"This HIT is currently in the state '{hit.status(self.now)}'. This operation can be called with a status "
            f"of: {allowed}",
            "AWS.MechanicalTurk.InvalidHITState",
        )

    def _forget_tokens(self, account: _Account) -> None:
        cutoff = self.now - TOKEN_LIFETIME
        for key, (moment, _) in list(account.tokens.items()):
            if moment < cutoff:
                del account.tokens[key]

    def _find(self, account: _Account, hit_id: str) -> HIT:
        hit = account.hits.get(hit_id)
        if hit is None:
            raise self._request_error(f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HITDoesNotExist")
        return hit

    def _find_assignment(self, account: _Account, assignment_id: str) -> tuple[HIT, Assignment]:
        for hit in account.hits.values():
            for assignment in hit.assignments:
                if assignment.assignment_id == assignment_id:
                    return hit, assignment
        raise self._request_error(
            f"Assignment {assignment_id} does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist"
        )

    def _ordered(self, account: _Account) -> list[HIT]:
        return sorted(account.hits.values(), key=lambda hit: (hit.created, hit.sequence))

    def _describe(self, hit: HIT) -> dict[str, Any]:
        now = self.now
        request = hit.request
        described: dict[str, Any] = {
            "HITId": hit.hit_id,
            "HITTypeId": hit.hit_type_id,
            "HITGroupId": hit.hit_group_id,
            "CreationTime": hit.created.timestamp(),
            "Title": request["Title"],
            "Description": request["Description"],
            "Question": request["Question"],
            "HITStatus": hit.status(now),
            "MaxAssignments": hit.max_assignments,
            "Reward": f"{hit.reward:.2f}",
            "AutoApprovalDelayInSeconds": hit.auto_approval_delay,
            "Expiration": hit.expiration.timestamp(),
            "AssignmentDurationInSeconds": hit.assignment_duration,
            "QualificationRequirements": request.get("QualificationRequirements") or [],
            "HITReviewStatus": "NotReviewed",
            "NumberOfAssignmentsPending": 0 if hit.disposed else hit.pending(now),
            "NumberOfAssignmentsAvailable": hit.available(now),
            "NumberOfAssignmentsCompleted": sum(1 for a in hit.assignments if a.status in {"Approved", "Rejected"}),
        }
        for optional in ("Keywords", "RequesterAnnotation"):
            if request.get(optional) is not None:
                described[optional] = request[optional]
        return described

    def _describe_assignment(self, assignment: Assignment) -> dict[str, Any]:
        described: dict[str, Any] = {
            "AssignmentId": assignment.assignment_id,
            "WorkerId": assignment.worker_id,
            "HITId": assignment.hit_id,
            "AssignmentStatus": assignment.status,
            "AutoApprovalTime": assignment.auto_approval_time.timestamp(),
            "AcceptTime": assignment.accept_time.timestamp(),
            "SubmitTime": assignment.submit_time.timestamp(),
            "Deadline": assignment.deadline.timestamp(),
            "Answer": assignment.answer,
        }
        if assignment.approval_time is not None:
            described["ApprovalTime"] = assignment.approval_time.timestamp()
        if assignment.rejection_time is not None:
            described["RejectionTime"] = assignment.rejection_time.timestamp()
        if assignment.requester_feedback is not None:
            described["RequesterFeedback"] = assignment.requester_feedback
        return described


_Operation = Callable[[MTurkStandIn, _Account, Environment, dict[str, Any], str], dict[str, Any]]
_OPERATIONS: dict[str, _Operation] = {
    "GetAccountBalance": MTurkStandIn.get_account_balance,
    "CreateHIT": MTurkStandIn.create_hit,
    "GetHIT": MTurkStandIn.get_hit,
    "ListHITs": MTurkStandIn.list_hits,
    "ListReviewableHITs": MTurkStandIn.list_reviewable_hits,
    "ListAssignmentsForHIT": MTurkStandIn.list_assignments_for_hit,
    "ApproveAssignment": MTurkStandIn.approve_assignment,
    "RejectAssignment": MTurkStandIn.reject_assignment,
    "CreateAdditionalAssignmentsForHIT": MTurkStandIn.create_additional_assignments_for_hit,
    "UpdateExpirationForHIT": MTurkStandIn.update_expiration_for_hit,
    "DeleteHIT": MTurkStandIn.delete_hit,
}


# ---------------------------------------------------------------------------------------------------------------
# HTTP, and installation into moto

_ACTIVE: MTurkStandIn | None = None
_ORIGINAL_PROCESS_REQUEST: Any = None
Response = tuple[int, dict[str, str], str]


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _account_id(request: AWSPreparedRequest) -> str:
    """The moto account of the request's access key (moto's own rule), for reading its S3."""
    from moto.iam.models import get_account_id_from

    match = re.search(r"Credential=([^/,\s]+)/", _header(request, "Authorization"))
    return str(get_account_id_from(match.group(1) if match else ""))


def _json_response(status: int, body: dict[str, Any], request_id: str) -> Response:
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
    return status, headers, json.dumps(body)


def serve(request: AWSPreparedRequest) -> Response | None:
    """The response to an MTurk requester request, or None when the request is not for MTurk."""
    stand_in = _ACTIVE
    environment = HOSTS.get(urlsplit(request.url).hostname or "")
    if stand_in is None or environment is None:
        return None
    target = _header(request, "X-Amz-Target")
    operation = target.removeprefix(TARGET_PREFIX)
    sent = request.body
    raw = sent if isinstance(sent, bytes | str) else bytes(sent) if isinstance(sent, bytearray) else b""
    if sent is not None and not isinstance(sent, bytes | str | bytearray):
        raw = sent.read()
    request_id = str(uuid.uuid4())
    try:
        params = json.loads(raw or b"{}")
        if not isinstance(params, dict):
            raise ValueError("the request body must be a JSON object")
    except ValueError as error:
        return _json_response(400, {"__type": "SerializationException", "Message": str(error)}, request_id)
    try:
        result = stand_in.handle(environment, operation, params, _account_id(request))
    except MTurkError as error:
        body: dict[str, Any] = {"__type": error.code, "Message": error.message}
        if error.turk_error_code:
            body["TurkErrorCode"] = error.turk_error_code
        return _json_response(error.status, body, request_id)
    return _json_response(200, result, request_id)


def _process_request(self: BotocoreStubber, request: AWSPreparedRequest) -> Any:
    served = serve(request)
    if served is not None:
        return served
    return _ORIGINAL_PROCESS_REQUEST(self, request)


def install_mturk(
    workforce: SimulatedWorkforce,
    *,
    balance: str = "0.00",
    sandbox_balance: str = SANDBOX_BALANCE,
    presign_reader: Fetch | None = None,
) -> MTurkStandIn:
    """Serve the MTurk requester API from moto (only while `mock_aws` is active). Each call starts a new requester.

    `balance` is the production account's AvailableBalance; the sandbox starts at `sandbox_balance` (10000.00 as on
    MTurk). `presign_reader(url)` is how workers' browsers load the page's URLs (default: moto's S3 by URL).
    """
    global _ACTIVE, _ORIGINAL_PROCESS_REQUEST
    for amount in (balance, sandbox_balance):
        try:
            Decimal(amount)
        except InvalidOperation:
            raise ValueError(f"balance {amount!r} is not an amount like '10000.00'") from None
    _ACTIVE = MTurkStandIn(workforce, balance=balance, sandbox_balance=sandbox_balance, presign_reader=presign_reader)
    if _ORIGINAL_PROCESS_REQUEST is None:
        _ORIGINAL_PROCESS_REQUEST = BotocoreStubber.__dict__["process_request"]
        BotocoreStubber.process_request = _process_request  # type: ignore[method-assign]
    return _ACTIVE


def uninstall_mturk() -> None:
    """Back to moto's own behaviour (MTurk requests answered 404 "Not yet implemented")."""
    global _ACTIVE, _ORIGINAL_PROCESS_REQUEST
    _ACTIVE = None
    if _ORIGINAL_PROCESS_REQUEST is not None:
        BotocoreStubber.process_request = _ORIGINAL_PROCESS_REQUEST  # type: ignore[method-assign]
        _ORIGINAL_PROCESS_REQUEST = None


def active_stand_in() -> MTurkStandIn | None:
    return _ACTIVE
