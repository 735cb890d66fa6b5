"""HIT bookkeeping: the requester's accounts (sandbox and production), their HITs, assignments and balances.

A HIT's status follows from its assignments and the simulated clock: Assignable; Unassignable when every
assignment is taken or the HIT expired while workers still hold some; Reviewable when MaxAssignments were
submitted, or it expired and nobody holds one; Disposed after DeleteHIT. Ids look like MTurk's: HIT, HIT type and
assignment ids are 30 characters of [A-Z0-9] starting with 3, WorkerIds `A` + 13 characters, all derived
deterministically. Approving an assignment pays reward + fee (`groundcrew.workforces.mturk.hits.assignment_fee`)
from the account's balance, refused when the balance is short.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from groundcrew.workforces.mturk.hits import assignment_fee
from groundcrew_local.mturk.errors import request_error
from groundcrew_local.workforce import WorkerAnswer

Environment = Literal["sandbox", "production"]
SANDBOX_BALANCE = "10000.00"
CENT = Decimal("0.01")
DEFAULT_AUTO_APPROVAL_SECONDS = 2_592_000
TOKEN_LIFETIME = timedelta(hours=24)
# The HIT's properties that make its HIT type: HITs that share them share a HITTypeId.
HIT_TYPE_PROPERTIES = (
    "Title",
    "Description",
    "Reward",
    "AssignmentDurationInSeconds",
    "AutoApprovalDelayInSeconds",
    "Keywords",
    "QualificationRequirements",
)


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
class Account:
    """One requester account: its balance, its HITs, and the idempotency tokens it has seen."""

    balance: Decimal
    hits: dict[str, HIT] = field(default_factory=dict)
    tokens: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # "<operation>|<token>" -> (when, HITId)

    def forget_tokens(self, now: datetime) -> None:
        """Tokens are remembered for 24 hours."""
        cutoff = now - TOKEN_LIFETIME
        for key, (moment, _) in list(self.tokens.items()):
            if moment < cutoff:
                del self.tokens[key]

    def find(self, hit_id: str, now: datetime) -> HIT:
        hit = self.hits.get(hit_id)
        if hit is None:
            raise request_error(f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HITDoesNotExist", now)
        return hit

    def find_assignment(self, assignment_id: str, now: datetime) -> tuple[HIT, Assignment]:
        for hit in self.hits.values():
            for assignment in hit.assignments:
                if assignment.assignment_id == assignment_id:
                    return hit, assignment
        raise request_error(
            f"Assignment {assignment_id} does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist", now
        )

    def ordered(self) -> list[HIT]:
        """The account's HITs, oldest first."""
        return sorted(self.hits.values(), key=lambda hit: (hit.created, hit.sequence))

    def pay(self, hit: HIT, assignment: Assignment, moment: datetime, now: datetime) -> None:
        """Approve the assignment at `moment`: the balance pays reward + fee, or the approval is refused."""
        cost = hit.reward + assignment_fee(hit.reward, max_assignments=hit.max_assignments)
        if self.balance < cost:
            raise request_error(
                f"This Requester has insufficient funds in their account to complete this transaction: approving "
                f"{assignment.assignment_id} costs ${cost:.2f} and the balance is ${self.balance:.2f}",
                "AWS.MechanicalTurk.InsufficientFunds",
                now,
            )
        self.balance -= cost
        assignment.status, assignment.approval_time = "Approved", moment


@dataclass(frozen=True)
class Balances:
    sandbox: Decimal
    production: Decimal


def entity_id(*parts: object) -> str:
    """30 characters of [A-Z0-9] starting with 3, like MTurk's HIT, HIT type and assignment ids."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return "3" + base64.b32encode(digest).decode()[:29]


def mturk_worker_id(simulated_worker_id: str) -> str:
    """An MTurk WorkerId (`A` + 13 of [A-Z0-9], like A2YUCJ28XANFOX) derived from a simulated worker's id."""
    digest = hashlib.sha256(simulated_worker_id.encode()).digest()
    return "A" + base64.b32encode(digest).decode()[:13]


def hit_type_id(environment: Environment, params: dict[str, Any]) -> str:
    """The HITTypeId: derived from the HIT's type properties, so HITs that share them share it."""
    type_properties = [
        params[name] if name != "QualificationRequirements" else json.dumps(params[name], sort_keys=True)
        for name in HIT_TYPE_PROPERTIES
        if params.get(name) is not None
    ]
    return entity_id("hit-type", environment, *type_properties)
