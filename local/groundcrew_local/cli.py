"""The `groundcrew` command: the local demo and in-process function invocation."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Local mode must never reach a real account: moto intercepts, and these credentials are fake on purpose.
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ[_name] = "local-mode"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def _demo(args: argparse.Namespace) -> int:
    from groundcrew_local.demo import run_demo

    result = run_demo(Path(args.out), sys.stdout)
    if not result.succeeded:
        print(f"\nthe pipeline did not complete (execution {result.execution_status})", file=sys.stderr)
        return 1
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from groundcrew_local.environment import local_environment
    from groundcrew_local.invoke import invoke_function, seed_sample_world
    from groundcrew_local.stack import LambdaInvokeError

    event = json.loads(Path(args.event_file).read_text(encoding="utf-8"))
    with local_environment() as env:
        if not args.no_seed:
            seed_sample_world(env)
        try:
            result = invoke_function(env, args.function, event)
        except LambdaInvokeError as error:
            print(json.dumps({"errorType": error.error_type, "errorMessage": error.error_message}, indent=2))
            return 1
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        for execution in env.wait_for_all_executions():
            print(f"execution {execution['name']}: {execution['status']}", file=sys.stderr)
        if args.show_events:
            for captured in env.events():
                print(json.dumps(captured, ensure_ascii=False), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="groundcrew", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline locally on the bundled sample images")
    demo.add_argument("--out", default="runs", help="folder for the run's artifacts (default: runs/)")
    demo.set_defaults(run=_demo)
    invoke = commands.add_parser(
        "invoke", help="run one function in-process with an event file (like sam local invoke)"
    )
    invoke.add_argument("function", help="function folder name (e.g. intake) or logical id (e.g. IntakeFunction)")
    invoke.add_argument("event_file", help="a JSON event, e.g. events/intake-object-created.json")
    invoke.add_argument("--no-seed", action="store_true", help="skip seeding the sample project, images and job")
    invoke.add_argument("--show-events", action="store_true", help="print the events put on the bus to stderr")
    invoke.set_defaults(run=_invoke)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
