"""A local IAM check: calls made by our in-process Lambda handlers are evaluated against their template Policies.

Local mode never asks IAM, so a function whose ``Policies`` lack a permission works locally and fails with
AccessDenied on AWS. Here every botocore request made *while a handler runs* is mapped to the IAM actions and
resources it needs (``required_permissions``) and evaluated against the function's identity policy
(``evaluate``), which ``stack.deploy_local_stack`` builds from the template (``register_function_policy``).

Who is checked: ``moto_patches.in_process_lambda`` sets the running function (``running_function``) around
each in-process handler call, a context variable, so nested invocations and Step Functions threads each see their
own caller; ``ThreadPoolExecutor.submit`` carries it into the handler's worker threads (both hooks are
installed by ``moto_patches.iam_check_hooks``). The botocore hook
(``checked_request``) clears it while moto serves the request, so what moto does on the caller's behalf (the
Ground Truth stand-in, S3 notifications, Step Functions executions) is not checked. Calls by test code, by the
deployment and by Step Functions' own service integrations run with no caller, hence unchecked.

Evaluated: Allow and Deny statements (Action/NotAction with ``*``/``?``, case-insensitive; Resource/NotResource
with wildcards, ARN component by component); Conditions with the String operators (Equals, NotEquals, Like,
NotLike, the IgnoreCase and IfExists forms) on ``s3:prefix``, ``events:source`` and ``iam:PassedToService``.
Any other condition key or operator is *unsupported*: such an Allow grants nothing and such a Deny applies,
and the denial says so. A few SAM policy templates are expanded (``SAM_POLICY_TEMPLATES``); SAM's implicit
AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess (Tracing: Active) and AWSLambdaSQSQueueExecutionRole (SQS
events) are added. Managed policy ARNs and unknown policy templates grant nothing locally (noted).

Limitations: operations without a mapping are checked as ``<service>:<Operation>`` on resource ``*`` (a
statement scoped to named resources does not match them); resource-based policies, permission boundaries,
SCPs, session policies and a function's explicit ``Role`` are not evaluated (a function with ``Role`` is not
checked); a PutEvents call is denied as a whole when one entry is denied (AWS fails that entry only).

Modes, from ``GROUNDCREW_LOCAL_IAM``: ``enforce`` (a denied call raises ClientError AccessDenied naming the
function, action, resource and the Sids checked), ``record`` (allowed, each denial kept for ``denials()``),
``off``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

MODE_VARIABLE: Final = "GROUNDCREW_LOCAL_IAM"
MODES: Final = ("enforce", "record", "off")
# Local mode fails a call AWS would deny; `record` only collects them (tests/conftest.py writes a report).
DEFAULT_MODE: Final = "enforce"

SUPPORTED_CONDITION_KEYS: Final = frozenset({"s3:prefix", "events:source", "iam:passedtoservice"})
# botocore's hyphenised service id -> IAM action prefix, where they differ.
IAM_PREFIXES: Final = {
    "sfn": "states",
    "eventbridge": "events",
    "cloudwatch-logs": "logs",
    "secrets-manager": "secretsmanager",
    "api-gateway": "apigateway",
    "mturk": "mechanicalturk",  # IAM service prefix of Amazon Mechanical Turk (service authorization reference)
}
NO_PERMISSION_NEEDED: Final = frozenset({"sts:GetCallerIdentity"})


# --------------------------------------------------------------------------------------------------------------
# Policies


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], default_sid: str) -> Statement:
        def strings(key: str) -> tuple[str, ...] | None:
            if key not in raw:
                return None
            value = raw[key]
            return tuple(str(v) for v in (value if isinstance(value, list) else [value]))

        return cls(
            sid=str(raw.get("Sid") or default_sid),
            effect=str(raw.get("Effect", "Allow")),
            actions=strings("Action") or (),
            not_actions=strings("NotAction"),
            resources=strings("Resource") or (),
            not_resources=strings("NotResource"),
            condition=dict(raw.get("Condition") or {}),
        )


@dataclass(frozen=True)
class FunctionPolicy:
    """A function's identity policy as local mode evaluates it."""

    logical_id: str
    function_name: str
    region: str
    account_id: str
    statements: tuple[Statement, ...]
    notes: tuple[str, ...] = ()  # what was not emulated (managed policies, unknown templates)
    checked: bool = True  # False for a function with an explicit Role
    # For reports: bucket name -> logical id, resource ARN -> logical id.
    bucket_names: Mapping[str, str] = field(default_factory=dict)
    arn_names: Mapping[str, str] = field(default_factory=dict)

    def generalise(self, resource: str) -> str:
        """The resource with template physical names written as ``${LogicalId}`` (stable across deployments)."""
        if resource.startswith("arn:aws:s3:::"):
            bucket, slash, rest = resource.removeprefix("arn:aws:s3:::").partition("/")
            if bucket in self.bucket_names:
                return f"arn:aws:s3:::${{{self.bucket_names[bucket]}}}{slash}{rest}"
            return resource
        for arn in sorted(self.arn_names, key=len, reverse=True):
            if resource == arn or resource.startswith((arn + "/", arn + ":")):
                return "${" + self.arn_names[arn] + ".Arn}" + resource[len(arn) :]
        return resource


def build_function_policy(
    logical_id: str,
    function_name: str,
    policies: Any,
    *,
    region: str,
    account_id: str,
    tracing: Any = None,
    event_types: Sequence[str] = (),
    explicit_role: bool = False,
    bucket_names: Mapping[str, str] | None = None,
    arn_names: Mapping[str, str] | None = None,
) -> FunctionPolicy:
    """The policy SAM would give the function: its resolved ``Policies`` plus SAM's implicit managed policies."""
    statements: list[Statement] = []
    notes: list[str] = []
    items = policies if isinstance(policies, list) else [] if policies is None else [policies]
    arn = functools.partial(_arn, region=region, account_id=account_id)
    for index, item in enumerate(items):
        where = f"Policies[{index}]"
        if isinstance(item, str):
            notes.append(f"{where}: managed policy {item} is not emulated (grants nothing locally)")
        elif isinstance(item, dict) and ("Statement" in item or "PolicyDocument" in item):
            document = item.get("PolicyDocument", item)
            raw = document.get("Statement") or []
            for position, statement in enumerate(raw if isinstance(raw, list) else [raw]):
                statements.append(Statement.parse(statement, f"{where}.Statement[{position}]"))
        elif isinstance(item, dict) and len(item) == 1:
            ((name, parameters),) = item.items()
            template = SAM_POLICY_TEMPLATES.get(str(name))
            if template is None:
                notes.append(f"{where}: SAM policy template {name} is not emulated (grants nothing locally)")
                continue
            for action_list, resources in template(parameters if isinstance(parameters, dict) else {}, arn):
                statements.append(Statement(sid=f"{name}", effect="Allow", actions=action_list, resources=resources))
        else:
            notes.append(f"{where}: not understood (grants nothing locally)")
    # SAM's managed policies: basic execution for every role it creates, X-Ray with Tracing, SQS with SQS events.
    statements.append(_managed("AWSLambdaBasicExecutionRole", LOG_ACTIONS))
    if str(tracing) == "Active":
        statements.append(_managed("AWSXrayWriteOnlyAccess", XRAY_ACTIONS))
    if "SQS" in event_types:
        statements.append(_managed("AWSLambdaSQSQueueExecutionRole", SQS_POLLER_ACTIONS))
    if explicit_role:
        notes.append("explicit Role: its policies are not evaluated locally, calls are not checked")
    return FunctionPolicy(
        logical_id=logical_id,
        function_name=function_name,
        region=region,
        account_id=account_id,
        statements=tuple(statements),
        notes=tuple(notes),
        checked=not explicit_role,
        bucket_names=dict(bucket_names or {}),
        arn_names=dict(arn_names or {}),
    )


def _managed(sid: str, actions: tuple[str, ...]) -> Statement:
    return Statement(sid=sid, effect="Allow", actions=actions, resources=("*",))


def _arn(service: str, resource: str, *, region: str, account_id: str) -> str:
    return f"arn:aws:{service}:{region}:{account_id}:{resource}"


LOG_ACTIONS: Final = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
XRAY_ACTIONS: Final = (
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)  # fmt: skip
SQS_POLLER_ACTIONS: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_S3_READ: Final = (
    "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration",
)  # fmt: skip
_S3_WRITE: Final = ("s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration")
_DYNAMODB_READ: Final = (
    "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable",
)  # fmt: skip
_DYNAMODB_WRITE: Final = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem")
_SQS_POLLER_TEMPLATE_ACTIONS: Final = (
    "sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage", "sqs:DeleteMessageBatch",
    "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
)  # fmt: skip
_DYNAMODB_CRUD: Final = (*_DYNAMODB_READ, *_DYNAMODB_WRITE, "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")

_TemplateStatements = list[tuple[tuple[str, ...], tuple[str, ...]]]
_ArnMaker = Callable[[str, str], str]


def _bucket(actions: tuple[str, ...]) -> Callable[[dict[str, Any], _ArnMaker], _TemplateStatements]:
    def statements(p: dict[str, Any], arn: _ArnMaker) -> _TemplateStatements:
        name = p.get("BucketName")
        return [(actions, (f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"))]

    return statements


def _table(actions: tuple[str, ...]) -> Callable[[dict[str, Any], _ArnMaker], _TemplateStatements]:
    def statements(p: dict[str, Any], arn: _ArnMaker) -> _TemplateStatements:
        table = arn("dynamodb", f"table/{p.get('TableName')}")
        return [(actions, (table, f"{table}/index/*"))]

    return statements


# The SAM policy templates groundcrew might use (https://github.com/aws/serverless-application-model,
# policy_templates.json), reduced to Action and Resource.
SAM_POLICY_TEMPLATES: Final[dict[str, Callable[[dict[str, Any], _ArnMaker], _TemplateStatements]]] = {
    "S3ReadPolicy": _bucket(_S3_READ),
    "S3WritePolicy": _bucket(_S3_WRITE),
    "S3CrudPolicy": _bucket((*_S3_READ, *_S3_WRITE, "s3:DeleteObject")),
    "DynamoDBReadPolicy": _table(_DYNAMODB_READ),
    "DynamoDBWritePolicy": _table(_DYNAMODB_WRITE),
    "DynamoDBCrudPolicy": _table(_DYNAMODB_CRUD),
    "SQSSendMessagePolicy": lambda p, arn: [
        (("sqs:SendMessage*",), (arn("sqs", str(p.get("QueueName"))),)),
    ],
    "SQSPollerPolicy": lambda p, arn: [(_SQS_POLLER_TEMPLATE_ACTIONS, (arn("sqs", str(p.get("QueueName"))),))],
    "LambdaInvokePolicy": lambda p, arn: [
        (("lambda:InvokeFunction",), (arn("lambda", f"function:{p.get('FunctionName')}*"),)),
    ],
    "StepFunctionsExecutionPolicy": lambda p, arn: [
        (("states:StartExecution",), (arn("states", f"stateMachine:{p.get('StateMachineName')}"),)),
    ],
    "EventBridgePutEventsPolicy": lambda p, arn: [
        (("events:PutEvents",), (arn("events", f"event-bus/{p.get('EventBusName', 'default')}"),)),
    ],
    "SNSPublishMessagePolicy": lambda p, arn: [
        (("sns:Publish",), (arn("sns", str(p.get("TopicName"))),)),
    ],
}


# --------------------------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Permission:
    """One action on one resource, with the request's condition keys (lower case) that local mode knows."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    allowed_by: str | None = None
    denied_by: str | None = None  # the Sid of an explicit Deny
    near_misses: tuple[str, ...] = ()  # statements whose action matched, and why they did not allow


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, True).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """IAM resource matching: ``*``/``?`` wildcards, within each of the first five ARN components."""
    if pattern == "*":
        return True
    pattern_parts, resource_parts = pattern.split(":", 5), resource.split(":", 5)
    if len(pattern_parts) != 6 or len(resource_parts) != 6:
        return _glob(pattern, False).fullmatch(resource) is not None
    return all(_glob(p, False).fullmatch(r) is not None for p, r in zip(pattern_parts, resource_parts, strict=True))


class _Unsupported(Exception):
    pass


_STRING_OPERATORS: Final = {
    "stringequals": (False, False, False),  # (negated, like, ignore case)
    "stringnotequals": (True, False, False),
    "stringequalsignorecase": (False, False, True),
    "stringnotequalsignorecase": (True, False, True),
    "stringlike": (False, True, False),
    "stringnotlike": (True, True, False),
}


def condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    """Every operator and key must hold (AND); any value of a key may match (OR). Raises _Unsupported."""
    for operator, keys in condition.items():
        name = str(operator).lower()
        if_exists = name.endswith("ifexists")
        name = name.removesuffix("ifexists")
        if name not in _STRING_OPERATORS:
            raise _Unsupported(f"condition operator {operator}")
        negated, like, ignore_case = _STRING_OPERATORS[name]
        for key, expected in keys.items():
            if str(key).lower() not in SUPPORTED_CONDITION_KEYS:
                raise _Unsupported(f"condition key {key}")
            values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(str(key).lower())
            if actual is None:
                if not (if_exists or negated):
                    return False
                continue
            if like:
                matched = any(_glob(v, ignore_case).fullmatch(actual) for v in values)
            elif ignore_case:
                matched = actual.lower() in {v.lower() for v in values}
            else:
                matched = actual in values
            if matched == negated:
                return False
    return True


def evaluate(statements: Sequence[Statement], permission: Permission) -> Decision:
    """IAM's identity-policy logic: an explicit Deny wins, then any Allow, else the implicit deny."""
    allowed_by: str | None = None
    near_misses: list[str] = []
    for statement in statements:
        if statement.not_actions is not None:
            action_ok = not any(action_matches(a, permission.action) for a in statement.not_actions)
        else:
            action_ok = any(action_matches(a, permission.action) for a in statement.actions)
        if not action_ok:
            continue
        if statement.not_resources is not None:
            resource_ok = not any(resource_matches(r, permission.resource) for r in statement.not_resources)
        else:
            resource_ok = any(resource_matches(r, permission.resource) for r in statement.resources)
        if not resource_ok:
            if statement.effect == "Allow":
                near_misses.append(f"{statement.sid} (resource not in {list(statement.resources)})")
            continue
        try:
            holds, unsupported = condition_holds(statement.condition, permission.context), None
        except _Unsupported as error:
            holds, unsupported = False, str(error)
        if statement.effect == "Deny":
            if holds or unsupported:  # conservative: a Deny we cannot evaluate applies
                return Decision(False, denied_by=statement.sid, near_misses=tuple(near_misses))
        elif holds:
            allowed_by = allowed_by or statement.sid
        elif unsupported:
            near_misses.append(f"{statement.sid} (unsupported {unsupported}: not evaluated locally, not allowed)")
        else:
            near_misses.append(f"{statement.sid} (condition {json.dumps(statement.condition)} not met)")
    return Decision(allowed_by is not None, allowed_by=allowed_by, near_misses=tuple(near_misses))


# --------------------------------------------------------------------------------------------------------------
# Requests -> permissions


def iam_prefix(service_id: str) -> str:
    return IAM_PREFIXES.get(service_id, service_id.replace("-", ""))


def required_permissions(
    service_id: str, operation: str, request: Any, *, region: str, account_id: str
) -> list[Permission]:
    """What IAM checks for one botocore request (``request``: url, headers, body). Empty: nothing to check."""
    prefix = iam_prefix(service_id)
    if f"{prefix}:{operation}" in NO_PERMISSION_NEEDED:
        return []
    arn = functools.partial(_arn, region=region, account_id=account_id)
    if prefix == "s3":
        return _s3_permissions(operation, request)
    body = _body(request)
    mapper = _MAPPERS.get(prefix)
    if mapper is not None:
        permissions = mapper(operation, body, request, arn)
        if permissions is not None:
            return permissions
    return [Permission(f"{prefix}:{operation}", "*")]


def _body(request: Any) -> dict[str, Any]:
    raw = getattr(request, "body", None)
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes) or not raw:
        return {}
    try:
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {}
    except ValueError:
        pass
    try:  # query protocol (sts, sns, iam)
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        return {}


def s3_location(url: str) -> tuple[str, str, dict[str, list[str]]]:
    """(bucket, key, query) of an S3 request URL, virtual-hosted or path-style; the key URL-decoded."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    virtual = re.match(r"^(?P<bucket>.+?)\.s3([.-]|$)", host)
    path = parts.path.lstrip("/")
    if virtual and not host.startswith("s3."):
        bucket, key = virtual.group("bucket"), path
    else:
        bucket, _, key = path.partition("/")
    return urllib.parse.unquote(bucket), urllib.parse.unquote(key), query


_S3_OBJECT_ACTIONS: Final = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
}
_S3_BUCKET_ACTIONS: Final = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketLocation": "s3:GetBucketLocation",
}


def _s3_permissions(operation: str, request: Any) -> list[Permission]:
    bucket, key, query = s3_location(str(request.url))
    headers = getattr(request, "headers", {}) or {}
    if operation == "ListBuckets":
        return [Permission("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    object_arn = f"{bucket_arn}/{key}"
    if operation in _S3_BUCKET_ACTIONS:
        context = {}
        if "prefix" in query and operation in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
            context["s3:prefix"] = query["prefix"][0]
        return [Permission(_S3_BUCKET_ACTIONS[operation], bucket_arn, context)]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = urllib.parse.unquote(str(headers.get("x-amz-copy-source", ""))).lstrip("/").split("?", 1)[0]
        return [Permission("s3:PutObject", object_arn), Permission("s3:GetObject", f"arn:aws:s3:::{source}")]
    if operation == "DeleteObjects":
        keys = _deleted_keys(getattr(request, "body", None))
        return [Permission("s3:DeleteObject", f"{bucket_arn}/{k}") for k in keys] or [
            Permission("s3:DeleteObject", f"{bucket_arn}/*")
        ]
    if operation in _S3_OBJECT_ACTIONS:
        permissions = [Permission(_S3_OBJECT_ACTIONS[operation], object_arn)]
        if operation == "PutObject" and headers.get("x-amz-tagging"):
            permissions.append(Permission("s3:PutObjectTagging", object_arn))
        return permissions
    return [Permission(f"s3:{operation}", object_arn if key else bucket_arn)]


def _deleted_keys(body: Any) -> list[str]:
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, bytes):
        return []
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]


_Mapper = Callable[[str, dict[str, Any], Any, Callable[..., str]], "list[Permission] | None"]


def _events(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission] | None:
    if operation != "PutEvents":
        return None
    permissions = []
    for entry in body.get("Entries") or []:
        bus = str(entry.get("EventBusName") or body.get("EventBusName") or "default")
        bus_arn = bus if bus.startswith("arn:") else arn("events", f"event-bus/{bus}")
        permissions.append(Permission("events:PutEvents", bus_arn, {"events:source": str(entry.get("Source", ""))}))
    return permissions


def _states(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission]:
    resource = body.get("stateMachineArn") or body.get("executionArn") or body.get("mapRunArn") or "*"
    return [Permission(f"states:{operation}", str(resource))]


_TRANSACT_ACTIONS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _dynamodb(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission]:
    def table(name: Any, index: Any = None) -> str:
        base = str(name) if str(name).startswith("arn:") else arn("dynamodb", f"table/{name}")
        return f"{base}/index/{index}" if index else base

    if operation in ("TransactWriteItems", "TransactGetItems"):  # IAM checks the item actions, table by table
        return [
            Permission(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", table(detail.get("TableName")))
            for item in body.get("TransactItems") or []
            for kind, detail in item.items()
            if kind in _TRANSACT_ACTIONS
        ]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [Permission(f"dynamodb:{operation}", table(name)) for name in body.get("RequestItems") or {}]
    if "TableName" in body:
        return [Permission(f"dynamodb:{operation}", table(body["TableName"], body.get("IndexName")))]
    return [Permission(f"dynamodb:{operation}", "*")]


def _sagemaker(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission]:
    job = body.get("LabelingJobName")
    # SageMaker ARNs are lower case.
    resource = arn("sagemaker", f"labeling-job/{str(job).lower()}") if job else str(body.get("ResourceArn") or "*")
    permissions = [Permission(f"sagemaker:{operation}", resource)]
    if operation == "CreateLabelingJob":
        if body.get("Tags"):
            permissions.append(Permission("sagemaker:AddTags", resource))
        if body.get("RoleArn"):
            context = {"iam:passedtoservice": "sagemaker.amazonaws.com"}
            permissions.append(Permission("iam:PassRole", str(body["RoleArn"]), context))
    return permissions


def _lambda(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission]:
    match = re.search(r"/functions/([^/]+)", urllib.parse.urlsplit(str(request.url)).path)
    action = "lambda:InvokeFunction" if operation in ("Invoke", "InvokeAsync") else f"lambda:{operation}"
    if not match:
        return [Permission(action, "*")]
    name = urllib.parse.unquote(match.group(1))
    return [Permission(action, name if name.startswith("arn:") else arn("lambda", f"function:{name}"))]


_SQS_BATCH_ACTIONS: Final = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission]:
    name = str(body.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1] or body.get("QueueName")
    action = f"sqs:{_SQS_BATCH_ACTIONS.get(operation, operation)}"
    return [Permission(action, arn("sqs", str(name)) if name else "*")]


def _sts(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission] | None:
    return [Permission(f"sts:{operation}", str(body["RoleArn"]))] if body.get("RoleArn") else None


def _sns(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission] | None:
    topic = body.get("TopicArn") or body.get("TargetArn")
    return [Permission(f"sns:{operation}", str(topic))] if topic else None


def _ssm(operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]) -> list[Permission] | None:
    names = [body["Name"]] if body.get("Name") else list(body.get("Names") or [])
    action = "ssm:GetParameters" if operation == "GetParameters" else f"ssm:{operation}"
    return [Permission(action, arn("ssm", f"parameter/{str(n).lstrip('/')}")) for n in names] or None


def _secretsmanager(
    operation: str, body: dict[str, Any], request: Any, arn: Callable[..., str]
) -> list[Permission] | None:
    # A secret named by its full ARN is checked against that ARN; by name, against the name's ARN prefix (AWS
    # appends six random characters), which a policy naming the full ARN does not match: pass the ARN.
    secret = body.get("SecretId")
    if not secret:
        return None
    resource = str(secret) if str(secret).startswith("arn:") else arn("secretsmanager", f"secret:{secret}")
    return [Permission(f"secretsmanager:{operation}", resource)]


_MAPPERS: Final[dict[str, _Mapper]] = {
    "secretsmanager": _secretsmanager,
    "events": _events,
    "states": _states,
    "dynamodb": _dynamodb,
    "sagemaker": _sagemaker,
    "lambda": _lambda,
    "sqs": _sqs,
    "sts": _sts,
    "sns": _sns,
    "ssm": _ssm,
}


# --------------------------------------------------------------------------------------------------------------
# The running function, modes, denials


_CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("groundcrew_local_iam_caller", default=None)
_POLICIES: dict[str, FunctionPolicy] = {}  # function name -> policy
_DENIALS: list[Denial] = []
MAX_RECORDED_DENIALS: Final = 100_000
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Denial:
    function: str  # template logical id
    function_name: str
    operation: str  # "<service id>.<Operation>"
    action: str
    resource: str
    generalised_resource: str  # physical names as ${LogicalId}
    reason: str
    checked_sids: tuple[str, ...]
    enforced: bool

    def message(self) -> str:
        return (
            f"groundcrew local IAM: {self.function} (function {self.function_name}) is not allowed to perform "
            f"{self.action} on resource {self.resource} (call {self.operation}): {self.reason}. "
            f"Sids checked: {', '.join(self.checked_sids) or 'none'}. Fix the Policies of {self.function} in "
            f"template.yaml (or run with {MODE_VARIABLE}=record to only record denials)."
        )


def register_function_policy(policy: FunctionPolicy) -> None:
    with _LOCK:
        _POLICIES[policy.function_name] = policy


def function_policy(function_name: str) -> FunctionPolicy | None:
    return _POLICIES.get(function_name)


def mode() -> str:
    value = os.environ.get(MODE_VARIABLE, "").strip().lower() or DEFAULT_MODE
    if value not in MODES:
        raise ValueError(f"{MODE_VARIABLE}={value!r}: use one of {', '.join(MODES)}")
    return value


def denials() -> list[Denial]:
    """Every denial recorded so far (in record mode; enforce mode records the ones it raised too)."""
    with _LOCK:
        return list(_DENIALS)


def clear_denials() -> None:
    with _LOCK:
        _DENIALS.clear()


def current_function() -> str | None:
    """The name of the function whose handler runs in this context, if any."""
    return _CALLER.get()


@contextlib.contextmanager
def running_function(function_name: str | None) -> Iterator[None]:
    """Mark the calls made in this context (and threads it submits work to) as made by ``function_name``."""
    token = _CALLER.set(function_name)
    try:
        yield
    finally:
        _CALLER.reset(token)


def carry_caller(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` bound to the current caller, for work handed to another thread (ThreadPoolExecutor.submit)."""
    if _CALLER.get() is None:
        return fn
    return functools.partial(contextvars.copy_context().run, fn)


def check_request(event_name: str, request: Any) -> None:
    """Check one botocore request (``before-send.<service>.<Operation>``) of the running function, if any."""
    function_name = _CALLER.get()
    if function_name is None:
        return
    policy = _POLICIES.get(function_name)
    if policy is None or not policy.checked:
        return
    current_mode = mode()
    if current_mode == "off":
        return
    _, service_id, operation = [*event_name.split(".", 2), "", ""][:3]
    permissions = required_permissions(
        service_id, operation, request, region=policy.region, account_id=policy.account_id
    )
    enforced = current_mode == "enforce"
    for permission in permissions:
        decision = evaluate(policy.statements, permission)
        if decision.allowed:
            continue
        denial = Denial(
            function=policy.logical_id,
            function_name=policy.function_name,
            operation=f"{service_id}.{operation}",
            action=permission.action,
            resource=permission.resource,
            generalised_resource=policy.generalise(permission.resource),
            reason=_reason(decision, permission, policy),
            checked_sids=tuple(dict.fromkeys(s.sid for s in policy.statements)),
            enforced=enforced,
        )
        with _LOCK:
            if len(_DENIALS) < MAX_RECORDED_DENIALS:  # record is the default: stay bounded in long sessions
                _DENIALS.append(denial)
        if enforced:
            code = "AccessDenied" if iam_prefix(service_id) in ("s3", "sts", "iam", "sns") else "AccessDeniedException"
            response: Any = {
                "Error": {"Code": code, "Message": denial.message()},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
            raise ClientError(response, operation)


def _reason(decision: Decision, permission: Permission, policy: FunctionPolicy) -> str:
    if decision.denied_by:
        reason = f"explicitly denied by statement {decision.denied_by}"
    else:
        reason = f"no Allow statement grants {permission.action} on this resource"
    if permission.context:
        reason += f" with {dict(permission.context)}"
    if decision.near_misses:
        reason += "; closest: " + "; ".join(decision.near_misses)
    if policy.notes:
        reason += "; not emulated: " + "; ".join(policy.notes)
    return reason


def checked_request(original: Callable[..., Any], stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
    """The body of the patched ``BotocoreStubber.__call__``: check, then let moto serve it with no caller set."""
    if _CALLER.get() is None:
        return original(stubber, event_name, request, **kwargs)
    check_request(event_name, request)
    function_name = _CALLER.get()
    with running_function(None):  # what moto does for this request is the service's work, not the caller's
        response = original(stubber, event_name, request, **kwargs)
    if getattr(response, "status_code", None) == 404 and event_name.endswith((".s3.GetObject", ".s3.HeadObject")):
        _check_missing_object(function_name, event_name, request)
    return response


def _check_missing_object(function_name: str | None, event_name: str, request: Any) -> None:
    """S3 tells a caller that an object does not exist (404) only if it may list the bucket; others get 403.

    The GetObject context has no s3:prefix, so a ListBucket allowed only for some prefixes does not count.
    """
    policy = _POLICIES.get(function_name or "")
    if policy is None or not policy.checked or mode() == "off":
        return
    _, service_id, operation = event_name.split(".", 2)
    found = required_permissions(service_id, operation, request, region=policy.region, account_id=policy.account_id)
    if not found:
        return
    bucket = found[0].resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
    listing = Permission("s3:ListBucket", f"arn:aws:s3:::{bucket}")
    decision = evaluate(policy.statements, listing)
    if decision.allowed:
        return
    enforced = mode() == "enforce"
    denial = Denial(
        function=policy.logical_id,
        function_name=policy.function_name,
        operation=f"{service_id}.{operation}",
        action=listing.action,
        resource=found[0].resource,
        generalised_resource=policy.generalise(found[0].resource),
        reason=(
            "the object does not exist, and S3 says so (404 NoSuchKey) only to callers allowed s3:ListBucket on the "
            "bucket without a prefix condition; this function gets 403 AccessDenied instead"
        ),
        checked_sids=tuple(dict.fromkeys(s.sid for s in policy.statements)),
        enforced=enforced,
    )
    with _LOCK:
        if len(_DENIALS) < MAX_RECORDED_DENIALS:
            _DENIALS.append(denial)
    if enforced:
        response: Any = {
            "Error": {"Code": "AccessDenied" if operation == "GetObject" else "403", "Message": denial.message()},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        raise ClientError(response, operation)
