"""5. SQS event source mappings with partial batch failures (``ReportBatchItemFailures``).

``moto.sqs.models.Queue.add_message`` and ``SQSBackend.send_message_batch``: for event source mappings with
``FunctionResponseTypes: [ReportBatchItemFailures]``, the batch goes to the function in one call (a
SendMessageBatch is one batch, as Lambda's poller would see it) and only the messages that are not listed in
``batchItemFailures`` are deleted; the others become visible again, so the queue's RedrivePolicy moves them to
the DLQ after maxReceiveCount. Mappings without that setting keep moto's behaviour. ``poll_sqs_event_source(
queue_arn)`` plays Lambda's poller for messages left visible.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

from moto.awslambda.models import EventSourceMapping
from moto.awslambda.utils import get_backend as lambda_backend
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends
from moto.utilities.arns import parse_arn

from groundcrew_local.moto_patches.originals import original, patch


def install() -> None:
    patch(Queue, "add_message", _add_message)
    patch(SQSBackend, "send_message_batch", _send_message_batch)


_DEFERRED_QUEUES: dict[int, int] = {}


def reports_batch_item_failures(mapping: EventSourceMapping) -> bool:
    return "ReportBatchItemFailures" in (mapping.function_response_types or [])


def _add_message(self: Queue, message: Message) -> None:
    mappings = self.lambda_event_source_mappings
    reporting = {arn: m for arn, m in mappings.items() if reports_batch_item_failures(m)}
    if not reporting:
        original(Queue, "add_message")(self, message)
        return
    # moto's code handles FIFO deduplication and the other mappings; ours handles the reporting ones.
    self.lambda_event_source_mappings = {arn: m for arn, m in mappings.items() if arn not in reporting}
    try:
        original(Queue, "add_message")(self, message)
    finally:
        self.lambda_event_source_mappings = mappings
    if id(self) in _DEFERRED_QUEUES or not any(m is message for m in self._messages):
        return
    for mapping in reporting.values():
        if mapping.enabled:
            deliver_queue_to_function(self, mapping)


def _send_message_batch(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
    queue = self.get_queue(queue_name)
    key = id(queue)
    _DEFERRED_QUEUES[key] = _DEFERRED_QUEUES.get(key, 0) + 1
    try:
        result = original(SQSBackend, "send_message_batch")(self, queue_name, *args, **kwargs)
    finally:
        _DEFERRED_QUEUES[key] -= 1
        if not _DEFERRED_QUEUES[key]:
            del _DEFERRED_QUEUES[key]
    if key not in _DEFERRED_QUEUES:
        for mapping in list(queue.lambda_event_source_mappings.values()):
            if mapping.enabled and reports_batch_item_failures(mapping):
                deliver_queue_to_function(queue, mapping)
    return result


def poll_sqs_event_source(queue_arn: str) -> int:
    """Play Lambda's poller once: deliver the visible messages of a queue to its enabled mappings.

    moto only delivers when a message arrives; call this to retry messages left visible by a failure.
    Returns the number of invocations.
    """
    arn = parse_arn(queue_arn)
    queue = sqs_backends[arn.account][arn.region].get_queue(arn.resource_id)
    return sum(
        deliver_queue_to_function(queue, mapping)
        for mapping in list(queue.lambda_event_source_mappings.values())
        if mapping.enabled
    )


def deliver_queue_to_function(queue: Queue, mapping: EventSourceMapping) -> int:
    """Deliver each visible message once, in batches; failed ones become visible again at the end."""
    backend = sqs_backends[queue.account_id][queue.region]
    batch_size = int(mapping.batch_size)
    rounds = max(1, math.ceil(len(queue.messages) / batch_size))
    failed_handles: list[str] = []
    invocations = 0
    visibility_timeout = int(getattr(queue, "visibility_timeout", 30))
    for _ in range(rounds):
        messages = backend.receive_message(queue.name, batch_size, 0, visibility_timeout)
        if not messages:
            break
        invocations += 1
        failed = _invoke_with_batch(queue, mapping, messages)
        for message in messages:
            handle = str(message.receipt_handle)
            if message.id in failed:
                failed_handles.append(handle)
            else:
                backend.delete_message(queue.name, handle)
    for handle in failed_handles:
        with contextlib.suppress(ReceiptHandleIsInvalid):  # the handler may have deleted it itself
            backend.change_message_visibility(queue.name, handle, 0)
    return invocations


def _invoke_with_batch(queue: Queue, mapping: EventSourceMapping, messages: list[Message]) -> set[str]:
    event = {"Records": [sqs_record(queue, message) for message in messages]}
    response_headers: dict[str, str] = {}
    payload = lambda_backend(queue.account_id, queue.region).invoke(
        mapping.function_arn, None, json.dumps(event), {}, response_headers
    )
    batch_ids = {message.id for message in messages}
    if "x-amz-function-error" in response_headers:
        return batch_ids
    if not reports_batch_item_failures(mapping):
        return set()
    return failed_item_ids(payload, batch_ids)


def failed_item_ids(payload: str | bytes | None, batch_ids: set[str]) -> set[str]:
    """Message ids a ReportBatchItemFailures response marks as failed; a malformed response fails them all."""
    try:
        response = json.loads(payload) if payload else None
    except ValueError:
        return set(batch_ids)
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return set(batch_ids)
    ids = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    if not all(isinstance(i, str) and i in batch_ids for i in ids):
        return set(batch_ids)  # what Lambda does with an empty or unknown itemIdentifier
    return {str(i) for i in ids}


def sqs_record(queue: Queue, message: Message) -> dict[str, Any]:
    """One record of the SQS event Lambda sends, with the message's real receive count."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if queue.fifo_queue:
        attributes.update(
            {
                "MessageGroupId": str(message.group_id),
                "MessageDeduplicationId": str(message.deduplication_id),
                "SequenceNumber": str(message.sequence_number),
            }
        )
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in message.message_attributes.items()
        },
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": queue.region,
    }
