"""Mechanical Turk's error responses: HTTP 400, body `{"__type", "Message", "TurkErrorCode"}`.

Requests breaking botocore's model (required members, types, lengths, ranges, patterns, enums; the Ground Truth
stand-in's wording) or MTurk's documented parameter rules (AssignmentDurationInSeconds 30..31536000, a Question
of at most 65,535 bytes that parses as HTMLQuestion / ExternalQuestion / QuestionForm XML...) ->
`ParameterValidationError`. MTurk really answers bad parameters with that `__type` although the model lists only
RequestError/ServiceFault (boto/boto3#2108, a CreateHIT with bad HTML5 in tylin/coco-ui#4); botocore raises it as
a plain ClientError.

State and business rules -> `RequestError` with a `TurkErrorCode`, the message ending in ` (<epoch millis>)` of
the simulated clock, like MTurk's: unknown HIT `Hit <id> does not exist.` (AWS.MechanicalTurk.HITDoesNotExist), an
assignment not Submitted `This operation can be called with a status of: Submitted`
(AWS.MechanicalTurk.InvalidAssignmentState), both observed (NRGI/resourcecontracts.org#1384).
"""

from __future__ import annotations

from datetime import datetime


class MTurkError(Exception):
    """An error response: `__type` = code, HTTP 400 unless told."""

    def __init__(self, code: str, message: str, turk_error_code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.turk_error_code = turk_error_code
        self.status = status


def parameter_error(message: str) -> MTurkError:
    return MTurkError("ParameterValidationError", message)


def request_error(message: str, turk_error_code: str, now: datetime) -> MTurkError:
    return MTurkError("RequestError", f"{message} ({int(now.timestamp() * 1000)})", turk_error_code)


def invalid_hit_state(status: str, allowed: str, now: datetime) -> MTurkError:
    """A HIT in `status` where the operation needs one of `allowed`."""
    return request_error(
        f"This HIT is currently in the state '{status}'. This operation can be called with a status of: {allowed}",
        "AWS.MechanicalTurk.InvalidHITState",
        now,
    )
