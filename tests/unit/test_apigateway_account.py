"""The API Gateway account's CloudWatch role (issue 11): the managed policy API Gateway expects,
attached before the setting is written, kept on destroy; none of it with manageApiGatewayAccount=false."""

from __future__ import annotations

import json

from components.upload_api import PUSH_TO_CLOUDWATCH_LOGS
from tests.unit.mocks import Graph, run_program
from tests.unit.test_policy_graph import stack_config

ACCOUNT = "aws:apigateway/account:Account"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def test_account_role_has_the_managed_policy_before_the_setting(dev: Graph) -> None:
    account = dev.one(ACCOUNT)
    role = dev.one(ROLE, "cloudwatch-role")
    assert account.inputs["cloudwatchRoleArn"] == role.state["arn"]
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    attachment = dev.one(ATTACHMENT, "cloudwatch")
    assert (attachment.inputs["role"], attachment.inputs["policyArn"]) == (
        role.state["name"],
        PUSH_TO_CLOUDWATCH_LOGS,
    )
    # API Gateway checks the role when the setting is written: the attachment must exist by then
    assert attachment.urn in account.dependencies
    # no narrowed inline policy on that role any more
    assert not [p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]


def test_account_role_and_setting_are_kept_on_destroy(dev: Graph, prod: Graph) -> None:
    # a region-wide setting other stacks' access logs rely on: never deleted with one stack
    for graph in (dev, prod):
        for resource in (
            graph.one(ACCOUNT),
            graph.one(ROLE, "cloudwatch-role"),
            graph.one(ATTACHMENT, "cloudwatch"),
        ):
            assert resource.retain_on_delete, resource.name
    # everything else in dev is deleted with the stack (only prod's data stores are retained)
    assert {r.type for r in dev.resources if r.retain_on_delete} == {ACCOUNT, ROLE, ATTACHMENT}


def test_without_manage_api_gateway_account_there_is_no_account_and_no_role() -> None:
    graph = run_program({**stack_config("dev"), "imgpipe:manageApiGatewayAccount": "false"})
    assert graph.of_type(ACCOUNT) == []
    assert [r.name for r in graph.of_type(ROLE) if "cloudwatch" in r.name] == []
    assert graph.of_type(ATTACHMENT) == []
    # the API and its stage are still there, with access logs
    stage = graph.one("aws:apigateway/stage:Stage")
    assert stage.inputs["accessLogSettings"]["destinationArn"]
