"""Every policy rule over the resource graph of the real program (dev and prod stacks), run
under the shared Pulumi mocks: zero violations. Then the same graph, broken one way per rule,
is caught by that rule, so a pass can't come from a rule that never sees its resources."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policy import rules as r
from policy.view import Resource, from_recorded

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")


def rule_view(request: pytest.FixtureRequest, stack: str) -> list[Resource]:
    """The program's resources for a committed stack config, as the rules see them: the
    session's ``dev``/``prod`` graph (conftest.py), so the program runs once per stack."""
    return [from_recorded(res) for res in request.getfixturevalue(stack).resources]


def stack_config(stack: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()).get("config", {})


@pytest.fixture(scope="module", params=STACKS)
def graph(request: pytest.FixtureRequest) -> list[Resource]:
    return rule_view(request, request.param)


def _count(graph: list[Resource], *types: str) -> int:
    return sum(1 for res in graph if res.type in types)


def test_graph_has_what_the_rules_are_about(graph: list[Resource]) -> None:
    # Guards against a vacuous pass: the rules must have something to look at.
    assert _count(graph, r.BUCKET) >= 2
    for t in (r.BUCKET_PAB, r.BUCKET_OWNERSHIP, r.BUCKET_VERSIONING, r.BUCKET_SSE, r.BUCKET_POLICY):
        assert _count(graph, t) >= 2, t
    assert _count(graph, r.LAMBDA_FUNCTION) >= 1
    assert _count(graph, r.LOG_GROUP) >= 1
    assert _count(graph, r.DYNAMODB_TABLE) >= 1
    assert _count(graph, r.API_METHOD) >= 2
    assert _count(graph, r.IAM_ROLE_POLICY, r.IAM_POLICY, r.IAM_ROLE) >= 2


def test_every_rule_passes_on_the_program(graph: list[Resource]) -> None:
    report = r.check_graph(graph)
    assert set(report) == {rule.name for rule in r.RULES}
    failures = {
        name: [f"{v.name}: {v.message}" for v in found]
        for name, found in report.items()
        if found and r.RULES_BY_NAME[name].enforcement == "mandatory"
    }
    assert failures == {}


@pytest.mark.parametrize("stack", STACKS)
def test_advisories_are_the_expected_ones(request: pytest.FixtureRequest, stack: str) -> None:
    # prod reserves 50 (image function) + 20 (renders): the preview reminds to check the quota.
    report = r.check_graph(rule_view(request, stack))
    advisories = {
        name: [v.message for v in found]
        for name, found in report.items()
        if found and r.RULES_BY_NAME[name].enforcement == "advisory"
    }
    if stack == "prod":
        [message] = advisories.pop("lambda-reserved-concurrency-quota")
        assert "reserves 70 concurrent executions" in message and "at least 170" in message
        assert "get-account-settings" in message
    assert advisories == {}


# --- mutations: one way to break the real graph per rule -----------------------------------
Graph = list[Resource]


def _replace(graph: Graph, index: int, **props: Any) -> Graph:
    res = graph[index]
    new_props = copy.deepcopy(dict(res.props))
    for key, value in props.items():
        if value is None:
            new_props.pop(key, None)
        else:
            new_props[key] = value
    out = list(graph)
    out[index] = Resource(res.type, res.name, new_props, res.urn, res.property_dependencies, res.dependencies)
    return out


def _first(graph: Graph, *types: str, where: Callable[[Resource], bool] = lambda _: True) -> int:
    for i, res in enumerate(graph):
        if res.type in types and where(res):
            return i
    raise AssertionError(f"no {types} in the graph")


def _widen_first_allow(policy: Any) -> str:
    doc = json.loads(policy) if isinstance(policy, str) else copy.deepcopy(policy)
    stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    allow = next(s for s in stmts if s.get("Effect") == "Allow")
    allow["Action"], allow["Resource"] = "s3:*", "*"
    return json.dumps(doc)


def _break_iam(graph: Graph) -> Graph:
    i = _first(graph, r.IAM_ROLE_POLICY, r.IAM_POLICY)
    return _replace(graph, i, policy=_widen_first_allow(graph[i].props["policy"]))


def _drop(graph: Graph, resource_type: str) -> Graph:
    i = _first(graph, resource_type)
    return graph[:i] + graph[i + 1 :]


def _open_method(graph: Graph) -> Graph:
    i = _first(
        graph,
        r.API_METHOD,
        where=lambda m: (
            m.props.get("httpMethod") != "OPTIONS"
            and m.props.get("operationName") not in r.PUBLIC_PAGE_OPERATIONS
        ),
    )
    return _replace(graph, i, authorization="NONE", apiKeyRequired=False, authorizerId=None)


def _no_failure_destination(graph: Graph) -> Graph:
    out = [res for res in graph if res.type != r.LAMBDA_INVOKE_CONFIG]
    for i, res in enumerate(out):
        if res.type == r.LAMBDA_FUNCTION:
            out = _replace(out, i, deadLetterConfig=None)
    return out


def _tls_policy_without_objects(graph: Graph) -> Graph:
    i = _first(graph, r.BUCKET_POLICY)
    doc = json.loads(graph[i].props["policy"])
    for stmt in doc["Statement"]:
        if stmt.get("Effect") == "Deny":
            stmt["Resource"] = [x for x in stmt["Resource"] if not x.endswith("/*")]
    return _replace(graph, i, policy=json.dumps(doc))


def _long_function_name(graph: Graph) -> Graph:
    i = _first(graph, r.LAMBDA_FUNCTION)
    return _replace(graph, i, name="imgpipe-customer-acceptance-environment-eu-west-1-blue-process-a1b2c3")


def _conditioned_cloudwatch_key_grant(graph: Graph) -> Graph:
    i = _first(graph, r.KMS_KEY, where=lambda k: "cloudwatch.amazonaws.com" in str(k.props.get("policy")))
    doc = json.loads(graph[i].props["policy"])
    for stmt in doc["Statement"]:
        if stmt.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}:
            stmt["Condition"] = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    return _replace(graph, i, policy=json.dumps(doc))


def _unconditioned_kms_grant(graph: Graph) -> Graph:
    # the function role's grants as they were before issue 13: no kms:ViaService, no context
    i = _first(graph, r.IAM_ROLE_POLICY, where=lambda p: "kms:ViaService" in str(p.props.get("policy")))
    doc = json.loads(graph[i].props["policy"])
    for stmt in doc["Statement"]:
        stmt.pop("Condition", None)
    return _replace(graph, i, policy=json.dumps(doc))


def _unconditioned_integration_trust(graph: Graph) -> Graph:
    i = _first(
        graph, r.IAM_ROLE, where=lambda role: "aws:SourceArn" in str(role.props.get("assumeRolePolicy"))
    )
    doc = json.loads(graph[i].props["assumeRolePolicy"])
    for stmt in doc["Statement"]:
        stmt.pop("Condition", None)
    return _replace(graph, i, assumeRolePolicy=json.dumps(doc))


def _sibling_path_variable(graph: Graph) -> Graph:
    # /images/{key} beside /images/{image_id}: what the API had before uploads moved under /uploads
    image = graph[_first(graph, r.API_RESOURCE, where=lambda res: res.props.get("pathPart") == "{image_id}")]
    sibling = Resource(
        r.API_RESOURCE,
        "api-image-by-key",
        {**image.props, "pathPart": "{key}", "id": "sibling0"},
        (image.urn or "") + "-by-key",
        image.property_dependencies,
    )
    return [*graph, sibling]


def _account_role_without_managed_policy(graph: Graph) -> Graph:
    # the role imgpipe used to set: no AmazonAPIGatewayPushToCloudWatchLogs (AWS refuses it)
    return [
        res
        for res in graph
        if not (
            res.type == r.IAM_ROLE_POLICY_ATTACHMENT
            and res.props.get("policyArn") == r.PUSH_TO_CLOUDWATCH_LOGS
        )
    ]


def _account_before_its_attachment(graph: Graph) -> Graph:
    i = _first(graph, r.API_ACCOUNT)
    account = graph[i]
    out = list(graph)
    out[i] = Resource(
        account.type, account.name, account.props, account.urn, account.property_dependencies, ()
    )
    return out


MUTATIONS: dict[str, Callable[[Graph], Graph]] = {
    "s3-no-public-access": lambda g: _replace(g, _first(g, r.BUCKET_PAB), restrictPublicBuckets=False),
    "s3-ownership-enforced": lambda g: _replace(
        g, _first(g, r.BUCKET_OWNERSHIP), rule={"objectOwnership": "BucketOwnerPreferred"}
    ),
    "s3-versioned": lambda g: _replace(
        g, _first(g, r.BUCKET_VERSIONING), versioningConfiguration={"status": "Suspended"}
    ),
    "s3-encrypted-with-cmk": lambda g: _replace(
        g, _first(g, r.BUCKET_SSE), rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    ),
    "s3-tls-only": _tls_policy_without_objects,
    "iam-no-wildcard-actions": _break_iam,
    "iam-no-star-resource-on-data": _break_iam,
    "iam-no-broad-managed-policies": lambda g: _replace(
        g, _first(g, r.IAM_ROLE), managedPolicyArns=["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"]
    ),
    "log-group-retention": lambda g: _replace(g, _first(g, r.LOG_GROUP), retentionInDays=None),
    "dynamodb-encrypted-with-cmk": lambda g: _replace(
        g, _first(g, r.DYNAMODB_TABLE), serverSideEncryption={"enabled": False}
    ),
    "dynamodb-pitr": lambda g: _replace(g, _first(g, r.DYNAMODB_TABLE), pointInTimeRecovery=None),
    "api-method-requires-auth": _open_method,
    "s3-bucket-fully-configured": lambda g: _drop(g, r.BUCKET_VERSIONING),
    "lambda-failure-destination": _no_failure_destination,
    "lambda-log-retention": lambda g: [res for res in g if res.type != r.LOG_GROUP],
    "aws-name-limits": _long_function_name,
    "kms-service-grant-conditions": _conditioned_cloudwatch_key_grant,
    "lambda-reserved-concurrency-quota": lambda g: _replace(
        g, _first(g, r.LAMBDA_FUNCTION), reservedConcurrentExecutions=50.0
    ),
    "apigateway-one-path-variable-per-level": _sibling_path_variable,
    "apigateway-account-role": _account_role_without_managed_policy,
    "kms-key-policy-explicit": lambda g: _replace(g, _first(g, r.KMS_KEY), policy=None),
    "iam-kms-grants-via-service": _unconditioned_kms_grant,
    "apigateway-trust-source-conditions": _unconditioned_integration_trust,
    "sqs-encrypted-with-cmk": lambda g: _replace(
        g, _first(g, r.SQS_QUEUE), kmsMasterKeyId=None, sqsManagedSseEnabled=True
    ),
    "sqs-tls-only": lambda g: _drop(g, r.SQS_QUEUE_POLICY),
}


def test_account_written_before_its_role_has_permissions_is_caught(graph: list[Resource]) -> None:
    [violation] = r.check_graph(_account_before_its_attachment(graph))["apigateway-account-role"]
    assert "does not depend on the attachment" in violation.message


def test_every_rule_has_a_mutation() -> None:
    assert set(MUTATIONS) == {rule.name for rule in r.RULES}


@pytest.mark.parametrize("rule_name", list(MUTATIONS))
def test_broken_program_graph_is_caught(graph: list[Resource], rule_name: str) -> None:
    broken = MUTATIONS[rule_name](graph)
    report = r.check_graph(broken)
    assert report[rule_name], f"{rule_name} missed the mutation"
