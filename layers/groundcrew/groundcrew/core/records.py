"""The typed records that travel between the steps of the labeling state machine."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from groundcrew.core.errors import cause_message
from groundcrew.core.s3_locations import S3Location

# Ground Truth's rule for job names; a round's name is also its Mechanical Turk annotation and its files' folder.
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
IMPORTED_PREFIX = "imported/"  # everything of one import: imported/<project>/<import id>/ (outside imports/)


class BatchRef(BaseModel):
    """The execution input written by intake when it seals a batch."""

    model_config = ConfigDict(extra="ignore")
    batch_id: str
    project: str
    bucket: str
    manifest_uri: str
    item_count: int
    workflow: str | None = None  # the state machine prepares point cloud frames first
    audit_source: str | None = None  # ... unless they come from an earlier job's output manifest (an audit)


class PreparedJob(BaseModel):
    """One round's labeling job as the Prepare step built it: what Launch sends and Track follows."""

    model_config = ConfigDict(extra="ignore")
    name: str
    request: dict[str, Any]
    label_attribute_name: str
    deadline: int  # epoch seconds
    poll_seconds: int
    workforce: str = "groundtruth"  # which workforce runs the round (the state machine chooses its steps by it)
    round: int = 1
    item_count: int = 0  # batch items in the round
    gold_items: int = 0
    gold_missing: list[str] = []

    @property
    def manifest_uri(self) -> str:
        return str(self.request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"])


@dataclass(frozen=True, slots=True)
class ImportRef:
    """The import state machine's input, written by intake."""

    project: str
    bucket: str
    source_key: str  # an annotation file, or a folder (ending in '/') whose seal marker landed
    import_id: str

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ImportRef:
        return cls(str(raw["project"]), str(raw["bucket"]), str(raw["source_key"]), str(raw["import_id"]))

    @property
    def source_uri(self) -> str:
        return S3Location(self.bucket, self.source_key).uri

    @property
    def folder(self) -> S3Location:
        return S3Location(self.bucket, f"{IMPORTED_PREFIX}{self.project}/{self.import_id}")


def import_id(project: str, key: str, etag: str) -> str:
    """Valid in execution, batch and job names; the same object version always gets the same id."""
    digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:10]
    return f"{project}-imp-{digest}"


class CaughtError(BaseModel):
    """What a Catch of the state machine stored: the error's name and its cause (a Lambda's is JSON)."""

    model_config = ConfigDict(extra="ignore")
    Error: str | None = None
    Cause: Any = None

    @property
    def reason(self) -> str:
        return cause_message(self.Cause) or str(self.Error or "unknown error")


class RoundTracking(BaseModel):
    """The last Track poll of the round's job."""

    model_config = ConfigDict(extra="ignore")
    status: str | None = None


class RoundCollected(BaseModel):
    """What Collect read from the round's finished job."""

    model_config = ConfigDict(extra="ignore")
    output_manifest_uri: str
    statistics: dict[str, Any] = {}


class BatchConsensus(BaseModel):
    """What Decide keeps across the batch's rounds (its last result)."""

    model_config = ConfigDict(extra="ignore")
    ledger_uri: str | None = None  # the answer ledger (workflows that consolidate with our Lambdas)
    rounds: list[dict[str, Any]] = []  # RoundSummary of each round so far
    next_round: dict[str, Any] | None = None  # the planned round (consensus.rounds.RoundPlan)
    outputs: list[dict[str, Any]] = []  # each round's output manifest (built-in task types)
    trial_items: int = 0  # items of an adjustment batch's trial round


class ExecutionState(BaseModel):
    """The labeling state machine's state, as Decide, Finalize and Publish read it: parsed once, at the edge.

    `job` stays plain data: a failure is reported whatever shape the job had when it happened.
    """

    model_config = ConfigDict(extra="ignore")
    batch: BatchRef
    job: dict[str, Any] | None = None
    consensus: BatchConsensus | None = None
    tracking: RoundTracking | None = None
    collected: RoundCollected | None = None
    error: CaughtError | None = None
    failed_stage: str | None = None
    preflight: dict[str, Any] | None = None  # the Preflight step's report
    final: dict[str, Any] | None = None  # what Finalize returned

    def prepared_job(self) -> PreparedJob:
        if self.job is None:
            raise ValueError(f"the state of batch {self.batch.batch_id} holds no prepared job")
        return PreparedJob.model_validate(self.job)


def job_name(batch_id: str, round_number: int = 1) -> str:
    """Unique per batch and round; Ground Truth compares names case-insensitively, batch ids are lower case."""
    name = f"gc-{batch_id}-r{round_number}"
    if not JOB_NAME_PATTERN.match(name):
        raise ValueError(f"job name {name!r} breaks Ground Truth's naming rule {JOB_NAME_PATTERN.pattern}")
    return name
