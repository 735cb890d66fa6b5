"""Intake: S3 "Object Created" events (EventBridge -> SQS) become items of their project's open batch."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.intake.batches import BatchStore
from groundcrew.intake.rules import IncomingObject, decode_event_key
from groundcrew.steps.receive import Receiver

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
s3 = boto3.client("s3")
sfn = boto3.client("stepfunctions")
store = BatchStore(boto3.client("dynamodb"), os.environ["BATCHES_TABLE"])
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


def incoming_object(body: str) -> IncomingObject:
    event = S3EventNotificationEventBridgeModel.model_validate_json(body)
    obj = event.detail.object
    return IncomingObject(
        bucket=event.detail.bucket.name,
        key=decode_event_key(obj.key),
        size=int(obj.size or 0),
        etag=obj.etag,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    receiver = Receiver(
        s3=s3,
        sfn=sfn,
        store=store,
        publisher=publisher,
        data_bucket=os.environ["DATA_BUCKET"],
        state_machine_arn=os.environ["STATE_MACHINE_ARN"],
        import_state_machine_arn=os.environ.get("IMPORT_STATE_MACHINE_ARN"),
    )

    def record_handler(record: SQSRecord) -> None:
        receiver.receive(incoming_object(record.body))

    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        receiver.finish()
