"""The customer managed KMS key each data-holding component creates for itself.

One function so every key of the stack gets the same settings: yearly rotation, a longer
deletion window and Pulumi protection when the data it encrypts is protected.
"""

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions


def customer_key(
    name: str,
    parent: pulumi.Resource,
    *,
    encrypts: str,
    protect: bool = False,
    alias: Input[str] | None = None,
    policy: Input[str] | None = None,
) -> aws.kms.Key:
    """``<name>-key`` (child of ``parent``) and, with ``alias``, ``<name>-key-alias`` → ``alias/<alias>``.

    ``encrypts`` names the data for the key's description (``uploads bucket``); ``protect``
    protects and retains the key like the data it encrypts (a deleted key makes that data
    unreadable); ``policy`` replaces AWS's default key policy.
    """
    key = aws.kms.Key(
        f"{name}-key",
        description=f"imgpipe {pulumi.get_stack()} {encrypts} encryption",
        enable_key_rotation=True,
        deletion_window_in_days=30 if protect else 7,
        policy=policy,
        opts=ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect),
    )
    if alias is not None:
        aws.kms.Alias(
            f"{name}-key-alias",
            name=Output.concat("alias/", alias),
            target_key_id=key.key_id,
            opts=ResourceOptions(parent=parent),
        )
    return key
