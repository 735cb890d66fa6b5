"""4. EventBridge targets: ``moto.events.models.Rule.send_to_targets`` delivers as EventBridge does.

moto's Lambda and Step Functions targets raise NotImplementedError, which also starves the targets listed after
them. They are delivered here, and so are SQS targets (moto dropped ``account`` from PutEvents events and ignored
Input/InputPath), all with the event exactly as EventBridge sends it or after Input, InputPath or
InputTransformer. Other targets keep moto's behaviour, one at a time, and a failing target is logged instead of
failing PutEvents. Rules that are DISABLED or schedule-only no longer match events (moto delivered every event to
them); archives also record S3 events.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from moto.awslambda.utils import get_backend as lambda_backend
from moto.events.models import Rule
from moto.sqs.models import sqs_backends
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from groundcrew_local.moto_patches.originals import original, patch

LOG = logging.getLogger(__name__)


def install() -> None:
    patch(Rule, "send_to_targets", _send_to_targets)


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if not rule_matches(self, original_event):
        return
    for target in list(self.targets):
        try:
            _deliver_to_target(self, target, original_event, transform_input)
        except Exception:
            # EventBridge delivers asynchronously: a failed target never fails PutEvents or the S3 write.
            LOG.exception("rule %s: delivery to target %s failed", self.name, target.get("Id"))


def rule_matches(rule: Rule, event: Any) -> bool:
    """Whether a rule receives an event: enabled, with an event pattern (schedule-only rules never match)."""
    if not str(rule.state).startswith("ENABLED") or not rule.event_pattern.get_pattern():
        return False
    return bool(rule.event_pattern.matches_event(event))


def _deliver_to_target(rule: Rule, target: dict[str, Any], event: Any, transform_input: bool) -> None:
    arn = parse_arn(target["Arn"])
    if arn.service == "lambda":
        _invoke_lambda_target(target["Arn"], target_payload(rule, target, event))
    elif arn.service == "events" and not arn.resource_type and (archive := _archive_resource_id(target)):
        # moto finds the archive through the target's InputTransformer, which S3 events skip.
        rule._send_to_events_archive(archive, event)
    elif arn.service == "sqs":
        _send_to_queue(target["Arn"], target_payload(rule, target, event), target)
    elif arn.service == "states":
        name = execution_name(str(event.get("id", "")), str(target.get("Id", "")))
        backend = stepfunctions_backend(arn.account, arn.region)
        backend.start_execution(target["Arn"], name, target_payload(rule, target, event))
    else:
        single = copy.copy(rule)
        single.targets = [target]
        original(Rule, "send_to_targets")(single, event, transform_input)


_ARCHIVE_ARN = re.compile(r'"archive-arn": "([^"]+)"')


def _archive_resource_id(target: Mapping[str, Any]) -> str | None:
    match = _ARCHIVE_ARN.search(str((target.get("InputTransformer") or {}).get("InputTemplate", "")))
    return str(parse_arn(match.group(1)).resource_id) if match else None


def _send_to_queue(queue_arn: str, payload: str, target: Mapping[str, Any]) -> None:
    arn = parse_arn(queue_arn)
    backend = sqs_backends[arn.account][arn.region]
    if arn.resource_id.endswith(".fifo"):
        attributes = backend.get_queue_attributes(arn.resource_id, ["ContentBasedDeduplication"])
        if str(attributes.get("ContentBasedDeduplication")).lower() != "true":
            LOG.warning("EventBridge needs content-based deduplication on FIFO queue %s: not sent", arn.resource_id)
            return
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    backend.send_message(queue_name=arn.resource_id, message_body=payload, group_id=group_id)


def _invoke_lambda_target(function_arn: str, payload: str) -> None:
    arn = parse_arn(function_arn)
    function = lambda_backend(arn.account, arn.region).get_function(function_arn)
    response_headers: dict[str, str] = {}
    function.invoke(payload, {"x-amz-invocation-type": "Event"}, response_headers)
    if "x-amz-function-error" in response_headers:
        LOG.warning("asynchronous invocation of %s failed (not retried in local mode)", function_arn)


def delivered_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a target receives it: ISO time, without moto's bookkeeping fields."""
    delivered = copy.deepcopy(event)
    delivered.pop("ingestion-time", None)
    if isinstance(delivered.get("time"), (int, float)):
        moment = datetime.datetime.fromtimestamp(float(delivered["time"]), tz=datetime.UTC)
        delivered["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


def target_payload(rule: Rule, target: Mapping[str, Any], event: dict[str, Any]) -> str:
    """The text a target receives, after its Input, InputPath or InputTransformer."""
    delivered = delivered_event(event)
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(json_path_value(delivered, str(target["InputPath"])))
    transformer = target.get("InputTransformer")
    if transformer:
        return apply_input_transformer(transformer, delivered, rule_arn=rule.arn, rule_name=rule.name)
    return json.dumps(delivered)


_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


def json_path_value(document: Any, path: str) -> Any:
    """Value at an EventBridge JSON path such as ``$.detail.object.key`` or ``$.resources[0]``; None if absent."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path must start with '$': {path!r}")
    value = document
    for match in _PATH_TOKEN.finditer(path[1:]):
        name, index, quoted = match.groups()
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(name if name is not None else quoted)
    return value


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def apply_input_transformer(
    transformer: Mapping[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str
) -> str:
    """Fill an InputTemplate: strings inside quotes are JSON-escaped, other values JSON-encoded."""
    values: dict[str, Any] = {
        name: json_path_value(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.update(
        {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event.get("time"),
        }
    )
    template = str(transformer["InputTemplate"])

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        quoted = template[match.start() - 1 : match.start()] == '"' and template[match.end() : match.end() + 1] == '"'
        if isinstance(value, str):
            return json.dumps(value)[1:-1] if quoted else value
        if value is None and quoted:
            return ""
        return json.dumps(value)

    return _PLACEHOLDER.sub(fill, template)


_EXECUTION_COUNTS: dict[str, int] = {}
_EXECUTION_LOCK = threading.Lock()


def execution_name(event_id: str, target_id: str) -> str:
    """Deterministic, unique execution name for an event delivered to a target (moto needs one)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", f"{target_id}-{event_id}".strip("-")) or "event"
    if len(base) > 64:
        base = f"{base[:55]}-{hashlib.sha256(base.encode()).hexdigest()[:8]}"
    with _EXECUTION_LOCK:
        count = _EXECUTION_COUNTS[base] = _EXECUTION_COUNTS.get(base, 0) + 1
    return f"{base}-{count}"
