"""6. S3 -> EventBridge events, and S3 notifications, like real S3.

``moto.s3.notifications._send_event_bridge_message``: S3 "Object Created/Deleted" events carry the form-encoded
key like real S3, a unique ``id``, the real ``detail.reason`` (PutObject, CopyObject, CompleteMultipartUpload...),
``etag``, a ``version-id`` only on versioned buckets and an increasing ``sequencer``; they go to the default bus
only (moto sent them to every bus).

``s3_notifications.send_event`` (with ``S3Response.put_object_tagging`` and ``S3Backend.complete_multipart_upload``
marking the operation): every notification channel loses moto's extra "Object Tags Added" after each
PutObject/CopyObject/CompleteMultipartUpload and the extra PutObject "Object Created" of a multipart upload.
``s3_notifications._get_s3_event``: Lambda/SQS/SNS notifications keep "/" in keys (moto encoded it as %2F).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any, Final

from moto.events.models import events_backends
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from groundcrew_local.moto_patches.originals import original, patch

LOG = logging.getLogger(__name__)


def install() -> None:
    patch(s3_notifications, "_send_event_bridge_message", _send_event_bridge_message)
    patch(s3_notifications, "send_event", _send_s3_event)
    patch(s3_notifications, "_get_s3_event", _s3_notification_event)
    patch(S3Response, "put_object_tagging", _put_object_tagging_request)
    patch(S3Backend, "complete_multipart_upload", _complete_multipart_upload)


_S3_REASONS: Final = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}
_DELETION_TYPES: Final = {
    "s3:ObjectRemoved:Delete": "Permanently Deleted",
    "s3:ObjectRemoved:DeleteMarkerCreated": "Delete Marker Created",
    "s3:LifecycleExpiration:Delete": "Permanently Deleted",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Delete Marker Created",
}
_SEQUENCER_LOCK = threading.Lock()
_last_sequencer = 0


def s3_notification_key(key: str) -> str:
    """Object key as S3 writes it in notifications: form-encoded, slashes kept."""
    return urllib.parse.quote_plus(key, safe="/")


def next_sequencer() -> str:
    """Increasing hexadecimal sequencer, unique in this process."""
    global _last_sequencer
    with _SEQUENCER_LOCK:
        _last_sequencer = max(time.time_ns(), _last_sequencer + 1)
        return f"{_last_sequencer:018X}"


def s3_event_bridge_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": s3_notification_key(key.name)}
    if event_name not in _DELETION_TYPES:  # real "Object Deleted" events carry neither size nor etag
        obj.update({"size": getattr(key, "size", 0), "etag": str(getattr(key, "etag", "")).strip('"')})
    if bucket.is_versioned:
        obj["version-id"] = key.version_id
    obj["sequencer"] = next_sequencer()
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": _S3_REASONS.get(event_name, event_name.split(":")[1]),
    }
    if event_name in _DELETION_TYPES:
        detail["deletion-type"] = _DELETION_TYPES[event_name]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        "time": time.time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }


_S3_REQUEST = threading.local()  # which S3 operation is running in this thread


@contextlib.contextmanager
def _s3_operation(name: str) -> Iterator[None]:
    setattr(_S3_REQUEST, name, True)
    try:
        yield
    finally:
        setattr(_S3_REQUEST, name, False)


def _put_object_tagging_request(self: S3Response, *args: Any, **kwargs: Any) -> Any:
    with _s3_operation("explicit_tagging"):
        return original(S3Response, "put_object_tagging")(self, *args, **kwargs)


def _complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
    with _s3_operation("completing_multipart"):
        return original(S3Backend, "complete_multipart_upload")(self, *args, **kwargs)


def _send_s3_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    # moto tags every new object through the PutObjectTagging code path, and completes a multipart upload
    # with an inner PutObject: real S3 notifies neither.
    name = str(getattr(event_name, "value", event_name))
    if name == "s3:ObjectTagging:Put" and not getattr(_S3_REQUEST, "explicit_tagging", False):
        return
    if name == "s3:ObjectCreated:Put" and getattr(_S3_REQUEST, "completing_multipart", False):
        return
    original(s3_notifications, "send_event")(account_id, event_name, bucket, key)


def _s3_notification_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    # moto encodes "/" in the key of Lambda/SQS/SNS notifications too; real S3 keeps it.
    event: dict[str, Any] = original(s3_notifications, "_get_s3_event")(event_name, bucket, key, notification_id)
    for record in event["Records"]:
        record["s3"]["object"]["key"] = s3_notification_key(key.name)
    return event


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
    name = str(getattr(event_name, "value", event_name))
    try:
        event = s3_event_bridge_event(account_id, bucket, name, key)
        default_bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        for rule in list(default_bus.rules.values()) if default_bus else []:
            rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]
    except Exception:
        # Asynchronous in AWS: never fail the S3 request.
        LOG.exception("S3 EventBridge notification for %s/%s failed", bucket.name, key.name)
