"""Open and sealed batches of a project, kept in one DynamoDB table.

Items (pk / sk):
- `OPEN` / `<project>`: pointer to the project's open batch (all open batches are one Query away).
- `BATCH#<id>` / `META`: status (open or sealed), counts, seal reason, manifest location.
- `BATCH#<id>` / `ITEM#<key>`: one object of the batch; sorting by key gives the manifest a stable order.
- `OBJECT#<bucket>/<key>` / `ETAG#<etag>`: proof that this content was recorded, so a redelivered event adds nothing.
- `PENDING` / `<batch id>`: a sealed batch whose execution has not been started yet (retried by the flush).
- `BATCH#<id>` / `ANNOUNCED#<detail type>`: the batch's outcome event of that type was published (once only).
Every change is a conditional write or a transaction, so concurrent intake invocations cannot lose or double items.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from groundcrew.intake.rules import IncomingObject

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DEDUP_RETENTION_SECONDS = 90 * 24 * 3600
MAX_RECORD_ATTEMPTS = 5
ITEM_KEY_PREFIX = "ITEM#"
# A sort key holds at most 1,024 bytes (DynamoDB's limit) and an item's is ITEM_KEY_PREFIX + its S3 key.
MAX_OBJECT_KEY_BYTES = 1024 - len(ITEM_KEY_PREFIX.encode())


class SealReason(StrEnum):
    FULL = "full"
    MARKER = "marker"
    MAX_AGE = "max-age"


class RecordOutcome(StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class OpenBatch:
    project: str
    batch_id: str
    opened_at: int  # epoch seconds


@dataclass(frozen=True, slots=True)
class BatchItem:
    bucket: str
    key: str


@dataclass(frozen=True, slots=True)
class SealedBatch:
    project: str
    batch_id: str
    reason: SealReason
    item_count: int


def new_batch_id(project: str, now: datetime | None = None) -> str:
    """Sortable, unique and valid inside job and execution names: `<project>-<utc time>-<random>`."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dt%H%M%S")
    return f"{project}-{moment}-{secrets.token_hex(3)}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class BatchStore:
    def __init__(self, client: DynamoDBClient, table_name: str, clock: Any = time.time) -> None:
        self._db = client
        self._table = table_name
        self._clock = clock

    # -- open batches -------------------------------------------------------------------------------------
    def open_batch(self, project: str) -> OpenBatch:
        """The project's open batch, opening one if there is none."""
        for _ in range(MAX_RECORD_ATTEMPTS):
            current = self.current_open(project)
            if current is not None:
                return current
            batch = OpenBatch(project, new_batch_id(project), int(self._clock()))
            try:
                self._db.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": {
                                    "pk": _s("OPEN"),
                                    "sk": _s(project),
                                    "batch_id": _s(batch.batch_id),
                                    "opened_at": _n(batch.opened_at),
                                },
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": {
                                    "pk": _s(f"BATCH#{batch.batch_id}"),
                                    "sk": _s("META"),
                                    "project": _s(project),
                                    "status": _s("open"),
                                    "opened_at": _n(batch.opened_at),
                                    "item_count": _n(0),
                                },
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
                return batch
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                # Another invocation opened one first: use theirs.
        raise RuntimeError(f"could not open a batch for project {project!r} after {MAX_RECORD_ATTEMPTS} attempts")

    def current_open(self, project: str) -> OpenBatch | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _s("OPEN"), "sk": _s(project)}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return OpenBatch(project, item["batch_id"]["S"], int(item["opened_at"]["N"]))

    def _query(self, **parameters: Any) -> Iterator[dict[str, Any]]:
        """Every item of a Query, page by page (strongly consistent: seals must see the latest adds)."""
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True, **parameters):
            yield from page["Items"]

    def open_batches(self) -> Iterator[OpenBatch]:
        for item in self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": _s("OPEN")}):
            yield OpenBatch(item["sk"]["S"], item["batch_id"]["S"], int(item["opened_at"]["N"]))

    def item_count(self, batch_id: str) -> int:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _s(f"BATCH#{batch_id}"), "sk": _s("META")}, ConsistentRead=True
        ).get("Item")
        return int(item["item_count"]["N"]) if item else 0

    # -- recording objects --------------------------------------------------------------------------------
    def record(self, project: str, obj: IncomingObject) -> tuple[RecordOutcome, OpenBatch]:
        """Add an object to the project's open batch exactly once, however often its event is delivered."""
        recorded_in = self._recorded_batch(obj)
        if recorded_in is not None:
            # Checked before opening a batch, so a late redelivery never opens an empty one.
            return RecordOutcome.DUPLICATE, recorded_in
        for _ in range(MAX_RECORD_ATTEMPTS):
            batch = self.open_batch(project)
            outcome = self._try_record(batch, obj)
            if outcome is not None:
                return outcome, batch
        raise RuntimeError(f"could not record {obj.key!r}: its batch kept being sealed concurrently")

    def _recorded_batch(self, obj: IncomingObject) -> OpenBatch | None:
        """The batch this exact content was recorded in, if it was."""
        proof = self._db.get_item(
            TableName=self._table,
            Key={"pk": _s(f"OBJECT#{obj.bucket}/{obj.key}"), "sk": _s(f"ETAG#{obj.etag}")},
            ConsistentRead=True,
        ).get("Item")
        if proof is None:
            return None
        batch_id = proof["batch_id"]["S"]
        meta = self._db.get_item(
            TableName=self._table, Key={"pk": _s(f"BATCH#{batch_id}"), "sk": _s("META")}, ConsistentRead=True
        )["Item"]
        return OpenBatch(meta["project"]["S"], batch_id, int(meta["opened_at"]["N"]))

    def _try_record(self, batch: OpenBatch, obj: IncomingObject) -> RecordOutcome | None:
        now = int(self._clock())
        proof = {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "pk": _s(f"OBJECT#{obj.bucket}/{obj.key}"),
                    "sk": _s(f"ETAG#{obj.etag}"),
                    "batch_id": _s(batch.batch_id),
                    "expires_at": _n(now + DEDUP_RETENTION_SECONDS),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    proof,  # type: ignore[list-item]
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(f"BATCH#{batch.batch_id}"),
                                "sk": _s(f"{ITEM_KEY_PREFIX}{obj.key}"),
                                "bucket": _s(obj.bucket),
                                "key": _s(obj.key),
                                "size": _n(obj.size),
                                "etag": _s(obj.etag),
                                "recorded_at": _n(now),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": _s(f"BATCH#{batch.batch_id}"), "sk": _s("META")},
                            "UpdateExpression": "ADD item_count :one",
                            "ConditionExpression": "#status = :open",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {":one": _n(1), ":open": _s("open")},
                        }
                    },
                ]
            )
            return RecordOutcome.ADDED
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return RecordOutcome.DUPLICATE  # this content was recorded before
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            # Same key re-uploaded while its batch is open: the batch already references it once.
            self._put_proof_quietly(proof)
            return RecordOutcome.DUPLICATE
        return None  # the batch was sealed meanwhile: try the next one

    def _put_proof_quietly(self, proof: dict[str, Any]) -> None:
        try:
            self._db.put_item(**proof["Put"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # -- sealing ------------------------------------------------------------------------------------------
    def seal(self, batch: OpenBatch, reason: SealReason) -> SealedBatch | None:
        """Close the batch to new objects. None when it was already sealed or is empty."""
        count = self.item_count(batch.batch_id)
        if count == 0:
            return None
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": _s(f"BATCH#{batch.batch_id}"), "sk": _s("META")},
                            "UpdateExpression": "SET #status = :sealed, seal_reason = :reason, sealed_at = :now",
                            "ConditionExpression": "#status = :open",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":sealed": _s("sealed"),
                                ":open": _s("open"),
                                ":reason": _s(reason.value),
                                ":now": _n(int(self._clock())),
                            },
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {"pk": _s("OPEN"), "sk": _s(batch.project)},
                            "ConditionExpression": "batch_id = :id",
                            "ExpressionAttributeValues": {":id": _s(batch.batch_id)},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": _s("PENDING"), "sk": _s(batch.batch_id), "project": _s(batch.project)},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return None
        # Adds that raced the seal either landed before it (and are counted) or failed their condition.
        return SealedBatch(batch.project, batch.batch_id, reason, self.item_count(batch.batch_id))

    def claim_announcement(self, batch_id: str, detail_type: str) -> bool:
        """True the first time a batch's `detail_type` event is claimed, False ever after (a conditional write)."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(f"BATCH#{batch_id}"),
                    "sk": _s(f"ANNOUNCED#{detail_type}"),
                    "at": {"N": str(int(time.time()))},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def pending_batches(self) -> Iterator[SealedBatch]:
        """Sealed batches whose execution has not been confirmed started."""
        for item in self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": _s("PENDING")}):
            batch_id = item["sk"]["S"]
            meta = self._db.get_item(
                TableName=self._table, Key={"pk": _s(f"BATCH#{batch_id}"), "sk": _s("META")}, ConsistentRead=True
            )["Item"]
            yield SealedBatch(
                item["project"]["S"], batch_id, SealReason(meta["seal_reason"]["S"]), int(meta["item_count"]["N"])
            )

    def mark_started(self, batch: SealedBatch, manifest_uri: str, execution_arn: str) -> None:
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": _s(f"BATCH#{batch.batch_id}"), "sk": _s("META")},
                        "UpdateExpression": "SET manifest_uri = :m, execution_arn = :e",
                        "ExpressionAttributeValues": {":m": _s(manifest_uri), ":e": _s(execution_arn)},
                    }
                },
                {"Delete": {"TableName": self._table, "Key": {"pk": _s("PENDING"), "sk": _s(batch.batch_id)}}},
            ]
        )

    def items(self, batch_id: str) -> Iterator[BatchItem]:
        """The batch's objects in key order, page by page."""
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :item)",
            ExpressionAttributeValues={":pk": _s(f"BATCH#{batch_id}"), ":item": _s(ITEM_KEY_PREFIX)},
            ProjectionExpression="#b, #k",
            ExpressionAttributeNames={"#b": "bucket", "#k": "key"},
        ):
            yield BatchItem(item["bucket"]["S"], item["key"]["S"])


def opened_at_iso(batch: OpenBatch) -> str:
    return datetime.fromtimestamp(batch.opened_at, UTC).isoformat()
