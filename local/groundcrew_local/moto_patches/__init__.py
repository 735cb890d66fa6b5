"""Patches that let moto 5.2.5 run groundcrew's serverless app in-process ("local mode").

Call ``install_local_patches()`` once, then run everything inside ``mock_aws(config=MOCK_CONFIG)``.
Each patch fills one moto gap measured in ``docs/local-mode-notes.md``; they touch moto internals, hence the pin.
One module per gap (each module's docstring says exactly what it changes and why):

1. ``in_process_lambda``: handlers run in this process instead of Docker, with the function's environment
   (``process_environment``) and their output in CloudWatch Logs (``lambda_logs``); errors as the runtime
   reports them.
2. Step Functions executes ASL only with ``mock_aws(config=MOCK_CONFIG)``; there is nothing to patch.
3. ``wait_cap``: Wait states and Retry intervals sleep at most ``wait_cap_seconds``.
4. ``eventbridge_targets``: rules deliver to Lambda, Step Functions and SQS targets as EventBridge does.
5. ``sqs_event_sources``: event source mappings with ``ReportBatchItemFailures``.
6. ``s3_events``: S3's EventBridge events and notifications as real S3 sends them.
7. ``distributed_map``: ItemReader ``InputType: JSONL``, ItemBatcher and tolerated failures.
8. ``iam_check_hooks``: each request a handler makes goes through the local IAM check (``iam_check``).

``originals`` keeps what each patch replaced, so that ``uninstall_local_patches`` can restore moto.

Not emulated: Lambda timeouts, concurrency, async retries and destinations; each function shares this
process's imported layer modules (a real container has its own copy).
"""

from __future__ import annotations

from typing import Final

from moto.core.config import DefaultConfig

from groundcrew_local.moto_patches import (
    distributed_map,
    eventbridge_targets,
    iam_check_hooks,
    in_process_lambda,
    originals,
    process_environment,
    s3_events,
    sqs_event_sources,
    wait_cap,
)

# Pass to mock_aws: without it moto's Step Functions records executions but never runs their ASL.
MOCK_CONFIG: Final[DefaultConfig] = {"stepfunctions": {"execute_state_machine": True}}

_AREAS: Final = (
    in_process_lambda,
    process_environment,
    wait_cap,
    eventbridge_targets,
    sqs_event_sources,
    s3_events,
    distributed_map,
    iam_check_hooks,
)


def install_local_patches(*, wait_cap_seconds: float = 0.0) -> None:
    """Install every patch; calling again only updates the wait cap."""
    wait_cap.set_wait_cap(wait_cap_seconds)
    for area in _AREAS:
        area.install()


def uninstall_local_patches() -> None:
    """Restore moto's own behaviour (for tests of the patches themselves)."""
    originals.restore_all()


def patches_installed() -> bool:
    return originals.any_patched()
