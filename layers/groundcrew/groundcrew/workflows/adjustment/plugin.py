"""Adjustment jobs as a workflow plug-in: workers correct masks or boxes imported from other tools, on Ground
Truth's built-in semantic-segmentation and bounding-box task types, with a page of ours around their elements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from groundcrew.core.vocabulary import Workflow
from groundcrew.workflows.plugin import BuiltInTaskPath, ImageWorkflow, WorkerTask

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.consensus.rounds import RoundPlan
    from groundcrew.core.preflight import Finding
    from groundcrew.core.records import BatchRef, ImportRef
    from groundcrew.core.s3_locations import S3Location
    from groundcrew.intake.rules import Decision
    from groundcrew.projects import Project
    from groundcrew.workflows.plugin import BatchSteps, LabelStudioInterface
    from groundcrew.workforces.ground_truth.jobs import JobResources


class AdjustmentPlugin(BuiltInTaskPath, ImageWorkflow):
    def import_instructions(self, project: Project) -> str:
        assert project.adjustment is not None  # the project model requires it for adjustment workflows
        return (
            f"put its images under {project.adjustment.images_prefix} and its {project.adjustment.format} "
            f"annotations under {project.imports_prefix}"
        )

    def import_start(self, project: Project, key: str) -> str | Decision | None:
        from groundcrew.workflows.adjustment.imports import runs  # numpy and Pillow come with it

        return runs.import_source(project, key)

    def plan_import(self, s3: S3Client, ref: ImportRef, project: Project) -> dict[str, Any]:
        from groundcrew.workflows.adjustment.imports import runs

        return runs.plan_annotations(s3, ref, project)

    def convert_import(
        self, s3: S3Client, items: Sequence[dict[str, Any]], ref: ImportRef, project: Project, batch: dict[str, Any]
    ) -> dict[str, Any]:
        from groundcrew.workflows.adjustment.imports import runs

        return runs.convert_items(s3, items, ref, project, batch)

    def import_format(self, project: Project) -> str:
        assert project.adjustment is not None
        return project.adjustment.format

    def check_content(self, s3: S3Client, project: Project, manifest: S3Location) -> list[Finding]:
        """The rules that make an adjustment job show workers nothing, or the wrong classes (read in parallel)."""
        from groundcrew.core import image_headers, manifests
        from groundcrew.core.s3_locations import object_reader

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

            labels = project.labels
            return list(adjustment_preflight.check_box_lines(lines, attribute, project.attribute_name, labels, size))
        class_map = masks.project_class_map(project)
        job_attribute = project.attribute_name
        findings = mask_preflight.check_segmentation_manifest(lines, object_reader(s3), job_attribute=job_attribute)
        findings.extend(adjustment_preflight.check_color_maps(lines, attribute, class_map.names, class_map.colors))
        return findings

    def first_round(self, s3: S3Client, batch: BatchRef, project: Project) -> RoundPlan | None:
        from groundcrew.workflows.adjustment.batches import trial_plan

        return trial_plan(s3, batch, project)

    def worker_task(self, s3: S3Client, bucket: str, project: Project, resources: JobResources) -> WorkerTask:
        from groundcrew.workflows.adjustment import (
            masks,  # numpy and Pillow: only mask work needs them
            tasks,
        )
        from groundcrew.workforces.ground_truth.jobs import label_categories_document

        attribute = project.imported_attribute_name
        assert attribute is not None
        segmentation = project.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT
        page = tasks.ui_template(
            project.workflow,
            source_attribute=attribute,
            header=project.task.title,
            instructions=project.task.full_instructions or project.task.instructions,
            class_map=masks.project_class_map(project) if segmentation else None,
        )
        return WorkerTask(page, label_categories_document(project.labels))

    def built_in_lambdas(self, project: Project, region: str, partition: str) -> tuple[str, str] | None:
        from groundcrew.workflows.adjustment import tasks

        return tasks.built_in_lambdas(project.workflow, region, partition)

    def labelstudio(self, workflow: Workflow) -> LabelStudioInterface:
        from groundcrew.workflows.adjustment.labelstudio import BoxesInLabelStudio, MasksInLabelStudio

        return BoxesInLabelStudio() if workflow is Workflow.BOUNDING_BOX_ADJUSTMENT else MasksInLabelStudio()

    def decide_round(self, steps: BatchSteps, *, round_failed: bool) -> dict[str, Any]:
        from groundcrew.workflows.adjustment import batches

        return batches.decide_round(steps, round_failed=round_failed)

    def finalize_batch(self, steps: BatchSteps) -> dict[str, Any]:
        from groundcrew.workflows.adjustment import batches

        return batches.finalize(steps)


_ADJUSTMENT = AdjustmentPlugin()
PLUGINS = {Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT: _ADJUSTMENT, Workflow.BOUNDING_BOX_ADJUSTMENT: _ADJUSTMENT}
