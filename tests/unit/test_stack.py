"""The whole stack, as the real ``__main__.py`` builds it under the mocks: the output contract,
and properties that must hold for every resource of a type, whatever component made it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError
from tests.unit.mocks import Graph, Recorded, run_program
from tests.unit.test_policy_graph import STACKS

CONTRACT_OUTPUTS = {
    "upload_bucket",
    "processed_bucket",
    "metadata_table",
    "function_name",
    "api_url",
    "gallery_url",
    "dlq_url",
    "dashboard_url",
    "region",
    "api_key",
}
COMPONENT_TYPES = {
    "imgpipe:index:SecureBucket",
    "imgpipe:index:MetadataTable",
    "imgpipe:index:ImageProcessor",
    "imgpipe:index:UploadApi",
    "imgpipe:index:Monitoring",
    "imgpipe:index:GallerySite",
}
DATA_SERVICES = ("s3", "dynamodb", "kms")
BUCKET = "aws:s3/bucket:Bucket"
POLICY_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
)


@pytest.fixture(params=STACKS)
def graph(request: pytest.FixtureRequest) -> Graph:
    return request.getfixturevalue(request.param)  # the session's `dev` / `prod` graph (conftest.py)


def _for_bucket(graph: Graph, bucket: Recorded, resource_type: str) -> list[Recorded]:
    return [r for r in graph.of_type(resource_type) if r.inputs.get("bucket") == bucket.id]


# --- outputs ---------------------------------------------------------------------------------
def test_outputs_are_the_contract_and_only_the_key_is_secret(graph: Graph) -> None:
    assert set(graph.outputs) == CONTRACT_OUTPUTS
    assert graph.secret_outputs == {"api_key"}
    assert all(isinstance(v, str) and v for v in graph.outputs.values()), graph.outputs


def test_outputs_name_the_resources_they_describe(graph: Graph) -> None:
    out = graph.outputs
    buckets = {r.id for r in graph.of_type(BUCKET)}
    assert {out["upload_bucket"], out["processed_bucket"]} == buckets
    assert "uploads" in out["upload_bucket"] and "processed" in out["processed_bucket"]
    assert out["metadata_table"] == graph.one("aws:dynamodb/table:Table").id
    function = graph.one("aws:lambda/function:Function", "process")
    assert out["function_name"] == function.state["name"]
    assert out["dlq_url"] == graph.one("aws:sqs/queue:Queue", "process").state["url"]
    assert out["region"] == "us-east-1"
    stage = graph.one("aws:apigateway/stage:Stage")
    assert out["api_url"] == stage.state["invokeUrl"].rstrip("/")
    assert not out["api_url"].endswith("/")
    assert out["api_url"].endswith("/" + stage.inputs["stageName"])
    assert out["api_key"] == graph.one("aws:apigateway/apiKey:ApiKey").state["value"]


def test_region_output_follows_aws_region() -> None:
    graph = run_program({"aws:region": "ap-southeast-2"})
    assert graph.outputs["region"] == "ap-southeast-2"
    assert ".ap-southeast-2." in graph.outputs["api_url"]


def test_iam_auth_stack_has_an_empty_secret_key() -> None:
    graph = run_program({"imgpipe:apiAuth": "iam"})
    assert graph.outputs["api_key"] == "" and "api_key" in graph.secret_outputs
    methods = [
        m for m in graph.of_type("aws:apigateway/method:Method") if m.inputs["httpMethod"] != "OPTIONS"
    ]
    assert methods and all(m.inputs["authorization"] == "AWS_IAM" for m in methods)


# --- structure -------------------------------------------------------------------------------
def test_every_provider_resource_lives_in_a_component(graph: Graph) -> None:
    assert {r.type for r in graph.resources if not r.custom} == COMPONENT_TYPES
    components = {r.urn for r in graph.resources if not r.custom}
    orphans = [
        r.name for r in graph.resources if r.custom and not _has_component_ancestor(graph, r, components)
    ]
    assert orphans == []


def _has_component_ancestor(graph: Graph, resource: Recorded, components: set[str]) -> bool:
    parent = resource.parent
    while parent:
        if parent in components:
            return True
        try:
            parent = graph.by_urn(parent).parent
        except KeyError:
            return False
    return False


def test_every_bucket_is_private_cmk_encrypted_versioned_tls_only(graph: Graph) -> None:
    keys = {r.state["arn"] for r in graph.of_type("aws:kms/key:Key")}
    buckets = graph.of_type(BUCKET)
    assert len(buckets) == 2
    for bucket in buckets:
        [pab] = _for_bucket(graph, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(pab.inputs[flag] is True for flag in flags)
        [own] = _for_bucket(graph, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        assert own.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        [ver] = _for_bucket(graph, bucket, "aws:s3/bucketVersioning:BucketVersioning")
        assert ver.inputs["versioningConfiguration"]["status"] == "Enabled"
        [sse] = _for_bucket(
            graph,
            bucket,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        )
        default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"] in keys
        [policy] = _for_bucket(graph, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        denies = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Deny"]
        tls = [
            s for s in denies if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert tls and tls[0]["Principal"] == "*"
        assert set(tls[0]["Resource"]) == {bucket.state["arn"], bucket.state["arn"] + "/*"}
        assert "acl" not in bucket.inputs


def _policy_documents(graph: Graph) -> Iterator[tuple[str, dict[str, Any]]]:
    for r in graph.resources:
        if r.type in POLICY_TYPES:
            yield r.name, json.loads(r.inputs["policy"])
        if r.type == "aws:iam/role:Role":
            for inline in r.inputs.get("inlinePolicies") or []:
                yield f"{r.name} inline", json.loads(inline["policy"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_iam_allow_is_a_wildcard_on_data(graph: Graph) -> None:
    documents = list(_policy_documents(graph))
    assert len(documents) >= 4
    problems = []
    for name, doc in documents:
        for stmt in _as_list(doc["Statement"]):
            if stmt["Effect"] != "Allow":
                continue
            assert "NotAction" not in stmt and "NotResource" not in stmt, name
            actions = _as_list(stmt["Action"])
            if any(a == "*" or a.endswith(":*") for a in actions):
                problems.append(f"{name}: wildcard action {actions}")
            data = [a for a in actions if a.split(":")[0] in DATA_SERVICES]
            if data and "*" in _as_list(stmt.get("Resource", "*")):
                problems.append(f"{name}: {data} on Resource '*'")
    assert problems == []


def test_only_lambda_and_api_gateway_assume_the_roles(graph: Graph) -> None:
    for role in graph.of_type("aws:iam/role:Role"):
        for stmt in _as_list(json.loads(role.inputs["assumeRolePolicy"])["Statement"]):
            services = set(_as_list(stmt["Principal"]["Service"]))
            assert services <= {"lambda.amazonaws.com", "apigateway.amazonaws.com"}, role.name


def test_every_function_logs_to_a_stack_log_group_with_retention(graph: Graph) -> None:
    groups = {g.inputs["name"]: g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert all(g.inputs["retentionInDays"] > 0 for g in groups.values())
    for fn in graph.of_type("aws:lambda/function:Function"):
        name = (fn.inputs.get("loggingConfig") or {}).get("logGroup") or f"/aws/lambda/{fn.state['name']}"
        assert name in groups, fn.name


def test_s3_notification_depends_on_the_lambda_permission(graph: Graph) -> None:
    [notification] = graph.of_type("aws:s3/bucketNotification:BucketNotification")
    targets = {f["lambdaFunctionArn"] for f in notification.inputs["lambdaFunctions"]}
    functions = {fn.state["arn"]: fn.state["name"] for fn in graph.of_type("aws:lambda/function:Function")}
    for arn in targets:
        permissions = [
            p
            for p in graph.of_type("aws:lambda/permission:Permission")
            if p.inputs["principal"] == "s3.amazonaws.com" and p.inputs["function"] == functions[arn]
        ]
        assert permissions, arn
        assert all(p.urn in notification.dependencies for p in permissions)


def test_stack_data_stores_follow_protect(graph: Graph) -> None:
    protected = graph.stack == "prod"
    table = graph.one("aws:dynamodb/table:Table")
    assert table.protect is protected and table.retain_on_delete is protected
    assert table.inputs["deletionProtectionEnabled"] is protected
    for bucket in graph.of_type(BUCKET):
        assert bucket.protect is protected and bucket.inputs["forceDestroy"] is not protected


def test_program_without_a_built_layer_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist: run `make layer`"):
        run_program({}, layer_zip=tmp_path / "missing.zip")


def test_runs_are_deterministic() -> None:
    first, second = run_program({}), run_program({})
    assert first.outputs == second.outputs

    # registration order varies with threads; the set of (type, name, id, inputs) must not
    def key(graph: Graph) -> list[tuple[str, str, str, str]]:
        return sorted((r.type, r.name, r.id, repr(sorted(r.inputs))) for r in graph.resources)

    assert key(first) == key(second)


def test_preview_registers_the_same_graph() -> None:
    # `pulumi preview` runs the program with dry_run set: nothing may depend on applied values
    preview, update = run_program({}, preview=True), run_program({})
    assert sorted((r.type, r.name) for r in preview.resources) == sorted(
        (r.type, r.name) for r in update.resources
    )
    assert set(preview.outputs) == CONTRACT_OUTPUTS


def test_render_function_has_its_own_reserved_concurrency(dev: Graph, prod: Graph) -> None:
    """renderConcurrency caps renders so they cannot take the image function's concurrency;
    dev leaves both unreserved (deployable on any account quota), prod reserves 50 + 20."""

    def reserved(graph: Graph, name: str) -> object:
        return graph.one("aws:lambda/function:Function", name).inputs.get("reservedConcurrentExecutions")

    assert reserved(dev, "api-render-function") is None and reserved(dev, "process-function") is None
    assert reserved(prod, "api-render-function") == 20 and reserved(prod, "process-function") == 50
    assert reserved(prod, "api-api-function") is None  # presign and variant links are cheap
