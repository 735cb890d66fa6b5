"""The label category configuration file of Ground Truth's 3D point cloud jobs (documentVersion 2020-03-01).

Teams describe labels and attributes in the project YAML (`PointCloudCategories`) or bring a file of their own.
`label_category_document` writes the JSON Ground Truth reads, `validate_label_category_document` checks a file
against docs/ground-truth-contracts.md section 3.2 and says what to fix, `categories_from_document` reads a valid
file back into the models. The rules are written once, over the camelCase document: the models check themselves
by building their own document, and translate the paths into the YAML's spelling.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from groundcrew.core.vocabulary import AuditMode

PointCloudTask = Literal["detection", "tracking", "segmentation"]
Severity = Literal["error", "warning"]
EditsAllowed = Literal["none", "any"]

DOCUMENT_VERSION = "2020-03-01"
MAX_LABELS = 30
MAX_NAME_CHARS = 16  # labels, attribute names and enum values alike
MAX_ENUM_VALUES = 10
MAX_DESCRIPTION_CHARS = 128
MAX_ATTRIBUTES = 10  # per label (global + its own) and per frame
MAX_FREE_TEXT_ATTRIBUTES = 5
MAX_SHORT_INSTRUCTION = 255  # exclusive: Ground Truth wants fewer characters than this
MAX_FULL_INSTRUCTION = 2048  # exclusive
ATTRIBUTE_TYPES = ("string", "number")
EDITS_ALLOWED = ("none", "any")
# Ground Truth's LabelAttributeName pattern (contracts 6.1); kept here because groundcrew.projects imports this module.
AUDIT_LABEL_ATTRIBUTE_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")

_TOP_KEYS = (
    "documentVersion",
    "labels",
    "categoryGlobalAttributes",
    "frameAttributes",
    "instructions",
    "auditLabelAttributeName",
)
_LABEL_KEYS = ("label", "categoryAttributes", "editsAllowed")
_ATTRIBUTE_KEYS = ("name", "type", "enum", "description", "minimum", "maximum", "editsAllowed", "isRequired")
_INSTRUCTION_KEYS = ("shortInstruction", "fullInstruction")
# Spellings of one AWS example (3D-2D tracking); whether Ground Truth accepts them is UNCONFIRMED, so they are errors.
_LABEL_ALTERNATES = {"attributes": "categoryAttributes"}
_INSTRUCTION_ALTERNATES = {"shortIntroduction": "shortInstruction", "fullIntroduction": "fullInstruction"}
_LEGACY_VERSION_KEY = "document-version"
_VIDEO_ONLY_KEY = "annotationType"


@dataclass(frozen=True, slots=True)
class CategoryProblem:
    """One broken rule: where (a path like labels[1].categoryAttributes[0].enum), which rule, and how to fix it."""

    path: str
    rule: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.path or 'document'}: {self.message}"


class InvalidLabelCategories(ValueError):
    """Label categories Ground Truth would reject; `problems` lists every broken rule (warnings included)."""

    def __init__(self, problems: Sequence[CategoryProblem]) -> None:
        self.problems = list(problems)
        errors = [str(problem) for problem in self.problems if problem.severity == "error"]
        super().__init__(f"label category configuration has {len(errors)} error(s): " + "; ".join(errors))


# ---------------------------------------------------------------------------------------------------------------
# Project-side models (a section of the project YAML)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryAttribute(_Strict):
    """A question workers answer about each object of a label, or about a whole frame."""

    name: str = Field(
        description="What workers see, 1-16 characters; unique among a label's own and the global attributes "
        "(and among the frame attributes)."
    )
    type: Literal["string", "number"] = Field(
        description="string: free text, or a choice when enum is given. number: an integer from minimum to maximum."
    )
    enum: list[str] | None = Field(
        default=None,
        description="The choices of a string attribute: 1-10 values of 1-16 characters. Without it the answer is "
        "free text (at most 5 free-text attributes per label and per frame).",
    )
    description: str | None = Field(
        default=None, description="Help shown to workers, at most 128 characters; required for frame attributes."
    )
    minimum: StrictInt | None = Field(
        default=None, description="Smallest answer of a number attribute (inclusive); required with type number."
    )
    maximum: StrictInt | None = Field(
        default=None, description="Largest answer of a number attribute (inclusive); required with type number."
    )
    edits_allowed: EditsAllowed | None = Field(
        default=None,
        description="In adjustment jobs: none keeps workers from changing the earlier answer. Ground Truth's "
        "default is any.",
    )
    required: StrictBool | None = Field(default=None, description="Whether workers must answer before submitting.")

    @model_validator(mode="after")
    def _ground_truth_rules(self) -> CategoryAttribute:
        _raise_errors(_attribute_problems(_attribute_object(self), "", frame=False))
        return self


class LabelCategory(_Strict):
    """A class workers draw (or paint), with the questions asked about each of its objects."""

    label: str = Field(description="The class name workers pick, 1-16 characters, unique among the labels.")
    attributes: list[CategoryAttribute] = Field(
        default_factory=list,
        description="Questions about objects of this label, asked besides global_attributes: at most 10 together, "
        "at most 5 of them free text. Not allowed for segmentation (Ground Truth ignores them there).",
    )
    edits_allowed: EditsAllowed | None = Field(
        default=None,
        description="In adjustment jobs: none keeps workers from changing objects of this label. Verification "
        "jobs always get none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_label(cls, data: Any) -> Any:
        # `labels: [Car, Truck]` is the common case in YAML: a bare string is a label without attributes.
        return {"label": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _ground_truth_rules(self) -> LabelCategory:
        _raise_errors(_label_text_problems(self.label, ""))
        return self


class PointCloudCategories(_Strict):
    """What the label category file of a 3D point cloud job says: labels, attributes and instructions."""

    labels: list[LabelCategory] = Field(
        min_length=1,
        max_length=MAX_LABELS,
        description="1-30 labels, each a name or {label, attributes, edits_allowed}.",
    )
    global_attributes: list[CategoryAttribute] = Field(
        default_factory=list,
        description="Questions asked about objects of every label (they count towards each label's 10 and 5 free "
        "text). Not allowed for segmentation.",
    )
    frame_attributes: list[CategoryAttribute] = Field(
        default_factory=list,
        description="Questions about the whole frame: at most 10, at most 5 free text, each with a description.",
    )
    short_instruction: str | None = Field(
        default=None, description="Shown beside the task, fewer than 255 characters (HTML allowed)."
    )
    full_instruction: str | None = Field(
        default=None, description="Shown on demand, fewer than 2048 characters (HTML allowed)."
    )

    @model_validator(mode="after")
    def _ground_truth_rules(self) -> PointCloudCategories:
        _raise_errors(_content_problems(_categories_body(self, verification=False)))
        return self


# ---------------------------------------------------------------------------------------------------------------
# Public functions


def label_category_document(
    categories: PointCloudCategories,
    *,
    task: PointCloudTask,
    audit: AuditMode | None = None,
    audit_label_attribute: str | None = None,
) -> dict[str, Any]:
    """The label category file Ground Truth reads for a 3D point cloud job (write it as JSON)."""
    document: dict[str, Any] = {
        "documentVersion": DOCUMENT_VERSION,
        **_categories_body(categories, verification=audit is AuditMode.VERIFICATION),
    }
    if audit_label_attribute is not None:
        document["auditLabelAttributeName"] = audit_label_attribute
    # The task rules (audit name, segmentation) are checked once, on what Ground Truth will read.
    errors = [p for p in validate_label_category_document(document, task=task, audit=audit) if p.severity == "error"]
    if errors:
        raise InvalidLabelCategories([_in_project_terms(p) for p in errors])
    return document


def validate_label_category_document(
    document: Any, *, task: PointCloudTask, audit: AuditMode | None = None
) -> list[CategoryProblem]:
    """Every rule a team-provided label category file breaks for this job (file rules, then job rules); [] if none."""
    problems = _document_problems(document)
    if isinstance(document, dict):
        problems += _job_problems(document, task=task, audit=audit)
    return problems


def categories_from_document(document: dict[str, Any]) -> PointCloudCategories:
    """The models of a label category file a team brings (its auditLabelAttributeName belongs to the job, not here)."""
    problems = _document_problems(document)
    if any(problem.severity == "error" for problem in problems):
        raise InvalidLabelCategories(problems)
    instructions = document.get("instructions", {})
    return PointCloudCategories(
        labels=[
            LabelCategory(
                label=entry["label"],
                attributes=[_attribute_model(item) for item in entry.get("categoryAttributes", [])],
                edits_allowed=entry.get("editsAllowed"),
            )
            for entry in document["labels"]
        ],
        global_attributes=[_attribute_model(item) for item in document.get("categoryGlobalAttributes", [])],
        frame_attributes=[_attribute_model(item) for item in document.get("frameAttributes", [])],
        short_instruction=instructions.get("shortInstruction"),
        full_instruction=instructions.get("fullInstruction"),
    )


# ---------------------------------------------------------------------------------------------------------------
# Models <-> document


def _attribute_object(attribute: CategoryAttribute) -> dict[str, Any]:
    values = {
        "name": attribute.name,
        "type": attribute.type,
        "enum": attribute.enum,
        "description": attribute.description,
        "minimum": attribute.minimum,
        "maximum": attribute.maximum,
        "editsAllowed": attribute.edits_allowed,
        "isRequired": attribute.required,
    }
    return {key: value for key, value in values.items() if value is not None}


def _attribute_model(item: Mapping[str, Any]) -> CategoryAttribute:
    return CategoryAttribute(
        name=item["name"],
        type=item["type"],
        enum=item.get("enum"),
        description=item.get("description"),
        minimum=item.get("minimum"),
        maximum=item.get("maximum"),
        edits_allowed=item.get("editsAllowed"),
        required=item.get("isRequired"),
    )


def _categories_body(categories: PointCloudCategories, *, verification: bool) -> dict[str, Any]:
    labels: list[dict[str, Any]] = []
    for category in categories.labels:
        entry: dict[str, Any] = {"label": category.label}
        if category.attributes:
            entry["categoryAttributes"] = [_attribute_object(attribute) for attribute in category.attributes]
        # Verification jobs need editsAllowed "none" on every labels[] entry (contracts 3.2).
        edits_allowed = "none" if verification else category.edits_allowed
        if edits_allowed is not None:
            entry["editsAllowed"] = edits_allowed
        labels.append(entry)
    body: dict[str, Any] = {"labels": labels}
    if categories.global_attributes:
        body["categoryGlobalAttributes"] = [_attribute_object(a) for a in categories.global_attributes]
    if categories.frame_attributes:
        body["frameAttributes"] = [_attribute_object(a) for a in categories.frame_attributes]
    instructions = {
        key: value
        for key, value in (
            ("shortInstruction", categories.short_instruction),
            ("fullInstruction", categories.full_instruction),
        )
        if value is not None
    }
    if instructions:
        body["instructions"] = instructions
    return body


_PROJECT_SPELLING = {
    "categoryGlobalAttributes": "global_attributes",
    "categoryAttributes": "attributes",
    "frameAttributes": "frame_attributes",
    "instructions.shortInstruction": "short_instruction",
    "instructions.fullInstruction": "full_instruction",
    "auditLabelAttributeName": "audit_label_attribute",
    "editsAllowed": "edits_allowed",
    "isRequired": "required",
}
_PROJECT_SPELLING_PATTERN = re.compile("|".join(re.escape(key) for key in _PROJECT_SPELLING))


def _in_project_terms(problem: CategoryProblem) -> CategoryProblem:
    """A problem in the project YAML's spelling (labels[0].categoryAttributes -> labels[0].attributes)."""

    def respell(text: str) -> str:
        return _PROJECT_SPELLING_PATTERN.sub(lambda match: _PROJECT_SPELLING[match.group(0)], text)

    return replace(problem, path=respell(problem.path), message=respell(problem.message))


def _raise_errors(problems: Sequence[CategoryProblem]) -> None:
    """Inside a model validator: pydantic reports a ValueError at the model's own location."""
    errors = [_in_project_terms(p) for p in problems if p.severity == "error"]
    if errors:
        raise ValueError("; ".join(str(p) if p.path else p.message for p in errors))


# ---------------------------------------------------------------------------------------------------------------
# The rules, over a camelCase document whose values may be anything


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (str, "a string"), (int, "a number"), (float, "a number")):
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _wrong_type(path: str, expected: str, value: Any) -> CategoryProblem:
    return CategoryProblem(path, "wrong-type", f"must be {expected}, not {_json_type(value)} ({value!r})")


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _closest_key(key: str, known: Sequence[str]) -> str | None:
    # Compare without case, '_' and '-', so edits_allowed, EditsAllowed and edits-allowed all find editsAllowed.
    def squash(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    by_squashed = {squash(candidate): candidate for candidate in known}
    matches = difflib.get_close_matches(squash(key), list(by_squashed), n=1, cutoff=0.75)
    return by_squashed[matches[0]] if matches else None


def _key_problems(
    obj: Mapping[str, Any], path: str, *, known: Sequence[str], alternates: Mapping[str, str], what: str
) -> list[CategoryProblem]:
    problems = []
    for key in obj:
        if key in known:
            continue
        key_path = _join(path, key)
        if key in alternates:
            problems.append(
                CategoryProblem(
                    key_path,
                    "alternate-key",
                    f"{key!r} appears in only one AWS example and Ground Truth may not read it: rename it to "
                    f"{alternates[key]!r}, the name the label category schema documents",
                )
            )
            continue
        guess = _closest_key(key, known)
        hint = f"did you mean {guess!r}?" if guess else f"the keys of {what} are {', '.join(known)}"
        problems.append(CategoryProblem(key_path, "unknown-key", f"{key!r} is not a key of {what}: {hint}"))
    return problems


def _label_text_problems(label: Any, path: str) -> list[CategoryProblem]:
    if not isinstance(label, str):
        return [_wrong_type(path, "a string", label)]
    if not 1 <= len(label) <= MAX_NAME_CHARS:
        return [
            CategoryProblem(
                path,
                "label-length",
                f"label {label!r} is {len(label)} characters; Ground Truth allows 1-{MAX_NAME_CHARS}: shorten it",
            )
        ]
    return []


def _edits_allowed_problems(container: Mapping[str, Any], path: str) -> list[CategoryProblem]:
    if "editsAllowed" not in container or container["editsAllowed"] in EDITS_ALLOWED:
        return []
    return [
        CategoryProblem(
            _join(path, "editsAllowed"),
            "edits-allowed-value",
            f"editsAllowed is {container['editsAllowed']!r}; use 'none' (workers may not change it) or 'any'",
        )
    ]


def _attribute_problems(attribute: Any, path: str, *, frame: bool) -> list[CategoryProblem]:
    """The rules one attribute object keeps on its own; `frame` for frameAttributes entries."""
    if not isinstance(attribute, dict):
        return [_wrong_type(path, "an attribute object with name and type", attribute)]
    problems = _key_problems(attribute, path, known=_ATTRIBUTE_KEYS, alternates={}, what="an attribute")
    name = attribute.get("name")
    if "name" not in attribute:
        problems.append(CategoryProblem(_join(path, "name"), "required-key", "add a name of 1-16 characters"))
    elif not isinstance(name, str):
        problems.append(_wrong_type(_join(path, "name"), "a string", name))
    elif not 1 <= len(name) <= MAX_NAME_CHARS:
        problems.append(
            CategoryProblem(
                _join(path, "name"),
                "attribute-name-length",
                f"attribute name {name!r} is {len(name)} characters; Ground Truth allows 1-{MAX_NAME_CHARS}: "
                "shorten it (the description can say more)",
            )
        )
    kind = attribute.get("type")
    if "type" not in attribute:
        problems.append(CategoryProblem(_join(path, "type"), "required-key", "add type: 'string' or 'number'"))
    elif kind not in ATTRIBUTE_TYPES:
        problems.append(
            CategoryProblem(
                _join(path, "type"),
                "attribute-type",
                f"type is {kind!r}; use 'string' (free text, or a choice with enum) or 'number' (an integer range)",
            )
        )
    problems += _enum_problems(attribute, path)
    problems += _description_problems(attribute, path, frame=frame)
    problems += _range_problems(attribute, path)
    problems += _edits_allowed_problems(attribute, path)
    if "isRequired" in attribute and not isinstance(attribute["isRequired"], bool):
        problems.append(_wrong_type(_join(path, "isRequired"), "true or false", attribute["isRequired"]))
    return problems


def _called(attribute: Mapping[str, Any]) -> str:
    """How messages name an attribute."""
    name = attribute.get("name")
    return f"attribute {name!r}" if isinstance(name, str) else "this attribute"


def _enum_problems(attribute: Mapping[str, Any], path: str) -> list[CategoryProblem]:
    if "enum" not in attribute:
        return []
    enum_path, enum = _join(path, "enum"), attribute["enum"]
    if not isinstance(enum, list):
        return [_wrong_type(enum_path, "a list of strings", enum)]
    problems = []
    if attribute.get("type") == "number":
        problems.append(
            CategoryProblem(
                enum_path,
                "enum-needs-string-type",
                f"{_called(attribute)} is a number, but enum is only allowed with type 'string': set type to "
                "'string' for a choice, or remove enum and give minimum and maximum for a number",
            )
        )
    if not 1 <= len(enum) <= MAX_ENUM_VALUES:
        problems.append(
            CategoryProblem(
                enum_path,
                "enum-count",
                f"enum has {len(enum)} values; Ground Truth allows 1-{MAX_ENUM_VALUES}: "
                + ("remove enum to ask for free text" if not enum else "keep the 10 that matter most"),
            )
        )
    for index, value in enumerate(enum):
        value_path = _join(enum_path, index)
        if not isinstance(value, str):
            problems.append(_wrong_type(value_path, "a string", value))
        elif not 1 <= len(value) <= MAX_NAME_CHARS:
            problems.append(
                CategoryProblem(
                    value_path,
                    "enum-value-length",
                    f"enum value {value!r} is {len(value)} characters; Ground Truth allows 1-{MAX_NAME_CHARS}: "
                    "shorten it",
                )
            )
    return problems


def _description_problems(attribute: Mapping[str, Any], path: str, *, frame: bool) -> list[CategoryProblem]:
    description_path = _join(path, "description")
    if "description" not in attribute:
        if not frame:
            return []
        return [
            CategoryProblem(
                description_path,
                "frame-description-required",
                f"frame {_called(attribute)} has no description, which frame attributes need: add one (at most "
                "128 characters) saying what to answer",
            )
        ]
    description = attribute["description"]
    if not isinstance(description, str):
        return [_wrong_type(description_path, "a string", description)]
    if len(description) > MAX_DESCRIPTION_CHARS:
        return [
            CategoryProblem(
                description_path,
                "description-length",
                f"the description of {_called(attribute)} is {len(description)} characters; Ground Truth allows "
                f"at most {MAX_DESCRIPTION_CHARS}: shorten it (long guidance belongs in the full instruction)",
            )
        ]
    return []


def _range_problems(attribute: Mapping[str, Any], path: str) -> list[CategoryProblem]:
    problems = [
        _wrong_type(_join(path, key), "an integer", attribute[key])
        for key in ("minimum", "maximum")
        if key in attribute and not _is_integer(attribute[key])
    ]
    bounds = [key for key in ("minimum", "maximum") if key in attribute]
    kind = attribute.get("type")
    if kind == "number":
        missing = [key for key in ("minimum", "maximum") if key not in attribute]
        if missing:
            problems.append(
                CategoryProblem(
                    _join(path, missing[0]) if len(missing) == 1 else path,
                    "number-range-required",
                    f"{_called(attribute)} is a number, so it needs integer minimum and maximum (inclusive): add "
                    + " and ".join(missing),
                )
            )
        elif (
            _is_integer(attribute["minimum"])
            and _is_integer(attribute["maximum"])
            and attribute["minimum"] > attribute["maximum"]
        ):
            problems.append(
                CategoryProblem(
                    path,
                    "number-range-order",
                    f"{_called(attribute)} has minimum {attribute['minimum']} greater than maximum "
                    f"{attribute['maximum']}: swap them",
                )
            )
    elif kind == "string" and bounds:
        # Not a documented rule: Ground Truth documents bounds for numbers only, so a bound here is a mistake.
        problems.append(
            CategoryProblem(
                _join(path, bounds[0]),
                "range-needs-number-type",
                f"{_called(attribute)} is a string, but minimum and maximum apply to type 'number' only: set type "
                "to 'number' or remove " + " and ".join(bounds),
            )
        )
    return problems


def _attribute_list(
    container: Mapping[str, Any], key: str, path: str, *, frame: bool
) -> tuple[list[CategoryProblem], list[tuple[str, Any]]]:
    """The problems of one attribute list, and its entries with their paths for the rules across attributes."""
    if key not in container:
        return [], []
    list_path, value = _join(path, key), container[key]
    if not isinstance(value, list):
        return [_wrong_type(list_path, "a list of attribute objects", value)], []
    if not value:
        # Not documented either way; AWS doc samples show `[...]` here as a placeholder for the reader to fill.
        return [
            CategoryProblem(
                list_path,
                "empty-attribute-list",
                "the attribute list is empty (a '[...]' placeholder left in?): list the attributes or remove the key",
                "warning",
            )
        ], []
    problems: list[CategoryProblem] = []
    for index, entry in enumerate(value):
        problems += _attribute_problems(entry, _join(list_path, index), frame=frame)
    return problems, [(_join(list_path, index), entry) for index, entry in enumerate(value)]


def _is_free_text(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("type") == "string" and "enum" not in entry


def _duplicate_name_problems(
    entries: Sequence[tuple[str, Any]], first_use: dict[str, str], *, scope: str
) -> list[CategoryProblem]:
    """Names used twice; `first_use` maps names already taken (the global attributes, for a label) to their path."""
    problems = []
    for path, entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_use:
            problems.append(
                CategoryProblem(
                    _join(path, "name"),
                    "duplicate-attribute-name",
                    f"attribute name {name!r} is already used at {first_use[name]}; {scope} need unique names: "
                    "rename one of them",
                )
            )
        else:
            first_use[name] = path
    return problems


def _quota_problems(entries: Sequence[tuple[str, Any]], path: str, *, owner: str) -> list[CategoryProblem]:
    problems = []
    if len(entries) > MAX_ATTRIBUTES:
        problems.append(
            CategoryProblem(
                path,
                "attribute-count",
                f"{owner} has {len(entries)} attributes; Ground Truth allows at most {MAX_ATTRIBUTES}: remove "
                f"{len(entries) - MAX_ATTRIBUTES}",
            )
        )
    free_text = sum(1 for _, entry in entries if _is_free_text(entry))
    if free_text > MAX_FREE_TEXT_ATTRIBUTES:
        problems.append(
            CategoryProblem(
                path,
                "free-text-count",
                f"{owner} has {free_text} free-text attributes (type 'string' without enum); Ground Truth allows at "
                f"most {MAX_FREE_TEXT_ATTRIBUTES}: give {free_text - MAX_FREE_TEXT_ATTRIBUTES} of them an enum or "
                "remove them",
            )
        )
    return problems


def _labels_problems(document: Mapping[str, Any], global_entries: Sequence[tuple[str, Any]]) -> list[CategoryProblem]:
    if "labels" not in document:
        return [CategoryProblem("labels", "labels-required", 'add labels: a list of 1-30 {"label": ...} objects')]
    labels = document["labels"]
    if not isinstance(labels, list):
        return [_wrong_type("labels", "a list of label objects", labels)]
    problems = _label_count_problems(labels)
    global_names = {
        entry["name"]: path
        for path, entry in global_entries
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    }
    global_within_quota = len(_quota_problems(global_entries, "", owner="")) == 0
    seen: dict[str, str] = {}
    for index, entry in enumerate(labels):
        path = _join("labels", index)
        if not isinstance(entry, dict):
            problems.append(_wrong_type(path, 'a label object like {"label": "Car"}', entry))
            continue
        problems += _key_problems(entry, path, known=_LABEL_KEYS, alternates=_LABEL_ALTERNATES, what="a label")
        problems += _label_name_problems(entry, path, seen)
        problems += _edits_allowed_problems(entry, path)
        problems += _label_attribute_problems(
            entry, path, global_entries, global_names, global_within_quota=global_within_quota
        )
    return problems


def _label_count_problems(labels: list[Any]) -> list[CategoryProblem]:
    if 1 <= len(labels) <= MAX_LABELS:
        return []
    return [
        CategoryProblem(
            "labels",
            "label-count",
            f"labels has {len(labels)} entries; Ground Truth allows 1-{MAX_LABELS}: "
            + ("add at least one label" if not labels else f"remove {len(labels) - MAX_LABELS}"),
        )
    ]


def _label_name_problems(entry: Mapping[str, Any], path: str, seen: dict[str, str]) -> list[CategoryProblem]:
    """The label's name: present, well formed and not used by an earlier label (`seen` maps names to paths)."""
    problems = []
    label = entry.get("label")
    if "label" not in entry:
        problems.append(CategoryProblem(_join(path, "label"), "required-key", "add label: its name, 1-16 characters"))
    else:
        problems += _label_text_problems(label, _join(path, "label"))
    if isinstance(label, str):
        if label in seen:
            problems.append(
                CategoryProblem(
                    _join(path, "label"),
                    "duplicate-label",
                    f"label {label!r} already appears at {seen[label]}; labels must be unique: remove or rename "
                    "this one",
                )
            )
        else:
            seen[label] = path
    return problems


def _label_attribute_problems(
    entry: Mapping[str, Any],
    path: str,
    global_entries: Sequence[tuple[str, Any]],
    global_names: Mapping[str, str],
    *,
    global_within_quota: bool,
) -> list[CategoryProblem]:
    """A label's own attribute lists, their names beside the global ones, and the quotas of both together."""
    problems: list[CategoryProblem] = []
    own_entries: list[tuple[str, Any]] = []
    for key in ("categoryAttributes", *_LABEL_ALTERNATES):
        key_problems, key_entries = _attribute_list(entry, key, path, frame=False)
        problems += key_problems
        own_entries += key_entries
    problems += _duplicate_name_problems(
        own_entries, dict(global_names), scope="a label's own attributes and the global attributes"
    )
    # When the global attributes alone break a quota, that is said once, at categoryGlobalAttributes.
    if global_within_quota:
        label = entry.get("label")
        owner = f"label {label!r} (global and own attributes together)" if isinstance(label, str) else path
        problems += _quota_problems([*global_entries, *own_entries], _join(path, "categoryAttributes"), owner=owner)
    return problems


def _instruction_problems(document: Mapping[str, Any]) -> list[CategoryProblem]:
    if "instructions" not in document:
        return []
    instructions = document["instructions"]
    if not isinstance(instructions, dict):
        return [_wrong_type("instructions", "an object with shortInstruction and fullInstruction", instructions)]
    problems = _key_problems(
        instructions,
        "instructions",
        known=_INSTRUCTION_KEYS,
        alternates=_INSTRUCTION_ALTERNATES,
        what="instructions",
    )
    limits = {"shortInstruction": MAX_SHORT_INSTRUCTION, "fullInstruction": MAX_FULL_INSTRUCTION}
    for key, value in instructions.items():
        limit = limits.get(_INSTRUCTION_ALTERNATES.get(str(key), str(key)))
        if limit is None:
            continue
        path = _join("instructions", key)
        if not isinstance(value, str):
            problems.append(_wrong_type(path, "a string (HTML allowed)", value))
        elif len(value) >= limit:
            which = "short" if limit == MAX_SHORT_INSTRUCTION else "full"
            fix = "move detail to the full instruction" if which == "short" else "link to a longer guide instead"
            problems.append(
                CategoryProblem(
                    path,
                    "instruction-length",
                    f"the {which} instruction is {len(value)} characters; Ground Truth needs fewer than {limit}: "
                    f"shorten it ({fix})",
                )
            )
    return problems


def _content_problems(document: Mapping[str, Any]) -> list[CategoryProblem]:
    """Labels, attributes and instructions: the rules the project models share with team files."""
    global_problems, global_entries = _attribute_list(document, "categoryGlobalAttributes", "", frame=False)
    frame_problems, frame_entries = _attribute_list(document, "frameAttributes", "", frame=True)
    problems = _labels_problems(document, global_entries)
    problems += global_problems
    problems += _duplicate_name_problems(global_entries, {}, scope="the global attributes")
    problems += _quota_problems(
        global_entries, "categoryGlobalAttributes", owner="categoryGlobalAttributes (asked for every label)"
    )
    problems += frame_problems
    problems += _duplicate_name_problems(frame_entries, {}, scope="frame attributes")
    problems += _quota_problems(frame_entries, "frameAttributes", owner="frameAttributes")
    problems += _instruction_problems(document)
    return problems


def _version_problems(document: Mapping[str, Any]) -> list[CategoryProblem]:
    problems = []
    if _LEGACY_VERSION_KEY in document:
        # Both spellings appear in AWS docs; which one Ground Truth validates is UNCONFIRMED: steer to the common one.
        problems.append(
            CategoryProblem(
                _LEGACY_VERSION_KEY,
                "document-version-spelling",
                "rename 'document-version' to 'documentVersion': every 3D point cloud example but one spells it so "
                "(which spelling Ground Truth reads is not documented)",
                "warning",
            )
        )
    present = [key for key in ("documentVersion", _LEGACY_VERSION_KEY) if key in document]
    if not present:
        problems.append(
            CategoryProblem(
                "documentVersion",
                "document-version-missing",
                f"add documentVersion: {DOCUMENT_VERSION!r} (every AWS example of a 3D point cloud file has it)",
                "warning",
            )
        )
    for key in present:
        if document[key] != DOCUMENT_VERSION:
            problems.append(
                CategoryProblem(
                    key,
                    "document-version",
                    f"{key} is {document[key]!r}; 3D point cloud label category files are version "
                    f"{DOCUMENT_VERSION!r} ('2018-11-28' is for image and text tasks): set it to {DOCUMENT_VERSION!r}",
                )
            )
    return problems


def _document_problems(document: Any) -> list[CategoryProblem]:
    """Every rule that does not depend on the job the file is for."""
    if not isinstance(document, dict):
        return [
            CategoryProblem(
                "",
                "not-an-object",
                f"a label category file is a JSON object with documentVersion and labels, not {_json_type(document)}",
            )
        ]
    problems = []
    for key in document:
        if key == _VIDEO_ONLY_KEY:
            problems.append(
                CategoryProblem(
                    key,
                    "unsupported-key",
                    "annotationType configures video frame and 3D-2D tracking jobs, which groundcrew does not run: "
                    "remove it",
                )
            )
        elif key != _LEGACY_VERSION_KEY:
            problems += _key_problems({key: None}, "", known=_TOP_KEYS, alternates={}, what="a label category file")
    return problems + _version_problems(document) + _content_problems(document)


def _job_problems(
    document: Mapping[str, Any], *, task: PointCloudTask, audit: AuditMode | None
) -> list[CategoryProblem]:
    """The rules that depend on the job: audits, verification and segmentation."""
    problems = _audit_attribute_problems(document, audit)
    labels = document.get("labels")
    label_entries = (
        [(index, entry) for index, entry in enumerate(labels) if isinstance(entry, dict)]
        if isinstance(labels, list)
        else []
    )
    if audit is AuditMode.VERIFICATION:
        problems += _verification_problems(label_entries)
    if task == "segmentation":
        problems += _segmentation_problems(document, label_entries)
    return problems


def _audit_attribute_problems(document: Mapping[str, Any], audit: AuditMode | None) -> list[CategoryProblem]:
    """auditLabelAttributeName: required by audits (adjustment, verification), refused otherwise."""
    key = "auditLabelAttributeName"
    if audit is None and key in document:
        return [
            CategoryProblem(
                key,
                "audit-label-attribute-unexpected",
                "only adjustment and verification jobs read auditLabelAttributeName: remove it, or run the job as an "
                "audit of the earlier job",
            )
        ]
    if audit is not None and key not in document:
        return [
            CategoryProblem(
                key,
                "audit-label-attribute-required",
                f"{audit.value} jobs need auditLabelAttributeName: set it to the LabelAttributeName of the job "
                "whose labels are reviewed",
            )
        ]
    if audit is not None and not (
        isinstance(document[key], str) and AUDIT_LABEL_ATTRIBUTE_PATTERN.match(document[key])
    ):
        return [
            CategoryProblem(
                key,
                "audit-label-attribute-pattern",
                f"auditLabelAttributeName {document[key]!r} is not a label attribute name (letters and digits, "
                "inner '-' allowed, at most 127 characters): copy the earlier job's LabelAttributeName exactly",
            )
        ]
    return []


def _verification_problems(label_entries: Sequence[tuple[int, Mapping[str, Any]]]) -> list[CategoryProblem]:
    return [
        CategoryProblem(
            _join(_join("labels", index), "editsAllowed"),
            "verification-edits-allowed",
            f"verification jobs must not let workers change labels, so every label needs editsAllowed "
            f"'none'; label {entry.get('label')!r} has "
            + (f"{entry['editsAllowed']!r}" if "editsAllowed" in entry else "none set")
            + ": set it to 'none'",
        )
        for index, entry in label_entries
        if entry.get("editsAllowed") != "none"
    ]


def _segmentation_problems(
    document: Mapping[str, Any], label_entries: Sequence[tuple[int, Mapping[str, Any]]]
) -> list[CategoryProblem]:
    # Ground Truth ignores label category attributes in 3D semantic segmentation (contracts 3.2): refusing them
    # beats letting a team believe workers will answer them. Frame attributes are shown and stay allowed.
    placed = [("categoryGlobalAttributes", document.get("categoryGlobalAttributes"))]
    for index, entry in label_entries:
        for attribute_key in ("categoryAttributes", *_LABEL_ALTERNATES):
            placed.append((_join(_join("labels", index), attribute_key), entry.get(attribute_key)))
    return [
        CategoryProblem(
            path,
            "segmentation-category-attributes",
            "Ground Truth ignores label category attributes in 3D point cloud semantic segmentation, so "
            "workers would never answer them: remove them (frame attributes are shown and allowed)",
        )
        for path, value in placed
        if isinstance(value, list) and value
    ]
