"""Annotation consolidation: Ground Truth's batch of worker answers in, one label per object out.

Contract (docs/ground-truth-contracts.md section 5.2): the request points at a JSON array in S3; the response
holds one entry per object, with the label under `labelAttributeName`. Objects that cannot be labeled are
still returned, with the reason, so the output manifest keeps them and nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from groundcrew.consensus.decisions import ConsensusPolicy, WorkerPrior
from groundcrew.consensus.rounds import read_carried_answers
from groundcrew.core.answers import RejectedAnswer, WorkerAnswer
from groundcrew.core.errors import AnswerError
from groundcrew.core.events import MAX_LISTED, AnnotationsConsolidated, ConsolidationFailure
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.core.vocabulary import Workflow
from groundcrew.workflows.keypoints.poses import Rig, rig_from_dict
from groundcrew.workflows.registry import DEFAULT_WORKFLOW, for_workflow
from groundcrew.workforces.ground_truth.task_config import TaskConfigReader, job_name_from_arn, worker_priors_location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class PayloadLocation(BaseModel):
    s3Uri: str  # noqa: N815 - Ground Truth's field name


class ConsolidationRequest(BaseModel):
    """The event Ground Truth sends to the consolidation Lambda (unknown fields tolerated)."""

    model_config = ConfigDict(extra="allow")
    version: str | None = None
    labelingJobArn: str  # noqa: N815
    labelAttributeName: str  # noqa: N815
    labelCategories: list[str] | None = None  # noqa: N815 - absent or null for console-created jobs
    roleArn: str | None = None  # noqa: N815
    payload: PayloadLocation


class AnnotationData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    content: str | None = None
    s3Uri: str | None = Field(default=None, alias="s3Uri")  # noqa: N815


class WorkerAnnotation(BaseModel):
    model_config = ConfigDict(extra="allow")
    workerId: str  # noqa: N815
    annotationData: dict[str, Any]  # noqa: N815


class DataObjectAnnotations(BaseModel):
    model_config = ConfigDict(extra="allow")
    datasetObjectId: str  # noqa: N815
    dataObject: dict[str, Any]  # noqa: N815
    annotations: list[WorkerAnnotation]


@dataclass
class ConsolidationResult:
    response: list[dict[str, Any]]
    summary: AnnotationsConsolidated
    failures: list[ConsolidationFailure] = field(default_factory=list)


def read_payload(s3: S3Client, request: ConsolidationRequest) -> list[Any]:
    location = S3Location.parse(request.payload.s3Uri)
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    payload = orjson.loads(body)
    if not isinstance(payload, list):
        raise ValueError(f"consolidation payload {location.uri} must be a JSON array, found {type(payload).__name__}")
    return payload


def _annotation_content(s3: S3Client, data: dict[str, Any]) -> str | dict[str, Any]:
    """`content` inline, or a file at `s3Uri` (the docs' spelling) / `s3uri` (what AWS's recipe reads)."""
    if "content" in data:
        content = data["content"]
        if not isinstance(content, str | dict):
            raise AnswerError("annotationData.content must be a JSON string")
        return content
    uri = data.get("s3Uri") or data.get("s3uri")
    if isinstance(uri, str):
        location = S3Location.parse(uri)
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode()
    raise AnswerError("annotationData has neither content nor s3Uri")


def _data_object_text(data_object: dict[str, Any]) -> str | None:
    value = data_object.get("s3Uri") or data_object.get("content")
    return value[:1000] if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job's consolidation needs beyond Ground Truth's request (written by the Prepare step)."""

    labels: tuple[str, ...]
    policy: ConsensusPolicy
    round: int = 1
    carried: Mapping[str, Sequence[WorkerAnswer]] = field(default_factory=dict)  # item -> earlier answers
    priors: Mapping[str, WorkerPrior] = field(default_factory=dict)
    workflow: Workflow = DEFAULT_WORKFLOW
    rig: Rig | None = None  # keypoints


def _item_key(data_object: dict[str, Any]) -> str | None:
    """The same identity the rounds use: the object's S3 URI, or its inline text."""
    value = data_object.get("s3Uri", data_object.get("content"))
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class PayloadItem:
    """One payload object: its answers (earlier rounds' first), the rejected ones, and this round's answers as the
    workflow parsed them (labels, poses) for its consolidation."""

    entry: DataObjectAnnotations
    key: str
    answers: list[WorkerAnswer]
    rejected: list[RejectedAnswer]
    parsed: list[Any] = field(default_factory=list)


def consolidate(
    s3: S3Client, request: ConsolidationRequest, payload: list[Any], context: JobContext
) -> ConsolidationResult:
    """Label every object of one call; the decision runs over all of them at once (weighted methods need that).

    In a follow-up round an object's earlier answers are carried in, so each round's output line holds every
    answer so far; the batch-wide decision of the Finalize step is the one that counts.
    """
    failures: list[ConsolidationFailure] = []
    items = _parse_payload(s3, payload, context, failures)
    response, labeled = for_workflow(context.workflow).label_items(items, context, request.labelAttributeName, failures)
    summary = AnnotationsConsolidated(
        labeling_job_name=job_name_from_arn(request.labelingJobArn),
        objects=len(payload),
        labeled=labeled,
        unresolved=len(items) - labeled,
        rejected_answers=sum(len(item.rejected) for item in items),
        failures=failures[:MAX_LISTED],
    )
    return ConsolidationResult(response=response, summary=summary, failures=failures)


def _parse_payload(
    s3: S3Client, payload: list[Any], context: JobContext, failures: list[ConsolidationFailure]
) -> list[PayloadItem]:
    """Every well-formed object with its usable answers; the rest become failures or rejected answers, with why."""
    plugin = for_workflow(context.workflow)
    items: list[PayloadItem] = []
    for index, raw in enumerate(payload):
        try:
            entry = DataObjectAnnotations.model_validate(raw)
        except ValidationError as error:
            known_id = raw.get("datasetObjectId") if isinstance(raw, dict) else None
            object_id = str(known_id) if known_id is not None else f"#{index}"
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            failures.append(
                ConsolidationFailure(
                    dataset_object_id=object_id,
                    data_object=None,
                    reason=f"malformed payload entry: {f'{where}: ' if where else ''}{first['msg']}",
                )
            )
            continue
        key = _item_key(entry.dataObject) or f"dataset-object-{entry.datasetObjectId}"
        earlier = [WorkerAnswer(**a) for a in context.carried.get(key, ())]
        answered_before = {str(a.get("worker_id")): int(a.get("round", 0)) for a in earlier}
        item = PayloadItem(entry, key, earlier, [])
        seen_workers: set[str] = set()
        for annotation in entry.annotations:
            worker = annotation.workerId
            if worker in seen_workers:
                item.rejected.append(
                    {"worker_id": worker, "reason": "second answer of the same worker", "round": context.round}
                )
                continue
            if worker in answered_before:
                reason = f"the worker already answered this item in round {answered_before[worker]}"
                item.rejected.append({"worker_id": worker, "reason": reason, "round": context.round})
                continue
            try:
                content = _annotation_content(s3, annotation.annotationData)
                answer, parsed = plugin.read_answer(worker, content, context)
            except AnswerError as error:
                item.rejected.append({"worker_id": worker, "reason": str(error), "round": context.round})
                continue
            seen_workers.add(worker)
            item.parsed.append(parsed)
            item.answers.append({**answer, "round": context.round})
        items.append(item)
    return items


def no_answer_reason(item: PayloadItem) -> str:
    return "no valid answer: " + ("; ".join(str(r["reason"]) for r in item.rejected) or "no worker answered")


def failure(item: PayloadItem, reason: str) -> ConsolidationFailure:
    return ConsolidationFailure(
        dataset_object_id=item.entry.datasetObjectId,
        data_object=_data_object_text(item.entry.dataObject),
        reason=reason,
    )


def response_entry(item: PayloadItem, attribute: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"datasetObjectId": item.entry.datasetObjectId, "consolidatedAnnotation": {"content": {attribute: value}}}


class JobContextReader:
    """A job's labels, policy, carried answers and worker priors, read once per container and job."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._configs = TaskConfigReader(s3, bucket)
        self._bucket = bucket
        self.read = lru_cache(maxsize=8)(self._read)

    def _read(self, job_name: str) -> JobContext:
        config = self._configs.read(job_name)
        carried = read_carried_answers(self._s3, config.carried_answers_uri) if config.carried_answers_uri else {}
        return JobContext(
            labels=config.labels,
            policy=config.consensus,
            round=config.round,
            carried=carried,
            priors=read_worker_priors(self._s3, self._bucket, job_name),
            workflow=config.workflow,
            rig=rig_from_dict(config.rig) if config.rig is not None else None,
        )


def write_worker_priors(s3: S3Client, bucket: str, job_name: str, priors: Mapping[str, WorkerPrior]) -> None:
    location = worker_priors_location(bucket, job_name)
    body = orjson.dumps({p.worker_id: {"accuracy": p.accuracy, "evidence": p.evidence} for p in priors.values()})
    put_object(s3, location, body)


def read_worker_priors(s3: S3Client, bucket: str, job_name: str) -> dict[str, WorkerPrior]:
    location = worker_priors_location(bucket, job_name)
    try:
        raw: Any = orjson.loads(s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return {}  # a job prepared before worker history existed, or with no history yet
    return {
        worker: WorkerPrior(worker, float(value["accuracy"]), int(value["evidence"])) for worker, value in raw.items()
    }
