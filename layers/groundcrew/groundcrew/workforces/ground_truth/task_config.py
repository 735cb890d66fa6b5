"""What the Ground Truth Lambdas of a job need to know about its project, written once by the Prepare step.

Ground Truth passes the Lambdas only the job ARN, a manifest line and (for consolidation) the labels, so
Prepare stores this small document at a location derived from the job name, and the Lambdas read it once
per container.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from groundcrew.consensus.decisions import ConsensusPolicy
from groundcrew.core.s3_locations import S3Location, put_object
from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind, Workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from groundcrew.projects import Project

JOBS_PREFIX = "labeling-jobs/"


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """A plain dataclass, not a pydantic model: the pre-annotation Lambda's cold start stays small."""

    project: str
    batch_id: str
    workflow: Workflow
    labels: tuple[str, ...]
    header: str
    short_instructions: str
    full_instructions: str
    consensus: ConsensusPolicy
    workers_per_object: int
    round: int = 1
    carried_answers_uri: str | None = None  # earlier rounds' answers of this job's items
    rig: dict[str, Any] | None = None  # keypoints: the rig as plain data (poses.rig_from_dict)
    source_attribute: str | None = None  # adjustments: the line attribute holding the imported labels

    @classmethod
    def for_project(
        cls,
        project: Project,
        batch_id: str,
        *,
        round_number: int = 1,
        workers_per_object: int | None = None,
        carried_answers_uri: str | None = None,
        rig: dict[str, Any] | None = None,
    ) -> TaskConfig:
        return cls(
            project=project.name,
            batch_id=batch_id,
            workflow=project.workflow,
            labels=tuple(project.labels) if rig is None else tuple(k["name"] for k in rig["keypoints"]),
            header=project.task.title,
            short_instructions=project.task.instructions,
            full_instructions=project.task.full_instructions or project.task.instructions,
            consensus=project.consensus_policy,
            workers_per_object=workers_per_object or project.consensus_policy.initial_answers,
            round=round_number,
            carried_answers_uri=carried_answers_uri,
            rig=rig,
            source_attribute=project.imported_attribute_name,
        )

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> TaskConfig:
        raw: dict[str, Any] = orjson.loads(data)
        return cls(
            project=str(raw["project"]),
            batch_id=str(raw["batch_id"]),
            workflow=Workflow(raw["workflow"]),
            labels=tuple(str(label) for label in raw["labels"]),
            header=str(raw["header"]),
            short_instructions=str(raw["short_instructions"]),
            full_instructions=str(raw["full_instructions"]),
            consensus=_policy(raw["consensus"]),
            workers_per_object=int(raw["workers_per_object"]),
            round=int(raw.get("round", 1)),
            carried_answers_uri=raw.get("carried_answers_uri"),
            rig=raw.get("rig"),
            source_attribute=raw.get("source_attribute"),
        )


def _policy(raw: dict[str, Any]) -> ConsensusPolicy:
    return ConsensusPolicy(
        kind=PolicyKind(raw["kind"]),
        method=ConsensusMethod(raw["method"]),
        initial_answers=int(raw["initial_answers"]),
        max_answers=int(raw["max_answers"]),
        min_agreeing=int(raw["min_agreeing"]),
        min_margin=int(raw["min_margin"]),
        min_confidence=None if raw.get("min_confidence") is None else float(raw["min_confidence"]),
    )


def job_folder(bucket: str, job_name: str) -> S3Location:
    """Everything about one labeling job lives here: our config and Ground Truth's output."""
    return S3Location(bucket, f"{JOBS_PREFIX}{job_name}")


def task_config_location(bucket: str, job_name: str) -> S3Location:
    return job_folder(bucket, job_name).child("config", "task-config.json")


def worker_priors_location(bucket: str, job_name: str) -> S3Location:
    """The workers' history when the job was prepared, for the weighted consensus of its consolidation Lambda."""
    return job_folder(bucket, job_name).child("config", "worker-priors.json")


def job_name_from_arn(labeling_job_arn: str) -> str:
    return labeling_job_arn.rsplit("/", 1)[-1]


def write_task_config(s3: S3Client, bucket: str, job_name: str, config: TaskConfig) -> S3Location:
    location = task_config_location(bucket, job_name)
    put_object(s3, location, config.to_json())
    return location


class TaskConfigReader:
    """Reads a job's task config once per container (pre-annotation runs once per task a worker opens)."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.read = lru_cache(maxsize=32)(self._read)

    def _read(self, job_name: str) -> TaskConfig:
        location = task_config_location(self._bucket, job_name)
        try:
            body = self._s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise LookupError(
                f"no task config at {location.uri}: the labeling job {job_name!r} was not prepared by groundcrew"
            ) from None
        return TaskConfig.from_json(body)
