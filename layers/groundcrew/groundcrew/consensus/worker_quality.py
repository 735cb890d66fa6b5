"""Worker quality across batches: agreement with consensus and accuracy on gold items, kept in DynamoDB.

Items of the batches table (pk / sk):
- `WORKERS#<project>` / `WORKER#<worker id>`: running totals of one worker in one project, and the set of
  batches already counted. A batch is added with one conditional update per worker, so a retried Finalize step
  (Step Functions and Lambda both retry) never counts a batch twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from groundcrew.consensus.decisions import WorkerPrior

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Gold accuracy is the better measure, but a handful of gold answers is noise: below this, agreement is used.
MIN_GOLD_ANSWERS = 3


@dataclass(slots=True)
class WorkerTally:
    """What one worker did in one batch (gold items are counted apart from the items being labeled)."""

    answers: int = 0
    compared: int = 0  # answers on items that got a consensus label
    agreed: int = 0  # ... that matched it
    gold_answers: int = 0
    gold_correct: int = 0


@dataclass(frozen=True, slots=True)
class WorkerHistory:
    worker_id: str
    answers: int
    compared: int
    agreed: int
    gold_answers: int
    gold_correct: int
    batches: int

    @property
    def agreement(self) -> float | None:
        return round(self.agreed / self.compared, 4) if self.compared else None

    @property
    def gold_accuracy(self) -> float | None:
        return round(self.gold_correct / self.gold_answers, 4) if self.gold_answers else None

    @property
    def accuracy(self) -> float | None:
        """Gold accuracy once there is enough gold, else agreement with consensus."""
        if self.gold_answers >= MIN_GOLD_ANSWERS:
            return self.gold_accuracy
        return self.agreement if self.agreement is not None else self.gold_accuracy

    @property
    def evidence(self) -> int:
        return self.gold_answers if self.gold_answers >= MIN_GOLD_ANSWERS else max(self.compared, self.gold_answers)

    def flagged(self, threshold: float, min_evidence: int) -> bool:
        accuracy = self.accuracy
        return accuracy is not None and self.evidence >= min_evidence and accuracy < threshold


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _pk(project: str) -> dict[str, str]:
    return _s(f"WORKERS#{project}")


class WorkerQualityStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def record_batch(self, project: str, batch_id: str, tallies: Mapping[str, WorkerTally]) -> int:
        """Add a batch's tallies to each worker's totals once; returns how many workers were updated now."""
        updated = 0
        for worker_id, tally in sorted(tallies.items()):
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key={"pk": _pk(project), "sk": _s(f"WORKER#{worker_id}")},
                    UpdateExpression=(
                        "ADD answers :answers, compared :compared, agreed :agreed, "
                        "gold_answers :gold_answers, gold_correct :gold_correct, batches :batch "
                        "SET worker_id = :worker"
                    ),
                    ConditionExpression="attribute_not_exists(batches) OR NOT contains(batches, :batch_id)",
                    ExpressionAttributeValues={
                        ":answers": _n(tally.answers),
                        ":compared": _n(tally.compared),
                        ":agreed": _n(tally.agreed),
                        ":gold_answers": _n(tally.gold_answers),
                        ":gold_correct": _n(tally.gold_correct),
                        ":batch": {"SS": [batch_id]},
                        ":batch_id": _s(batch_id),
                        ":worker": _s(worker_id),
                    },
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue  # this batch was already counted for this worker (a retry)
            updated += 1
        return updated

    def history(self, project: str) -> dict[str, WorkerHistory]:
        return {record.worker_id: record for record in self._records(project)}

    def _records(self, project: str) -> Iterator[WorkerHistory]:
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _pk(project)},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                yield _history(item)


def _history(item: dict[str, Any]) -> WorkerHistory:
    def number(name: str) -> int:
        return int(item.get(name, {}).get("N", "0"))

    return WorkerHistory(
        worker_id=item["worker_id"]["S"],
        answers=number("answers"),
        compared=number("compared"),
        agreed=number("agreed"),
        gold_answers=number("gold_answers"),
        gold_correct=number("gold_correct"),
        batches=len(item.get("batches", {}).get("SS", [])),
    )


def priors(history: Iterable[WorkerHistory]) -> dict[str, WorkerPrior]:
    """What the weighted consensus starts from for workers it has seen before."""
    found: dict[str, WorkerPrior] = {}
    for record in history:
        accuracy = record.accuracy
        if accuracy is not None and record.evidence > 0:
            found[record.worker_id] = WorkerPrior(record.worker_id, accuracy, record.evidence)
    return found
