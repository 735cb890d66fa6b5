"""A labeling job as the stand-in keeps it: the request, its status, and what became of each data object.

Jobs live on moto's SageMaker backend (`labeling_jobs(backend)`, keyed by lower-case name), so a `mock_aws` reset
clears them. `JobFailure` ends a job with status Failed and its message as FailureReason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from liquid import BoundTemplate

from groundcrew_local.built_in_tasks import BuiltInTask
from groundcrew_local.point_cloud_workers import PointCloudJob

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})


class JobFailure(Exception):
    """Ends the job with status Failed and this FailureReason."""


@dataclass
class DataObject:
    """One manifest line and what became of it: pending, labeled, failed or skipped (no human needed)."""

    index: int
    raw: str
    line: dict[str, Any]
    line_number: int = 0  # 1-based line of the input manifest
    outcome: str = "pending"
    reason: str | None = None
    label: Any = None
    creation_date: str | None = None
    metadata: dict[str, Any] | None = None  # `<L>-metadata` written by an emulated built-in ACS

    @property
    def dataset_object_id(self) -> str:
        return str(self.index)


@dataclass
class LabelingJob:
    name: str
    arn: str
    account_id: str
    region: str
    request: dict[str, Any]
    created: datetime
    modified: datetime
    reference_code: str
    status: str = "Initializing"
    failure_reason: str | None = None
    objects: list[DataObject] = field(default_factory=list)
    next_index: int = 0
    initialized: bool = False
    label_categories: list[str] | None = None
    template: BoundTemplate | None = None
    stop_drained: bool = False
    output_uri: str | None = None
    started_at: datetime | None = None
    log: list[str] = field(default_factory=list)
    built_in: BuiltInTask | None = None
    point_cloud: PointCloudJob | None = None
    presigned: dict[str, str] = field(default_factory=dict)  # URL -> s3:// URI, what workers' browsers can load
    files: list[str] = field(default_factory=list)
    stepping: bool = False
    _stamps: set[str] = field(default_factory=set)

    @property
    def label_attribute_name(self) -> str:
        return str(self.request["LabelAttributeName"])

    @property
    def human_task_config(self) -> dict[str, Any]:
        return dict(self.request["HumanTaskConfig"])

    @property
    def job_folder(self) -> str:
        return f"{self.request['OutputConfig']['S3OutputPath'].rstrip('/')}/{self.name}"

    @property
    def annotations_folder(self) -> str:
        return f"{self.job_folder}/annotations"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.objects if item.outcome == outcome)

    def label_counters(self) -> dict[str, int]:
        labeled, failed = self.count("labeled"), self.count("failed")
        return {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": failed,
            "Unlabeled": len(self.objects) - labeled - failed,
        }

    def human_label_limit(self) -> int | None:
        """How many objects humans may label before a stopping condition stops the job."""
        conditions = self.request.get("StoppingConditions") or {}
        limits = []
        if conditions.get("MaxHumanLabeledObjectCount") is not None:
            limits.append(int(conditions["MaxHumanLabeledObjectCount"]))
        if conditions.get("MaxPercentageOfInputDatasetLabeled") is not None:
            limits.append(len(self.objects) * int(conditions["MaxPercentageOfInputDatasetLabeled"]) // 100)
        return min(limits) if limits else None

    def unique_stamp(self, folder: str, moment: datetime) -> str:
        """`YYYY-MM-DD_HH:MM:SS`, one second later while a file of that name exists in the folder."""
        while True:
            stamp = moment.astimezone(UTC).strftime("%Y-%m-%d_%H:%M:%S")
            if f"{folder}/{stamp}" not in self._stamps:
                self._stamps.add(f"{folder}/{stamp}")
                return stamp
            moment += timedelta(seconds=1)


def labeling_jobs(backend: Any) -> dict[str, LabelingJob]:
    """Jobs live on moto's SageMaker backend (keyed by lower-case name), so a `mock_aws` reset clears them."""
    jobs: dict[str, LabelingJob] | None = getattr(backend, "labeling_jobs", None)
    if jobs is None:
        jobs = {}
        backend.labeling_jobs = jobs
    return jobs
