"""One InProgress step: the next chunk of data objects goes through the simulated workforce.

For each pending object (at most `chunk_size`, MaxConcurrentTaskCount and what a stopping condition leaves): the
pre-annotation Lambda (contracts 5.1; none without PreHumanTaskLambdaArn, an emulated PRE for built-in types), the
task page rendered with the worker template, the workforce's answers within the time limits, and one
worker-response file (`annotations/worker-response/iteration-1/<datasetObjectId>/<stamp>.json`). Then the chunk is
consolidated. The workforce's clock moves to the last submission. When no object is left the job completes; a
stopping condition reached (MaxHumanLabeledObjectCount / MaxPercentageOfInputDatasetLabeled) stops it.

`isHumanAnnotationRequired: false` -> no task, no consolidation; the line is copied unchanged and counted in
`Unlabeled`. A pre-annotation error or a response without a `taskInput` object, or no answer within the time
limits, fails that object.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from liquid.exceptions import LiquidError

from groundcrew_local.built_in_tasks import ObjectFailure
from groundcrew_local.ground_truth.annotation_consolidation import ITERATION, AnnotationConsolidation, Answered
from groundcrew_local.ground_truth.job_files import JobFiles, compact_json, read_s3
from groundcrew_local.ground_truth.job_log import fail_object, log
from groundcrew_local.ground_truth.jobs import DataObject, JobFailure, LabelingJob
from groundcrew_local.ground_truth.lambda_calls import (
    LAMBDA_PAYLOAD_VERSION,
    InvokeLambda,
    LambdaInvocationError,
    invoke_json,
)
from groundcrew_local.ground_truth.lifecycle import JobLifecycle
from groundcrew_local.ground_truth.request_rules import MAX_AVAILABILITY_PRIVATE, is_public_workteam
from groundcrew_local.workforce import SimulatedWorkforce, TaskContext, UnsupportedTaskPage, WorkerAnswer

DEFAULT_AVAILABILITY_PUBLIC = 21_600
DEFAULT_MAX_CONCURRENT_TASKS = 1000
JOB_LIFETIME = timedelta(days=30)


class HumanTasks:
    """Runs a job's data objects through pre-annotation and the simulated workforce, a chunk per step."""

    def __init__(
        self,
        files: JobFiles,
        lifecycle: JobLifecycle,
        consolidation: AnnotationConsolidation,
        invoke_lambda: InvokeLambda,
        workforce: SimulatedWorkforce,
        chunk_size: int,
    ) -> None:
        self.files = files
        self.lifecycle = lifecycle
        self.consolidation = consolidation
        self.invoke_lambda = invoke_lambda
        self.workforce = workforce
        self.chunk_size = chunk_size

    def run_chunk(self, job: LabelingJob) -> None:
        pending = [item for item in job.objects[job.next_index :] if item.outcome == "pending"]
        limit = job.human_label_limit()
        budget = None if limit is None else limit - job.count("labeled")
        if not pending:
            self.lifecycle.finish(job, "Completed")
            return
        if budget is not None and budget <= 0:
            self.lifecycle.auto_stop(job, limit)
            return
        max_concurrent = job.human_task_config.get("MaxConcurrentTaskCount") or DEFAULT_MAX_CONCURRENT_TASKS
        size = min(self.chunk_size, int(max_concurrent))
        if budget is not None:
            size = min(size, budget)
        chunk = pending[:size]
        job.next_index = chunk[-1].index + 1
        posted = self.workforce.now
        answered = self._answer_chunk(job, chunk, posted)
        finished = max([posted] + [answer.submission_time for _, answers in answered for answer in answers])
        self.workforce.advance_to(finished)
        if job.started_at is not None and finished - job.started_at > JOB_LIFETIME:
            raise JobFailure("ClientError: the labeling job ran longer than 30 days")
        if answered:
            self.consolidation.consolidate(job, answered, finished)
        job.modified = self.lifecycle.clock()
        if job.status != "InProgress":  # stopped by a call made while this chunk ran
            return
        if not any(item.outcome == "pending" for item in job.objects):
            self.lifecycle.finish(job, "Completed")
        elif limit is not None and job.count("labeled") >= limit:
            self.lifecycle.auto_stop(job, limit)

    def _answer_chunk(self, job: LabelingJob, chunk: list[DataObject], posted: datetime) -> Answered:
        answered: Answered = []
        for item in chunk:
            task_input = self._pre_annotation(job, item)
            if task_input is None:
                continue
            answers = self._ask_workers(job, item, task_input, posted)
            if answers:
                self._write_worker_response(job, item, answers)
                answered.append((item, answers))
        return answered

    def _pre_annotation(self, job: LabelingJob, item: DataObject) -> dict[str, Any] | None:
        """`taskInput` of one object, or None when the object failed or needs no human."""
        arn = job.human_task_config.get("PreHumanTaskLambdaArn")
        if not arn or job.point_cloud is not None:
            return dict(item.line)
        if job.built_in is not None:
            try:
                return job.built_in.task_input(item.line)
            except ObjectFailure as failure:
                fail_object(job, item, str(failure))
                return None
        payload = {"version": LAMBDA_PAYLOAD_VERSION, "labelingJobArn": job.arn, "dataObject": item.line}
        try:
            response = invoke_json(self.invoke_lambda, arn, payload)
        except LambdaInvocationError as error:
            fail_object(job, item, f"pre-annotation Lambda failed: {error.errorType}: {error.errorMessage}")
            return None
        task_input = response.get("taskInput") if isinstance(response, dict) else None
        if not isinstance(task_input, dict):
            found = compact_json(response)[:300]
            fail_object(job, item, f"pre-annotation Lambda response needs a 'taskInput' JSON object, got {found}")
            return None
        if response.get("isHumanAnnotationRequired") is False:
            item.outcome = "skipped"
            log(job, "HUMAN_ANNOTATION_NOT_REQUIRED", f"datasetObjectId {item.dataset_object_id}")
            return None
        return task_input

    def _ask_workers(
        self, job: LabelingJob, item: DataObject, task_input: dict[str, Any], posted: datetime
    ) -> list[WorkerAnswer]:
        human = job.human_task_config
        availability = human.get("TaskAvailabilityLifetimeInSeconds") or (
            DEFAULT_AVAILABILITY_PUBLIC if is_public_workteam(human["WorkteamArn"]) else MAX_AVAILABILITY_PRIVATE
        )
        limits: dict[str, Any] = {
            "posted_at": posted,
            "time_limit_seconds": float(human["TaskTimeLimitInSeconds"]),
            "availability_seconds": float(availability),
        }
        workers = int(human["NumberOfHumanWorkersPerDataObject"])
        if job.point_cloud is not None:
            return self._ask_point_cloud_workers(job, item, workers, limits)
        if job.template is None:
            raise JobFailure("InternalServerError: the worker task template was not loaded")
        try:
            page = job.template.render(task={"input": task_input})
        except LiquidError as error:
            raise JobFailure(
                f"ClientError: rendering the worker task template for datasetObjectId {item.dataset_object_id} "
                f"failed: {error}"
            ) from None
        try:
            answers = self.workforce.answer(
                page, item.line, workers, fetch=lambda url: self.files.fetch(job, url), **limits
            )
        except UnsupportedTaskPage as error:
            raise JobFailure(f"ClientError: the simulated workforce cannot work on this task page: {error}") from None
        if not answers:
            names = "TaskTimeLimitInSeconds / TaskAvailabilityLifetimeInSeconds"
            fail_object(job, item, f"no worker submitted the task within {names}")
        return answers

    def _ask_point_cloud_workers(
        self, job: LabelingJob, item: DataObject, workers: int, limits: dict[str, Any]
    ) -> list[WorkerAnswer]:
        task = job.point_cloud
        assert task is not None
        s3 = self.files.backend(job)

        def produce(context: TaskContext) -> dict[str, Any]:
            return task.answer(item.line, dataclasses.replace(context, fetch=lambda uri: read_s3(s3, uri)))

        answers = self.workforce.answer_with(produce, item.line, workers, **limits)
        if not answers:
            fail_object(job, item, "no worker submitted the task within TaskTimeLimitInSeconds")
        return answers

    def _write_worker_response(self, job: LabelingJob, item: DataObject, answers: list[WorkerAnswer]) -> None:
        folder = f"{job.annotations_folder}/worker-response/{ITERATION}/{item.dataset_object_id}"
        stamp = job.unique_stamp(folder, max(answer.submission_time for answer in answers))
        document = {"answers": [answer.worker_response_entry() for answer in answers]}
        self.files.write(job, f"{folder}/{stamp}.json", compact_json(document).encode())
