"""The HIT and Assignment structures of the requester API's answers, and the pages of its list operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from groundcrew_local.mturk.errors import parameter_error
from groundcrew_local.mturk.hits import HIT, Assignment
from groundcrew_local.page_tokens import encode_page_token, page_offset

DEFAULT_PAGE_SIZE = 10


def describe_hit(hit: HIT, now: datetime) -> dict[str, Any]:
    request = hit.request
    described: dict[str, Any] = {
        "HITId": hit.hit_id,
        "HITTypeId": hit.hit_type_id,
        "HITGroupId": hit.hit_group_id,
        "CreationTime": hit.created.timestamp(),
        "Title": request["Title"],
        "Description": request["Description"],
        "Question": request["Question"],
        "HITStatus": hit.status(now),
        "MaxAssignments": hit.max_assignments,
        "Reward": f"{hit.reward:.2f}",
        "AutoApprovalDelayInSeconds": hit.auto_approval_delay,
        "Expiration": hit.expiration.timestamp(),
        "AssignmentDurationInSeconds": hit.assignment_duration,
        "QualificationRequirements": request.get("QualificationRequirements") or [],
        "HITReviewStatus": "NotReviewed",
        "NumberOfAssignmentsPending": 0 if hit.disposed else hit.pending(now),
        "NumberOfAssignmentsAvailable": hit.available(now),
        "NumberOfAssignmentsCompleted": sum(1 for a in hit.assignments if a.status in {"Approved", "Rejected"}),
    }
    for optional in ("Keywords", "RequesterAnnotation"):
        if request.get(optional) is not None:
            described[optional] = request[optional]
    return described


def describe_assignment(assignment: Assignment) -> dict[str, Any]:
    described: dict[str, Any] = {
        "AssignmentId": assignment.assignment_id,
        "WorkerId": assignment.worker_id,
        "HITId": assignment.hit_id,
        "AssignmentStatus": assignment.status,
        "AutoApprovalTime": assignment.auto_approval_time.timestamp(),
        "AcceptTime": assignment.accept_time.timestamp(),
        "SubmitTime": assignment.submit_time.timestamp(),
        "Deadline": assignment.deadline.timestamp(),
        "Answer": assignment.answer,
    }
    if assignment.approval_time is not None:
        described["ApprovalTime"] = assignment.approval_time.timestamp()
    if assignment.rejection_time is not None:
        described["RejectionTime"] = assignment.rejection_time.timestamp()
    if assignment.requester_feedback is not None:
        described["RequesterFeedback"] = assignment.requester_feedback
    return described


def page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """One page of a list operation (MaxResults, default 10), with NumResults and the NextToken of the next one."""
    offset = _decode_token(params.get("NextToken"))
    size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
    selected = items[offset : offset + size]
    extra: dict[str, Any] = {"NumResults": len(selected)}
    if offset + size < len(items):
        extra["NextToken"] = encode_page_token(offset + size)
    return selected, extra


def _decode_token(token: str | None) -> int:
    offset = page_offset(token)
    if offset is None:
        raise parameter_error(f"NextToken {token!r} is not a token this operation returned")
    return offset
