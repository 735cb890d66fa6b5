"""Calls to our Lambdas as Ground Truth makes them: JSON in, JSON out, a function error kept apart.

`invoke_json` sends the payload as JSON and reads the response as JSON. The function raising is a
`LambdaInvocationError` (the object or chunk fails); not being able to call the function at all fails the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from groundcrew_local.ground_truth.jobs import JobFailure

LAMBDA_PAYLOAD_VERSION = "2018-10-16"

InvokeLambda = Callable[[str, dict[str, Any]], Any]


class LambdaInvocationError(Exception):
    """The invoked Lambda function raised: what Lambda reports as `{"errorType", "errorMessage"}`."""

    def __init__(self, error_type: str, error_message: str) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.errorType = error_type
        self.errorMessage = error_message

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LambdaInvocationError:
        return cls(str(payload.get("errorType", "Unhandled")), str(payload.get("errorMessage", "")))


def invoke_json(invoke_lambda: InvokeLambda, arn: str, payload: dict[str, Any]) -> Any:
    """Lambda sees JSON and returns JSON; anything but a function error is a job-level failure."""
    try:
        response = invoke_lambda(arn, json.loads(json.dumps(payload)))
    except LambdaInvocationError:
        raise
    except Exception as error:
        raise JobFailure(f"ClientError: could not invoke Lambda function {arn}: {error}") from None
    try:
        return json.loads(json.dumps(response))
    except (TypeError, ValueError):
        raise LambdaInvocationError("Runtime.MarshalError", f"response of {arn} is not JSON") from None
