"""Labeling rounds: a batch is labeled by one or more jobs, each on the items that still need another pass.

Round 1 labels every item of the batch. After each round the Decide step merges that round's answers into the
batch's answer ledger and asks the workflow which items need more (classification: the consensus policy); a
follow-up round is a new labeling job on only those items, and its consolidation Lambda is given their earlier
answers. The mechanism knows nothing about labels: an answer is a dict with at least `worker_id` and `round`.

S3 layout, under the batch's folder `batches/<project>/<batch id>/`:
- `input.manifest`: the batch (written by intake).
- `rounds/r<N>/input.manifest`: round N's job manifest, when it differs from the batch's (follow-up items, gold).
- `rounds/r<N>/carried-answers.json`: the earlier answers of round N's items, for its consolidation Lambda.
- `rounds/r<N>/ledger.jsonl`: every item's answers after round N (each round writes its own, so a retried
  Decide step rewrites the same file instead of counting a round twice).
- `output/output.manifest`: the merged result of every round, one line per item.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import orjson

from groundcrew.core import manifests
from groundcrew.core.answers import RejectedAnswer, WorkerAnswer
from groundcrew.core.manifests import ManifestLine
from groundcrew.core.s3_locations import S3Location, put_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

GOLD_ATTRIBUTE = "groundcrew-gold"  # marks gold lines in a job manifest; workers never see manifest attributes


def batch_folder(bucket: str, project: str, batch_id: str) -> S3Location:
    return S3Location(bucket, f"batches/{project}/{batch_id}")


def round_folder(bucket: str, project: str, batch_id: str, number: int) -> S3Location:
    return batch_folder(bucket, project, batch_id).child("rounds", f"r{number}")


def output_manifest_location(bucket: str, project: str, batch_id: str) -> S3Location:
    return batch_folder(bucket, project, batch_id).child("output", "output.manifest")


def metadata_header(output_type: str, job_names: list[str], created: str) -> dict[str, Any]:
    """What every `<attribute>-metadata` of a batch's output line starts with: Ground Truth's own fields."""
    return {
        "type": output_type,
        "job-name": job_names[-1],
        "job-names": job_names,
        "human-annotated": "yes",
        "creation-date": created,
    }


def item_key(line: Mapping[str, Any]) -> str | None:
    """An item's identity across rounds: its source-ref (or inline source). Intake never repeats an object."""
    value = line.get("source-ref", line.get("source"))
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """What the next Prepare step needs to launch a round (round 1 is the whole batch)."""

    number: int
    manifest_uri: str  # the items to label (the batch manifest, or a follow-up manifest)
    item_count: int
    workers_per_object: int
    carried_answers_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "manifest_uri": self.manifest_uri,
            "item_count": self.item_count,
            "workers_per_object": self.workers_per_object,
            "carried_answers_uri": self.carried_answers_uri,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RoundPlan:
        return cls(
            number=int(raw["number"]),
            manifest_uri=str(raw["manifest_uri"]),
            item_count=int(raw["item_count"]),
            workers_per_object=int(raw["workers_per_object"]),
            carried_answers_uri=raw.get("carried_answers_uri"),
        )


# -- the answer ledger --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LedgerEntry:
    key: str
    gold: bool = False
    answers: list[WorkerAnswer] = field(default_factory=list)  # valid answers, every round, in order
    rejected: list[RejectedAnswer] = field(default_factory=list)  # answers paid for but not usable, with reasons
    bought: int = 0  # answers paid for (valid + rejected)
    rounds: list[int] = field(default_factory=list)  # rounds the item was part of
    notes: list[str] = field(default_factory=list)  # what went wrong in a round (no result, failed job)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "key": self.key,
                "gold": self.gold,
                "answers": self.answers,
                "rejected": self.rejected,
                "bought": self.bought,
                "rounds": self.rounds,
                "notes": self.notes,
            }
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LedgerEntry:
        return cls(
            key=str(raw["key"]),
            gold=bool(raw.get("gold", False)),
            answers=list(raw.get("answers", [])),
            rejected=list(raw.get("rejected", [])),
            bought=int(raw.get("bought", 0)),
            rounds=[int(r) for r in raw.get("rounds", [])],
            notes=[str(n) for n in raw.get("notes", [])],
        )


def ledger_location(bucket: str, project: str, batch_id: str, number: int) -> S3Location:
    return round_folder(bucket, project, batch_id, number).child("ledger.jsonl")


def read_ledger(s3: S3Client, location: S3Location) -> dict[str, LedgerEntry]:
    return {
        entry.key: entry
        for entry in (LedgerEntry.from_dict(line.data) for line in manifests.read_manifest(s3, location))
    }


def write_ledger(s3: S3Client, location: S3Location, ledger: Mapping[str, LedgerEntry]) -> None:
    manifests.write_manifest(s3, location, (orjson.loads(entry.to_json()) for entry in ledger.values()))


@dataclass(slots=True)
class RoundAnswers:
    """One item's new answers from one round's output manifest line."""

    key: str
    gold: bool
    answers: list[WorkerAnswer]
    rejected: list[RejectedAnswer]
    note: str | None = None


def round_answers(lines: Iterable[ManifestLine], label_attribute: str, number: int) -> Iterator[RoundAnswers]:
    """The answers a round added, from its output manifest (earlier rounds' answers are carried in it too)."""
    for line in lines:
        key = item_key(line.data)
        if key is None:
            continue
        gold = bool(line.data.get(GOLD_ATTRIBUTE))
        value = line.data.get(label_attribute)
        if not isinstance(value, dict):
            metadata = line.data.get(f"{label_attribute}-metadata")
            reason = metadata.get("failure-reason") if isinstance(metadata, dict) else None
            yield RoundAnswers(
                key, gold, [], [], f"round {number}: no result ({reason or 'Ground Truth returned none'})"
            )
            continue
        # The output line's answers as the consolidation wrote them (core.answers' shapes).
        new = [a for a in value.get("answers") or [] if isinstance(a, dict) and a.get("round", number) == number]
        rejected = [r for r in value.get("rejected_answers") or [] if isinstance(r, dict)]
        yield RoundAnswers(key, gold, cast(list[WorkerAnswer], new), cast(list[RejectedAnswer], rejected))


def merge_round(
    ledger: dict[str, LedgerEntry],
    number: int,
    round_items: Iterable[str],
    results: Iterable[RoundAnswers],
) -> None:
    """Add one round's answers to the ledger; items of the round with no line in its output get a note."""
    expected = set(round_items)
    for result in results:
        entry = ledger.setdefault(result.key, LedgerEntry(result.key, gold=result.gold))
        if number in entry.rounds:
            continue  # a duplicated output line: the round is counted once
        entry.rounds.append(number)
        entry.answers.extend({**answer, "round": number} for answer in result.answers)
        entry.rejected.extend({**answer, "round": number} for answer in result.rejected)
        entry.bought += len(result.answers) + len(result.rejected)
        if result.note:
            entry.notes.append(result.note)
        expected.discard(result.key)
    for key in expected:
        entry = ledger.setdefault(key, LedgerEntry(key))
        if number not in entry.rounds:
            entry.rounds.append(number)
            entry.notes.append(f"round {number}: the item is missing from the job's output manifest")


def mark_round_failed(ledger: dict[str, LedgerEntry], number: int, round_items: Iterable[str], reason: str) -> None:
    """A round whose job failed: its items keep their earlier answers and carry the reason."""
    for key in round_items:
        entry = ledger.setdefault(key, LedgerEntry(key))
        if number not in entry.rounds:
            entry.rounds.append(number)
            entry.notes.append(f"round {number} failed: {reason}")


# -- manifests of a round -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoldLine:
    uri: str
    label: str


def choose_gold(gold: Sequence[GoldLine], rate: float, items: int, seed: str) -> list[GoldLine]:
    """ceil(rate x items) gold items, drawn reproducibly (a retried Prepare picks the same ones)."""
    candidates = sorted(gold, key=lambda g: g.uri)
    wanted = min(len(candidates), math.ceil(rate * items)) if rate > 0 else 0
    return random.Random(seed).sample(candidates, wanted)


def round_manifest_lines(
    items: Iterable[ManifestLine],
    keep: set[str] | None,
    gold: Sequence[GoldLine],
    written_gold: list[GoldLine],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """The batch's lines (only `keep` when given), then the gold lines that are not batch items themselves.

    `overrides` replaces attributes of an item's line (an adjustment round's `annotations`: the current labels
    as the workers' starting point). `written_gold` receives the gold lines actually written (known only once
    the items are streamed).
    """
    seen: set[str] = set()
    for line in items:
        key = item_key(line.data)
        if key is not None:
            seen.add(key)
        if keep is None or (key is not None and key in keep):
            data = {name: value for name, value in line.data.items() if name != GOLD_ATTRIBUTE}
            yield {**data, **(overrides or {}).get(key or "", {})}
    for item in gold:
        if item.uri not in seen:
            written_gold.append(item)
            yield {"source-ref": item.uri, GOLD_ATTRIBUTE: True}


def write_carried_answers(
    s3: S3Client, location: S3Location, ledger: Mapping[str, LedgerEntry], keys: set[str]
) -> None:
    body = orjson.dumps({key: ledger[key].answers for key in sorted(keys) if key in ledger})
    put_object(s3, location, body)


def read_carried_answers(s3: S3Client, uri: str) -> dict[str, list[WorkerAnswer]]:
    location = S3Location.parse(uri)
    raw: Any = orjson.loads(s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read())
    if not isinstance(raw, dict):
        raise ValueError(f"carried answers at {uri} must be a JSON object of item -> answers")
    return raw


def plan_next_round(
    s3: S3Client,
    source_manifest: str,
    folder: S3Location,
    number: int,
    keys: set[str],
    ledger: Mapping[str, LedgerEntry],
    workers_per_object: int,
    *,
    overrides: Mapping[str, dict[str, Any]] | None = None,
    carry: bool = True,
) -> RoundPlan:
    """Round `number`'s manifest in `folder`: the lines of `source_manifest` whose items are `keys`.

    `carry` hands the earlier answers to its consolidation (votes add up), while an adjustment round starts from
    `overrides` instead (its answers replace the pose they adjust)."""
    manifest = folder.child("input.manifest")
    lines = manifests.read_manifest(s3, S3Location.parse(source_manifest))
    count = manifests.write_manifest(s3, manifest, round_manifest_lines(lines, keys, (), [], overrides))
    if not carry:
        return RoundPlan(number, manifest.uri, count, workers_per_object)
    carried = folder.child("carried-answers.json")
    write_carried_answers(s3, carried, ledger, keys)
    return RoundPlan(number, manifest.uri, count, workers_per_object, carried.uri)
