"""The Mechanical Turk stand-in: the requester API operations of one requester, sandbox and production.

`MTurkStandIn.handle` validates a request (`request_rules`) and runs the operation on the environment's account
(`hits`), while `HitSimulation` has the simulated workforce work on the HITs. Time is the workforce's simulated
clock (`now`): CreationTime, Expiration, AcceptTime... all come from it, and error-message millis too. Every GetHIT
and every ListAssignmentsForHIT without NextToken first advances that HIT one step; ListHITs and
ListReviewableHITs without NextToken advance every HIT of the account one step. State lives on the stand-in, not
on moto's backends: a `mock_aws` reset does not clear it, installing a new stand-in does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from groundcrew.workforces.mturk.hits import assignment_fee
from groundcrew_local.mturk.descriptions import describe_assignment, describe_hit, page
from groundcrew_local.mturk.errors import invalid_hit_state, parameter_error, request_error
from groundcrew_local.mturk.hit_simulation import HitSimulation
from groundcrew_local.mturk.hits import (
    CENT,
    HIT,
    SANDBOX_BALANCE,
    Account,
    Assignment,
    Balances,
    Environment,
    entity_id,
    hit_type_id,
)
from groundcrew_local.mturk.page_sources import data_object_of_page
from groundcrew_local.mturk.questions import parse_question
from groundcrew_local.mturk.request_rules import check_create_hit, check_feedback, parse_timestamp, validate_request
from groundcrew_local.workforce import Fetch, SimulatedWorkforce

OVERRIDE_REJECTION_WINDOW = timedelta(days=30)
ASSIGNMENT_LIMIT_THRESHOLD = 10
_INVALID_ASSIGNMENT_STATE = "AWS.MechanicalTurk.InvalidAssignmentState"
_ONLY_SUBMITTED = "This operation can be called with a status of: Submitted"


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
        self._accounts: dict[Environment, Account] = {
            "sandbox": Account(Decimal(sandbox_balance)),
            "production": Account(Decimal(balance)),
        }
        self._simulation = HitSimulation(workforce, self._accounts, presign_reader)
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
                    self._simulation.step(hit)
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

    def get_account_balance(self, account: Account, *_: Any) -> dict[str, Any]:
        return {"AvailableBalance": f"{account.balance:.2f}"}

    def create_hit(
        self, account: Account, environment: Environment, params: dict[str, Any], account_id: str
    ) -> dict[str, Any]:
        check_create_hit(params)
        page_html = parse_question(params["Question"])
        now = self.now
        token = params.get("UniqueRequestToken")
        if token is not None:
            account.forget_tokens(now)
            seen = account.tokens.get(f"CreateHIT|{token}")
            if seen is not None:
                raise request_error(
                    f'The idempotency token "{token}" has already been processed. The HIT with ID {seen[1]} already '
                    "exists.",
                    "AWS.MechanicalTurk.HitAlreadyExists",
                    now,
                )
        reward = Decimal(params["Reward"]).quantize(CENT)
        max_assignments = int(params.get("MaxAssignments") or 1)
        cost = (reward + assignment_fee(reward, max_assignments=max_assignments)) * max_assignments
        if account.balance < cost:
            raise request_error(
                f"This Requester has insufficient funds in their account to complete this transaction: the HIT can "
                f"cost ${cost:.2f} and the balance is ${account.balance:.2f}",
                "AWS.MechanicalTurk.InsufficientFunds",
                now,
            )
        self._created += 1
        hit = self._new_hit(environment, params, account_id, page_html, reward, max_assignments, now)
        account.hits[hit.hit_id] = hit
        if token is not None:
            account.tokens[f"CreateHIT|{token}"] = (now, hit.hit_id)
        self._simulation.recruit(hit, max_assignments)
        return {"HIT": describe_hit(hit, self.now)}

    def _new_hit(
        self,
        environment: Environment,
        params: dict[str, Any],
        account_id: str,
        page_html: str | None,
        reward: Decimal,
        max_assignments: int,
        now: datetime,
    ) -> HIT:
        """The HIT CreateHIT makes (the requester's `_created`-th): ids, expiry and what the workers look at."""
        type_id = hit_type_id(environment, params)
        annotation = params.get("RequesterAnnotation")
        hit = HIT(
            hit_id=entity_id("hit", environment, self._created),
            hit_type_id=type_id,
            hit_group_id=entity_id("hit-group", type_id),
            environment=environment,
            account_id=account_id,
            request=dict(params),
            created=now,
            expiration=now + timedelta(seconds=int(params["LifetimeInSeconds"])),
            max_assignments=max_assignments,
            reward=reward,
            page_html=page_html,
            data_object=data_object_of_page(page_html, annotation) if page_html is not None else {},
            sequence=self._created,
        )
        if page_html is None:
            hit.problems.append("only HTMLQuestion HITs are worked on by the simulated workforce")
        return hit

    def get_hit(self, account: Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        hit = account.find(params["HITId"], self.now)
        self._simulation.step(hit)
        return {"HIT": describe_hit(hit, self.now)}

    def list_hits(self, account: Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        self._simulation.step_all(account, params)
        hits = [hit for hit in account.ordered() if not hit.disposed]
        selected, extra = page(hits, params)
        return {**extra, "HITs": [describe_hit(hit, self.now) for hit in selected]}

    def list_reviewable_hits(
        self, account: Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        self._simulation.step_all(account, params)
        wanted = params.get("Status") or "Reviewable"
        hits = [
            hit
            for hit in account.ordered()
            if hit.status(self.now) == wanted and params.get("HITTypeId") in (None, hit.hit_type_id)
        ]
        selected, extra = page(hits, params)
        return {**extra, "HITs": [describe_hit(hit, self.now) for hit in selected]}

    def list_assignments_for_hit(
        self, account: Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        hit = account.find(params["HITId"], self.now)
        if not params.get("NextToken"):
            self._simulation.step(hit)
        else:
            self._simulation.refresh(account, hit)
        statuses = set(params.get("AssignmentStatuses") or ["Submitted", "Approved", "Rejected"])
        chosen = [a for a in hit.assignments if a.status in statuses]
        selected, extra = page(chosen, params)
        return {**extra, "Assignments": [describe_assignment(a) for a in selected]}

    def approve_assignment(self, account: Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        check_feedback(params)
        hit, assignment = account.find_assignment(params["AssignmentId"], self.now)
        self._simulation.refresh(account, hit)
        if assignment.status == "Rejected" and params.get("OverrideRejection"):
            if hit.disposed:
                raise request_error(
                    f"Assignment {assignment.assignment_id} belongs to a deleted HIT: its rejection can no longer be "
                    "overridden",
                    _INVALID_ASSIGNMENT_STATE,
                    self.now,
                )
            if self.now - assignment.submit_time > OVERRIDE_REJECTION_WINDOW:
                raise request_error(
                    "A rejection can only be overridden within 30 days of the submission",
                    _INVALID_ASSIGNMENT_STATE,
                    self.now,
                )
        elif assignment.status != "Submitted":
            raise request_error(_ONLY_SUBMITTED, _INVALID_ASSIGNMENT_STATE, self.now)
        account.pay(hit, assignment, self.now, self.now)
        assignment.requester_feedback = params.get("RequesterFeedback")
        assignment.rejection_time = None
        return {}

    def reject_assignment(self, account: Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        check_feedback(params)
        hit, assignment = account.find_assignment(params["AssignmentId"], self.now)
        self._simulation.refresh(account, hit)
        if assignment.status != "Submitted":
            raise request_error(_ONLY_SUBMITTED, _INVALID_ASSIGNMENT_STATE, self.now)
        assignment.status, assignment.rejection_time = "Rejected", self.now
        assignment.requester_feedback = params["RequesterFeedback"]
        return {}

    def create_additional_assignments_for_hit(
        self, account: Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        hit = account.find(params["HITId"], self.now)
        extra = int(params["NumberOfAdditionalAssignments"])
        if extra < 1:
            raise parameter_error(f"NumberOfAdditionalAssignments {extra} must be at least 1")
        token = params.get("UniqueRequestToken")
        if token is not None:
            account.forget_tokens(self.now)
            if f"CreateAdditionalAssignmentsForHIT|{token}" in account.tokens:
                raise request_error(
                    f'The idempotency token "{token}" has already been processed.',
                    "AWS.MechanicalTurk.DuplicateRequest",
                    self.now,
                )
        if hit.disposed:
            raise invalid_hit_state(hit.status(self.now), "Assignable, Unassignable, Reviewable", self.now)
        total = hit.max_assignments + extra
        if hit.max_assignments < ASSIGNMENT_LIMIT_THRESHOLD <= total:
            raise request_error(
                f"HIT {hit.hit_id} was created with {hit.max_assignments} assignments: HITs with fewer than "
                f"{ASSIGNMENT_LIMIT_THRESHOLD} assignments cannot be extended to {ASSIGNMENT_LIMIT_THRESHOLD} or more "
                f"(asked for {total})",
                "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
                self.now,
            )
        if token is not None:
            account.tokens[f"CreateAdditionalAssignmentsForHIT|{token}"] = (self.now, hit.hit_id)
        hit.max_assignments = total
        self._simulation.recruit(hit, extra)
        return {}

    def update_expiration_for_hit(
        self, account: Account, _: Environment, params: dict[str, Any], *__: Any
    ) -> dict[str, Any]:
        hit = account.find(params["HITId"], self.now)
        if hit.disposed:
            raise invalid_hit_state(hit.status(self.now), "Assignable, Unassignable, Reviewable", self.now)
        expire_at = parse_timestamp(params["ExpireAt"])
        now = self.now
        # The requester's ExpireAt is wall-clock time; the simulated clock may have run ahead of it (waiting for
        # answers), so a future ExpireAt keeps its distance from now on the simulated clock.
        ahead = expire_at - datetime.now(UTC)
        if ahead <= timedelta(0):
            hit.expiration = now
            hit.queued = [answer for answer in hit.queued if answer.acceptance_time <= now]  # those accepted finish
        else:
            hit.expiration = now + ahead
            self._simulation.recruit(hit, hit.max_assignments - len(hit.assignments) - len(hit.queued))
        return {}

    def delete_hit(self, account: Account, _: Environment, params: dict[str, Any], *__: Any) -> dict[str, Any]:
        hit = account.find(params["HITId"], self.now)
        self._simulation.refresh(account, hit)
        if hit.status(self.now) != "Reviewable":
            raise invalid_hit_state(hit.status(self.now), "Reviewable", self.now)
        waiting = [a.assignment_id for a in hit.assignments if a.status == "Submitted"]
        if waiting:
            raise request_error(
                f"HIT {hit.hit_id} has {len(waiting)} submitted assignments that are neither approved nor rejected "
                f"({', '.join(waiting)}): approve or reject them before deleting the HIT",
                "AWS.MechanicalTurk.InvalidHITState",
                self.now,
            )
        hit.disposed = True
        return {}


_Operation = Callable[[MTurkStandIn, Account, Environment, dict[str, Any], str], dict[str, Any]]
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
