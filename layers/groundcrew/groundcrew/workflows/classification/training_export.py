"""Training-ready exports of a finished image-classification batch: stratified train/test splits as JSONL and CSV.

The merged output manifest is read twice through a factory of fresh iterators: the first pass keeps only each
item's key and label (enough to plan the split and the CSV columns), the second streams every line into spooled
split files, so a 100,000-line manifest never sits whole in memory.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import orjson

from groundcrew.consensus.decisions import Outcome
from groundcrew.core.manifests import SPOOL_BYTES, ManifestLine
from groundcrew.core.s3_locations import S3Location
from groundcrew.core.splits import assign_splits, check_test_ratio

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SPLITS = ("train", "test")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
SOURCE_ATTRIBUTES = ("source-ref", "source")  # an item is an S3 object or inline text; the value is its key
EXPORTED_FIELDS = ("label", "class_id", "confidence")

# Reasons a line is left out, besides its consensus status (which is counted under its own name).
DUPLICATE = "duplicate"
NO_SOURCE = "no source"
NO_LABEL = "no label"
UNKNOWN_LABEL = "unknown label"

# Spreadsheets run a cell starting with one of these as a formula (CSV injection); tab and CR are on OWASP's list
# because some spreadsheets strip them and then read the formula behind them.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportOptions:
    test_ratio: float = 0.2  # share of each class held out for testing, 0 <= r < 1
    seed: int = 0
    formats: tuple[str, ...] = ("jsonl", "csv")

    def __post_init__(self) -> None:
        check_test_ratio(self.test_ratio)
        if not self.formats:
            raise ValueError(f"formats is empty: choose one or more of {', '.join(CONTENT_TYPES)}")
        unknown = [f for f in self.formats if f not in CONTENT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown export format(s) {', '.join(map(repr, unknown))}: choose from {', '.join(CONTENT_TYPES)}"
            )


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: dict[str, str]  # file name -> S3 URI, e.g. "train.jsonl" -> "s3://bucket/exports/train.jsonl"
    train: int
    test: int
    excluded: int  # lines not exported; the sum of excluded_reasons
    excluded_reasons: dict[str, int] = field(default_factory=dict)  # reason (or consensus status) -> lines
    classes: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> {"train": n, "test": m}


class ManifestChangedError(RuntimeError):
    """The second pass over the manifest did not see what the first pass planned for."""


def item_key(data: Mapping[str, Any]) -> str | None:
    """The item's identity: its `source-ref` S3 URI, or its inline `source` text."""
    for name in SOURCE_ATTRIBUTES:
        value = data.get(name)
        if isinstance(value, str):
            return value
    return None


def exclusion_reason(data: Mapping[str, Any], label_attribute: str, class_ids: Mapping[str, int]) -> str | None:
    """Why a line cannot be a training example, or None when it can (the duplicate check is the caller's)."""
    value = data.get(label_attribute)
    if not isinstance(value, dict) or not isinstance(value.get("status"), str):
        return NO_LABEL
    if value["status"] != Outcome.CONSOLIDATED:
        return str(value["status"])
    if value.get("label") not in class_ids:
        return UNKNOWN_LABEL
    return None


def training_row(data: Mapping[str, Any], label_attribute: str, class_ids: Mapping[str, int]) -> dict[str, Any]:
    """The exported line: source first, the team's own attributes, then label, class_id and confidence."""
    value = data[label_attribute]
    dropped = {label_attribute, f"{label_attribute}-metadata"}
    row = {name: data[name] for name in SOURCE_ATTRIBUTES if name in data}
    row.update((name, v) for name, v in data.items() if name not in dropped and name not in row)
    row["label"] = value["label"]
    row["class_id"] = class_ids[value["label"]]
    row["confidence"] = value.get("confidence")
    return row


def csv_cell(value: Any) -> str:
    """One CSV cell: text as is, other values as JSON, null as empty; formula-like text is neutralised.

    Only text cells get the leading apostrophe: a number such as -1.5 is written as a number, so numeric
    columns stay numeric. The apostrophe makes spreadsheets show the text instead of running it.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value
    return orjson.dumps(value).decode()


class _Utf8Sink:
    """csv.writer writes text; the spool holds bytes."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool

    def write(self, text: str) -> int:
        return self._spool.write(text.encode())


@dataclass(slots=True)
class _Plan:
    """What the first pass learned: the kept line of each item and the columns of the CSV files."""

    kept: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (line number, label)
    reasons: dict[str, int] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)

    def count(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def _plan(lines: Iterable[ManifestLine], label_attribute: str, class_ids: Mapping[str, int]) -> _Plan:
    plan = _Plan(reasons=dict.fromkeys((DUPLICATE, NO_SOURCE, NO_LABEL, UNKNOWN_LABEL), 0))
    plan.reasons.update(dict.fromkeys((o.value for o in Outcome if o is not Outcome.CONSOLIDATED), 0))
    claimed: set[str] = set()
    own = {label_attribute, f"{label_attribute}-metadata", *SOURCE_ATTRIBUTES}
    for line in lines:
        key = item_key(line.data)
        if key is None:
            plan.count(NO_SOURCE)
            continue
        if key in claimed:  # the first line of an item claims it whatever its status; a later copy never wins
            plan.count(DUPLICATE)
            continue
        claimed.add(key)
        if (reason := exclusion_reason(line.data, label_attribute, class_ids)) is not None:
            plan.count(reason)
            continue
        attributes = line.data.keys() - own
        if clash := sorted(attributes & set(EXPORTED_FIELDS)):
            raise ValueError(
                f"line {line.number} ({key}): attribute(s) {', '.join(clash)} would be overwritten by the exported "
                f"label fields; rename them in the input manifest before exporting"
            )
        plan.kept[key] = (line.number, line.data[label_attribute]["label"])
        plan.sources.update(name for name in SOURCE_ATTRIBUTES if name in line.data)
        plan.attributes.update(attributes)
    return plan


def export_training_data(
    s3: S3Client,
    lines: Callable[[], Iterable[ManifestLine]],
    label_attribute: str,
    labels: Sequence[str],
    destination: S3Location,
    options: ExportOptions,
) -> ExportResult:
    """Write `<split>.<format>` files under `destination` from the consolidated lines of an output manifest.

    `lines` is called twice and must yield the same lines both times (e.g. `lambda: read_manifest(s3, loc)`).
    Left out, and counted by reason: lines without `source-ref`/`source` ("no source"), later copies of an item
    ("duplicate"; the first line of an item wins, whatever its status), lines without the label attribute
    ("no label"), lines whose status is not consolidated (counted under the status), and consolidated labels
    missing from `labels` ("unknown label"). `labels` fixes the class_id order.
    """
    if len(set(labels)) != len(labels) or not labels:
        raise ValueError(f"labels must be a non-empty list without repeats (it fixes class_id), got {list(labels)}")
    class_ids = {label: index for index, label in enumerate(labels)}
    plan = _plan(lines(), label_attribute, class_ids)
    splits = assign_splits(((key, label) for key, (_, label) in plan.kept.items()), options.test_ratio, options.seed)
    formats = tuple(dict.fromkeys(options.formats))
    names = [f"{split}.{fmt}" for fmt in formats for split in SPLITS]
    classes = {label: dict.fromkeys(SPLITS, 0) for label in labels}

    with ExitStack() as stack:
        spools: dict[str, IO[bytes]] = {
            name: stack.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)) for name in names
        }
        files = _SplitFiles(spools, formats, _csv_columns(plan))
        written = 0
        for key, row in _planned_rows(lines(), plan, label_attribute, class_ids):
            split = splits[key]
            files.write(split, row)
            classes[row["label"]][split] += 1
            written += 1
        if written != len(plan.kept):
            raise ManifestChangedError(
                f"the second pass over the manifest found {written} of the {len(plan.kept)} planned lines: "
                "`lines` must return the same manifest each time it is called"
            )
        uploaded = files.upload(s3, destination)

    train = sum(counts["train"] for counts in classes.values())
    return ExportResult(
        files=uploaded,
        train=train,
        test=written - train,
        excluded=sum(plan.reasons.values()),
        excluded_reasons=plan.reasons,
        classes=classes,
    )


def _csv_columns(plan: _Plan) -> list[str]:
    """Source attributes first (source-ref when no line has one), the label fields, then the team's attributes."""
    columns = [name for name in SOURCE_ATTRIBUTES if name in plan.sources] or [SOURCE_ATTRIBUTES[0]]
    return [*columns, *EXPORTED_FIELDS, *sorted(plan.attributes)]


def _planned_rows(
    lines: Iterable[ManifestLine], plan: _Plan, label_attribute: str, class_ids: Mapping[str, int]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The second pass: item key and exported row of each line the first pass kept, checked against its plan."""
    for line in lines:
        key = item_key(line.data)
        if key is None or plan.kept.get(key, (None, None))[0] != line.number:
            continue
        if exclusion_reason(line.data, label_attribute, class_ids) is not None:
            raise ManifestChangedError(f"line {line.number} ({key}) is no longer a consolidated label")
        row = training_row(line.data, label_attribute, class_ids)
        if row["label"] != plan.kept[key][1]:
            raise ManifestChangedError(f"line {line.number} ({key}) changed label between the two passes")
        yield key, row


class _SplitFiles:
    """The spooled `<split>.<format>` files of one export, each CSV file starting with its header row."""

    def __init__(self, spools: dict[str, IO[bytes]], formats: tuple[str, ...], columns: list[str]) -> None:
        self._spools = spools
        self._jsonl = "jsonl" in formats
        self._csv_writers = {
            split: csv.writer(_Utf8Sink(self._spools[f"{split}.csv"])) for split in SPLITS if "csv" in formats
        }
        self._columns = columns
        for writer in self._csv_writers.values():
            writer.writerow(columns)

    def write(self, split: str, row: Mapping[str, Any]) -> None:
        if self._jsonl:
            self._spools[f"{split}.jsonl"].write(orjson.dumps(row) + b"\n")
        if split in self._csv_writers:
            self._csv_writers[split].writerow([csv_cell(row.get(column)) for column in self._columns])

    def upload(self, s3: S3Client, destination: S3Location) -> dict[str, str]:
        """Every file under `destination`; file name -> S3 URI."""
        files: dict[str, str] = {}
        for name, spool in self._spools.items():
            location = destination.child(name)
            spool.seek(0)
            s3.upload_fileobj(
                spool,
                location.bucket,
                location.key,
                ExtraArgs={"ContentType": CONTENT_TYPES[name.rpartition(".")[2]], "ServerSideEncryption": "AES256"},
            )
            files[name] = location.uri
        return files
