"""Scheduled flush: seal batches older than their project's max age and retry starts that did not happen."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from groundcrew.core.events import EventPublisher
from groundcrew.intake.batches import BatchStore
from groundcrew.steps.receive import Receiver

logger = Logger()
s3 = boto3.client("s3")
sfn = boto3.client("stepfunctions")
store = BatchStore(boto3.client("dynamodb"), os.environ["BATCHES_TABLE"])
publisher = EventPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    receiver = Receiver(
        s3=s3,
        sfn=sfn,
        store=store,
        publisher=publisher,
        data_bucket=os.environ["DATA_BUCKET"],
        state_machine_arn=os.environ["STATE_MACHINE_ARN"],
    )
    try:
        receiver.flush()
    finally:
        receiver.finish()
    return {"open_batches": sum(1 for _ in store.open_batches())}
