"""Lint every IAM policy document the program generates with parliament (Duo Labs' IAM linter,
offline, with its community auditors): zero findings above LOW, dev and prod stacks.

Documents: role inline and managed policies, bucket, queue and topic policies, and KMS key
policies — collected from the mocks graph of the real program.

Trust (assume-role) policies are not given to parliament: it lints identity policies, reports a
trust policy as ``MALFORMED`` (no Resource, by definition) and stops there, so it would check
nothing. They get their own exact check below (only AWS services of this stack may assume).

Ignored findings, each with its reason (matched on issue *and* document kind, never globally):
* In KMS key policies, ``PERMISSIONS_MANAGEMENT_ACTIONS`` / ``RESOURCE_STAR`` for the key
  administration statement (components/encryption_key.py): the account root may manage the key
  (``kms:Put*``, ``kms:Create*`` ...: without it the key becomes unmanageable) but holds no
  cryptographic action and no ``kms:*``; ``"Resource": "*"`` in a key policy means "this key".
  AWS's default policy (root ``kms:*``) is therefore a finding (issue 13).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import parliament
import pytest
from parliament import analyze_policy_string, enhance_finding, override_config

from policy import rules as r
from policy.view import Resource
from tests.unit.test_policy_graph import STACKS, rule_view

SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
KMS_KEY = "aws:kms/key:Key"

# parliament's CLI loads this file before running the community auditors; so do we, or
# enhance_finding() does not know their issue names.
override_config(str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"))


@dataclass(frozen=True)
class Document:
    resource: str
    kind: str  # "identity" | "trust" | "resource" | "key"
    label: str
    text: str


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def collect_documents(graph: list[Resource]) -> list[Document]:
    docs: list[Document] = []
    for res in graph:
        if res.type == KMS_KEY and res.props.get("policy"):
            docs.append(Document(res.name, "key", "policy", _text(res.props["policy"])))
            continue
        for label, document in r.policy_documents(res.type, res.props):
            if label == "assumeRolePolicy":
                kind = "trust"
            elif res.type in (r.BUCKET_POLICY, r.SQS_QUEUE_POLICY, r.SNS_TOPIC_POLICY, r.BUCKET):
                kind = "resource"
            else:
                kind = "identity"
            docs.append(Document(res.name, kind, label, _text(document)))
    return docs


def _root_administers_without_crypto(doc: Document) -> bool:
    """Only the account root is granted anything but service use, and never kms:* or cryptography
    without kms:ViaService (the administration statement of customer_key's policy)."""
    stmts = json.loads(doc.text)["Statement"]
    stmts = stmts if isinstance(stmts, list) else [stmts]
    for stmt in stmts:
        if stmt.get("Effect") != "Allow":
            continue
        actions = stmt.get("Action")
        actions = [actions] if isinstance(actions, str) else list(actions)
        principal = stmt.get("Principal", {})
        if not isinstance(principal, dict) or "AWS" not in principal:
            continue  # service principals (CloudWatch, DynamoDB) are not administrators
        principals = principal["AWS"]
        principals = [principals] if isinstance(principals, str) else principals
        if not all(str(p).endswith(":root") for p in principals):
            return False
        if "kms:*" in actions or "*" in actions:
            return False
        crypto = [a for a in actions if a.startswith(("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"))]
        if crypto and "kms:ViaService" not in json.dumps(stmt.get("Condition", {})):
            return False
    return True


def ignored(doc: Document, issue: str) -> bool:
    return (
        doc.kind == "key"
        and issue in ("PERMISSIONS_MANAGEMENT_ACTIONS", "RESOURCE_STAR")
        and _root_administers_without_crypto(doc)
    )


def lint(doc: Document) -> list[tuple[str, str, str]]:
    """(severity, issue, detail) of each finding above LOW that is not a documented ignore."""
    policy = analyze_policy_string(doc.text, include_community_auditors=True)
    found = []
    for finding in policy.findings:
        finding = enhance_finding(finding)
        if SEVERITIES.index(finding.severity) <= SEVERITIES.index("LOW"):
            continue
        if ignored(doc, finding.issue):
            continue
        found.append((finding.severity, finding.issue, str(finding.detail)[:300]))
    return found


# the services the program's roles are for: Lambda (the processor) and API Gateway (its S3 and
# DynamoDB integrations)
TRUSTED_SERVICES = {"lambda.amazonaws.com", "apigateway.amazonaws.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_generated_iam_policies_have_no_finding_above_low(stack: str, request: pytest.FixtureRequest) -> None:
    docs = [d for d in collect_documents(rule_view(request, stack)) if d.kind != "trust"]
    kinds = {d.kind for d in docs}
    # the program has a function role policy and bucket policies at least
    assert {"identity", "resource"} <= kinds, kinds
    report = {f"{d.resource} {d.label}": found for d in docs if (found := lint(d))}
    assert report == {}


@pytest.mark.parametrize("stack", STACKS)
def test_trust_policies_only_let_this_stacks_services_assume(
    stack: str, request: pytest.FixtureRequest
) -> None:
    trusts = [d for d in collect_documents(rule_view(request, stack)) if d.kind == "trust"]
    assert trusts
    for doc in trusts:
        stmts = json.loads(doc.text)["Statement"]
        for stmt in stmts if isinstance(stmts, list) else [stmts]:
            assert stmt["Effect"] == "Allow", doc
            assert stmt["Action"] in ("sts:AssumeRole", ["sts:AssumeRole"]), doc
            services = stmt["Principal"]["Service"]
            services = {services} if isinstance(services, str) else set(services)
            assert set(stmt["Principal"]) == {"Service"} and services <= TRUSTED_SERVICES, doc


def test_linter_is_not_vacuous() -> None:
    # the same lint flags a too-broad identity policy, and the key-policy ignore is that narrow
    broad = Document(
        "x",
        "identity",
        "policy",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    assert any(issue == "PRIVILEGE_ESCALATION" for _, issue, _ in lint(broad))
    key_policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "KeyAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": ["kms:Create*", "kms:Put*", "kms:ScheduleKeyDeletion"],
                "Resource": "*",
            }
        ],
    }
    assert lint(Document("k", "key", "policy", json.dumps(key_policy))) == []
    key_policy["Statement"][0]["Principal"] = {"AWS": "arn:aws:iam::123456789012:role/someone"}
    assert lint(Document("k", "key", "policy", json.dumps(key_policy))), "a role administering must count"
    # AWS's default key policy (root kms:*) is no longer accepted
    key_policy["Statement"][0].update(Principal={"AWS": "arn:aws:iam::123456789012:root"}, Action="kms:*")
    assert lint(Document("k", "key", "policy", json.dumps(key_policy))), "root kms:* must count"
