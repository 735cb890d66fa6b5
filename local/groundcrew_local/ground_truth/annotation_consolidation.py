"""Annotation consolidation of one chunk: the request file, our consolidation Lambda (or an emulated ACS), the
response file, and each object's label taken from the response.

Files go where Ground Truth writes them (contracts section 7): `annotations/consolidated-annotation/
consolidation-request/iteration-1/<stamp>.json` and `.../consolidation-response/iteration-1/<stamp>.json`. The
Lambda gets the real payload (contracts 5.2). A consolidation error fails every object of the chunk; an entry that
names no object of the request, or repeats one, is logged and skipped; a malformed entry or an object left out of
the response fails that object. Emulated built-in task types (`built_in_tasks`) and 3D point cloud task types
(`point_cloud_workers`) consolidate here without a Lambda; their label files go under `consolidated-annotation/
output/<datasetObjectId>/`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from groundcrew_local import point_cloud_workers
from groundcrew_local.built_in_tasks import ObjectFailure
from groundcrew_local.ground_truth.job_files import JobFiles, compact_json, read_s3
from groundcrew_local.ground_truth.job_log import fail_object, log
from groundcrew_local.ground_truth.jobs import DataObject, LabelingJob
from groundcrew_local.ground_truth.lambda_calls import (
    LAMBDA_PAYLOAD_VERSION,
    InvokeLambda,
    LambdaInvocationError,
    invoke_json,
)
from groundcrew_local.workforce import WorkerAnswer

ITERATION = "iteration-1"

Answered = list[tuple[DataObject, list[WorkerAnswer]]]


def payload_data_object(line: dict[str, Any]) -> dict[str, Any]:
    """`dataObject` of a consolidation payload entry: the S3 URI of `source-ref`, or the `source` content."""
    return {"s3Uri": line["source-ref"]} if "source-ref" in line else {"content": line["source"]}


def creation_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


class AnnotationConsolidation:
    """Consolidates the answers of a chunk and records each object's label (or why it has none)."""

    def __init__(self, files: JobFiles, invoke_lambda: InvokeLambda) -> None:
        self.files = files
        self.invoke_lambda = invoke_lambda

    def consolidate(self, job: LabelingJob, answered: Answered, moment: datetime) -> None:
        base = f"{job.annotations_folder}/consolidated-annotation"
        request_uri = self._write_request(job, answered, f"{base}/consolidation-request/{ITERATION}", moment)
        items = {item.dataset_object_id: item for item, _ in answered}
        try:
            response = self._response(job, answered, request_uri, moment)
        except LambdaInvocationError as error:
            for item in items.values():
                fail_object(job, item, f"consolidation Lambda failed: {error.errorType}: {error.errorMessage}")
            return
        response_folder = f"{base}/consolidation-response/{ITERATION}"
        response_uri = f"{response_folder}/{job.unique_stamp(response_folder, moment)}.json"
        self.files.write(job, response_uri, compact_json(response).encode())
        if not isinstance(response, list):
            for item in items.values():
                fail_object(job, item, f"consolidation Lambda must return a JSON array, got {type(response).__name__}")
            return
        for position, entry in enumerate(response):
            _apply_entry(job, items, position, entry, creation_date(moment))
        for item in items.values():
            if item.outcome == "pending":
                fail_object(job, item, "missing from the consolidation Lambda's response")

    def _write_request(self, job: LabelingJob, answered: Answered, folder: str, moment: datetime) -> str:
        payload = [
            {
                "datasetObjectId": item.dataset_object_id,
                "dataObject": payload_data_object(item.line),
                "annotations": [
                    {"workerId": answer.worker_id, "annotationData": {"content": answer.content}} for answer in answers
                ],
            }
            for item, answers in answered
        ]
        uri = f"{folder}/{job.unique_stamp(folder, moment)}.json"
        self.files.write(job, uri, compact_json(payload).encode())
        return uri

    def _response(self, job: LabelingJob, answered: Answered, request_uri: str, moment: datetime) -> Any:
        """What the consolidation returns: our Lambda's response, or what the emulated task type leaves."""
        if job.point_cloud is not None:
            return self._point_cloud_output(job, answered, moment)
        if job.built_in is not None:
            return self._built_in_consolidation(job, answered, moment)
        human = job.human_task_config
        event: dict[str, Any] = {
            "version": LAMBDA_PAYLOAD_VERSION,
            "labelingJobArn": job.arn,
            "labelCategories": job.label_categories,
            "labelAttributeName": job.label_attribute_name,
            "roleArn": job.request["RoleArn"],
            "outputConfig": job.annotations_folder,
            "maxHumanWorkersPerDataObject": int(human["NumberOfHumanWorkersPerDataObject"]),
            "payload": {"s3Uri": request_uri},
        }
        if job.request["OutputConfig"].get("KmsKeyId"):
            event["kmsKeyId"] = job.request["OutputConfig"]["KmsKeyId"]
        arn = human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"]
        return invoke_json(self.invoke_lambda, arn, event)

    def _built_in_consolidation(self, job: LabelingJob, answered: Answered, moment: datetime) -> list[dict[str, Any]]:
        """What the emulated ACS-<type> returns; objects it cannot consolidate fail here with the reason."""
        assert job.built_in is not None
        created = creation_date(moment)

        def store_mask(object_id: str, png: bytes) -> str:
            folder = f"{job.annotations_folder}/consolidated-annotation/output/{object_id}"
            uri = f"{folder}/{job.unique_stamp(folder, moment)}.png"
            self.files.write(job, uri, png)
            return uri

        response = []
        for item, answers in answered:
            contents = [answer.content for answer in answers]
            try:
                content = job.built_in.consolidate(item.dataset_object_id, item.line, contents, created, store_mask)
            except ObjectFailure as failure:
                fail_object(job, item, str(failure))
                continue
            response.append({"datasetObjectId": item.dataset_object_id, "consolidatedAnnotation": {"content": content}})
        return response

    def _point_cloud_output(self, job: LabelingJob, answered: Answered, moment: datetime) -> list[dict[str, Any]]:
        """What AWS's 3D task type leaves for each object; label files go under consolidated-annotation/output/."""
        assert job.point_cloud is not None
        created = creation_date(moment)
        s3 = self.files.backend(job)

        def store(object_id: str, name: str, body: bytes) -> str:
            uri = f"{job.annotations_folder}/consolidated-annotation/output/{object_id}/{name}"
            self.files.write(job, uri, body)
            return uri

        response = []
        for item, answers in answered:
            content = answers[0].answer_content  # one worker per object (contracts 6.1)
            try:
                if not isinstance(content, dict):
                    raise point_cloud_workers.ObjectFailure("ClientError: the worker's answer is not a JSON object")
                labels = job.point_cloud.consolidate(
                    item.dataset_object_id, item.line, content, created, store, lambda uri: read_s3(s3, uri)
                )
            except point_cloud_workers.ObjectFailure as failure:
                fail_object(job, item, str(failure))
                continue
            response.append({"datasetObjectId": item.dataset_object_id, "consolidatedAnnotation": {"content": labels}})
        return response


def _apply_entry(job: LabelingJob, items: dict[str, DataObject], position: int, entry: Any, created: str) -> None:
    """One entry of the consolidation response: the object's label, or why the entry was not used."""
    attribute = job.label_attribute_name
    object_id = entry.get("datasetObjectId") if isinstance(entry, dict) else None
    if object_id is None or str(object_id) not in items:
        log(
            job,
            "ANNOTATION_CONSOLIDATION_RESPONSE_INVALID",
            f"response entry {position} names no datasetObjectId of this request: {compact_json(entry)[:300]}",
            level=logging.WARNING,
        )
        return
    item = items[str(object_id)]
    if item.outcome != "pending":
        log(job, "ANNOTATION_CONSOLIDATION_RESPONSE_INVALID", f"datasetObjectId {object_id} repeated")
        return
    consolidated = entry.get("consolidatedAnnotation")
    content = consolidated.get("content") if isinstance(consolidated, dict) else None
    if not isinstance(content, dict) or attribute not in content:
        found = sorted(content) if isinstance(content, dict) else type(content).__name__
        fail_object(
            job, item, f"consolidatedAnnotation.content must hold the labelAttributeName {attribute!r}; found {found}"
        )
        return
    item.outcome, item.label, item.creation_date = "labeled", content[attribute], created
    if job.built_in is not None or job.point_cloud is not None:
        item.metadata = content.get(f"{attribute}-metadata")
