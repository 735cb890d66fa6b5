"""A local stand-in for the Amazon Mechanical Turk requester API (2017-01-17), served through moto.

moto has no Mechanical Turk. `install_mturk` hooks `BotocoreStubber.process_request` (moto's router for every
botocore request while `mock_aws` is active), so requests to `https://mturk-requester-sandbox.us-east-1.amazonaws.com`
and `https://mturk-requester.us-east-1.amazonaws.com` (JSON 1.1, `X-Amz-Target: MTurkRequesterServiceV20170117.<Op>`)
are answered here. The local IAM check (`moto_patches.iam_check_hooks`) lives in `BotocoreStubber.__call__`,
which calls `process_request`: the check still runs first. Sandbox and production are two separate requester
accounts (their own HITs and balance), as on MTurk. Requests to the moto *server* (`ThreadedMotoServer`) are not
served.

Operations: GetAccountBalance, CreateHIT, GetHIT, ListHITs, ListReviewableHITs, ListAssignmentsForHIT,
ApproveAssignment, RejectAssignment, CreateAdditionalAssignmentsForHIT, UpdateExpirationForHIT, DeleteHIT. Any
other operation raises NotImplementedError in the caller.

Where things are: `stand_in` (the operations and the step rule), `request_rules` (what requests may hold),
`questions` (Question and Answer XML), `page_sources` (a page's data object and the S3 objects workers load),
`hits` (accounts, HITs, assignments, payments), `hit_simulation` (the simulated workers on the HITs),
`descriptions` (the HIT and Assignment structures, list pages), `errors` (MTurk's error responses). This module
serves the requests and installs the stand-in.

Decisions where the documentation is silent (UNCONFIRMED against the live service):
* UniqueRequestToken: CreateHIT with a token seen in the last 24 h -> RequestError
  `AWS.MechanicalTurk.HitAlreadyExists`, `The idempotency token "<t>" has already been processed. The HIT with ID
  <id> already exists.` (the model documents the code and "a message containing the HITId"; the first sentence
  is the wording observed for another operation, Dallinger/Dallinger#3109). CreateAdditionalAssignmentsForHIT
  repeats -> RequestError with that first sentence.
* CreateHIT needs the balance to cover (reward + fee) x MaxAssignments (AWS.MechanicalTurk.InsufficientFunds);
  nothing is put on hold. ApproveAssignment deducts reward + fee, refused when the balance is short.
* Fee: the product's rule, `groundcrew.workforces.mturk.hits.assignment_fee` (Masters, which needs the
  qualification, is not emulated).
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

import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest
from moto.core.botocore_stubber import BotocoreStubber

from groundcrew.workforces.mturk.hits import ENDPOINTS
from groundcrew_local.mturk.errors import MTurkError
from groundcrew_local.mturk.hits import SANDBOX_BALANCE, Environment
from groundcrew_local.mturk.stand_in import MTurkStandIn
from groundcrew_local.workforce import Fetch, SimulatedWorkforce

SANDBOX_ENDPOINT = ENDPOINTS["sandbox"]
PRODUCTION_ENDPOINT = ENDPOINTS["production"]
HOSTS: dict[str, Environment] = {
    "mturk-requester-sandbox.us-east-1.amazonaws.com": "sandbox",
    "mturk-requester.us-east-1.amazonaws.com": "production",
}
TARGET_PREFIX = "MTurkRequesterServiceV20170117."

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
