"""Collect step: one finished round's statistics from its output manifest and the workers' responses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundcrew.core import manifests
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location
from groundcrew.workforces.ground_truth import arns as ground_truth_arns
from groundcrew.workforces.ground_truth import job_output

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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
