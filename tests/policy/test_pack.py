"""The CrossGuard side of the policy pack: the wiring in ``policy/pack.py`` and the real pack
process ``pulumi preview --policy-pack policy`` would start, spoken to over gRPC.

``PolicyPack(...)`` serves forever, so ``policy/__main__.py`` is never imported here: it is
compiled and inspected in-process, and run as the Pulumi CLI runs it (``python -m
pulumi.policy <engine> <pack dir>``) in a subprocess this test owns and stops.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy import rules as r
from policy.pack import PACK_NAME, build_policies

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policy"
URN = "urn:pulumi:dev::imgpipe::{type}::{name}"
TLS_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b-1", "arn:aws:s3:::b-1/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        additional_secret_outputs=[],
        custom_timeouts=None,
    )


def _validate(policy_name: str, resource_type: str, props: dict[str, Any]) -> list[str]:
    """Run one built policy the way the analyzer does: props behind the unknown-checking proxy."""
    policy = next(p for p in build_policies() if p.name == policy_name)
    assert isinstance(policy, ResourceValidationPolicy)
    reported: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(props),
        URN.format(type=resource_type, name="x"),
        "x",
        _opts(),
        None,
    )
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_one_policy_per_rule_in_order() -> None:
    policies = build_policies()
    assert [p.name for p in policies] == [rule.name for rule in r.RULES]
    for policy, rule in zip(policies, r.RULES, strict=True):
        expected = ResourceValidationPolicy if rule.kind == "resource" else StackValidationPolicy
        assert isinstance(policy, expected)
        assert policy.enforcement_level is not None
        assert policy.enforcement_level.value == rule.enforcement


def test_resource_policy_reports_through_the_crossguard_proxy() -> None:
    bad = {
        "bucket": "b-1",
        "blockPublicAcls": True,
        "blockPublicPolicy": False,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert _validate("s3-no-public-access", r.BUCKET_PAB, bad) == [
        "public access block must set blockPublicPolicy to true"
    ]
    assert _validate("s3-no-public-access", r.BUCKET_PAB, {**bad, "blockPublicPolicy": True}) == []
    # nested blocks arrive as Mapping/Sequence proxies, not dicts and lists
    table = {
        "name": "t",
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": "arn:aws:kms:x:1:key/k"},
        "pointInTimeRecovery": {"enabled": False},
    }
    assert _validate("dynamodb-encrypted-with-cmk", r.DYNAMODB_TABLE, table) == []
    assert _validate("dynamodb-pitr", r.DYNAMODB_TABLE, table) == [
        "table must set pointInTimeRecovery.enabled=true"
    ]
    role = {
        "inlinePolicies": [
            {
                "name": "i",
                "policy": json.dumps(
                    {"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}]}
                ),
            }
        ]
    }
    assert len(_validate("iam-no-wildcard-actions", r.IAM_ROLE, role)) == 1
    assert len(_validate("iam-no-star-resource-on-data", r.IAM_ROLE, role)) == 1


def test_resource_policy_skips_other_types() -> None:
    assert _validate("dynamodb-pitr", r.BUCKET, {"bucket": "b"}) == []


def test_unknown_value_during_preview_is_not_a_violation() -> None:
    # CrossGuard turns UnknownValueError into an advisory "can't run during preview" note.
    with pytest.raises(UnknownValueError):
        _validate("s3-tls-only", r.BUCKET_POLICY, {"bucket": "b-1", "policy": UNKNOWN_STRING_VALUE})
    assert _validate("s3-tls-only", r.BUCKET_POLICY, {"bucket": "b-1", "policy": TLS_POLICY}) == []


def _stack_resource(
    resource_type: str, name: str, props: dict[str, Any], deps: dict[str, list[PolicyResource]] | None = None
) -> PolicyResource:
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(props),
        URN.format(type=resource_type, name=name),
        name,
        _opts(),
        None,
        None,
        [],
        deps or {},
    )


def test_stack_policy_links_children_by_property_dependency() -> None:
    policy = next(p for p in build_policies() if p.name == "s3-bucket-fully-configured")
    assert isinstance(policy, StackValidationPolicy)
    # the bucket's name is unknown (autonamed, preview): children link through dependencies
    bucket = _stack_resource(r.BUCKET, "uploads", {"bucket": UNKNOWN_STRING_VALUE})
    children = [
        _stack_resource(t, f"uploads-{i}", {"bucket": UNKNOWN_STRING_VALUE}, {"bucket": [bucket]})
        for i, t in enumerate((r.BUCKET_PAB, r.BUCKET_OWNERSHIP, r.BUCKET_VERSIONING, r.BUCKET_SSE))
    ]
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs([bucket, *children]), lambda m, urn=None: reported.append((m, urn)))
    assert reported == [("bucket 'uploads' has no bucket policy", bucket.urn)]


def test_main_builds_exactly_one_pack_from_every_rule() -> None:
    source = (PACK_DIR / "__main__.py").read_text()
    tree = ast.parse(source)
    compile(tree, str(PACK_DIR / "__main__.py"), "exec")
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert calls.count("PolicyPack") == 1
    assert "build_policies" in calls
    yaml_text = (PACK_DIR / "PulumiPolicy.yaml").read_text()
    assert "name: python" in yaml_text
    assert "pulumi-policy==" in (PACK_DIR / "requirements.txt").read_text()


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack as the Pulumi CLI starts it; it prints its port, then serves until stopped."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PACK_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        port = proc.stdout.readline().strip() if proc.stdout else ""
        if not port.isdigit():
            proc.kill()
            pytest.fail(f"policy pack did not start: {port!r} {proc.communicate(timeout=10)[1]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def test_pack_process_lists_every_rule(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [rule.name for rule in r.RULES]


def test_pack_process_rejects_a_public_bucket(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    bad = {
        "bucket": "b-1",
        "blockPublicAcls": False,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    response = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=r.BUCKET_PAB,
            properties=_struct(bad),
            urn=URN.format(type=r.BUCKET_PAB, name="pab"),
            name="pab",
        )
    )
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("s3-no-public-access", analyzer_pb2.MANDATORY)
    ]
    good = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=r.BUCKET_PAB,
            properties=_struct({**bad, "blockPublicAcls": True}),
            urn=URN.format(type=r.BUCKET_PAB, name="pab"),
            name="pab",
        )
    )
    assert list(good.diagnostics) == []


def test_pack_process_runs_stack_rules(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    fn = analyzer_pb2.AnalyzerResource(
        type=r.LAMBDA_FUNCTION,
        name="proc",
        urn=URN.format(type=r.LAMBDA_FUNCTION, name="proc"),
        properties=_struct({"name": "proc-fn"}),
    )
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[fn]))
    found = {(d.policyName, d.urn) for d in response.diagnostics}
    assert found == {("lambda-failure-destination", fn.urn), ("lambda-log-retention", fn.urn)}
