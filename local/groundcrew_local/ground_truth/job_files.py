"""The files of a labeling job in moto's S3, and the presigned URLs of its task pages that workers can load.

`JobFiles.read` and `write` turn S3 errors into job failures (`ClientError: cannot read the <what> <uri>: NoSuchKey`)
and remember every file written (`LabelingJob.files`). Task pages presign through `recording_presigner`, which
remembers each URL it made, and a worker's browser loads a URL through `fetch`: only URLs presigned for the job
resolve, as on AWS where the page's URLs are the only ones the worker may read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from moto.core.exceptions import ServiceException
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from groundcrew.workforces.ground_truth.task_pages import Presign
from groundcrew_local.ground_truth.jobs import JobFailure, LabelingJob

if TYPE_CHECKING:
    from moto.s3.models import S3Backend


def compact_json(value: object) -> str:
    """JSON as Ground Truth writes it in its files and job log: no spaces, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise JobFailure(f"ClientError: {uri} is not an s3:// URI; the local stand-in reads and writes s3:// only")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def read_s3(backend: S3Backend, uri: str) -> bytes | None:
    """An object of moto's S3 as the worker's browser would load it (None when it does not exist)."""
    bucket, key = split_s3_uri(uri)
    try:
        found = backend.get_object(bucket, key)
    except ServiceException:
        return None
    return bytes(found.value) if found is not None else None


def boto3_presigner(region: str) -> Presign:
    """Presigned GET URLs like `grant_read_access`; an unsigned URL when there are no credentials."""
    import boto3
    from botocore.exceptions import NoCredentialsError

    client = boto3.client("s3", region_name=region)

    def presign(uri: str) -> str:
        bucket, key = split_s3_uri(uri)
        try:
            url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
            return str(url)
        except NoCredentialsError:
            return f"https://{bucket}.s3.amazonaws.com/{key}"

    return presign


class JobFiles:
    """Reads and writes of a job's files in moto's S3; `presign` replaces boto3's presigned URLs when given."""

    def __init__(self, presign: Presign | None = None) -> None:
        self.presign = presign
        self._presigners: dict[str, Presign] = {}

    def backend(self, job: LabelingJob) -> S3Backend:
        return s3_backends[job.account_id][get_partition(job.region)]

    def read(self, job: LabelingJob, uri: str, what: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        try:
            found = self.backend(job).get_object(bucket, key)
        except ServiceException as error:
            raise JobFailure(f"ClientError: cannot read the {what} {uri}: {error.code}") from None
        if found is None:
            raise JobFailure(f"ClientError: cannot read the {what} {uri}: NoSuchKey")
        return bytes(found.value)

    def write(self, job: LabelingJob, uri: str, body: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        try:
            self.backend(job).put_object(bucket, key, body)
        except ServiceException as error:
            raise JobFailure(f"ClientError: cannot write {uri}: {error.code}") from None
        job.files.append(uri)

    def recording_presigner(self, job: LabelingJob) -> Presign:
        """`grant_read_access` for the job's pages; remembers each URL so that workers can load it (`fetch`)."""
        presign = self._presigner(job.region)

        def record(uri: str) -> str:
            url = presign(uri)
            job.presigned[url] = uri
            return url

        return record

    def fetch(self, job: LabelingJob, url: str) -> bytes | None:
        """What a worker's browser gets for a URL on the task page: the S3 object, or None (does not load)."""
        uri = job.presigned.get(url)
        if uri is None:
            return None
        try:
            bucket, key = split_s3_uri(uri)
            found = self.backend(job).get_object(bucket, key)
        except (ServiceException, JobFailure):
            return None
        return None if found is None else bytes(found.value)

    def _presigner(self, region: str) -> Presign:
        if self.presign is not None:
            return self.presign
        if region not in self._presigners:
            self._presigners[region] = boto3_presigner(region)
        return self._presigners[region]
