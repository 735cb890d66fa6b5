"""DescribeLabelingJob and ListLabelingJobs answers: a job's description, its summary, and the list's filters.

ListLabelingJobs filters on creation and modification times, NameContains (case-insensitive) and StatusEquals,
sorts by Name, CreationTime or Status, and pages with the stand-ins' NextToken (a token it did not return is a
ValidationException).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from groundcrew_local.ground_truth.jobs import LabelingJob
from groundcrew_local.ground_truth.request_rules import validation_error
from groundcrew_local.page_tokens import encode_page_token, page_offset

DEFAULT_PAGE_SIZE = 10
_OPTIONAL_REQUEST_FIELDS = ("LabelCategoryConfigS3Uri", "StoppingConditions", "LabelingJobAlgorithmsConfig", "Tags")
_SORT_KEYS: dict[str, Callable[[LabelingJob], Any]] = {
    "Name": lambda job: job.name,
    "CreationTime": lambda job: job.created,
    "Status": lambda job: job.status,
}


def describe(job: LabelingJob) -> dict[str, Any]:
    """The DescribeLabelingJob response."""
    request = copy.deepcopy(job.request)
    description: dict[str, Any] = {
        "LabelingJobStatus": job.status,
        "LabelCounters": job.label_counters(),
        "CreationTime": job.created,
        "LastModifiedTime": job.modified,
        "JobReferenceCode": job.reference_code,
        "LabelingJobName": job.name,
        "LabelingJobArn": job.arn,
        "LabelAttributeName": request["LabelAttributeName"],
        "InputConfig": request["InputConfig"],
        "OutputConfig": request["OutputConfig"],
        "RoleArn": request["RoleArn"],
        "HumanTaskConfig": request["HumanTaskConfig"],
    }
    if job.failure_reason:
        description["FailureReason"] = job.failure_reason
    for optional in _OPTIONAL_REQUEST_FIELDS:
        if request.get(optional) is not None:
            description[optional] = request[optional]
    if job.output_uri:
        description["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
    return description


def summarize(job: LabelingJob) -> dict[str, Any]:
    """One entry of ListLabelingJobs' LabelingJobSummaryList."""
    human = job.human_task_config
    summary: dict[str, Any] = {
        "LabelingJobName": job.name,
        "LabelingJobArn": job.arn,
        "CreationTime": job.created,
        "LastModifiedTime": job.modified,
        "LabelingJobStatus": job.status,
        "LabelCounters": job.label_counters(),
        "WorkteamArn": human["WorkteamArn"],
        "InputConfig": copy.deepcopy(job.request["InputConfig"]),
    }
    if human.get("PreHumanTaskLambdaArn"):
        summary["PreHumanTaskLambdaArn"] = human["PreHumanTaskLambdaArn"]
    consolidation = human.get("AnnotationConsolidationConfig") or {}
    if consolidation.get("AnnotationConsolidationLambdaArn"):
        summary["AnnotationConsolidationLambdaArn"] = consolidation["AnnotationConsolidationLambdaArn"]
    if job.failure_reason:
        summary["FailureReason"] = job.failure_reason
    if job.output_uri:
        summary["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
    return summary


def list_page(jobs: list[LabelingJob], params: dict[str, Any]) -> dict[str, Any]:
    """The ListLabelingJobs response for these jobs: filtered, sorted, one page."""
    selected = [job for job in jobs if matches(job, params)]
    order = params.get("SortBy") or "CreationTime"
    selected.sort(key=_SORT_KEYS[order], reverse=(params.get("SortOrder") or "Ascending") == "Descending")
    offset = _decode_token(params.get("NextToken"))
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    page = selected[offset : offset + size]
    result: dict[str, Any] = {"LabelingJobSummaryList": [summarize(job) for job in page]}
    if offset + size < len(selected):
        result["NextToken"] = encode_page_token(offset + size)
    return result


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches(job: LabelingJob, params: dict[str, Any]) -> bool:
    """Whether ListLabelingJobs' filters select the job."""
    checks: Iterable[tuple[str, datetime, bool]] = (
        ("CreationTimeAfter", job.created, True),
        ("CreationTimeBefore", job.created, False),
        ("LastModifiedTimeAfter", job.modified, True),
        ("LastModifiedTimeBefore", job.modified, False),
    )
    for key, moment, after in checks:
        bound = params.get(key)
        if bound is not None:
            bound = _aware(bound)
            if (after and not _aware(moment) > bound) or (not after and not _aware(moment) < bound):
                return False
    name_contains = params.get("NameContains")
    if name_contains and name_contains.lower() not in job.name.lower():
        return False
    status = params.get("StatusEquals")
    return not (status and job.status != status)


def _decode_token(token: str | None) -> int:
    offset = page_offset(token)
    if offset is None:
        raise validation_error("Invalid pagination token: NextToken was not returned by ListLabelingJobs")
    return offset
