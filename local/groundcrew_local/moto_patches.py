"""Patches that let moto 5.2.5 run groundcrew's serverless app in-process ("local mode").

Call ``install_local_patches()`` once, then run everything inside ``mock_aws(config=MOCK_CONFIG)``.
Each patch fills one moto gap measured in ``docs/local-mode-notes.md``; they touch moto internals, hence the pin.

1. ``moto.awslambda.models.LambdaFunction._invoke_lambda``: moto runs handlers in Docker (unavailable here).
   The handler is imported from the folder given to ``register_function_code`` (under a per-function module
   name, with the layer folders on ``sys.path``) and called in this process with the function's environment
   and a fake context. Output goes to moto's CloudWatch Logs; exceptions become the Lambda error payload with
   the error flag, so Invoke reports ``FunctionError`` and Step Functions ``Retry``/``Catch`` match on
   ``errorType``. Invocations hold one re-entrant lock: a handler may synchronously invoke another one (a
   handler that waits for a Step Functions execution whose tasks invoke Lambdas would deadlock). As with
   ``sam local invoke``, ``AWS_SAM_LOCAL=true`` is set during the call. ``os._Environ.copy``/``items``/
   ``values`` read one snapshot of the environment: a Step Functions thread creating a boto3 client calls
   ``os.environ.copy()`` while an invocation swaps the function's variables in, which raised KeyError.
2. Step Functions executes ASL only with ``mock_aws(config=MOCK_CONFIG)``; there is nothing to patch.
3. ``WaitFunction._wait_interval`` (``moto.stepfunctions.parser...wait_function.wait_function``) and
   ``RetrierDecl._eval_body`` (``...common.retry.retrier_decl``): Wait states (Seconds, SecondsPath,
   Timestamp, TimestampPath) and Retry intervals really sleep; both are capped to ``wait_cap_seconds``.
4. ``moto.events.models.Rule.send_to_targets``: Lambda and Step Functions targets raise NotImplementedError,
   which also starves the targets listed after them. They are delivered here, and so are SQS targets (moto
   dropped ``account`` from PutEvents events and ignored Input/InputPath), all with the event exactly as
   EventBridge sends it or after Input, InputPath or InputTransformer. Other targets keep moto's behaviour,
   one at a time, and a failing target is logged instead of failing PutEvents. Rules that are DISABLED or
   schedule-only no longer match events (moto delivered every event to them); archives also record S3 events.
5. ``moto.sqs.models.Queue.add_message`` and ``SQSBackend.send_message_batch``: for event source mappings
   with ``FunctionResponseTypes: [ReportBatchItemFailures]``, the batch goes to the function in one call
   (a SendMessageBatch is one batch, as Lambda's poller would see it) and only the messages that are not
   listed in ``batchItemFailures`` are deleted; the others become visible again, so the queue's RedrivePolicy
   moves them to the DLQ after maxReceiveCount. Mappings without that setting keep moto's behaviour.
   ``poll_sqs_event_source(queue_arn)`` plays Lambda's poller for messages left visible.
6. ``moto.s3.notifications._send_event_bridge_message``: S3 "Object Created/Deleted" events now carry the
   form-encoded key like real S3, a unique ``id``, the real ``detail.reason`` (PutObject, CopyObject,
   CompleteMultipartUpload...), ``etag``, a ``version-id`` only on versioned buckets and an increasing
   ``sequencer``; they go to the default bus only (moto sent them to every bus).
   ``s3_notifications.send_event`` (with ``S3Response.put_object_tagging`` and
   ``S3Backend.complete_multipart_upload`` marking the operation): every notification channel loses moto's
   extra "Object Tags Added" after each PutObject/CopyObject/CompleteMultipartUpload and the extra PutObject
   "Object Created" of a multipart upload. ``s3_notifications._get_s3_event``: Lambda/SQS/SNS notifications
   keep "/" in keys (moto encoded it as %2F).
7. Distributed Map. ``InputType.__init__`` and ``item_reader_decl.resource_output_transformer_for``: ItemReader
   ``ReaderConfig.InputType: JSONL`` (one JSON value per non-empty line; a bad line fails the Map with
   States.ItemReaderFailed). ``AmazonStateLanguageParser.parse``: moto's grammar rejects ``ItemBatcher`` and an
   integer ``ToleratedFailurePercentage``; ItemBatcher is taken out before parsing and applied by
   ``DistributedIterationComponent._map_run`` (JSONPath only; not with ItemSelector), which also fails the Map
   with States.ExceedToleratedFailureThreshold (moto ignored the tolerance), counting failed child executions.
8. Local IAM check (``iam_check``): ``BotocoreStubber.__call__`` checks each request a handler makes against
   its template Policies before moto serves it; ``ThreadPoolExecutor.submit`` carries the running function
   into the handler's worker threads.

Not emulated: Lambda timeouts, concurrency, async retries and destinations; each function shares this
process's imported layer modules (a real container has its own copy).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import enum
import hashlib
import importlib.util
import io
import json
import logging
import math
import os
import re
import sys
import threading
import time
import traceback
import types
import urllib.parse
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from moto.awslambda.models import EventSourceMapping, LambdaFunction
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.config import DefaultConfig
from moto.events.models import Rule, events_backends
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
    ResourceOutputTransformer,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (
    InputType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.reader_config_decl import (
    ReaderConfigOutput,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError, extract_json
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from groundcrew_local import iam_check

LOG = logging.getLogger(__name__)

# Pass to mock_aws: without it moto's Step Functions records executions but never runs their ASL.
MOCK_CONFIG: Final[DefaultConfig] = {"stepfunctions": {"execute_state_machine": True}}

MODULE_PREFIX: Final = "groundcrew_fn_"


# --------------------------------------------------------------------------------------------------------------
# Installation


@dataclass
class _Settings:
    wait_cap_seconds: float = 0.0


_SETTINGS = _Settings()
_ORIGINALS: dict[tuple[object, str], Any] = {}


_INHERITED = object()


def _patch(owner: Any, name: str, replacement: Any) -> None:
    if (owner, name) not in _ORIGINALS:
        # The class __dict__ keeps the raw function (or nothing, for an inherited one); getattr would do for modules.
        original = owner.__dict__.get(name, _INHERITED) if isinstance(owner, type) else getattr(owner, name)
        _ORIGINALS[(owner, name)] = original
    setattr(owner, name, replacement)


def _original(owner: object, name: str) -> Any:
    return _ORIGINALS[(owner, name)]


def install_local_patches(*, wait_cap_seconds: float = 0.0) -> None:
    """Install every patch; calling again only updates the wait cap."""
    if wait_cap_seconds < 0:
        raise ValueError(f"wait_cap_seconds must be >= 0, got {wait_cap_seconds}")
    _SETTINGS.wait_cap_seconds = wait_cap_seconds
    _patch(LambdaFunction, "_invoke_lambda", _invoke_lambda_in_process)
    for name, view in (("copy", _environ_copy), ("items", _environ_items), ("values", _environ_values)):
        _patch(os._Environ, name, view)
    _patch(WaitFunction, "_wait_interval", _capped_wait_interval)
    _patch(RetrierDecl, "_eval_body", _retrier_eval_body_capped)
    _patch(Rule, "send_to_targets", _send_to_targets)
    _patch(Queue, "add_message", _add_message)
    _patch(SQSBackend, "send_message_batch", _send_message_batch)
    _patch(s3_notifications, "_send_event_bridge_message", _send_event_bridge_message)
    _patch(s3_notifications, "send_event", _send_s3_event)
    _patch(s3_notifications, "_get_s3_event", _s3_notification_event)
    _patch(S3Response, "put_object_tagging", _put_object_tagging_request)
    _patch(S3Backend, "complete_multipart_upload", _complete_multipart_upload)
    _patch(InputType, "__init__", _input_type_init)
    _patch(item_reader_decl, "resource_output_transformer_for", _resource_output_transformer_for)
    _patch(AmazonStateLanguageParser, "parse", staticmethod(_parse_distributed_map_fields))
    _patch(DistributedIterationComponent, "_map_run", _distributed_map_run)
    _patch(BotocoreStubber, "__call__", _checked_botocore_call)
    _patch(ThreadPoolExecutor, "submit", _submit_with_caller)


def uninstall_local_patches() -> None:
    """Restore moto's own behaviour (for tests of the patches themselves)."""
    for (owner, name), original in _ORIGINALS.items():
        if original is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _ORIGINALS.clear()


def patches_installed() -> bool:
    return bool(_ORIGINALS)


# --------------------------------------------------------------------------------------------------------------
# 1. In-process Lambda


@dataclass(frozen=True)
class FunctionCode:
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...]


@dataclass
class _WarmFunction:
    handler: Callable[[Any, Any], Any]
    # Modules imported from the code folder, kept out of sys.modules between calls: two functions may both
    # have a sibling "models.py".
    private_modules: dict[str, types.ModuleType] = field(default_factory=dict)


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float  # time.monotonic() value
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LambdaRuntimeError(Exception):
    """An error the Lambda runtime (not the handler) reports, with the runtime's errorType."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


_FUNCTION_CODE: dict[str, FunctionCode] = {}
_WARM_FUNCTIONS: dict[str, _WarmFunction] = {}
_INVOKE_LOCK = threading.RLock()
# Environment of the process when the outermost invocation started: nested calls start from it, so the
# variables of the calling function do not leak into the called one.
_BASE_ENVIRONMENT: list[dict[str, str]] = []


def register_function_code(function_name: str, code_dir: Path, handler: str, layer_dirs: list[Path]) -> None:
    """Tell local mode where the code of a function created in moto lives (e.g. handler ``app.lambda_handler``)."""
    with _INVOKE_LOCK:
        _FUNCTION_CODE[function_name] = FunctionCode(
            code_dir=Path(code_dir).resolve(),
            handler=handler,
            layer_dirs=tuple(Path(d).resolve() for d in layer_dirs),
        )
        _drop_warm_function(function_name)


def registered_function_code(function_name: str) -> FunctionCode | None:
    return _FUNCTION_CODE.get(function_name)


def reset_function_modules() -> None:
    """Forget imported handler modules: the next invocation of every function is a cold start."""
    with _INVOKE_LOCK:
        for function_name in list(_WARM_FUNCTIONS):
            _drop_warm_function(function_name)


def _drop_warm_function(function_name: str) -> None:
    _WARM_FUNCTIONS.pop(function_name, None)
    sys.modules.pop(handler_module_name(function_name), None)


def handler_module_name(function_name: str) -> str:
    return MODULE_PREFIX + re.sub(r"\W", "_", function_name)


def lambda_error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The payload the Python runtime returns for an uncaught exception."""
    return {
        "errorMessage": str(exc),
        "errorType": getattr(exc, "error_type", type(exc).__name__),
        "requestId": request_id,
        "stackTrace": traceback.format_list(_handler_frames(exc)),
    }


def _handler_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    # Local mode's own frames say nothing about the handler: leave them out, as the real runtime does.
    return [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]


def _invoke_lambda_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    # Same contract as moto's method: (response payload, errored, log output).
    with _INVOKE_LOCK:
        outermost = not _BASE_ENVIRONMENT
        if outermost:
            _BASE_ENVIRONMENT.append(dict(os.environ))
        try:
            return _run_handler(self, _decode_event(event))
        finally:
            if outermost:
                _BASE_ENVIRONMENT.clear()


def _decode_event(event: Any) -> Any:
    # moto passes the parsed body, or the string "{}" for an empty one.
    if event is None:
        return {}
    if isinstance(event, (str, bytes)):
        try:
            return json.loads(event)
        except ValueError:
            return event
    return event


def _run_handler(fn: LambdaFunction, event: Any) -> tuple[str, bool, str]:
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    stream_name = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{request_id.replace('-', '')}"
    context = LambdaContext(
        function_name=fn.function_name,
        function_version="$LATEST",
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size),
        aws_request_id=request_id,
        log_group_name=fn.logs_group_name,
        log_stream_name=stream_name,
        deadline=started + float(fn.timeout),
    )
    with _captured_output() as output:
        output.write(f"START RequestId: {request_id} Version: $LATEST\n")
        try:
            result = _call_handler(fn, event, context)
            payload, errored = _encode_result(result), False
        except Exception as exc:  # the runtime turns every handler exception into an error payload
            error = lambda_error_payload(exc, request_id)
            payload, errored = json.dumps(error), True
            output.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n")
            output.write("Traceback (most recent call last):\n" + "".join(error["stackTrace"]))
        elapsed_ms = (time.monotonic() - started) * 1000
        output.write(f"END RequestId: {request_id}\n")
        output.write(
            f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(elapsed_ms)} ms\tMemory Size: {fn.memory_size} MB\n"
        )
    logs = output.getvalue()
    _save_logs(fn, stream_name, logs)
    return payload, errored, logs


def _encode_result(result: Any) -> str:
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise LambdaRuntimeError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


def _call_handler(fn: LambdaFunction, event: Any, context: LambdaContext) -> Any:
    code = _FUNCTION_CODE.get(fn.function_name)
    if code is None:
        raise LambdaRuntimeError(
            "Runtime.LocalModeFunctionNotRegistered",
            f"no code registered for function {fn.function_name!r}: call register_function_code() "
            "(deploy_local_stack does it for template functions)",
        )
    environment = _function_environment(fn, code, context)
    modules_before = set(sys.modules)
    with (
        iam_check.running_function(fn.function_name),
        _environment(environment),
        _prepended_sys_path([code.code_dir, *code.layer_dirs]),
    ):
        warm = _WARM_FUNCTIONS.get(fn.function_name)
        try:
            if warm is None:
                warm = _load_handler(fn.function_name, code)
                _WARM_FUNCTIONS[fn.function_name] = warm
            sys.modules.update(warm.private_modules)
            return warm.handler(event, context)
        finally:
            private = _pop_private_modules(modules_before, code)
            if warm is not None:
                warm.private_modules.update(private)


def _checked_botocore_call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
    return iam_check.checked_request(_original(BotocoreStubber, "__call__"), self, event_name, request, **kwargs)


def _submit_with_caller(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return _original(ThreadPoolExecutor, "submit")(self, iam_check.carry_caller(fn), *args, **kwargs)


def _function_environment(fn: LambdaFunction, code: FunctionCode, context: LambdaContext) -> dict[str, str]:
    environment = dict(_BASE_ENVIRONMENT[0])
    # Like `sam local invoke`: Powertools Tracer, for one, stays quiet when it sees this.
    environment["AWS_SAM_LOCAL"] = "true"
    environment.update({key: str(value) for key, value in (fn.environment_vars or {}).items()})
    # Reserved variables: the function's configuration cannot override them.
    environment.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "LAMBDA_TASK_ROOT": str(code.code_dir),
            "_HANDLER": code.handler,
        }
    )
    return environment


def _load_handler(function_name: str, code: FunctionCode) -> _WarmFunction:
    module_path, _, attribute = code.handler.rpartition(".")
    if not module_path:
        raise LambdaRuntimeError("Runtime.MalformedHandlerName", f"Bad handler '{code.handler}': not enough values")
    file = code.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    name = handler_module_name(function_name)
    spec = importlib.util.spec_from_file_location(name, file)
    if not file.is_file() or spec is None or spec.loader is None:
        raise LambdaRuntimeError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_path}': no file {file}"
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise LambdaRuntimeError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}"
        ) from exc
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise LambdaRuntimeError("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_path}'")
    return _WarmFunction(handler=handler)


def _pop_private_modules(before: set[str], code: FunctionCode) -> dict[str, types.ModuleType]:
    """Remove from sys.modules the modules this call imported from the function's own folder."""
    private: dict[str, types.ModuleType] = {}
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is None or file is None or name.startswith(MODULE_PREFIX):
            continue
        path = Path(file).resolve()
        if path.is_relative_to(code.code_dir) and not any(path.is_relative_to(d) for d in code.layer_dirs):
            private[name] = sys.modules.pop(name)
    return private


def _environ_copy(self: Any) -> dict[str, str]:
    data = self._data.copy()  # dict.copy runs in C, under the GIL: one consistent snapshot
    return {self.decodekey(key): self.decodevalue(value) for key, value in data.items()}


def _environ_items(self: Any) -> Any:
    return _environ_copy(self).items()


def _environ_values(self: Any) -> Any:
    return _environ_copy(self).values()


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    _replace_environment(values)
    try:
        yield
    finally:
        _replace_environment(saved)


def _replace_environment(values: Mapping[str, str]) -> None:
    # Key by key rather than clear(): Step Functions threads read os.environ meanwhile.
    for key in [key for key in os.environ if key not in values]:
        os.environ.pop(key, None)
    for key, value in values.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextlib.contextmanager
def _prepended_sys_path(paths: list[Path]) -> Iterator[None]:
    entries = [str(p) for p in paths]
    sys.path[0:0] = entries
    try:
        yield
    finally:
        for entry in entries:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


class _RoutedStream(io.TextIOBase):
    """Stands for stdout/stderr: writes go to the innermost invocation's buffer, else to the real stream.

    Loggers created at import time (Powertools) keep a reference to sys.stdout; routing keeps their output
    with the invocation that produces it.
    """

    def __init__(self, fallback: TextIO) -> None:
        super().__init__()
        self.fallback = fallback

    def write(self, text: str) -> int:
        target = _CAPTURES[-1] if _CAPTURES else self.fallback
        return target.write(text)

    def flush(self) -> None:
        if not _CAPTURES:
            self.fallback.flush()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


_CAPTURES: list[io.StringIO] = []
_ROUTES: dict[str, _RoutedStream] = {}


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    saved = {"stdout": sys.stdout, "stderr": sys.stderr}
    for name, stream in saved.items():
        route = _ROUTES.setdefault(name, _RoutedStream(stream))
        if not isinstance(stream, _RoutedStream):
            route.fallback = stream
        setattr(sys, name, route)
    _CAPTURES.append(buffer)
    try:
        yield buffer
    finally:
        _CAPTURES.pop()
        for name, stream in saved.items():
            setattr(sys, name, stream)


def _save_logs(fn: LambdaFunction, stream_name: str, output: str) -> None:
    backend = fn.logs_backend
    backend.ensure_log_group(fn.logs_group_name)
    backend.create_log_stream(fn.logs_group_name, stream_name)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in output.splitlines() if line.strip()]
    backend.put_log_events(fn.logs_group_name, stream_name, events)


# --------------------------------------------------------------------------------------------------------------
# 3. Wait and Retry cap


def _capped_wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    seconds = min(float(wait_seconds), _SETTINGS.wait_cap_seconds)
    if seconds > 0:
        # The event is set when the execution stops, which ends the wait early, as in moto.
        env.program_state_event.wait(seconds)


def _retrier_eval_body_capped(self: RetrierDecl, env: Environment) -> None:
    # moto 5.2.5's RetrierDecl._eval_body with the sleep capped.
    self.error_equals.eval(env)
    if not env.stack.pop():
        env.stack.append(RetrierOutcome.Skipped)
        return
    self.max_attempts.eval(env=env)
    if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
        env.stack.append(RetrierOutcome.Failed)
        return
    self.interval_seconds.eval(env=env)
    self.backoff_rate.eval(env=env)
    self.max_delay_seconds.eval(env=env)
    self.jitter_strategy.eval(env=env)
    interval_seconds = min(float(env.stack.pop()), _SETTINGS.wait_cap_seconds)
    if interval_seconds > 0:
        time.sleep(interval_seconds)
    env.stack.append(RetrierOutcome.Executed)


# --------------------------------------------------------------------------------------------------------------
# 4. EventBridge targets


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
        _original(Rule, "send_to_targets")(single, event, transform_input)


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


# --------------------------------------------------------------------------------------------------------------
# 5. SQS event source mappings with partial batch failures


_DEFERRED_QUEUES: dict[int, int] = {}


def reports_batch_item_failures(mapping: EventSourceMapping) -> bool:
    return "ReportBatchItemFailures" in (mapping.function_response_types or [])


def _add_message(self: Queue, message: Message) -> None:
    mappings = self.lambda_event_source_mappings
    reporting = {arn: m for arn, m in mappings.items() if reports_batch_item_failures(m)}
    if not reporting:
        _original(Queue, "add_message")(self, message)
        return
    # moto's code handles FIFO deduplication and the other mappings; ours handles the reporting ones.
    self.lambda_event_source_mappings = {arn: m for arn, m in mappings.items() if arn not in reporting}
    try:
        _original(Queue, "add_message")(self, message)
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
        result = _original(SQSBackend, "send_message_batch")(self, queue_name, *args, **kwargs)
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


# --------------------------------------------------------------------------------------------------------------
# 6. S3 -> EventBridge events like real S3


_S3_REASONS: Final = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}
_DELETION_TYPES: Final = {
    "s3:ObjectRemoved:Delete": "Permanently Deleted",
    "s3:ObjectRemoved:DeleteMarkerCreated": "Delete Marker Created",
    "s3:LifecycleExpiration:Delete": "Permanently Deleted",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Delete Marker Created",
}
_SEQUENCER_LOCK = threading.Lock()
_last_sequencer = 0


def s3_notification_key(key: str) -> str:
    """Object key as S3 writes it in notifications: form-encoded, slashes kept."""
    return urllib.parse.quote_plus(key, safe="/")


def next_sequencer() -> str:
    """Increasing hexadecimal sequencer, unique in this process."""
    global _last_sequencer
    with _SEQUENCER_LOCK:
        _last_sequencer = max(time.time_ns(), _last_sequencer + 1)
        return f"{_last_sequencer:018X}"


def s3_event_bridge_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": s3_notification_key(key.name)}
    if event_name not in _DELETION_TYPES:  # real "Object Deleted" events carry neither size nor etag
        obj.update({"size": getattr(key, "size", 0), "etag": str(getattr(key, "etag", "")).strip('"')})
    if bucket.is_versioned:
        obj["version-id"] = key.version_id
    obj["sequencer"] = next_sequencer()
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": _S3_REASONS.get(event_name, event_name.split(":")[1]),
    }
    if event_name in _DELETION_TYPES:
        detail["deletion-type"] = _DELETION_TYPES[event_name]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        "time": time.time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }


_S3_REQUEST = threading.local()  # which S3 operation is running in this thread


@contextlib.contextmanager
def _s3_operation(name: str) -> Iterator[None]:
    setattr(_S3_REQUEST, name, True)
    try:
        yield
    finally:
        setattr(_S3_REQUEST, name, False)


def _put_object_tagging_request(self: S3Response, *args: Any, **kwargs: Any) -> Any:
    with _s3_operation("explicit_tagging"):
        return _original(S3Response, "put_object_tagging")(self, *args, **kwargs)


def _complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
    with _s3_operation("completing_multipart"):
        return _original(S3Backend, "complete_multipart_upload")(self, *args, **kwargs)


def _send_s3_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    # moto tags every new object through the PutObjectTagging code path, and completes a multipart upload
    # with an inner PutObject: real S3 notifies neither.
    name = str(getattr(event_name, "value", event_name))
    if name == "s3:ObjectTagging:Put" and not getattr(_S3_REQUEST, "explicit_tagging", False):
        return
    if name == "s3:ObjectCreated:Put" and getattr(_S3_REQUEST, "completing_multipart", False):
        return
    _original(s3_notifications, "send_event")(account_id, event_name, bucket, key)


def _s3_notification_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    # moto encodes "/" in the key of Lambda/SQS/SNS notifications too; real S3 keeps it.
    event: dict[str, Any] = _original(s3_notifications, "_get_s3_event")(event_name, bucket, key, notification_id)
    for record in event["Records"]:
        record["s3"]["object"]["key"] = s3_notification_key(key.name)
    return event


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
    name = str(getattr(event_name, "value", event_name))
    try:
        event = s3_event_bridge_event(account_id, bucket, name, key)
        default_bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        for rule in list(default_bus.rules.values()) if default_bus else []:
            rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]
    except Exception:
        # Asynchronous in AWS: never fail the S3 request.
        LOG.exception("S3 EventBridge notification for %s/%s failed", bucket.name, key.name)


# --------------------------------------------------------------------------------------------------------------
# 7. Distributed Map: JSONL item reader, ItemBatcher, tolerated failures


class _ExtraInputType(enum.Enum):
    """ReaderConfig.InputType values that moto's InputTypeValue enum lacks (the grammar accepts any string)."""

    JSONL = "JSONL"


class ResourceOutputTransformerJsonl(ResourceOutputTransformer):
    """JSON Lines: each non-empty line is one item; a line that is not JSON fails the Map like AWS does."""

    def _eval_body(self, env: Environment) -> None:
        reader_config: ReaderConfigOutput = env.stack.pop()
        resource_value: str = env.stack.pop()
        items: list[Any] = []
        for number, line in enumerate(resource_value.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                cause = f"Line {number} of the JSONL file is not valid JSON: {exc.msg}."
                raise _map_run_failure(env, StatesErrorNameType.StatesItemReaderFailed, cause) from exc
        env.stack.append(items[: reader_config["MaxItemsValue"]])


def _input_type_init(self: InputType, input_type: str) -> None:
    # moto's InputType only takes CSV and JSON (a ValueError otherwise): keep JSONL as our own enum value.
    if input_type == _ExtraInputType.JSONL.value:
        self.input_type_value = _ExtraInputType.JSONL  # type: ignore[misc, assignment]
    else:
        _original(InputType, "__init__")(self, input_type)


def _resource_output_transformer_for(input_type: InputType) -> ResourceOutputTransformer:
    # Looked up by name in item_reader_decl when an ItemReader is built from the definition.
    if input_type.input_type_value is _ExtraInputType.JSONL:
        return ResourceOutputTransformerJsonl()
    transformer: ResourceOutputTransformer = _original(item_reader_decl, "resource_output_transformer_for")(input_type)
    return transformer


@dataclass(frozen=True)
class ItemBatcher:
    """A Distributed Map's ItemBatcher (JSONPath only): moto's ASL grammar has no such field."""

    max_items: int | str | None = None  # an int, or the JSONPath of MaxItemsPerBatchPath
    max_bytes: int | str | None = None  # an int, or the JSONPath of MaxInputBytesPerBatchPath
    batch_input: Any = None

    @classmethod
    def from_definition(cls, state_name: str, decl: Any) -> ItemBatcher:
        known = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"}
        unknown = set(decl) - known - {"BatchInput"} if isinstance(decl, dict) else {"(not an object)"}
        if unknown:
            raise ValueError(f"ItemBatcher of state {state_name!r}: unsupported field(s) {sorted(unknown)}")
        max_items = decl.get("MaxItemsPerBatch", decl.get("MaxItemsPerBatchPath"))
        max_bytes = decl.get("MaxInputBytesPerBatch", decl.get("MaxInputBytesPerBatchPath"))
        if max_items is None and max_bytes is None:
            raise ValueError(f"ItemBatcher of state {state_name!r} needs MaxItemsPerBatch or MaxInputBytesPerBatch")
        return cls(max_items=max_items, max_bytes=max_bytes, batch_input=decl.get("BatchInput"))

    def batches(self, items: list[Any], state_input: Any, context: Any) -> list[dict[str, Any]]:
        max_items = _positive_limit(self.max_items, state_input, "MaxItemsPerBatch")
        max_bytes = _positive_limit(self.max_bytes, state_input, "MaxInputBytesPerBatch")
        extra: dict[str, Any] = {}
        if self.batch_input is not None:
            extra["BatchInput"] = resolve_payload_template(self.batch_input, state_input, context)
        batches: list[dict[str, Any]] = []
        current: list[Any] = []
        size = len(json.dumps({"Items": [], **extra}).encode())
        for item in items:
            item_size = len(json.dumps(item).encode()) + 1  # plus the separating comma
            full = (max_items is not None and len(current) >= max_items) or (
                max_bytes is not None and current and size + item_size > max_bytes
            )
            if full:
                batches.append({"Items": current, **copy.deepcopy(extra)})
                current, size = [], len(json.dumps({"Items": [], **extra}).encode())
            current.append(item)
            size += item_size
        if current:
            batches.append({"Items": current, **copy.deepcopy(extra)})
        return batches


def _positive_limit(value: int | str | None, state_input: Any, field_name: str) -> int | None:
    if value is None:
        return None
    limit = json_path_value(state_input, value) if isinstance(value, str) else value
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"ItemBatcher {field_name} must be a positive integer, got {limit!r}")
    return limit


def resolve_payload_template(template: Any, state_input: Any, context: Any) -> Any:
    """A JSONPath payload template (keys ending in ".$" take "$..." or "$$..." paths); no intrinsic functions."""
    if isinstance(template, list):
        return [resolve_payload_template(value, state_input, context) for value in template]
    if not isinstance(template, dict):
        return template
    resolved: dict[str, Any] = {}
    for key, value in template.items():
        if not key.endswith(".$"):
            resolved[key] = resolve_payload_template(value, state_input, context)
        elif isinstance(value, str) and value.startswith("$$"):
            resolved[key[:-2]] = extract_json(value[1:], context)
        elif isinstance(value, str) and value.startswith("$"):
            resolved[key[:-2]] = extract_json(value, state_input)
        else:
            raise ValueError(f"BatchInput {key!r}: only JSONPath values are emulated, got {value!r}")
    return resolved


# The parsed Map states' iteration components that batch their items.
_ITEM_BATCHERS: weakref.WeakKeyDictionary[Any, ItemBatcher] = weakref.WeakKeyDictionary()


def _parse_distributed_map_fields(definition: str) -> Any:
    # moto's grammar rejects "ItemBatcher" and an integer ToleratedFailurePercentage (it wants a decimal
    # number; AWS takes both). Take ItemBatcher out of each Map state and write the percentage as a float,
    # parse the rest, then attach each ItemBatcher to its parsed Map state (state names are unique in a whole
    # state machine, nested ones included).
    original_parse = _original(AmazonStateLanguageParser, "parse")
    try:
        document = json.loads(definition)
    except (TypeError, ValueError):
        return original_parse(definition)
    batchers: dict[str, ItemBatcher] = {}
    if not _rewrite_map_states(document, batchers):
        return original_parse(definition)
    program, tree = original_parse(json.dumps(document))
    for state in _map_states(program):
        batcher = batchers.pop(state.name, None)
        if batcher is None:
            continue
        if not isinstance(state.iteration_component, DistributedIterationComponent):
            raise ValueError(f"ItemBatcher of state {state.name!r} needs ProcessorConfig.Mode DISTRIBUTED")
        if state.item_selector is not None:
            raise ValueError(f"State {state.name!r}: ItemSelector with ItemBatcher is not emulated in local mode")
        _ITEM_BATCHERS[state.iteration_component] = batcher
    return program, tree


def _rewrite_map_states(node: Any, batchers: dict[str, ItemBatcher]) -> bool:
    """Apply the rewrites of _parse_distributed_map_fields in place; True when something changed."""
    changed = False
    if isinstance(node, list):
        for child in node:
            changed = _rewrite_map_states(child, batchers) or changed
        return changed
    if not isinstance(node, dict):
        return False
    states = node.get("States")
    for name, state in states.items() if isinstance(states, dict) else ():
        if not isinstance(state, dict) or state.get("Type") != "Map":
            continue
        if "ItemBatcher" in state:
            batchers[name] = ItemBatcher.from_definition(name, state.pop("ItemBatcher"))
            changed = True
        percentage = state.get("ToleratedFailurePercentage")
        if isinstance(percentage, int) and not isinstance(percentage, bool):
            state["ToleratedFailurePercentage"] = float(percentage)
            changed = True
    for value in node.values():
        changed = _rewrite_map_states(value, batchers) or changed
    return changed


def _map_states(root: Any) -> Iterator[StateMap]:
    seen: set[int] = set()
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, StateMap):
            yield node
        if isinstance(node, Component):
            pending.extend(vars(node).values())
        elif isinstance(node, list | tuple):
            pending.extend(node)
        elif isinstance(node, dict):
            pending.extend(node.values())


def _distributed_map_run(self: DistributedIterationComponent, env: Environment, eval_input: Any) -> None:
    # Batch the items when the Map has an ItemBatcher, then enforce ToleratedFailureCount/Percentage: moto
    # records failed child executions (output null) but always lets the Map succeed.
    batcher = _ITEM_BATCHERS.get(self)
    if batcher is not None:
        items = env.stack.pop()
        context = env.states.context_object.context_object_data
        try:
            env.stack.append(batcher.batches(items, env.states.get_input(), context))
        except (ValueError, NoSuchJsonPathError) as exc:
            raise _map_run_failure(env, StatesErrorNameType.StatesRuntime, str(exc)) from exc
    _original(DistributedIterationComponent, "_map_run")(self, env, eval_input)
    record = eval_input.map_run_record
    total = record.execution_counter.total.get()
    failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
    if failed and (
        failed > eval_input.tolerated_failure_count and failed * 100.0 > eval_input.tolerated_failure_percentage * total
    ):
        raise _map_run_failure(
            env,
            StatesErrorNameType.StatesExceedToleratedFailureThreshold,
            "The specified tolerated failure threshold was exceeded",
        )


def _map_run_failure(env: Environment, typ: StatesErrorNameType, cause: str) -> FailureEventException:
    error_name = StatesErrorName(typ=typ)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                mapRunFailedEventDetails=MapRunFailedEventDetails(error=error_name.error_name, cause=cause)
            ),
        )
    )
