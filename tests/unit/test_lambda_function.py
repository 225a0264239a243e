"""Every function of the stack (image processor, API, render, upload authorizer) is built by the
one recipe in components/lambda_function.py: same runtime and logging, a role only Lambda assumes,
its own log group with retention, a policy that ends with writing to that group, and both ready
first."""

import json

import pytest

from components.lambda_function import RUNTIME, function_name_for
from tests.unit.mocks import Graph

FUNCTION = "aws:lambda/function:Function"


@pytest.fixture(params=("dev", "prod"))
def graph(request: pytest.FixtureRequest) -> Graph:
    return request.getfixturevalue(request.param)


def test_every_function_follows_the_recipe(graph: Graph) -> None:
    functions = graph.of_type(FUNCTION)
    assert sorted(f.name for f in functions) == [
        "api-api-function",
        "api-authorizer-function",
        "api-render-function",
        "process-function",
    ]
    for fn in functions:
        label = fn.name.removesuffix("-function")
        siblings = {r.name: r for r in graph.resources if r.parent == fn.parent}
        group, role = siblings[f"{label}-logs"], siblings[f"{label}-role"]
        [policy] = [
            r
            for r in siblings.values()
            if r.type == "aws:iam/rolePolicy:RolePolicy" and r.name.startswith(label)
        ]
        assert fn.inputs["runtime"] == RUNTIME
        assert fn.inputs["role"] == role.state["arn"]
        assert fn.inputs["loggingConfig"] == {
            "logFormat": "JSON",
            "logGroup": f"/aws/lambda/{fn.state['name']}",
        }
        assert (
            group.inputs["name"] == f"/aws/lambda/{fn.state['name']}" and group.inputs["retentionInDays"] > 0
        )
        assert {group.urn, policy.urn} <= set(fn.dependencies)
        assert policy.inputs["role"] == role.id
        last = json.loads(policy.inputs["policy"])["Statement"][-1]
        assert last["Sid"] == "WriteOwnLogs" and last["Resource"] == f"{group.state['arn']}:*"
        variables = fn.inputs["environment"]["variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "imgpipe" and variables["LOG_LEVEL"] == "INFO"


def test_names_keep_the_suffix_within_lambdas_limit() -> None:
    assert function_name_for("imgpipe-dev", "process", "a1b2c3") == "imgpipe-dev-process-a1b2c3"
    long = function_name_for("imgpipe-" + "s" * 70, "process", "a1b2c3")
    assert len(long) == 64 and long.endswith("-a1b2c3")
    assert function_name_for("x" * 56 + "-", "api", "a1b2c3") == "x" * 56 + "-a1b2c3"  # no "--"
