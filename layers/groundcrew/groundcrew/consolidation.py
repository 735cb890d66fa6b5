"""Annotation consolidation: Ground Truth's batch of worker answers in, one label per object out.

Contract (docs/ground-truth-contracts.md section 5.2): the request points at a JSON array in S3; the response
holds one entry per object, with the label under `labelAttributeName`. Objects that cannot be labeled are
still returned, with the reason, so the output manifest keeps them and nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from groundcrew import image_classification
from groundcrew.consensus import Outcome, majority
from groundcrew.events import MAX_LISTED, AnnotationsConsolidated, ConsolidationFailure
from groundcrew.s3_locations import S3Location
from groundcrew.task_config import job_name_from_arn

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
            raise image_classification.AnswerError("annotationData.content must be a JSON string")
        return content
    uri = data.get("s3Uri") or data.get("s3uri")
    if isinstance(uri, str):
        location = S3Location.parse(uri)
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode()
    raise image_classification.AnswerError("annotationData has neither content nor s3Uri")


def _data_object_text(data_object: dict[str, Any]) -> str | None:
    value = data_object.get("s3Uri") or data_object.get("content")
    return value[:1000] if isinstance(value, str) else None


def consolidate(
    s3: S3Client, request: ConsolidationRequest, payload: list[Any], labels: tuple[str, ...]
) -> ConsolidationResult:
    attribute = request.labelAttributeName
    response: list[dict[str, Any]] = []
    failures: list[ConsolidationFailure] = []
    labeled = unresolved = rejected_total = 0
    for index, raw in enumerate(payload):
        try:
            item = DataObjectAnnotations.model_validate(raw)
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
        answers: list[dict[str, str]] = []
        rejected: list[dict[str, str]] = []
        seen_workers: set[str] = set()
        for annotation in item.annotations:
            if annotation.workerId in seen_workers:
                rejected.append({"worker_id": annotation.workerId, "reason": "second answer of the same worker"})
                continue
            try:
                content = _annotation_content(s3, annotation.annotationData)
                answer = image_classification.parse_answer(annotation.workerId, content, labels)
            except image_classification.AnswerError as error:
                rejected.append({"worker_id": annotation.workerId, "reason": str(error)})
                continue
            seen_workers.add(annotation.workerId)
            answers.append({"worker_id": answer.worker_id, "label": answer.label})
        vote = majority([a["label"] for a in answers])
        value: dict[str, Any] = {
            "label": vote.label,
            "class_id": labels.index(vote.label) if vote.label is not None else None,
            "status": vote.outcome.value,
            "confidence": vote.confidence,
            "agreement": vote.agreement,
            "votes": vote.votes,
            "answers": answers,
            "rejected_answers": rejected,
        }
        rejected_total += len(rejected)
        if vote.outcome is Outcome.CONSOLIDATED:
            labeled += 1
        else:
            unresolved += 1
            reason = (
                f"tie between {', '.join(k for k, v in vote.votes.items() if v == max(vote.votes.values()))}"
                if vote.outcome is Outcome.TIE
                else "no valid answer: " + ("; ".join(r["reason"] for r in rejected) or "no worker answered")
            )
            value["reason"] = reason
            failures.append(
                ConsolidationFailure(
                    dataset_object_id=item.datasetObjectId,
                    data_object=_data_object_text(item.dataObject),
                    reason=reason,
                )
            )
        response.append(
            {"datasetObjectId": item.datasetObjectId, "consolidatedAnnotation": {"content": {attribute: value}}}
        )
    summary = AnnotationsConsolidated(
        labeling_job_name=job_name_from_arn(request.labelingJobArn),
        objects=len(payload),
        labeled=labeled,
        unresolved=unresolved,
        rejected_answers=rejected_total,
        failures=failures[:MAX_LISTED],
    )
    return ConsolidationResult(response=response, summary=summary, failures=failures)
