"""Two deployments of the same stack name in one account share no physical name.

A fork's ``org/dev`` beside ``me/dev`` (or a stack re-created after a failed destroy) runs the
same program with the same stack name in the same account and region. Every name that is
unique per account+region (KMS aliases, alarms, dashboards, log groups, functions, layers,
queues, topics, tables, roles, REST APIs, usage plans, keys) must differ between the two, or
the second ``pulumi up`` fails with AlreadyExists / silently takes over the first one's
resource. The mocks stand in for the cloud's randomness with a seed: two seeds = two
deployments. The check reads every resource of the graph, so a resource added later with a
fixed name fails here without this file listing it.
"""

from __future__ import annotations

import pytest

from components.naming import physical_base
from tests.unit.mocks import Graph, Recorded, run_program
from tests.unit.test_policy_graph import stack_config

# The fields in which a resource carries its own physical name.
NAME_FIELDS = ("name", "bucket", "dashboardName", "layerName")
# Names scoped to a parent resource, not to the account: the same value in two stacks is fine.
PARENT_SCOPED = {
    "aws:apigateway/requestValidator:RequestValidator": "unique within its REST API only",
    "aws:apigateway/model:Model": "unique within its REST API only",
    "aws:apigateway/authorizer:Authorizer": "unique within its REST API only",
}


def own_names(resource: Recorded) -> dict[str, str]:
    """The physical names a resource gives itself (field -> value)."""
    if not resource.custom or resource.type in PARENT_SCOPED or resource.type.startswith("random:"):
        return {}
    # S3 bucket settings carry the bucket they configure, not a name of their own.
    if resource.type.startswith("aws:s3/") and resource.type != "aws:s3/bucket:Bucket":
        return {}
    found = {f: resource.props.get(f) for f in NAME_FIELDS}
    return {f: v for f, v in found.items() if isinstance(v, str) and v}


def shared_names(first: Graph, second: Graph) -> list[str]:
    """``resource.field = 'name'`` for every physical name the two deployments have in common."""
    a = {(r.urn, f): v for r in first.resources for f, v in own_names(r).items()}
    b = {(r.urn, f): v for r in second.resources for f, v in own_names(r).items()}
    assert a.keys() == b.keys()  # the same program: the same resources
    reused = set(a.values()) & set(b.values())  # also across resources
    return sorted(
        f"{urn.rsplit('::', 1)[-1]}.{field} = {name!r}" for (urn, field), name in a.items() if name in reused
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_two_deployments_of_one_stack_share_no_physical_name(stack: str) -> None:
    first = run_program(stack_config(stack), stack=stack, seed="deployment-1")
    second = run_program(stack_config(stack), stack=stack, seed="deployment-2")
    # Every kind of named resource takes part (so "nothing shared" means something).
    named = {r.type for r in first.resources if own_names(r)}
    assert {
        "aws:kms/alias:Alias",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:lambda/function:Function",
        "aws:lambda/layerVersion:LayerVersion",
        "aws:dynamodb/table:Table",
        "aws:sqs/queue:Queue",
        "aws:sns/topic:Topic",
        "aws:iam/role:Role",
        "aws:s3/bucket:Bucket",
    } <= named
    shared = shared_names(first, second)
    assert not shared, "fixed physical names (add the component's random suffix or autoname):\n" + "\n".join(
        shared
    )


def _graph(dashboard_name: str) -> Graph:
    dashboard = Recorded(
        type="aws:cloudwatch/dashboard:Dashboard",
        name="ops-dashboard",
        urn="urn:pulumi:dev::imgpipe::aws:cloudwatch/dashboard:Dashboard::ops-dashboard",
        id=dashboard_name,
        inputs={"dashboardName": dashboard_name},
        state={},
        custom=True,
    )
    return Graph(resources=[dashboard], outputs={}, secret_outputs=set(), stack="dev", region="us-east-1")


def test_a_fixed_name_is_caught() -> None:
    """The check itself: a name that does not change between deployments is reported."""
    assert shared_names(_graph("imgpipe-dev-pipeline"), _graph("imgpipe-dev-pipeline")) == [
        "ops-dashboard.dashboardName = 'imgpipe-dev-pipeline'"
    ]
    assert shared_names(_graph("imgpipe-dev-1a2b3c-pipeline"), _graph("imgpipe-dev-9f8e7d-pipeline")) == []


def test_physical_base_is_valid_in_every_name() -> None:
    assert physical_base("imgpipe", "my.stack", "ab12cd") == "imgpipe-my-stack-ab12cd"
    assert physical_base("imgpipe", "org_dev", "metadata", "01", "key") == "imgpipe-org_dev-metadata-01-key"
