"""The job log: lines as Ground Truth writes them to CloudWatch Logs `/aws/sagemaker/LabelingJobs`, stream = job name.

Each line is also kept on the job (`LabelingJob.log`) and logged through Python's logging. A data object that
fails is marked failed with its reason and logged as `DATA_OBJECT_FAILED`.
"""

from __future__ import annotations

import logging
import time

from moto.core.exceptions import ServiceException
from moto.logs.models import logs_backends

from groundcrew_local.ground_truth.job_files import compact_json
from groundcrew_local.ground_truth.jobs import DataObject, LabelingJob

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/LabelingJobs"


def log(job: LabelingJob, event_name: str, message: str, level: int = logging.INFO) -> None:
    """Job log lines as Ground Truth writes them to `/aws/sagemaker/LabelingJobs`, stream = job name."""
    text = compact_json({"labeling-job-name": job.name, "event-name": event_name, "event-log-message": message})
    job.log.append(text)
    logger.log(level, "%s", text)
    logs = logs_backends[job.account_id][job.region]
    try:
        if LOG_GROUP not in logs.groups:
            logs.create_log_group(LOG_GROUP, {})
        logs.ensure_log_stream(LOG_GROUP, job.name)
        logs.put_log_events(LOG_GROUP, job.name, [{"timestamp": int(time.time() * 1000), "message": text}])
    except ServiceException as error:  # logging must never break a job
        logger.warning("could not write the job log to CloudWatch Logs: %s", error)


def fail_object(job: LabelingJob, item: DataObject, reason: str) -> None:
    """The object fails (FailedNonRetryableError): its line is copied unchanged, the reason goes to the job log."""
    item.outcome, item.reason = "failed", reason
    log(job, "DATA_OBJECT_FAILED", f"datasetObjectId {item.dataset_object_id}: {reason}", logging.WARNING)
