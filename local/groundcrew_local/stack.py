"""Deploy a SAM ``template.yaml`` into moto: local mode's stand-in for ``sam deploy``.

moto's CloudFormation skips every ``AWS::Serverless::*`` resource, so the template is read here (with
cfn-lint's YAML loader), its Parameters, Conditions and intrinsics are evaluated, and each resource is created
through boto3 inside the caller's ``mock_aws(config=MOCK_CONFIG)``. Functions run in-process through
``moto_patches`` (installed here if they are not yet). A resource is created the first time something
refers to it, so dependency order follows the references, as in CloudFormation.

Emulated: S3 buckets and bucket policies, SQS queues and queue policies, DynamoDB tables (and SAM SimpleTable),
EventBridge buses, rules and archives, SAM layers, functions (with Globals and the SQS, Schedule, ScheduleV2,
EventBridgeRule, CloudWatchEvent, S3, SNS and DynamoDB events) and state machines (with
DefinitionSubstitutions and EventBridgeRule/Schedule events), log groups, IAM roles, SNS topics, KMS keys and
aliases. Any other type is recorded in ``LocalStack.skipped``; a Ref to it gives a placeholder.
A function's Policies (with Globals, SAM's implicit managed policies and Tracing) go to ``iam_check``, which
checks the calls its handler makes. Ignored properties (no effect offline): Architectures, AutoPublishAlias,
DeploymentPreference, VpcConfig, Tags, Logging, PointInTimeRecoverySpecification, event FilterCriteria.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
from cfnlint.decode import cfn_yaml
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.core.models import botocore_stubber

from groundcrew_local.iam_check import build_function_policy, register_function_policy
from groundcrew_local.moto_patches import install_local_patches, patches_installed
from groundcrew_local.moto_patches.in_process_lambda import register_function_code

STACK_NAME: Final = "groundcrew-local"
SAM_TRANSFORM_TYPES: Final = {"Function", "StateMachine", "LayerVersion", "SimpleTable"}


class StackError(Exception):
    """The template cannot be deployed locally; the message names the resource and the reason."""


class LambdaInvokeError(Exception):
    """A function invoked through ``LocalStack.invoke`` returned an error payload."""

    def __init__(self, function_name: str, error_type: str, error_message: str, stack_trace: list[str]) -> None:
        super().__init__(f"{function_name} failed with {error_type}: {error_message}")
        self.function_name = function_name
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace


@dataclass
class LocalStack:
    region: str
    account_id: str
    stack_name: str = STACK_NAME
    outputs: dict[str, str] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)  # what Ref returns
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # what Fn::GetAtt returns
    function_names: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def function_arn(self, logical_id: str) -> str:
        return self.attributes[logical_id]["Arn"]

    def invoke(self, logical_id_or_name: str, event: Any) -> Any:
        """Invoke a function in-process through boto3; returns the decoded JSON result."""
        name = self.function_names.get(logical_id_or_name, logical_id_or_name)
        client = boto3.client("lambda", region_name=self.region)
        response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        body = response["Payload"].read()
        result = json.loads(body) if body else None
        if response.get("FunctionError"):
            error = result if isinstance(result, dict) else {}
            raise LambdaInvokeError(
                name,
                str(error.get("errorType", response["FunctionError"])),
                str(error.get("errorMessage", body.decode("utf-8", "replace")[:500])),
                [str(line) for line in error.get("stackTrace", [])],
            )
        return result


def load_template(path: Path) -> dict[str, Any]:
    """The parsed template, intrinsics in long form ({"Ref": ...}, {"Fn::GetAtt": [...]}), not resolved."""
    template = cfn_yaml.load(str(path))
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise StackError(f"{path}: not a CloudFormation template (no Resources section)")
    return template


def deploy_local_stack(
    template_path: Path,
    *,
    parameters: dict[str, str] | None = None,
    region: str = "us-east-1",
    stack_name: str = STACK_NAME,
) -> LocalStack:
    """Create the template's resources in moto. Call inside ``mock_aws(config=MOCK_CONFIG)``."""
    _check_local_cloud()
    template_path = Path(template_path).resolve()
    deployment = _Deployment(load_template(template_path), template_path.parent, region, stack_name, parameters or {})
    return deployment.deploy()


def _check_local_cloud() -> None:
    # Outside mock_aws, boto3 would try to create the stack in a real account.
    if not botocore_stubber.enabled and not os.environ.get("AWS_ENDPOINT_URL"):
        raise StackError("deploy_local_stack must run inside mock_aws(config=MOCK_CONFIG) (or against a moto server)")
    if not default_user_config.get("stepfunctions", {}).get("execute_state_machine"):
        raise StackError("pass config=MOCK_CONFIG to mock_aws: without it moto never runs state machines")
    if not patches_installed():
        install_local_patches()


# --------------------------------------------------------------------------------------------------------------
# Pure pieces: names, Globals, substitutions


def generated_name(
    stack_name: str, logical_id: str, *, max_length: int, lowercase: bool = False, with_stack: bool = True
) -> str:
    """A CloudFormation-style physical name, ``<stack>-<LogicalId>-<SUFFIX>``, deterministic here."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    suffix = base64.b32encode(digest).decode()[:12]
    if not with_stack:
        return f"{logical_id[: max_length - len(suffix) - 1]}-{suffix}"
    budget = max_length - len(suffix) - 2
    stack_part, logical_part = stack_name, logical_id
    if len(stack_part) + len(logical_part) > budget:
        stack_part = stack_part[: max(budget // 2, budget - len(logical_part))]
        logical_part = logical_part[: budget - len(stack_part)]
    name = f"{stack_part}-{logical_part}-{suffix}"
    return name.lower() if lowercase else name


def merge_globals(global_properties: Any, properties: Any) -> Any:
    """SAM's Globals rule: maps merge key by key (resource wins), lists append, scalars are replaced."""
    if isinstance(global_properties, dict) and isinstance(properties, dict):
        merged = dict(global_properties)
        for key, value in properties.items():
            merged[key] = merge_globals(global_properties[key], value) if key in global_properties else value
        return merged
    if isinstance(global_properties, list) and isinstance(properties, list):
        return [*global_properties, *properties]
    return properties


def substitute_definition(definition: str, substitutions: dict[str, Any]) -> str:
    """SAM DefinitionSubstitutions: replace ``${Key}`` for the keys given, leave other placeholders alone."""
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", _as_text(value))
    return definition


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _plain(node: Any) -> Any:
    """cfn-lint nodes (str/dict subclasses with positions) and YAML dates as plain JSON-able values."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool | int | float) or node is None:
        return node
    if hasattr(node, "isoformat"):
        return node.isoformat()
    return str(node)


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("local-mode.txt", "code runs from the source folder in local mode\n")
    return buffer.getvalue()


_NO_VALUE: Final = object()  # AWS::NoValue: the key or list item disappears
_SUB_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@dataclass
class _Created:
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# The deployment: intrinsics, conditions and lazy, dependency-ordered creation


class _Deployment:
    def __init__(
        self, template: dict[str, Any], base_dir: Path, region: str, stack_name: str, overrides: dict[str, str]
    ) -> None:
        self.template = template
        self.base_dir = base_dir
        self.region = region
        self.stack_name = stack_name
        self.account_id = DEFAULT_ACCOUNT_ID
        self.resources: dict[str, dict[str, Any]] = dict(template["Resources"])
        self.stack = LocalStack(region=region, account_id=self.account_id, stack_name=stack_name)
        self.created: dict[str, _Created] = {}
        self.in_progress: list[str] = []
        self.conditions: dict[str, bool] = {}
        self.layer_dirs: dict[str, Path] = {}  # layer version ARN -> folder
        self.bucket_notifications: dict[str, dict[str, Any]] = {}  # bucket name -> what was put
        self.clients: dict[str, Any] = {}
        self.parameters = self._parameters(overrides)

    # ---- entry point

    def deploy(self) -> LocalStack:
        for logical_id, spec in self.resources.items():
            if "Condition" not in spec or self.condition(str(spec["Condition"])):
                self.ensure_created(logical_id)
        for name, output in (self.template.get("Outputs") or {}).items():
            if "Condition" in output and not self.condition(str(output["Condition"])):
                continue
            value = self.resolve(output.get("Value"))
            self.stack.outputs[str(name)] = ",".join(map(str, value)) if isinstance(value, list) else _as_text(value)
        for logical_id, function_name in self.stack.function_names.items():
            self.register_policy(logical_id, function_name)
        return self.stack

    def register_policy(self, logical_id: str, function_name: str) -> None:
        """Hand the function's resolved Policies to the local IAM check (once every resource exists)."""
        spec = self.resources[logical_id]
        props = self.resolve_keys(self._properties(spec), ("Policies", "Tracing", "Role"))
        buckets = {ref: lid for lid, ref in self.stack.physical_ids.items() if self.resource_type(lid) == "S3::Bucket"}
        arns = {attrs["Arn"]: lid for lid, attrs in self.stack.attributes.items() if attrs.get("Arn")}
        policy = build_function_policy(
            logical_id,
            function_name,
            props.get("Policies"),
            region=self.region,
            account_id=self.account_id,
            tracing=props.get("Tracing"),
            event_types=[str(event.get("Type")) for event in (spec.get("Properties", {}).get("Events") or {}).values()],
            explicit_role="Role" in props,
            bucket_names=buckets,
            arn_names=arns,
        )
        register_function_policy(policy)

    def resource_type(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", "")).removeprefix("AWS::")

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
        return self.clients[service]

    def path(self, relative: str) -> Path:
        return (self.base_dir / relative).resolve()

    # ---- parameters and conditions

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise StackError(f"unknown parameter(s) {', '.join(unknown)}; the template declares {sorted(declared)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = str(overrides[name])
            elif "Default" in spec:
                raw = _as_text(_plain(spec["Default"]))
            else:
                raise StackError(f"parameter {name} has no Default: pass it in parameters={{...}}")
            values[str(name)] = self._parameter_value(str(name), spec, raw)
        return values

    def _parameter_value(self, name: str, spec: dict[str, Any], raw: str) -> Any:
        allowed = [_as_text(_plain(v)) for v in spec.get("AllowedValues") or []]
        if allowed and raw not in allowed:
            raise StackError(f"parameter {name}={raw!r} is not one of AllowedValues {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(str(pattern), raw):
            raise StackError(f"parameter {name}={raw!r} does not match AllowedPattern {pattern}")
        kind = str(spec.get("Type", "String"))
        if kind == "Number":
            try:
                float(raw)
            except ValueError:
                raise StackError(f"parameter {name}={raw!r} is not a Number") from None
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            # CloudFormation reads the SSM parameter the value names: so does local mode (seed moto's SSM).
            raw = self.client("ssm").get_parameter(Name=raw)["Parameter"]["Value"]
        if kind == "CommaDelimitedList" or kind.startswith("List<") or "<List<" in kind:
            return [item.strip() for item in raw.split(",")] if raw else []
        return raw

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            declared = self.template.get("Conditions") or {}
            if name not in declared:
                raise StackError(f"unknown condition {name!r}")
            self.conditions[name] = self._evaluate_condition(declared[name])
        return self.conditions[name]

    def _evaluate_condition(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Condition":
                return self.condition(str(value))
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return _as_text(left) == _as_text(right)
            if key == "Fn::Not":
                return not self._evaluate_condition(value[0])
            if key == "Fn::And":
                return all(self._evaluate_condition(v) for v in value)
            if key == "Fn::Or":
                return any(self._evaluate_condition(v) for v in value)
        if isinstance(node, bool):
            return node
        raise StackError(f"unsupported condition expression {_plain(node)!r}")

    # ---- intrinsics

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, value),) = node.items()
                if key == "Ref":
                    return self.ref(str(value))
                if key.startswith("Fn::"):
                    return self._intrinsic(key, value)
            resolved_map = {str(k): self.resolve(v) for k, v in node.items()}
            return {k: v for k, v in resolved_map.items() if v is not _NO_VALUE}
        if isinstance(node, list):
            resolved_list = [self.resolve(v) for v in node]
            return [v for v in resolved_list if v is not _NO_VALUE]
        return _plain(node)

    def _intrinsic(self, key: str, value: Any) -> Any:
        handlers: dict[str, Callable[[Any], Any]] = {
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda v: str(self.resolve(v[0])).join(_as_text(x) for x in self.resolve(v[1])),
            "Fn::Select": lambda v: self.resolve(v[1])[int(self.resolve(v[0]))],
            "Fn::Split": lambda v: str(self.resolve(v[1])).split(str(self.resolve(v[0]))),
            "Fn::If": lambda v: self.resolve(v[1] if self.condition(str(v[0])) else v[2]),
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda v: base64.b64encode(_as_text(self.resolve(v)).encode()).decode(),
            "Fn::GetAZs": lambda v: [f"{self.region}{zone}" for zone in "abc"],
            "Fn::ToJsonString": lambda v: json.dumps(self.resolve(v), separators=(",", ":")),
            "Fn::Length": lambda v: len(self.resolve(v)),
            "Fn::Equals": lambda v: self._evaluate_condition({key: v}),
            "Fn::Not": lambda v: self._evaluate_condition({key: v}),
            "Fn::And": lambda v: self._evaluate_condition({key: v}),
            "Fn::Or": lambda v: self._evaluate_condition({key: v}),
        }
        if key not in handlers:
            raise StackError(f"{key} is not supported in local mode")
        return handlers[key](value)

    def resolve_keys(self, properties: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        """Resolve only the properties local mode uses (the others may refer to anything, Policies say)."""
        resolved = {key: self.resolve(properties[key]) for key in keys if key in properties}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, self.stack_name)}",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        return self.ensure_created(name).ref

    def _get_att(self, value: Any) -> str:
        if isinstance(value, str):
            logical_id, _, attribute = value.partition(".")
        else:
            logical_id, attribute = str(value[0]), str(self.resolve(value[1]))
        created = self.ensure_created(logical_id)
        if attribute not in created.attributes:
            if logical_id in self.stack.skipped:
                return f"local-not-emulated:{logical_id}.{attribute}"
            known = ", ".join(sorted(created.attributes)) or "none"
            raise StackError(f"Fn::GetAtt {logical_id}.{attribute}: unknown attribute (local mode knows {known})")
        return created.attributes[attribute]

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
        resolved_vars = {str(k): self.resolve(v) for k, v in variables.items()}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in resolved_vars:
                return _as_text(resolved_vars[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self._get_att(name)
            return _as_text(self.ref(name))

        return _SUB_PLACEHOLDER.sub(fill, str(text))

    def _find_in_map(self, value: Any) -> Any:
        map_name, top, second = (str(self.resolve(v)) for v in value[:3])
        try:
            return _plain((self.template.get("Mappings") or {})[map_name][top][second])
        except KeyError:
            raise StackError(f"Fn::FindInMap: no {map_name}/{top}/{second} in Mappings") from None

    # ---- resources

    def ensure_created(self, logical_id: str) -> _Created:
        if logical_id in self.created:
            return self.created[logical_id]
        if logical_id not in self.resources:
            parent = logical_id.removesuffix("Role")
            if parent != logical_id and parent in self.resources:  # SAM's implicit <Function>Role
                self.ensure_created(parent)
                if logical_id in self.created:
                    return self.created[logical_id]
            raise StackError(f"reference to unknown resource or parameter {logical_id!r}")
        if logical_id in self.in_progress:
            cycle = " -> ".join([*self.in_progress[self.in_progress.index(logical_id) :], logical_id])
            raise StackError(f"circular reference: {cycle}")
        spec = self.resources[logical_id]
        if "Condition" in spec and not self.condition(str(spec["Condition"])):
            raise StackError(f"{logical_id} is referenced but its condition {spec['Condition']} is false")
        self.in_progress.append(logical_id)
        try:
            depends = spec.get("DependsOn") or []
            for dependency in [depends] if isinstance(depends, str) else depends:
                self.ensure_created(str(dependency))
            created = self._create(logical_id, str(spec.get("Type")), self._properties(spec))
        finally:
            self.in_progress.pop()
        self.record(logical_id, created)
        return created

    def record(self, logical_id: str, created: _Created) -> None:
        self.created[logical_id] = created
        self.stack.physical_ids[logical_id] = created.ref
        self.stack.attributes[logical_id] = dict(created.attributes)

    def _properties(self, spec: dict[str, Any]) -> dict[str, Any]:
        properties = dict(spec.get("Properties") or {})
        kind = str(spec.get("Type", ""))
        short = kind.removeprefix("AWS::Serverless::")
        if kind.startswith("AWS::Serverless::") and short in SAM_TRANSFORM_TYPES:
            global_properties = (self.template.get("Globals") or {}).get(short) or {}
            properties = merge_globals(dict(global_properties), properties)
        return properties

    def _create(self, logical_id: str, kind: str, properties: dict[str, Any]) -> _Created:
        creator = _CREATORS.get(kind)
        if creator is None:
            self.stack.skipped[logical_id] = "not emulated"
            return _Created(ref=f"local-not-emulated:{logical_id}")
        return creator(self, logical_id, properties)

    def name(self, logical_id: str, explicit: Any, *, max_length: int, lowercase: bool = False) -> str:
        if explicit not in (None, _NO_VALUE):
            return str(explicit)
        return generated_name(self.stack_name, logical_id, max_length=max_length, lowercase=lowercase)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def default_role(self, logical_id: str, service: str) -> str:
        """The execution role SAM would generate (``<LogicalId>Role``), so ARNs resolve in moto."""
        role_id = f"{logical_id}Role"
        name = generated_name(self.stack_name, role_id, max_length=64)
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        role = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]
        self.record(role_id, _Created(ref=name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]}))
        return str(role["Arn"])


# --------------------------------------------------------------------------------------------------------------
# Creators, one per resource type


def _create_bucket(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    name = d.name(logical_id, props.get("BucketName"), max_length=63, lowercase=True)
    s3 = d.client("s3")
    location = {} if d.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": d.region}}
    s3.create_bucket(Bucket=name, **location)
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    if "BucketEncryption" in props:
        rules = [_encryption_rule(r) for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "CorsConfiguration" in props:
        s3.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={"CORSRules": [_cors_rule(r) for r in props["CorsConfiguration"]["CorsRules"]]},
        )
    if "PublicAccessBlockConfiguration" in props:
        block = {k: _as_bool(v) for k, v in props["PublicAccessBlockConfiguration"].items()}
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(r) for r in props["LifecycleConfiguration"].get("Rules", [])]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    notification = _bucket_notification(props.get("NotificationConfiguration") or {})
    d.bucket_notifications[name] = notification
    if notification:
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notification)
    return _Created(
        ref=name,
        attributes={
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{d.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{d.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{d.region}.amazonaws.com",
        },
    )


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
    if "BucketKeyEnabled" in rule:
        converted["BucketKeyEnabled"] = _as_bool(rule["BucketKeyEnabled"])
    return converted


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    renamed = {"Id": "ID", "ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
    converted = {renamed.get(k, k): v for k, v in rule.items()}
    if "MaxAgeSeconds" in converted:
        converted["MaxAgeSeconds"] = int(converted["MaxAgeSeconds"])
    return converted


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"]}
    converted["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpirationInDays" in rule:
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return converted


def _bucket_notification(config: dict[str, Any]) -> dict[str, Any]:
    notification: dict[str, Any] = {}
    if _as_bool((config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")):
        notification["EventBridgeConfiguration"] = {}
    targets = {
        "LambdaConfigurations": ("LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        "QueueConfigurations": ("QueueConfigurations", "Queue", "QueueArn"),
        "TopicConfigurations": ("TopicConfigurations", "Topic", "TopicArn"),
    }
    for cfn_key, (api_key, arn_key, api_arn_key) in targets.items():
        for item in config.get(cfn_key) or []:
            entry: dict[str, Any] = {api_arn_key: item[arn_key], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            notification.setdefault(api_key, []).append(entry)
    return notification


def _create_bucket_policy(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    document, dropped = moto_enforceable_policy(props["PolicyDocument"])
    for index in dropped:
        d.stack.skipped[f"{logical_id}.PolicyDocument.Statement[{index}]"] = (
            "Deny with a Condition dropped: moto ignores the condition and would deny every request"
        )
    d.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
    return _Created(ref=str(props["Bucket"]))


def moto_enforceable_policy(document: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The bucket policy without the Deny statements that have a Condition, and their indexes.

    moto enforces bucket policies on object requests but does not evaluate conditions, so the usual
    "deny unless aws:SecureTransport" statement would deny everything.
    """
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    dropped = [i for i, s in enumerate(statements) if s.get("Effect") == "Deny" and s.get("Condition")]
    kept = [s for i, s in enumerate(statements) if i not in dropped]
    return {**document, "Statement": kept}, dropped


_QUEUE_ATTRIBUTES: Final = (
    "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "RedriveAllowPolicy", "FifoQueue", "ContentBasedDeduplication",
    "SqsManagedSseEnabled", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "DeduplicationScope",
    "FifoThroughputLimit",
)  # fmt: skip


def _create_queue(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    fifo = _as_bool(props.get("FifoQueue"))
    name = d.name(logical_id, props.get("QueueName"), max_length=80 - (5 if fifo else 0))
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: _as_text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = d.arn("sqs", name)
    return _Created(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})


def _create_queue_policy(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    for url in props["Queues"]:
        d.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return _Created(ref=generated_name(d.stack_name, logical_id, max_length=128))


def _create_table(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    name = d.name(logical_id, props.get("TableName"), max_length=255)
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    throughput = props.get("ProvisionedThroughput")
    if throughput:
        request["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "TableClass"):
        if key in props:
            request[key] = props[key]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    sse = props.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {
            "Enabled": _as_bool(sse.get("SSEEnabled")),
            **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
        }
    table = d.client("dynamodb").create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and _as_bool(ttl.get("Enabled")):
        d.client("dynamodb").update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return _Created(ref=name, attributes=attributes)


def _create_simple_table(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    table = {
        "TableName": props.get("TableName"),
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": props.get("SSESpecification"),
    }
    return _create_table(d, logical_id, {k: v for k, v in table.items() if v is not None})


def _create_event_bus(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    bus = d.client("events").create_event_bus(Name=props["Name"])
    return _Created(ref=props["Name"], attributes={"Arn": bus["EventBusArn"], "Name": props["Name"]})


def put_rule(d: _Deployment, logical_id: str, rule: dict[str, Any], targets: list[dict[str, Any]]) -> _Created:
    """Create a rule (CloudFormation AWS::Events::Rule properties, resolved) and its targets."""
    name = d.name(logical_id, rule.get("Name"), max_length=64)
    bus = str(rule.get("EventBusName") or "default")
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": rule.get("State") or "ENABLED"}
    pattern = rule.get("EventPattern")
    if pattern:
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    for key in ("ScheduleExpression", "Description", "RoleArn"):
        if rule.get(key):
            request[key] = rule[key]
    events = d.client("events")
    arn = events.put_rule(**request)["RuleArn"]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=[_event_target(t) for t in targets])
    bus_name = bus.rsplit("/", 1)[-1]
    ref = name if bus_name == "default" else f"{bus_name}|{name}"  # what CloudFormation's Ref gives
    return _Created(ref=ref, attributes={"Arn": arn})


def _event_target(target: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "Id",
        "Arn",
        "Input",
        "InputPath",
        "InputTransformer",
        "RoleArn",
        "DeadLetterConfig",
        "RetryPolicy",
        "SqsParameters",
    )
    converted = {key: target[key] for key in keys if target.get(key) is not None}
    if isinstance(converted.get("Input"), (dict, list)):
        converted["Input"] = json.dumps(converted["Input"])
    retry = converted.get("RetryPolicy")
    if retry:
        converted["RetryPolicy"] = {k: int(v) for k, v in retry.items()}
    return converted


def _create_rule(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    return put_rule(d, logical_id, props, props.get("Targets") or [])


def _create_archive(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    name = d.name(logical_id, props.get("ArchiveName"), max_length=48)
    request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    if props.get("EventPattern"):
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if "RetentionDays" in props:
        request["RetentionDays"] = int(props["RetentionDays"])
    if props.get("Description"):
        request["Description"] = props["Description"]
    archive = d.client("events").create_archive(**request)
    return _Created(ref=name, attributes={"Arn": archive["ArchiveArn"]})


def _create_log_group(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    name = d.name(logical_id, props.get("LogGroupName"), max_length=512)
    logs = d.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return _Created(ref=name, attributes={"Arn": d.arn("logs", f"log-group:{name}:*")})


def _create_role(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    name = d.name(logical_id, props.get("RoleName"), max_length=64)
    iam = d.client("iam")
    request: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json.dumps(props["AssumeRolePolicyDocument"]),
    }
    for key in ("Path", "Description"):
        if props.get(key):
            request[key] = props[key]
    role = iam.create_role(**request)["Role"]
    for policy in props.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )
    return _Created(ref=name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _create_topic(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    fifo = _as_bool(props.get("FifoTopic"))
    name = d.name(logical_id, props.get("TopicName"), max_length=256 - (5 if fifo else 0))
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    sns = d.client("sns")
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"} if fifo else {})["TopicArn"]
    for subscription in props.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return _Created(ref=arn, attributes={"TopicArn": arn, "TopicName": name})


def _create_kms_key(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    request = {key: props[key] for key in ("Description", "KeyUsage", "KeySpec") if key in props}
    key = d.client("kms").create_key(**request)["KeyMetadata"]
    return _Created(ref=key["KeyId"], attributes={"Arn": key["Arn"], "KeyId": key["KeyId"]})


def _create_kms_alias(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    d.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return _Created(ref=props["AliasName"])


def _create_layer(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve(raw)
    content = props.get("ContentUri")
    if not isinstance(content, str):
        d.stack.skipped[logical_id] = "ContentUri is not a local folder"
        return _Created(ref=f"local-not-emulated:{logical_id}")
    folder = d.path(content)
    if not folder.is_dir():
        raise StackError(f"{logical_id}: ContentUri folder {folder} does not exist")
    # A layer built by `sam build` (BuildMethod) keeps its packages at the root; a prebuilt one under python/.
    if "BuildMethod" not in ((d.resources[logical_id].get("Metadata")) or {}) and (folder / "python").is_dir():
        folder = folder / "python"
    layer = d.client("lambda").publish_layer_version(
        LayerName=str(props.get("LayerName") or logical_id),
        Content={"ZipFile": _tiny_zip()},
        CompatibleRuntimes=list(props.get("CompatibleRuntimes") or []),
    )
    d.layer_dirs[layer["LayerVersionArn"]] = folder
    return _Created(ref=layer["LayerVersionArn"], attributes={"Arn": layer["LayerVersionArn"]})


def _create_function(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve_keys(raw, _FUNCTION_KEYS)
    code_uri, runtime = props.get("CodeUri"), str(props.get("Runtime", ""))
    if props.get("PackageType") == "Image" or not isinstance(code_uri, str) or not runtime.startswith("python"):
        d.stack.skipped[logical_id] = "only Python functions with a local CodeUri folder are emulated"
        return _Created(ref=f"local-not-emulated:{logical_id}")
    code_dir = d.path(code_uri)
    if not code_dir.is_dir():
        raise StackError(f"{logical_id}: CodeUri folder {code_dir} does not exist")
    name = d.name(logical_id, props.get("FunctionName"), max_length=64)
    layers = [str(layer) for layer in props.get("Layers") or []]
    for index, layer in enumerate(layers):
        if layer not in d.layer_dirs:
            d.stack.skipped[f"{logical_id}.Layers[{index}]"] = "external layer not emulated (not on sys.path)"
    local_layers = [layer for layer in layers if layer in d.layer_dirs]
    role = props.get("Role") or d.default_role(logical_id, "lambda.amazonaws.com")
    variables = ((props.get("Environment") or {}).get("Variables")) or {}
    function = d.client("lambda").create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler=str(props["Handler"]),
        Code={"ZipFile": _tiny_zip()},
        Timeout=int(props.get("Timeout", 3)),
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": {str(k): _as_text(v) for k, v in variables.items()}},
        Layers=local_layers,
        Description=str(props.get("Description", "")),
    )
    register_function_code(name, code_dir, str(props["Handler"]), [d.layer_dirs[layer] for layer in local_layers])
    created = _Created(ref=name, attributes={"Arn": function["FunctionArn"]})
    d.record(logical_id, created)  # events below may need the function's ARN
    d.stack.function_names[logical_id] = name
    for event_name, event in (raw.get("Events") or {}).items():
        _create_function_event(d, logical_id, str(event_name), event, created)
    return created


_FUNCTION_KEYS: Final = (
    "FunctionName", "CodeUri", "Handler", "Runtime", "Environment", "Layers", "Timeout", "MemorySize", "Role",
    "Description", "PackageType",
)  # fmt: skip


def _create_function_event(d: _Deployment, logical_id: str, event_name: str, raw: Any, fn: _Created) -> None:
    kind = str(raw.get("Type"))
    props = d.resolve(raw.get("Properties") or {})
    event_id = f"{logical_id}{event_name}"
    arn = fn.attributes["Arn"]
    if kind in ("SQS", "DynamoDB", "Kinesis"):
        request: dict[str, Any] = {"EventSourceArn": props.get("Queue") or props.get("Stream"), "FunctionName": fn.ref}
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
            if key in props:
                request[key] = int(props[key])
        if "Enabled" in props:
            request["Enabled"] = _as_bool(props["Enabled"])
        if props.get("FunctionResponseTypes"):
            request["FunctionResponseTypes"] = list(props["FunctionResponseTypes"])
        if "StartingPosition" in props:
            request["StartingPosition"] = props["StartingPosition"]
        mapping = d.client("lambda").create_event_source_mapping(**request)
        d.record(event_id, _Created(ref=mapping["UUID"]))
    elif kind in _RULE_EVENT_TYPES:
        target = {"Id": f"{event_id}LambdaTarget", "Arn": arn}
        d.record(event_id, _rule_for_event(d, event_id, kind, props, target))
    elif kind == "S3":
        _add_bucket_lambda_notification(d, str(props["Bucket"]), arn, props)
    elif kind == "SNS":
        d.client("sns").subscribe(TopicArn=props["Topic"], Protocol="lambda", Endpoint=arn)
    else:
        d.stack.skipped[f"{logical_id}.Events.{event_name}"] = f"event type {kind} not emulated"


_RULE_EVENT_TYPES: Final = ("Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent")


def _rule_for_event(
    d: _Deployment, event_id: str, kind: str, props: dict[str, Any], target: dict[str, Any]
) -> _Created:
    """The AWS::Events::Rule SAM generates for a Schedule/EventBridgeRule event of a function or state machine."""
    target_id = ((props.get("Target") or {}).get("Id")) or target["Id"]
    full_target = {**target, "Id": target_id}
    for key in ("Input", "InputPath", "InputTransformer", "RetryPolicy"):
        if key in props:
            full_target[key] = props[key]
    dead_letter = props.get("DeadLetterConfig") or {}
    if dead_letter.get("Arn"):
        full_target["DeadLetterConfig"] = {"Arn": dead_letter["Arn"]}
    if "State" in props:
        state = str(props["State"])
    else:
        state = "DISABLED" if "Enabled" in props and not _as_bool(props["Enabled"]) else "ENABLED"
    rule = {"Name": props.get("RuleName") or props.get("Name"), "State": state, "Description": props.get("Description")}
    if kind in ("Schedule", "ScheduleV2"):
        rule["ScheduleExpression"] = props.get("Schedule") or props.get("ScheduleExpression")
    else:
        rule["EventPattern"] = props.get("Pattern")
        rule["EventBusName"] = props.get("EventBusName")
    return put_rule(d, event_id, rule, [full_target])


def _add_bucket_lambda_notification(d: _Deployment, bucket: str, function_arn: str, props: dict[str, Any]) -> None:
    # Merged into what the deployment put: moto's GetBucketNotificationConfiguration omits EventBridge.
    current = d.bucket_notifications.setdefault(bucket, {})
    events = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
    entry: dict[str, Any] = {"LambdaFunctionArn": function_arn, "Events": events}
    rules = ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules")
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": rules}}
    current.setdefault("LambdaFunctionConfigurations", []).append(entry)
    d.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)


def _create_state_machine(d: _Deployment, logical_id: str, raw: dict[str, Any]) -> _Created:
    props = d.resolve_keys(raw, _STATE_MACHINE_KEYS)
    if isinstance(props.get("DefinitionUri"), str):
        definition = d.path(props["DefinitionUri"]).read_text(encoding="utf-8")
    elif isinstance(props.get("Definition"), dict):
        definition = json.dumps(props["Definition"])
    else:
        d.stack.skipped[logical_id] = "only a local DefinitionUri or an inline Definition is emulated"
        return _Created(ref=f"local-not-emulated:{logical_id}")
    definition = substitute_definition(definition, props.get("DefinitionSubstitutions") or {})
    name = str(props.get("Name") or generated_name(d.stack_name, logical_id, max_length=80, with_stack=False))
    role = props.get("Role") or d.default_role(logical_id, "states.amazonaws.com")
    machine = d.client("stepfunctions").create_state_machine(
        name=name, definition=definition, roleArn=role, type=str(props.get("Type", "STANDARD"))
    )
    arn = machine["stateMachineArn"]
    created = _Created(ref=arn, attributes={"Arn": arn, "Name": name})
    d.record(logical_id, created)
    for event_name, event in (raw.get("Events") or {}).items():
        kind = str(event.get("Type"))
        event_id = f"{logical_id}{event_name}"
        if kind not in _RULE_EVENT_TYPES:
            d.stack.skipped[f"{logical_id}.Events.{event_name}"] = f"event type {kind} not emulated"
            continue
        event_props = d.resolve(event.get("Properties") or {})
        target = {"Id": f"{event_id}StepFunctionsTarget", "Arn": arn, "RoleArn": role}
        d.record(event_id, _rule_for_event(d, event_id, kind, event_props, target))
    return created


_STATE_MACHINE_KEYS: Final = ("Name", "DefinitionUri", "Definition", "DefinitionSubstitutions", "Role", "Type")

_CREATORS: Final[dict[str, Callable[[_Deployment, str, dict[str, Any]], _Created]]] = {
    "AWS::S3::Bucket": _create_bucket,
    "AWS::S3::BucketPolicy": _create_bucket_policy,
    "AWS::SQS::Queue": _create_queue,
    "AWS::SQS::QueuePolicy": _create_queue_policy,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::Serverless::SimpleTable": _create_simple_table,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_rule,
    "AWS::Events::Archive": _create_archive,
    "AWS::Logs::LogGroup": _create_log_group,
    "AWS::IAM::Role": _create_role,
    "AWS::SNS::Topic": _create_topic,
    "AWS::KMS::Key": _create_kms_key,
    "AWS::KMS::Alias": _create_kms_alias,
    "AWS::Serverless::LayerVersion": _create_layer,
    "AWS::Serverless::Function": _create_function,
    "AWS::Serverless::StateMachine": _create_state_machine,
}
