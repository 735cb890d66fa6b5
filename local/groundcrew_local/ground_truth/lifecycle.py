"""Status changes of a labeling job, and the state change event Ground Truth sends when a job ends.

`set_status` records the new status and the modification time; on Completed, Failed or Stopped it puts
`SageMaker Ground Truth Labeling Job State Change` (source `aws.sagemaker`) on the default event bus, as Ground
Truth does (contracts 8.1). `finish` writes the output manifest of a started job first; `fail` keeps the reason
(at most 1,024 characters) as FailureReason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from moto.events.models import events_backends

from groundcrew_local.ground_truth.job_files import JobFiles, compact_json
from groundcrew_local.ground_truth.job_log import log
from groundcrew_local.ground_truth.jobs import TERMINAL_STATUSES, LabelingJob
from groundcrew_local.ground_truth.output_manifest import MetadataStyle, write_output_manifest

logger = logging.getLogger(__name__)

STATE_CHANGE_SOURCE = "aws.sagemaker"
STATE_CHANGE_DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"
MAX_FAILURE_REASON = 1024


def emit_state_change(job: LabelingJob) -> None:
    entry = {
        "Source": STATE_CHANGE_SOURCE,
        "DetailType": STATE_CHANGE_DETAIL_TYPE,
        "Resources": [job.arn],
        "Detail": json.dumps({"LabelingJobStatus": job.status}),
    }
    results = events_backends[job.account_id][job.region].put_events([entry])
    failed = [result for result in results if result.get("ErrorCode")]
    if failed:
        logger.error("labeling job %s: state change event refused by EventBridge: %s", job.name, failed)


class JobLifecycle:
    """Moves jobs between statuses, on the stand-in's clock, writing the output manifest when a job ends."""

    def __init__(self, files: JobFiles, clock: Callable[[], datetime], metadata_style: MetadataStyle) -> None:
        self.files = files
        self.clock = clock
        self.metadata_style = metadata_style

    def set_status(self, job: LabelingJob, status: str) -> None:
        job.status = status
        job.modified = self.clock()
        if status in TERMINAL_STATUSES:
            emit_state_change(job)

    def finish(self, job: LabelingJob, status: str) -> None:
        """Completed or Stopped: the output manifest (when the job got as far as reading its input), then the status."""
        if job.initialized:
            write_output_manifest(job, self.files, self.metadata_style)
        counters = job.label_counters()
        log(job, f"LABELING_JOB_{status.upper()}", compact_json(counters))
        self.set_status(job, status)

    def fail(self, job: LabelingJob, reason: str) -> None:
        job.failure_reason = reason[:MAX_FAILURE_REASON]
        log(job, "LABELING_JOB_FAILED", job.failure_reason, level=logging.ERROR)
        self.set_status(job, "Failed")

    def stop_requested(self, job: LabelingJob) -> None:
        """StopLabelingJob: Stopping; the next step keeps Stopping, the one after finishes the job as Stopped."""
        if job.status != "Stopping":
            self.set_status(job, "Stopping")
            job.stop_drained = False
            log(job, "LABELING_JOB_STOP_REQUESTED", "StopLabelingJob called")

    def auto_stop(self, job: LabelingJob, limit: int | None) -> None:
        """A stopping condition is met: Stopping, and the next step finishes the job as Stopped."""
        log(job, "LABELING_JOB_STOPPING_CONDITION_MET", f"{job.count('labeled')} objects labeled (limit {limit})")
        self.set_status(job, "Stopping")
        job.stop_drained = True
