"""Reading a finished job's output: the output manifest and the workers' responses, into statistics."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.core.events import JobStatistics
from groundcrew.core.manifests import ManifestLine
from groundcrew.core.s3_locations import S3Location
from groundcrew.workforces.ground_truth.task_config import job_folder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READ_WORKERS = 16


@dataclass
class _Totals:
    items: int = 0
    labeled: int = 0
    unresolved: int = 0
    failed: int = 0
    unanimous: int = 0
    answers: int = 0
    agreement_sum: float = 0.0
    agreement_count: int = 0
    workers: set[str] = field(default_factory=set)


def summarize_output(lines: Iterable[ManifestLine], label_attribute: str) -> _Totals:
    totals = _Totals()
    for line in lines:
        totals.items += 1
        value = line.data.get(label_attribute)
        if not isinstance(value, dict):
            totals.failed += 1
            continue
        answers = value.get("answers") or []
        totals.answers += len(answers)
        totals.workers.update(a.get("worker_id", "") for a in answers if isinstance(a, dict))
        if value.get("status") == "consolidated":
            totals.labeled += 1
            confidence = value.get("confidence")
            if isinstance(confidence, int | float):
                totals.agreement_sum += float(confidence)
                totals.agreement_count += 1
            if len(value.get("votes") or {}) == 1:
                totals.unanimous += 1
        else:
            totals.unresolved += 1
    return totals


def built_in_label_metadata(data: dict[str, Any], label_attribute: str) -> dict[str, Any] | None:
    """A built-in output line's label metadata when the line was labeled (it carries label and metadata)."""
    metadata = data.get(f"{label_attribute}-metadata")
    if label_attribute in data and isinstance(metadata, dict) and "failure-reason" not in metadata:
        return metadata
    return None


def summarize_built_in_output(lines: Iterable[ManifestLine], label_attribute: str) -> _Totals:
    """Ground Truth's built-in outputs, counted labeled or failed."""
    totals = _Totals()
    for line in lines:
        totals.items += 1
        if built_in_label_metadata(line.data, label_attribute) is not None:
            totals.labeled += 1
        else:
            totals.failed += 1
    return totals


def worker_seconds_per_item(s3: S3Client, bucket: str, job_name: str) -> float | None:
    """Mean over items of the time all workers spent on them, from the worker-response files."""
    prefix = job_folder(bucket, job_name).child("annotations", "worker-response").key + "/"
    keys = list(_list_keys(s3, bucket, prefix))
    if not keys:
        return None

    def item_seconds(key: str) -> tuple[str, float]:
        item_id = key[len(prefix) :].split("/")[1]  # iteration-N/<datasetObjectId>/<timestamp>.json
        document: Any = orjson.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        spent = sum(float(a.get("timeSpentInSeconds") or 0.0) for a in document.get("answers", []))
        return item_id, spent

    per_item: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        for item_id, seconds in pool.map(item_seconds, keys):
            per_item[item_id] = per_item.get(item_id, 0.0) + seconds
    return round(sum(per_item.values()) / len(per_item), 2)


def _list_keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                yield item["Key"]


def statistics(totals: _Totals, seconds_per_item: float | None) -> JobStatistics:
    return JobStatistics(
        items=totals.items,
        labeled=totals.labeled,
        unresolved=totals.unresolved,
        failed=totals.failed,
        mean_agreement=round(totals.agreement_sum / totals.agreement_count, 4) if totals.agreement_count else None,
        unanimous=totals.unanimous,
        answers=totals.answers,
        mean_seconds_per_item=seconds_per_item,
        workers=len(totals.workers - {""}),
    )


def output_location(uri: str) -> S3Location:
    return S3Location.parse(uri)
