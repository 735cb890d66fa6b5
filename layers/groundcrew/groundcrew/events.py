"""The events groundcrew puts on its EventBridge bus: one model per detail-type, and the publisher.

Every event has source `groundcrew`. The JSON Schemas in docs/events/ are generated from these models
(`python -m groundcrew_local.schemas`), and tests validate every emitted event against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

EVENT_SOURCE = "groundcrew"
MAX_LISTED = 50  # lists inside an event are capped so an event stays far below EventBridge's 256 KB limit


class EventDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    DETAIL_TYPE: ClassVar[str]


class RejectedField(BaseModel):
    field: str
    message: str


class InputRejected(EventDetail):
    """An object or project document that will not be labeled, and why."""

    DETAIL_TYPE: ClassVar[str] = "Input Rejected"
    project: str | None = Field(description="Project the object was dropped for, when its key names one")
    bucket: str
    key: str = Field(description="Object key, URL-decoded")
    rule: str = Field(description="Identifier of the rule the object broke, e.g. 'not-an-image'")
    message: str = Field(description="What is wrong and how to fix it")
    errors: list[RejectedField] = Field(default_factory=list, description="Field errors of a project document")


class ObjectsReceived(EventDetail):
    """Objects recorded in a project's open batch by one intake invocation."""

    DETAIL_TYPE: ClassVar[str] = "Objects Received"
    project: str
    batch_id: str
    received: int = Field(ge=0, description="Objects added to the batch")
    duplicates: int = Field(ge=0, description="Deliveries of objects already recorded (ignored)")
    batch_item_count: int = Field(ge=0, description="Objects in the batch after this invocation")


class BatchSealed(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Batch Sealed"
    project: str
    batch_id: str
    reason: str = Field(description="'full', 'marker' or 'max-age'")
    item_count: int = Field(ge=1)
    manifest_uri: str = Field(description="Input manifest written for the batch (JSON Lines)")
    execution_name: str


class PreflightFinding(BaseModel):
    line: int | None = Field(description="1-based manifest line, or null for the whole manifest")
    rule: str
    message: str


class LabelingJobStarted(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Labeling Job Started"
    project: str
    batch_id: str
    labeling_job_name: str
    labeling_job_arn: str
    item_count: int
    workers_per_object: int


class LabelCounters(BaseModel):
    TotalLabeled: int = 0
    HumanLabeled: int = 0
    MachineLabeled: int = 0
    FailedNonRetryableError: int = 0
    Unlabeled: int = 0


class LabelingJobProgress(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Labeling Job Progress"
    project: str
    batch_id: str
    labeling_job_name: str
    status: str
    label_counters: LabelCounters


class ConsolidationFailure(BaseModel):
    dataset_object_id: str
    data_object: str | None = Field(description="S3 URI or text of the object")
    reason: str


class AnnotationsConsolidated(EventDetail):
    """One call of the consolidation Lambda by Ground Truth."""

    DETAIL_TYPE: ClassVar[str] = "Annotations Consolidated"
    labeling_job_name: str
    objects: int
    labeled: int = Field(description="Objects with a consensus label")
    unresolved: int = Field(description="Objects returned without a label (tie or no valid answer)")
    rejected_answers: int = Field(description="Worker answers that were malformed or named an unknown label")
    failures: list[ConsolidationFailure] = Field(default_factory=list, description=f"At most {MAX_LISTED}")


class JobStatistics(BaseModel):
    items: int
    labeled: int
    unresolved: int
    failed: int = Field(description="Items Ground Truth could not label (no line result)")
    mean_agreement: float | None = Field(description="Mean share of workers agreeing with the label")
    unanimous: int
    answers: int
    mean_seconds_per_item: float | None = Field(description="Mean worker time per item, all workers summed")
    workers: int


class LabelingJobCompleted(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Labeling Job Completed"
    project: str
    batch_id: str
    labeling_job_name: str
    output_manifest_uri: str
    statistics: JobStatistics


class LabelingJobFailed(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Labeling Job Failed"
    project: str
    batch_id: str
    stage: str = Field(description="State that failed: Preflight, Prepare, Launch, Track, Collect or Publish")
    labeling_job_name: str | None = None
    error: str = Field(description="Error type")
    reason: str = Field(description="What went wrong, as specific as the source allows")
    findings: list[PreflightFinding] = Field(
        default_factory=list, description=f"Preflight findings, at most {MAX_LISTED}"
    )


EVENT_MODELS: tuple[type[EventDetail], ...] = (
    InputRejected,
    ObjectsReceived,
    BatchSealed,
    LabelingJobStarted,
    LabelingJobProgress,
    AnnotationsConsolidated,
    LabelingJobCompleted,
    LabelingJobFailed,
)
MODELS_BY_DETAIL_TYPE = {model.DETAIL_TYPE: model for model in EVENT_MODELS}


class EventPublishError(RuntimeError):
    """EventBridge accepted the call but refused some entries (FailedEntryCount > 0)."""


def detail_from_dict(detail_type: str, detail: dict[str, Any]) -> EventDetail:
    """Validate a detail given as plain data (e.g. from a state machine) against its detail-type's model."""
    try:
        model = MODELS_BY_DETAIL_TYPE[detail_type]
    except KeyError:
        raise ValueError(f"unknown detail-type {detail_type!r}; known: {sorted(MODELS_BY_DETAIL_TYPE)}") from None
    return model.model_validate(detail)


class EventPublisher:
    """Puts groundcrew events on the bus, ten per call, and fails loudly on refused entries."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, *details: EventDetail, resources: Sequence[str] = ()) -> None:
        self.publish_all(details, resources=resources)

    def publish_all(self, details: Iterable[EventDetail], *, resources: Sequence[str] = ()) -> None:
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail.DETAIL_TYPE,
                "Detail": orjson.dumps(detail.model_dump(mode="json")).decode(),
                "EventBusName": self._bus_name,
                "Resources": list(resources),
            }
            for detail in details
        ]
        for start in range(0, len(entries), 10):
            chunk = entries[start : start + 10]
            response = self._client.put_events(Entries=chunk)  # type: ignore[arg-type]
            if response.get("FailedEntryCount", 0):
                refused = [
                    f"{entry['DetailType']}: {result.get('ErrorCode')} {result.get('ErrorMessage')}"
                    for entry, result in zip(chunk, response["Entries"], strict=False)
                    if result.get("ErrorCode")
                ]
                raise EventPublishError(f"EventBridge refused {response['FailedEntryCount']} event(s): {refused}")
