"""A small program for the local engine's own tests: upload bucket → function → output bucket + table."""

import json
from typing import Any

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
suffix = config.require("suffix")

key = aws.kms.Key("key", description="mini", enable_key_rotation=True)
uploads = aws.s3.Bucket("uploads", force_destroy=True)
aws.s3.BucketVersioning(
    "uploads-versioning", bucket=uploads.id, versioning_configuration={"status": "Enabled"}
)
aws.s3.BucketServerSideEncryptionConfiguration(
    "uploads-sse",
    bucket=uploads.id,
    rules=[
        {
            "apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms",
                "kms_master_key_id": key.arn,
            },
            "bucket_key_enabled": True,
        }
    ],
)
tls = aws.iam.get_policy_document_output(
    statements=[
        {
            "sid": "DenyInsecureTransport",
            "effect": "Deny",
            "principals": [{"type": "*", "identifiers": ["*"]}],
            "actions": ["s3:*"],
            "resources": [uploads.arn, uploads.arn.apply(lambda a: f"{a}/*")],
            "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
        }
    ]
)
aws.s3.BucketPolicy("uploads-policy", bucket=uploads.id, policy=tls.json)
output = aws.s3.Bucket("output", force_destroy=True)
table = aws.dynamodb.Table(
    "items",
    billing_mode="PAY_PER_REQUEST",
    hash_key="id",
    attributes=[{"name": "id", "type": "S"}],
    point_in_time_recovery={"enabled": True},
    deletion_protection_enabled=True,
)
dlq = aws.sqs.Queue("dlq", message_retention_seconds=1209600)
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def access_policy(statements: list[dict]) -> pulumi.Output[str]:
    return aws.iam.get_policy_document_output(statements=statements).json


read_uploads = {
    "actions": ["s3:GetObject", "s3:GetObjectVersion"],
    "resources": [uploads.arn.apply(lambda a: f"{a}/*")],
}
write_items = {"actions": ["dynamodb:PutItem"], "resources": [table.arn]}
role = aws.iam.Role("fn-role", assume_role_policy=LAMBDA_TRUST)
aws.iam.RolePolicy(
    "fn-access",
    role=role.id,
    policy=access_policy(
        [
            read_uploads,
            {"actions": ["s3:PutObject"], "resources": [output.arn.apply(lambda a: f"{a}/copy/*")]},
            write_items,
        ]
    ),
)
# The same code under a role without s3:PutObject: the local IAM check must refuse its write.
readonly_role = aws.iam.Role("readonly-role", assume_role_policy=LAMBDA_TRUST)
aws.iam.RolePolicy(
    "readonly-access", role=readonly_role.id, policy=access_policy([read_uploads, write_items])
)


def handler_function(name: str, role_arn: pulumi.Input[str], **extra: Any) -> aws.lambda_.Function:
    """The test handler as a function; only the role (and options such as a DLQ) differ."""
    return aws.lambda_.Function(
        name,
        role=role_arn,
        runtime="python3.12",
        handler="handler.app.handler",
        code=pulumi.AssetArchive({"handler": pulumi.FileArchive("./handler")}),
        timeout=30,
        environment={"variables": {"OUTPUT_BUCKET": output.id, "TABLE": table.name, "SUFFIX": suffix}},
        **extra,
    )


readonly_fn = handler_function("readonly-fn", readonly_role.arn)
fn = handler_function("fn", role.arn, dead_letter_config={"target_arn": dlq.arn})
aws.lambda_.FunctionEventInvokeConfig("fn-async", function_name=fn.name, maximum_retry_attempts=1)
perm = aws.lambda_.Permission(
    "fn-s3",
    action="lambda:InvokeFunction",
    function=fn.name,
    principal="s3.amazonaws.com",
    source_arn=uploads.arn,
)
aws.s3.BucketNotification(
    "uploads-notify",
    bucket=uploads.id,
    lambda_functions=[{"lambda_function_arn": fn.arn, "events": ["s3:ObjectCreated:*"]}],
    opts=pulumi.ResourceOptions(depends_on=[perm]),
)
pulumi.export("upload_bucket", uploads.id)
pulumi.export("output_bucket", output.id)
pulumi.export("table", table.name)
pulumi.export("function_name", fn.name)
pulumi.export("readonly_function_name", readonly_fn.name)
pulumi.export("dlq_url", dlq.url)
pulumi.export("token", pulumi.Output.secret("s3cret"))
