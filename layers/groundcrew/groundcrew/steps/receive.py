"""Receiving dropped objects: record them into batches, seal batches and start their pipeline runs."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson
from aws_lambda_powertools import Logger

from groundcrew.core import manifests
from groundcrew.core.events import (
    BatchSealed,
    EventDetail,
    EventPublisher,
    InputRejected,
    ObjectsReceived,
    RejectedField,
)
from groundcrew.core.media import SIGNATURE_BYTES
from groundcrew.core.records import import_id
from groundcrew.core.s3_locations import S3Location
from groundcrew.intake.batches import (
    MAX_OBJECT_KEY_BYTES,
    BatchStore,
    OpenBatch,
    RecordOutcome,
    SealedBatch,
    SealReason,
)
from groundcrew.intake.rules import (
    Decision,
    Disposition,
    IncomingObject,
    ObjectMissing,
    key_too_long_decision,
    object_missing_decision,
    unknown_project_decision,
)
from groundcrew.projects import (
    IMPORTS_PREFIX,
    PROJECTS_PREFIX,
    InvalidProject,
    Project,
    ProjectNotFound,
    load_project,
    parse_project,
    read_project_document,
)
from groundcrew.workflows.registry import for_workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(child=True)


def manifest_location(bucket: str, batch: SealedBatch) -> S3Location:
    return S3Location(bucket, f"batches/{batch.project}/{batch.batch_id}/input.manifest")


@dataclass
class _Tally:
    received: int = 0
    duplicates: int = 0
    batch: OpenBatch | None = None


@dataclass
class Receiver:
    """Handles the objects of one intake invocation; `finish()` publishes what happened."""

    s3: S3Client
    sfn: SFNClient
    store: BatchStore
    publisher: EventPublisher
    data_bucket: str
    state_machine_arn: str
    import_state_machine_arn: str | None = None
    clock: Any = time.time
    _projects: dict[str, Project | InvalidProject | ProjectNotFound] = field(default_factory=dict)
    _tallies: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    _pending_events: list[EventDetail] = field(default_factory=list)

    def receive(self, obj: IncomingObject) -> None:
        if obj.key.startswith(PROJECTS_PREFIX):
            self._check_project_document(obj)
            return
        project_or_error = self._project(obj.project_name)
        if isinstance(project_or_error, InvalidProject):
            self._reject(obj, Decision(Disposition.REJECT, "invalid-project", str(project_or_error)), project_or_error)
            return
        if project_or_error is None or isinstance(project_or_error, ProjectNotFound):
            self._reject(obj, unknown_project_decision(obj))
            return
        project = project_or_error
        if obj.key.startswith(IMPORTS_PREFIX) or project.imports_labels:
            self._receive_for_import(project, obj)
            return
        try:
            decision = for_workflow(project.workflow).intake_decision(project, obj, lambda: self._head_bytes(obj))
        except ObjectMissing:
            self._reject(obj, object_missing_decision(obj))
            return
        match decision.disposition:
            case Disposition.IGNORE:
                logger.debug("ignored object", extra={"key": obj.key, "rule": decision.rule})
            case Disposition.REJECT:
                self._reject(obj, decision)
            case Disposition.SEAL:
                batch = self.store.current_open(project.name)  # a marker never opens a batch
                if batch is None:
                    logger.info("seal marker with no open batch", extra={"project": project.name})
                else:
                    self.seal_and_start(project, batch, SealReason.MARKER)
            case Disposition.LABEL if len(obj.key.encode()) > MAX_OBJECT_KEY_BYTES:
                self._reject(obj, key_too_long_decision(obj, MAX_OBJECT_KEY_BYTES))
            case Disposition.LABEL:
                self._record(project, obj)

    def _receive_for_import(self, project: Project, obj: IncomingObject) -> None:
        """Annotation files start imports; projects that import labels take nothing under incoming/."""
        plugin = for_workflow(project.workflow)
        if not project.imports_labels:
            message = (
                f"project {project.name!r} is {project.workflow.value}: it labels data dropped under "
                f"{project.incoming_prefix}; only {plugin.label_import_kind} import labels"
            )
            self._reject(obj, Decision(Disposition.REJECT, "not-an-adjustment-project", message))
            return
        if not obj.key.startswith(IMPORTS_PREFIX):
            message = f"project {project.name!r} adjusts imported labels: {plugin.import_instructions(project)}"
            self._reject(obj, Decision(Disposition.REJECT, "adjustment-project-incoming", message))
            return
        source = plugin.import_start(project, obj.key)
        if isinstance(source, Decision):
            self._reject(obj, source)
            return
        if source is None:
            logger.debug("part of an import folder", extra={"project": project.name})
            return
        self._start_import(project, obj, source)

    def _start_import(self, project: Project, obj: IncomingObject, source: str) -> None:
        if not self.import_state_machine_arn:
            raise RuntimeError("IMPORT_STATE_MACHINE_ARN is not set; imports cannot start")
        started = import_id(project.name, obj.key, obj.etag)
        ref = {"project": project.name, "bucket": obj.bucket, "source_key": source, "import_id": started}
        try:
            self.sfn.start_execution(
                stateMachineArn=self.import_state_machine_arn,
                name=started,
                input=orjson.dumps({"import": ref}).decode(),
            )
            logger.info("import started", extra={"project": project.name, "import_id": started})
        except self.sfn.exceptions.ExecutionAlreadyExists:
            logger.info("duplicate delivery of an import", extra={"import_id": started})

    def _record(self, project: Project, obj: IncomingObject) -> None:
        outcome, batch = self.store.record(project.name, obj)
        tally = self._tallies[project.name]
        if outcome is RecordOutcome.DUPLICATE:
            tally.duplicates += 1
            logger.info("duplicate delivery ignored", extra={"batch_id": batch.batch_id})
        else:
            tally.received += 1
        tally.batch = batch
        if outcome is RecordOutcome.ADDED and self.store.item_count(batch.batch_id) >= project.batch.max_items:
            self.seal_and_start(project, batch, SealReason.FULL)

    def seal_and_start(self, project: Project, batch: OpenBatch, reason: SealReason) -> None:
        self._publish_tally(project.name)  # received-before-sealed keeps the event order readable
        sealed = self.store.seal(batch, reason)
        if sealed is not None:
            self.start(sealed)

    def start(self, batch: SealedBatch) -> None:
        """Write the batch's manifest and start its execution; safe to repeat (the flush retries it)."""
        location = manifest_location(self.data_bucket, batch)
        lines = (manifests.image_line(S3Location(item.bucket, item.key)) for item in self.store.items(batch.batch_id))
        count = manifests.write_manifest(self.s3, location, lines)
        project = self._project(batch.project)
        execution_input = {
            "batch": {
                "batch_id": batch.batch_id,
                "project": batch.project,
                # The state machine prepares point cloud frames before its Preflight.
                "workflow": project.workflow.value if isinstance(project, Project) else None,
                "bucket": self.data_bucket,
                "manifest_uri": location.uri,
                "item_count": count,
                "audit_source": None,  # audits start from imports (steps/imports.py), never from incoming/
            }
        }
        try:
            execution_arn = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=batch.batch_id,
                input=orjson.dumps(execution_input).decode(),
            )["executionArn"]
        except self.sfn.exceptions.ExecutionAlreadyExists:
            execution_arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{batch.batch_id}"
        self.store.mark_started(batch, location.uri, execution_arn)
        self.publisher.publish(
            BatchSealed(
                project=batch.project,
                batch_id=batch.batch_id,
                reason=batch.reason.value,
                item_count=count,
                manifest_uri=location.uri,
                execution_name=batch.batch_id,
            )
        )
        logger.info("batch sealed", extra={"batch_id": batch.batch_id, "items": count, "reason": batch.reason.value})

    def flush(self) -> None:
        """Seal open batches older than their project's max age; retry starts that did not happen."""
        for sealed in self.store.pending_batches():
            self.start(sealed)
        now = self.clock()
        for batch in self.store.open_batches():
            project = self._project(batch.project)
            if not isinstance(project, Project):
                logger.warning("open batch of a project without a valid document", extra={"project": batch.project})
                continue
            if now - batch.opened_at >= project.batch.max_age_minutes * 60:
                self.seal_and_start(project, batch, SealReason.MAX_AGE)

    def finish(self) -> None:
        for project in list(self._tallies):
            self._publish_tally(project)
        if self._pending_events:
            self.publisher.publish_all(self._pending_events)
            self._pending_events.clear()

    # -- internals ----------------------------------------------------------------------------------------
    def _project(self, name: str | None) -> Project | InvalidProject | ProjectNotFound | None:
        if name is None:
            return None
        if name not in self._projects:
            try:
                self._projects[name] = load_project(self.s3, self.data_bucket, name)
            except (InvalidProject, ProjectNotFound) as error:
                self._projects[name] = error
        return self._projects[name]

    def _head_bytes(self, obj: IncomingObject) -> bytes:
        try:
            response = self.s3.get_object(Bucket=obj.bucket, Key=obj.key, Range=f"bytes=0-{SIGNATURE_BYTES - 1}")
        except self.s3.exceptions.NoSuchKey:
            raise ObjectMissing(obj.key) from None  # deleted since it was dropped: no retry brings it back
        return response["Body"].read()

    def _check_project_document(self, obj: IncomingObject) -> None:
        path = PurePosixPath(obj.key.removeprefix(PROJECTS_PREFIX))
        if path.suffix not in {".yaml", ".yml"} or len(path.parts) != 1:
            return
        try:
            body = read_project_document(self.s3, obj.bucket, obj.key)
            project = parse_project(body, source=f"s3://{obj.bucket}/{obj.key}", expected_name=path.stem)
        except ProjectNotFound:
            logger.info("project document deleted before it was checked", extra={"project": path.stem})
            return
        except InvalidProject as error:
            self._reject(obj, Decision(Disposition.REJECT, "invalid-project", str(error)), error, project=path.stem)
            return
        logger.info("project document accepted", extra={"project": project.name})

    def _reject(
        self, obj: IncomingObject, decision: Decision, invalid: InvalidProject | None = None, project: str | None = None
    ) -> None:
        errors = [RejectedField(field=e.field, message=e.message) for e in invalid.errors] if invalid else []
        # Keys are user-chosen names (possibly personal data): they go to the event, not to the logs.
        logger.warning("object rejected", extra={"project": project or obj.project_name, "rule": decision.rule})
        self._pending_events.append(
            InputRejected(
                project=project or obj.project_name,
                bucket=obj.bucket,
                key=obj.key,
                rule=decision.rule,
                message=decision.message,
                errors=errors,
            )
        )

    def _publish_tally(self, project: str) -> None:
        tally = self._tallies.pop(project, None)
        if tally is None or tally.batch is None or (tally.received == 0 and tally.duplicates == 0):
            return
        self.publisher.publish(
            ObjectsReceived(
                project=project,
                batch_id=tally.batch.batch_id,
                received=tally.received,
                duplicates=tally.duplicates,
                batch_item_count=self.store.item_count(tally.batch.batch_id),
            )
        )
