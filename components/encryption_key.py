"""The customer managed KMS key each data-holding component creates for itself.

One function so every key of the stack gets the same settings: yearly rotation, a longer
deletion window, Pulumi protection when the data it encrypts is protected, and an explicit key
policy instead of AWS's default one (whose single statement lets the account's IAM policies grant
every KMS action: anyone with IAM ``kms:*`` could decrypt, disable or schedule deletion):

* ``KeyAdministration``: the account (its IAM policies decide who) may manage the key — describe,
  rotate, tag, change the policy, schedule deletion — but not use it. These are the actions of
  AWS's "key administrators" statement, without the cryptographic ones.
* ``UseThroughOwningService``: the account's principals may encrypt/decrypt only through the one
  service that owns the data (``kms:ViaService``), from this account (``kms:CallerAccount``), and,
  where the resource is known before the key, only for it (encryption context). No principal can
  call ``kms:Decrypt`` on a ciphertext directly. Which roles may use the key is then decided by
  their IAM grants (components/iam.py ``kms_grant``: ViaService + encryption context too).
* whatever service statements the caller adds (CloudWatch publishing to the alarm topic).

https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from components.iam import policy_document, via_service

# AWS's key-administrator actions (key-policy-default.html): management only, no cryptography.
# kms:Create* covers CreateGrant, which DynamoDB needs from whoever creates an encrypted table.
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
)
# What a service does with a symmetric key on a caller's behalf (envelope encryption): these
# calls carry the service's encryption context.
USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
# Calls about the key that carry no encryption context (a context condition would never match).
METADATA_ACTIONS = ("kms:DescribeKey",)
# Actions that reveal or produce plaintext/ciphertext: never granted without kms:ViaService.
CRYPTO_ACTIONS = frozenset(
    {"kms:decrypt", "kms:encrypt", "kms:generatedatakey", "kms:generatedatakey*", "kms:reencrypt*", "kms:*"}
)


def key_policy(
    *,
    service: str,
    context: Mapping[str, Sequence[Input[str]]] | None = None,
    statements: Sequence[Mapping[str, Any]] = (),
    metadata_actions: Sequence[str] = METADATA_ACTIONS,
) -> Output[str]:
    """The explicit key policy described in the module docstring, as JSON."""
    account = aws.get_caller_identity_output().account_id
    region = aws.get_region_output().region
    account_root = Output.concat("arn:aws:iam::", account, ":root")
    through_service: list[dict[str, Any]] = [
        {"test": "StringEquals", "variable": "kms:ViaService", "values": [via_service(service, region)]},
        {"test": "StringEquals", "variable": "kms:CallerAccount", "values": [account]},
    ]
    use_conditions = list(through_service)
    for key, values in sorted((context or {}).items()):
        use_conditions.append(
            {"test": "StringLike", "variable": f"kms:EncryptionContext:{key}", "values": list(values)}
        )
    return policy_document(
        [
            {
                "sid": "KeyAdministration",
                "actions": list(ADMIN_ACTIONS),
                "resources": ["*"],  # in a key policy: this key
                "principals": [{"type": "AWS", "identifiers": [account_root]}],
            },
            {
                "sid": "UseThroughOwningService",
                "actions": list(USE_ACTIONS),
                "resources": ["*"],
                "principals": [{"type": "AWS", "identifiers": [account_root]}],
                "conditions": use_conditions,
            },
            {
                "sid": "DescribeThroughOwningService",
                "actions": list(metadata_actions),
                "resources": ["*"],
                "principals": [{"type": "AWS", "identifiers": [account_root]}],
                "conditions": through_service,
            },
            *(dict(s) for s in statements),
        ]
    )


def customer_key(
    name: str,
    parent: pulumi.Resource,
    *,
    encrypts: str,
    service: str,
    protect: bool = False,
    alias: Input[str] | None = None,
    context: Mapping[str, Sequence[Input[str]]] | None = None,
    statements: Sequence[Mapping[str, Any]] = (),
    metadata_actions: Sequence[str] = METADATA_ACTIONS,
) -> aws.kms.Key:
    """``<name>-key`` (child of ``parent``) and, with ``alias``, ``<name>-key-alias`` → ``alias/<alias>``.

    ``encrypts`` names the data for the key's description (``uploads bucket``); ``service`` is the
    one service that may use it (``s3``, ``dynamodb``, ``sqs``, ``sns``) and ``context`` the
    encryption context it must carry, when the resource is known before the key; ``statements``
    are added to the key policy (:func:`key_policy`) and ``metadata_actions`` replace the
    context-free calls the service may make (DynamoDB also creates a grant); ``protect``
    protects and retains the key like the data it encrypts (a deleted key makes data unreadable).
    """
    key = aws.kms.Key(
        f"{name}-key",
        description=f"imgpipe {pulumi.get_stack()} {encrypts} encryption",
        enable_key_rotation=True,
        deletion_window_in_days=30 if protect else 7,
        policy=key_policy(
            service=service, context=context, statements=statements, metadata_actions=metadata_actions
        ),
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
