"""The local engine checks the API Gateway account's CloudWatch role as API Gateway does (moto does not),
and knows the AWS managed policy the program attaches to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from localaws.resources import Context
from localaws.resources.apigateway import Account
from localaws.resources.iam import RolePolicyAttachment, ensure_aws_managed_policy

pytestmark = pytest.mark.integration

PUSH_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def trust(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def ctx() -> Iterator[Context]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield Context(
        endpoint_url=f"http://{host}:{port}", region="us-east-1", program_dir=Path("."), say=lambda _: None
    )
    server.stop()


def account(ctx: Context, role: str) -> None:
    Account().create(ctx, "api-account", {"cloudwatchRoleArn": f"arn:aws:iam::123456789012:role/{role}"})


def test_role_with_the_managed_policy_is_accepted(ctx: Context) -> None:
    iam = ctx.client("iam")
    iam.create_role(RoleName="gw-ok", AssumeRolePolicyDocument=trust("apigateway.amazonaws.com"))
    RolePolicyAttachment().create(ctx, "attach", {"role": "gw-ok", "policyArn": PUSH_LOGS})
    attached = iam.list_attached_role_policies(RoleName="gw-ok")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [PUSH_LOGS]
    account(ctx, "gw-ok")


def test_role_with_only_narrow_log_writes_is_refused(ctx: Context) -> None:
    # the role imgpipe used to set: 4 log actions on two log-group patterns (AWS refuses it)
    iam = ctx.client("iam")
    iam.create_role(RoleName="gw-narrow", AssumeRolePolicyDocument=trust("apigateway.amazonaws.com"))
    narrow = {
        "Effect": "Allow",
        "Action": [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ],
        "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/*",
    }
    iam.put_role_policy(
        RoleName="gw-narrow",
        PolicyName="logs",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [narrow]}),
    )
    with pytest.raises(ValueError, match="required permissions") as info:
        account(ctx, "gw-narrow")
    assert "logs:DescribeLogGroups" in str(info.value) and "AmazonAPIGatewayPushToCloudWatchLogs" in str(
        info.value
    )


def test_role_before_its_attachment_or_not_trusting_api_gateway_is_refused(ctx: Context) -> None:
    iam = ctx.client("iam")
    iam.create_role(RoleName="gw-early", AssumeRolePolicyDocument=trust("apigateway.amazonaws.com"))
    with pytest.raises(ValueError, match="may not logs:CreateLogGroup"):
        account(ctx, "gw-early")  # the Account written before the attachment exists
    iam.create_role(RoleName="gw-lambda", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    RolePolicyAttachment().create(ctx, "attach-l", {"role": "gw-lambda", "policyArn": PUSH_LOGS})
    with pytest.raises(ValueError, match=r"does not trust apigateway\.amazonaws\.com"):
        account(ctx, "gw-lambda")


def test_unknown_aws_managed_policy_is_named(ctx: Context) -> None:
    with pytest.raises(ValueError, match="not an AWS managed policy"):
        ensure_aws_managed_policy(ctx, "arn:aws:iam::aws:policy/service-role/NoSuchPolicyAnywhere")
