"""The steps of the labeling state machine (statemachine/labeling_pipeline.asl.json), one function each.

Each step receives the execution state as plain data and returns what the ASL stores under its ResultPath. The
steps of one labeling job (Preflight, Prepare, Launch, Track, Collect) and the outcome events live here; Decide
and Finalize, which work on the whole batch across rounds, are in `batch_steps`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus import rounds, worker_quality
from groundcrew.consensus.worker_quality import WorkerQualityStore
from groundcrew.core import image_headers, manifests, preflight
from groundcrew.core.errors import cause_message
from groundcrew.core.events import (
    MAX_LISTED,
    AdjustmentReport,
    ConsensusReport,
    Cost,
    EventPublisher,
    ExportedFiles,
    JobStatistics,
    LabelCounters,
    LabelingJobCompleted,
    LabelingJobFailed,
    LabelingJobProgress,
    LabelingJobStarted,
    PointCloudReport,
    PreflightFinding,
    SecondsPerImage,
    WorkerQuality,
)
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location, object_reader, object_size_reader, put_object
from groundcrew.core.vocabulary import ConsensusMethod, Workflow
from groundcrew.projects import Project, load_project
from groundcrew.workflows.adjustment import tasks as adjustment_tasks
from groundcrew.workflows.classification import task as image_classification
from groundcrew.workflows.keypoints import poses
from groundcrew.workflows.keypoints import task as keypoints
from groundcrew.workforces.ground_truth import arns as ground_truth_arns
from groundcrew.workforces.ground_truth import job_output
from groundcrew.workforces.ground_truth import jobs as labeling_jobs
from groundcrew.workforces.ground_truth.consolidation import write_worker_priors
from groundcrew.workforces.ground_truth.task_config import TaskConfig, job_folder, write_task_config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient


def run_preflight(s3: S3Client, batch: BatchRef) -> dict[str, Any]:
    manifest = S3Location.parse(batch.manifest_uri)
    if batch.workflow is not None and Workflow(batch.workflow).is_point_cloud:
        report = _point_cloud_preflight(s3, Workflow(batch.workflow), manifest)
    else:
        report = preflight.run_preflight(manifests.read_manifest(s3, manifest), object_size_reader(s3))
    if report.passed:  # the line rules hold: worth reading masks and image headers
        project = load_project(s3, batch.bucket, batch.project)
        if project.workflow.adjusts_imports:
            report.findings.extend(_adjustment_findings(s3, project, manifest))
    findings = [
        {"line": f.line, "rule": f.rule, "message": f.message, "severity": f.severity.value} for f in report.findings
    ]
    return {"passed": report.passed, "lines": report.lines, "errors": report.errors, "findings": findings[:MAX_LISTED]}


def _point_cloud_preflight(s3: S3Client, workflow: Workflow, manifest: S3Location) -> preflight.PreflightReport:
    """Frame lines or sequence files against contracts 2.1-2.3, every frame file checked to exist."""
    from groundcrew.workflows.point_cloud import preflight as point_cloud_preflight

    sizes = object_size_reader(s3)
    counted = _Counted(manifests.read_manifest(s3, manifest))
    findings = point_cloud_preflight.check_point_cloud_manifest(
        counted,
        tracking=workflow.labels_sequences,
        read=object_reader(s3),
        exists=lambda uri: sizes(S3Location.parse(uri)) is not None,
    )
    return preflight.PreflightReport(lines=counted.count, findings=findings)


class _Counted:
    """Iterates manifest lines once, counting them."""

    def __init__(self, lines: Iterator[manifests.ManifestLine]) -> None:
        self._lines, self.count = lines, 0

    def __iter__(self) -> Iterator[manifests.ManifestLine]:
        for line in self._lines:
            self.count += 1
            yield line


def _adjustment_findings(s3: S3Client, project: Project, manifest: S3Location) -> list[preflight.Finding]:
    """The rules that make an adjustment job show workers nothing, or the wrong classes (read in parallel)."""
    # numpy and Pillow: adjustment batches only
    from groundcrew.workflows.adjustment import mask_preflight, masks
    from groundcrew.workflows.adjustment import preflight as adjustment_preflight

    attribute = project.imported_attribute_name
    assert attribute is not None
    lines = list(manifests.read_manifest(s3, manifest))
    if project.workflow is Workflow.BOUNDING_BOX_ADJUSTMENT:
        sizes = image_headers.image_sizes(s3, [str(line.data.get("source-ref")) for line in lines])

        def size(uri: str) -> tuple[int, int] | None:
            found, _ = sizes.get(uri, (None, None))
            return (found.width, found.height) if found is not None else None

        checks = adjustment_preflight.check_box_lines(lines, attribute, project.attribute_name, project.labels, size)
        return list(checks)
    class_map = masks.project_class_map(project)
    job_attribute = project.attribute_name
    findings = mask_preflight.check_segmentation_manifest(lines, object_reader(s3), job_attribute=job_attribute)
    findings.extend(adjustment_preflight.check_color_maps(lines, attribute, class_map.names, class_map.colors))
    return findings


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

    Round 1 (no `plan`) labels the whole batch; later rounds label what the Decide step planned. Gold items are
    mixed into every round at the project's rate.
    """
    project = load_project(s3, batch.bucket, batch.project)
    policy = project.consensus_policy
    if plan is None and project.trial is not None:
        from groundcrew.workflows.adjustment.batches import trial_plan  # it builds on this module

        plan = trial_plan(s3, batch, project)
    plan = plan or rounds.RoundPlan(1, batch.manifest_uri, batch.item_count, policy.initial_answers)
    name = labeling_jobs.job_name(batch.batch_id, plan.number)
    config_folder = job_folder(batch.bucket, name).child("config")
    categories = config_folder.child("label-categories.json")
    template: S3Location | None = None
    manifest_uri, gold_items, gold_missing = plan.manifest_uri, 0, list[str]()
    if project.pointcloud is not None:
        put_object(s3, categories, orjson.dumps(point_cloud_categories_document(project)))
    else:
        template = config_folder.child("ui-template.liquid.html")
        page, labels, rig = _worker_page(s3, batch.bucket, project, resources)
        put_object(s3, template, page.encode(), "text/html")
        put_object(s3, categories, orjson.dumps(labeling_jobs.label_categories_document(labels)))
        manifest_uri, gold_items, gold_missing = _round_manifest(s3, batch, project, plan)
        write_task_config(
            s3,
            batch.bucket,
            name,
            TaskConfig.for_project(
                project,
                batch.batch_id,
                round_number=plan.number,
                workers_per_object=plan.workers_per_object,
                carried_answers_uri=plan.carried_answers_uri,
                rig=poses.rig_to_dict(rig) if rig is not None else None,
            ),
        )
        # Written for every job, empty unless Dawid-Skene uses them: the consolidation Lambda, which may not list
        # the bucket, would get 403 (not 404) for a missing file.
        weighted = workers is not None and policy.method is ConsensusMethod.DAWID_SKENE
        history = workers.history(project.name).values() if workers is not None and weighted else ()
        write_worker_priors(s3, batch.bucket, name, worker_quality.priors(history) if weighted else {})
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


def _worker_page(
    s3: S3Client, bucket: str, project: Project, resources: labeling_jobs.JobResources
) -> tuple[str, tuple[str, ...], poses.Rig | None]:
    """The workflow's worker template, the names a worker chooses from, and the rig (keypoints only)."""
    if project.workflow.adjusts_imports:
        return _adjustment_page(project), tuple(project.labels), None
    if project.workflow is not Workflow.KEYPOINTS:
        return image_classification.ui_template(), tuple(project.labels), None
    options = project.keypoints
    assert options is not None  # the project model requires it for this workflow
    url = options.component_url or resources.skeleton_component_url
    if not url:
        raise labeling_jobs.LabelingJobRejected(
            f"project {project.name!r} has no keypoints.component_url and the stack has no SkeletonComponentUrl: "
            "workers would see no skeleton tool; host crowd-2d-skeleton.js and name its HTTPS URL"
        )
    from groundcrew.workflows.keypoints import rigs  # pydantic and YAML: only the keypoint workflow needs them here

    rig = rigs.load_rig(s3, bucket, options.rig)
    return keypoints.ui_template(rig, url), rig.names, rig


def point_cloud_categories_document(project: Project) -> dict[str, Any]:
    """The 3D label category file: the project's categories, its task text as instructions when they give none."""
    from groundcrew.workflows.point_cloud import label_categories
    from groundcrew.workflows.point_cloud import tasks as point_cloud_tasks

    options = project.pointcloud
    assert options is not None  # point cloud projects only
    categories = options.categories
    if categories.short_instruction is None and categories.full_instruction is None:
        full = project.task.full_instructions or None
        short = project.task.instructions[: label_categories.MAX_SHORT_INSTRUCTION - 1]
        categories = categories.model_copy(update={"short_instruction": short, "full_instruction": full})
    audit = options.audit
    return label_categories.label_category_document(
        categories,
        task=point_cloud_tasks.task_for(project.workflow).kind,
        audit=audit.mode if audit else None,
        audit_label_attribute=audit.label_attribute if audit else None,
    )


def _adjustment_page(project: Project) -> str:
    from groundcrew.workflows.adjustment import masks  # numpy and Pillow: only mask work needs them

    attribute = project.imported_attribute_name
    assert attribute is not None
    class_map = (
        masks.project_class_map(project) if project.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT else None
    )
    return adjustment_tasks.ui_template(
        project.workflow,
        source_attribute=attribute,
        header=project.task.title,
        instructions=project.task.full_instructions or project.task.instructions,
        class_map=class_map,
    )


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


def launch_job(
    sagemaker: SageMakerClient, publisher: EventPublisher, batch: BatchRef, job: PreparedJob
) -> dict[str, Any]:
    arn = labeling_jobs.launch(sagemaker, job.request)
    publisher.publish(
        LabelingJobStarted(
            project=batch.project,
            batch_id=batch.batch_id,
            labeling_job_name=job.name,
            labeling_job_arn=arn,
            item_count=job.item_count or batch.item_count,
            workers_per_object=job.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"],
            round=job.round,
            gold_items=job.gold_items,
            gold_missing=job.gold_missing,
        ),
        resources=[arn],
    )
    return {"arn": arn}


def track_job(
    sagemaker: SageMakerClient,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    previous: dict[str, Any] | None,
    now: float | None = None,
) -> dict[str, Any]:
    """One poll: describe the job, tell downstream when its counters moved, enforce the deadline."""
    state = labeling_jobs.describe(sagemaker, job.name)
    before = LabelCounters.model_validate(previous["counters"]) if previous else None
    if (before is None or state.counters != before or previous.get("status") != state.status) and not state.terminal:  # type: ignore[union-attr]
        publisher.publish(
            LabelingJobProgress(
                project=batch.project,
                batch_id=batch.batch_id,
                labeling_job_name=job.name,
                status=state.status,
                label_counters=state.counters,
            )
        )
    if not state.terminal and (now if now is not None else time.time()) > job.deadline:
        labeling_jobs.stop(sagemaker, job.name)
        raise labeling_jobs.LabelingJobDeadlineExceeded(
            f"labeling job {job.name} was still {state.status} at its deadline; it has been stopped"
        )
    return {
        "status": state.status,
        "counters": state.counters.model_dump(),
        "failure_reason": state.failure_reason,
        "output_manifest_uri": state.output_manifest_uri,
    }


def collect_output(s3: S3Client, batch: BatchRef, job: PreparedJob, output_manifest_uri: str) -> dict[str, Any]:
    """One round's statistics (the batch's labels are decided after every round, by the Decide step)."""
    location = S3Location.parse(output_manifest_uri)
    lines = manifests.read_manifest(s3, location)
    if ground_truth_arns.is_built_in(str(job.request.get("HumanTaskConfig", {}).get("PreHumanTaskLambdaArn", ""))):
        totals = job_output.summarize_built_in_output(lines, job.label_attribute_name)
    else:
        totals = job_output.summarize_output(lines, job.label_attribute_name)
    seconds = job_output.worker_seconds_per_item(s3, batch.bucket, job.name)
    return {
        "output_manifest_uri": output_manifest_uri,
        "statistics": job_output.statistics(totals, seconds).model_dump(),
    }


def completed_event(state: dict[str, Any]) -> LabelingJobCompleted:
    batch = BatchRef.model_validate(state["batch"])
    final = state["final"]
    return LabelingJobCompleted(
        project=batch.project,
        batch_id=batch.batch_id,
        labeling_job_name=final["labeling_job_names"][-1],
        labeling_job_names=final["labeling_job_names"],
        output_manifest_uri=final["output_manifest_uri"],
        statistics=JobStatistics.model_validate(final["statistics"]),
        consensus=ConsensusReport.model_validate(final["consensus"]),
        cost=Cost.model_validate(final["cost"]),
        workers=[WorkerQuality.model_validate(w) for w in final["workers"]],
        flagged_workers=final["flagged_workers"],
        worker_report_uri=final.get("worker_report_uri"),
        export=ExportedFiles.model_validate(final["export"]) if final.get("export") else None,
        seconds_per_image=(
            SecondsPerImage.model_validate(final["seconds_per_image"]) if final.get("seconds_per_image") else None
        ),
        report_uri=final.get("report_uri"),
        coco_uri=final.get("coco_uri"),
        adjustment=AdjustmentReport.model_validate(final["adjustment"]) if final.get("adjustment") else None,
        pointcloud=PointCloudReport.model_validate(final["pointcloud"]) if final.get("pointcloud") else None,
    )


def failed_event(state: dict[str, Any]) -> LabelingJobFailed:
    """Turn whatever the state machine caught into a specific failure event."""
    batch = BatchRef.model_validate(state["batch"])
    error = state.get("error") or {}
    error_type = str(error.get("Error") or "Unknown")
    reason = cause_message(error.get("Cause"))
    findings = []
    report = state.get("preflight")
    if isinstance(report, dict) and not report.get("passed", True):
        findings = [
            PreflightFinding(line=f["line"], rule=f["rule"], message=f["message"])
            for f in report.get("findings", [])
            if f.get("severity") == "error"
        ]
        reason = f"preflight found {report.get('errors')} error(s) in {batch.manifest_uri}; first: " + (
            f"line {findings[0].line}: {findings[0].message}" if findings else "see findings"
        )
    job = state.get("job")
    return LabelingJobFailed(
        project=batch.project,
        batch_id=batch.batch_id,
        stage=str(state.get("failed_stage") or "Unknown"),
        labeling_job_name=job.get("name") if isinstance(job, dict) else None,
        error=error_type,
        reason=reason or error_type,
        findings=findings[:MAX_LISTED],
    )
