"""The typed records that travel between the steps of the labeling state machine."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from groundcrew.core.s3_locations import S3Location

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
