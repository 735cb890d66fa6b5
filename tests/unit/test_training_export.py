"""Training exports: stratified, deterministic splits streamed to JSONL and CSV files in S3."""

from __future__ import annotations

import csv
import io
import math
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pytest

from groundcrew.consensus.decisions import Outcome
from groundcrew.core.manifests import ManifestLine, read_manifest, write_manifest
from groundcrew.core.s3_locations import S3Location
from groundcrew.core.splits import assign_splits
from groundcrew.workflows.classification import training_export
from groundcrew.workflows.classification.training_export import (
    ExportOptions,
    ExportResult,
    ManifestChangedError,
    csv_cell,
    export_training_data,
)

LABELS = ("circle", "square", "triangle")
ATTRIBUTE = "shapes"


def labeled(
    key: str, label: str | None, status: str = "consolidated", *, source: str = "source-ref", **attributes: Any
) -> dict[str, Any]:
    """One line of a merged output manifest, as the consolidation Lambda and Ground Truth write it."""
    return {
        source: key,
        **attributes,
        ATTRIBUTE: {
            "label": label,
            "class_id": LABELS.index(label) if label in LABELS else None,
            "status": status,
            "confidence": 0.75 if label else 0.0,
            "agreement": 0.5,
            "votes": {label: 3} if label else {},
            "answers": [{"worker_id": "w1", "label": label, "round": 1}],
            "rounds": 1,
        },
        f"{ATTRIBUTE}-metadata": {"type": "groundtruth/custom", "job-name": "shapes-job", "human-annotated": "yes"},
    }


def image(i: int) -> str:
    return f"s3://data/incoming/shapes/image-{i:06d}.png"


def export(
    s3: Any,
    bucket: str,
    lines: Iterable[dict[str, Any]],
    options: ExportOptions | None = None,
    labels: tuple[str, ...] = LABELS,
) -> ExportResult:
    manifest = S3Location(bucket, "batches/shapes/b1/output.manifest")
    write_manifest(s3, manifest, iter(lines))
    return export_training_data(
        s3,
        lambda: read_manifest(s3, manifest),
        ATTRIBUTE,
        labels,
        S3Location(bucket, "exports/b1/"),
        options or ExportOptions(),
    )


def read_jsonl(s3: Any, uri: str) -> list[dict[str, Any]]:
    location = S3Location.parse(uri)
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    return [orjson.loads(line) for line in body.splitlines()]


def read_csv(s3: Any, uri: str) -> list[list[str]]:
    location = S3Location.parse(uri)
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")
    return list(csv.reader(io.StringIO(body, newline="")))


# --- assign_splits ---------------------------------------------------------------------------------------------


def items(counts: dict[str, int]) -> list[tuple[str, str]]:
    return [(f"{label}-{i:04d}", label) for label, n in counts.items() for i in range(n)]


def test_split_is_stratified_per_class() -> None:
    pairs = items({"circle": 100, "square": 50, "triangle": 10, "hexagon": 7})

    splits = assign_splits(pairs, test_ratio=0.2, seed=7)

    test_counts = Counter(label for key, label in pairs if splits[key] == "test")
    assert test_counts == {"circle": 20, "square": 10, "triangle": 2, "hexagon": 1}  # round(1.4) == 1
    assert set(splits) == {key for key, _ in pairs}
    assert set(splits.values()) == {"train", "test"}


def test_split_is_deterministic_and_independent_of_input_order_and_other_classes() -> None:
    pairs = items({"circle": 40, "square": 30})
    shuffled = pairs[:]
    random.Random(1).shuffle(shuffled)

    first = assign_splits(pairs, 0.25, seed=3)

    assert assign_splits(pairs, 0.25, seed=3) == first
    assert assign_splits(shuffled, 0.25, seed=3) == first
    assert assign_splits(reversed(pairs), 0.25, seed=3) == first
    with_more = assign_splits([*shuffled, *items({"triangle": 12})], 0.25, seed=3)
    assert {key: split for key, split in with_more.items() if not key.startswith("triangle")} == first


def test_seed_changes_which_items_are_held_out_but_not_how_many() -> None:
    pairs = items({"circle": 40})
    a = assign_splits(pairs, 0.25, seed=0)
    b = assign_splits(pairs, 0.25, seed=1)
    assert a != b
    assert Counter(a.values()) == Counter(b.values()) == {"train": 30, "test": 10}


def test_split_does_not_depend_on_python_hash_seed() -> None:
    # str hashes are randomised per process; a split seeded from hash() would differ between these runs
    script = (
        "from groundcrew.core.splits import assign_splits;"
        "pairs = [(f'k{l}{i}', l) for l in ('circle', 'square') for i in range(20)];"
        "print(sorted(k for k, s in assign_splits(pairs, 0.3, 9).items() if s == 'test'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert outputs.pop().count("'k") == 12


@pytest.mark.parametrize(
    ("n", "ratio", "expected_test"),
    [
        (1, 0.5, 0),  # a single item trains
        (1, 0.9, 0),
        (2, 0.2, 0),  # round(0.4)
        (2, 0.5, 1),
        (2, 0.9, 1),  # round(1.8) == 2, but a class keeps a train item
        (3, 0.9, 2),
        (10, 0.0, 0),
        (4, 0.5, 2),
    ],
)
def test_tiny_classes_keep_a_train_item(n: int, ratio: float, expected_test: int) -> None:
    splits = assign_splits(items({"circle": n}), ratio, seed=0)
    assert Counter(splits.values())["test"] == expected_test
    assert Counter(splits.values())["train"] == n - expected_test


def test_split_of_nothing_is_empty() -> None:
    assert assign_splits([], 0.2, seed=0) == {}


def test_split_rejects_repeated_keys() -> None:
    with pytest.raises(ValueError, match="'a' is listed twice"):
        assign_splits([("a", "circle"), ("a", "square")], 0.2, seed=0)


@pytest.mark.parametrize("ratio", [1.0, 1.5, -0.1, math.nan])
def test_test_ratio_outside_zero_to_one_is_rejected(ratio: float) -> None:
    with pytest.raises(ValueError, match="test_ratio must be at least 0 and below 1"):
        ExportOptions(test_ratio=ratio)
    with pytest.raises(ValueError, match="test_ratio"):
        assign_splits(items({"circle": 3}), ratio, seed=0)


def test_unknown_or_missing_formats_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown export format\(s\) 'parquet': choose from jsonl, csv"):
        ExportOptions(formats=("jsonl", "parquet"))
    with pytest.raises(ValueError, match="formats is empty"):
        ExportOptions(formats=())


# --- csv_cell --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("-1.5", "'-1.5"),  # text, even if it looks like a number
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (-1.5, "-1.5"),  # numbers stay numbers
        (-3, "-3"),
        (0.93, "0.93"),
        (True, "true"),
        (None, ""),
        ({"a": [1, "=x"]}, '{"a":[1,"=x"]}'),
        (["-x"], '["-x"]'),
    ],
)
def test_csv_cells(value: Any, cell: str) -> None:
    assert csv_cell(value) == cell


# --- export_training_data --------------------------------------------------------------------------------------


def test_export_writes_split_files_with_counts(s3: Any, data_bucket: str) -> None:
    lines = [labeled(image(i), LABELS[i % 3], camera="front") for i in range(30)]

    result = export(s3, data_bucket, lines, ExportOptions(test_ratio=0.2, seed=1))

    prefix = f"s3://{data_bucket}/exports/b1"
    assert result.files == {
        "train.jsonl": f"{prefix}/train.jsonl",
        "test.jsonl": f"{prefix}/test.jsonl",
        "train.csv": f"{prefix}/train.csv",
        "test.csv": f"{prefix}/test.csv",
    }
    assert (result.train, result.test, result.excluded) == (24, 6, 0)
    assert result.classes == {label: {"train": 8, "test": 2} for label in LABELS}
    for name, content_type in [("train.jsonl", "application/x-ndjson"), ("test.csv", "text/csv")]:
        head = s3.head_object(Bucket=data_bucket, Key=f"exports/b1/{name}")
        assert head["ContentType"] == content_type
        assert head["ServerSideEncryption"] == "AES256"
    train, test = read_jsonl(s3, result.files["train.jsonl"]), read_jsonl(s3, result.files["test.jsonl"])
    assert len(train) == 24 and len(test) == 6
    assert {row["source-ref"] for row in train + test} == {image(i) for i in range(30)}
    expected_splits = assign_splits([(image(i), LABELS[i % 3]) for i in range(30)], 0.2, seed=1)
    assert {row["source-ref"] for row in test} == {k for k, s in expected_splits.items() if s == "test"}
    assert len(read_csv(s3, result.files["train.csv"])) == 1 + 24
    assert len(read_csv(s3, result.files["test.csv"])) == 1 + 6


def test_jsonl_rows_keep_the_teams_attributes_and_drop_the_label_attribute(s3: Any, data_bucket: str) -> None:
    line = {"camera": "front", **labeled(image(1), "square", metadata={"site": "Köln", "tags": ["a", "b"]})}
    line["previous-job"] = {"label": "x"}  # another job's attribute is the team's data: kept

    result = export(s3, data_bucket, [line], ExportOptions(test_ratio=0.0))

    (row,) = read_jsonl(s3, result.files["train.jsonl"])
    assert list(row) == ["source-ref", "camera", "metadata", "previous-job", "label", "class_id", "confidence"]
    assert row == {
        "source-ref": image(1),
        "camera": "front",
        "metadata": {"site": "Köln", "tags": ["a", "b"]},
        "previous-job": {"label": "x"},
        "label": "square",
        "class_id": 1,
        "confidence": 0.75,
    }
    assert read_jsonl(s3, result.files["test.jsonl"]) == []
    assert read_csv(s3, result.files["test.csv"]) == [
        ["source-ref", "label", "class_id", "confidence", "camera", "metadata", "previous-job"]
    ]


def test_class_id_follows_the_labels_order_not_the_line(s3: Any, data_bucket: str) -> None:
    line = labeled(image(1), "square")
    line[ATTRIBUTE]["class_id"] = 7

    result = export(s3, data_bucket, [line], ExportOptions(test_ratio=0.0), labels=("square", "circle"))

    assert read_jsonl(s3, result.files["train.jsonl"])[0]["class_id"] == 0


def test_excluded_lines_are_counted_by_reason(s3: Any, data_bucket: str) -> None:
    lines = [
        labeled(image(0), "circle"),
        labeled(image(1), None, "tie"),
        labeled(image(2), None, "tie"),
        labeled(image(3), None, "unresolved"),
        labeled(image(4), None, "no-valid-answers"),
        labeled(image(5), "hexagon"),  # consolidated, but not one of the labels
        {"source-ref": image(6)},  # never labeled
        {"source-ref": image(7), ATTRIBUTE: "circle"},  # not the consolidation's shape
        {"camera": "front", ATTRIBUTE: {"label": "circle", "status": "consolidated"}},  # no source
        labeled(image(0), "square"),  # a second copy of image 0
    ]

    result = export(s3, data_bucket, lines, ExportOptions(test_ratio=0.0))

    assert (result.train, result.test, result.excluded) == (1, 0, 9)
    assert result.excluded_reasons == {
        "duplicate": 1,
        "no source": 1,
        "no label": 2,
        "unknown label": 1,
        "tie": 2,
        "no-valid-answers": 1,
        "unresolved": 1,
    }
    assert result.classes == {
        "circle": {"train": 1, "test": 0},
        "square": {"train": 0, "test": 0},
        "triangle": {"train": 0, "test": 0},
    }
    assert [row["source-ref"] for row in read_jsonl(s3, result.files["train.jsonl"])] == [image(0)]


def test_zero_counts_are_reported_for_every_known_reason(s3: Any, data_bucket: str) -> None:
    result = export(s3, data_bucket, [labeled(image(0), "circle")])
    assert result.excluded == 0
    statuses = [outcome.value for outcome in Outcome if outcome is not Outcome.CONSOLIDATED]
    assert {"tie", "no-valid-answers"} <= set(statuses)
    assert result.excluded_reasons == dict.fromkeys(
        ["duplicate", "no source", "no label", "unknown label", *statuses], 0
    )


def test_first_copy_of_an_item_wins_even_when_it_is_not_labeled(s3: Any, data_bucket: str) -> None:
    lines = [
        labeled(image(0), None, "tie"),
        labeled(image(0), "circle"),
        labeled(image(1), "circle", camera="first"),
        labeled(image(1), "square", camera="second"),
        labeled(image(1), "square", camera="third"),
    ]

    result = export(s3, data_bucket, lines, ExportOptions(test_ratio=0.0))

    assert result.excluded_reasons["duplicate"] == 3
    assert result.excluded_reasons["tie"] == 1
    rows = read_jsonl(s3, result.files["train.jsonl"])
    assert [(row["source-ref"], row["label"], row["camera"]) for row in rows] == [(image(1), "circle", "first")]


def test_csv_neutralises_formulas_and_parses_back(s3: Any, data_bucket: str) -> None:
    lines = [
        labeled(
            "=cmd|'/C calc'!A0",
            "circle",
            source="source",
            note='+SUM(1,2), "quoted"\nsecond line',
            offset=-1.5,
            owner="@admin",
            tabbed="\t=1",
            returned="\r=1",
            ok="fine",
        ),
        labeled("-2+3", "square", source="source", offset=2, nested={"formula": "=1+1"}),
    ]

    result = export(s3, data_bucket, lines, ExportOptions(test_ratio=0.0, formats=("csv",)))

    assert set(result.files) == {"train.csv", "test.csv"}
    header, first, second = read_csv(s3, result.files["train.csv"])
    assert header == [
        "source",
        "label",
        "class_id",
        "confidence",
        "nested",
        "note",
        "offset",
        "ok",
        "owner",
        "returned",
        "tabbed",
    ]
    assert dict(zip(header, first, strict=True)) == {
        "source": "'=cmd|'/C calc'!A0",
        "label": "circle",
        "class_id": "0",
        "confidence": "0.75",
        "nested": "",
        "note": '\'+SUM(1,2), "quoted"\nsecond line',
        "offset": "-1.5",  # a number: not touched
        "ok": "fine",
        "owner": "'@admin",
        "returned": "'\r=1",
        "tabbed": "'\t=1",
    }
    assert dict(zip(header, second, strict=True))["source"] == "'-2+3"
    assert dict(zip(header, second, strict=True))["nested"] == '{"formula":"=1+1"}'
    assert dict(zip(header, second, strict=True))["note"] == ""
    assert s3.list_objects_v2(Bucket=data_bucket, Prefix="exports/b1/train.jsonl")["KeyCount"] == 0


def test_jsonl_is_the_exact_copy_nothing_is_neutralised(s3: Any, data_bucket: str) -> None:
    result = export(s3, data_bucket, [labeled("=1+1", "circle", source="source", note="@x")], ExportOptions(0.0))
    (row,) = read_jsonl(s3, result.files["train.jsonl"])
    assert (row["source"], row["note"]) == ("=1+1", "@x")


def test_csv_uses_crlf_line_endings_and_rfc4180_quoting(s3: Any, data_bucket: str) -> None:
    result = export(s3, data_bucket, [labeled(image(0), "circle", note='say "hi", ok')], ExportOptions(test_ratio=0.0))
    body = s3.get_object(Bucket=data_bucket, Key="exports/b1/train.csv")["Body"].read().decode()
    assert body == (f'source-ref,label,class_id,confidence,note\r\n{image(0)},circle,0,0.75,"say ""hi"", ok"\r\n')
    assert result.train == 1


def test_nested_and_missing_attributes_in_csv(s3: Any, data_bucket: str) -> None:
    lines = [
        labeled(image(0), "circle", metadata={"site": "Köln", "tags": ["a", "b"]}, camera="front"),
        labeled(image(1), "square", flags=[1, 2], empty=None),
        labeled(image(2), "triangle"),
    ]

    result = export(s3, data_bucket, lines, ExportOptions(test_ratio=0.0))

    header, *rows = read_csv(s3, result.files["train.csv"])
    assert header == ["source-ref", "label", "class_id", "confidence", "camera", "empty", "flags", "metadata"]
    by_key = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_key[image(0)]["metadata"] == '{"site":"Köln","tags":["a","b"]}'
    assert by_key[image(0)]["flags"] == ""
    assert by_key[image(1)]["flags"] == "[1,2]"
    assert by_key[image(1)]["empty"] == ""
    assert by_key[image(2)] == {
        "source-ref": image(2), "label": "triangle", "class_id": "2", "confidence": "0.75",
        "camera": "", "empty": "", "flags": "", "metadata": "",
    }  # fmt: skip


def test_unicode_keys_labels_and_attribute_names(s3: Any, data_bucket: str) -> None:
    labels = ("círculo", "四角")
    keys = ["s3://data/incoming/日本/画像 1.png", "s3://data/incoming/café+crème.png", "s3://data/😀.png"]
    lines = [
        {**labeled(key, None), ATTRIBUTE: {"label": labels[i % 2], "status": "consolidated", "confidence": 1.0}}
        | {"Ünïcode-attr": "ä"}
        for i, key in enumerate(keys)
    ]

    result = export(s3, data_bucket, lines, ExportOptions(test_ratio=0.0), labels=labels)

    assert result.train == 3
    assert result.classes == {"círculo": {"train": 2, "test": 0}, "四角": {"train": 1, "test": 0}}
    rows = read_jsonl(s3, result.files["train.jsonl"])
    assert [(row["source-ref"], row["label"], row["Ünïcode-attr"]) for row in rows] == [
        (keys[0], "círculo", "ä"),
        (keys[1], "四角", "ä"),
        (keys[2], "círculo", "ä"),
    ]
    header, *csv_rows = read_csv(s3, result.files["train.csv"])
    assert header[-1] == "Ünïcode-attr"
    assert [row[:2] for row in csv_rows] == [[keys[0], "círculo"], [keys[1], "四角"], [keys[2], "círculo"]]


def test_export_is_the_same_for_any_input_order(s3: Any, data_bucket: str) -> None:
    lines = [labeled(image(i), LABELS[i % 3]) for i in range(60)]
    first = export(s3, data_bucket, lines, ExportOptions(seed=5))
    first_test = {row["source-ref"] for row in read_jsonl(s3, first.files["test.jsonl"])}

    random.Random(2).shuffle(lines)
    second = export(s3, data_bucket, lines, ExportOptions(seed=5))

    assert {row["source-ref"] for row in read_jsonl(s3, second.files["test.jsonl"])} == first_test
    assert second.classes == first.classes == {label: {"train": 16, "test": 4} for label in LABELS}


def test_only_the_chosen_formats_are_written(s3: Any, data_bucket: str) -> None:
    result = export(s3, data_bucket, [labeled(image(0), "circle")], ExportOptions(formats=("jsonl",)))
    assert set(result.files) == {"train.jsonl", "test.jsonl"}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=data_bucket, Prefix="exports/")["Contents"]]
    assert sorted(keys) == ["exports/b1/test.jsonl", "exports/b1/train.jsonl"]


def test_an_export_with_nothing_to_train_on_writes_empty_files(s3: Any, data_bucket: str) -> None:
    result = export(s3, data_bucket, [labeled(image(0), None, "tie")])
    assert (result.train, result.test, result.excluded) == (0, 0, 1)
    assert read_jsonl(s3, result.files["train.jsonl"]) == []
    assert read_csv(s3, result.files["train.csv"]) == [["source-ref", "label", "class_id", "confidence"]]


@pytest.mark.parametrize("labels", [(), ("circle", "circle")])
def test_labels_must_be_distinct_and_present(s3: Any, data_bucket: str, labels: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="labels must be a non-empty list without repeats"):
        export(s3, data_bucket, [labeled(image(0), "circle")], labels=labels)


def test_attributes_that_clash_with_exported_fields_are_rejected(s3: Any, data_bucket: str) -> None:
    with pytest.raises(ValueError, match=r"line 2 \(s3://.*image-000001.png\): attribute\(s\) class_id, label would"):
        export(
            s3, data_bucket, [labeled(image(0), "circle"), {**labeled(image(1), "circle"), "label": "x", "class_id": 3}]
        )
    assert s3.list_objects_v2(Bucket=data_bucket, Prefix="exports/")["KeyCount"] == 0


def manifest_lines(data: list[dict[str, Any]]) -> Iterator[ManifestLine]:
    for number, line in enumerate(data, start=1):
        yield ManifestLine(number=number, raw_length=0, data=line)


def changing_manifest(
    first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> Callable[[], Iterator[ManifestLine]]:
    passes = iter([first, second])
    return lambda: manifest_lines(next(passes))


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ([labeled(image(0), "circle")], "found 1 of the 2 planned lines"),
        ([labeled(image(0), "circle"), labeled(image(1), "square")], "changed label between the two passes"),
        ([labeled(image(0), "circle"), labeled(image(1), None, "tie")], "no longer a consolidated label"),
    ],
)
def test_a_manifest_that_changes_between_passes_fails(
    s3: Any, data_bucket: str, second: list[dict[str, Any]], message: str
) -> None:
    first = [labeled(image(0), "circle"), labeled(image(1), "circle")]
    with pytest.raises(ManifestChangedError, match=message):
        export_training_data(
            s3, changing_manifest(first, second), ATTRIBUTE, LABELS, S3Location(data_bucket, "exports"), ExportOptions()
        )
    assert s3.list_objects_v2(Bucket=data_bucket, Prefix="exports")["KeyCount"] == 0


class RecordingSpool(tempfile.SpooledTemporaryFile):
    """Records the size limit of every spool the export opens."""

    max_sizes: list[int] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordingSpool.max_sizes.append(kwargs.get("max_size", 0))


def test_a_large_manifest_is_streamed_through_bounded_spools(
    s3: Any, data_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 20,000 lines, one in ten unresolved, and a handful of duplicates
    count = 20_000
    manifest = S3Location(data_bucket, "batches/shapes/big/output.manifest")

    def lines() -> Iterator[dict[str, Any]]:
        for i in range(count):
            if i % 10 == 9:
                yield labeled(image(i), None, "tie", camera="front")
            else:
                yield labeled(image(i), LABELS[i % 3], camera="front", metadata={"frame": i})
        for i in range(5):
            yield labeled(image(i), "square")

    write_manifest(s3, manifest, lines())
    passes: list[int] = []

    def read() -> Iterator[ManifestLine]:
        passes.append(1)
        return read_manifest(s3, manifest)

    RecordingSpool.max_sizes = []
    monkeypatch.setattr(training_export.tempfile, "SpooledTemporaryFile", RecordingSpool)

    result = export_training_data(
        s3, read, ATTRIBUTE, LABELS, S3Location(data_bucket, "exports/big"), ExportOptions(test_ratio=0.1, seed=42)
    )

    assert len(passes) == 2
    assert RecordingSpool.max_sizes.count(training_export.SPOOL_BYTES) >= 4
    labeled_count = count - count // 10
    assert result.train + result.test == labeled_count
    assert result.excluded == count // 10 + 5
    assert result.excluded_reasons["tie"] == count // 10
    assert result.excluded_reasons["duplicate"] == 5
    assert sum(c["train"] + c["test"] for c in result.classes.values()) == labeled_count
    for counts in result.classes.values():
        assert counts["test"] == round(0.1 * (counts["train"] + counts["test"]))
    train_rows = read_jsonl(s3, result.files["train.jsonl"])
    test_csv = read_csv(s3, result.files["test.csv"])
    assert len(train_rows) == result.train
    assert len(test_csv) == 1 + result.test
    assert train_rows[0]["metadata"]["frame"] == int(train_rows[0]["source-ref"][-10:-4])
