"""The `groundcrew` command: the local demo, in-process function invocation and offline simulations."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
# Commands that may read and write your real S3 (the rest run in local mode, on fake credentials).
REAL_AWS_COMMANDS = {"import", "validate"}
# Commands that touch no AWS service at all, so local mode has nothing to fake.
OFFLINE_COMMANDS = {"pointcloud"}


def _local_mode() -> None:
    """Local mode must never reach a real account: moto intercepts, and these credentials are fake on purpose."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "local-mode"
    os.environ.pop("AWS_PROFILE", None)


def _demo(args: argparse.Namespace) -> int:
    from groundcrew_local.demo import run_demo

    if args.interactive:
        if args.workforce != "labelstudio" or args.workflow == "pointcloud":
            print("--interactive needs --workforce labelstudio (and images to label)", file=sys.stderr)
            return 2
        from groundcrew_local.labelstudio.interactive import run_interactive

        result = run_interactive(Path(args.out), sys.stdout, workflow=args.workflow)
    else:
        result = run_demo(Path(args.out), sys.stdout, workflow=args.workflow, workforce=args.workforce)
    if not result.succeeded:
        print(f"\nthe pipeline did not complete (execution {result.execution_status})", file=sys.stderr)
        return 1
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from groundcrew_local.environment import local_environment
    from groundcrew_local.invoke import invoke_function, needs_labelstudio, seed_sample_world
    from groundcrew_local.labelstudio import server
    from groundcrew_local.stack import LambdaInvokeError

    event = json.loads(Path(args.event_file).read_text(encoding="utf-8"))
    labelstudio = server.start() if needs_labelstudio(args.function) else contextlib.nullcontext()
    with labelstudio as running, local_environment(labelstudio=running) as env:
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


def _simulate_consensus(args: argparse.Namespace) -> int:
    from groundcrew.consensus.decisions import ConsensusPolicy
    from groundcrew.core.vocabulary import ConsensusMethod, PolicyKind
    from groundcrew_local.simulation import (
        BASELINE,
        DEFAULT_MAX_ROUNDS,
        Population,
        format_report,
        project_policy,
        simulate,
    )

    # Precedence: ConsensusPolicy's defaults, then the project document, then the flags given.
    try:
        fields, max_rounds = project_policy(Path(args.project)) if args.project else ({}, None)
    except (OSError, ValueError) as error:
        print(f"groundcrew simulate consensus: {error}", file=sys.stderr)
        return 2
    flags = {
        "kind": PolicyKind(args.policy) if args.policy else None,
        "method": ConsensusMethod(args.method) if args.method else None,
        "initial_answers": args.initial_answers,
        "max_answers": args.max_answers,
        "min_agreeing": args.min_agreeing,
        "min_margin": args.min_margin,
        "min_confidence": args.min_confidence,
    }
    fields |= {name: value for name, value in flags.items() if value is not None}
    if fields.get("kind") is PolicyKind.FIXED:
        # A fixed policy's N is initial_answers, as workers_per_object is in a project (3 when not given).
        fields.setdefault("initial_answers", BASELINE.initial_answers)
        fields["max_answers"] = fields["initial_answers"]
    rounds = args.max_rounds if args.max_rounds is not None else max_rounds or DEFAULT_MAX_ROUNDS
    try:
        if rounds < 1:
            raise ValueError(f"--max-rounds must be at least 1, got {rounds}")
        policy = ConsensusPolicy(**fields)
        population = Population(
            items=args.items,
            classes=args.classes,
            workers=args.workers,
            accuracy=args.accuracy,
            spread=args.spread,
            spammers=args.spammers,
            seed=args.seed,
        )
    except ValueError as error:
        print(f"groundcrew simulate consensus: {error}", file=sys.stderr)
        return 2
    comparison = simulate(population, policy, max_rounds=rounds, price_usd=args.price)
    print(json.dumps(comparison.as_json()) if args.json else format_report(comparison))
    return 0


def _simulate_keypoint_qa(args: argparse.Namespace) -> int:
    from groundcrew_local.keypoint_simulation import KeypointQaSetup, format_report, simulate_keypoint_qa

    try:
        setup = KeypointQaSetup(
            answers=args.answers, swap_rate=args.swap_rate, noise=args.noise, seed=args.seed, workers=args.workers
        )
    except ValueError as error:
        print(f"groundcrew simulate keypoint-qa: {error}", file=sys.stderr)
        return 2
    result = simulate_keypoint_qa(setup)
    print(json.dumps(result.as_json()) if args.json else format_report(result))
    return 0


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser("simulate", help="offline simulations of the pipeline's decisions (no AWS)")
    kinds = simulate.add_subparsers(dest="simulation", required=True)
    consensus = kinds.add_parser(
        "consensus",
        help="a consensus policy against fixed-3 majority on a seeded simulated crowd",
        description="Runs the policy's rounds with the pipeline's own decide() on a simulated crowd, and fixed-3 "
        "majority on the same crowd. Policy flags default to ConsensusPolicy's defaults, or to --project's.",
    )
    crowd = consensus.add_argument_group("crowd")
    crowd.add_argument("--items", type=int, default=2000, help="items to label (default: 2000)")
    crowd.add_argument("--classes", type=int, default=2, help="labels per item (default: 2)")
    crowd.add_argument("--workers", type=int, default=40, help="workers in the crowd (default: 40)")
    crowd.add_argument("--accuracy", type=float, default=0.9, help="mean accuracy of non-spammers (default: 0.9)")
    crowd.add_argument("--spread", type=float, default=0.05, help="sd of worker accuracy (default: 0.05)")
    crowd.add_argument("--spammers", type=float, default=0.05, help="share answering at random (default: 0.05)")
    crowd.add_argument("--seed", type=int, default=7, help="seed of the crowd and the answers (default: 7)")
    crowd.add_argument("--price", type=float, default=0.012, help="USD per answer (default: 0.012)")
    policy = consensus.add_argument_group("policy (defaults: ConsensusPolicy's, or --project's)")
    policy.add_argument("--project", metavar="FILE.yaml", help="take the policy from a project document")
    policy.add_argument("--policy", choices=["fixed", "adaptive"])
    policy.add_argument("--method", choices=["majority", "dawid-skene"])
    policy.add_argument("--initial-answers", type=int, help="answers per item in round 1 (fixed: every item's N)")
    policy.add_argument("--max-answers", type=int)
    policy.add_argument("--min-agreeing", type=int)
    policy.add_argument("--min-margin", type=int)
    policy.add_argument("--min-confidence", type=float)
    policy.add_argument("--max-rounds", type=int, help="labeling jobs at most (default: 4, as in a project document)")
    consensus.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    consensus.set_defaults(run=_simulate_consensus)
    keypoint_qa = kinds.add_parser(
        "keypoint-qa",
        help="how well the keypoint checks catch left/right swaps on seeded simulated poses",
        description="Simulated people (facing the camera, in profile, facing away) labelled by several noisy "
        "workers, with left/right swaps injected; runs the shipped checks with and without the other workers' "
        "median as reference, and prints swap recall and false positive rate.",
    )
    keypoint_qa.add_argument("--answers", type=int, default=2000, help="worker answers (default: 2000)")
    keypoint_qa.add_argument("--workers", type=int, default=5, help="answers per image (default: 5)")
    keypoint_qa.add_argument("--swap-rate", type=float, default=0.1, help="share of swapped answers (default: 0.1)")
    keypoint_qa.add_argument("--noise", type=float, default=3.0, help="click noise, px standard deviation (default: 3)")
    keypoint_qa.add_argument("--seed", type=int, default=7, help="seed of the poses and answers (default: 7)")
    keypoint_qa.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    keypoint_qa.set_defaults(run=_simulate_keypoint_qa)


def _add_import_command(commands: Any) -> None:
    from groundcrew_local.import_command import add_arguments, run

    command = commands.add_parser(
        "import",
        help="turn another tool's annotations into masks or boxes and an adjustment job's manifest",
        description="Reads and writes local folders or s3:// prefixes (your AWS credentials for the latter).",
    )
    add_arguments(command)
    command.set_defaults(run=run)
    from groundcrew_local import validate_command

    validate = commands.add_parser(
        "validate",
        help="check a manifest against Ground Truth's rules (masks included) before any job exists",
        description=validate_command.__doc__,
    )
    validate_command.add_arguments(validate)
    validate.set_defaults(run=validate_command.run)


def _add_pointcloud_command(commands: Any) -> None:
    from groundcrew_local import pointcloud_command

    pointcloud = commands.add_parser(
        "pointcloud",
        help="convert lidar frames to the binary packs Ground Truth reads (no AWS)",
        description=pointcloud_command.__doc__,
    )
    pointcloud_command.add_arguments(pointcloud)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="groundcrew", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline locally on a bundled sample (images or lidar)")
    demo.add_argument("--out", default="runs", help="folder for the run's artifacts (default: runs/)")
    demo.add_argument(
        "--workflow",
        choices=["image-classification", "keypoints", "pointcloud"],
        default="image-classification",
        help="which sample to run: shapes to classify, people to pose with the COCO rig, or lidar frames to box "
        "with 3D cuboids (KITTI labels out)",
    )
    demo.add_argument(
        "--workforce",
        choices=["groundtruth", "mturk", "labelstudio"],
        default="groundtruth",
        help="who answers: a Ground Truth workteam, Mechanical Turk HITs (the stand-in of the sandbox), or "
        "annotators in a real Label Studio server started on 127.0.0.1",
    )
    demo.add_argument(
        "--interactive",
        action="store_true",
        help="with --workforce labelstudio: you label the images in your browser instead of simulated annotators; "
        "the server keeps running afterwards until Ctrl-C",
    )
    demo.set_defaults(run=_demo)
    invoke = commands.add_parser(
        "invoke", help="run one function in-process with an event file (like sam local invoke)"
    )
    invoke.add_argument("function", help="function folder name (e.g. intake) or logical id (e.g. IntakeFunction)")
    invoke.add_argument("event_file", help="a JSON event, e.g. events/intake-object-created.json")
    invoke.add_argument("--no-seed", action="store_true", help="skip seeding the sample project, images and job")
    invoke.add_argument("--show-events", action="store_true", help="print the events put on the bus to stderr")
    invoke.set_defaults(run=_invoke)
    _add_simulate(commands)
    _add_import_command(commands)
    _add_pointcloud_command(commands)
    args = parser.parse_args(argv)
    if args.command not in REAL_AWS_COMMANDS | OFFLINE_COMMANDS:
        _local_mode()
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
