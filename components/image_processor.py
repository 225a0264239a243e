"""ImageProcessor: the Pillow Lambda that turns every upload into variants + a metadata item.

Owns the function and everything that exists only for it: the Pillow layer version, its
role and inline policy (exact ARNs, KMS only for the three keys it touches), its log group
(created by the stack so it has a retention), the async invoke config (2 retries, then the
SQS dead-letter queue) and the S3 → Lambda wiring (permission first, then the notification).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi import Output, ResourceOptions

from components.encryption_key import customer_key
from components.iam import dynamodb_key_grant, policy_document, s3_key_grant, sqs_key_grant
from components.inputs import Architecture, DataStore
from components.lambda_function import RUNTIME, LambdaFunction, LambdaFunctionArgs, data_environment
from components.naming import physical_base
from components.package import component_type, from_inputs, package_options
from function import env
from function.variants import Variant

HANDLER = "function.handler.handler"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS maximum: time to notice, fix and redrive


def function_code(root: str = ".") -> pulumi.Archive:
    """The function archive: the ``function/`` package at the archive root (handler contract).

    Only the ``.py`` sources, listed one by one: a plain ``FileArchive`` would also pack
    ``__pycache__``, whose bytes differ between checkouts and would redeploy unchanged code.
    """
    package = Path(root) / "function"
    sources = sorted(
        p.relative_to(package).as_posix() for p in package.rglob("*.py") if "__pycache__" not in p.parts
    )
    if not sources:
        raise FileNotFoundError(
            f"no handler sources in {package}: run pulumi from the imgpipe project directory"
        )
    files: dict[str, pulumi.Asset | pulumi.Archive] = {
        name: pulumi.FileAsset(f"{package.as_posix()}/{name}") for name in sources
    }
    return pulumi.AssetArchive({"function": pulumi.AssetArchive(files)})


@dataclass
class ImageProcessorArgs:
    """Everything the function reads, writes and is configured with."""

    upload_bucket: DataStore
    """Bucket whose ``s3:ObjectCreated:*`` events trigger the function (read only; its key:
    ``kms:Decrypt`` only, through S3, for this bucket)."""
    processed_bucket: DataStore
    """Bucket the variants are written to (its key: ``kms:GenerateDataKey`` + ``kms:Decrypt``,
    through S3)."""
    table: DataStore
    """Metadata table: one item per upload."""
    code: pulumi.Archive
    """The function archive (:func:`function_code`)."""
    layer_zip: str
    """Path of the Pillow layer zip built by ``make layer`` for ``architecture``."""
    architecture: Architecture
    """CPU architecture of the function and the layer."""
    memory_mb: int
    """Function memory in MB, 128-10240 (the CPU share grows with it)."""
    timeout_seconds: int
    """Function timeout in seconds, 1-900."""
    log_retention_days: int
    """Retention of the function's log group (a value CloudWatch Logs accepts)."""
    variants: Sequence[Variant]
    """The renditions made of every upload."""
    max_pixels: int
    """Images with more pixels are refused before decoding."""
    max_source_bytes: int
    """Objects larger than this are refused without being downloaded."""
    max_animation_pixels: int = 100_000_000
    """Frames x pixels that animated variants keep (longer animations are cut)."""
    reserved_concurrency: int | None = None
    """Cap on concurrent runs (None: unreserved)."""
    max_retry_attempts: int = 2
    """Async retries after a failed run (0..2) before the event goes to the DLQ."""
    max_event_age_seconds: int = 6 * 3600
    """Events older than this (e.g. throttled for hours) go to the DLQ instead of running."""
    log_level: str = "INFO"
    """The function's log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."""


class ImageProcessor(pulumi.ComponentResource):
    """The image function and its layer, role, logs, retries/DLQ and S3 trigger.

    Attributes: ``function_name``, ``function_arn``, ``layer_arn``, ``role_arn``, ``dlq_url``,
    ``dlq_arn``, ``dlq_name``, ``log_group_name`` (all ``Output[str]``) and ``function``.
    """

    function_name: Output[str]
    """The image function's name."""
    function_arn: Output[str]
    """The image function's ARN."""
    layer_arn: Output[str]
    """The Pillow + Powertools layer version ARN (the API functions use it too)."""
    role_arn: Output[str]
    """The image function's role ARN."""
    dlq_url: Output[str]
    """URL of the dead-letter queue (events that failed every retry)."""
    dlq_arn: Output[str]
    """ARN of the dead-letter queue."""
    dlq_name: Output[str]
    """Name of the dead-letter queue."""
    log_group_name: Output[str]
    """The image function's log group."""

    def __init__(self, name: str, args: ImageProcessorArgs, opts: ResourceOptions | None = None) -> None:
        args = from_inputs(ImageProcessorArgs, args)  # a dict when constructed through the package
        super().__init__(
            component_type("ImageProcessor"),
            name,
            None,
            package_options("imgpipe:compute:ImageProcessor", opts),
        )
        child = ResourceOptions(parent=self)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        prefix = f"{project}-{stack}"

        # Random suffix: several stacks can share an account (function, log group and layer
        # names are unique per account+region; components/naming.py).
        suffix = random.RandomId(f"{name}-suffix", byte_length=3, opts=child)
        self.layer = aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=suffix.hex.apply(
                lambda hex_: physical_base(project, stack, "pillow", args.architecture, hex_)[-140:]
            ),
            description="Pillow + Powertools for the imgpipe image function (make layer)",
            code=pulumi.FileArchive(args.layer_zip),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[args.architecture],
            opts=child,
        )

        region = aws.get_region_output().region
        # The DLQ holds whole S3 events (bucket, key, who uploaded): encrypted with its own customer
        # key (SSE-KMS), usable only through SQS (components/encryption_key.py), not SQS's own key.
        self.dlq_key = customer_key(f"{name}-dlq", self, encrypts="dead-letter queue", service="sqs")
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            kms_master_key_id=self.dlq_key.arn,
            # one data key per 5 minutes instead of one KMS call per message (AWS's default value)
            kms_data_key_reuse_period_seconds=300,
            opts=child,
        )
        # TLS only, like the buckets: a request over plain HTTP is denied whoever sends it.
        # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dlq.url,
            policy=policy_document(
                [
                    {
                        "sid": "DenyInsecureTransport",
                        "effect": "Deny",
                        "principals": [{"type": "*", "identifiers": ["*"]}],
                        "actions": ["sqs:*"],
                        "resources": [self.dlq.arn],
                        "conditions": [
                            {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}
                        ],
                    }
                ]
            ),
            opts=child,
        )

        recipe = LambdaFunction(
            self,
            name,
            LambdaFunctionArgs(
                base=prefix,
                purpose=name,
                suffix=suffix.hex,
                description="imgpipe: variants + metadata for each upload",
                role_description="imgpipe image function: read uploads, write variants and metadata",
                handler=HANDLER,
                code=args.code,
                layers=[self.layer.arn],
                architecture=args.architecture,
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                log_retention_days=args.log_retention_days,
                # UPLOAD_BUCKET: events from any other bucket are ignored, so variants never
                # retrigger the pipeline
                environment={
                    **data_environment(
                        args.upload_bucket,
                        args.processed_bucket,
                        args.table,
                        args.variants,
                        args.max_pixels,
                        args.max_animation_pixels,
                    ),
                    env.MAX_SOURCE_BYTES: str(args.max_source_bytes),
                },
                statements=[
                    {
                        "sid": "ReadUploads",
                        "actions": ["s3:GetObject", "s3:GetObjectVersion"],
                        "resources": [Output.concat(args.upload_bucket.arn, "/*")],
                    },
                    {
                        # Without it S3 answers a missing key or version with 403 AccessDenied, not
                        # 404 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
                        # a deleted upload would be retried into the DLQ instead of recorded failed.
                        "sid": "FindUploads",
                        "actions": ["s3:ListBucket"],
                        "resources": [args.upload_bucket.arn],
                    },
                    {
                        "sid": "WriteVariants",
                        # Delete: a run that fails half-way removes the variants it already wrote.
                        "actions": ["s3:DeleteObject", "s3:PutObject"],
                        "resources": [Output.concat(args.processed_bucket.arn, "/*")],
                    },
                    {
                        "sid": "RecordMetadata",
                        "actions": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                        "resources": [args.table.arn],
                    },
                    # KMS only through the owning service, for the one bucket/table/queue
                    # (kms:ViaService + encryption context: components/iam.py)
                    s3_key_grant(
                        "DecryptUploads",
                        ["kms:Decrypt"],
                        args.upload_bucket.key_arn,
                        args.upload_bucket.arn,
                        region,
                    ),
                    s3_key_grant(
                        "EncryptVariants",
                        ["kms:Decrypt", "kms:GenerateDataKey"],
                        args.processed_bucket.key_arn,
                        args.processed_bucket.arn,
                        region,
                    ),
                    dynamodb_key_grant(
                        "EncryptMetadata",
                        ["kms:Decrypt", "kms:GenerateDataKey"],
                        args.table.key_arn,
                        args.table.name,
                        region,
                    ),
                    {
                        "sid": "DeadLetters",  # the async on-failure destination sends as the function
                        "actions": ["sqs:SendMessage"],
                        "resources": [self.dlq.arn],
                    },
                    # Sending to a queue encrypted with a customer key needs GenerateDataKey and
                    # Decrypt on it, through SQS: "kms:GenerateDataKey ... kms:Decrypt" for producers,
                    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
                    # and Lambda sends on-failure records with the execution role:
                    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
                    sqs_key_grant(
                        "EncryptDeadLetters",
                        ["kms:Decrypt", "kms:GenerateDataKey"],
                        self.dlq_key.arn,
                        self.dlq.arn,
                        region,
                    ),
                ],
                policy_label="access",
                reserved_concurrency=args.reserved_concurrency,
                log_level=args.log_level,
            ),
        )
        self.log_group = recipe.log_group
        self.role = recipe.role
        self.role_policy = recipe.policy
        self.function = recipe.function

        self.invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=self.function.name,
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_event_age_in_seconds=args.max_event_age_seconds,
            destination_config={"on_failure": {"destination": self.dlq.arn}},
            opts=child,
        )

        account = aws.get_caller_identity_output().account_id
        self.permission = aws.lambda_.Permission(
            f"{name}-s3-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="s3.amazonaws.com",
            source_arn=args.upload_bucket.arn,
            # bucket ARNs have no account: without this another account's bucket of the same
            # name (after deletion) could invoke the function
            source_account=account,
            opts=child,
        )
        # S3 validates the destination when the notification is written: the permission must exist.
        self.notification = aws.s3.BucketNotification(
            f"{name}-trigger",
            bucket=args.upload_bucket.name,
            lambda_functions=[{"lambda_function_arn": self.function.arn, "events": ["s3:ObjectCreated:*"]}],
            opts=ResourceOptions(parent=self, depends_on=[self.permission]),
        )

        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.layer_arn = self.layer.arn
        self.role_arn = self.role.arn
        self.dlq_url = self.dlq.url
        self.dlq_arn = self.dlq.arn
        self.dlq_name = self.dlq.name
        self.log_group_name = self.log_group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "layer_arn": self.layer_arn,
                "role_arn": self.role_arn,
                "dlq_url": self.dlq_url,
                "dlq_arn": self.dlq_arn,
                "dlq_name": self.dlq_name,
                "log_group_name": self.log_group_name,
            }
        )
