"""S3 URIs (`s3://bucket/key`) as a small value type, and the one way groundcrew writes and reads a small object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class InvalidS3Uri(ValueError):
    """A string that should be an s3://bucket/key URI is not one."""


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise InvalidS3Uri(f"{uri!r} is not an S3 URI: expected s3://bucket/key")
        bucket, _, key = uri[5:].partition("/")
        if not bucket:
            raise InvalidS3Uri(f"{uri!r} has no bucket name: expected s3://bucket/key")
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, *parts: str) -> S3Location:
        """The location `parts` below this one, treating the key as a folder."""
        prefix = self.key.rstrip("/")
        suffix = "/".join(p.strip("/") for p in parts)
        return S3Location(self.bucket, f"{prefix}/{suffix}" if prefix else suffix)

    def __str__(self) -> str:
        return self.uri


def put_object(s3: S3Client, location: S3Location, body: bytes, content_type: str = "application/json") -> None:
    """Write a small object, encrypted at rest like everything else in the data bucket."""
    s3.put_object(
        Bucket=location.bucket, Key=location.key, Body=body, ContentType=content_type, ServerSideEncryption="AES256"
    )


def object_size_reader(s3: S3Client) -> Callable[[S3Location], int | None]:
    """A function giving an object's size, or None when it does not exist (or may not be read)."""

    def size(location: S3Location) -> int | None:
        try:
            return s3.head_object(Bucket=location.bucket, Key=location.key)["ContentLength"]
        except s3.exceptions.ClientError:
            return None

    return size


def object_reader(s3: S3Client) -> Callable[[str], bytes | None]:
    """A function giving an s3:// object's bytes, or None when there is no such object."""

    def read(uri: str) -> bytes | None:
        location = S3Location.parse(uri)
        try:
            return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    return read
