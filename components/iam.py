"""IAM pieces every component's roles share: trust policies and KMS grants."""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi_aws as aws
from pulumi import Input, Output


def assume_role_policy(
    service: str,
    *,
    source_account: Input[str] | None = None,
    source_arn: Input[str] | None = None,
) -> Output[str]:
    """The trust policy letting one AWS service (``lambda.amazonaws.com``) assume a role.

    ``source_account``/``source_arn`` (an ``ArnLike`` pattern) restrict it to that service acting
    for this account's resource, the cross-service confused-deputy protection AWS recommends for
    service roles: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html#cross-service-confused-deputy-prevention
    """
    conditions: list[dict[str, Any]] = []
    if source_account is not None:
        conditions.append(
            {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [source_account]}
        )
    if source_arn is not None:
        conditions.append({"test": "ArnLike", "variable": "aws:SourceArn", "values": [source_arn]})
    statement: dict[str, Any] = {
        "effect": "Allow",
        "actions": ["sts:AssumeRole"],
        "principals": [{"type": "Service", "identifiers": [service]}],
    }
    if conditions:
        statement["conditions"] = conditions
    return policy_document([statement])


def policy_document(statements: Sequence[Mapping[str, Any]]) -> Output[str]:
    """The JSON of ``aws.iam.get_policy_document_output(statements=...)``: every component's IAM
    documents go through here. Statements are dicts in the provider's snake_case form whose values
    may be Outputs (ARNs of resources being created); the invoke resolves them."""
    # pulumi_aws types the nested fields of its output-form invoke as plain str (its ArgsDict is
    # shared with the plain invoke), so dicts holding Outputs do not match its annotation.
    return aws.iam.get_policy_document_output(statements=list(statements)).json  # type: ignore[arg-type]


def via_service(service: str, region: Input[str]) -> Output[str]:
    """The ``kms:ViaService`` value of a service's KMS calls: ``s3.<region>.amazonaws.com``.
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
    """
    return Output.concat(service, ".", region, ".amazonaws.com")


def kms_grant(
    sid: str,
    actions: Sequence[str],
    key_arn: Input[str],
    *,
    service: str,
    region: Input[str],
    context: Mapping[str, Sequence[Input[str]]],
) -> dict[str, Any]:
    """An IAM statement allowing ``actions`` on one key only when ``service`` calls KMS for this
    role (``kms:ViaService``) and for the one resource the key protects (the encryption context
    the service sets: ``aws:s3:arn``, ``aws:dynamodb:tableName``, ``aws:sqs:arn``). Stolen role
    credentials cannot then decrypt or encrypt anything directly with ``kms:Decrypt``.
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
    """
    conditions: list[dict[str, Any]] = [
        {"test": "StringEquals", "variable": "kms:ViaService", "values": [via_service(service, region)]}
    ]
    for key, values in sorted(context.items()):
        conditions.append(
            {"test": "StringLike", "variable": f"kms:EncryptionContext:{key}", "values": list(values)}
        )
    return {"sid": sid, "actions": list(actions), "resources": [key_arn], "conditions": conditions}


def s3_key_grant(
    sid: str, actions: Sequence[str], key_arn: Input[str], bucket_arn: Input[str], region: Input[str]
) -> dict[str, Any]:
    """KMS use through S3 for one bucket: S3's encryption context is the object ARN, or the bucket
    ARN when an S3 Bucket Key is on (ours are), so both are allowed.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context
    """
    arn = Output.from_input(bucket_arn)
    return kms_grant(
        sid,
        actions,
        key_arn,
        service="s3",
        region=region,
        context={"aws:s3:arn": [arn, Output.concat(arn, "/*")]},
    )


def dynamodb_key_grant(
    sid: str, actions: Sequence[str], key_arn: Input[str], table_name: Input[str], region: Input[str]
) -> dict[str, Any]:
    """KMS use through DynamoDB for one table (encryption context ``aws:dynamodb:tableName``).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html
    """
    return kms_grant(
        sid,
        actions,
        key_arn,
        service="dynamodb",
        region=region,
        context={"aws:dynamodb:tableName": [table_name]},
    )


def sqs_key_grant(
    sid: str, actions: Sequence[str], key_arn: Input[str], queue_arn: Input[str], region: Input[str]
) -> dict[str, Any]:
    """KMS use through SQS for one queue (encryption context ``aws:sqs:arn``).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
    """
    return kms_grant(
        sid, actions, key_arn, service="sqs", region=region, context={"aws:sqs:arn": [queue_arn]}
    )
