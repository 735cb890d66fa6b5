"""BatchStore on the template's table: exactly-once recording, sealing, paging and the pending-start list."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from groundcrew.intake.batches import (
    DEDUP_RETENTION_SECONDS,
    BatchItem,
    BatchStore,
    OpenBatch,
    RecordOutcome,
    SealedBatch,
    SealReason,
    new_batch_id,
)
from groundcrew.intake.rules import IncomingObject

NOW = 1_700_000_000


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(dynamodb: Any, batches_table: str) -> BatchStore:
    return BatchStore(dynamodb, batches_table, clock=Clock())


def image(key: str, etag: str = "etag-1", size: int = 100) -> IncomingObject:
    return IncomingObject(bucket="data", key=f"incoming/shapes/{key}", size=size, etag=etag)


def get(dynamodb: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    return dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")


def test_batch_id_is_project_utc_time_and_random_suffix() -> None:
    batch_id = new_batch_id("shapes", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    assert re.fullmatch(r"shapes-20240506t070809-[0-9a-f]{6}", batch_id)
    assert new_batch_id("shapes") != new_batch_id("shapes")


def test_first_record_opens_a_batch_and_writes_item_and_proof(
    store: BatchStore, dynamodb: Any, batches_table: str
) -> None:
    outcome, batch = store.record("shapes", image("a.png"))

    assert outcome is RecordOutcome.ADDED
    assert (batch.project, batch.opened_at) == ("shapes", NOW)
    assert store.current_open("shapes") == batch
    assert store.item_count(batch.batch_id) == 1
    item = get(dynamodb, batches_table, f"BATCH#{batch.batch_id}", "ITEM#incoming/shapes/a.png")
    assert item is not None
    assert (item["bucket"], item["key"], item["size"], item["etag"]) == (
        {"S": "data"},
        {"S": "incoming/shapes/a.png"},
        {"N": "100"},
        {"S": "etag-1"},
    )
    proof = get(dynamodb, batches_table, "OBJECT#data/incoming/shapes/a.png", "ETAG#etag-1")
    assert proof == {
        "pk": {"S": "OBJECT#data/incoming/shapes/a.png"},
        "sk": {"S": "ETAG#etag-1"},
        "batch_id": {"S": batch.batch_id},
        "expires_at": {"N": str(NOW + DEDUP_RETENTION_SECONDS)},
    }


def test_redelivered_event_adds_nothing(store: BatchStore) -> None:
    _, batch = store.record("shapes", image("a.png"))
    outcome, again = store.record("shapes", image("a.png"))

    assert outcome is RecordOutcome.DUPLICATE
    assert again == batch
    assert store.item_count(batch.batch_id) == 1
    assert list(store.items(batch.batch_id)) == [BatchItem("data", "incoming/shapes/a.png")]


def test_same_key_with_new_content_while_open_is_a_duplicate_and_its_proof_is_kept(
    store: BatchStore, dynamodb: Any, batches_table: str
) -> None:
    _, batch = store.record("shapes", image("a.png", etag="etag-1"))
    outcome, _ = store.record("shapes", image("a.png", etag="etag-2"))

    assert outcome is RecordOutcome.DUPLICATE
    assert store.item_count(batch.batch_id) == 1
    assert get(dynamodb, batches_table, "OBJECT#data/incoming/shapes/a.png", "ETAG#etag-2") is not None
    # a third delivery of the second upload is caught by its proof
    assert store.record("shapes", image("a.png", etag="etag-2"))[0] is RecordOutcome.DUPLICATE


def test_sealing_removes_the_pointer_marks_pending_and_the_next_record_opens_a_new_batch(
    store: BatchStore, dynamodb: Any, batches_table: str
) -> None:
    _, batch = store.record("shapes", image("a.png"))
    store.record("shapes", image("b.png"))

    sealed = store.seal(batch, SealReason.MARKER)

    assert sealed == SealedBatch("shapes", batch.batch_id, SealReason.MARKER, 2)
    assert store.current_open("shapes") is None
    assert get(dynamodb, batches_table, "PENDING", batch.batch_id) == {
        "pk": {"S": "PENDING"},
        "sk": {"S": batch.batch_id},
        "project": {"S": "shapes"},
    }
    meta = get(dynamodb, batches_table, f"BATCH#{batch.batch_id}", "META")
    assert meta is not None
    assert (meta["status"], meta["seal_reason"], meta["sealed_at"]) == (
        {"S": "sealed"},
        {"S": "marker"},
        {"N": str(NOW)},
    )

    outcome, following = store.record("shapes", image("c.png"))
    assert outcome is RecordOutcome.ADDED
    assert following.batch_id != batch.batch_id
    assert store.item_count(batch.batch_id) == 2
    assert store.item_count(following.batch_id) == 1


def test_redelivery_after_sealing_does_not_grow_the_sealed_batch(store: BatchStore) -> None:
    _, batch = store.record("shapes", image("a.png"))
    store.seal(batch, SealReason.FULL)

    outcome, recorded_in = store.record("shapes", image("a.png"))

    assert outcome is RecordOutcome.DUPLICATE
    assert recorded_in.batch_id == batch.batch_id
    assert store.item_count(batch.batch_id) == 1
    assert list(store.open_batches()) == []  # a late redelivery opens no empty batch


def test_sealing_an_empty_batch_does_nothing(store: BatchStore) -> None:
    batch = store.open_batch("shapes")
    assert store.seal(batch, SealReason.MAX_AGE) is None
    assert store.current_open("shapes") == batch
    assert list(store.pending_batches()) == []


def test_sealing_twice_returns_none_the_second_time(store: BatchStore) -> None:
    _, batch = store.record("shapes", image("a.png"))
    assert store.seal(batch, SealReason.MARKER) is not None
    assert store.seal(batch, SealReason.MAX_AGE) is None
    assert [p.reason for p in store.pending_batches()] == [SealReason.MARKER]


def test_open_batch_returns_the_existing_one(store: BatchStore) -> None:
    first = store.open_batch("shapes")
    assert store.open_batch("shapes") == first


def test_items_come_in_key_order_across_several_query_pages(
    store: BatchStore, dynamodb: Any, batches_table: str
) -> None:
    # GIVEN a batch of 1,200 objects with long keys (~1.3 MB of items, more than one 1 MB Query page).
    # moto deep-copies the table on every transaction, so recording 1,200 objects one by one takes minutes:
    # record a few through the store, then clone the row it wrote (same attributes) with BatchWriteItem.
    names = [f"{'x' * 480}-{i:05d}.png" for i in range(1200)]
    random.Random(7).shuffle(names)
    batch = None
    for name in names[:3]:
        _, batch = store.record("shapes", image(name))
    assert batch is not None
    row = get(dynamodb, batches_table, f"BATCH#{batch.batch_id}", f"ITEM#incoming/shapes/{names[0]}")
    assert row is not None
    clones = [
        {**row, "sk": {"S": f"ITEM#incoming/shapes/{name}"}, "key": {"S": f"incoming/shapes/{name}"}}
        for name in names[3:]
    ]
    for start in range(0, len(clones), 25):
        requests = [{"PutRequest": {"Item": item}} for item in clones[start : start + 25]]
        assert not dynamodb.batch_write_item(RequestItems={batches_table: requests})["UnprocessedItems"]
    pages: list[int] = []
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: pages.append(parsed["Count"]))

    # WHEN the batch's items are listed
    items = list(store.items(batch.batch_id))

    # THEN every item comes back once, in key order, over several pages
    assert len(pages) >= 2
    assert sum(pages) == 1200
    assert [i.key for i in items] == sorted(f"incoming/shapes/{n}" for n in names)
    assert {i.bucket for i in items} == {"data"}


def test_open_and_pending_batches_and_mark_started(store: BatchStore, dynamodb: Any, batches_table: str) -> None:
    _, shapes = store.record("shapes", image("a.png"))
    store.record("shapes", image("b.png"))
    _, birds = store.record("birds", IncomingObject("data", "incoming/birds/a.png", 10, "e"))
    assert sorted(store.open_batches(), key=lambda b: b.project) == [
        OpenBatch("birds", birds.batch_id, NOW),
        OpenBatch("shapes", shapes.batch_id, NOW),
    ]

    sealed = store.seal(shapes, SealReason.FULL)
    assert sealed is not None
    assert list(store.open_batches()) == [OpenBatch("birds", birds.batch_id, NOW)]
    assert list(store.pending_batches()) == [SealedBatch("shapes", shapes.batch_id, SealReason.FULL, 2)]

    store.mark_started(sealed, "s3://data/batches/shapes/x/input.manifest", "arn:aws:states:execution:x")

    assert list(store.pending_batches()) == []
    meta = get(dynamodb, batches_table, f"BATCH#{shapes.batch_id}", "META")
    assert meta is not None
    assert meta["manifest_uri"] == {"S": "s3://data/batches/shapes/x/input.manifest"}
    assert meta["execution_arn"] == {"S": "arn:aws:states:execution:x"}
