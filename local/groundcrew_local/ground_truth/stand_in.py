"""The Ground Truth stand-in: the labeling job API on moto's backends, and how a job advances.

`GroundTruthStandIn` answers CreateLabelingJob, DescribeLabelingJob, ListLabelingJobs and StopLabelingJob (the
package `__init__` routes moto's SageMaker responses here) and steps jobs: one step per DescribeLabelingJob call
(or `run_until_done`). Its collaborators do the work: `JobStart` (Initializing), `HumanTasks` (InProgress, with
`AnnotationConsolidation`), `JobLifecycle` (statuses, the output manifest, the state change event), `JobFiles`
(S3). Calls hold one re-entrant lock; a DescribeLabelingJob that finds it held answers without stepping.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.models import sagemaker_backends
from moto.utilities.utils import get_partition

from groundcrew.workforces.ground_truth.task_pages import Presign
from groundcrew_local.ground_truth.annotation_consolidation import AnnotationConsolidation
from groundcrew_local.ground_truth.descriptions import describe, list_page
from groundcrew_local.ground_truth.human_tasks import HumanTasks
from groundcrew_local.ground_truth.job_files import JobFiles
from groundcrew_local.ground_truth.job_log import log
from groundcrew_local.ground_truth.job_start import JobStart
from groundcrew_local.ground_truth.jobs import JobFailure, LabelingJob, labeling_jobs
from groundcrew_local.ground_truth.lambda_calls import InvokeLambda
from groundcrew_local.ground_truth.lifecycle import JobLifecycle
from groundcrew_local.ground_truth.output_manifest import MetadataStyle
from groundcrew_local.ground_truth.request_rules import (
    api_error,
    check_create_labeling_job,
    throttling_error,
    validate_request,
    validation_error,
)
from groundcrew_local.workforce import SimulatedWorkforce

logger = logging.getLogger(__name__)


def default_clock() -> datetime:
    return datetime.now(UTC)


class GroundTruthStandIn:
    """Runs labeling jobs against moto's S3/EventBridge/Logs, calling Lambdas through `invoke_lambda`."""

    def __init__(
        self,
        invoke_lambda: InvokeLambda,
        workforce: SimulatedWorkforce,
        *,
        chunk_size: int = 10,
        presign: Presign | None = None,
        clock: Callable[[], datetime] = default_clock,
        strict_templates: bool = True,
        custom_metadata: MetadataStyle = "observed",
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.invoke_lambda = invoke_lambda
        self.workforce = workforce
        self.chunk_size = chunk_size
        self.clock = clock
        self.custom_metadata = custom_metadata
        self._presign = presign
        self._strict_templates = strict_templates
        self._throttles: list[str] = []
        self._lock = threading.RLock()
        files = JobFiles(presign)
        self._lifecycle = JobLifecycle(files, clock, custom_metadata)
        self._start = JobStart(files, self._lifecycle, workforce, strict_templates=strict_templates)
        consolidation = AnnotationConsolidation(files, invoke_lambda)
        self._tasks = HumanTasks(files, self._lifecycle, consolidation, invoke_lambda, workforce, chunk_size)

    # -- test controls ------------------------------------------------------------------------------------------

    def throttle_next(self, n: int, code: str = "ThrottlingException") -> None:
        """The next n CreateLabelingJob calls fail with `code` (HTTP 400) before any validation."""
        with self._lock:
            self._throttles.extend([code] * n)

    @property
    def jobs(self) -> dict[str, LabelingJob]:
        """Every labeling job in every moto account and Region, by name."""
        found: dict[str, LabelingJob] = {}
        for regions in list(sagemaker_backends.values()):
            for backend in list(regions.values()):
                for job in getattr(backend, "labeling_jobs", {}).values():
                    found[job.name] = job
        return found

    def job(self, name: str) -> LabelingJob:
        matches = [job for job in self.jobs.values() if job.name.lower() == name.lower()]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} labeling jobs named {name!r} across moto accounts and Regions")
        return matches[0]

    def run_until_done(self, job_name: str, max_steps: int = 10_000) -> LabelingJob:
        """Step the job until it reaches Completed, Failed or Stopped."""
        job = self.job(job_name)
        for _ in range(max_steps):
            if job.terminal:
                return job
            with self._lock:
                self.step(job)
        if not job.terminal:
            raise RuntimeError(f"labeling job {job_name} is still {job.status} after {max_steps} steps")
        return job

    # -- API ----------------------------------------------------------------------------------------------------

    def create_labeling_job(self, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._throttles:
                raise throttling_error(self._throttles.pop(0))
            validate_request("CreateLabelingJob", params)
            check_create_labeling_job(params)
            jobs = labeling_jobs(backend)
            name: str = params["LabelingJobName"]
            if name.lower() in jobs:
                existing = jobs[name.lower()]
                raise api_error(
                    "ResourceInUse",
                    f"Job name must be unique within an AWS account and region, and a job with this name already "
                    f"exists ({existing.arn})",
                )
            partition = get_partition(backend.region_name)
            arn = f"arn:{partition}:sagemaker:{backend.region_name}:{backend.account_id}:labeling-job/{name.lower()}"
            now = self.clock()
            job = LabelingJob(
                name=name,
                arn=arn,
                account_id=backend.account_id,
                region=backend.region_name,
                request=copy.deepcopy(params),
                created=now,
                modified=now,
                reference_code=hashlib.sha256(f"{arn}|{now.isoformat()}".encode()).hexdigest()[:20],
            )
            jobs[name.lower()] = job
            log(job, "LABELING_JOB_CREATED", f"status {job.status}")
            return {"LabelingJobArn": arn}

    def describe_labeling_job(self, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("DescribeLabelingJob", params)
        job = self._find(backend, params["LabelingJobName"])
        if not self._lock.acquire(blocking=False):
            # Another thread is running a step (moto server mode: maybe the very Lambda that step waits for):
            # report the job as it stands instead of waiting for that step.
            return describe(job)
        try:
            if not job.terminal and not job.stepping:  # a Lambda describing its own job must not recurse
                self.step(job)
            return describe(job)
        finally:
            self._lock.release()

    def list_labeling_jobs(self, backend: Any, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("ListLabelingJobs", params)
        with self._lock:
            jobs = list(labeling_jobs(backend).values())
        return list_page(jobs, params)

    def stop_labeling_job(self, backend: Any, params: dict[str, Any]) -> None:
        validate_request("StopLabelingJob", params)
        with self._lock:
            job = self._find(backend, params["LabelingJobName"])
            if job.terminal:
                raise validation_error(f"Labeling job {job.name} is {job.status} and can no longer be stopped")
            self._lifecycle.stop_requested(job)

    def _find(self, backend: Any, name: str) -> LabelingJob:
        job = labeling_jobs(backend).get(name.lower())
        if job is None:
            raise api_error("ResourceNotFound", f"Could not find requested job with name {name}")
        return job

    # -- running ------------------------------------------------------------------------------------------------

    def step(self, job: LabelingJob) -> None:
        """Advance the job by one step: start it, run a chunk of its objects, or drain a stop."""
        if job.terminal or job.stepping:
            return
        job.stepping = True
        try:
            if job.status == "Initializing":
                self._start.start(job)
            elif job.status == "InProgress":
                self._tasks.run_chunk(job)
            elif job.status == "Stopping":
                if job.stop_drained:
                    self._lifecycle.finish(job, "Stopped")
                else:
                    job.stop_drained = True
        except JobFailure as failure:
            self._lifecycle.fail(job, str(failure))
        except Exception as error:  # a stand-in bug must not look like an HTTP 500 that boto3 retries
            logger.exception("labeling job %s: the local Ground Truth stand-in crashed", job.name)
            self._lifecycle.fail(job, f"InternalServerError: the local Ground Truth stand-in crashed: {error!r}")
        finally:
            job.stepping = False
