"""1. In-process Lambda: ``moto.awslambda.models.LambdaFunction._invoke_lambda`` runs handlers here, not in Docker.

moto runs handlers in Docker (unavailable here). The handler is imported from the folder given to
``register_function_code`` (under a per-function module name, with the layer folders on ``sys.path``) and called
in this process with the function's environment and a fake context. Output goes to moto's CloudWatch Logs
(``lambda_logs``); exceptions become the Lambda error payload with the error flag, so Invoke reports
``FunctionError`` and Step Functions ``Retry``/``Catch`` match on ``errorType``. Invocations hold one re-entrant
lock: a handler may synchronously invoke another one (a handler that waits for a Step Functions execution whose
tasks invoke Lambdas would deadlock). As with ``sam local invoke``, ``AWS_SAM_LOCAL=true`` is set during the call;
``process_environment`` swaps the function's variables in and out.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import sys
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from moto.awslambda.models import LambdaFunction

from groundcrew_local import iam_check
from groundcrew_local.moto_patches import lambda_logs, process_environment
from groundcrew_local.moto_patches.originals import patch

MODULE_PREFIX: Final = "groundcrew_fn_"
# This package's frames say nothing about the handler: error stack traces leave them out.
_PACKAGE_DIR: Final = Path(__file__).resolve().parent


def install() -> None:
    patch(LambdaFunction, "_invoke_lambda", _invoke_lambda_in_process)


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
    frames = traceback.extract_tb(exc.__traceback__)
    return [frame for frame in frames if Path(frame.filename).resolve().parent != _PACKAGE_DIR]


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
    with lambda_logs.captured_output() as output:
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
    lambda_logs.save_logs(fn, stream_name, logs)
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
        process_environment.replaced_environment(environment),
        process_environment.prepended_sys_path([code.code_dir, *code.layer_dirs]),
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
