"""ImageProcessor as the real program registers it: function contract, layer, exact IAM,
log group with retention, async retries into the DLQ, S3 permission before notification."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from function.variants import variants_json
from tests.unit.mocks import ACCOUNT, Graph, Recorded, run_program
from tests.unit.test_config import load
from tests.unit.test_policy_graph import stack_config
from tests.unit.test_storage import child  # a storage component's one resource of a type

FUNCTION = "aws:lambda/function:Function"
COMPUTE = "imgpipe:index:ImageProcessor"


def part(graph: Graph, resource_type: str) -> Recorded:
    """The one resource of this type inside the ImageProcessor component."""
    component = graph.one(COMPUTE)
    found = [r for r in graph.children(component) if r.type == resource_type]
    assert len(found) == 1, (resource_type, [r.name for r in found])
    return found[0]


def test_function_follows_the_handler_contract(dev: Graph) -> None:
    fn = part(dev, FUNCTION)
    layer = part(dev, "aws:lambda/layerVersion:LayerVersion")
    assert fn.inputs["runtime"] == "python3.12"
    assert fn.inputs["handler"] == "function.handler.handler"
    assert fn.inputs["architectures"] == ["arm64"]
    assert fn.inputs["memorySize"] == 1536 and fn.inputs["timeout"] == 60
    assert fn.inputs["layers"] == [layer.state["arn"]]
    assert "reservedConcurrentExecutions" not in fn.inputs  # dev: unreserved
    code = fn.inputs["code"]
    assert list(code.assets) == ["function"]
    files = code.assets["function"].assets
    assert "handler.py" in files and "imaging.py" in files and "variants.py" in files
    assert all(name.endswith(".py") and "__pycache__" not in name for name in files)
    assert all(asset.path == f"function/{name}" for name, asset in files.items())
    assert fn.inputs["role"] == part(dev, "aws:iam/role:Role").state["arn"]


def test_function_environment_is_the_contract(dev: Graph) -> None:
    env = part(dev, FUNCTION).inputs["environment"]["variables"]
    assert env == {
        "UPLOAD_BUCKET": child(dev, "uploads", "aws:s3/bucket:Bucket").id,
        "PROCESSED_BUCKET": child(dev, "processed", "aws:s3/bucket:Bucket").id,
        "METADATA_TABLE": child(dev, "metadata", "aws:dynamodb/table:Table").id,
        "VARIANTS": variants_json(load(stack_config("dev")).variants),
        "MAX_PIXELS": "50000000",
        "MAX_ANIMATION_PIXELS": "100000000",
        "MAX_SOURCE_BYTES": str(25 * 1024 * 1024),
        "POWERTOOLS_SERVICE_NAME": "imgpipe",
        "POWERTOOLS_METRICS_NAMESPACE": "imgpipe",
        "LOG_LEVEL": "INFO",
    }


def test_layer_is_the_built_zip_for_the_architecture(dev: Graph) -> None:
    layer = part(dev, "aws:lambda/layerVersion:LayerVersion")
    assert layer.inputs["compatibleRuntimes"] == ["python3.12"]
    assert layer.inputs["compatibleArchitectures"] == ["arm64"]
    assert layer.inputs["code"].path.endswith(".zip")


def test_layer_path_comes_from_make_layer_when_not_overridden() -> None:
    root = Path(__file__).resolve().parents[2]
    built = root / "layer/build/layer-arm64-py3.12.zip"
    if not built.is_file():
        pytest.skip("layer not built (make test builds it first)")
    graph = run_program({}, layer_zip=None)
    # run_program runs in the project directory, as the CLI does: the path is project-relative
    assert part(graph, "aws:lambda/layerVersion:LayerVersion").inputs["code"].path == str(
        built.relative_to(root)
    )


def test_log_group_is_the_functions_with_retention(dev: Graph) -> None:
    fn, group = part(dev, FUNCTION), part(dev, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == f"/aws/lambda/{fn.state['name']}"
    assert group.inputs["retentionInDays"] == 14
    assert fn.inputs["loggingConfig"] == {"logGroup": group.inputs["name"], "logFormat": "JSON"}
    assert group.urn in fn.dependencies


def test_role_trusts_lambda_only(dev: Graph) -> None:
    trust = json.loads(part(dev, "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_role_policy_grants_exactly_what_the_handler_needs(dev: Graph) -> None:
    policy = part(dev, "aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == part(dev, "aws:iam/role:Role").id
    statements = json.loads(policy.inputs["policy"])["Statement"]
    grants = {s["Sid"]: (s["Action"], s["Resource"]) for s in statements}
    uploads = child(dev, "uploads", "aws:s3/bucket:Bucket").state["arn"]
    processed = child(dev, "processed", "aws:s3/bucket:Bucket").state["arn"]
    table = child(dev, "metadata", "aws:dynamodb/table:Table")
    key = {c: child(dev, c, "aws:kms/key:Key").state["arn"] for c in ("uploads", "processed", "metadata")}
    dlq = part(dev, "aws:sqs/queue:Queue").state["arn"]
    dlq_key = part(dev, "aws:kms/key:Key").state["arn"]
    group = part(dev, "aws:cloudwatch/logGroup:LogGroup").state["arn"]
    assert grants == {
        "ReadUploads": (["s3:GetObject", "s3:GetObjectVersion"], f"{uploads}/*"),
        # a deleted upload is 404 (recorded failed) only with ListBucket; else 403 → retries → DLQ
        "FindUploads": ("s3:ListBucket", uploads),
        "WriteVariants": (["s3:DeleteObject", "s3:PutObject"], f"{processed}/*"),
        "RecordMetadata": (["dynamodb:GetItem", "dynamodb:UpdateItem"], table.state["arn"]),
        "DecryptUploads": ("kms:Decrypt", key["uploads"]),
        "EncryptVariants": (["kms:Decrypt", "kms:GenerateDataKey"], key["processed"]),
        "EncryptMetadata": (["kms:Decrypt", "kms:GenerateDataKey"], key["metadata"]),
        "DeadLetters": ("sqs:SendMessage", dlq),
        "EncryptDeadLetters": (["kms:Decrypt", "kms:GenerateDataKey"], dlq_key),
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], f"{group}:*"),
    }
    assert all(s["Effect"] == "Allow" for s in statements)
    # every KMS grant only through the owning service and for the one resource (issue 13)
    conditions = {s["Sid"]: s["Condition"] for s in statements if s["Sid"] in grants and "Condition" in s}
    via = "{}.us-east-1.amazonaws.com"
    assert conditions == {
        "DecryptUploads": {
            "StringEquals": {"kms:ViaService": via.format("s3")},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [uploads, f"{uploads}/*"]},
        },
        "EncryptVariants": {
            "StringEquals": {"kms:ViaService": via.format("s3")},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [processed, f"{processed}/*"]},
        },
        "EncryptMetadata": {
            "StringEquals": {"kms:ViaService": via.format("dynamodb")},
            "StringLike": {"kms:EncryptionContext:aws:dynamodb:tableName": table.state["name"]},
        },
        "EncryptDeadLetters": {
            "StringEquals": {"kms:ViaService": via.format("sqs")},
            "StringLike": {"kms:EncryptionContext:aws:sqs:arn": dlq},
        },
    }


def test_failed_events_retry_twice_then_go_to_the_dlq(dev: Graph) -> None:
    dlq = part(dev, "aws:sqs/queue:Queue")
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    config = part(dev, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert config.inputs["functionName"] == part(dev, FUNCTION).state["name"]
    assert config.inputs["maximumRetryAttempts"] == 2
    assert config.inputs["maximumEventAgeInSeconds"] == 6 * 3600
    assert config.inputs["destinationConfig"] == {"onFailure": {"destination": dlq.state["arn"]}}


def test_dlq_is_encrypted_with_its_own_customer_key_and_tls_only(dev: Graph) -> None:
    dlq = part(dev, "aws:sqs/queue:Queue")
    key = part(dev, "aws:kms/key:Key")
    assert dlq.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert "sqsManagedSseEnabled" not in dlq.inputs
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["UseThroughOwningService"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "sqs.us-east-1.amazonaws.com",
        "kms:CallerAccount": ACCOUNT,
    }
    policy = part(dev, "aws:sqs/queuePolicy:QueuePolicy")
    assert policy.inputs["queueUrl"] == dlq.state["url"]
    [deny] = json.loads(policy.inputs["policy"])["Statement"]
    assert deny == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": dlq.state["arn"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_s3_may_invoke_only_from_the_upload_bucket_of_this_account(dev: Graph) -> None:
    permission = part(dev, "aws:lambda/permission:Permission")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": part(dev, FUNCTION).state["name"],
        "principal": "s3.amazonaws.com",
        "sourceArn": child(dev, "uploads", "aws:s3/bucket:Bucket").state["arn"],
        "sourceAccount": ACCOUNT,
    }


def test_notification_is_registered_after_the_permission(dev: Graph) -> None:
    notification = part(dev, "aws:s3/bucketNotification:BucketNotification")
    permission = part(dev, "aws:lambda/permission:Permission")
    assert notification.inputs["bucket"] == child(dev, "uploads", "aws:s3/bucket:Bucket").id
    assert notification.inputs["lambdaFunctions"] == [
        {"lambdaFunctionArn": part(dev, FUNCTION).state["arn"], "events": ["s3:ObjectCreated:*"]}
    ]
    # no input of the notification comes from the permission: only depends_on can order them
    assert all(permission.urn not in urns for urns in notification.property_dependencies.values())
    assert permission.urn in notification.dependencies


def test_the_dependency_check_can_fail(tmp_path: Path) -> None:
    # The same two resources without depends_on: the recorded request has no such dependency.
    program = tmp_path / "__main__.py"
    program.write_text(
        textwrap.dedent(
            """
            import pulumi_aws as aws
            p = aws.lambda_.Permission("p", action="lambda:InvokeFunction", function="f",
                                       principal="s3.amazonaws.com", source_arn="arn:aws:s3:::b")
            aws.s3.BucketNotification("n", bucket="b", lambda_functions=[
                {"lambda_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                 "events": ["s3:ObjectCreated:*"]}])
            """
        )
    )
    graph = run_program({}, program=program)
    notification = graph.one("aws:s3/bucketNotification:BucketNotification")
    assert graph.one("aws:lambda/permission:Permission").urn not in notification.dependencies


def test_config_reaches_the_function(tmp_path: Path) -> None:
    graph = run_program(
        {
            "architecture": "x86_64",
            "memoryMb": 2048,
            "timeoutSeconds": 300,
            "logRetentionDays": 30,
            "reservedConcurrency": 7,
            "maxPixels": 1000,
            "maxAnimationPixels": 5000,
            "maxUploadMb": 2,
            "variants": [{"name": "small", "format": "webp", "max_width": 320}],
        }
    )
    fn = part(graph, FUNCTION)
    assert fn.inputs["architectures"] == ["x86_64"]
    assert (fn.inputs["memorySize"], fn.inputs["timeout"]) == (2048, 300)
    assert fn.inputs["reservedConcurrentExecutions"] == 7
    env = fn.inputs["environment"]["variables"]
    assert (env["MAX_PIXELS"], env["MAX_SOURCE_BYTES"]) == ("1000", str(2 * 1024 * 1024))
    assert env["MAX_ANIMATION_PIXELS"] == "5000"
    assert [v["name"] for v in json.loads(env["VARIANTS"])] == ["small"]
    assert part(graph, "aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 30
    layer = part(graph, "aws:lambda/layerVersion:LayerVersion")
    assert layer.inputs["compatibleArchitectures"] == ["x86_64"]
    assert "-pillow-x86_64-" in layer.inputs["layerName"]
