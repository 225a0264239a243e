"""IAM: roles, inline and managed policies, attachments."""

from __future__ import annotations

import functools
import json
from typing import Any

from localaws.resources import Context, as_int, autoname, ignore_missing, prune, register, tags_list


def _doc(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@register("aws:iam/role:Role")
class Role:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        role = autoname(inputs, name)
        iam = ctx.client("iam")
        out = iam.create_role(
            **prune(
                {
                    "RoleName": role,
                    "Path": inputs.get("path") or "/",
                    "AssumeRolePolicyDocument": _doc(inputs["assumeRolePolicy"]),
                    "Description": inputs.get("description"),
                    "MaxSessionDuration": as_int(inputs.get("maxSessionDuration")),
                    "PermissionsBoundary": inputs.get("permissionsBoundary"),
                    "Tags": tags_list(inputs.get("tags")),
                }
            )
        )["Role"]
        for arn in inputs.get("managedPolicyArns") or []:
            ensure_aws_managed_policy(ctx, arn)
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        for inline in inputs.get("inlinePolicies") or []:
            if inline.get("name") and inline.get("policy"):
                iam.put_role_policy(RoleName=role, PolicyName=inline["name"], PolicyDocument=inline["policy"])
        return role, {**inputs, "name": role, "arn": out["Arn"], "uniqueId": out["RoleId"]}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        iam = ctx.client("iam")

        def go() -> None:
            for p in iam.list_attached_role_policies(RoleName=rid)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=rid, PolicyArn=p["PolicyArn"])
            for p in iam.list_role_policies(RoleName=rid)["PolicyNames"]:
                iam.delete_role_policy(RoleName=rid, PolicyName=p)
            iam.delete_role(RoleName=rid)

        ignore_missing(go)


@register("aws:iam/rolePolicy:RolePolicy")
class RolePolicy:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        policy = autoname(inputs, name, max_len=128)
        ctx.client("iam").put_role_policy(
            RoleName=inputs["role"], PolicyName=policy, PolicyDocument=_doc(inputs["policy"])
        )
        return f"{inputs['role']}:{policy}", {**inputs, "name": policy}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        role, policy = rid.split(":", 1)
        ignore_missing(lambda: ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=policy))


@register("aws:iam/policy:Policy")
class Policy:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        policy = autoname(inputs, name, max_len=128)
        out = ctx.client("iam").create_policy(
            **prune(
                {
                    "PolicyName": policy,
                    "Path": inputs.get("path") or "/",
                    "PolicyDocument": _doc(inputs["policy"]),
                    "Description": inputs.get("description"),
                }
            )
        )["Policy"]
        return out["Arn"], {**inputs, "name": policy, "arn": out["Arn"], "policyId": out["PolicyId"]}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("iam").delete_policy(PolicyArn=rid))


_AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@functools.cache
def _aws_managed_documents() -> dict[str, Any]:
    """AWS's managed policies (name -> data) as moto bundles them; parsed once, on first use."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    parsed: dict[str, Any] = json.loads(aws_managed_policies_data)
    return parsed


def ensure_aws_managed_policy(ctx: Context, arn: str) -> None:
    """Make an AWS managed policy (``arn:aws:iam::aws:policy/…``) attachable, as it is on AWS.

    moto loads AWS's managed policies only with ``MOTO_IAM_LOAD_MANAGED_POLICIES`` (all ~1,300,
    on every backend); the engine adds just the ones the program attaches, with AWS's document,
    so their permissions count when IAM is checked.
    """
    if not arn.startswith(_AWS_MANAGED_PREFIX):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[ctx.account_id]["global"]
    if arn in backend.managed_policies:
        return
    name = arn.rsplit("/", 1)[-1]
    data = _aws_managed_documents().get(name)
    if data is None:
        raise ValueError(
            f"{arn} is not an AWS managed policy (not in moto's copy of AWS's list): check the ARN"
        )
    policy = AWSManagedPolicy.from_data(name, ctx.account_id, ctx.region, data)
    backend.managed_policies[policy.arn] = policy


@register("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
class RolePolicyAttachment:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ensure_aws_managed_policy(ctx, inputs["policyArn"])
        ctx.client("iam").attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
        return f"{inputs['role']}|{inputs['policyArn']}", dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        role, arn = rid.split("|", 1)
        ignore_missing(lambda: ctx.client("iam").detach_role_policy(RoleName=role, PolicyArn=arn))
