"""The local cloud: moto with our patches, the real template deployed into it, the Ground Truth stand-in.

Used by the demo, `groundcrew invoke` and the end-to-end tests:

    with local_environment() as env:
        env.s3.put_object(Bucket=env.data_bucket, Key="projects/shapes.yaml", Body=...)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from groundcrew.workforces.labelstudio.client import LabelStudioClient
from groundcrew_local.ground_truth import GroundTruthStandIn, install_ground_truth
from groundcrew_local.ground_truth.lambda_calls import LambdaInvocationError
from groundcrew_local.labelstudio.server import LabelStudioServer
from groundcrew_local.labelstudio.team import LabelStudioTeam
from groundcrew_local.moto_patches import MOCK_CONFIG, install_local_patches
from groundcrew_local.moto_patches.wait_cap import add_wait_listener, remove_wait_listener
from groundcrew_local.mturk import install_mturk, uninstall_mturk
from groundcrew_local.mturk.hits import SANDBOX_BALANCE
from groundcrew_local.mturk.stand_in import MTurkStandIn
from groundcrew_local.stack import LambdaInvokeError, LocalStack, deploy_local_stack
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAMPLE_DATA = Path(__file__).resolve().parent / "sample_data"
REGION = "us-east-1"
# Polls every 10 s in the template's terms; Wait states are capped to no real sleep in local mode.
LOCAL_PARAMETERS = {"TrackIntervalSeconds": "10"}
TERMINAL_EXECUTION_STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class LocalEnvironment:
    stack: LocalStack
    ground_truth: GroundTruthStandIn
    workforce: SimulatedWorkforce
    capture_queue_url: str
    mturk: MTurkStandIn | None = None
    labelstudio: LabelStudioTeam | None = None  # the simulated annotators in the real server, when one runs
    captured: list[dict[str, Any]] = field(default_factory=list)

    @property
    def data_bucket(self) -> str:
        return self.stack.outputs["DataBucketName"]

    @property
    def event_bus(self) -> str:
        return self.stack.outputs["EventBusName"]

    @property
    def state_machine_arn(self) -> str:
        return self.stack.outputs["StateMachineArn"]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    def events(self) -> list[dict[str, Any]]:
        """Every event that reached the groundcrew bus so far, in arrival order."""
        sqs = self.client("sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.capture_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return self.captured
            for message in messages:
                self.captured.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.capture_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def events_of(self, detail_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events() if event["detail-type"] == detail_type]

    @property
    def import_state_machine_arn(self) -> str:
        return self.stack.outputs["ImportStateMachineArn"]

    def wait_for_execution(
        self, name: str, timeout: float = 120.0, state_machine_arn: str | None = None
    ) -> dict[str, Any]:
        """Block until the named execution ends (bounded: raises TimeoutError)."""
        sfn = self.client("stepfunctions")
        machine = state_machine_arn or self.state_machine_arn
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                execution = sfn.describe_execution(executionArn=arn)
                if execution["status"] in TERMINAL_EXECUTION_STATUSES:
                    return execution
            except sfn.exceptions.ExecutionDoesNotExist:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {name} did not end within {timeout:.0f} s")
            time.sleep(0.05)

    def wait_for_all_executions(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Let every started execution finish before the local cloud goes away: imports first, as an import
        starts labeling executions when it finishes."""
        imports = [
            self.wait_for_execution(name, timeout, self.import_state_machine_arn)
            for name in self.execution_names(self.import_state_machine_arn)
        ]
        return imports + [self.wait_for_execution(name, timeout) for name in self.execution_names()]

    def execution_names(self, state_machine_arn: str | None = None) -> list[str]:
        sfn = self.client("stepfunctions")
        machine = state_machine_arn or self.state_machine_arn
        return [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


def _lambda_invoker(stack: LocalStack) -> Any:
    """How the Ground Truth stand-in calls our Lambdas: by ARN, through moto's (patched, in-process) Lambda."""

    def invoke(function_arn: str, payload: dict[str, Any]) -> Any:
        try:
            return stack.invoke(function_arn, payload)
        except LambdaInvokeError as error:
            raise LambdaInvocationError(error.error_type, error.error_message) from error

    return invoke


def _capture_all_events(stack: LocalStack, bus_name: str) -> str:
    """A local-only queue that receives every event on the groundcrew bus (for events.jsonl and tests)."""
    sqs = boto3.client("sqs", region_name=stack.region)
    events = boto3.client("events", region_name=stack.region)
    url = sqs.create_queue(QueueName="groundcrew-local-event-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="groundcrew-local-capture-all",
        EventBusName=bus_name,
        EventPattern=json.dumps({"account": [stack.account_id]}),
    )
    events.put_targets(
        Rule="groundcrew-local-capture-all", EventBusName=bus_name, Targets=[{"Id": "capture", "Arn": arn}]
    )
    return url


@contextmanager
def local_environment(
    *,
    workforce: SimulatedWorkforce | None = None,
    parameters: dict[str, str] | None = None,
    mturk_balance: str = SANDBOX_BALANCE,
    labelstudio: LabelStudioServer | None = None,
    wait_cap_seconds: float = 0.0,
) -> Iterator[LocalEnvironment]:
    """The stack in moto with the workforces' stand-ins answered by `workforce`; `mturk_balance` is the sandbox's.
    With a Label Studio server, the stack is deployed against it and `workforce` annotates in it as its users.
    `wait_cap_seconds`: how long Wait states really wait (0: not at all; a person labeling needs polls to pause)."""
    install_local_patches(wait_cap_seconds=wait_cap_seconds)
    with mock_aws(config=MOCK_CONFIG), _labelstudio_wiring(labelstudio) as wiring:
        stack_parameters = {**LOCAL_PARAMETERS, **wiring.parameters, **(parameters or {})}
        stack = deploy_local_stack(TEMPLATE, parameters=stack_parameters, region=REGION)
        crowd = workforce or demo_workforce()
        ground_truth = install_ground_truth(invoke_lambda=_lambda_invoker(stack), workforce=crowd)
        mturk = install_mturk(crowd, sandbox_balance=mturk_balance)
        capture = _capture_all_events(stack, stack.outputs["EventBusName"])
        team = wiring.team(crowd)
        try:
            yield LocalEnvironment(
                stack=stack,
                ground_truth=ground_truth,
                workforce=crowd,
                capture_queue_url=capture,
                mturk=mturk,
                labelstudio=team,
            )
        finally:
            uninstall_mturk()
            if team is not None:
                remove_wait_listener(team.work)


@dataclass
class _LabelStudioWiring:
    parameters: dict[str, str]
    server: LabelStudioServer | None = None

    def team(self, crowd: SimulatedWorkforce) -> LabelStudioTeam | None:
        """The simulated annotators, working whenever the state machine waits."""
        if self.server is None:
            return None
        team = LabelStudioTeam(LabelStudioClient(self.server.url, self.server.token), crowd)
        team.ignore_existing_projects()
        add_wait_listener(team.work)
        return team


@contextmanager
def _labelstudio_wiring(server: LabelStudioServer | None) -> Iterator[_LabelStudioWiring]:
    """The token in a (moto) Secrets Manager secret, and the bucket served on 127.0.0.1 for the server's S3
    storage: it presigns image links against that endpoint, which browsers and the server itself can reach."""
    if server is None:
        yield _LabelStudioWiring({})
        return
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="groundcrew-local/labelstudio-token", SecretString=server.token
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per image request
    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3_server.start()
    host, port = s3_server.get_host_and_port()
    try:
        yield _LabelStudioWiring(
            {
                "LabelStudioUrl": server.url,
                "LabelStudioTokenSecretArn": secret["ARN"],
                "LabelStudioS3Endpoint": f"http://{host}:{port}",
            },
            server,
        )
    finally:
        s3_server.stop()


def demo_workforce(seed: int = 7) -> SimulatedWorkforce:
    """A trained private team (88-97 % accurate) answering from the sample's answer key."""
    workers = [
        SimulatedWorker.named("ada", accuracy=0.97, seconds_per_task=22.0),
        SimulatedWorker.named("bashir", accuracy=0.95, seconds_per_task=17.0),
        SimulatedWorker.named("chen", accuracy=0.93, seconds_per_task=28.0),
        SimulatedWorker.named("dagny", accuracy=0.90, seconds_per_task=12.0),
        SimulatedWorker.named("emeka", accuracy=0.88, seconds_per_task=9.0),
    ]
    return SimulatedWorkforce(workers, seed=seed, answer_key=sample_answer_key())


def sample_answer_key() -> dict[str, str]:
    data: dict[str, str] = json.loads((SAMPLE_DATA / "shapes" / "answer_key.json").read_text(encoding="utf-8"))
    return data


def sample_images() -> list[Path]:
    return sorted((SAMPLE_DATA / "shapes" / "images").iterdir())


def sample_gold_images() -> list[Path]:
    """Images with known answers; the sample project mixes them into its jobs from gold/shapes/."""
    return sorted((SAMPLE_DATA / "shapes" / "gold").iterdir())


def sample_project_document() -> bytes:
    return (SAMPLE_DATA / "shapes" / "project.yaml").read_bytes()


def scenes_folder() -> Path:
    """The semantic-segmentation adjustment sample: 4 street scenes, their COCO polygons, the project."""
    return SAMPLE_DATA / "scenes"


def pose_answer_key() -> dict[str, dict[str, list[float]]]:
    """Each sample person's visible COCO keypoints, in image pixels (a person seen from behind shows no face)."""
    data: dict[str, dict[str, list[float]]] = json.loads(
        (SAMPLE_DATA / "poses" / "answer_key.json").read_text(encoding="utf-8")
    )
    return data


def pose_images() -> list[Path]:
    return sorted((SAMPLE_DATA / "poses" / "images").iterdir())


def pose_project_document() -> bytes:
    return (SAMPLE_DATA / "poses" / "project.yaml").read_bytes()


def pose_workforce(seed: int = 7) -> SimulatedWorkforce:
    """Three pose annotators: careful, careful but sometimes swapping a left/right pair, and hasty."""
    workers = [
        SimulatedWorker.named("ines", accuracy=0.95, seconds_per_task=55.0, keypoint_noise_px=1.5),
        SimulatedWorker.named("jon", accuracy=0.9, seconds_per_task=40.0, keypoint_noise_px=2.0, swap_rate=0.35),
        SimulatedWorker.named(
            "kai", accuracy=0.8, seconds_per_task=25.0, keypoint_noise_px=3.5, swap_rate=0.1, miss_rate=0.08
        ),
    ]
    return SimulatedWorkforce(workers, seed=seed, answer_key=pose_answer_key())
