"""Labeling projects: the YAML document a team writes under `projects/<name>.yaml` of the data bucket.

The document is validated into `Project`; anything that does not validate becomes `InvalidProject`, whose
errors name the field, so the rejection event tells the author exactly what to fix.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from groundcrew.consensus.decisions import ConsensusPolicy
from groundcrew.core.vocabulary import AuditMode, ConsensusMethod, PolicyKind, Workflow
from groundcrew.workflows.point_cloud import tasks as point_cloud_tasks
from groundcrew.workflows.point_cloud.label_categories import PointCloudCategories

PROJECTS_PREFIX = "projects/"
INCOMING_PREFIX = "incoming/"
IMPORTS_PREFIX = "imports/"
# Project names end up in job names, execution names and label attribute names, whose patterns are strict.
PROJECT_NAME_PATTERN = re.compile(r"^[a-z0-9](?:-?[a-z0-9])*$")
PROJECT_NAME_MAX = 32
LABEL_ATTRIBUTE_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")
WORKTEAM_ARN_PATTERN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.*$")
TASK_KEYWORD_PATTERN = re.compile(r"^[A-Za-z0-9]+( [A-Za-z0-9]+)*$")
# Ground Truth limits (CreateLabelingJob HumanTaskConfig), see docs/ground-truth-contracts.md section 6.1.
MIN_TASK_SECONDS, MAX_TASK_SECONDS = 30, 28_800
MAX_TASK_SECONDS_POINT_CLOUD = point_cloud_tasks.MAX_TASK_SECONDS
MIN_AVAILABILITY_SECONDS, MAX_AVAILABILITY_SECONDS = 60, 2_592_000
# A project document is a page of YAML: larger ones are refused unread (a 4 MB one took 24 s and 442 MB to parse).
MAX_PROJECT_BYTES = 1_048_576
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the same safe subset, much faster
# HIT lifetime cap for workforce kind mturk: Ground Truth's own limit for Mechanical Turk tasks (contracts 6.1).
MTURK_MAX_LIFETIME_SECONDS = 43_200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PUBLIC_WORKTEAM_PATTERN = re.compile(r":workteam/public-crowd/default$")
# Prices Ground Truth accepts for the public (Mechanical Turk) workforce, USD per task, by task family
# (PublicWorkforceTaskPrice; docs/ground-truth-contracts.md section 6.1). Custom and classification tasks share a list.
PUBLIC_TASK_PRICES_USD: tuple[Decimal, ...] = tuple(
    Decimal(mills) / 1000 for mills in (12, 24, 36, 48, 60, 72, 120, 240, 360, 480, 600, 720, 840, 960, 1080, 1200)
)


class MTurkSettings(_Strict):
    """HITs on Amazon Mechanical Turk (workforce kind `mturk`): who may work on them and how answers are kept.

    The reward is `workforce.price_per_task_usd`; task_seconds and availability_seconds of `time_limits` become each
    HIT's AssignmentDurationInSeconds and LifetimeInSeconds; title, description and keywords come from `task`.
    """

    min_approval_rate: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=95, description="Workers need at least this percentage of their assignments approved"
    )
    min_approved_hits: Annotated[int, Field(ge=0)] | None = Field(
        default=100, description="Workers need at least this many approved HITs"
    )
    locales: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(
        default_factory=list, description="ISO country codes workers must be in (empty: anywhere)"
    )
    masters: bool = Field(default=False, description="Masters workers only (Mechanical Turk adds 5% to its fee)")
    auto_approval_delay_seconds: Annotated[int, Field(ge=0, le=2_592_000)] = Field(
        default=259_200, description="Submitted answers we neither approve nor reject are approved after this"
    )
    min_seconds_per_task: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=2.0, description="Answers submitted faster than this are rejected as spam (with the reason)"
    )
    frame_height: Annotated[int, Field(ge=0, le=10_000)] = Field(
        default=0, description="Height of the task frame in pixels; 0 lets Mechanical Turk size it"
    )


class LabelStudioSettings(_Strict):
    """Tasks in a self-hosted Label Studio server (workforce kind `labelstudio`); the stack names the server.

    Each batch is one Label Studio project, titled with its batch id; every round of the batch asks its tasks for
    more answers through their overlap.
    """

    title: Annotated[str, Field(min_length=3, max_length=30)] | None = Field(
        default=None,
        description="Put before the batch id in each batch's Label Studio project title (the batch id alone when "
        "omitted: it starts with the project name)",
    )
    project_id: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="A Label Studio project of yours to put every batch in (empty, or set up by groundcrew for the "
        "same labels); when omitted, groundcrew creates one project per batch",
    )
    annotators: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]] = Field(
        default_factory=list,
        description="E-mail addresses of the Label Studio users whose annotations count (empty: every user of "
        "the organisation); annotations by anyone else are rejected with the reason",
    )
    show_skip_button: bool = Field(default=True, description="Whether annotators may skip a task")
    sampling: Literal["Uniform sampling", "Sequential sampling"] = Field(
        default="Uniform sampling", description="The order Label Studio hands tasks to annotators in"
    )
    color: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = Field(
        default="#2E7D32", description="The projects' colour in Label Studio's project list"
    )


class Workforce(_Strict):
    kind: Literal["groundtruth", "mturk", "labelstudio"] = Field(
        default="groundtruth",
        description="groundtruth: Ground Truth labeling jobs; mturk: our own HITs on Amazon Mechanical Turk; "
        "labelstudio: tasks on your own Label Studio server (the stack's LabelStudioUrl)",
    )
    mturk: MTurkSettings | None = Field(default=None, description="HIT settings when kind is mturk")
    labelstudio: LabelStudioSettings | None = Field(
        default=None, description="Label Studio settings when kind is labelstudio"
    )
    workteam_arn: str | None = Field(
        default=None, description="Private or vendor workteam ARN; the stack's DefaultWorkteamArn when omitted."
    )
    price_per_task_usd: Decimal | None = Field(
        default=None,
        ge=0,
        le=100,
        decimal_places=3,
        description="What one answer costs you, in USD. Required for the public workforce (one of Ground Truth's "
        "allowed prices, sent as PublicWorkforceTaskPrice); for private and vendor teams it only feeds the "
        "spend reports.",
    )

    @field_validator("workteam_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not WORKTEAM_ARN_PATTERN.match(value):
            raise ValueError("must look like arn:aws:sagemaker:<region>:<account>:workteam/<type>/<name>")
        return value

    @model_validator(mode="after")
    def _public_price(self) -> Workforce:
        if self.workteam_arn and PUBLIC_WORKTEAM_PATTERN.search(self.workteam_arn):
            if self.price_per_task_usd is None:
                raise ValueError("the public workforce needs price_per_task_usd (Ground Truth pays workers per task)")
            if self.price_per_task_usd not in PUBLIC_TASK_PRICES_USD:
                allowed = ", ".join(str(p) for p in PUBLIC_TASK_PRICES_USD)
                raise ValueError(
                    f"price_per_task_usd {self.price_per_task_usd} is not a price Ground Truth accepts for the "
                    f"public workforce; choose one of {allowed}"
                )
        return self

    @model_validator(mode="after")
    def _mturk_fits(self) -> Workforce:
        if self.kind != "mturk":
            if self.mturk is not None:
                raise ValueError("workforce.mturk applies to kind: mturk")
            return self
        if self.workteam_arn is not None:
            raise ValueError(
                "kind: mturk posts HITs on Mechanical Turk itself; leave workteam_arn out (it names Ground Truth teams)"
            )
        if self.price_per_task_usd is None or self.price_per_task_usd < Decimal("0.01"):
            raise ValueError("kind: mturk needs price_per_task_usd, the reward per assignment (at least 0.01 USD)")
        return self

    @model_validator(mode="after")
    def _labelstudio_fits(self) -> Workforce:
        if self.kind != "labelstudio":
            if self.labelstudio is not None:
                raise ValueError("workforce.labelstudio applies to kind: labelstudio")
            return self
        if self.workteam_arn is not None:
            raise ValueError(
                "kind: labelstudio sends tasks to your Label Studio server (the stack's LabelStudioUrl); leave "
                "workteam_arn out (it names Ground Truth teams)"
            )
        return self

    @model_validator(mode="after")
    def _one_labelstudio_project(self) -> Workforce:
        settings = self.labelstudio
        if settings is not None and settings.project_id is not None and settings.title is not None:
            raise ValueError("workforce.labelstudio takes project_id (a project of yours) or title, not both")
        return self

    @property
    def labelstudio_settings(self) -> LabelStudioSettings:
        """The Label Studio settings (their defaults when the project leaves workforce.labelstudio out)."""
        return self.labelstudio or LabelStudioSettings()

    @property
    def public(self) -> bool:
        return bool(self.workteam_arn and PUBLIC_WORKTEAM_PATTERN.search(self.workteam_arn))

    @property
    def mturk_settings(self) -> MTurkSettings:
        """The HIT settings (their defaults when the project leaves workforce.mturk out)."""
        return self.mturk or MTurkSettings()


class Consensus(_Strict):
    """How many answers each item gets and how they become one label."""

    policy: PolicyKind = Field(
        default=PolicyKind.ADAPTIVE,
        description="fixed: workers_per_object answers for every item, one job. adaptive: initial_answers first, "
        "then follow-up jobs on only the items whose stop rule does not hold, up to max_answers.",
    )
    method: ConsensusMethod = Field(
        default=ConsensusMethod.MAJORITY,
        description="majority: one worker, one vote. dawid-skene: votes weighted by each worker's estimated "
        "confusion matrix (EM over the whole batch, seeded with the workers' history).",
    )
    # Defaults: on a binary task with 90 %-accurate workers and 5 % spammers this beats fixed 3-worker majority
    # by about 2 points with about 0.84 of its answers (`groundcrew simulate consensus`; README).
    initial_answers: Annotated[int, Field(ge=1, le=9)] = 2
    max_answers: Annotated[int, Field(ge=1, le=20)] = 8
    min_agreeing: Annotated[int, Field(ge=1, le=20)] = 2
    min_margin: Annotated[int, Field(ge=1, le=20)] = 2
    min_confidence: Annotated[float | None, Field(gt=0, le=1)] = None
    max_rounds: Annotated[int, Field(ge=1, le=10)] = 4

    @model_validator(mode="after")
    def _coherent(self) -> Consensus:
        if self.initial_answers > self.max_answers:
            raise ValueError("initial_answers must not exceed max_answers")
        if self.policy is PolicyKind.ADAPTIVE and max(self.min_agreeing, self.min_margin) > self.max_answers:
            raise ValueError("min_agreeing and min_margin can never hold when they exceed max_answers")
        return self


class GoldItem(_Strict):
    key: str = Field(
        min_length=6,
        max_length=1024,
        pattern=r"^gold/[^/].*[^/]$",
        description="Key of the object in the data bucket, under gold/ (e.g. gold/shapes/circle-1.png): the "
        "Ground Truth role may read only that prefix besides incoming/",
    )
    label: str = Field(min_length=1, description="The known answer; must be one of the project's labels")


class Gold(_Strict):
    items: list[GoldItem] = Field(default_factory=list, max_length=1000)
    rate: Annotated[float, Field(ge=0, le=0.5)] = 0.1

    @field_validator("items", mode="before")
    @classmethod
    def _labelled(cls, values: Any) -> Any:
        # A gold item without its answer can never score a worker: say which one, not just "Field required".
        if isinstance(values, list):
            for index, value in enumerate(values):
                if isinstance(value, dict) and not value.get("label"):
                    where = value.get("key") or f"#{index}"
                    raise ValueError(f"gold item {where} has no label: a gold item needs its known answer")
        return values


class Quality(_Strict):
    gold: Gold = Gold()
    flag_below: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.7, description="Workers whose accuracy (gold, else agreement) falls below this are flagged"
    )
    min_evidence: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=5, description="Answers a worker needs before they can be flagged"
    )


RIG_KEY_PATTERN = r"^rigs/[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$"


class Keypoints(_Strict):
    """The keypoint workflow: which rig workers place, where the component comes from, what happens to flags."""

    rig: str = Field(
        default="coco-person",
        description="A preset (coco-person, vehicle-box-truck) or a rig document in the data bucket (rigs/<name>.yaml)",
    )
    component_url: str | None = Field(
        default=None,
        pattern=r"^https://[^\s\"'<>]+$",
        description="HTTPS URL of crowd-2d-skeleton.js; the stack's SkeletonComponentUrl when omitted",
    )
    send_back_flagged: bool = Field(
        default=True,
        description="Items the quality checks flag go back for an adjustment round (within consensus.max_rounds)",
    )

    @field_validator("rig")
    @classmethod
    def _rig(cls, value: str) -> str:
        if "/" in value and not re.match(RIG_KEY_PATTERN, value):
            raise ValueError("must be a preset name or a key like rigs/<name>.yaml in the data bucket")
        return value


IMPORT_FORMATS = ("coco", "labelme", "cvat", "label-studio", "voc", "yolo")  # groundcrew.importing.FORMATS
SEGMENTATION_IMPORT_FORMATS = IMPORT_FORMATS[:4]
HEX_COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"


class Adjustment(_Strict):
    """Adjustment workflows: the labels come from another tool's annotation files dropped under imports/<project>/."""

    format: Literal["coco", "labelme", "cvat", "label-studio", "voc", "yolo"] = Field(
        description="The tool that wrote the annotation files (boxes: voc, yolo; masks: the others)"
    )
    images_prefix: str = Field(
        pattern=r"^images/.+/$",
        description="Where the annotations' image file names are found: a key prefix under images/, ending in '/'",
    )
    imported_attribute: str = Field(
        default="imported",
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,100}$",
        description="Label attribute the imported labels are written under (masks get '-ref' appended)",
    )
    colors: dict[str, Annotated[str, Field(pattern=HEX_COLOR_PATTERN)]] = Field(
        default_factory=dict, description="Mask colours by label (#rrggbb); the others are generated"
    )


ADJUSTMENT_WORKFLOWS = frozenset(w.value for w in Workflow if w.adjusts_imports)
POINT_CLOUD_WORKFLOWS = frozenset(w.value for w in Workflow if w.is_point_cloud)


class Trial(_Strict):
    """Run the first `items` items as a job of their own, and the rest only when its output passes the checks."""

    items: Annotated[int, Field(ge=1, le=100)] = 5


ATTRIBUTE_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$"


class PointCloudAudit(_Strict):
    """Review an earlier job's labels: drop that job's output manifest under imports/<project>/."""

    mode: AuditMode = Field(description="adjustment: workers correct the labels; verification: they only judge them")
    label_attribute: str = Field(
        pattern=ATTRIBUTE_NAME_PATTERN,
        description="The earlier job's LabelAttributeName (with its '-ref' for tracking and segmentation)",
    )


class PointCloud(_Strict):
    """3D point cloud workflows: the label categories workers use and how raw frames become Ground Truth frames."""

    categories: PointCloudCategories = Field(
        description="Labels with their attributes, frame attributes and instructions (the label category file)"
    )
    format: Literal["auto", "binary/xyz", "binary/xyzi", "binary/xyzrgb", "binary/xyzirgb"] = Field(
        default="auto", description="What frames are converted to; auto keeps what each file has (intensity, colour)"
    )
    scene_document: str = Field(
        default="scene.json",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*\.json$",
        description="The sidecar in each scene folder with timestamps, ego poses and cameras",
    )
    audit: PointCloudAudit | None = Field(default=None, description="Adjust or verify an earlier job's labels")


class Export(_Strict):
    test_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.2
    seed: int = 0
    formats: list[Literal["jsonl", "csv"]] = Field(default=["jsonl", "csv"], min_length=1)


class BatchPolicy(_Strict):
    max_items: Annotated[int, Field(ge=1, le=100_000)] = 1000
    seal_marker: str = Field(default="_SEAL", min_length=1, max_length=128, pattern=r"^[^/]+$")
    max_age_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60


class Task(_Strict):
    title: str = Field(min_length=1, max_length=128)
    description: str = Field(min_length=1, max_length=255)
    instructions: str = Field(default="Choose the label that best describes the image.", max_length=2000)
    full_instructions: str = Field(default="", max_length=20_000)
    keywords: list[str] = Field(default_factory=lambda: ["image", "classification"], min_length=1, max_length=5)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, values: list[str]) -> list[str]:
        for value in values:
            if len(value) > 30 or not TASK_KEYWORD_PATTERN.match(value):
                raise ValueError(f"keyword {value!r} must be 1-30 letters/digits, words separated by one space")
        return values


class TimeLimits(_Strict):
    task_seconds: Annotated[int, Field(ge=MIN_TASK_SECONDS, le=MAX_TASK_SECONDS_POINT_CLOUD)] = Field(
        default=300, description=f"At most {MAX_TASK_SECONDS} s, or {MAX_TASK_SECONDS_POINT_CLOUD} s for point clouds"
    )
    availability_seconds: Annotated[int, Field(ge=MIN_AVAILABILITY_SECONDS, le=MAX_AVAILABILITY_SECONDS)] = 864_000
    job_deadline_hours: Annotated[int, Field(ge=1, le=30 * 24)] = 14 * 24

    @model_validator(mode="after")
    def _task_fits_availability(self) -> TimeLimits:
        if self.task_seconds > self.availability_seconds:
            raise ValueError("task_seconds must not exceed availability_seconds")
        return self


class Project(_Strict):
    name: str = Field(min_length=1, max_length=PROJECT_NAME_MAX)
    workflow: Workflow
    labels: list[str] = Field(
        default_factory=list, max_length=30, description="Classification labels (keypoint names come from the rig)"
    )
    keypoints: Keypoints | None = None
    workforce: Workforce = Workforce()
    workers_per_object: Annotated[int, Field(ge=1, le=9)] = 3
    consensus: Consensus = Consensus()
    quality: Quality = Quality()
    export: Export | None = Field(default=None, description="Training export (train/test split) when set")
    batch: BatchPolicy = BatchPolicy()
    task: Task
    time_limits: TimeLimits = TimeLimits()
    label_attribute_name: str | None = Field(default=None, max_length=127)
    adjustment: Adjustment | None = Field(default=None, description="Adjustment workflows: where the labels come from")
    trial: Trial | None = Field(default=None, description="Adjustment workflows: a trial job before the full one")
    pointcloud: PointCloud | None = Field(default=None, description="3D point cloud workflows: categories and frames")

    @model_validator(mode="before")
    @classmethod
    def _one_worker_adjusts(cls, data: Any) -> Any:
        # One worker correcting a label is the norm; Ground Truth's own Lambdas merge several if asked for.
        if isinstance(data, dict) and data.get("workflow") in ADJUSTMENT_WORKFLOWS:
            data = {"workers_per_object": 1, **data}
        if isinstance(data, dict) and data.get("workflow") in POINT_CLOUD_WORKFLOWS:
            # Lidar tasks take hours, not minutes: the task pages' default instead of the image one.
            limits = data.get("time_limits")
            if limits is None or (isinstance(limits, dict) and "task_seconds" not in limits):
                limits = {"task_seconds": point_cloud_tasks.DEFAULT_TASK_SECONDS, **(limits or {})}
            data = {"workers_per_object": point_cloud_tasks.WORKERS_PER_OBJECT, **data, "time_limits": limits}
        workforce = data.get("workforce") if isinstance(data, dict) else None
        point_cloud = isinstance(data, dict) and data.get("workflow") in POINT_CLOUD_WORKFLOWS  # refused later
        if isinstance(workforce, dict) and workforce.get("kind") == "mturk" and not point_cloud:
            limits = data.get("time_limits")
            if limits is None or (isinstance(limits, dict) and "availability_seconds" not in limits):
                limits = {"availability_seconds": MTURK_MAX_LIFETIME_SECONDS, **(limits or {})}
            data = {**data, "time_limits": limits}
        return data

    @model_validator(mode="after")
    def _point_cloud_fits(self) -> Project:
        if not self.workflow.is_point_cloud:
            if self.pointcloud is not None:
                raise ValueError(f"pointcloud options apply to the pointcloud-* workflows, not {self.workflow.value}")
            if self.time_limits.task_seconds > MAX_TASK_SECONDS:
                raise ValueError(f"time_limits.task_seconds must be at most {MAX_TASK_SECONDS} for this workflow")
            return self
        if self.pointcloud is None:
            raise ValueError(f"a {self.workflow.value} project needs a pointcloud section (at least categories)")
        if self.labels:
            raise ValueError(
                "a point cloud project takes its labels from pointcloud.categories.labels; leave labels out"
            )
        if self.workers_per_object != point_cloud_tasks.WORKERS_PER_OBJECT:
            raise ValueError(
                "3D point cloud jobs take exactly one worker per frame or sequence (workers_per_object: 1)"
            )
        if self.workforce.public:
            raise ValueError(
                "Ground Truth does not offer 3D point cloud tasks to the public (Mechanical Turk) workforce; "
                "name a private or vendor workteam_arn"
            )
        unused = [
            name
            for name, value in (("consensus", self.consensus != Consensus()), ("quality", self.quality != Quality()))
            if value
        ] + [name for name in ("keypoints", "adjustment", "trial", "export") if getattr(self, name) is not None]
        if unused:
            raise ValueError(f"{', '.join(unused)} do not apply to point clouds (Ground Truth consolidates nothing)")
        task = point_cloud_tasks.task_for(self.workflow)
        audit = self.pointcloud.audit
        if audit is not None:
            earlier = audit.label_attribute
            if task.labels_are_files != earlier.endswith("-ref"):
                rule = "ends in '-ref'" if task.labels_are_files else "never ends in '-ref'"
                raise ValueError(
                    f"pointcloud.audit.label_attribute {earlier!r}: a {task.kind} job's label attribute {rule} "
                    "(contracts 6.1); give the earlier job's LabelAttributeName exactly"
                )
            if earlier == self.attribute_name:
                raise ValueError(
                    f"label_attribute_name {self.attribute_name!r} is the earlier job's; "
                    "the audit job must write its labels under another name"
                )
        if task.kind == "segmentation" and any(
            label.attributes for label in self.pointcloud.categories.labels
        ):  # the categories model also checks; this names the project field
            raise ValueError("Ground Truth ignores label attributes in 3D semantic segmentation; use frame_attributes")
        return self

    @model_validator(mode="after")
    def _mturk_workflow_fits(self) -> Project:
        if self.workforce.kind != "mturk":
            return self
        if self.workflow.is_point_cloud:
            raise ValueError(
                f"{self.workflow.value} runs on Ground Truth's own 3D worker UI, which Mechanical Turk HITs cannot "
                "host; use kind: groundtruth with a private or vendor workteam"
            )
        if self.workflow.adjusts_imports:
            raise ValueError(
                f"{self.workflow.value} uses Ground Truth's built-in task types (their worker UI and Lambdas); "
                "Mechanical Turk HITs take image-classification and keypoints projects"
            )
        if self.time_limits.availability_seconds > MTURK_MAX_LIFETIME_SECONDS:
            raise ValueError(
                f"time_limits.availability_seconds {self.time_limits.availability_seconds} is longer than a HIT may "
                f"live here ({MTURK_MAX_LIFETIME_SECONDS} s, Ground Truth's own limit for Mechanical Turk tasks): the "
                "images on a HIT's page are presigned URLs that must outlive it"
            )
        return self

    @model_validator(mode="after")
    def _labelstudio_workflow_fits(self) -> Project:
        if self.workforce.kind != "labelstudio":
            return self
        if self.workflow.is_point_cloud:
            raise ValueError(
                f"{self.workflow.value} needs 3D point cloud tools, which Label Studio does not have; use kind: "
                "groundtruth with a private or vendor workteam"
            )
        return self

    @model_validator(mode="after")
    def _adjustment_fits(self) -> Project:
        if not self.workflow.adjusts_imports:
            if self.adjustment is not None or self.trial is not None:
                raise ValueError(
                    f"adjustment and trial apply to the adjustment workflows, not {self.workflow.value} "
                    "(whose rounds already start small: consensus.initial_answers)"
                )
            return self
        if self.adjustment is None:
            raise ValueError(f"a {self.workflow.value} project needs an adjustment section (format, images_prefix)")
        masks = self.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT
        if masks != (self.adjustment.format in SEGMENTATION_IMPORT_FORMATS):
            wanted = "coco, labelme, cvat or label-studio" if masks else "voc or yolo"
            raise ValueError(
                f"adjustment.format {self.adjustment.format} does not fit {self.workflow.value}; use {wanted}"
            )
        unknown = sorted(set(self.adjustment.colors) - set(self.labels))
        if unknown:
            raise ValueError(f"adjustment.colors names labels that are not in labels: {unknown}")
        colors = [c.lower() for c in self.adjustment.colors.values()]
        if len(set(colors)) != len(colors) or "#ffffff" in colors:
            raise ValueError("adjustment.colors must be distinct and not #ffffff (BACKGROUND's colour)")
        if masks and len(self.labels) > 255:
            raise ValueError("an 8-bit mask holds at most 255 labels")
        if self.attribute_name == self.imported_attribute_name:
            raise ValueError(
                f"label_attribute_name {self.attribute_name!r} is where the imported labels are; "
                "Ground Truth needs the adjustment job to write under another name"
            )
        if self.quality.gold.items or self.export is not None:
            raise ValueError("quality.gold and export apply to classification; adjustment jobs export COCO")
        if self.consensus != Consensus():
            raise ValueError("consensus options do not apply: Ground Truth's own Lambdas consolidate adjustments")
        return self

    @model_validator(mode="after")
    def _consensus_fits(self) -> Project:
        if self.workflow is Workflow.KEYPOINTS:
            if self.keypoints is None:
                raise ValueError("a keypoints project needs a keypoints section (at least keypoints.rig)")
        elif self.keypoints is not None:
            raise ValueError(f"keypoints options apply to the keypoints workflow, not {self.workflow.value}")
        if (
            self.workflow is Workflow.IMAGE_CLASSIFICATION
            and self.consensus.policy is PolicyKind.ADAPTIVE
            and "workers_per_object" in self.model_fields_set
        ):
            raise ValueError(
                "workers_per_object is the fixed policy's answer count; with consensus.policy adaptive set "
                "consensus.initial_answers and consensus.max_answers instead"
            )
        for item in self.quality.gold.items:
            if item.label not in self.labels:
                raise ValueError(f"gold item {item.key} has label {item.label!r}, which is not in labels")
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROJECT_NAME_PATTERN.match(value):
            raise ValueError("must be lower-case letters and digits separated by single hyphens, e.g. 'street-signs'")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, values: list[str], info: ValidationInfo) -> list[str]:
        workflow = info.data.get("workflow")
        if workflow is Workflow.KEYPOINTS and values:
            raise ValueError("a keypoints project takes its keypoint names from keypoints.rig; leave labels out")
        if workflow is Workflow.IMAGE_CLASSIFICATION and len(values) < 2:
            raise ValueError("needs at least 2 labels for image-classification")
        if isinstance(workflow, Workflow) and workflow.adjusts_imports and not values:
            raise ValueError(f"needs at least 1 label for {workflow.value} (the classes of the imported labels)")
        seen: set[str] = set()
        for label in values:
            if not label.strip() or len(label) > 256:
                raise ValueError(f"label {label!r} must be 1-256 characters and not blank")
            if label in seen:
                raise ValueError(f"label {label!r} appears twice; labels must be unique")
            seen.add(label)
        return values

    @field_validator("label_attribute_name")
    @classmethod
    def _label_attribute(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not LABEL_ATTRIBUTE_PATTERN.match(value):
            raise ValueError("must be letters, digits and single hyphens (no '_', '.', '$'), at most 127 characters")
        if value in {"source", "source-ref"} or value.endswith("-metadata") or value.endswith("-ref"):
            raise ValueError("must not be 'source' or 'source-ref' and must not end with '-metadata' or '-ref'")
        return value

    @property
    def attribute_name(self) -> str:
        """The LabelAttributeName of this project's jobs (the key of the label in output manifests)."""
        base = self.label_attribute_name or self.name
        if self.workflow.is_point_cloud:
            return point_cloud_tasks.task_for(self.workflow).attribute_name(base)
        # Contracts 6.1: semantic segmentation labels are files, so their attribute must end in -ref.
        return f"{base}-ref" if self.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT else base

    @property
    def label_names(self) -> tuple[str, ...]:
        """The class names workers choose from: `labels`, or a point cloud project's category labels."""
        if self.pointcloud is not None:
            return tuple(category.label for category in self.pointcloud.categories.labels)
        return tuple(self.labels)

    @property
    def imported_attribute_name(self) -> str | None:
        """Where an adjustment project's imported labels are in its manifests."""
        if self.adjustment is None:
            return None
        base = self.adjustment.imported_attribute
        return f"{base}-ref" if self.workflow is Workflow.SEMANTIC_SEGMENTATION_ADJUSTMENT else base

    @property
    def imports_labels(self) -> bool:
        """Adjustment projects import other tools' annotations; point cloud audits an earlier job's output."""
        return self.adjustment is not None or (self.pointcloud is not None and self.pointcloud.audit is not None)

    @property
    def imports_prefix(self) -> str:
        return f"{IMPORTS_PREFIX}{self.name}/"

    @property
    def consensus_policy(self) -> ConsensusPolicy:
        """The policy the consensus engine runs (the fixed policy's N is workers_per_object)."""
        rules = self.consensus
        # Keypoints: every round asks workers_per_object workers; flags, not votes, decide what goes back.
        fixed = (
            rules.policy is PolicyKind.FIXED
            or self.workflow is Workflow.KEYPOINTS
            or self.workflow.adjusts_imports
            or self.workflow.is_point_cloud
        )
        return ConsensusPolicy(
            kind=PolicyKind.FIXED if fixed else rules.policy,
            method=rules.method,
            initial_answers=self.workers_per_object if fixed else rules.initial_answers,
            max_answers=self.workers_per_object if fixed else rules.max_answers,
            min_agreeing=rules.min_agreeing,
            min_margin=rules.min_margin,
            min_confidence=rules.min_confidence,
        )

    def gold_uri(self, item: GoldItem, bucket: str) -> str:
        return f"s3://{bucket}/{item.key}"

    @property
    def incoming_prefix(self) -> str:
        return f"{INCOMING_PREFIX}{self.name}/"


class FieldError(BaseModel):
    field: str
    message: str


class InvalidProject(ValueError):
    """A project document that does not validate; `errors` name each field and what is wrong with it."""

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = errors
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(f"project document {source} is invalid: {detail}")


def project_key(name: str) -> str:
    return f"{PROJECTS_PREFIX}{name}.yaml"


def parse_project(text: str | bytes, *, source: str, expected_name: str | None = None) -> Project:
    """Validate a YAML project document; `expected_name` is the name its location implies."""
    if len(text) > MAX_PROJECT_BYTES:
        raise InvalidProject(source, [_too_large(len(text))])
    try:
        document: Any = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise InvalidProject(source, [FieldError(field=where, message=f"not valid YAML: {error}")]) from None
    except RecursionError:
        message = "is nested too deeply to be read (a project document is a few levels of mappings and lists)"
        raise InvalidProject(source, [FieldError(field="(document)", message=message)]) from None
    if not isinstance(document, dict):
        raise InvalidProject(source, [FieldError(field="(document)", message="must be a YAML mapping")])
    try:
        project = Project.model_validate(document)
    except ValidationError as error:
        raise InvalidProject(source, _field_errors(error)) from None
    if expected_name is not None and project.name != expected_name:
        message = f"is {project.name!r} but the document is stored as {expected_name!r}; they must match"
        raise InvalidProject(source, [FieldError(field="name", message=message)])
    return project


def field_messages(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) per problem, worded for the document's author (also used by rig documents)."""
    messages = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(document)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        messages.append((location, message))
    return messages


def _field_errors(error: ValidationError) -> list[FieldError]:
    return [FieldError(field=field, message=message) for field, message in field_messages(error)]


def project_schema() -> dict[str, Any]:
    """JSON Schema of the project document (published under docs/)."""
    return Project.model_json_schema()


__all__ = [
    "BatchPolicy",
    "Consensus",
    "ConsensusMethod",
    "Export",
    "FieldError",
    "Gold",
    "GoldItem",
    "InvalidProject",
    "Keypoints",
    "PolicyKind",
    "Project",
    "ProjectNotFound",
    "Quality",
    "Task",
    "TimeLimits",
    "Workflow",
    "Workforce",
    "load_project",
    "parse_project",
    "project_key",
]


class ProjectNotFound(LookupError):
    """No document at projects/<name>.yaml."""


def load_project(s3: Any, bucket: str, name: str) -> Project:
    """Read and validate `projects/<name>.yaml` from the data bucket."""
    key = project_key(name)
    body = read_project_document(s3, bucket, key)
    return parse_project(body, source=f"s3://{bucket}/{key}", expected_name=name)


def read_project_document(s3: Any, bucket: str, key: str) -> bytes:
    """A project document's bytes; one over MAX_PROJECT_BYTES is refused from its size, before it is read."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        raise ProjectNotFound(f"s3://{bucket}/{key}") from None
    size = int(answer.get("ContentLength") or 0)
    if size > MAX_PROJECT_BYTES:
        answer["Body"].close()
        raise InvalidProject(f"s3://{bucket}/{key}", [_too_large(size)])
    return bytes(answer["Body"].read())


def _too_large(size: int) -> FieldError:
    return FieldError(
        field="(document)",
        message=f"is {size:,} bytes; a project document may be at most {MAX_PROJECT_BYTES:,} (is this the right file?)",
    )
