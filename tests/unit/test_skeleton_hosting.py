"""The optional hosting of crowd-2d-skeleton.js: CloudFront with origin access control reads one object only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    return loaded


def test_the_distribution_exists_only_when_asked_for_and_signs_its_reads() -> None:
    resources = template()["Resources"]
    distribution = resources["SkeletonComponentDistribution"]
    control = resources["SkeletonComponentOriginAccessControl"]
    assert distribution["Condition"] == control["Condition"] == "HostSkeletonComponent"
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SkeletonComponentOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy identity
    assert control["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]


def test_the_bucket_lets_cloudfront_read_the_component_and_nothing_else() -> None:
    statements = template()["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (conditional,) = [s for s in statements if "Fn::If" in s]
    condition, allow, otherwise = conditional["Fn::If"]
    assert condition == "HostSkeletonComponent" and otherwise == {"Ref": "AWS::NoValue"}
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Sub": "${DataBucket.Arn}/ui-components/crowd-2d-skeleton.js"}
    assert "SkeletonComponentDistribution" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]


def test_prepare_gets_the_served_url_or_the_parameter() -> None:
    variables = template()["Resources"]["PrepareJobFunction"]["Properties"]["Environment"]["Variables"]
    condition, served, given = variables["SKELETON_COMPONENT_URL"]["Fn::If"]
    assert condition == "HostSkeletonComponent"
    assert served["Fn::Sub"].endswith("/ui-components/crowd-2d-skeleton.js")
    assert given == {"Ref": "SkeletonComponentUrl"}
