"""The events groundcrew puts on its EventBridge bus: one model per detail-type, and the publisher.

Every event has source `groundcrew`. The JSON Schemas in docs/events/ are generated from these models
(`python -m groundcrew_local.schemas`), and tests validate every emitted event against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
    labeling_job_arn: str = Field(
        description="The Ground Truth job's ARN; for Mechanical Turk, the HIT type id; for Label Studio, the "
        "round's project URL"
    )
    item_count: int
    workers_per_object: int
    round: int = 1
    workforce: str = Field(default="groundtruth", description="groundtruth, mturk or labelstudio")
    estimated_cost_usd: float | None = Field(
        default=None, description="Mechanical Turk: rewards plus fees of this round's assignments, before any work"
    )
    preview_url: str | None = Field(
        default=None, description="Mechanical Turk: where to preview the HITs; Label Studio: the round's task list"
    )
    gold_items: int = 0
    gold_missing: list[str] = Field(
        default_factory=list,
        description=f"Gold objects the project names that do not exist (left out; upload them), at most {MAX_LISTED}",
    )


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
    ties: int = 0
    rounds: int = 1


class RoundSummary(BaseModel):
    round: int = Field(ge=1)
    labeling_job_name: str
    status: str = Field(description="The job's final status (Completed, Failed, Stopped) or the stage that failed")
    items: int = Field(description="Batch items in the round")
    gold_items: int = Field(description="Gold items mixed in")
    answers_bought: int = Field(description="Answers paid for in the round, gold included")
    spend_usd: float | None = Field(description="answers_bought x price_per_task_usd; null without a price")
    resolved: int = Field(description="Batch items whose stop rule holds after this round")
    failure_reason: str | None = None
    worker_seconds: float | None = Field(default=None, description="Worker time spent in the round, all workers")


class LabelingRoundCompleted(EventDetail):
    """One round of a batch is merged; more rounds follow when items still need answers."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Round Completed"
    project: str
    batch_id: str
    summary: RoundSummary
    unresolved: int = Field(description="Batch items still without a consensus label")
    next_round_items: int = Field(description="Items sent to the next round (0 = no more rounds)")
    next_round_workers_per_object: int | None


class UnresolvedItem(BaseModel):
    item: str = Field(description="source-ref (or text) of the item")
    status: str = Field(description="tie, unresolved or no-valid-answers")
    reason: str
    votes: dict[str, int]


class WorkerQuality(BaseModel):
    worker_id: str
    answers: int = Field(description="Answers in this batch (gold excluded)")
    agreement: float | None = Field(description="Share of this batch's answers that matched the consensus label")
    gold_answers: int
    gold_accuracy: float | None = Field(description="Share of this batch's gold answers that were right")
    estimated_accuracy: float | None = Field(description="Dawid-Skene estimate in this batch (weighted method)")
    history_accuracy: float | None = Field(description="Across all batches of the project, this one included")
    history_answers: int
    flagged: bool = Field(description="Below the project's quality.flag_below with enough evidence")


class Cost(BaseModel):
    price_per_task_usd: float | None
    answers_bought: int = Field(description="Every answer paid for, all rounds, gold included")
    gold_answers_bought: int
    answers_per_item: float = Field(description="Answers paid for per batch item (gold excluded)")
    spend_usd: float | None
    fees_usd: float | None = Field(
        default=None, description="Mechanical Turk's fees on the rewards paid (mturk); spend_usd excludes them"
    )
    fee_rule: str | None = Field(default=None, description="The fee rule applied, with its source")


class ConsensusReport(BaseModel):
    policy: str
    method: str
    rounds: list[RoundSummary]
    ties: int
    unresolved_items: list[UnresolvedItem] = Field(default_factory=list, description=f"At most {MAX_LISTED}")


class ExportedFiles(BaseModel):
    files: dict[str, str] = Field(description="File name -> S3 URI")
    train: int
    test: int
    excluded: int


class KeypointFinding(BaseModel):
    rule: str = Field(description="left-right-swap, outside-image, missing-required, same-spot or limb-ratio")
    keypoints: list[str]
    message: str
    severity: str = Field(description="error (the pose is wrong as it stands) or warning (worth a look)")


class KeypointIssue(BaseModel):
    item: str = Field(description="source-ref of the image")
    findings: list[KeypointFinding]
    disputed: list[str] = Field(description="Keypoints the workers placed far apart")
    sent_back: bool = Field(description="The image goes to an adjustment round, this pose as its start")


class KeypointQualityIssues(EventDetail):
    """The automatic checks flagged poses of a round."""

    DETAIL_TYPE: ClassVar[str] = "Keypoint Quality Issues"
    project: str
    batch_id: str
    round: int
    flagged: int = Field(description="Images of the round whose pose was flagged")
    sent_back: int = Field(description="... of which go to an adjustment round")
    items: list[KeypointIssue] = Field(description=f"At most {MAX_LISTED}")


class SecondsSummary(BaseModel):
    count: int
    mean: float | None
    median: float | None
    p90: float | None


class SecondsPerImage(BaseModel):
    overall: SecondsSummary
    workers: dict[str, SecondsSummary] = Field(description=f"By worker id, at most {MAX_LISTED}")


class ImportRefusal(BaseModel):
    image: str | None = Field(description="The image the refused part belongs to, when known")
    item: str = Field(description="What was refused: a shape, a box, a file or the image itself")
    rule: str = Field(description="e.g. unknown-category, polygon-too-few-points, image-missing, size-mismatch")
    message: str


class AnnotationsImported(EventDetail):
    """Another tool's annotations became masks or boxes, or an earlier point cloud job's output manifest was
    checked, and adjustment (or verification) batches were started for them."""

    DETAIL_TYPE: ClassVar[str] = "Annotations Imported"
    project: str
    import_id: str
    source: str = Field(description="The annotation file, or the folder whose seal marker started the import")
    format: str = Field(description="coco, labelme, cvat, label-studio, voc, yolo or ground-truth-output (audits)")
    images: int = Field(description="Images converted, or point cloud frames or sequences kept (one line each)")
    shapes: int = Field(description="Shapes or boxes converted; cuboids to audit (0 for tracking and segmentation)")
    refused: int = Field(description="Shapes, boxes, files or images refused")
    refusals: list[ImportRefusal] = Field(description=f"The first {MAX_LISTED} refusals; all are in the summary")
    manifest_uri: str
    summary_uri: str
    batch_ids: list[str] = Field(description="Labeling batches started (one per batch.max_items lines)")


class ImportFailed(EventDetail):
    """An import stopped before starting any batch (published by the import state machine itself)."""

    DETAIL_TYPE: ClassVar[str] = "Import Failed"
    project: str
    import_id: str
    source_key: str = Field(description="The annotation file, or the folder whose seal marker started the import")
    error: str = Field(description="Error type, e.g. ImportNotPossible or States.ExceedToleratedFailureThreshold")
    cause: str = Field(description="What went wrong (a Lambda error arrives as JSON with errorMessage)")


class AdjustmentReport(BaseModel):
    adjusted: int = Field(description="Items at least one worker changed")
    unadjusted: int = Field(description="Items the workers accepted as imported")
    not_labeled: int = Field(description="Items Ground Truth returned without a label (their input line is kept)")
    trial_items: int = Field(description="Items of the trial job (0: no trial)")
    coco_problems: list[str] = Field(
        default_factory=list, description=f"Output lines the COCO export could not convert, at most {MAX_LISTED}"
    )


class TrialFinding(BaseModel):
    item: str = Field(description="source-ref of the item")
    rule: str = Field(description="e.g. trial-item-unlabeled, trial-mask-lost, trial-mask-size, trial-boxes-lost")
    message: str


class TrialBatchChecked(EventDetail):
    """The trial job of an adjustment batch is checked; the rest of the batch runs only if it passed."""

    DETAIL_TYPE: ClassVar[str] = "Trial Batch Checked"
    project: str
    batch_id: str
    labeling_job_name: str
    items: int = Field(description="Items in the trial job")
    passed: bool
    findings: list[TrialFinding] = Field(description=f"What failed, at most {MAX_LISTED}")
    rest_items: int = Field(description="Items sent to the full job (0 when the trial failed)")


class FrameRefusal(BaseModel):
    scene: str = Field(description="Scene folder under incoming/<project>/ ('' for frames directly in it)")
    item: str = Field(description="The frame, sequence or sidecar refused")
    rule: str = Field(description="e.g. truncated-binary, pcd-header-mismatch, no-scene-document, repeated-timestamp")
    message: str


class PointCloudsPrepared(EventDetail):
    """A point cloud batch's raw frames became Ground Truth frames: converted, described, refused where broken."""

    DETAIL_TYPE: ClassVar[str] = "Point Clouds Prepared"
    project: str
    batch_id: str
    frames: int = Field(description="Frames converted and labeled (in frame lines or sequence files)")
    sequences: int = Field(description="Sequence files written (object tracking only)")
    points: int = Field(description="Points in the converted frames")
    dropped_points: int = Field(description="NaN or infinite points dropped during conversion")
    refused: int = Field(description="Frames or scenes refused")
    refusals: list[FrameRefusal] = Field(description=f"The first {MAX_LISTED} refusals")
    warnings: list[str] = Field(default_factory=list, description=f"At most {MAX_LISTED}, e.g. frames over 500K points")
    manifest_uri: str = Field(description="The job's input manifest: frame lines or sequence-file lines")


class PointCloudReport(BaseModel):
    task: str = Field(description="detection, tracking or segmentation")
    audit: str | None = Field(default=None, description="adjustment or verification, for audits of earlier labels")
    frames: int = Field(description="Frames labeled")
    objects: int = Field(description="Cuboids (detection, tracking) over all frames")
    tracks: int = Field(default=0, description="Distinct object ids (tracking)")
    labeled_points: dict[str, int] = Field(default_factory=dict, description="Segmentation: points per class")
    not_labeled: int = Field(description="Frames or sequences Ground Truth returned without a label")
    exports: dict[str, str] = Field(description="Export name (kitti, tracks, segmentation) -> S3 prefix")
    problems: list[str] = Field(
        default_factory=list, description=f"Output the exports could not use, at most {MAX_LISTED}"
    )


class LabelingJobCompleted(EventDetail):
    """A batch is labeled: every round merged into one output manifest."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Job Completed"
    project: str
    batch_id: str
    labeling_job_name: str = Field(description="The last round's job")
    labeling_job_names: list[str] = Field(description="Every round's job, in order")
    output_manifest_uri: str = Field(description="The merged output manifest: one line per batch item")
    statistics: JobStatistics
    consensus: ConsensusReport
    cost: Cost
    workers: list[WorkerQuality] = Field(description=f"Flagged workers first, at most {MAX_LISTED}")
    flagged_workers: int
    worker_report_uri: str | None = Field(
        default=None, description="JSON with every worker (and Dawid-Skene confusion matrices when weighted)"
    )
    export: ExportedFiles | None = None
    seconds_per_image: SecondsPerImage | None = Field(
        default=None, description="Keypoints: one worker's time on one image (mean, median, p90), overall and each"
    )
    report_uri: str | None = Field(default=None, description="Keypoints: HTML report of the flagged poses")
    coco_uri: str | None = Field(
        default=None, description="Keypoints: the poses as COCO keypoints; adjustments: the labels as COCO"
    )
    adjustment: AdjustmentReport | None = Field(default=None, description="Adjustment workflows only")
    pointcloud: PointCloudReport | None = Field(default=None, description="3D point cloud workflows only")


class TrainingDataExported(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Training Data Exported"
    project: str
    batch_id: str
    files: dict[str, str] = Field(description="File name (train.jsonl, test.csv, ...) -> S3 URI")
    train: int
    test: int
    excluded: int = Field(description="Items not exported (no consensus label)")
    excluded_reasons: dict[str, int]
    classes: dict[str, dict[str, int]] = Field(description="label -> {train: n, test: m}")


class LabelingJobFailed(EventDetail):
    DETAIL_TYPE: ClassVar[str] = "Labeling Job Failed"
    project: str
    batch_id: str
    stage: str = Field(
        description="State that failed: Preflight, Prepare, Launch, Track, Collect, Decide, Finalize or Publish"
    )
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
    LabelingRoundCompleted,
    KeypointQualityIssues,
    AnnotationsImported,
    ImportFailed,
    TrialBatchChecked,
    PointCloudsPrepared,
    LabelingJobCompleted,
    TrainingDataExported,
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


class OncePerBatch(EventPublisher):
    """Puts events on the bus like EventPublisher, but a batch's outcome events (`once`) at most once, whatever
    runs the step again (an execution started again with the same input, a retried Lambda): `claim(batch_id,
    detail_type)` records the announcement conditionally and says whether this call is the first."""

    def __init__(
        self, client: EventBridgeClient, bus_name: str, claim: Callable[[str, str], bool], once: frozenset[str]
    ) -> None:
        super().__init__(client, bus_name)
        self._claim = claim
        self._once = once

    def publish_all(self, details: Iterable[EventDetail], *, resources: Sequence[str] = ()) -> None:
        kept = [detail for detail in details if self._first(detail)]
        if kept:
            super().publish_all(kept, resources=resources)

    def _first(self, detail: EventDetail) -> bool:
        batch_id = getattr(detail, "batch_id", None)
        if detail.DETAIL_TYPE not in self._once or not isinstance(batch_id, str):
            return True
        return self._claim(batch_id, detail.DETAIL_TYPE)


# What a batch announces once: its completion and its training export.
ANNOUNCED_ONCE = frozenset({"Labeling Job Completed", "Training Data Exported"})
