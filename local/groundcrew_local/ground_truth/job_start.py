"""A job's first step, Initializing -> InProgress: Ground Truth's asynchronous checks of what the request names.

The job's configuration is checked (streaming jobs, task types the stand-in does not simulate, point cloud
requirements, a missing consolidation config, the public workforce's content classifiers), then the input manifest
is read and validated (one JSON object per line, exactly one of `source-ref` / `source`, blank lines skipped), the
label category file and the UI template. Built-in image task types and 3D point cloud task types set up their
emulation, which may fail single objects (not the job) with a reason naming the line. Any other problem raises
`JobFailure`, which fails the job with a FailureReason, as Ground Truth's validation does.
"""

from __future__ import annotations

import json
from typing import Any

from liquid.exceptions import LiquidError

from groundcrew.workforces.ground_truth.task_pages import ground_truth_liquid_environment
from groundcrew_local import built_in_tasks, point_cloud_workers
from groundcrew_local.built_in_tasks import BuiltInTask
from groundcrew_local.ground_truth.job_files import JobFiles
from groundcrew_local.ground_truth.job_log import fail_object, log
from groundcrew_local.ground_truth.jobs import DataObject, JobFailure, LabelingJob
from groundcrew_local.ground_truth.lifecycle import JobLifecycle
from groundcrew_local.ground_truth.request_rules import built_in_task_type, is_public_workteam
from groundcrew_local.point_cloud_workers import PointCloudJob
from groundcrew_local.workforce import SimulatedWorkforce

MAX_DATA_OBJECTS = 100_000
MAX_LINE_CHARS = 100_000
MAX_LABEL_CHARS = 256


class JobStart:
    """Starts jobs: checks, input manifest, label categories, worker template or emulated task type."""

    def __init__(
        self, files: JobFiles, lifecycle: JobLifecycle, workforce: SimulatedWorkforce, *, strict_templates: bool
    ) -> None:
        self.files = files
        self.lifecycle = lifecycle
        self.workforce = workforce
        self.strict_templates = strict_templates

    def start(self, job: LabelingJob) -> None:
        """Initializing -> InProgress, or JobFailure."""
        human = job.human_task_config
        task_type = built_in_task_type(human.get("PreHumanTaskLambdaArn"))
        point_cloud = _check_task_type(job, task_type)
        _check_workforce(job)
        source = job.request["InputConfig"]["DataSource"]
        manifest_uri = source["S3DataSource"]["ManifestS3Uri"]
        job.objects = parse_manifest(self.files.read(job, manifest_uri, "input manifest"), manifest_uri)
        if job.request.get("LabelCategoryConfigS3Uri"):
            job.label_categories = self._load_label_categories(job, job.request["LabelCategoryConfigS3Uri"])
        if point_cloud:
            assert task_type is not None
            self._set_up_point_cloud(job, task_type)
        else:
            if task_type:
                self._set_up_built_in(job, task_type)
            self._load_template(job, human["UiConfig"]["UiTemplateS3Uri"])
        job.initialized = True
        job.started_at = self.workforce.now
        self.lifecycle.set_status(job, "InProgress")
        log(job, "LABELING_JOB_INITIALIZED", f"{len(job.objects)} data objects")

    def _load_template(self, job: LabelingJob, template_uri: str) -> None:
        template_text = self.files.read(job, template_uri, "worker task template").decode("utf-8", errors="replace")
        presign = self.files.recording_presigner(job)
        environment = ground_truth_liquid_environment(presign, strict=self.strict_templates)
        try:
            job.template = environment.from_string(template_text)
        except LiquidError as error:
            raise JobFailure(
                f"ClientError: the worker task template {template_uri} is not valid Liquid: {error}"
            ) from None

    def _label_category_document(self, job: LabelingJob, task_type: str) -> dict[str, Any]:
        uri = job.request.get("LabelCategoryConfigS3Uri")
        if not uri or not job.label_categories:
            raise JobFailure(f"ClientError: built-in task type {task_type} needs LabelCategoryConfigS3Uri")
        document: dict[str, Any] = json.loads(self.files.read(job, uri, "label category configuration file"))
        return document

    def _set_up_built_in(self, job: LabelingJob, task_type: str) -> None:
        audit = self._label_category_document(job, task_type).get("auditLabelAttributeName")
        assert job.label_categories is not None
        job.built_in = BuiltInTask(
            task_type,
            tuple(job.label_categories),
            job.label_attribute_name,
            job.name.lower(),
            audit if isinstance(audit, str) and audit else None,
        )
        for item in job.objects:
            problem = job.built_in.setup_problem(item.line, item.line_number)
            if problem:
                fail_object(job, item, f"ClientError: {problem}")

    def _set_up_point_cloud(self, job: LabelingJob, task_type: str) -> None:
        audit = self._label_category_document(job, task_type).get("auditLabelAttributeName")
        if task_type.startswith("Adjustment") and not (isinstance(audit, str) and audit):
            raise JobFailure(
                f"ClientError: {task_type} jobs need auditLabelAttributeName in the label category file (contracts 3.2)"
            )
        assert job.label_categories is not None
        job.point_cloud = PointCloudJob(
            task_type, tuple(job.label_categories), job.label_attribute_name, job.name.lower(), audit or None
        )
        for item in job.objects:
            problem = job.point_cloud.setup_problem(item.line, item.line_number)
            if problem:
                fail_object(job, item, f"ClientError: {problem}")

    def _load_label_categories(self, job: LabelingJob, uri: str) -> list[str]:
        where = f"ClientError: label category configuration file {uri}"
        try:
            document = json.loads(self.files.read(job, uri, "label category configuration file"))
        except ValueError as error:
            raise JobFailure(f"{where} is not valid JSON: {error}") from None
        entries = document.get("labels") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise JobFailure(f"{where} needs a non-empty 'labels' list")
        labels: list[str] = []
        for position, entry in enumerate(entries):
            label = entry.get("label") if isinstance(entry, dict) else None
            if not isinstance(label, str) or not label:
                raise JobFailure(f"{where}: labels[{position}] needs a 'label' string")
            if len(label) > MAX_LABEL_CHARS:
                raise JobFailure(f"{where}: label {label[:40]!r}... is longer than {MAX_LABEL_CHARS} characters")
            if label in labels:
                raise JobFailure(f"{where}: label {label!r} appears twice; labels must be unique")
            labels.append(label)
        return labels


def _check_task_type(job: LabelingJob, task_type: str | None) -> bool:
    """Whether the job is a 3D point cloud job; JobFailure for what the stand-in does not simulate."""
    human = job.human_task_config
    if not job.request["InputConfig"]["DataSource"].get("S3DataSource"):
        raise JobFailure("ClientError: the local stand-in does not simulate streaming (SnsDataSource) jobs")
    ui_arn = human["UiConfig"].get("HumanTaskUiArn")
    point_cloud = task_type in point_cloud_workers.EMULATED
    emulated = built_in_tasks.EMULATED | point_cloud_workers.EMULATED
    if (task_type and task_type not in emulated) or (ui_arn and not point_cloud):
        raise JobFailure(
            f"ClientError: the local stand-in runs custom workflows and the emulated built-in types "
            f"{', '.join(sorted(emulated))} only; built-in task type "
            f"{task_type or ui_arn} uses AWS's own Lambdas and worker UI"
        )
    if point_cloud:
        assert task_type is not None
        _check_point_cloud_job(human, task_type, ui_arn)
    return point_cloud


def _check_point_cloud_job(human: dict[str, Any], task_type: str, ui_arn: str | None) -> None:
    expected_ui = "human-task-ui/" + task_type.removeprefix("Adjustment").replace("3DPointCloud", "PointCloud")
    if not ui_arn or not ui_arn.endswith(expected_ui):
        raise JobFailure(
            f"ClientError: task type {task_type} needs UiConfig.HumanTaskUiArn ending in {expected_ui} "
            f"(contracts 4.2), got {ui_arn or 'a UiTemplateS3Uri'}"
        )
    if is_public_workteam(human["WorkteamArn"]):
        raise JobFailure("ClientError: 3D point cloud jobs cannot use the public (Mechanical Turk) workforce")
    if int(human["NumberOfHumanWorkersPerDataObject"]) != 1:
        raise JobFailure(
            "ClientError: 3D point cloud jobs take NumberOfHumanWorkersPerDataObject 1 (contracts 6.1), got "
            f"{human['NumberOfHumanWorkersPerDataObject']}"
        )


def _check_workforce(job: LabelingJob) -> None:
    human = job.human_task_config
    if not (human.get("AnnotationConsolidationConfig") or {}).get("AnnotationConsolidationLambdaArn"):
        raise JobFailure("ClientError: a custom labeling job needs AnnotationConsolidationConfig")
    classifiers = (job.request["InputConfig"].get("DataAttributes") or {}).get("ContentClassifiers") or []
    if is_public_workteam(human["WorkteamArn"]) and "FreeOfPersonallyIdentifiableInformation" not in classifiers:
        raise JobFailure(
            "ClientError: jobs for the public workforce must declare ContentClassifiers "
            "FreeOfPersonallyIdentifiableInformation"
        )


def parse_manifest(data: bytes, uri: str) -> list[DataObject]:
    """The data objects of an input manifest; JobFailure naming the line for anything Ground Truth refuses."""
    body = data.decode("utf-8-sig", errors="replace")
    objects: list[DataObject] = []
    for number, raw in enumerate(body.splitlines(), start=1):
        text = raw.strip()
        if not text:
            continue
        objects.append(
            DataObject(index=len(objects), raw=text, line=_manifest_line(text, number, uri), line_number=number)
        )
        if len(objects) > MAX_DATA_OBJECTS:
            raise JobFailure(f"ClientError: input manifest {uri} holds more than {MAX_DATA_OBJECTS} objects")
    if not objects:
        raise JobFailure(f"ClientError: input manifest {uri} holds no data objects")
    return objects


def _manifest_line(text: str, number: int, uri: str) -> dict[str, Any]:
    where = f"ClientError: input manifest {uri} line {number}"
    if len(text) > MAX_LINE_CHARS:
        raise JobFailure(f"{where} is longer than {MAX_LINE_CHARS} characters")
    try:
        line = json.loads(text)
    except ValueError as error:
        raise JobFailure(f"{where} is not valid JSON: {error}") from None
    if not isinstance(line, dict):
        raise JobFailure(f"{where} must be a JSON object, found {type(line).__name__}")
    sources = [key for key in ("source-ref", "source") if key in line]
    if len(sources) != 1:
        raise JobFailure(f"{where} must contain exactly one of 'source-ref' or 'source', found {sources}")
    if sources == ["source-ref"] and not isinstance(line["source-ref"], str):
        raise JobFailure(f"{where}: 'source-ref' must be an S3 URI string")
    dollar = [key for key in line if key.startswith("$")]
    if dollar:
        raise JobFailure(f"{where}: attribute names must not begin with '$': {dollar}")
    return line
