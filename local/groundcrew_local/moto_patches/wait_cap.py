"""3. Wait and Retry cap: Step Functions waits in local mode last at most ``wait_cap_seconds``.

``WaitFunction._wait_interval`` (``moto.stepfunctions.parser...wait_function.wait_function``) and
``RetrierDecl._eval_body`` (``...common.retry.retrier_decl``): Wait states (Seconds, SecondsPath, Timestamp,
TimestampPath) and Retry intervals really sleep; both are capped to ``wait_cap_seconds`` (0 by default).

A Wait state is where time passes for the people doing the work: listeners (``add_wait_listener``) are called with
the state's seconds before it ends, e.g. the simulated Label Studio annotators, who then work on open tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment

from groundcrew_local.moto_patches.originals import patch

logger = logging.getLogger(__name__)


@dataclass
class _Cap:
    seconds: float = 0.0
    listeners: list[Callable[[float], None]] = field(default_factory=list)


_CAP = _Cap()


def add_wait_listener(listener: Callable[[float], None]) -> None:
    """Call `listener(seconds)` whenever a Wait state waits (the seconds the ASL asked for, not the capped ones)."""
    _CAP.listeners.append(listener)


def remove_wait_listener(listener: Callable[[float], None]) -> None:
    if listener in _CAP.listeners:
        _CAP.listeners.remove(listener)


def set_wait_cap(seconds: float) -> None:
    """The longest a Wait state or a Retry interval sleeps from now on."""
    if seconds < 0:
        raise ValueError(f"wait_cap_seconds must be >= 0, got {seconds}")
    _CAP.seconds = seconds


def install() -> None:
    patch(WaitFunction, "_wait_interval", _capped_wait_interval)
    patch(RetrierDecl, "_eval_body", _retrier_eval_body_capped)


def _capped_wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    for listener in list(_CAP.listeners):
        try:
            listener(float(wait_seconds))
        except Exception:  # a simulation fault must not look like the state machine's
            logger.exception("wait listener %r failed", listener)
    seconds = min(float(wait_seconds), _CAP.seconds)
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
    interval_seconds = min(float(env.stack.pop()), _CAP.seconds)
    if interval_seconds > 0:
        time.sleep(interval_seconds)
    env.stack.append(RetrierOutcome.Executed)
