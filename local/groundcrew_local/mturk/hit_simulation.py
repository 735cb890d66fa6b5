"""The simulated workers on a requester's HITs, on the workforce's simulated clock.

An HTMLQuestion's HTMLContent is the task page. Workers answer it through `SimulatedWorkforce.answer(page,
data_object, n, posted_at=now, time_limit_seconds=AssignmentDurationInSeconds, availability_seconds=<lifetime
left>, fetch=...)`; the workforce's own availability rule drops workers who would accept after the HIT expired, so
a HIT can end with fewer assignments than MaxAssignments. No worker answers the same HIT twice. ExternalQuestion
and QuestionForm HITs, and pages the workforce cannot answer, get no assignments (the reason is kept in
`HIT.problems`).

Step rule: a step submits the HIT's next simulated answer (in submission order; the clock moves to its
SubmitTime); when no answer is left and the HIT is neither full nor expired, the step moves the clock to its
Expiration. Submitted assignments are approved automatically once the clock passes their AutoApprovalTime.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from groundcrew_local.mturk.errors import MTurkError
from groundcrew_local.mturk.hits import HIT, Account, Assignment, Environment, entity_id, mturk_worker_id
from groundcrew_local.mturk.page_sources import moto_s3_reader
from groundcrew_local.mturk.questions import question_form_answers
from groundcrew_local.workforce import Fetch, SimulatedWorkforce, UnsupportedTaskPage, WorkerAnswer

logger = logging.getLogger(__name__)


class HitSimulation:
    """Recruits simulated workers for HITs and submits their answers, one step at a time."""

    def __init__(
        self, workforce: SimulatedWorkforce, accounts: dict[Environment, Account], presign_reader: Fetch | None
    ) -> None:
        self.workforce = workforce
        self.accounts = accounts
        self.presign_reader = presign_reader

    @property
    def now(self) -> datetime:
        return self.workforce.now

    def recruit(self, hit: HIT, n: int) -> None:
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

    def step(self, hit: HIT) -> None:
        if hit.disposed:
            return
        if hit.queued:
            answer = hit.queued.pop(0)
            self.workforce.advance_to(answer.submission_time)
            hit.assignments.append(new_assignment(hit, answer))
        elif not hit.full() and not hit.expired(self.now):
            self.workforce.advance_to(hit.expiration)
        self.refresh(self.accounts[hit.environment], hit)

    def step_all(self, account: Account, params: dict[str, Any]) -> None:
        """The list operations' rule: without NextToken every HIT of the account advances one step."""
        if params.get("NextToken"):
            for hit in account.hits.values():
                self.refresh(account, hit)
            return
        for hit in account.ordered():
            self.step(hit)

    def refresh(self, account: Account, hit: HIT) -> None:
        """Approve Submitted assignments whose AutoApprovalTime has passed."""
        for assignment in hit.assignments:
            if assignment.status == "Submitted" and assignment.auto_approval_time <= self.now:
                try:
                    account.pay(hit, assignment, assignment.auto_approval_time, self.now)
                except MTurkError as error:
                    logger.warning("MTurk auto-approval of %s failed: %s", assignment.assignment_id, error.message)


def new_assignment(hit: HIT, answer: WorkerAnswer) -> Assignment:
    """The assignment a simulated answer becomes, submitted."""
    return Assignment(
        assignment_id=entity_id("assignment", hit.hit_id, answer.worker_id),
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
