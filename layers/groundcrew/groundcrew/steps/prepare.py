"""Prepare step: a round's worker page, label categories, task config and gold, and its CreateLabelingJob request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import rounds, worker_quality
from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core import manifests
from groundcrew.core.events import MAX_LISTED
from groundcrew.core.records import BatchRef, PreparedJob, job_name
from groundcrew.core.s3_locations import S3Location, object_size_reader, put_object
from groundcrew.core.vocabulary import ConsensusMethod
from groundcrew.projects import Project, load_project
from groundcrew.workflows.plugin import WorkerTask
from groundcrew.workflows.registry import for_workflow
from groundcrew.workforces.ground_truth import jobs as labeling_jobs
from groundcrew.workforces.ground_truth.consolidation import write_worker_priors
from groundcrew.workforces.ground_truth.task_config import TaskConfig, job_folder, write_task_config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def prepare_job(
    s3: S3Client,
    batch: BatchRef,
    resources: labeling_jobs.JobResources,
    poll_seconds: int,
    *,
    plan: rounds.RoundPlan | None = None,
    workers: WorkerQualityStore | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Upload the worker template, label categories and task config; build the round's CreateLabelingJob request.

    Round 1 (no `plan`) labels the whole batch, unless the workflow plans it (an adjustment trial); later rounds
    label what the Decide step planned. Gold items are mixed into every round of our pages at the project's rate.
    """
    project = load_project(s3, batch.bucket, batch.project)
    plugin = for_workflow(project.workflow)
    policy = project.consensus_policy
    if plan is None:
        plan = plugin.first_round(s3, batch, project)
    plan = plan or rounds.RoundPlan(1, batch.manifest_uri, batch.item_count, policy.initial_answers)
    name = job_name(batch.batch_id, plan.number)
    config_folder = job_folder(batch.bucket, name).child("config")
    categories = config_folder.child("label-categories.json")
    worker_task = plugin.worker_task(s3, batch.bucket, project, resources)
    template: S3Location | None = None
    manifest_uri, gold_items, gold_missing = plan.manifest_uri, 0, list[str]()
    if worker_task.page is not None:  # our page: our task Lambdas read the task config, and gold is mixed in
        template = config_folder.child("ui-template.liquid.html")
        put_object(s3, template, worker_task.page.encode(), "text/html")
        manifest_uri, gold_items, gold_missing = _round_manifest(s3, batch, project, plan)
        _write_task_lambda_files(s3, batch, project, plan, name, worker_task, workers)
    put_object(s3, categories, orjson.dumps(worker_task.label_categories))
    request = labeling_jobs.create_request(
        project,
        name=name,
        manifest_uri=manifest_uri,
        template=template,
        label_categories=categories,
        resources=resources,
        batch_id=batch.batch_id,
        workers_per_object=plan.workers_per_object,
    )
    started = now if now is not None else time.time()
    return PreparedJob(
        name=name,
        request=request,
        label_attribute_name=project.attribute_name,
        deadline=int(started + project.time_limits.job_deadline_hours * 3600),
        poll_seconds=poll_seconds,
        workforce=project.workforce.kind,
        round=plan.number,
        item_count=plan.item_count,
        gold_items=gold_items,
        gold_missing=gold_missing[:MAX_LISTED],
    ).model_dump()


def _write_task_lambda_files(
    s3: S3Client,
    batch: BatchRef,
    project: Project,
    plan: rounds.RoundPlan,
    name: str,
    worker_task: WorkerTask,
    workers: WorkerQualityStore | None,
) -> None:
    """What our pre-annotation and consolidation Lambdas read for the job: its task config and worker priors."""
    config = TaskConfig.for_project(
        project,
        batch.batch_id,
        round_number=plan.number,
        workers_per_object=plan.workers_per_object,
        carried_answers_uri=plan.carried_answers_uri,
        rig=worker_task.rig,
    )
    write_task_config(s3, batch.bucket, name, config)
    # Written for every job, empty unless Dawid-Skene uses them: the consolidation Lambda, which may not list
    # the bucket, would get 403 (not 404) for a missing file.
    weighted = workers is not None and project.consensus_policy.method is ConsensusMethod.DAWID_SKENE
    history = workers.history(project.name).values() if workers is not None and weighted else ()
    write_worker_priors(s3, batch.bucket, name, worker_quality.priors(history) if weighted else {})


def _round_manifest(
    s3: S3Client, batch: BatchRef, project: Project, plan: rounds.RoundPlan
) -> tuple[str, int, list[str]]:
    """The job's manifest: the round's items plus gold; the batch's own manifest when there is no gold.

    Also returns the chosen gold objects that do not exist: left out so the round still runs, and named in the
    job's started event so the project's owner can upload them.
    """
    gold_pool = [rounds.GoldLine(project.gold_uri(g, batch.bucket), g.label) for g in project.quality.gold.items]
    chosen = rounds.choose_gold(
        gold_pool, project.quality.gold.rate, plan.item_count, seed=f"{batch.batch_id}:r{plan.number}"
    )
    exists = object_size_reader(s3)
    missing = [g.uri for g in chosen if exists(S3Location.parse(g.uri)) is None]
    chosen = [g for g in chosen if g.uri not in missing]
    if not chosen:
        return plan.manifest_uri, 0, missing
    location = rounds.round_folder(batch.bucket, batch.project, batch.batch_id, plan.number).child("job.manifest")
    written: list[rounds.GoldLine] = []
    lines = manifests.read_manifest(s3, S3Location.parse(plan.manifest_uri))
    manifests.write_manifest(s3, location, rounds.round_manifest_lines(lines, None, chosen, written))
    return location.uri, len(written), missing
