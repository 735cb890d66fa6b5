"""Labeling jobs: names, the CreateLabelingJob request against the API model, and how launch maps errors."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from groundcrew.core.records import job_name
from groundcrew.core.s3_locations import S3Location
from groundcrew.intake.batches import new_batch_id
from groundcrew.projects import Project
from groundcrew.workforces.ground_truth.jobs import (
    GroundTruthLimitExceeded,
    GroundTruthThrottled,
    JobResources,
    LabelingJobRejected,
    create_request,
    label_categories_document,
    launch,
    output_manifest_location,
    public_price,
)

NAME_32 = "northern-street-signs-2024-batch"
ACCOUNT = "123456789012"
RESOURCES = JobResources(
    bucket="groundcrew-data",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/groundcrew-ground-truth",
    pre_annotation_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:groundcrew-pre-annotation",
    consolidation_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:groundcrew-consolidation",
    default_workteam_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/default-team",
)
WORKTEAM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/sign-readers"
BATCH_ID = new_batch_id(NAME_32, datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
MANIFEST = f"s3://groundcrew-data/batches/{NAME_32}/{BATCH_ID}/input.manifest"


def project(**changes: Any) -> Project:
    document: dict[str, Any] = {
        "name": NAME_32,
        "workflow": "image-classification",
        "labels": ["stop", "yield", "other"],
        "workforce": {"workteam_arn": WORKTEAM},
        "workers_per_object": 5,
        "consensus": {"policy": "fixed"},
        "task": {
            "title": "What does this sign say?",
            "description": "Classify the traffic sign in the photo.",
            "keywords": ["image", "traffic signs"],
        },
        "time_limits": {"task_seconds": 600, "availability_seconds": 86_400},
        **changes,
    }
    return Project.model_validate({key: value for key, value in document.items() if value is not None})


def request_for(proj: Project, resources: JobResources = RESOURCES) -> dict[str, Any]:
    name = job_name(BATCH_ID)
    folder = S3Location(resources.bucket, f"labeling-jobs/{name}/config")
    return create_request(
        proj,
        name=name,
        manifest_uri=MANIFEST,
        template=folder.child("ui-template.liquid.html"),
        label_categories=folder.child("label-categories.json"),
        resources=resources,
        batch_id=BATCH_ID,
    )


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name="us-east-1")


def python_pattern(java: str) -> str:
    """The model's (Java) pattern for `re`; Unicode classes become their ASCII subset, a stricter check."""
    return java.replace(r"\p{L}", "a-zA-Z").replace(r"\p{Z}", " ").replace(r"\p{N}", "0-9")


def contract_violations(shape: Any, value: Any, path: str = "") -> list[str]:
    """Check `value` against the SageMaker API model: required members, lengths, ranges, patterns, enums."""
    meta, where = shape.metadata, path or shape.name
    problems: list[str] = []
    if shape.type_name == "structure":
        problems += [f"{where}.{m} is required" for m in shape.required_members if m not in value]
        for member, item in value.items():
            if member not in shape.members:
                problems.append(f"{where}.{member} is not a member of {shape.name}")
            else:
                problems += contract_violations(shape.members[member], item, f"{where}.{member}")
    elif shape.type_name == "list":
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problems.append(f"{where} has {len(value)} items, outside {meta.get('min')}-{meta.get('max')}")
        for index, item in enumerate(value):
            problems += contract_violations(shape.member, item, f"{where}[{index}]")
    elif shape.type_name == "string":
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problems.append(f"{where} has {len(value)} characters, outside {meta.get('min')}-{meta.get('max')}")
        if "pattern" in meta and not re.fullmatch(python_pattern(meta["pattern"]), value):
            problems.append(f"{where}={value!r} does not match {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}={value!r} is not one of {shape.enum}")
    elif shape.type_name in {"integer", "long"} and not meta.get("min", value) <= value <= meta.get("max", value):
        problems.append(f"{where}={value} is outside {meta.get('min')}-{meta.get('max')}")
    return problems


def test_job_name_of_a_32_character_project_fits_ground_truths_rule() -> None:
    assert len(NAME_32) == 32
    name = job_name(BATCH_ID)
    assert name == f"gc-{BATCH_ID}-r1"
    assert len(name) == 61
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)
    assert len(job_name(BATCH_ID, round_number=99)) == 62


def test_job_name_refuses_a_batch_id_that_breaks_the_rule() -> None:
    with pytest.raises(ValueError, match=r"job name 'gc-bad_batch-r1' breaks Ground Truth's naming rule"):
        job_name("bad_batch")
    with pytest.raises(ValueError, match="breaks Ground Truth's naming rule"):
        job_name("x" * 60)


def test_create_request_fields() -> None:
    request = request_for(project())
    name = job_name(BATCH_ID)
    config = f"s3://groundcrew-data/labeling-jobs/{name}/config"
    assert request == {
        "LabelingJobName": name,
        "LabelAttributeName": NAME_32,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": MANIFEST}}},
        "OutputConfig": {"S3OutputPath": "s3://groundcrew-data/labeling-jobs/"},
        "RoleArn": RESOURCES.role_arn,
        "LabelCategoryConfigS3Uri": f"{config}/label-categories.json",
        "HumanTaskConfig": {
            "WorkteamArn": WORKTEAM,
            "UiConfig": {"UiTemplateS3Uri": f"{config}/ui-template.liquid.html"},
            "PreHumanTaskLambdaArn": RESOURCES.pre_annotation_arn,
            "TaskKeywords": ["image", "traffic signs"],
            "TaskTitle": "What does this sign say?",
            "TaskDescription": "Classify the traffic sign in the photo.",
            "NumberOfHumanWorkersPerDataObject": 5,
            "TaskTimeLimitInSeconds": 600,
            "TaskAvailabilityLifetimeInSeconds": 86_400,
            "MaxConcurrentTaskCount": 1000,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": RESOURCES.consolidation_arn},
        },
        "Tags": [
            {"Key": "groundcrew:project", "Value": NAME_32},
            {"Key": "groundcrew:batch", "Value": BATCH_ID},
        ],
    }
    # Ground Truth's job output lands under the job folder our other steps read from
    assert output_manifest_location("groundcrew-data", name).uri == (
        f"s3://groundcrew-data/labeling-jobs/{name}/manifests/output/output.manifest"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"label_attribute_name": "sign"},
        {"workers_per_object": 1, "time_limits": {"task_seconds": 30, "availability_seconds": 60}},
        {"workers_per_object": 9, "time_limits": {"task_seconds": 28_800, "availability_seconds": 2_592_000}},
    ],
)
def test_create_request_satisfies_the_create_labeling_job_model(changes: dict[str, Any]) -> None:
    request = request_for(project(**changes))
    shape = sagemaker().meta.service_model.operation_model("CreateLabelingJob").input_shape

    assert contract_violations(shape, request) == []
    assert "DataAttributes" not in request["InputConfig"]  # content classifiers are for public workforces only
    assert "PublicWorkforceTaskPrice" not in request["HumanTaskConfig"]
    assert request["LabelAttributeName"] == (changes.get("label_attribute_name") or NAME_32)
    assert not request["LabelAttributeName"].endswith(("-ref", "-metadata"))


def test_contract_check_itself_catches_violations() -> None:
    request = request_for(project())
    request["HumanTaskConfig"]["TaskKeywords"] = ["traffic_signs"]
    request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] = 10
    shape = sagemaker().meta.service_model.operation_model("CreateLabelingJob").input_shape
    assert len(contract_violations(shape, request)) == 2


def test_stack_default_workteam_is_used_when_the_project_names_none() -> None:
    request = request_for(project(workforce={}))
    assert request["HumanTaskConfig"]["WorkteamArn"] == RESOURCES.default_workteam_arn


def test_missing_workteam_is_rejected() -> None:
    resources = replace(RESOURCES, default_workteam_arn=None)
    with pytest.raises(LabelingJobRejected) as info:
        request_for(project(workforce={}), resources)
    assert str(info.value) == (
        f"project {NAME_32!r} names no workforce.workteam_arn and the stack has no DefaultWorkteamArn"
    )


def test_kms_key_goes_to_the_output_config() -> None:
    resources = replace(RESOURCES, kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd")
    request = request_for(project(), resources)
    assert request["OutputConfig"] == {
        "S3OutputPath": "s3://groundcrew-data/labeling-jobs/",
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
    }


def test_label_categories_document() -> None:
    assert label_categories_document(project().labels) == {
        "document-version": "2018-11-28",
        "labels": [{"label": "stop"}, {"label": "yield"}, {"label": "other"}],
    }


# -- launch ---------------------------------------------------------------------------------------------------
JOB_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/{job_name(BATCH_ID)}"


def described_job(request: dict[str, Any], manifest: str) -> dict[str, Any]:
    """A DescribeLabelingJob response with every required field (Stubber checks responses against the model)."""
    now = datetime(2024, 5, 6, tzinfo=UTC)
    return {
        "LabelingJobStatus": "InProgress",
        "LabelCounters": {"TotalLabeled": 0, "HumanLabeled": 0, "MachineLabeled": 0, "Unlabeled": 3},
        "CreationTime": now,
        "LastModifiedTime": now,
        "JobReferenceCode": "abc",
        "LabelingJobName": request["LabelingJobName"],
        "LabelingJobArn": JOB_ARN,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest}}},
        "OutputConfig": request["OutputConfig"],
        "RoleArn": request["RoleArn"],
        "HumanTaskConfig": request["HumanTaskConfig"],
    }


def test_launch_returns_the_new_job_arn() -> None:
    client, request = sagemaker(), request_for(project())
    with Stubber(client) as stub:
        stub.add_response("create_labeling_job", {"LabelingJobArn": JOB_ARN}, expected_params=request)
        assert launch(client, request) == JOB_ARN
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", GroundTruthThrottled),
        ("ResourceLimitExceeded", GroundTruthLimitExceeded),
        ("ValidationException", LabelingJobRejected),
    ],
)
def test_launch_maps_service_errors(code: str, error: type[Exception]) -> None:
    client, request = sagemaker(), request_for(project())
    with Stubber(client) as stub:
        stub.add_client_error("create_labeling_job", service_error_code=code, service_message="nope")
        with pytest.raises(error) as info:
            launch(client, request)
    assert request["LabelingJobName"] in str(info.value)
    assert "nope" in str(info.value)


def test_rejection_names_the_error_code() -> None:
    client, request = sagemaker(), request_for(project())
    with Stubber(client) as stub:
        stub.add_client_error("create_labeling_job", service_error_code="ValidationException", service_message="bad")
        with pytest.raises(LabelingJobRejected) as info:
            launch(client, request)
    assert str(info.value) == f"CreateLabelingJob {request['LabelingJobName']} was refused: ValidationException: bad"


def test_launch_retried_after_an_unseen_success_returns_the_existing_job() -> None:
    client, request = sagemaker(), request_for(project())
    with Stubber(client) as stub:
        stub.add_client_error("create_labeling_job", service_error_code="ResourceInUse", service_message="exists")
        stub.add_response(
            "describe_labeling_job",
            described_job(request, MANIFEST),
            expected_params={"LabelingJobName": request["LabelingJobName"]},
        )
        assert launch(client, request) == JOB_ARN
        stub.assert_no_pending_responses()


def test_launch_refuses_a_different_job_with_the_same_name() -> None:
    client, request = sagemaker(), request_for(project())
    with Stubber(client) as stub:
        stub.add_client_error("create_labeling_job", service_error_code="ResourceInUse", service_message="exists")
        stub.add_response("describe_labeling_job", described_job(request, "s3://groundcrew-data/other.manifest"))
        with pytest.raises(LabelingJobRejected) as info:
            launch(client, request)
    assert str(info.value) == f"a different labeling job named {request['LabelingJobName']} already exists"


@pytest.mark.parametrize(
    ("price", "amount"),
    [
        ("0.012", {"Dollars": 0, "Cents": 1, "TenthFractionsOfACent": 2}),
        ("0.036", {"Dollars": 0, "Cents": 3, "TenthFractionsOfACent": 6}),
        ("1.200", {"Dollars": 1, "Cents": 20, "TenthFractionsOfACent": 0}),
    ],
)
def test_public_prices_in_ground_truths_encoding(price: str, amount: dict[str, int]) -> None:
    assert public_price(Decimal(price)) == amount


def test_a_public_workforce_request_carries_the_price_and_the_content_classifier() -> None:
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    request = request_for(project(workforce={"workteam_arn": public, "price_per_task_usd": "0.024"}))
    shape = sagemaker().meta.service_model.operation_model("CreateLabelingJob").input_shape
    assert contract_violations(shape, request) == []
    assert request["HumanTaskConfig"]["PublicWorkforceTaskPrice"] == {
        "AmountInUsd": {"Dollars": 0, "Cents": 2, "TenthFractionsOfACent": 4}
    }
    assert request["InputConfig"]["DataAttributes"] == {
        "ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]
    }


def test_the_adaptive_policy_starts_with_its_initial_answers() -> None:
    adaptive = project(workers_per_object=None, consensus={"policy": "adaptive", "initial_answers": 2})
    assert request_for(adaptive)["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2
