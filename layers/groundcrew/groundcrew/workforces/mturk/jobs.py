"""A prepared labeling job run as Mechanical Turk HITs: same template, same consolidation, same output.

The Prepare step builds the round exactly as for Ground Truth (worker template, label categories, task config,
the round's manifest). For a project with `workforce.kind: mturk` the state machine then runs these three steps
instead of CreateLabelingJob and DescribeLabelingJob:

* `launch_hits` checks the account balance against the round's estimated cost (rewards plus Mechanical Turk's
  fees, `mturk_hits.estimate_cost`) and fails with both figures when it is short. Each manifest line becomes a task
  page: our pre-annotation transform gives the task input, the Liquid template is rendered the way Ground Truth
  renders it (`task_pages`), the page is wrapped as an HTMLQuestion and a HIT is created with the round's number
  of assignments. In later rounds an item's HIT gets more assignments (CreateAdditionalAssignmentsForHIT: the same
  worker never answers one HIT twice) while its page's image links are still valid and Mechanical Turk allows the
  increase; otherwise the item gets a new HIT. A line whose page cannot be built (invalid XML, too large, no
  image) fails alone, with the reason.
* `track_hits` (one poll) lists each open HIT's assignments, reads each new answer (QuestionFormAnswers), rejects
  unreadable answers and obvious spam with the reason (and asks for a replacement, at most
  `MAX_REPLACEMENTS` per item and round), approves the rest. An item is done when it has the round's answers, or
  when its HIT expired with fewer (reported in the completed event's failures, never dropped silently). When every
  item is done it writes what Ground Truth writes for a custom job (contracts 7): one worker-response file per
  item, the consolidation through the same code as our consolidation Lambda, and the output manifest, then
  answers Completed like DescribeLabelingJob would, so Collect, Decide and Finalize run unchanged.
* `clean_up_hits` (once, at the end of the batch) expires every HIT of the batch, approves work submitted after
  the last poll (it was done; Mechanical Turk would auto-approve it anyway) and deletes the HITs.

State lives in S3: the round's ledger `labeling-jobs/<job>/mturk/hits.jsonl` (one line per item) and the batch's
HIT register `batches/<project>/<batch>/mturk/hits.jsonl` (item -> HIT) that later rounds and the clean-up read.

Known limit: task pages show images through presigned URLs, valid `PAGE_LINK_SECONDS` at most; AWS also ends
them when the signing credentials expire (the Lambda's role session), so HITs live at most 12 hours (the project
model enforces it, Ground Truth's own limit for Mechanical Turk tasks).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from botocore.exceptions import ClientError

from groundcrew.consensus import rounds
from groundcrew.core import manifests
from groundcrew.core.errors import DataObjectError
from groundcrew.core.events import (
    MAX_LISTED,
    EventPublisher,
    LabelingJobStarted,
)
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location
from groundcrew.projects import Project, load_project
from groundcrew.workflows.registry import for_workflow
from groundcrew.workforces.ground_truth.round_output import RoundItem, poll_result, write_round_output
from groundcrew.workforces.ground_truth.task_config import TaskConfig, TaskConfigReader, job_folder
from groundcrew.workforces.mturk import hits as mturk_hits

if TYPE_CHECKING:
    from mypy_boto3_mturk import MTurkClient
    from mypy_boto3_s3 import S3Client

PAGE_LINK_SECONDS = 7 * 24 * 3600  # SigV4's longest presigned URL
MAX_REPLACEMENTS = 2  # per item and round: rejected answers replaced by new assignments
POLL_WORKERS = 8
EXPIRED = datetime(2015, 1, 1, tzinfo=UTC)  # UpdateExpirationForHIT with a past time expires a HIT now
_HIT_ID_IN_MESSAGE = re.compile(r"HIT with ID (\w+)")

Presign = Callable[[str, int], str]


class InsufficientBalance(RuntimeError):
    """The account cannot pay for the round; the message has both figures."""


@dataclass
class ItemHit:
    """One item of a round: its manifest line, its HIT and the answers it got (a line of the round's ledger)."""

    id: str  # datasetObjectId: the line's index in the round manifest, as Ground Truth numbers them
    line: dict[str, Any]
    wanted: int
    hit_id: str | None = None
    known: list[str] = field(default_factory=list)  # assignments of earlier rounds on the same HIT
    answers: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    replacements: int = 0
    failure: str | None = None  # the item could not be posted
    short: str | None = None  # the HIT ended with fewer answers than wanted
    done: bool = False

    @property
    def seen(self) -> set[str]:
        return {*self.known, *(a["assignment"] for a in self.answers), *(r["assignment"] for r in self.rejected)}


# ---------------------------------------------------------------------------------------------------- launch


def launch_hits(
    s3: S3Client,
    mturk: MTurkClient,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    *,
    sandbox: bool,
    presign: Presign,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Post the round's items as HITs (or more assignments on their HITs); fails when the balance is short."""
    project = load_project(s3, batch.bucket, batch.project)
    settings = project.workforce.mturk_settings
    reward = _reward(project)
    human = job.request["HumanTaskConfig"]
    wanted = int(human["NumberOfHumanWorkersPerDataObject"])
    lines = [line.data for line in manifests.read_manifest(s3, S3Location.parse(job.manifest_uri))]
    estimate = mturk_hits.estimate_cost(
        items=len(lines), assignments_per_item=wanted, reward=reward, masters=settings.masters
    )
    _check_balance(mturk, estimate, batch, job, sandbox=sandbox)
    poster = _HitPoster(
        mturk,
        job,
        page=_page_renderer(s3, batch, job, presign, frame_height=settings.frame_height),
        settings=_hit_settings(project, human, reward, sandbox=sandbox),
        register=_read_register(s3, batch) if job.round > 1 else {},
        moment=now or datetime.now(UTC),
    )
    items = [poster.post(index, line, wanted) for index, line in enumerate(lines)]
    _write_ledger(s3, batch, job, items)
    _write_register(s3, batch, poster.register)
    posted = sum(1 for item in items if item.hit_id)
    publisher.publish(
        LabelingJobStarted(
            project=batch.project,
            batch_id=batch.batch_id,
            labeling_job_name=job.name,
            labeling_job_arn=poster.hit_type or "",
            item_count=len(items),
            workers_per_object=wanted,
            round=job.round,
            workforce="mturk",
            estimated_cost_usd=float(estimate.total),
            preview_url=mturk_hits.preview_url(poster.group, sandbox=sandbox) if poster.group else None,
            gold_items=job.gold_items,
            gold_missing=job.gold_missing,
        )
    )
    return {
        "hits": posted,
        "failed": len(items) - posted,
        "estimated_cost_usd": mturk_hits.format_usd(estimate.total),
        "ledger_uri": _ledger_location(batch, job).uri,
    }


def _check_balance(
    mturk: MTurkClient, estimate: mturk_hits.CostEstimate, batch: BatchRef, job: PreparedJob, *, sandbox: bool
) -> None:
    balance = Decimal(mturk.get_account_balance()["AvailableBalance"])
    if balance < estimate.total:
        account = "sandbox" if sandbox else "production"
        raise InsufficientBalance(
            f"round {job.round} of batch {batch.batch_id} needs ${mturk_hits.format_usd(estimate.total)} "
            f"({estimate.assignments} assignments: ${mturk_hits.format_usd(estimate.rewards)} in rewards + "
            f"${mturk_hits.format_usd(estimate.fees)} in fees) but the {account} Mechanical Turk account holds "
            f"${mturk_hits.format_usd(balance)}; add funds (or lower price_per_task_usd) and run the batch again"
        )


def _page_renderer(
    s3: S3Client, batch: BatchRef, job: PreparedJob, presign: Presign, *, frame_height: int
) -> Callable[[dict[str, Any]], str]:
    """Each line's HTMLQuestion: the round's template rendered as Ground Truth would, with our task input."""
    from groundcrew.workforces.ground_truth.task_pages import (
        ground_truth_liquid_environment,  # python-liquid: only this step needs it
    )

    config = TaskConfigReader(s3, batch.bucket).read(job.name)
    template_uri = S3Location.parse(job.request["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"])
    template_text = s3.get_object(Bucket=template_uri.bucket, Key=template_uri.key)["Body"].read().decode()
    template = ground_truth_liquid_environment(lambda uri: presign(uri, PAGE_LINK_SECONDS)).from_string(template_text)

    def question(line: dict[str, Any]) -> str:
        page = template.render(task={"input": _task_input(line, config)})
        return mturk_hits.html_question(page, frame_height=frame_height)

    return question


def _hit_settings(project: Project, human: dict[str, Any], reward: Decimal, *, sandbox: bool) -> dict[str, Any]:
    """What every HIT of the round shares, from the job's task settings and the project's Mechanical Turk ones."""
    settings = project.workforce.mturk_settings
    return {
        "AutoApprovalDelayInSeconds": settings.auto_approval_delay_seconds,
        "LifetimeInSeconds": int(human["TaskAvailabilityLifetimeInSeconds"]),
        "AssignmentDurationInSeconds": int(human["TaskTimeLimitInSeconds"]),
        "Reward": mturk_hits.format_usd(reward),
        "Title": str(human["TaskTitle"])[:128],
        "Keywords": ", ".join(human.get("TaskKeywords") or [])[:1000],
        "Description": str(human["TaskDescription"])[:2000],
        "QualificationRequirements": mturk_hits.qualification_requirements(
            min_approval_rate=settings.min_approval_rate,
            min_approved_hits=settings.min_approved_hits,
            locales=settings.locales,
            masters=settings.masters,
            sandbox=sandbox,
        ),
    }


@dataclass
class _HitPoster:
    """Posts one item at a time: a new HIT, or more assignments on the item's HIT of an earlier round."""

    mturk: MTurkClient
    job: PreparedJob
    page: Callable[[dict[str, Any]], str]
    settings: dict[str, Any]
    register: dict[str, dict[str, Any]]  # item -> its HIT, across the batch's rounds
    moment: datetime
    hit_type: str | None = None
    group: str | None = None

    def post(self, index: int, line: dict[str, Any], wanted: int) -> ItemHit:
        item = ItemHit(id=str(index), line=line, wanted=wanted)
        try:
            question = self.page(line)
        except (mturk_hits.InvalidQuestion, DataObjectError, ValueError) as error:
            item.failure = f"the task page could not be posted: {error}"
            return item
        earlier = self.register.get(rounds.item_key(line) or "")
        if earlier is not None and _extendable(earlier, wanted, self.moment):
            self._extend(item, earlier, index, wanted)
            return item
        hit = _create_hit(
            self.mturk,
            question=question,
            max_assignments=wanted,
            annotation=_annotation(line, self.job.name, index),
            token=_token(self.job.name, index, "hit"),
            settings=self.settings,
        )
        item.hit_id = hit["HITId"]
        self.hit_type, self.group = hit.get("HITTypeId", self.hit_type), hit.get("HITGroupId", self.group)
        key = rounds.item_key(line) or f"{self.job.name}/{index}"
        self.register[key] = {
            "hit_id": hit["HITId"],
            "created": self.moment.isoformat(),
            "initial": wanted,
            "max_assignments": wanted,
        }
        return item

    def _extend(self, item: ItemHit, earlier: dict[str, Any], index: int, wanted: int) -> None:
        item.hit_id, item.known = earlier["hit_id"], _assignment_ids(self.mturk, earlier["hit_id"])
        _add_assignments(self.mturk, earlier["hit_id"], wanted, token=_token(self.job.name, index, "more"))
        _reopen(self.mturk, earlier["hit_id"], int(self.settings["LifetimeInSeconds"]), self.moment)
        earlier["max_assignments"] += wanted


def _reward(project: Project) -> Decimal:
    price = project.workforce.price_per_task_usd
    assert price is not None  # the project model requires it for kind mturk
    return Decimal(price).quantize(Decimal("0.01"))


def _task_input(line: dict[str, Any], config: TaskConfig) -> dict[str, Any]:
    """What our pre-annotation Lambda gives Ground Truth for this line."""
    return for_workflow(config.workflow).task_input(line, config)


def _token(job_name: str, index: int, purpose: str) -> str:
    """UniqueRequestToken (at most 64 characters): a retried launch never posts an item twice."""
    return hashlib.sha256(f"{job_name}/{index}/{purpose}".encode()).hexdigest()[:64]


def _annotation(line: dict[str, Any], job_name: str, index: int) -> str:
    """RequesterAnnotation (255 characters): the item's source-ref when it fits, else the job and line."""
    annotated = orjson.dumps({"source-ref": line["source-ref"]}).decode() if "source-ref" in line else ""
    return annotated if 0 < len(annotated) <= 255 else f"{job_name}/{index}"


def _create_hit(
    mturk: MTurkClient,
    *,
    question: str,
    max_assignments: int,
    annotation: str,
    token: str,
    settings: dict[str, Any],
) -> dict[str, Any]:
    try:
        hit: dict[str, Any] = dict(
            mturk.create_hit(
                MaxAssignments=max_assignments,
                Question=question,
                RequesterAnnotation=annotation,
                UniqueRequestToken=token,
                **settings,
            )["HIT"]
        )
        return hit
    except ClientError as error:
        # A retried launch: the token was used, the HIT exists; its id is in the message.
        code = str(error.response.get("TurkErrorCode") or "")
        found = _HIT_ID_IN_MESSAGE.search(str(error.response.get("Error", {}).get("Message", "")))
        if found is None or (code and not code.endswith("HitAlreadyExists")):
            raise
        return dict(mturk.get_hit(HITId=found.group(1))["HIT"])


def _extendable(earlier: dict[str, Any], more: int, moment: datetime) -> bool:
    """More assignments on the item's HIT: its page's links still last a lifetime, and the HIT may grow."""
    created = datetime.fromisoformat(earlier["created"])
    links_last = created + timedelta(seconds=PAGE_LINK_SECONDS) > moment + timedelta(days=1)
    initial = int(earlier.get("initial", earlier["max_assignments"]))
    return links_last and earlier["max_assignments"] + more <= mturk_hits.max_assignments_allowed(initial)


def _add_assignments(mturk: MTurkClient, hit_id: str, count: int, *, token: str) -> None:
    try:
        mturk.create_additional_assignments_for_hit(
            HITId=hit_id, NumberOfAdditionalAssignments=count, UniqueRequestToken=token
        )
    except ClientError as error:
        if "DuplicateRequest" not in str(error) and "already been processed" not in str(error):
            raise


def _reopen(mturk: MTurkClient, hit_id: str, lifetime: int, moment: datetime) -> None:
    """A HIT that ended (Reviewable: expired, or every assignment was in) takes new workers for the round's lifetime."""
    if mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable":
        mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=moment + timedelta(seconds=lifetime))


def _assignment_ids(mturk: MTurkClient, hit_id: str) -> list[str]:
    return [assignment["AssignmentId"] for assignment in _assignments(mturk, hit_id)]


def _assignments(mturk: MTurkClient, hit_id: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = mturk.list_assignments_for_hit(
            HITId=hit_id,
            MaxResults=100,
            AssignmentStatuses=["Submitted", "Approved", "Rejected"],
            **({"NextToken": token} if token else {}),
        )
        yield from (dict(assignment) for assignment in page.get("Assignments", []))
        token = page.get("NextToken")
        if not token:
            return


# ---------------------------------------------------------------------------------------------------- track


def track_hits(
    s3: S3Client,
    mturk: MTurkClient,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    previous: dict[str, Any] | None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """One poll of the round's HITs; Completed (with the output manifest) once every item is done."""
    project = load_project(s3, batch.bucket, batch.project)
    settings = project.workforce.mturk_settings
    items = _read_ledger(s3, batch, job)
    moment = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    past_deadline = moment.timestamp() > job.deadline
    open_items = [item for item in items if not item.done and item.failure is None]
    with ThreadPoolExecutor(max_workers=POLL_WORKERS) as pool:
        list(pool.map(lambda item: _poll(mturk, item, settings.min_seconds_per_task, moment), open_items))
    if past_deadline:
        for item in (item for item in items if not item.done and item.failure is None):
            _expire(mturk, str(item.hit_id))
            item.done = True
            item.short = f"the job reached its deadline with {len(item.answers)} of {item.wanted} answers"
    for item in items:
        item.done = item.done or item.failure is not None
    _write_ledger(s3, batch, job, items)
    return poll_result(
        publisher, batch, job, items, previous, lambda: _finish(s3, publisher, batch, job, items, moment)
    )


def _poll(mturk: MTurkClient, item: ItemHit, min_seconds: float, moment: datetime) -> None:
    """Review the item's new answers; done when it has enough, or when its HIT can get no more."""
    hit_id = str(item.hit_id)
    _review_new(mturk, item, min_seconds)
    if len(item.answers) >= item.wanted:
        item.done = True
        return
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    # Reviewable with answers missing: it expired, or rejected answers could not be replaced (Mechanical Turk's
    # clock decides, not ours).
    if hit["HITStatus"] not in {"Reviewable", "Reviewing", "Disposed"} or int(hit["NumberOfAssignmentsPending"]):
        return
    _review_new(mturk, item, min_seconds)  # what was submitted between the listing and the status
    if len(item.answers) >= item.wanted:
        item.done = True
    elif mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] != "Assignable":  # no replacement was asked for
        item.done = True
        item.short = (
            f"HIT {hit_id} ended with {len(item.answers)} of {item.wanted} answers "
            f"({len(item.rejected)} rejected); raise the reward or the lifetime to get more"
        )


def _review_new(mturk: MTurkClient, item: ItemHit, min_seconds: float) -> None:
    seen = item.seen
    for assignment in _assignments(mturk, str(item.hit_id)):
        if assignment["AssignmentId"] in seen or assignment["AssignmentStatus"] == "Rejected":
            continue  # reviewed already (a rejected one was replaced when it was rejected)
        if len(item.answers) >= item.wanted:
            break
        _review(mturk, item, assignment, min_seconds)


def _review(mturk: MTurkClient, item: ItemHit, assignment: dict[str, Any], min_seconds: float) -> None:
    submitted, accepted = assignment["SubmitTime"], assignment["AcceptTime"]
    seconds = max(0.0, (submitted - accepted).total_seconds())
    try:
        content: Any = mturk_hits.parse_answer(assignment.get("Answer") or "")
        reason = mturk_hits.spam_reason(content, seconds_spent=seconds, min_seconds=min_seconds, expected_fields=())
        rule = "spam" if reason else None
    except mturk_hits.AnswerProblem as problem:
        rule = problem.rule
        reason = (
            "Your submission did not contain the answer the task asks for, so it could not be used. "
            "Please use the task's own controls and its Submit button."
        )
    worker = str(assignment["WorkerId"])
    if reason is not None:
        if assignment["AssignmentStatus"] == "Submitted":
            mturk.reject_assignment(AssignmentId=assignment["AssignmentId"], RequesterFeedback=reason)
        item.rejected.append({"assignment": assignment["AssignmentId"], "worker": worker, "rule": rule})
        if item.replacements < MAX_REPLACEMENTS:
            item.replacements += 1
            _add_assignments(
                mturk,
                str(item.hit_id),
                1,
                token=_token(item.hit_id or "", item.replacements, assignment["AssignmentId"]),
            )
        return
    if assignment["AssignmentStatus"] == "Submitted":
        mturk.approve_assignment(AssignmentId=assignment["AssignmentId"])
    item.answers.append(
        {
            "assignment": assignment["AssignmentId"],
            "worker": worker,
            "content": orjson.dumps(content).decode(),
            "accepted": accepted.astimezone(UTC).isoformat(),
            "submitted": submitted.astimezone(UTC).isoformat(),
            "seconds": round(seconds, 3),
        }
    )


def _expire(mturk: MTurkClient, hit_id: str) -> None:
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=EXPIRED)


# ---------------------------------------------------------------------------------------------------- finish


def _finish(
    s3: S3Client,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    items: list[ItemHit],
    moment: datetime,
) -> tuple[S3Location, int]:
    """Ground Truth's custom-job output for the round and how many items it labeled."""
    round_items = [
        RoundItem(item.id, item.line, item.answers, len(item.rejected), item.failure or item.short) for item in items
    ]
    return write_round_output(s3, publisher, batch, job, round_items, moment, source="mturk")


# ---------------------------------------------------------------------------------------------------- clean up


def clean_up_hits(s3: S3Client, mturk: MTurkClient, batch: BatchRef) -> dict[str, Any]:
    """Expire and delete every HIT of the batch; work submitted after the last poll is approved (it was done)."""
    register = _read_register(s3, batch)
    expired = deleted = approved = 0
    kept: list[str] = []
    for entry in register.values():
        hit_id = entry["hit_id"]
        try:
            _expire(mturk, hit_id)
            expired += 1
            for assignment in _assignments(mturk, hit_id):
                if assignment["AssignmentStatus"] == "Submitted":
                    mturk.approve_assignment(AssignmentId=assignment["AssignmentId"])
                    approved += 1
            mturk.delete_hit(HITId=hit_id)
            deleted += 1
        except ClientError as error:
            kept.append(f"{hit_id}: {error.response.get('Error', {}).get('Message', error)}")
    return {"expired": expired, "deleted": deleted, "approved_late": approved, "kept": kept[:MAX_LISTED]}


# ---------------------------------------------------------------------------------------------------- storage


def _ledger_location(batch: BatchRef, job: PreparedJob) -> S3Location:
    return job_folder(batch.bucket, job.name).child("mturk", "hits.jsonl")


def _register_location(batch: BatchRef) -> S3Location:
    return rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("mturk", "hits.jsonl")


def _write_ledger(s3: S3Client, batch: BatchRef, job: PreparedJob, items: list[ItemHit]) -> None:
    manifests.write_manifest(s3, _ledger_location(batch, job), (asdict(item) for item in items))


def _read_ledger(s3: S3Client, batch: BatchRef, job: PreparedJob) -> list[ItemHit]:
    return [ItemHit(**line.data) for line in manifests.read_manifest(s3, _ledger_location(batch, job))]


def _write_register(s3: S3Client, batch: BatchRef, register: dict[str, dict[str, Any]]) -> None:
    lines = ({"key": key, **entry} for key, entry in register.items())
    manifests.write_manifest(s3, _register_location(batch), lines)


def _read_register(s3: S3Client, batch: BatchRef) -> dict[str, dict[str, Any]]:
    location = _register_location(batch)
    try:
        return {
            str(line.data["key"]): {k: v for k, v in line.data.items() if k != "key"}
            for line in manifests.read_manifest(s3, location)
        }
    except s3.exceptions.NoSuchKey:
        return {}
