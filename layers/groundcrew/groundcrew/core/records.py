"""The typed records that travel between the steps of the labeling state machine."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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
