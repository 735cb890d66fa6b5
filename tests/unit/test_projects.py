"""Project documents: the shipped examples parse, and every mistake is reported against the field that has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from groundcrew.projects import FieldError, InvalidProject, Project, Workflow, parse_project

REPO = Path(__file__).resolve().parents[2]
STREET_SIGNS = REPO / "examples" / "projects" / "street-signs.yaml"
SHAPES = REPO / "local" / "groundcrew_local" / "sample_data" / "shapes" / "project.yaml"
SOURCE = "s3://data/projects/birds.yaml"


def document(**changes: Any) -> dict[str, Any]:
    """A minimal valid project document with `changes` applied (a value of None removes the field)."""
    doc: dict[str, Any] = {
        "name": "birds",
        "workflow": "image-classification",
        "labels": ["duck", "swan"],
        "task": {"title": "Which bird is it?", "description": "Classify the bird in the photo."},
    }
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def parse(doc: dict[str, Any], expected_name: str | None = None) -> Project:
    return parse_project(yaml.safe_dump(doc), source=SOURCE, expected_name=expected_name)


def field_errors(text: str | dict[str, Any], expected_name: str | None = None) -> dict[str, str]:
    body = text if isinstance(text, str) else yaml.safe_dump(text)
    with pytest.raises(InvalidProject) as info:
        parse_project(body, source=SOURCE, expected_name=expected_name)
    return {error.field: error.message for error in info.value.errors}


def test_street_signs_example_parses_with_its_own_attribute_name() -> None:
    project = parse_project(STREET_SIGNS.read_text(), source=str(STREET_SIGNS), expected_name="street-signs")
    assert project.name == "street-signs"
    assert project.workflow is Workflow.IMAGE_CLASSIFICATION
    assert project.labels == ["stop", "yield", "speed-limit", "no-entry", "other"]
    assert (
        project.workforce.workteam_arn == "arn:aws:sagemaker:eu-west-1:111122223333:workteam/private-crowd/sign-readers"
    )
    assert project.batch.max_items == 500
    assert project.task.keywords == ["image", "traffic signs"]
    assert project.attribute_name == "sign"
    assert project.incoming_prefix == "incoming/street-signs/"


def test_shapes_sample_parses_and_defaults_the_attribute_name_to_the_project_name() -> None:
    project = parse_project(SHAPES.read_bytes(), source=str(SHAPES), expected_name="shapes")
    assert project.labels == ["circle", "square", "triangle"]
    assert project.time_limits.task_seconds == 120
    assert project.label_attribute_name is None
    assert project.attribute_name == "shapes"


def test_minimal_document_gets_the_documented_defaults() -> None:
    project = parse(document())
    assert project.workers_per_object == 3
    assert project.batch.seal_marker == "_SEAL"
    assert project.batch.max_age_minutes == 60
    assert project.time_limits.task_seconds == 300
    assert project.workforce.workteam_arn is None


def test_misspelled_field_is_named_as_unknown() -> None:
    assert field_errors(document(worker_per_object=3)) == {"worker_per_object": "unknown field (check its spelling)"}


def test_misspelled_nested_field_names_its_path_and_the_missing_one() -> None:
    errors = field_errors(document(task={"titel": "x", "description": "y"}))
    assert errors == {"task.titel": "unknown field (check its spelling)", "task.title": "Field required"}


@pytest.mark.parametrize(
    ("workers", "message"),
    [(0, "Input should be greater than or equal to 1"), (10, "Input should be less than or equal to 9")],
)
def test_workers_per_object_outside_1_to_9(workers: int, message: str) -> None:
    assert field_errors(document(workers_per_object=workers)) == {"workers_per_object": message}


def test_duplicate_labels() -> None:
    errors = field_errors(document(labels=["duck", "swan", "duck"]))
    assert errors == {"labels": "label 'duck' appears twice; labels must be unique"}


def test_single_label_is_not_a_classification() -> None:
    errors = field_errors(document(labels=["duck"]))
    assert errors == {"labels": "needs at least 2 labels for image-classification"}


@pytest.mark.parametrize("name", ["Birds", "bird_watch", "birds-", "-birds", "bird--watch", "b" * 33])
def test_bad_project_name(name: str) -> None:
    errors = field_errors(document(name=name))
    assert list(errors) == ["name"]
    assert errors["name"].startswith(("must be lower-case letters and digits", "String should have at most 32"))


def test_name_must_match_the_file_it_is_stored_in() -> None:
    errors = field_errors(document(name="birds"), expected_name="bird")
    assert errors == {"name": "is 'birds' but the document is stored as 'bird'; they must match"}


def test_bad_workteam_arn() -> None:
    errors = field_errors(document(workforce={"workteam_arn": "arn:aws:sagemaker:us-east-1:1234:workteam/x"}))
    assert errors == {
        "workforce.workteam_arn": "must look like arn:aws:sagemaker:<region>:<account>:workteam/<type>/<name>"
    }


RESERVED = "must not be 'source' or 'source-ref' and must not end with '-metadata' or '-ref'"
PATTERN = "must be letters, digits and single hyphens (no '_', '.', '$'), at most 127 characters"


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("birds-metadata", RESERVED),
        ("birds-ref", RESERVED),
        ("source-ref", RESERVED),
        ("source", RESERVED),
        ("bird_label", PATTERN),
        ("bird.label", PATTERN),
        ("$birds", PATTERN),
    ],
)
def test_reserved_or_malformed_label_attribute_name(attribute: str, message: str) -> None:
    assert field_errors(document(label_attribute_name=attribute)) == {"label_attribute_name": message}


def test_task_time_limit_longer_than_availability() -> None:
    errors = field_errors(document(time_limits={"task_seconds": 3600, "availability_seconds": 600}))
    assert errors == {"time_limits": "task_seconds must not exceed availability_seconds"}


def test_keyword_outside_ground_truth_pattern() -> None:
    errors = field_errors(document(task={"title": "t", "description": "d", "keywords": ["traffic_signs"]}))
    assert errors == {
        "task.keywords": "keyword 'traffic_signs' must be 1-30 letters/digits, words separated by one space"
    }


def test_text_that_is_not_yaml_names_the_line() -> None:
    errors = field_errors("name: birds\nlabels: [duck, swan\n")
    (where, message), *_ = errors.items()
    assert where == "line 3"
    assert message.startswith("not valid YAML: while parsing a flow sequence")


@pytest.mark.parametrize("text", ["- name: birds\n", "just a string\n", ""])
def test_document_that_is_not_a_mapping(text: str) -> None:
    assert field_errors(text) == {"(document)": "must be a YAML mapping"}


def test_invalid_project_collects_every_error_and_names_its_source() -> None:
    with pytest.raises(InvalidProject) as info:
        parse(document(workers_per_object=0, labels=["duck"], colour="blue"))
    error = info.value
    assert error.source == SOURCE
    assert error.errors == [
        FieldError(field="labels", message="needs at least 2 labels for image-classification"),
        FieldError(field="workers_per_object", message="Input should be greater than or equal to 1"),
        FieldError(field="colour", message="unknown field (check its spelling)"),
    ]
    assert str(error) == (
        f"project document {SOURCE} is invalid: "
        "labels: needs at least 2 labels for image-classification; "
        "workers_per_object: Input should be greater than or equal to 1; "
        "colour: unknown field (check its spelling)"
    )
    assert isinstance(error, ValueError)


# -- consensus, quality, cost and export options ---------------------------------------------------------------


def test_the_default_policy_is_adaptive_majority() -> None:
    policy = parse(document()).consensus_policy
    assert (policy.kind, policy.method, policy.initial_answers, policy.max_answers) == ("adaptive", "majority", 2, 8)


def test_the_fixed_policy_asks_workers_per_object_once() -> None:
    policy = parse(document(workers_per_object=3, consensus={"policy": "fixed"})).consensus_policy
    assert (policy.kind, policy.initial_answers, policy.max_answers) == ("fixed", 3, 3)


def test_workers_per_object_with_the_adaptive_policy_is_refused() -> None:
    errors = field_errors(document(workers_per_object=3))
    assert "initial_answers" in errors["(document)"]


@pytest.mark.parametrize(
    ("consensus", "field", "message"),
    [
        ({"initial_answers": 4, "max_answers": 3}, "consensus", "initial_answers must not exceed max_answers"),
        ({"min_agreeing": 6, "max_answers": 5}, "consensus", "min_agreeing and min_margin can never hold"),
        ({"method": "vote"}, "consensus.method", "'majority' or 'dawid-skene'"),
        ({"policy": "sometimes"}, "consensus.policy", "'fixed' or 'adaptive'"),
        ({"rule": "majority"}, "consensus.rule", "unknown field"),
    ],
)
def test_incoherent_consensus_options(consensus: dict[str, Any], field: str, message: str) -> None:
    errors = field_errors(document(consensus=consensus))
    assert message in errors[field]


def test_a_gold_item_without_its_answer_is_named() -> None:
    errors = field_errors(document(quality={"gold": {"items": [{"key": "gold/birds/duck-1.png"}]}}))
    assert "gold item gold/birds/duck-1.png has no label" in errors["quality.gold.items"]


def test_gold_items_must_use_the_projects_labels_and_the_gold_prefix() -> None:
    unknown = field_errors(document(quality={"gold": {"items": [{"key": "gold/birds/x.png", "label": "goose"}]}}))
    assert "'goose', which is not in labels" in unknown["(document)"]
    elsewhere = field_errors(document(quality={"gold": {"items": [{"key": "incoming/birds/x.png", "label": "duck"}]}}))
    assert "quality.gold.items.0.key" in elsewhere


def test_the_public_workforce_needs_an_allowed_price() -> None:
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    assert "needs price_per_task_usd" in field_errors(document(workforce={"workteam_arn": public}))["workforce"]
    wrong = field_errors(document(workforce={"workteam_arn": public, "price_per_task_usd": 0.05}))["workforce"]
    assert "0.05 is not a price Ground Truth accepts" in wrong
    project = parse(document(workforce={"workteam_arn": public, "price_per_task_usd": 0.036}))
    assert project.workforce.public


def test_export_options_are_checked() -> None:
    assert "test_ratio" in " ".join(field_errors(document(export={"test_ratio": 1.0})))
    assert "export.formats.0" in field_errors(document(export={"formats": ["parquet"]}))
    assert parse(document(export={})).export is not None
    assert parse(document()).export is None


def test_the_documents_defaults_are_the_engines_defaults() -> None:
    from groundcrew.consensus.decisions import ConsensusPolicy

    assert parse(document()).consensus_policy == ConsensusPolicy()


def test_a_keypoints_project_takes_its_names_from_the_rig() -> None:
    doc = document(workflow="keypoints", labels=None, keypoints={"rig": "coco-person"}, workers_per_object=2)
    project = parse(doc)
    assert project.keypoints is not None and project.keypoints.rig == "coco-person"
    assert project.consensus_policy.initial_answers == 2  # every round asks workers_per_object workers
    assert "leave labels out" in field_errors(document(workflow="keypoints", keypoints={}))["labels"]
    assert "needs a keypoints section" in field_errors(document(workflow="keypoints", labels=None))["(document)"]
    assert "keypoints.rig" in field_errors(document(workflow="keypoints", labels=None, keypoints={"rig": "a/b.json"}))
    bad_url = field_errors(document(workflow="keypoints", labels=None, keypoints={"component_url": "http://x/c.js"}))
    assert "keypoints.component_url" in bad_url
    assert "apply to the keypoints workflow" in field_errors(document(keypoints={}))["(document)"]


MTURK = {"kind": "mturk", "price_per_task_usd": 0.05}


def test_mechanical_turk_workforce_takes_its_reward_and_defaults() -> None:
    project = parse(document(workforce=MTURK))
    assert project.workforce.kind == "mturk"
    settings = project.workforce.mturk_settings
    assert (settings.min_approval_rate, settings.min_approved_hits, settings.masters) == (95, 100, False)
    tuned = parse(document(workforce=MTURK | {"mturk": {"locales": ["US", "CA"], "masters": True}}))
    assert tuned.workforce.mturk_settings.locales == ["US", "CA"]
    assert project.time_limits.availability_seconds == 43_200  # HITs live at most 12 h unless told less


def test_mechanical_turk_hits_live_at_most_twelve_hours() -> None:
    limits = {"task_seconds": 300, "availability_seconds": 86_400}
    errors = field_errors(document(workforce=MTURK, time_limits=limits))
    assert any("presigned" in text for text in errors.values()), errors


@pytest.mark.parametrize(
    ("workforce", "message"),
    [
        ({"kind": "mturk"}, "reward per assignment"),
        (MTURK | {"price_per_task_usd": 0.001}, "at least 0.01"),
        (MTURK | {"workteam_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/t"}, "workteam_arn"),
        ({"mturk": {"masters": True}}, "applies to kind: mturk"),
        (MTURK | {"mturk": {"locales": ["usa"]}}, "pattern"),
    ],
)
def test_mechanical_turk_settings_are_checked(workforce: dict[str, Any], message: str) -> None:
    errors = field_errors(document(workforce=workforce))
    assert any(message in text for text in errors.values()), errors


def test_mechanical_turk_refuses_workflows_it_cannot_host() -> None:
    lidar = yaml.safe_load((REPO / "local/groundcrew_local/sample_data/lidar/project.yaml").read_text())
    lidar["workforce"] = MTURK
    assert "3D worker UI" in " ".join(field_errors(lidar).values())
    scenes = yaml.safe_load((REPO / "local/groundcrew_local/sample_data/scenes/project.yaml").read_text())
    scenes["workforce"] = MTURK
    assert "built-in task types" in " ".join(field_errors(scenes).values())


def test_a_document_nested_too_deeply_for_the_loader_is_an_invalid_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml reads deep nesting; the pure-Python loader (where libyaml is missing) hits Python's recursion limit,
    which must become a named problem, not an uncaught RecursionError that poisons the project's intake."""
    import yaml

    from groundcrew import projects

    monkeypatch.setattr(projects, "_YAML_LOADER", yaml.SafeLoader)
    with pytest.raises(projects.InvalidProject) as raised:
        projects.parse_project("a: " + "[" * 5000 + "]" * 5000, source="projects/deep.yaml")
    assert "nested too deeply" in raised.value.errors[0].message
