"""Launch step: the prepared round's labeling job, created idempotently, announced on the bus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.core.events import EventPublisher, LabelingJobStarted
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.workforces.ground_truth import jobs as labeling_jobs

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


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
