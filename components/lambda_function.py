"""LambdaFunction: the one recipe for every imgpipe Lambda (image processor, API, render).

Each function comes with a log group created by the stack (so it has a retention; its name must
be known before the function exists), a role only Lambda can assume, an inline policy of the
caller's statements plus writing to its own log group, and the function itself, created after
the log group and the policy so its first invocation can log and has its permissions.

Why a plain class and not a child ``ComponentResource``: a component in between would put the
four resources under a new parent, which changes their URNs, and a changed URN is a delete and
create on a deployed stack (a function with a fixed name cannot even be created before the old
one is gone). The recipe registers them as children of the calling component, as before.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from components.iam import assume_role_policy, policy_document
from components.inputs import Architecture, DataStore
from function import env
from function.variants import Variant, variants_json

RUNTIME = "python3.12"  # the Pillow layer is built for it
MAX_FUNCTION_NAME = 64  # Lambda's limit on function names


def data_environment(
    upload_bucket: DataStore,
    processed_bucket: DataStore,
    table: DataStore,
    variants: Sequence[Variant],
    max_pixels: int,
    max_animation_pixels: int,
) -> dict[str, Input[str]]:
    """The variables every imgpipe function gets: where the data is and what the variants are."""
    return {
        env.UPLOAD_BUCKET: upload_bucket.name,
        env.PROCESSED_BUCKET: processed_bucket.name,
        env.METADATA_TABLE: table.name,
        env.VARIANTS: variants_json(variants),
        env.MAX_PIXELS: str(max_pixels),
        env.MAX_ANIMATION_PIXELS: str(max_animation_pixels),
    }


def function_name_for(base: str, purpose: str, suffix: str) -> str:
    """``<base>-<purpose>-<suffix>``, shortened before the suffix to Lambda's 64 characters (the
    suffix is what keeps names unique, so it always survives)."""
    head = f"{base}-{purpose}"[: MAX_FUNCTION_NAME - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


@dataclass
class LambdaFunctionArgs:
    """One function: its code and sizing, what it may do, and the names it gets."""

    base: str
    """Physical name before the purpose, e.g. ``<project>-<stack>``: the function is named
    ``<base>-<purpose>-<suffix>`` (:func:`function_name_for`)."""
    purpose: str
    """What the function is for (``process``, ``api``, ``render``): part of its name."""
    suffix: Output[str]
    """The owning component's random hex, so stacks sharing an account get distinct names."""
    description: str
    """The function's description."""
    role_description: str
    """The role's description."""
    handler: str
    """``module.function`` inside ``code``."""
    code: pulumi.Archive
    """The function archive (``function/`` package at its root)."""
    layers: Sequence[Input[str]]
    """Layer version ARNs (the Pillow + Powertools layer)."""
    architecture: Architecture
    """CPU architecture (must match the layers)."""
    memory_mb: int
    """Memory in MB (the CPU share grows with it)."""
    timeout_seconds: int
    """Timeout in seconds."""
    log_retention_days: int
    """Retention of the function's log group."""
    environment: Mapping[str, Input[str]]
    """The function's own environment variables (the Powertools and log-level ones are added)."""
    statements: Sequence[Mapping[str, Any]]
    """IAM statements (``get_policy_document`` form) of the function's role; writing to its own
    log group is added."""
    policy_label: str = "policy"
    """Last part of the inline policy's resource name (kept per caller: the name is in its URN)."""
    reserved_concurrency: int | None = None
    """Cap on concurrent runs (None: unreserved)."""
    log_level: str = "INFO"
    """``LOG_LEVEL`` of the function (Powertools Logger reads it)."""


class LambdaFunction:
    """The log group, role, inline policy and function of one Lambda, children of ``owner``.

    Resources are named ``<name>-logs``, ``<name>-role``, ``<name>-<policy_label>`` and
    ``<name>-function``.
    """

    def __init__(self, owner: pulumi.Resource, name: str, args: LambdaFunctionArgs) -> None:
        child = ResourceOptions(parent=owner)
        function_name = args.suffix.apply(lambda hex_: function_name_for(args.base, args.purpose, hex_))
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=Output.concat("/aws/lambda/", function_name),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description=args.role_description,
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            opts=child,
        )
        own_logs = {
            "sid": "WriteOwnLogs",
            "actions": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "resources": [Output.concat(self.log_group.arn, ":*")],
        }
        self.policy = aws.iam.RolePolicy(
            f"{name}-{args.policy_label}",
            role=self.role.id,
            policy=policy_document([*args.statements, own_logs]),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description=args.description,
            role=self.role.arn,
            runtime=RUNTIME,
            handler=args.handler,
            code=args.code,
            architectures=[args.architecture],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            layers=list(args.layers),
            reserved_concurrent_executions=args.reserved_concurrency,
            environment={
                "variables": {
                    **args.environment,
                    env.POWERTOOLS_SERVICE_NAME: env.SERVICE,
                    env.POWERTOOLS_METRICS_NAMESPACE: env.SERVICE,
                    env.LOG_LEVEL: args.log_level,
                }
            },
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            # the log group (with retention) and the permissions exist before the first invocation
            opts=ResourceOptions(parent=owner, depends_on=[self.log_group, self.policy]),
        )
