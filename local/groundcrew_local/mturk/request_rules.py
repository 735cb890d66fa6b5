"""What the requester API refuses before looking at any HIT: botocore's model, and MTurk's parameter rules.

`validate_request` lists every type and model constraint a request breaks (the Ground Truth stand-in's wording,
`model_constraints`) as one ParameterValidationError. CreateHIT's own rules (legacy API reference): LifetimeInSeconds
and AssignmentDurationInSeconds 30..31536000, AutoApprovalDelayInSeconds 0..2592000, MaxAssignments
1..1,000,000,000, Title 128, Description 2,000, Keywords 1,000, RequesterAnnotation 255 and RequesterFeedback 1,024
characters; HITLayoutId is refused (not emulated).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, Shape, StructureShape
from moto.core.utils import get_service_model

from groundcrew_local.model_constraints import constraint_violations, lower_camel
from groundcrew_local.mturk.errors import MTurkError, parameter_error

# (member, lowest, highest) of CreateHIT beyond the model (legacy API reference; AssignmentDuration also today's)
CREATE_HIT_RANGES = (
    ("AssignmentDurationInSeconds", 30, 31_536_000),
    ("LifetimeInSeconds", 30, 31_536_000),
    ("AutoApprovalDelayInSeconds", 0, 2_592_000),
    ("MaxAssignments", 1, 1_000_000_000),
)
CREATE_HIT_LENGTHS = (("Title", 128), ("Description", 2000), ("Keywords", 1000), ("RequesterAnnotation", 255))
MAX_FEEDBACK_CHARS = 1024
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "timestamp": (int, float, str),
    "double": (int, float),
    "float": (int, float),
    "list": (list,),
    "structure": (dict,),
    "map": (dict,),
}


@cache
def _input_shape(operation: str) -> Shape | None:
    return get_service_model("mturk").operation_model(operation).input_shape


def _type_violations(value: object, shape: Shape, path: str) -> list[str]:
    expected = _JSON_TYPES.get(shape.type_name)
    wrong_bool = isinstance(value, bool) and bool not in (expected or ())
    if expected is not None and (wrong_bool or not isinstance(value, expected)):
        return [f"Value '{value}' at '{path}' failed to satisfy constraint: Member must be of type {shape.type_name}"]
    errors: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if value.get(name) is not None:
                where = f"{path}.{lower_camel(name)}" if path else lower_camel(name)
                errors.extend(_type_violations(value[name], member, where))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value, start=1):
            errors.extend(_type_violations(item, shape.member, f"{path}.{index}.member"))
    return errors


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """ParameterValidationError listing every type and model constraint the request breaks."""
    shape = _input_shape(operation)
    if shape is None:
        return
    errors = _type_violations(params, shape, "") or constraint_violations(params, shape)
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise parameter_error(f"{len(errors)} validation error{plural} detected: " + "; ".join(errors))


def check_create_hit(params: dict[str, Any]) -> None:
    for name, lowest, highest in CREATE_HIT_RANGES:
        value = params.get(name)
        if value is not None and not lowest <= value <= highest:
            raise parameter_error(f"{name} {value} is out of range: it must be between {lowest} and {highest}")
    for name, longest in CREATE_HIT_LENGTHS:
        value = params.get(name)
        if value is not None and len(value) > longest:
            raise parameter_error(f"{name} is {len(value)} characters long; it must not exceed {longest}")
    if not params.get("Title") or not params.get("Description"):
        raise parameter_error("Title and Description must not be empty")
    if params.get("HITLayoutId") is not None:
        raise MTurkError("RequestError", "HITLayoutId is not emulated by the local MTurk stand-in: pass Question")
    if not params.get("Question"):
        raise parameter_error("Either a Question parameter or a HITLayoutId parameter must be provided")


def check_feedback(params: dict[str, Any]) -> None:
    feedback = params.get("RequesterFeedback")
    if feedback is not None and len(feedback) > MAX_FEEDBACK_CHARS:
        raise parameter_error(
            f"RequesterFeedback is {len(feedback)} characters long; it must not exceed {MAX_FEEDBACK_CHARS}"
        )


def parse_timestamp(value: Any) -> datetime:
    """A timestamp member as botocore sends it (epoch seconds or ISO 8601), timezone-aware."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
