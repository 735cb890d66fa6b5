"""A round run by a workforce of our own driving (Mechanical Turk HITs, Label Studio tasks), written as Ground
Truth writes a custom job's output (contracts 7): one worker-response file per answered item, the consolidation
through the same code as our consolidation Lambda, and the output manifest. Collect, Decide and Finalize then run
unchanged, whoever labeled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from groundcrew.consensus import rounds
from groundcrew.core import manifests
from groundcrew.core.events import (
    MAX_LISTED,
    AnnotationsConsolidated,
    ConsolidationFailure,
    EventPublisher,
    LabelCounters,
    LabelingJobProgress,
)
from groundcrew.core.records import BatchRef, PreparedJob
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.workforces.ground_truth import consolidation
from groundcrew.workforces.ground_truth.task_config import job_folder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class TrackedItem(Protocol):
    """An item of a round a workforce of ours tracks: whether it is done, and the answers it has."""

    @property
    def done(self) -> bool: ...

    @property
    def answers(self) -> Sequence[Any]: ...


def poll_result(
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    items: Sequence[TrackedItem],
    previous: dict[str, Any] | None,
    finish: Callable[[], tuple[S3Location, int]],
) -> dict[str, Any]:
    """What a poll answers, in Track's shape: InProgress (with a progress event when the counters moved), or
    Completed once every item is done, after `finish()` wrote the output (its location, how many it labeled)."""
    counters = _counters(items)
    status = "Completed" if all(item.done for item in items) else "InProgress"
    if status != "Completed" and (previous or {}).get("counters") != counters.model_dump():
        publisher.publish(
            LabelingJobProgress(
                project=batch.project,
                batch_id=batch.batch_id,
                labeling_job_name=job.name,
                status=status,
                label_counters=counters,
            )
        )
    output: str | None = None
    if status == "Completed":
        location, labeled = finish()
        output = location.uri
        counters = LabelCounters(
            TotalLabeled=labeled, HumanLabeled=labeled, FailedNonRetryableError=len(items) - labeled
        )
    return {"status": status, "counters": counters.model_dump(), "failure_reason": None, "output_manifest_uri": output}


def _counters(items: Sequence[TrackedItem]) -> LabelCounters:
    labeled = sum(1 for item in items if item.done and item.answers)
    failed = sum(1 for item in items if item.done and not item.answers)
    return LabelCounters(
        TotalLabeled=labeled,
        HumanLabeled=labeled,
        FailedNonRetryableError=failed,
        Unlabeled=len(items) - labeled - failed,
    )


@dataclass(frozen=True, slots=True)
class RoundItem:
    """One item of the round. Each answer has `worker`, `content` (the page's submission as JSON text),
    `accepted` and `submitted` (ISO times) and `seconds`; `problem` says why the item got fewer answers than
    wanted (or none), `rejected` how many answers were refused before consolidation (counted when no item of the
    round has an answer; otherwise the consolidation counts its own)."""

    id: str  # datasetObjectId: the line's index in the round manifest
    line: dict[str, Any]
    answers: Sequence[dict[str, Any]]
    rejected: int = 0
    problem: str | None = None


def write_round_output(
    s3: S3Client,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    items: Sequence[RoundItem],
    moment: datetime,
    *,
    source: str,
) -> tuple[S3Location, int]:
    """The round's output (`source` names the workforce in the consolidation files) and how many items it
    labeled. Items without a label keep their line unchanged, as Ground Truth's failed ones."""
    folder = job_folder(batch.bucket, job.name)
    answered = [item for item in items if item.answers]
    _write_worker_responses(s3, folder, answered)
    # Items that could not be posted or got fewer answers are reported, those with some answers included.
    failures = [
        ConsolidationFailure(dataset_object_id=item.id, data_object=rounds.item_key(item.line), reason=item.problem)
        for item in items
        if item.problem is not None
    ]
    labels: dict[str, Any] = {}
    if answered:
        labels = _consolidate(s3, publisher, batch, job, answered, failures, source)
    elif failures:
        publisher.publish(
            AnnotationsConsolidated(
                labeling_job_name=job.name,
                objects=len(items),
                labeled=0,
                unresolved=0,
                rejected_answers=sum(item.rejected for item in items),
                failures=failures[:MAX_LISTED],
            )
        )
    location = folder.child("manifests", "output", "output.manifest")
    manifests.write_manifest(s3, location, _output_lines(job, items, labels, moment))
    return location, len(labels)


def write_answered_output(
    s3: S3Client,
    batch: BatchRef,
    job: PreparedJob,
    items: Sequence[RoundItem],
    moment: datetime,
    label: Callable[[RoundItem, dict[str, Any]], dict[str, Any]],
) -> tuple[S3Location, int]:
    """A round of a built-in task type (one answer per item is its label): the worker responses and the output
    manifest, each answered item's line with what `label(item, metadata)` gives, the rest unchanged."""
    folder = job_folder(batch.bucket, job.name)
    answered = [item for item in items if item.answers]
    _write_worker_responses(s3, folder, answered)
    creation_date = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    metadata = {"job-name": job.name.lower(), "creation-date": creation_date}
    labeled = 0

    def lines() -> Iterator[dict[str, Any]]:
        nonlocal labeled
        for item in items:
            if item.answers:
                labeled += 1
                yield {**item.line, **label(item, metadata)}
            else:
                yield item.line

    location = folder.child("manifests", "output", "output.manifest")
    manifests.write_manifest(s3, location, lines())
    return location, labeled


def _write_worker_responses(s3: S3Client, folder: S3Location, answered: list[RoundItem]) -> None:
    for item in answered:
        document = {"answers": [_worker_response(answer) for answer in item.answers]}
        stamp = max(answer["submitted"] for answer in item.answers)[:19].replace("T", "_")
        put_object(
            s3,
            folder.child("annotations", "worker-response", "iteration-1", item.id, f"{stamp}.json"),
            orjson.dumps(document),
        )


def _consolidate(
    s3: S3Client,
    publisher: EventPublisher,
    batch: BatchRef,
    job: PreparedJob,
    answered: list[RoundItem],
    failures: list[ConsolidationFailure],
    source: str,
) -> dict[str, Any]:
    """The answered items through the same consolidation as a Ground Truth job's: each item's label value."""
    folder = job_folder(batch.bucket, job.name).child("annotations", "consolidated-annotation")
    attribute = job.label_attribute_name
    payload = [
        {
            "datasetObjectId": item.id,
            "dataObject": {"s3Uri": item.line["source-ref"]}
            if "source-ref" in item.line
            else {"content": item.line.get("source")},
            "annotations": [
                {"workerId": answer["worker"], "annotationData": {"content": answer["content"]}}
                for answer in item.answers
            ],
        }
        for item in answered
    ]
    request_location = folder.child("consolidation-request", f"{source}.json")
    put_object(s3, request_location, orjson.dumps(payload))
    request = consolidation.ConsolidationRequest(
        labelingJobArn=f"{source}/{job.name}",
        labelAttributeName=attribute,
        payload=consolidation.PayloadLocation(s3Uri=request_location.uri),
    )
    context = consolidation.JobContextReader(s3, batch.bucket).read(job.name)
    result = consolidation.consolidate(s3, request, payload, context)
    put_object(s3, folder.child("consolidation-response", f"{source}.json"), orjson.dumps(result.response))
    labels: dict[str, Any] = {}
    for entry in result.response:
        content = entry.get("consolidatedAnnotation", {}).get("content") or {}
        if attribute in content:
            labels[str(entry["datasetObjectId"])] = content[attribute]
    summary = result.summary.model_copy(update={"failures": [*result.summary.failures, *failures][:MAX_LISTED]})
    publisher.publish(summary)
    return labels


def _output_lines(
    job: PreparedJob, items: Sequence[RoundItem], labels: dict[str, Any], moment: datetime
) -> Iterator[dict[str, Any]]:
    attribute = job.label_attribute_name
    creation_date = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    metadata = {"type": "groundtruth/custom", "job-name": job.name.lower(), "human-annotated": "yes"}
    for item in items:
        if item.id in labels:
            yield {
                **item.line,
                attribute: labels[item.id],
                f"{attribute}-metadata": {**metadata, "creation-date": creation_date},
            }
        else:
            yield item.line


def _worker_response(answer: dict[str, Any]) -> dict[str, Any]:
    """One `answers` entry of a worker-response file (contracts 7.2), as a public worker's (no workerMetadata)."""
    return {
        "acceptanceTime": answer["accepted"],
        "answerContent": orjson.loads(answer["content"]),
        "submissionTime": answer["submitted"],
        "timeSpentInSeconds": answer["seconds"],
        "workerId": answer["worker"],
    }
