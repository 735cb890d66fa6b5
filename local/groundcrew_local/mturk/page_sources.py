"""What a HIT's page shows the simulated workers: its data object, and the S3 objects behind its URLs.

The data object (answer-key lookup) comes from the first crowd element with a `src`: a presigned S3 URL,
path-style or virtual-hosted, becomes `{"source-ref": "s3://bucket/key"}`; otherwise RequesterAnnotation when it is
a JSON object with `source-ref` or `source`. Workers load URLs through `moto_s3_reader` by default: the object of
moto's S3 that the URL names (signatures and expiry are not checked).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from moto.core.exceptions import ServiceException
from moto.s3.models import s3_backends

from groundcrew_local.workforce import Fetch, crowd_elements

S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")


def s3_uri_of_url(url: str) -> str | None:
    """`s3://bucket/key` of an S3 URL (presigned or not; path-style or virtual-hosted), None for other URLs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = S3_HOST.match(parts.hostname or "")
    if parts.scheme not in {"http", "https"} or match is None:
        return None
    path = unquote(parts.path).lstrip("/")
    bucket = match.group("bucket")
    if bucket is None:
        bucket, _, path = path.partition("/")
    if not bucket or not path:
        return None
    return f"s3://{bucket}/{path}"


def data_object_of_page(page_html: str, requester_annotation: str | None) -> dict[str, Any]:
    """What the answer key is looked up by: the first crowd element's S3 `src`, else RequesterAnnotation's JSON."""
    for element in crowd_elements(page_html):
        src = element.attributes.get("src")
        if src:
            uri = s3_uri_of_url(src)
            if uri is not None:
                return {"source-ref": uri}
            break
    if requester_annotation:
        try:
            annotation = json.loads(requester_annotation)
        except ValueError:
            return {}
        if isinstance(annotation, dict):
            return {key: annotation[key] for key in ("source-ref", "source") if isinstance(annotation.get(key), str)}
    return {}


def moto_s3_reader(account_id: str) -> Fetch:
    def read(url: str) -> bytes | None:
        uri = s3_uri_of_url(url)
        if uri is None:
            return None
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            found = s3_backends[account_id]["aws"].get_object(bucket, key)
        except ServiceException:
            return None
        return None if found is None else bytes(found.value)

    return read
