"""3D point cloud detection, tracking and segmentation as a workflow plug-in, on Ground Truth's built-in 3D task
types and worker UI."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from groundcrew.workflows.plugin import BuiltInTaskPath, NotOnLabelStudio, WorkerTask
from groundcrew.workflows.point_cloud import tasks

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.consensus.rounds import RoundPlan
    from groundcrew.core.manifests import ManifestLine
    from groundcrew.core.preflight import Finding, PreflightReport
    from groundcrew.core.records import BatchRef, ImportRef
    from groundcrew.core.s3_locations import S3Location
    from groundcrew.core.vocabulary import Workflow
    from groundcrew.intake.rules import Decision, IncomingObject
    from groundcrew.projects import Project
    from groundcrew.workflows.plugin import BatchSteps, LabelStudioInterface
    from groundcrew.workforces.ground_truth.jobs import JobResources


class _Counted:
    """Iterates manifest lines once, counting them."""

    def __init__(self, lines: Iterator[ManifestLine]) -> None:
        self._lines, self.count = lines, 0

    def __iter__(self) -> Iterator[ManifestLine]:
        for line in self._lines:
            self.count += 1
            yield line


class PointCloudPlugin(BuiltInTaskPath):
    label_import_kind = "point cloud audit projects (pointcloud.audit)"
    audits_earlier_jobs = True

    def __init__(self, *, tracking: bool) -> None:
        self.tracking = tracking  # one manifest line is a sequence file of frames rather than one frame

    def intake_decision(self, project: Project, obj: IncomingObject, head: Callable[[], bytes]) -> Decision:
        from groundcrew.intake.rules import Disposition
        from groundcrew.workflows.point_cloud import intake

        assert project.pointcloud is not None  # the project model requires it for point cloud workflows
        decision = intake.decide_point_cloud(
            obj, seal_marker=project.batch.seal_marker, scene_document=project.pointcloud.scene_document
        )
        if decision.disposition is Disposition.LABEL:
            return intake.check_point_cloud_signature(obj, head())
        return decision

    def import_instructions(self, project: Project) -> str:
        return (
            f"drop the earlier job's output manifest under {project.imports_prefix}; the frames and "
            "labels it names are read where they are"
        )

    def import_start(self, project: Project, key: str) -> str | Decision | None:
        from groundcrew.intake.rules import Decision, Disposition
        from groundcrew.workflows.point_cloud import audits

        source = audits.audit_source(project, key)
        if source is not None:
            return source
        message = (
            f"a point cloud audit starts from an earlier job's output manifest "
            f"({' or '.join(audits.AUDIT_SUFFIXES)}) directly under {project.imports_prefix}"
        )
        return Decision(Disposition.REJECT, "not-an-output-manifest", message)

    def plan_import(self, s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
        """An earlier job's output manifest: each line checked and kept whole, as Finish's only part."""
        from groundcrew.workflows.point_cloud import audits

        return audits.plan_audit(s3, ref, project)

    def convert_import(
        self, s3: S3Client, items: Sequence[dict[str, Any]], ref: ImportRef, project: Project, batch: dict[str, Any]
    ) -> dict[str, Any]:
        from groundcrew.core.errors import ImportNotPossible

        raise ImportNotPossible("a point cloud audit converts nothing: its frames and labels are read where they are")

    def import_format(self, project: Project) -> str:
        from groundcrew.workflows.point_cloud import audits

        return audits.AUDIT_FORMAT

    def check_manifest(self, s3: S3Client, manifest: S3Location) -> PreflightReport:
        """Frame lines or sequence files against contracts 2.1-2.3, every frame file checked to exist."""
        from groundcrew.core import manifests, preflight
        from groundcrew.core.s3_locations import S3Location, object_reader, object_size_reader
        from groundcrew.workflows.point_cloud import preflight as point_cloud_preflight

        sizes = object_size_reader(s3)
        counted = _Counted(manifests.read_manifest(s3, manifest))
        findings = point_cloud_preflight.check_point_cloud_manifest(
            counted,
            tracking=self.tracking,
            read=object_reader(s3),
            exists=lambda uri: sizes(S3Location.parse(uri)) is not None,
        )
        return preflight.PreflightReport(lines=counted.count, findings=findings)

    def check_content(self, s3: S3Client, project: Project, manifest: S3Location) -> list[Finding]:
        return []

    def first_round(self, s3: S3Client, batch: BatchRef, project: Project) -> RoundPlan | None:
        return None

    def worker_task(self, s3: S3Client, bucket: str, project: Project, resources: JobResources) -> WorkerTask:
        return WorkerTask(None, categories_document(project))

    def built_in_lambdas(self, project: Project, region: str, partition: str) -> tuple[str, str] | None:
        audit = project.pointcloud.audit if project.pointcloud is not None else None
        return tasks.task_for(project.workflow).lambdas(audit.mode if audit else None, region, partition)

    def worker_ui_arn(self, project: Project, region: str, partition: str) -> str | None:
        return tasks.task_for(project.workflow).ui_arn(region, partition)

    def labelstudio(self, workflow: Workflow) -> LabelStudioInterface:
        raise NotOnLabelStudio(
            "Label Studio has no 3D point cloud tools; label point clouds with workforce kind groundtruth "
            "(a private or vendor workteam)"
        )

    def decide_round(self, steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
        # Ground Truth's built-in types consolidate themselves: one job, no more rounds.
        from groundcrew.workforces.ground_truth import built_in_rounds

        result, _ = built_in_rounds.decide_round(steps, round_failed=round_failed)
        return result

    def finalize_batch(self, steps: BatchSteps) -> dict[str, Any]:
        from groundcrew.workflows.point_cloud import batches  # numpy: point cloud batches only

        return batches.finalize(steps)


PLUGINS = {workflow: PointCloudPlugin(tracking=task.kind == "tracking") for workflow, task in tasks.TASKS.items()}


def categories_document(project: Project) -> dict[str, Any]:
    """The 3D label category file: the project's categories, its task text as instructions when they give none."""
    from groundcrew.workflows.point_cloud import label_categories

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
        task=tasks.task_for(project.workflow).kind,
        audit=audit.mode if audit else None,
        audit_label_attribute=audit.label_attribute if audit else None,
    )
