"""A prepared labeling job run as tasks on a self-hosted Label Studio server: same rounds, same consolidation.

The Prepare step builds the round exactly as for Ground Truth (task config, the round's manifest). For a project
with `workforce.kind: labelstudio` the state machine then runs these steps instead of CreateLabelingJob and
DescribeLabelingJob:

* `launch_round` puts the round's items in the batch's Label Studio project (created by the first round, with the
  workflow's labeling config and instructions, `WorkflowPlugin.labelstudio()`). Each manifest line is one task,
  found again in later rounds by a digest of the line in its meta; the image is an s3:// URI that the project's S3
  source storage presigns with the server's own AWS credentials when an annotator opens the task; pre-annotations
  are predictions. Answers per item are Label Studio's per-task `overlap`: the open-source edition sets it from
  the project's `maximum_annotations` at import (a task's own value in the import is ignored) and rewrites every
  task when that project setting changes, but honours a task's overlap set afterwards (`PATCH /api/tasks/<id>/`)
  when it hands out tasks. So each round sets its tasks' overlap to the answers they hold plus the answers wanted
  now, and Label Studio itself keeps an annotator from answering the same item twice across rounds. A retried
  launch finds the project and tasks it made and only completes what is missing.
* `track_round` (one poll) lists the project's tasks with their annotations, page by page. An item is done when
  it has the round's answers from distinct annotators; at the deadline the open ones end short, with the reason.
  When every item is done it writes Ground Truth's custom-job output (`round_output`) and answers Completed like
  DescribeLabelingJob would. A task or project deleted by a person ends its items with the reason; the answers
  already given are kept.
* `close_rounds` (end of the batch, or after a failure) deletes the tasks nobody annotated (so nobody works on a
  round that is over) and marks each project closed in its title. Annotated tasks are kept: they were done.

State lives in S3: the round's ledger `labeling-jobs/<job>/labelstudio/tasks.jsonl` (one line per item) and the
batch's project `batches/<project>/<batch>/labelstudio/project.json`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import rounds
from groundcrew.core import manifests
from groundcrew.core.errors import AnswerError, DataObjectError
from groundcrew.core.events import EventPublisher, LabelingJobStarted
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.projects import LabelStudioSettings, load_project
from groundcrew.workflows.plugin import LabelOutput
from groundcrew.workflows.registry import for_workflow
from groundcrew.workforces.ground_truth.round_output import (
    RoundItem,
    poll_result,
    write_answered_output,
    write_round_output,
)
from groundcrew.workforces.ground_truth.task_config import TaskConfig, TaskConfigReader, job_folder
from groundcrew.workforces.labelstudio.client import LabelStudioClient, LabelStudioNotFound, LabelStudioRefused

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.workflows.plugin import LabelStudioInterface

IMPORT_CHUNK = 1000  # tasks per import request
TITLE_MAX = 50  # Label Studio's PROJECT_TITLE_MAX_LEN
# Task meta (not data: the S3 storage rewrites every s3:// URI in data into a link): the item's key (its
# source-ref) and a digest of its manifest line. A later round whose line is the same asks the same task for more
# answers; a changed line (a pose sent back for adjustment, say) is a new task: adjusting is new work.
ITEM_FIELD = "groundcrew_item"
LINE_FIELD = "groundcrew_line"
BATCH_FIELD = "groundcrew_batch"  # a project of yours (workforce.labelstudio.project_id) holds several batches
MODEL_VERSION = "groundcrew"  # predictions' model_version: the pre-annotation the round starts from
MAX_REPLACEMENTS = 2  # per item and round: annotations we could not count, asked for again
WORKER_PREFIX = "labelstudio."  # worker ids: labelstudio.<user id>, no e-mail addresses in events or logs


@dataclass(frozen=True, slots=True)
class ImageStorage:
    """Each project's S3 source storage: it turns the tasks' s3:// URIs into presigned links when an annotator
    opens one, signed with the server's own AWS credentials. Nothing is synced from it (we import the tasks)."""

    region: str
    endpoint: str | None = None  # where the server reaches S3; None: AWS's own (local mode: 127.0.0.1)

    def document(self, bucket: str) -> dict[str, Any]:
        return {
            "title": "groundcrew images",
            "bucket": bucket,
            "presign": True,
            "presign_ttl": 60,  # minutes a link lasts once an annotator opens the task
            "use_blob_urls": False,
            "recursive_scan": False,
            "region_name": self.region,
            **({"s3_endpoint": self.endpoint} if self.endpoint else {}),
        }


@dataclass
class ItemTask:
    """One item of a round: its manifest line, its task and what came back (a line of the round's ledger)."""

    id: str  # datasetObjectId: the line's index in the round manifest
    line: dict[str, Any]
    wanted: int
    task_id: int | None = None
    known: list[int] = field(default_factory=list)  # the task's annotations from earlier rounds
    answers: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"annotation", "worker", "reason"}
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"annotation", "worker", "reason"}
    failure: str | None = None  # the item could not be posted
    short: str | None = None  # the round ended with fewer answers than wanted
    replacements: int = 0  # overlap added for annotations that could not be counted
    done: bool = False

    @property
    def seen(self) -> set[int]:
        reviewed = (*self.answers, *self.rejected, *self.skipped)
        return {*self.known, *(int(entry["annotation"]) for entry in reviewed)}

    @property
    def problem(self) -> str | None:
        if self.failure or self.short:
            return self.failure or self.short
        if not self.answers and (self.rejected or self.skipped):
            return _not_counted(self)
        return None


# ---------------------------------------------------------------------------------------------------- launch


def launch_round(
    s3: S3Client,
    client: LabelStudioClient,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    storage: ImageStorage,
) -> dict[str, Any]:
    """The round's tasks in the batch's Label Studio project, each asking for the answers wanted now."""
    project = load_project(s3, batch.bucket, batch.project)
    settings = project.workforce.labelstudio_settings
    config = TaskConfigReader(s3, batch.bucket).read(job.name)
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    wanted = int(job.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"])
    lines = [line.data for line in manifests.read_manifest(s3, S3Location.parse(job.manifest_uri))]
    project_id = _batch_project(s3, client, batch, (config, interface, settings, storage), wanted)
    items = [ItemTask(id=str(index), line=line, wanted=wanted) for index, line in enumerate(lines)]
    tasks = {_line_of(task): task for task in client.tasks(project_id)}
    new = _task_documents(s3, batch, items, tasks, config, interface)
    for start in range(0, len(new), IMPORT_CHUNK):
        client.post(f"/api/projects/{project_id}/import", new[start : start + IMPORT_CHUNK])
    if new:  # the new tasks' ids (they have no annotations yet: the lighter listing will do)
        tasks = {_line_of(task): task for task in client.tasks(project_id, with_annotations=False)} | tasks
    for item in (item for item in items if item.failure is None):
        _ask(client, item, tasks.get(line_digest(batch, item.line)))
    _write_ledger(s3, batch, job, items)
    posted = sum(1 for item in items if item.task_id is not None)
    project_url = f"{client.url}/projects/{project_id}"
    publisher.publish(
        LabelingJobStarted(
            project=batch.project,
            batch_id=batch.batch_id,
            labeling_job_name=job.name,
            labeling_job_arn=project_url,
            item_count=len(items),
            workers_per_object=wanted,
            round=job.round,
            workforce="labelstudio",
            preview_url=f"{project_url}/data",
            gold_items=job.gold_items,
            gold_missing=job.gold_missing,
        )
    )
    return {"tasks": posted, "failed": len(items) - posted, "project_id": project_id, "project_url": project_url}


def _ask(client: LabelStudioClient, item: ItemTask, task: dict[str, Any] | None) -> None:
    """The item's task asks for `wanted` answers more than it holds (its overlap); earlier ones are known."""
    if task is None:
        item.failure = "the task was not created in Label Studio (the import did not return it)"
        return
    item.task_id = int(task["id"])
    annotations = task.get("annotations") or []
    item.known = sorted(int(annotation["id"]) for annotation in annotations)
    # Label Studio hands a task out until its annotations (skips aside) reach the overlap, whoever made them.
    holding = sum(1 for annotation in annotations if not annotation.get("was_cancelled"))
    if int(task.get("overlap") or 0) != holding + item.wanted:
        client.patch(f"/api/tasks/{item.task_id}/", {"overlap": holding + item.wanted})


def _batch_project(
    s3: S3Client,
    client: LabelStudioClient,
    batch: BatchRef,
    setup: tuple[TaskConfig, LabelStudioInterface, LabelStudioSettings, ImageStorage],
    wanted: int,
) -> int:
    """The batch's project: the one an earlier round (or attempt) finished setting up, or a new one."""
    config, interface, settings, storage = setup
    location = _project_location(batch)
    try:
        return int(orjson.loads(s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())["id"])
    except s3.exceptions.NoSuchKey:
        pass
    if settings.project_id is not None:
        project_id = _your_project(client, settings.project_id, config, interface)
        _ensure_image_storage(client, project_id, storage.document(batch.bucket))
        put_object(s3, location, orjson.dumps({"id": project_id, "url": client.url, "yours": True}))
        return project_id
    # Batch ids start with the project's name: the title repeats it only when the settings name another.
    title = (f"{settings.title} {batch.batch_id}" if settings.title else batch.batch_id)[:TITLE_MAX]
    created = client.post(
        "/api/projects/",
        {
            "title": title,
            "description": f"groundcrew project {batch.project}, batch {batch.batch_id}",
            "label_config": interface.labeling_config(config),
            "expert_instruction": interface.instructions(config),
            "show_instruction": True,
            "show_skip_button": settings.show_skip_button,
            "maximum_annotations": wanted,
            "overlap_cohort_percentage": 100,
            "sampling": settings.sampling,
            "color": settings.color,
            "is_published": True,
        },
    )
    project_id = int(created["id"])
    client.post("/api/storages/s3/", {"project": project_id, **storage.document(batch.bucket)})
    put_object(s3, location, orjson.dumps({"id": project_id, "url": client.url, "title": title, "yours": False}))
    return project_id


def _your_project(
    client: LabelStudioClient, project_id: int, config: TaskConfig, interface: LabelStudioInterface
) -> int:
    """The project the settings name, with the workflow's labeling config: set when it holds no task yet, else it
    must already be the same (a project's config cannot change under its annotations)."""
    try:
        project = client.get(f"/api/projects/{project_id}/")
    except LabelStudioNotFound:
        raise LabelStudioRefused(
            f"workforce.labelstudio.project_id {project_id} is not a project on {client.url}; create it (or leave "
            "project_id out: groundcrew then creates one project per batch)"
        ) from None
    wanted = interface.labeling_config(config)
    if project.get("label_config") == wanted:
        return project_id
    if int(project.get("task_number") or 0):
        raise LabelStudioRefused(
            f"Label Studio project {project_id} already has tasks under another labeling config than this "
            f"{config.workflow.value} project's; name an empty project (groundcrew sets its config) or one that "
            "groundcrew set up for the same labels"
        )
    client.patch(
        f"/api/projects/{project_id}/",
        {"label_config": wanted, "expert_instruction": interface.instructions(config), "show_instruction": True},
    )
    return project_id


def _ensure_image_storage(client: LabelStudioClient, project_id: int, document: dict[str, Any]) -> None:
    storages = client.get("/api/storages/s3/", project=project_id)
    if not any(storage.get("bucket") == document["bucket"] for storage in storages or []):
        client.post("/api/storages/s3/", {"project": project_id, **document})


def _task_documents(
    s3: S3Client,
    batch: BatchRef,
    items: list[ItemTask],
    existing: dict[str, dict[str, Any]],
    config: TaskConfig,
    interface: LabelStudioInterface,
) -> list[dict[str, Any]]:
    """The import body for the items not in the project yet; a line that cannot become a task fails alone."""
    documents = []
    for item in items:
        if line_digest(batch, item.line) in existing:
            continue
        source = item.line.get("source-ref")
        if not isinstance(source, str) or not source.startswith("s3://"):
            item.failure = f"the line needs 'source-ref' with an s3:// image URI, got {source!r}"
            continue
        try:
            predictions = interface.predictions(item.line, config, _S3Objects(s3))
        except DataObjectError as error:
            item.failure = f"the task could not be built: {error}"
            continue
        meta = {
            ITEM_FIELD: rounds.item_key(item.line),
            LINE_FIELD: line_digest(batch, item.line),
            BATCH_FIELD: batch.batch_id,
        }
        document: dict[str, Any] = {"data": {"image": source}, "meta": meta}
        if predictions:
            document["predictions"] = [{"model_version": MODEL_VERSION, "result": predictions}]
        documents.append(document)
    return documents


@dataclass(frozen=True)
class _S3Objects:
    """What a workflow's Label Studio interface may read while it builds a task: image headers, small objects."""

    s3: S3Client

    def image_size(self, uri: str) -> tuple[int, int]:
        from groundcrew.core.image_headers import image_size

        size, problem = image_size(self.s3, uri)
        if size is None:
            raise DataObjectError(problem or f"the size of {uri} cannot be read")
        return size.width, size.height

    def read(self, uri: str, limit: int) -> bytes:
        location = S3Location.parse(uri)
        try:
            answer = self.s3.get_object(Bucket=location.bucket, Key=location.key)
        except self.s3.exceptions.NoSuchKey:
            raise DataObjectError(f"{uri} does not exist") from None
        if int(answer["ContentLength"]) > limit:
            raise DataObjectError(f"{uri} is {answer['ContentLength']:,} bytes, more than the {limit:,} allowed")
        return bytes(answer["Body"].read())


def line_digest(batch: BatchRef, line: dict[str, Any]) -> str:
    """Which task is an item's in this batch: the same line asks the same task again, in this batch only."""
    return hashlib.sha256(orjson.dumps([batch.batch_id, line], option=orjson.OPT_SORT_KEYS)).hexdigest()


def _line_of(task: dict[str, Any]) -> str:
    return str((task.get("meta") or {}).get(LINE_FIELD, ""))


# ---------------------------------------------------------------------------------------------------- track


def track_round(
    s3: S3Client,
    client: LabelStudioClient,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    previous: dict[str, Any] | None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """One poll of the round's tasks; Completed (with the output manifest) once every item is done."""
    project = load_project(s3, batch.bucket, batch.project)
    settings = project.workforce.labelstudio_settings
    config = TaskConfigReader(s3, batch.bucket).read(job.name)
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    items = _read_ledger(s3, batch, job)
    project_id = _read_project_id(s3, batch)
    moment = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    reader = _AnnotationReader(client, settings, config, interface)
    open_items = [item for item in items if not item.done and item.failure is None]
    gone = ""
    try:
        tasks = {int(task["id"]): task for task in client.tasks(project_id)}
    except LabelStudioNotFound:
        tasks, gone = {}, f"Label Studio project {project_id} was deleted"
    for item in open_items:
        task = tasks.get(int(item.task_id or -1))
        if task is None:
            item.done = True
            item.short = _ended_short(item, gone or f"Label Studio task {item.task_id} was deleted")
            continue
        reader.review(item, task)
    if moment.timestamp() > job.deadline:
        for item in (item for item in items if not item.done and item.failure is None):
            item.done = True
            item.short = _ended_short(item, "the round reached its deadline")
    for item in items:
        item.done = item.done or item.failure is not None
    _write_ledger(s3, batch, job, items)
    return poll_result(
        publisher, batch, job, items, previous, lambda: _write_output(s3, publisher, batch, job, items, moment)
    )


def _write_output(
    s3: S3Client,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    items: list[ItemTask],
    moment: datetime,
) -> tuple[S3Location, int]:
    """Through our consolidation (custom workflows), or each item's one answer as its label (built-in types)."""
    round_items = [RoundItem(item.id, item.line, item.answers, len(item.rejected), item.problem) for item in items]
    config = TaskConfigReader(s3, batch.bucket).read(job.name)
    interface = for_workflow(config.workflow).labelstudio(config.workflow)
    if interface.own_consolidation:
        return write_round_output(s3, publisher, batch, job, round_items, moment, source="labelstudio")

    outputs = job_folder(batch.bucket, job.name).child("annotations", "consolidated-annotation", "output")

    def put(name: str, body: bytes) -> str:
        location = outputs.child(name)
        put_object(s3, location, body)
        return location.uri

    def label(item: RoundItem, metadata: dict[str, Any]) -> dict[str, Any]:
        content = orjson.loads(item.answers[0]["content"])
        out = LabelOutput(
            job.label_attribute_name, metadata, _S3Objects(s3), lambda name, body: put(f"{item.id}-{name}", body)
        )
        return interface.output_fields(content, item.line, config, out)

    return write_answered_output(s3, batch, job, round_items, moment, label)


@dataclass
class _AnnotationReader:
    """Turns a task's new annotations into answers, rejections (with the reason) and skips."""

    client: LabelStudioClient
    settings: LabelStudioSettings
    config: TaskConfig
    interface: LabelStudioInterface
    _allowed: set[int] | None = field(default=None, init=False)

    def review(self, item: ItemTask, task: dict[str, Any]) -> None:
        seen = item.seen
        annotations = sorted(task.get("annotations") or [], key=lambda a: int(a["id"]))
        for annotation in annotations:
            if int(annotation["id"]) not in seen:
                self._read(item, annotation)
        missing = item.wanted - len({answer["worker"] for answer in item.answers})
        item.done = missing <= 0
        # Label Studio stops handing a task out once its annotations (skips aside) reach its overlap, whoever made
        # them: an annotation we could not count (a user outside `annotators`, a second one by the same user)
        # needs a replacement, as a rejected Mechanical Turk assignment does.
        given = sum(1 for a in annotations if not a.get("was_cancelled"))
        if item.done or given < int(task.get("overlap") or 0):
            return
        grow = min(missing, MAX_REPLACEMENTS - item.replacements)
        if grow <= 0:
            item.done = True
            item.short = _ended_short(item, f"the task used its {MAX_REPLACEMENTS} replacements")
            return
        self.client.patch(f"/api/tasks/{int(task['id'])}/", {"overlap": int(task.get("overlap") or 0) + grow})
        item.replacements += grow

    def _read(self, item: ItemTask, annotation: dict[str, Any]) -> None:
        # A second annotation by the same user is kept as an answer: the consolidation rejects it with its reason
        # ("second answer of the same worker"), as it does for Ground Truth, and the item waits for another user.
        user = _user_id(annotation.get("completed_by"))
        worker = f"{WORKER_PREFIX}{user}"
        entry = {"annotation": int(annotation["id"]), "worker": worker}
        if annotation.get("was_cancelled"):
            item.skipped.append({**entry, "reason": f"{worker} skipped the task"})
            return
        if not self._may_answer(user):
            reason = f"{worker} is not one of workforce.labelstudio.annotators"
            item.rejected.append({**entry, "reason": reason})
            return
        try:
            content = self.interface.answer_content(annotation.get("result") or [], item.line, self.config)
        except AnswerError as error:
            item.rejected.append({**entry, "reason": f"annotation of {worker}: {error}"})
            return
        item.answers.append({**entry, "content": orjson.dumps(content).decode(), **_times(annotation)})

    def _may_answer(self, user: int | None) -> bool:
        if not self.settings.annotators:
            return True
        if self._allowed is None:
            wanted = {email.lower() for email in self.settings.annotators}
            users = self.client.get("/api/users/")
            self._allowed = {int(u["id"]) for u in users if str(u.get("email", "")).lower() in wanted}
        return user in self._allowed


def _user_id(completed_by: Any) -> int | None:
    value = completed_by.get("id") if isinstance(completed_by, dict) else completed_by
    return int(value) if isinstance(value, int) else None


def _times(annotation: dict[str, Any]) -> dict[str, Any]:
    """Submitted when the annotation was created; accepted `lead_time` seconds before (Label Studio's timer)."""
    submitted = datetime.fromisoformat(str(annotation.get("created_at")).replace("Z", "+00:00"))
    submitted = submitted if submitted.tzinfo else submitted.replace(tzinfo=UTC)
    lead = annotation.get("lead_time")
    seconds = round(float(lead), 3) if isinstance(lead, int | float) and lead >= 0 else 0.0
    accepted = submitted - timedelta(seconds=seconds)
    return {"accepted": _iso(accepted), "submitted": _iso(submitted), "seconds": seconds}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _ended_short(item: ItemTask, why: str) -> str:
    workers = len({answer["worker"] for answer in item.answers})
    return f"{why} with {workers} of {item.wanted} answers" + (f" ({_not_counted(item)})" if item.seen else "")


def _not_counted(item: ItemTask) -> str:
    reasons = [entry["reason"] for entry in (*item.skipped, *item.rejected)]
    return "; ".join(reasons) if reasons else "no annotator answered"


# ---------------------------------------------------------------------------------------------------- close


def close_rounds(s3: S3Client, client: LabelStudioClient, batch: BatchRef) -> dict[str, Any]:
    """End the batch in Label Studio: its tasks nobody annotated are deleted, annotated ones kept; a project
    groundcrew made for the batch says closed in its title (one of yours is left as it is)."""
    location = _project_location(batch)
    try:
        record = orjson.loads(s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return {"closed": 0, "unstarted_tasks_deleted": 0, "problems": []}  # it failed before its first round
    project_id, deleted = int(record["id"]), 0
    try:
        for task in client.tasks(project_id):
            ours = (task.get("meta") or {}).get(BATCH_FIELD, batch.batch_id) == batch.batch_id
            if ours and not task.get("annotations"):
                client.delete(f"/api/tasks/{int(task['id'])}/")
                deleted += 1
        title = str(client.get(f"/api/projects/{project_id}/").get("title", ""))
        if not record.get("yours") and not title.startswith("closed "):
            client.patch(f"/api/projects/{project_id}/", {"title": f"closed {title}"[:TITLE_MAX]})
    except LabelStudioNotFound as error:
        return {"closed": 0, "unstarted_tasks_deleted": deleted, "problems": [f"project {project_id}: {error}"]}
    return {"closed": 1, "unstarted_tasks_deleted": deleted, "problems": []}


# ---------------------------------------------------------------------------------------------------- storage


def _project_location(batch: BatchRef) -> S3Location:
    return rounds.batch_folder(batch.bucket, batch.project, batch.batch_id).child("labelstudio", "project.json")


def _read_project_id(s3: S3Client, batch: BatchRef) -> int:
    location = _project_location(batch)
    return int(orjson.loads(s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())["id"])


def _ledger_location(batch: BatchRef, job: PreparedJob) -> S3Location:
    return job_folder(batch.bucket, job.name).child("labelstudio", "tasks.jsonl")


def _write_ledger(s3: S3Client, batch: BatchRef, job: PreparedJob, items: list[ItemTask]) -> None:
    manifests.write_manifest(s3, _ledger_location(batch, job), (asdict(item) for item in items))


def _read_ledger(s3: S3Client, batch: BatchRef, job: PreparedJob) -> list[ItemTask]:
    return [ItemTask(**line.data) for line in manifests.read_manifest(s3, _ledger_location(batch, job))]
