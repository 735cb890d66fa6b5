"""The Ground Truth stand-in seen from boto3: validation, the job's steps, S3 layout, Lambda payloads, events."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from groundcrew_local.ground_truth import GroundTruthStandIn, install_ground_truth, uninstall_ground_truth
from groundcrew_local.ground_truth.lambda_calls import LambdaInvocationError
from groundcrew_local.ground_truth.lifecycle import STATE_CHANGE_DETAIL_TYPE
from groundcrew_local.workforce import SimulatedWorker, SimulatedWorkforce, default_workforce

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "gc-data"
PRE_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gc-pre-annotation"
ACS_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gc-annotation-consolidation"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/gc-ground-truth"
WORKTEAM_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/shapes-team"
PUBLIC_WORKTEAM_ARN = f"arn:aws:sagemaker:{REGION}:394669845002:workteam/public-crowd/default"
ATTRIBUTE = "shapes"
LABELS = ["circle", "square", "triangle"]
TRICKY = '<b>"x"&\''
TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier
    name="category"
    src="{{ task.input.taskObject | grant_read_access }}"
    categories="{{ task.input.labels | to_json | escape }}"
    header="{{ task.input.header }}">
    <short-instructions>Pick one shape.</short-instructions>
  </crowd-image-classifier>
</crowd-form>
"""
CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WORKER_RESPONSE_KEYS = {
    "acceptanceTime",
    "answerContent",
    "submissionTime",
    "timeSpentInSeconds",
    "workerId",
    "workerMetadata",
}


@cache
def client(service: Any) -> Any:
    """One client per service for the whole module (creating boto3 clients is slow); moto intercepts them all."""
    return boto3.client(service, region_name=REGION)


def image(index: int, shape: str) -> str:
    return f"s3://{BUCKET}/images/{shape}-{index:02d}.png"


def answer_key_for(uris: list[str]) -> dict[str, str]:
    return {uri.rsplit("/", 1)[-1]: uri.rsplit("/", 1)[-1].split("-")[0] for uri in uris}


class FakeLambdas:
    """Maps ARNs to Python functions and records every payload, like Lambda would receive it."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[[dict[str, Any]], Any]] = {PRE_ARN: pre_annotation, ACS_ARN: consolidation}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function_arn: str, payload: dict[str, Any]) -> Any:
        self.calls.append((function_arn, payload))
        return self.functions[function_arn](payload)

    def payloads(self, arn: str) -> list[dict[str, Any]]:
        return [payload for called, payload in self.calls if called == arn]


def pre_annotation(event: dict[str, Any]) -> dict[str, Any]:
    source = event["dataObject"]["source-ref"]
    if "broken" in source:
        raise LambdaInvocationError("ValueError", f"cannot prepare {source}")
    labels = event["dataObject"].get("labels", LABELS)
    response: dict[str, Any] = {"taskInput": {"taskObject": source, "labels": labels, "header": "Which shape?"}}
    if "skip" in source:
        response["isHumanAnnotationRequired"] = False
    return response


def consolidation(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Majority vote, reading the payload from S3 as a real consolidation Lambda does."""
    bucket, _, key = event["payload"]["s3Uri"].removeprefix("s3://").partition("/")
    payload = json.loads(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    response = []
    for item in payload:
        labels = []
        for annotation in item["annotations"]:
            try:
                labels.append(json.loads(annotation["annotationData"]["content"])["category"]["label"])
            except (ValueError, KeyError, TypeError):
                continue
        winner = Counter(labels).most_common(1)[0][0] if labels else None
        content = {event["labelAttributeName"]: {"label": winner, "votes": len(labels)}}
        response.append({"datasetObjectId": item["datasetObjectId"], "consolidatedAnnotation": {"content": content}})
    return response


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        client("s3").create_bucket(Bucket=BUCKET)
        yield


@pytest.fixture
def lambdas() -> FakeLambdas:
    return FakeLambdas()


def presign(uri: str) -> str:
    return "https://" + uri.removeprefix("s3://").replace("/", ".s3.amazonaws.com/", 1) + "?X-Amz-Signature=abc&x=1"


@pytest.fixture
def crowd() -> SimulatedWorkforce:
    uris = [image(i, shape) for i in range(40) for shape in LABELS]
    return default_workforce(seed=7, answer_key=answer_key_for(uris), clock_start=CLOCK_START)


@pytest.fixture
def ground_truth(aws: None, lambdas: FakeLambdas, crowd: SimulatedWorkforce) -> Iterator[GroundTruthStandIn]:
    yield install_ground_truth(lambdas, crowd, presign=presign)
    uninstall_ground_truth()


@cache
def sagemaker_client(*, checked: bool) -> Any:
    retries: Any = {"total_max_attempts": 1}  # see each error once; boto3 retries ThrottlingException by default
    return boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=checked, retries=retries))


@pytest.fixture
def sagemaker(ground_truth: GroundTruthStandIn) -> Any:
    return sagemaker_client(checked=True)


@pytest.fixture
def unchecked_sagemaker(ground_truth: GroundTruthStandIn) -> Any:
    """A client that sends what boto3 would refuse locally, to see the service's own validation."""
    return sagemaker_client(checked=False)


def put(key: str, body: str | bytes) -> str:
    client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def read(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(prefix: str) -> list[str]:
    s3 = client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def manifest(lines: list[dict[str, Any]] | list[str], name: str = "input.manifest") -> str:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    return put(f"manifests/{name}", text)


def request(name: str = "gc-batch-1-r1", **changes: Any) -> dict[str, Any]:
    """A valid CreateLabelingJob request; `changes` replace top-level or `HumanTaskConfig__X` members."""
    body: dict[str, Any] = {
        "LabelingJobName": name,
        "LabelAttributeName": ATTRIBUTE,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{BUCKET}/manifests/input.manifest"}}},
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/labeling-jobs/"},
        "RoleArn": ROLE_ARN,
        "LabelCategoryConfigS3Uri": f"s3://{BUCKET}/config/labels.json",
        "HumanTaskConfig": {
            "WorkteamArn": WORKTEAM_ARN,
            "UiConfig": {"UiTemplateS3Uri": f"s3://{BUCKET}/config/template.liquid.html"},
            "PreHumanTaskLambdaArn": PRE_ARN,
            "TaskKeywords": ["image", "classification"],
            "TaskTitle": "Which shape is this?",
            "TaskDescription": "Choose the shape drawn in the picture.",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 86400,
            "MaxConcurrentTaskCount": 1000,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": ACS_ARN},
        },
        "Tags": [{"Key": "groundcrew:project", "Value": "shapes"}],
    }
    for key, value in changes.items():
        if key.startswith("HumanTaskConfig__"):
            member = key.removeprefix("HumanTaskConfig__")
            if value is None:
                body["HumanTaskConfig"].pop(member)
            else:
                body["HumanTaskConfig"][member] = value
        elif value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


def setup_job_inputs(uris: list[str], labels: list[str] = LABELS, template: str = TEMPLATE) -> None:
    manifest([{"source-ref": uri, "batch": "b-1"} for uri in uris])
    put("config/labels.json", json.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in labels]}))
    put("config/template.liquid.html", template)


def run(sagemaker: Any, name: str, limit: int = 200) -> list[dict[str, Any]]:
    """Describe until terminal; every description in order."""
    seen = []
    for _ in range(limit):
        description = sagemaker.describe_labeling_job(LabelingJobName=name)
        seen.append(description)
        if description["LabelingJobStatus"] in {"Completed", "Failed", "Stopped"}:
            return seen
    raise AssertionError(f"{name} did not finish: {seen[-1]['LabelingJobStatus']}")


def output_lines(description: dict[str, Any]) -> list[dict[str, Any]]:
    text = read(description["LabelingJobOutput"]["OutputDatasetS3Uri"]).decode()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


# -- CreateLabelingJob validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"LabelingJobName": "bad_name"}, "labelingJobName"),
        ({"LabelingJobName": "-leading-hyphen"}, "labelingJobName"),
        ({"LabelingJobName": "x" * 64}, "labelingJobName"),
        (
            {"HumanTaskConfig__NumberOfHumanWorkersPerDataObject": 10},
            "humanTaskConfig.numberOfHumanWorkersPerDataObject",
        ),
        ({"LabelAttributeName": "bad_attr"}, "labelAttributeName"),
        ({"HumanTaskConfig__MaxConcurrentTaskCount": 5001}, "humanTaskConfig.maxConcurrentTaskCount"),
        ({"HumanTaskConfig__TaskDescription": "d" * 256}, "humanTaskConfig.taskDescription"),
        ({"HumanTaskConfig__TaskTitle": "t" * 129}, "humanTaskConfig.taskTitle"),
        ({"HumanTaskConfig__TaskKeywords": ["under_score"]}, "humanTaskConfig.taskKeywords.1.member"),
        ({"HumanTaskConfig__TaskKeywords": ["k" * 31]}, "humanTaskConfig.taskKeywords.1.member"),
        ({"HumanTaskConfig__TaskKeywords": list("abcdef")}, "humanTaskConfig.taskKeywords"),
        ({"RoleArn": "arn:aws:iam::123:role/short-account"}, "roleArn"),
        ({"HumanTaskConfig__PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:1:function:x"}, "preHumanTaskLambdaArn"),
        ({"HumanTaskConfig__WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:team/x"}, "workteamArn"),
        ({"LabelCategoryConfigS3Uri": "ftp://bucket/labels.json"}, "labelCategoryConfigS3Uri"),
    ],
)
def test_model_constraints_are_validation_exceptions_naming_the_field(
    sagemaker: Any, changes: dict[str, Any], field: str
) -> None:
    code, message, status = error_of(lambda: sagemaker.create_labeling_job(**request(**changes)))
    assert (code, status) == ("ValidationException", 400)
    assert re.match(r"\d validation errors? detected: ", message)
    assert f"at '{field}" in message or f".{field}'" in message
    assert not sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"HumanTaskConfig__NumberOfHumanWorkersPerDataObject": 0},
            "humanTaskConfig.numberOfHumanWorkersPerDataObject",
        ),
        ({"HumanTaskConfig__TaskTimeLimitInSeconds": 29}, "humanTaskConfig.taskTimeLimitInSeconds"),
        (
            {"HumanTaskConfig__TaskAvailabilityLifetimeInSeconds": 59},
            "humanTaskConfig.taskAvailabilityLifetimeInSeconds",
        ),
        ({"HumanTaskConfig__MaxConcurrentTaskCount": 0}, "humanTaskConfig.maxConcurrentTaskCount"),
        ({"HumanTaskConfig__TaskTitle": ""}, "humanTaskConfig.taskTitle"),
        ({"HumanTaskConfig__UiConfig": None}, "humanTaskConfig.uiConfig"),
        ({"RoleArn": None}, "roleArn"),
    ],
)
def test_what_boto3_refuses_locally_the_service_refuses_too(
    sagemaker: Any, unchecked_sagemaker: Any, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ParamValidationError):
        sagemaker.create_labeling_job(**request(**changes))
    code, message, _ = error_of(lambda: unchecked_sagemaker.create_labeling_job(**request(**changes)))
    assert code == "ValidationException"
    assert f"at '{field}'" in message


def test_several_violations_are_listed_together(sagemaker: Any) -> None:
    changes: dict[str, Any] = {"LabelingJobName": "bad_name", "HumanTaskConfig__NumberOfHumanWorkersPerDataObject": 10}
    _, message, _ = error_of(lambda: sagemaker.create_labeling_job(**request(**changes)))
    assert message.startswith("2 validation errors detected: ")
    assert "Member must have value less than or equal to 9" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"LabelAttributeName": "source"}, "reserved"),
        ({"LabelAttributeName": "source-ref"}, "reserved"),
        ({"LabelAttributeName": "shapes-metadata"}, "-metadata"),
        ({"LabelAttributeName": "shapes-ref"}, "must not end with '-ref' for a custom labeling job"),
        (
            {
                "LabelAttributeName": "masks",
                "HumanTaskConfig__PreHumanTaskLambdaArn": (
                    "arn:aws:lambda:us-east-1:432418664414:function:PRE-SemanticSegmentation"
                ),
            },
            "must end with '-ref' for task type SemanticSegmentation",
        ),
        ({"HumanTaskConfig__UiConfig": {}}, "exactly one of UiTemplateS3Uri or HumanTaskUiArn"),
        (
            {
                "HumanTaskConfig__UiConfig": {
                    "UiTemplateS3Uri": f"s3://{BUCKET}/t.html",
                    "HumanTaskUiArn": f"arn:aws:sagemaker:{REGION}:394669845002:human-task-ui/NamedEntityRecognition",
                }
            },
            "exactly one of",
        ),
        ({"HumanTaskConfig__TaskTimeLimitInSeconds": 28801}, "TaskTimeLimitInSeconds"),
        (
            {
                "HumanTaskConfig__WorkteamArn": PUBLIC_WORKTEAM_ARN,
                "HumanTaskConfig__TaskAvailabilityLifetimeInSeconds": 43201,
            },
            "TaskAvailabilityLifetimeInSeconds",
        ),
    ],
)
def test_ground_truth_rules_are_validation_exceptions(sagemaker: Any, changes: dict[str, Any], expected: str) -> None:
    code, message, status = error_of(lambda: sagemaker.create_labeling_job(**request(**changes)))
    assert (code, status) == ("ValidationException", 400)
    assert expected in message


def test_built_in_semantic_segmentation_accepts_a_ref_attribute(sagemaker: Any) -> None:
    pre = "arn:aws:lambda:us-east-1:432418664414:function:PRE-SemanticSegmentation"
    acs = {"AnnotationConsolidationLambdaArn": pre.replace(":PRE-", ":ACS-")}
    arn = sagemaker.create_labeling_job(
        **request(
            LabelAttributeName="masks-ref",
            HumanTaskConfig__PreHumanTaskLambdaArn=pre,
            HumanTaskConfig__AnnotationConsolidationConfig=acs,
        )
    )["LabelingJobArn"]
    assert arn.endswith(":labeling-job/gc-batch-1-r1")


def test_names_are_unique_case_insensitively(sagemaker: Any) -> None:
    arn = sagemaker.create_labeling_job(**request("Gc-Batch-7"))["LabelingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/gc-batch-7"
    code, message, status = error_of(lambda: sagemaker.create_labeling_job(**request("gc-BATCH-7")))
    assert (code, status) == ("ResourceInUse", 400)
    assert arn in message
    assert isinstance(sagemaker.exceptions.ResourceInUse, type)
    with pytest.raises(sagemaker.exceptions.ResourceInUse):
        sagemaker.create_labeling_job(**request("GC-BATCH-7"))


def test_unknown_jobs_are_resource_not_found(sagemaker: Any) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_labeling_job(LabelingJobName="nope")
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.stop_labeling_job(LabelingJobName="nope")


def test_throttle_next_fails_the_next_creates_with_the_code(sagemaker: Any, ground_truth: GroundTruthStandIn) -> None:
    ground_truth.throttle_next(2)
    ground_truth.throttle_next(1, "ResourceLimitExceeded")
    assert error_of(lambda: sagemaker.create_labeling_job(**request()))[::2] == ("ThrottlingException", 400)
    assert error_of(lambda: sagemaker.create_labeling_job(**request()))[::2] == ("ThrottlingException", 400)
    with pytest.raises(sagemaker.exceptions.ResourceLimitExceeded):
        sagemaker.create_labeling_job(**request())
    assert sagemaker.create_labeling_job(**request())["LabelingJobArn"].endswith("/gc-batch-1-r1")


def test_throttling_applies_before_validation(sagemaker: Any, ground_truth: GroundTruthStandIn) -> None:
    ground_truth.throttle_next(1)
    assert error_of(lambda: sagemaker.create_labeling_job(**request("bad_name")))[0] == "ThrottlingException"
    assert error_of(lambda: sagemaker.create_labeling_job(**request("bad_name")))[0] == "ValidationException"


# -- running a job ---------------------------------------------------------------------------------------------------


def test_a_job_runs_step_by_step_to_completed_with_the_real_layout(sagemaker: Any, lambdas: FakeLambdas) -> None:
    uris = [image(i, LABELS[i % 3]) for i in range(12)]
    setup_job_inputs(uris)
    arn = sagemaker.create_labeling_job(**request())["LabelingJobArn"]

    seen = run(sagemaker, "gc-batch-1-r1")
    statuses = [d["LabelingJobStatus"] for d in seen]
    assert statuses == ["InProgress", "InProgress", "Completed"]  # read inputs; chunk of 10; last 2 + output
    first, final = seen[0], seen[-1]
    assert first["LabelCounters"] == {
        "TotalLabeled": 0,
        "HumanLabeled": 0,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": 12,
    }
    assert seen[1]["LabelCounters"]["HumanLabeled"] == 10
    assert final["LabelCounters"] == {
        "TotalLabeled": 12,
        "HumanLabeled": 12,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": 0,
    }
    assert isinstance(final["CreationTime"], datetime)
    assert final["LastModifiedTime"] >= final["CreationTime"]
    assert final["LabelingJobArn"] == arn
    assert final["JobReferenceCode"]
    assert final["Tags"] == [{"Key": "groundcrew:project", "Value": "shapes"}]
    assert final["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 3
    assert "FailureReason" not in final
    job_folder = "labeling-jobs/gc-batch-1-r1"
    assert final["LabelingJobOutput"] == {
        "OutputDatasetS3Uri": f"s3://{BUCKET}/{job_folder}/manifests/output/output.manifest"
    }

    written = keys(job_folder + "/")
    worker_responses = [k for k in written if "/annotations/worker-response/iteration-1/" in k]
    assert sorted({k.split("/")[-2] for k in worker_responses}, key=int) == [str(i) for i in range(12)]
    for key in worker_responses:
        assert key.split("/")[-1].endswith(".json")
        datetime.strptime(key.split("/")[-1].removesuffix(".json"), "%Y-%m-%d_%H:%M:%S")
    requests = [k for k in written if "/consolidated-annotation/consolidation-request/iteration-1/" in k]
    responses = [k for k in written if "/consolidated-annotation/consolidation-response/iteration-1/" in k]
    assert len(requests) == len(responses) == 2
    assert len(written) == 12 + 2 + 2 + 1

    # pre-annotation: one call per object, the whole manifest line
    pre_calls = lambdas.payloads(PRE_ARN)
    assert [call["dataObject"] for call in pre_calls] == [{"source-ref": uri, "batch": "b-1"} for uri in uris]
    assert all(set(call) == {"version", "labelingJobArn", "dataObject"} for call in pre_calls)
    assert {call["version"] for call in pre_calls} == {"2018-10-16"}
    assert {call["labelingJobArn"] for call in pre_calls} == {arn}

    # consolidation: the documented event plus what real events carry
    acs_calls = lambdas.payloads(ACS_ARN)
    assert len(acs_calls) == 2
    assert acs_calls[0] == {
        "version": "2018-10-16",
        "labelingJobArn": arn,
        "labelCategories": LABELS,
        "labelAttributeName": ATTRIBUTE,
        "roleArn": ROLE_ARN,
        "outputConfig": f"s3://{BUCKET}/{job_folder}/annotations",
        "maxHumanWorkersPerDataObject": 3,
        "payload": {"s3Uri": f"s3://{BUCKET}/{requests[0]}"},
    }
    payload = json.loads(read(acs_calls[0]["payload"]["s3Uri"]))
    assert [entry["datasetObjectId"] for entry in payload] == [str(i) for i in range(10)]
    for entry, uri in zip(payload, uris, strict=False):
        assert set(entry) == {"datasetObjectId", "dataObject", "annotations"}
        assert entry["dataObject"] == {"s3Uri": uri}
        assert len(entry["annotations"]) == 3
        for annotation in entry["annotations"]:
            assert set(annotation) == {"workerId", "annotationData"}
            assert annotation["workerId"].startswith("private.us-east-1.")
            content = annotation["annotationData"]["content"]
            assert isinstance(content, str)
            assert json.loads(content)["category"]["label"] in LABELS
    assert json.loads(read(f"s3://{BUCKET}/{responses[0]}")) == consolidation(acs_calls[0])

    # output manifest: input order, label under the attribute, metadata as real custom jobs write it
    lines = output_lines(final)
    assert [line["source-ref"] for line in lines] == uris
    for line in lines:
        assert list(line)[:2] == ["source-ref", "batch"]
        assert line[ATTRIBUTE]["votes"] == 3
        metadata = line[f"{ATTRIBUTE}-metadata"]
        assert set(metadata) == {"type", "job-name", "human-annotated", "creation-date"}
        assert metadata["type"] == "groundtruth/custom"
        assert metadata["job-name"] == "gc-batch-1-r1"
        assert metadata["human-annotated"] == "yes"
        datetime.strptime(metadata["creation-date"], "%Y-%m-%dT%H:%M:%S.%f")
    correct = sum(line[ATTRIBUTE]["label"] == line["source-ref"].rsplit("/", 1)[-1].split("-")[0] for line in lines)
    assert correct >= 10  # three decent workers and a majority vote


def test_worker_response_files_have_the_documented_shape(
    sagemaker: Any, corpus: Path, ground_truth: GroundTruthStandIn
) -> None:
    uris = [image(i, "circle") for i in range(2)]
    setup_job_inputs(uris)
    sagemaker.create_labeling_job(**request())
    job = ground_truth.run_until_done("gc-batch-1-r1")
    files = [uri for uri in job.files if "/worker-response/" in uri]
    assert len(files) == 2
    real_keys = set()
    for path in (corpus / "gt-manifests" / "worker-response").glob("*.json"):
        for answer in json.loads(path.read_text())["answers"]:
            real_keys |= set(answer)
    for uri in files:
        document = json.loads(read(uri))
        assert set(document) == {"answers"}
        assert len(document["answers"]) == 3
        times = []
        for answer in document["answers"]:
            assert set(answer) == WORKER_RESPONSE_KEYS
            assert real_keys <= set(answer)  # everything the 2019 files hold, plus the newer fields
            assert answer["answerContent"] == {"category": {"label": "circle"}} or answer["answerContent"]["category"]
            identity = answer["workerMetadata"]["identityData"]
            assert identity["identityProviderType"] == "Cognito"
            assert identity["issuer"].startswith("https://cognito-idp.us-east-1.amazonaws.com/")
            accepted = datetime.strptime(answer["acceptanceTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
            submitted = datetime.strptime(answer["submissionTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
            assert abs((submitted - accepted).total_seconds() - answer["timeSpentInSeconds"]) < 0.002
            assert accepted >= CLOCK_START.replace(tzinfo=None)
            times.append(submitted)
        assert times == sorted(times)
        stamp = uri.rsplit("/", 1)[-1].removesuffix(".json")
        assert stamp == max(times).strftime("%Y-%m-%d_%H:%M:%S")


def test_state_change_event_reaches_a_queue_through_a_rule_on_the_default_bus(sagemaker: Any) -> None:
    sqs = client("sqs")
    events = client("events")
    queue_url = sqs.create_queue(QueueName="gt-job-state")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Ground Truth Labeling Job State Change"],
        "detail": {"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
    }
    events.put_rule(Name="gt-job-done", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="gt-job-done", Targets=[{"Id": "queue", "Arn": queue_arn}])
    setup_job_inputs([image(0, "square")])
    arn = sagemaker.create_labeling_job(**request())["LabelingJobArn"]
    assert not sqs.receive_message(QueueUrl=queue_url).get("Messages")
    run(sagemaker, "gc-batch-1-r1")

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == STATE_CHANGE_DETAIL_TYPE
    assert event["resources"] == [arn]
    assert event["detail"] == {"LabelingJobStatus": "Completed"}
    assert event["region"] == REGION  # moto 5.2.5 leaves "account" out of events it sends to SQS


def test_stop_gives_stopping_then_stopped_with_a_partial_output_manifest(sagemaker: Any) -> None:
    uris = [image(i, LABELS[i % 3]) for i in range(25)]
    setup_job_inputs(uris)
    sagemaker.create_labeling_job(**request())
    assert sagemaker.describe_labeling_job(LabelingJobName="gc-batch-1-r1")["LabelingJobStatus"] == "InProgress"
    assert sagemaker.describe_labeling_job(LabelingJobName="gc-batch-1-r1")["LabelCounters"]["HumanLabeled"] == 10
    sagemaker.stop_labeling_job(LabelingJobName="gc-batch-1-r1")
    sagemaker.stop_labeling_job(LabelingJobName="gc-batch-1-r1")  # repeating while Stopping is harmless
    stopping = sagemaker.describe_labeling_job(LabelingJobName="gc-batch-1-r1")
    assert stopping["LabelingJobStatus"] == "Stopping"
    assert "LabelingJobOutput" not in stopping
    stopped = sagemaker.describe_labeling_job(LabelingJobName="gc-batch-1-r1")
    assert stopped["LabelingJobStatus"] == "Stopped"
    assert stopped["LabelCounters"]["HumanLabeled"] == 10
    assert stopped["LabelCounters"]["Unlabeled"] == 15
    lines = output_lines(stopped)
    assert [line["source-ref"] for line in lines] == uris
    assert all(ATTRIBUTE in line for line in lines[:10])
    assert lines[10:] == [{"source-ref": uri, "batch": "b-1"} for uri in uris[10:]]
    code, message, _ = error_of(lambda: sagemaker.stop_labeling_job(LabelingJobName="gc-batch-1-r1"))
    assert code == "ValidationException"
    assert "Stopped" in message


def test_max_human_labeled_object_count_stops_the_job(sagemaker: Any) -> None:
    uris = [image(i, LABELS[i % 3]) for i in range(20)]
    setup_job_inputs(uris)
    sagemaker.create_labeling_job(**request(StoppingConditions={"MaxHumanLabeledObjectCount": 7}))
    seen = run(sagemaker, "gc-batch-1-r1")
    assert [d["LabelingJobStatus"] for d in seen] == ["InProgress", "Stopping", "Stopped"]
    assert seen[-1]["LabelCounters"]["HumanLabeled"] == 7
    assert seen[-1]["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 7}
    assert sum(ATTRIBUTE in line for line in output_lines(seen[-1])) == 7


def test_a_pre_annotation_error_fails_that_object_only(
    sagemaker: Any, ground_truth: GroundTruthStandIn, lambdas: FakeLambdas
) -> None:
    uris = [image(0, "circle"), f"s3://{BUCKET}/images/broken-01.png", image(2, "triangle")]
    setup_job_inputs(uris)
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelingJobStatus"] == "Completed"
    assert final["LabelCounters"]["HumanLabeled"] == 2
    assert final["LabelCounters"]["FailedNonRetryableError"] == 1
    assert final["LabelCounters"]["Unlabeled"] == 0
    lines = output_lines(final)
    assert lines[1] == {"source-ref": uris[1], "batch": "b-1"}
    assert ATTRIBUTE in lines[0] and ATTRIBUTE in lines[2]
    (payload,) = [json.loads(read(call["payload"]["s3Uri"])) for call in lambdas.payloads(ACS_ARN)]
    assert [entry["datasetObjectId"] for entry in payload] == ["0", "2"]
    job = ground_truth.job("gc-batch-1-r1")
    assert job.objects[1].outcome == "failed"
    assert "ValueError: cannot prepare" in (job.objects[1].reason or "")
    logs = client("logs")
    messages = [
        json.loads(e["message"])
        for e in logs.get_log_events(logGroupName="/aws/sagemaker/LabelingJobs", logStreamName="gc-batch-1-r1")[
            "events"
        ]
    ]
    failed = [m for m in messages if m["event-name"] == "DATA_OBJECT_FAILED"]
    assert len(failed) == 1 and "datasetObjectId 1" in failed[0]["event-log-message"]


def test_human_annotation_not_required_leaves_the_line_unlabeled(sagemaker: Any, lambdas: FakeLambdas) -> None:
    uris = [image(0, "circle"), f"s3://{BUCKET}/images/skip-01.png"]
    setup_job_inputs(uris)
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelingJobStatus"] == "Completed"
    assert final["LabelCounters"] == {
        "TotalLabeled": 1,
        "HumanLabeled": 1,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": 1,
    }
    assert output_lines(final)[1] == {"source-ref": uris[1], "batch": "b-1"}
    assert not keys("labeling-jobs/gc-batch-1-r1/annotations/worker-response/iteration-1/1/")


@pytest.mark.parametrize(
    ("acs", "reason"),
    [
        (lambda event: [], "missing from the consolidation Lambda's response"),
        (
            lambda event: [
                {"datasetObjectId": "0", "consolidatedAnnotation": {"content": {"wrong-key": {"label": "x"}}}}
            ],
            "must hold the labelAttributeName 'shapes'; found ['wrong-key']",
        ),
        (lambda event: [{"datasetObjectId": "0", "consolidatedAnnotation": "x"}], "must hold the labelAttributeName"),
        (lambda event: {"not": "a list"}, "must return a JSON array"),
        (
            lambda event: (_ for _ in ()).throw(LambdaInvocationError("KeyError", "'payload'")),
            "consolidation Lambda failed: KeyError",
        ),
    ],
)
def test_bad_consolidation_fails_those_objects_and_the_job_still_completes(
    sagemaker: Any, ground_truth: GroundTruthStandIn, lambdas: FakeLambdas, acs: Any, reason: str
) -> None:
    lambdas.functions[ACS_ARN] = acs
    uris = [image(0, "circle"), image(1, "square")]
    setup_job_inputs(uris)
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelingJobStatus"] == "Completed"  # real Ground Truth: every object failed, job Completed
    assert final["LabelCounters"]["TotalLabeled"] == 0
    assert final["LabelCounters"]["FailedNonRetryableError"] == 2
    assert output_lines(final) == [{"source-ref": uri, "batch": "b-1"} for uri in uris]
    reasons = [item.reason or "" for item in ground_truth.job("gc-batch-1-r1").objects]
    assert any(reason in r for r in reasons), reasons


def test_consolidation_may_label_some_objects_of_a_call(sagemaker: Any, lambdas: FakeLambdas) -> None:
    lambdas.functions[ACS_ARN] = lambda event: consolidation(event)[1:]
    setup_job_inputs([image(0, "circle"), image(1, "square"), image(2, "triangle")])
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelCounters"]["HumanLabeled"] == 2
    assert final["LabelCounters"]["FailedNonRetryableError"] == 1


@pytest.mark.parametrize(
    ("make_inputs", "expected"),
    [
        (lambda: None, "input manifest s3://gc-data/manifests/input.manifest: NoSuchKey"),
        (lambda: manifest([json.dumps({"source-ref": image(0, "circle")}), "{not json"]), "line 2 is not valid JSON"),
        (lambda: manifest([{"source-ref": image(0, "circle")}, {"image": "x"}]), "line 2 must contain exactly one of"),
        (lambda: manifest([{"source-ref": image(0, "c"), "source": "text"}]), "line 1 must contain exactly one of"),
        (lambda: manifest(["", "  "]), "holds no data objects"),
    ],
)
def test_bad_manifests_fail_the_job_with_a_reason(
    sagemaker: Any, make_inputs: Callable[[], Any], expected: str
) -> None:
    put("config/labels.json", json.dumps({"labels": [{"label": x} for x in LABELS]}))
    put("config/template.liquid.html", TEMPLATE)
    make_inputs()
    sagemaker.create_labeling_job(**request())  # accepted: Ground Truth checks the manifest asynchronously
    seen = run(sagemaker, "gc-batch-1-r1")
    assert [d["LabelingJobStatus"] for d in seen] == ["Failed"]
    assert expected in seen[-1]["FailureReason"]
    assert "LabelingJobOutput" not in seen[-1]


@pytest.mark.parametrize(
    ("labels_body", "expected"),
    [
        (None, "label category configuration file s3://gc-data/config/labels.json: NoSuchKey"),
        ("not json", "is not valid JSON"),
        (json.dumps({"labels": []}), "needs a non-empty 'labels' list"),
        (json.dumps({"labels": [{"label": "a"}, {"label": "a"}]}), "appears twice"),
    ],
)
def test_bad_label_category_files_fail_the_job(sagemaker: Any, labels_body: str | None, expected: str) -> None:
    manifest([{"source-ref": image(0, "circle")}])
    put("config/template.liquid.html", TEMPLATE)
    if labels_body is not None:
        put("config/labels.json", labels_body)
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelingJobStatus"] == "Failed"
    assert expected in final["FailureReason"]


def test_a_template_error_fails_the_job(sagemaker: Any) -> None:
    setup_job_inputs([image(0, "circle")], template=TEMPLATE.replace("task.input.header", "task.input.heading"))
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelingJobStatus"] == "Failed"
    assert "rendering the worker task template for datasetObjectId 0 failed" in final["FailureReason"]
    assert "heading" in final["FailureReason"]


def test_a_page_the_workforce_cannot_answer_fails_the_job(sagemaker: Any) -> None:
    setup_job_inputs([image(0, "circle")], template='<crowd-form><crowd-polygon name="shape"/></crowd-form>')
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    assert final["LabelingJobStatus"] == "Failed"
    assert "crowd-polygon" in final["FailureReason"]


def test_failed_jobs_emit_the_failed_state_change(sagemaker: Any, ground_truth: GroundTruthStandIn) -> None:
    sqs = client("sqs")
    events = client("events")
    queue_url = sqs.create_queue(QueueName="gt-all")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="gt-all", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="gt-all", Targets=[{"Id": "q", "Arn": queue_arn}])
    sagemaker.create_labeling_job(**request())  # no manifest
    ground_truth.run_until_done("gc-batch-1-r1")
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"LabelingJobStatus": "Failed"}


def test_labels_with_html_characters_survive_the_task_page(
    sagemaker: Any, lambdas: FakeLambdas, ground_truth: GroundTruthStandIn
) -> None:
    labels = [TRICKY, "plain"]
    uri = f"s3://{BUCKET}/images/odd-01.png"
    manifest([{"source-ref": uri, "labels": labels}])
    put("config/labels.json", json.dumps({"labels": [{"label": x} for x in labels]}))
    put("config/template.liquid.html", TEMPLATE)
    careful = [SimulatedWorker(f"careful-{i}", accuracy=1.0) for i in range(3)]
    install_ground_truth(
        lambdas, SimulatedWorkforce(careful, seed=1, answer_key={"odd-01.png": TRICKY}), presign=presign
    )
    sagemaker.create_labeling_job(**request())
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    (payload,) = [json.loads(read(call["payload"]["s3Uri"])) for call in lambdas.payloads(ACS_ARN)]
    contents = [json.loads(a["annotationData"]["content"]) for a in payload[0]["annotations"]]
    assert contents == [{"category": {"label": TRICKY}}] * 3
    assert output_lines(final)[0][ATTRIBUTE]["label"] == TRICKY
    assert lambdas.payloads(ACS_ARN)[0]["labelCategories"] == labels


def test_malformed_answers_pass_through_verbatim(sagemaker: Any, lambdas: FakeLambdas) -> None:
    workers = [
        SimulatedWorker("good", accuracy=1.0),
        SimulatedWorker("broken", accuracy=1.0, malformed_rate=1.0, malformed_kinds=("not_json",)),
    ]
    install_ground_truth(lambdas, SimulatedWorkforce(workers, seed=2), presign=presign)
    setup_job_inputs([image(0, "circle")])
    sagemaker.create_labeling_job(**request(HumanTaskConfig__NumberOfHumanWorkersPerDataObject=2))
    final = run(sagemaker, "gc-batch-1-r1")[-1]
    (payload,) = [json.loads(read(call["payload"]["s3Uri"])) for call in lambdas.payloads(ACS_ARN)]
    contents = sorted(a["annotationData"]["content"] for a in payload[0]["annotations"])
    parsed = []
    for content in contents:
        try:
            parsed.append(json.loads(content))
        except ValueError:
            parsed.append(None)
    assert parsed.count(None) == 1
    assert final["LabelCounters"]["HumanLabeled"] == 1


def test_documented_metadata_spelling_on_request(sagemaker: Any, lambdas: FakeLambdas, crowd: Any) -> None:
    install_ground_truth(lambdas, crowd, presign=presign, custom_metadata="documented")
    setup_job_inputs([image(0, "circle")])
    sagemaker.create_labeling_job(**request("Mixed-Case-Job"))
    metadata = output_lines(run(sagemaker, "Mixed-Case-Job")[-1])[0][f"{ATTRIBUTE}-metadata"]
    assert set(metadata) == {"job_name", "type", "human-annotated", "creation_date"}
    assert (metadata["job_name"], metadata["type"]) == ("Mixed-Case-Job", "groundTruth/custom")
    assert keys("labeling-jobs/Mixed-Case-Job/manifests/")  # S3 paths keep the name as given


def test_list_labeling_jobs_filters_sorts_and_pages(sagemaker: Any, ground_truth: GroundTruthStandIn) -> None:
    setup_job_inputs([image(0, "circle")])
    for name in ("job-a", "job-b", "other-c"):
        sagemaker.create_labeling_job(**request(name))
    ground_truth.run_until_done("job-b")
    listing = sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]
    assert [s["LabelingJobName"] for s in listing] == ["job-a", "job-b", "other-c"]
    summary = listing[1]
    assert summary["LabelingJobStatus"] == "Completed"
    assert summary["WorkteamArn"] == WORKTEAM_ARN
    assert summary["PreHumanTaskLambdaArn"] == PRE_ARN
    assert summary["AnnotationConsolidationLambdaArn"] == ACS_ARN
    assert summary["LabelingJobOutput"]["OutputDatasetS3Uri"].endswith("/job-b/manifests/output/output.manifest")
    assert isinstance(summary["CreationTime"], datetime)
    names = [s["LabelingJobName"] for s in sagemaker.list_labeling_jobs(NameContains="JOB")["LabelingJobSummaryList"]]
    assert names == ["job-a", "job-b"]
    done = sagemaker.list_labeling_jobs(StatusEquals="Completed")["LabelingJobSummaryList"]
    assert [s["LabelingJobName"] for s in done] == ["job-b"]
    descending = sagemaker.list_labeling_jobs(SortBy="Name", SortOrder="Descending")["LabelingJobSummaryList"]
    assert [s["LabelingJobName"] for s in descending] == ["other-c", "job-b", "job-a"]
    first = sagemaker.list_labeling_jobs(MaxResults=2)
    second = sagemaker.list_labeling_jobs(MaxResults=2, NextToken=first["NextToken"])
    assert [s["LabelingJobName"] for s in first["LabelingJobSummaryList"] + second["LabelingJobSummaryList"]] == [
        "job-a",
        "job-b",
        "other-c",
    ]
    assert "NextToken" not in second
    paginated = sagemaker.get_paginator("list_labeling_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert sum(len(page["LabelingJobSummaryList"]) for page in paginated) == 3
    later = sagemaker.list_labeling_jobs(CreationTimeAfter=datetime(2100, 1, 1, tzinfo=UTC))
    assert later["LabelingJobSummaryList"] == []
    assert len(sagemaker.list_labeling_jobs(CreationTimeBefore=datetime(2100, 1, 1))["LabelingJobSummaryList"]) == 3
    assert error_of(lambda: sagemaker.list_labeling_jobs(NextToken="garbage"))[0] == "ValidationException"


def test_jobs_live_on_the_moto_backend_and_reset_with_it(lambdas: FakeLambdas, crowd: SimulatedWorkforce) -> None:
    stand_in = install_ground_truth(lambdas, crowd, presign=presign)
    assert install_ground_truth(lambdas, crowd, presign=presign) is stand_in  # idempotent
    try:
        with mock_aws():
            client = sagemaker_client(checked=True)
            client.create_labeling_job(**request("kept-for-now"))
            assert set(stand_in.jobs) == {"kept-for-now"}
        with mock_aws():
            client = sagemaker_client(checked=True)
            assert client.list_labeling_jobs()["LabelingJobSummaryList"] == []
            assert stand_in.jobs == {}
    finally:
        uninstall_ground_truth()
    with mock_aws():
        client = sagemaker_client(checked=True)
        with pytest.raises(NotImplementedError):
            client.list_labeling_jobs()


def test_a_lambda_describing_its_own_job_does_not_advance_it(sagemaker: Any, lambdas: FakeLambdas) -> None:
    statuses = []

    def curious_pre_annotation(event: dict[str, Any]) -> dict[str, Any]:
        name = event["labelingJobArn"].rsplit("/", 1)[-1]
        statuses.append(sagemaker.describe_labeling_job(LabelingJobName=name)["LabelingJobStatus"])
        return pre_annotation(event)

    lambdas.functions[PRE_ARN] = curious_pre_annotation
    setup_job_inputs([image(0, "circle"), image(1, "square")])
    sagemaker.create_labeling_job(**request())
    assert run(sagemaker, "gc-batch-1-r1")[-1]["LabelCounters"]["HumanLabeled"] == 2
    assert statuses == ["InProgress", "InProgress"]


def test_the_simulated_clock_sets_file_times_not_the_wall_clock(
    sagemaker: Any, ground_truth: GroundTruthStandIn
) -> None:
    setup_job_inputs([image(i, "circle") for i in range(3)])
    sagemaker.create_labeling_job(**request())
    job = ground_truth.run_until_done("gc-batch-1-r1")
    stamps = [uri.rsplit("/", 1)[-1] for uri in job.files if uri.endswith(".json")]
    assert all(stamp.startswith("2026-03-02_09:") for stamp in stamps), stamps
    assert job.status == "Completed"
    assert ground_truth.workforce.now > CLOCK_START


def test_a_describe_from_another_thread_during_a_step_does_not_wait(sagemaker: Any, lambdas: FakeLambdas) -> None:
    seen: list[str] = []

    def pre_annotation_asking_from_a_thread(event: dict[str, Any]) -> dict[str, Any]:
        # moto server mode: the Lambda runs in another request thread while the step waits for it
        name = event["labelingJobArn"].rsplit("/", 1)[-1]
        thread = threading.Thread(
            target=lambda: seen.append(sagemaker.describe_labeling_job(LabelingJobName=name)["LabelingJobStatus"])
        )
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "describe waited for the step that waits for it"
        return pre_annotation(event)

    lambdas.functions[PRE_ARN] = pre_annotation_asking_from_a_thread
    setup_job_inputs([image(0, "circle")])
    sagemaker.create_labeling_job(**request())
    assert run(sagemaker, "gc-batch-1-r1")[-1]["LabelingJobStatus"] == "Completed"
    assert seen == ["InProgress"]


def test_a_stop_during_a_chunk_wins_over_completion(sagemaker: Any, lambdas: FakeLambdas) -> None:
    def stopping_consolidation(event: dict[str, Any]) -> list[dict[str, Any]]:
        sagemaker.stop_labeling_job(LabelingJobName=event["labelingJobArn"].rsplit("/", 1)[-1])
        return consolidation(event)

    lambdas.functions[ACS_ARN] = stopping_consolidation
    setup_job_inputs([image(0, "circle"), image(1, "square")])
    sagemaker.create_labeling_job(**request())
    seen = run(sagemaker, "gc-batch-1-r1")
    assert [d["LabelingJobStatus"] for d in seen] == ["InProgress", "Stopping", "Stopping", "Stopped"]
    assert seen[-1]["LabelCounters"]["HumanLabeled"] == 2
