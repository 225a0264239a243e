"""Each policy rule against hand-made resources that pass and that fail.

Props are written the way CrossGuard and the Pulumi mocks see them: camelCase wire names,
numbers as floats, policies as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy import rules as r
from policy.view import Resource, from_plain

ACCOUNT = "123456789012"
BUCKET_ARN = "arn:aws:s3:::imgpipe-uploads-1a2b"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/imgpipe-metadata"


def doc(*stmts: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(stmts)})


# AWS's documented key-policy statement for CloudWatch alarms → encrypted SNS topic
CLOUDWATCH_KEY_GRANT = {
    "Sid": "CloudWatchAlarmsPublish",
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
}
TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
GOOD_PAB = {
    "bucket": "b",
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
GOOD_SSE = {
    "bucket": "b",
    "rules": [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
            "bucketKeyEnabled": True,
        }
    ],
}
GOOD_TABLE = {
    "name": "t",
    "billingMode": "PAY_PER_REQUEST",
    "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
    "pointInTimeRecovery": {"enabled": True},
}
SCOPED_ROLE_POLICY = doc(
    {
        "Sid": "ReadUploads",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": f"{BUCKET_ARN}/*",
    },
    {
        "Sid": "Metadata",
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "Resource": [TABLE_ARN, f"{TABLE_ARN}/index/*"],
    },
    {"Sid": "Keys", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY_ARN},
    {
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "*",
    },
    {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
)

# components/encryption_key.py's statements, as the provider renders them
KEY_ADMIN = {
    "Sid": "KeyAdministration",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": ["kms:Create*", "kms:Describe*", "kms:Put*", "kms:ScheduleKeyDeletion"],
    "Resource": "*",
}
KEY_USE_VIA_S3 = {
    "Sid": "UseThroughOwningService",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    },
}
# components/iam.py s3_key_grant()
ROLE_KMS_GRANT = {
    "Sid": "DecryptUploads",
    "Effect": "Allow",
    "Action": "kms:Decrypt",
    "Resource": KEY_ARN,
    "Condition": {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET_ARN, f"{BUCKET_ARN}/*"]},
    },
}

# (rule, resource type, props, expected fragment of the first message or None when compliant)
CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    # S3 public access
    ("s3-no-public-access", r.BUCKET_PAB, GOOD_PAB, None),
    (
        "s3-no-public-access",
        r.BUCKET_PAB,
        {**GOOD_PAB, "restrictPublicBuckets": False},
        "restrictPublicBuckets",
    ),
    ("s3-no-public-access", r.BUCKET_PAB, {"bucket": "b", "blockPublicAcls": True}, "blockPublicPolicy"),
    ("s3-no-public-access", r.BUCKET, {"bucket": "b"}, None),
    ("s3-no-public-access", r.BUCKET, {"bucket": "b", "acl": "public-read"}, "public-read"),
    ("s3-no-public-access", r.BUCKET_ACL, {"bucket": "b", "acl": "authenticated-read"}, "authenticated-read"),
    # ownership
    (
        "s3-ownership-enforced",
        r.BUCKET_OWNERSHIP,
        {"bucket": "b", "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        None,
    ),
    (
        "s3-ownership-enforced",
        r.BUCKET_OWNERSHIP,
        {"bucket": "b", "rule": {"objectOwnership": "ObjectWriter"}},
        "ObjectWriter",
    ),
    (
        "s3-ownership-enforced",
        r.BUCKET_OWNERSHIP,
        {"bucket": "b", "rule": [{"objectOwnership": "BucketOwnerEnforced"}]},
        None,
    ),
    # versioning
    (
        "s3-versioned",
        r.BUCKET_VERSIONING,
        {"bucket": "b", "versioningConfiguration": {"status": "Enabled"}},
        None,
    ),
    (
        "s3-versioned",
        r.BUCKET_VERSIONING,
        {"bucket": "b", "versioningConfiguration": {"status": "Suspended"}},
        "Suspended",
    ),
    ("s3-versioned", r.BUCKET_VERSIONING, {"bucket": "b"}, "None"),
    ("s3-versioned", r.BUCKET, {"bucket": "b", "versioning": {"enabled": False}}, "inline versioning"),
    ("s3-versioned", r.BUCKET, {"bucket": "b"}, None),
    # encryption
    ("s3-encrypted-with-cmk", r.BUCKET_SSE, GOOD_SSE, None),
    (
        "s3-encrypted-with-cmk",
        r.BUCKET_SSE,
        {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        "AES256",
    ),
    (
        "s3-encrypted-with-cmk",
        r.BUCKET_SSE,
        {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
        "kmsMasterKeyId",
    ),
    ("s3-encrypted-with-cmk", r.BUCKET_SSE, {"bucket": "b", "rules": []}, "no rule"),
    (
        "s3-encrypted-with-cmk",
        r.BUCKET,
        {
            "serverSideEncryptionConfiguration": {
                "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
            }
        },
        "AES256",
    ),
    # TLS only
    ("s3-tls-only", r.BUCKET_POLICY, {"bucket": "b", "policy": doc(TLS_DENY)}, None),
    ("s3-tls-only", r.BUCKET_POLICY, {"bucket": "b", "policy": json.loads(doc(TLS_DENY))}, None),
    (
        "s3-tls-only",
        r.BUCKET_POLICY,
        {
            "bucket": "b",
            "policy": doc(
                {
                    **TLS_DENY,
                    "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
                    "Principal": {"AWS": "*"},
                    "Action": "*",
                }
            ),
        },
        None,
    ),
    (
        "s3-tls-only",
        r.BUCKET_POLICY,
        {"bucket": "b", "policy": doc({**TLS_DENY, "Resource": BUCKET_ARN})},
        "ARN/*",
    ),
    (
        "s3-tls-only",
        r.BUCKET_POLICY,
        {"bucket": "b", "policy": doc({**TLS_DENY, "Resource": f"{BUCKET_ARN}/*"})},
        "ARN/*",
    ),
    (
        "s3-tls-only",
        r.BUCKET_POLICY,
        {"bucket": "b", "policy": doc({**TLS_DENY, "Effect": "Allow"})},
        "no Deny",
    ),
    (
        "s3-tls-only",
        r.BUCKET_POLICY,
        {"bucket": "b", "policy": doc({**TLS_DENY, "Condition": {"Bool": {"aws:SecureTransport": "true"}}})},
        "no Deny",
    ),
    (
        "s3-tls-only",
        r.BUCKET_POLICY,
        {"bucket": "b", "policy": doc({**TLS_DENY, "Principal": {"Service": "x"}})},
        "no Deny",
    ),
    ("s3-tls-only", r.BUCKET_POLICY, {"bucket": "b", "policy": "{not json"}, "not valid JSON"),
    # IAM wildcard actions
    ("iam-no-wildcard-actions", r.IAM_ROLE_POLICY, {"role": "x", "policy": SCOPED_ROLE_POLICY}, None),
    (
        "iam-no-wildcard-actions",
        r.IAM_ROLE_POLICY,
        {"role": "x", "policy": doc({"Effect": "Allow", "Action": "s3:*", "Resource": BUCKET_ARN})},
        "s3:*",
    ),
    (
        "iam-no-wildcard-actions",
        r.IAM_POLICY,
        {"policy": doc({"Effect": "Allow", "Action": ["dynamodb:GetItem", "*"], "Resource": TABLE_ARN})},
        "*",
    ),
    (
        "iam-no-wildcard-actions",
        r.IAM_POLICY,
        {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})},
        "NotAction",
    ),
    (
        "iam-no-wildcard-actions",
        r.IAM_ROLE,
        {
            "assumeRolePolicy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            "inlinePolicies": [
                {"name": "inline", "policy": doc({"Effect": "Allow", "Action": "kms:*", "Resource": KEY_ARN})}
            ],
        },
        "kms:*",
    ),
    # a Deny with s3:* (the TLS statement) is not a grant
    ("iam-no-wildcard-actions", r.BUCKET_POLICY, {"bucket": "b", "policy": doc(TLS_DENY)}, None),
    (
        "iam-no-wildcard-actions",
        r.SQS_QUEUE_POLICY,
        {
            "queueUrl": "q",
            "policy": doc({"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "q"}),
        },
        "sqs:*",
    ),
    # IAM '*' resources on data actions
    ("iam-no-star-resource-on-data", r.IAM_ROLE_POLICY, {"role": "x", "policy": SCOPED_ROLE_POLICY}, None),
    (
        "iam-no-star-resource-on-data",
        r.IAM_ROLE_POLICY,
        {
            "role": "x",
            "policy": doc({"Sid": "Any", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        },
        "statement Any allows s3:GetObject",
    ),
    (
        "iam-no-star-resource-on-data",
        r.IAM_ROLE_POLICY,
        {"role": "x", "policy": doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": ["*"]})},
        "kms:Decrypt",
    ),
    (
        "iam-no-star-resource-on-data",
        r.IAM_POLICY,
        {"policy": doc({"Effect": "Allow", "Action": "dynamodb:PutItem", "NotResource": TABLE_ARN})},
        "dynamodb:PutItem",
    ),
    (
        "iam-no-star-resource-on-data",
        r.IAM_ROLE,
        {
            "inlinePolicies": [
                {
                    "name": "q",
                    "policy": doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}),
                }
            ]
        },
        "sqs:SendMessage",
    ),
    # a key policy's "*" means "this key": not checked
    (
        "iam-no-star-resource-on-data",
        "aws:kms/key:Key",
        {
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            )
        },
        None,
    ),
    # AWS managed policies
    (
        "iam-no-broad-managed-policies",
        r.IAM_ROLE_POLICY_ATTACHMENT,
        {"role": "x", "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
        None,
    ),
    (
        "iam-no-broad-managed-policies",
        r.IAM_ROLE_POLICY_ATTACHMENT,
        {"role": "x", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"},
        "AmazonS3FullAccess",
    ),
    (
        "iam-no-broad-managed-policies",
        r.IAM_ROLE,
        {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
        "AdministratorAccess",
    ),
    (
        "iam-no-broad-managed-policies",
        r.IAM_ROLE_POLICY_ATTACHMENT,
        {
            "role": "x",
            "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        },
        None,
    ),
    ("log-group-retention", r.LOG_GROUP, {"name": "/aws/lambda/f", "retentionInDays": 14.0}, None),
    ("log-group-retention", r.LOG_GROUP, {"name": "/aws/lambda/f"}, "retentionInDays"),
    ("log-group-retention", r.LOG_GROUP, {"name": "/aws/lambda/f", "retentionInDays": 0}, "retentionInDays"),
    # DynamoDB
    ("dynamodb-encrypted-with-cmk", r.DYNAMODB_TABLE, GOOD_TABLE, None),
    (
        "dynamodb-encrypted-with-cmk",
        r.DYNAMODB_TABLE,
        {**GOOD_TABLE, "serverSideEncryption": {"enabled": True}},
        "kmsKeyArn",
    ),
    ("dynamodb-encrypted-with-cmk", r.DYNAMODB_TABLE, {"name": "t"}, "serverSideEncryption"),
    ("dynamodb-pitr", r.DYNAMODB_TABLE, GOOD_TABLE, None),
    (
        "dynamodb-pitr",
        r.DYNAMODB_TABLE,
        {**GOOD_TABLE, "pointInTimeRecovery": {"enabled": False}},
        "pointInTimeRecovery",
    ),
    ("dynamodb-pitr", r.DYNAMODB_TABLE, {"name": "t"}, "pointInTimeRecovery"),
    # API Gateway
    (
        "api-method-requires-auth",
        r.API_METHOD,
        {"httpMethod": "PUT", "authorization": "NONE", "apiKeyRequired": True},
        None,
    ),
    ("api-method-requires-auth", r.API_METHOD, {"httpMethod": "GET", "authorization": "AWS_IAM"}, None),
    (
        "api-method-requires-auth",
        r.API_METHOD,
        {"httpMethod": "GET", "authorization": "CUSTOM", "authorizerId": "abc"},
        None,
    ),
    ("api-method-requires-auth", r.API_METHOD, {"httpMethod": "OPTIONS", "authorization": "NONE"}, None),
    # the gallery's static files are keyless GETs by name; the name opens nothing else
    (
        "api-method-requires-auth",
        r.API_METHOD,
        {"httpMethod": "GET", "authorization": "NONE", "operationName": "GetGalleryAsset"},
        None,
    ),
    (
        "api-method-requires-auth",
        r.API_METHOD,
        {"httpMethod": "PUT", "authorization": "NONE", "operationName": "GetGalleryPage"},
        "PUT method",
    ),
    (
        "api-method-requires-auth",
        r.API_METHOD,
        {"httpMethod": "GET", "authorization": "NONE", "operationName": "GetImage"},
        "GET method",
    ),
    ("api-method-requires-auth", r.API_METHOD, {"httpMethod": "GET", "authorization": "NONE"}, "GET method"),
    (
        "api-method-requires-auth",
        r.API_METHOD,
        {"httpMethod": "ANY", "authorization": "NONE", "apiKeyRequired": False},
        "ANY method",
    ),
    # AWS's name limits (mocks and moto accept any name)
    ("aws-name-limits", r.LAMBDA_FUNCTION, {"name": "imgpipe-dev-process-a1b2c3"}, None),
    ("aws-name-limits", r.LAMBDA_FUNCTION, {"name": "f" * 65}, "at most 64"),
    ("aws-name-limits", r.LAMBDA_FUNCTION, {"name": "imgpipe-my.stack-process"}, "characters AWS refuses"),
    ("aws-name-limits", r.LAMBDA_FUNCTION, {"runtime": "python3.12"}, None),  # autonamed
    ("aws-name-limits", r.KMS_ALIAS, {"name": "alias/imgpipe-dev-uploads-5c155cdd-key"}, None),
    ("aws-name-limits", r.KMS_ALIAS, {"name": "alias/aws/imgpipe"}, "characters AWS refuses"),
    ("aws-name-limits", r.KMS_ALIAS, {"name": "imgpipe-key"}, "'alias/'"),
    ("aws-name-limits", r.DASHBOARD, {"dashboardName": "imgpipe-my.stack-pipeline"}, "characters AWS"),
    ("aws-name-limits", r.BUCKET, {"bucket": "imgpipe-dev-uploads-5c155cdd"}, None),
    ("aws-name-limits", r.BUCKET, {"bucket": "Imgpipe_Uploads"}, "characters AWS refuses"),
    ("aws-name-limits", r.BUCKET, {"bucket": "b" * 64}, "at most 63"),
    ("aws-name-limits", r.LOG_GROUP, {"name": "/aws/lambda/imgpipe-dev-process-a1b2c3"}, None),
    ("aws-name-limits", r.LOG_GROUP, {"name": "/aws/lambda/fn with space"}, "characters AWS refuses"),
    ("aws-name-limits", r.SQS_QUEUE, {"name": "q" * 81}, "at most 80"),
    ("aws-name-limits", r.LAMBDA_LAYER, {"layerName": "imgpipe-dev-pillow-arm64-a1b2c3"}, None),
    ("aws-name-limits", r.IAM_ROLE, {"name": "r" * 65}, "at most 64"),
    ("aws-name-limits", r.DYNAMODB_TABLE, {"name": "ab"}, "characters AWS refuses"),
    # KMS grants to services whose KMS calls carry no aws:Source* keys
    (
        "kms-service-grant-conditions",
        r.KMS_KEY,
        {"policy": doc(CLOUDWATCH_KEY_GRANT)},
        None,
    ),
    (
        "kms-service-grant-conditions",
        r.KMS_KEY,
        {
            "policy": doc(
                {**CLOUDWATCH_KEY_GRANT, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
            )
        },
        "aws:SourceAccount",
    ),
    (
        "kms-service-grant-conditions",
        r.KMS_KEY,
        {
            "policy": doc(
                {
                    **CLOUDWATCH_KEY_GRANT,
                    "Principal": {"Service": ["events.amazonaws.com"]},
                    "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/x"}},
                }
            )
        },
        "events.amazonaws.com",
    ),
    (  # conditions on services that do send them (S3 → SNS) are fine
        "kms-service-grant-conditions",
        r.KMS_KEY,
        {
            "policy": doc(
                {
                    **CLOUDWATCH_KEY_GRANT,
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                }
            )
        },
        None,
    ),
    # KMS key policies: administration apart from use, use only through a service (issue 13)
    ("kms-key-policy-explicit", r.KMS_KEY, {"policy": doc(KEY_ADMIN, KEY_USE_VIA_S3)}, None),
    ("kms-key-policy-explicit", r.KMS_KEY, {"description": "default policy"}, "AWS's default key policy"),
    (
        "kms-key-policy-explicit",
        r.KMS_KEY,
        {"policy": doc({**KEY_ADMIN, "Action": "kms:*"})},  # AWS's default statement
        "allows kms:*",
    ),
    (
        "kms-key-policy-explicit",
        r.KMS_KEY,
        {"policy": doc(KEY_ADMIN, {**KEY_USE_VIA_S3, "Condition": {}})},
        "directly: add a kms:ViaService",
    ),
    (
        "kms-key-policy-explicit",
        r.KMS_KEY,
        {"policy": doc({**KEY_ADMIN, "Action": [*KEY_ADMIN["Action"], "kms:Decrypt"]})},
        "kms:Decrypt directly",
    ),
    # service principals (CloudWatch → the alarm topic) are not account principals
    ("kms-key-policy-explicit", r.KMS_KEY, {"policy": doc(KEY_ADMIN, CLOUDWATCH_KEY_GRANT)}, None),
    # IAM KMS grants: through one service, for one resource
    ("iam-kms-grants-via-service", r.IAM_ROLE_POLICY, {"policy": doc(ROLE_KMS_GRANT)}, None),
    (
        "iam-kms-grants-via-service",
        r.IAM_ROLE_POLICY,
        {"policy": doc({**ROLE_KMS_GRANT, "Condition": None})},
        "without a kms:ViaService condition",
    ),
    (
        "iam-kms-grants-via-service",
        r.IAM_ROLE_POLICY,
        {
            "policy": doc(
                {**ROLE_KMS_GRANT, "Condition": {"StringEquals": ROLE_KMS_GRANT["Condition"]["StringEquals"]}}
            )
        },
        "kms:EncryptionContext",
    ),
    (
        "iam-kms-grants-via-service",
        r.IAM_ROLE,
        {"inlinePolicies": [{"name": "p", "policy": doc({**ROLE_KMS_GRANT, "Condition": None})}]},
        "inlinePolicies[p]",
    ),
    # SQS encryption
    ("sqs-encrypted-with-cmk", r.SQS_QUEUE, {"kmsMasterKeyId": KEY_ARN}, None),
    ("sqs-encrypted-with-cmk", r.SQS_QUEUE, {"sqsManagedSseEnabled": True}, "customer managed KMS key"),
    ("sqs-encrypted-with-cmk", r.SQS_QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}, "customer managed KMS key"),
]


@pytest.mark.parametrize(
    ("rule_name", "resource_type", "props", "expected"),
    CASES,
    ids=[f"{c[0]}-{i}-{'pass' if c[3] is None else 'fail'}" for i, c in enumerate(CASES)],
)
def test_resource_rule(
    rule_name: str, resource_type: str, props: dict[str, Any], expected: str | None
) -> None:
    rule = r.RULES_BY_NAME[rule_name]
    messages = rule.check(resource_type, props)  # type: ignore[call-arg]
    if expected is None:
        assert messages == []
    else:
        assert messages, f"{rule_name} accepted {props}"
        assert expected in messages[0]


def test_every_resource_rule_has_passing_and_failing_cases() -> None:
    for rule in r.RULES:
        if rule.kind != "resource":
            continue
        outcomes = {expected is None for name, _, _, expected in CASES if name == rule.name}
        assert outcomes == {True, False}, f"{rule.name} needs a passing and a failing case"


def test_resource_rules_ignore_other_types() -> None:
    for rule in r.RULES:
        if rule.kind == "resource":
            assert rule.check("aws:sns/topic:Topic", {"name": "x", "policy": "{}"}) == []  # type: ignore[call-arg]


# --- stack rules -----------------------------------------------------------------------------
def bucket_graph(name: str = "uploads", bucket_id: str = "imgpipe-uploads-1a2b") -> list[Resource]:
    """A bucket and its five configuration resources, linked by the bucket's id."""
    return [
        from_plain(r.BUCKET, f"{name}-bucket", {"id": bucket_id, "bucket": bucket_id, "arn": BUCKET_ARN}),
        from_plain(r.BUCKET_PAB, f"{name}-pab", {**GOOD_PAB, "bucket": bucket_id}),
        from_plain(
            r.BUCKET_OWNERSHIP,
            f"{name}-own",
            {"bucket": bucket_id, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        ),
        from_plain(
            r.BUCKET_VERSIONING,
            f"{name}-ver",
            {"bucket": bucket_id, "versioningConfiguration": {"status": "Enabled"}},
        ),
        from_plain(r.BUCKET_SSE, f"{name}-sse", {**GOOD_SSE, "bucket": bucket_id}),
        from_plain(r.BUCKET_POLICY, f"{name}-policy", {"bucket": bucket_id, "policy": doc(TLS_DENY)}),
    ]


def function_graph(
    *,
    dlq: bool = False,
    destination: bool = True,
    log_group: str | None = "/aws/lambda/proc-fn",
    retention: float | None = 14.0,
) -> list[Resource]:
    graph = [
        from_plain(
            r.LAMBDA_FUNCTION,
            "proc",
            {
                "name": "proc-fn",
                "arn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:proc-fn",
                **({"deadLetterConfig": {"targetArn": "arn:aws:sqs:eu-west-1:1:dlq"}} if dlq else {}),
            },
            urn="urn:pulumi:dev::imgpipe::aws:lambda/function:Function::proc",
        )
    ]
    if destination:
        graph.append(
            from_plain(
                r.LAMBDA_INVOKE_CONFIG,
                "proc-async",
                {
                    "functionName": "proc-fn",
                    "maximumRetryAttempts": 2.0,
                    "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:eu-west-1:1:dlq"}},
                },
            )
        )
    if log_group:
        graph.append(
            from_plain(
                r.LOG_GROUP,
                "proc-logs",
                {"name": log_group, **({"retentionInDays": retention} if retention is not None else {})},
            )
        )
    return graph


def stack_messages(rule_name: str, graph: list[Resource]) -> list[str]:
    return [v.message for v in r.RULES_BY_NAME[rule_name].check(graph)]  # type: ignore[call-arg]


def test_bucket_with_every_configuration_passes() -> None:
    assert (
        stack_messages("s3-bucket-fully-configured", bucket_graph() + bucket_graph("out", "imgpipe-out-9"))
        == []
    )


@pytest.mark.parametrize(
    ("dropped", "label"),
    [
        (r.BUCKET_PAB, "public access block"),
        (r.BUCKET_OWNERSHIP, "ownership controls"),
        (r.BUCKET_VERSIONING, "versioning"),
        (r.BUCKET_SSE, "default encryption"),
        (r.BUCKET_POLICY, "bucket policy"),
    ],
)
def test_bucket_missing_a_configuration_is_caught(dropped: str, label: str) -> None:
    graph = [res for res in bucket_graph() if res.type != dropped]
    assert stack_messages("s3-bucket-fully-configured", graph) == [f"bucket 'uploads-bucket' has no {label}"]


def test_configuration_of_another_bucket_does_not_count() -> None:
    graph = bucket_graph() + [
        res for res in bucket_graph("out", "imgpipe-out-9") if res.type != r.BUCKET_VERSIONING
    ]
    assert stack_messages("s3-bucket-fully-configured", graph) == ["bucket 'out-bucket' has no versioning"]


def test_bucket_linked_by_property_dependency_when_names_are_unknown() -> None:
    # During `pulumi up` CrossGuard links children through property dependencies (URNs).
    urn = "urn:pulumi:dev::imgpipe::aws:s3/bucket:Bucket::uploads-bucket"
    bucket = Resource(r.BUCKET, "uploads-bucket", {}, urn=urn)
    children = [
        Resource(
            res.type,
            res.name,
            {k: v for k, v in res.props.items() if k != "bucket"},
            property_dependencies={"bucket": (urn,)},
        )
        for res in bucket_graph()[1:]
    ]
    assert stack_messages("s3-bucket-fully-configured", [bucket, *children]) == []


def test_function_with_on_failure_destination_or_dlq_passes() -> None:
    assert stack_messages("lambda-failure-destination", function_graph()) == []
    assert stack_messages("lambda-failure-destination", function_graph(dlq=True, destination=False)) == []


def test_function_without_failure_destination_is_caught() -> None:
    violations = r.RULES_BY_NAME["lambda-failure-destination"].check(function_graph(destination=False))  # type: ignore
    assert len(violations) == 1
    assert "'proc'" in violations[0].message
    assert violations[0].urn == "urn:pulumi:dev::imgpipe::aws:lambda/function:Function::proc"


def test_invoke_config_of_another_function_does_not_count() -> None:
    graph = [
        *function_graph(destination=False),
        from_plain(
            r.LAMBDA_INVOKE_CONFIG,
            "other",
            {
                "functionName": "other-fn",
                "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:x:1:q"}},
            },
        ),
    ]
    assert len(stack_messages("lambda-failure-destination", graph)) == 1


def test_function_log_group_rules() -> None:
    assert stack_messages("lambda-log-retention", function_graph()) == []
    assert (
        "no LogGroup named '/aws/lambda/proc-fn'"
        in stack_messages("lambda-log-retention", function_graph(log_group=None))[0]
    )
    assert "retentionInDays" in stack_messages("lambda-log-retention", function_graph(retention=None))[0]
    # a group with another name is not the function's
    assert stack_messages("lambda-log-retention", function_graph(log_group="/aws/lambda/other"))


def test_function_with_custom_logging_config() -> None:
    graph = function_graph(log_group="/imgpipe/proc")
    graph[0] = from_plain(
        r.LAMBDA_FUNCTION,
        "proc",
        {**graph[0].props, "loggingConfig": {"logFormat": "JSON", "logGroup": "/imgpipe/proc"}},
    )
    assert stack_messages("lambda-log-retention", graph) == []


def api_resource(name: str, part: str, parent: str = "root0", urn: str | None = None) -> Resource:
    return from_plain(
        r.API_RESOURCE, name, {"restApi": "a1", "parentId": parent, "pathPart": part, "id": f"{name}-id"}, urn
    )


def test_reserved_concurrency_quota_sums_the_stacks_functions() -> None:
    """The image function's and the render function's reservations share one account minimum."""
    check = r.lambda_reserved_concurrency_quota
    unreserved = Resource(r.LAMBDA_FUNCTION, "api", {"name": "api"}, "urn:api")
    zero = Resource(r.LAMBDA_FUNCTION, "z", {"reservedConcurrentExecutions": 0.0}, "urn:z")
    assert check([unreserved, zero]) == []
    process = Resource(r.LAMBDA_FUNCTION, "process", {"reservedConcurrentExecutions": 50.0}, "urn:p")
    render = Resource(r.LAMBDA_FUNCTION, "render", {"reservedConcurrentExecutions": 20.0}, "urn:r")
    [one] = check([process, unreserved])
    assert "at least 150" in one.message and one.urn == "urn:p"
    [both] = check([unreserved, process, render])
    assert "reserves 70 concurrent executions (process 50, render 20)" in both.message
    assert "at least 170" in both.message and "renderConcurrency" in both.message


def test_one_path_variable_per_level() -> None:
    ok = [
        api_resource("images", "images"),
        api_resource("uploads", "uploads"),
        api_resource("image", "{image_id}", "images-id"),
        api_resource("upload-key", "{key+}", "uploads-id"),
        api_resource("render", "render", "image-id"),
        api_resource("variants", "variants", "image-id"),
    ]
    assert stack_messages("apigateway-one-path-variable-per-level", ok) == []
    # the layout before uploads moved under /uploads: AWS refuses it, moto and mocks do not
    clash = [*ok, api_resource("by-key", "{key}", "images-id")]
    [message] = stack_messages("apigateway-one-path-variable-per-level", clash)
    assert "{image_id}, {key}" in message and "one per level" in message
    greedy = [*ok, api_resource("proxy", "{proxy+}", "uploads-id")]
    assert stack_messages("apigateway-one-path-variable-per-level", greedy)


def test_one_path_variable_per_level_during_preview() -> None:
    # ids unknown: siblings are found by the parent they depend on
    deps = {"parentId": ("urn:images",)}
    a = Resource(r.API_RESOURCE, "image", {"pathPart": "{image_id}"}, "urn:a", deps)
    b = Resource(r.API_RESOURCE, "by-key", {"pathPart": "{key}"}, "urn:b", deps)
    other = Resource(r.API_RESOURCE, "k", {"pathPart": "{key+}"}, "urn:c", {"parentId": ("urn:uploads",)})
    assert len(stack_messages("apigateway-one-path-variable-per-level", [a, b, other])) == 1


def test_check_graph_reports_every_rule_and_attributes_violations() -> None:
    graph = bucket_graph() + function_graph()
    report = r.check_graph(graph)
    assert set(report) == {rule.name for rule in r.RULES}
    assert all(v == [] for v in report.values()), report
    broken = [*graph, from_plain(r.API_METHOD, "open-get", {"httpMethod": "GET", "authorization": "NONE"})]
    report = r.check_graph(broken)
    assert [v.name for v in report["api-method-requires-auth"]] == ["open-get"]
    assert sum(len(v) for v in report.values()) == 1


def test_rule_registry_is_consistent() -> None:
    names = [rule.name for rule in r.RULES]
    assert len(names) == len(set(names))
    for rule in r.RULES:
        assert rule.kind in ("resource", "stack")
        assert rule.enforcement in ("advisory", "mandatory", "disabled")
        assert rule.description and rule.resource_types


# --- issue 13 stack rules --------------------------------------------------------------------
def _trust(conditions: dict[str, Any] | None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if conditions is not None:
        statement["Condition"] = conditions
    return doc(statement)


SOURCE = {
    "StringEquals": {"aws:SourceAccount": ACCOUNT},
    "ArnLike": {"aws:SourceArn": f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:a1b2c3d4e5/*"},
}


def test_apigateway_roles_need_source_conditions_except_the_account_logging_role() -> None:
    good = from_plain(
        r.IAM_ROLE, "integration-role", {"arn": "arn:role/i", "assumeRolePolicy": _trust(SOURCE)}
    )
    assert stack_messages("apigateway-trust-source-conditions", [good]) == []
    bare = from_plain(r.IAM_ROLE, "integration-role", {"arn": "arn:role/i", "assumeRolePolicy": _trust(None)})
    [message] = stack_messages("apigateway-trust-source-conditions", [bare])
    assert "without aws:SourceAccount and aws:SourceArn" in message
    half = from_plain(
        r.IAM_ROLE,
        "integration-role",
        {"arn": "arn:role/i", "assumeRolePolicy": _trust({"StringEquals": SOURCE["StringEquals"]})},
    )
    [message] = stack_messages("apigateway-trust-source-conditions", [half])
    assert "without aws:SourceArn:" in message
    # the CloudWatch logging role of the account setting is used for every API: exempt
    logging = from_plain(
        r.IAM_ROLE, "cloudwatch-role", {"arn": "arn:role/c", "assumeRolePolicy": _trust(None)}
    )
    account = from_plain(r.API_ACCOUNT, "account", {"cloudwatchRoleArn": "arn:role/c"})
    assert stack_messages("apigateway-trust-source-conditions", [logging, account]) == []
    # a Lambda role is not API Gateway's business
    lam = from_plain(
        r.IAM_ROLE,
        "fn-role",
        {"assumeRolePolicy": _trust(None).replace("apigateway.amazonaws.com", "lambda.amazonaws.com")},
    )
    assert stack_messages("apigateway-trust-source-conditions", [lam]) == []


def test_every_queue_needs_a_tls_only_queue_policy() -> None:
    url = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/dlq"
    queue = from_plain(
        r.SQS_QUEUE, "dlq", {"id": url, "url": url, "arn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:dlq"}
    )
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue.props["arn"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    policy = from_plain(r.SQS_QUEUE_POLICY, "dlq-policy", {"queueUrl": url, "policy": doc(deny)})
    assert stack_messages("sqs-tls-only", [queue, policy]) == []
    [message] = stack_messages("sqs-tls-only", [queue])
    assert "no queue policy denying aws:SecureTransport=false" in message
    allow_all = from_plain(
        r.SQS_QUEUE_POLICY, "dlq-policy", {"queueUrl": url, "policy": doc({**deny, "Effect": "Allow"})}
    )
    assert stack_messages("sqs-tls-only", [queue, allow_all])
    other = from_plain(r.SQS_QUEUE_POLICY, "other-policy", {"queueUrl": url + "-other", "policy": doc(deny)})
    assert stack_messages("sqs-tls-only", [queue, other])
