"""SecureBucket: an S3 bucket that is private, versioned, KMS-encrypted and TLS-only.

In pulumi-aws v7 each bucket setting is its own resource keyed by the bucket name; this
component creates the whole set so no caller can forget one (the ``s3-bucket-fully-configured``
policy rule checks the same thing across the stack).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi import Input, Output, ResourceOptions

from components.encryption_key import customer_key
from components.iam import policy_document
from components.package import component_type, from_inputs, package_options

_NOT_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass
class SecureBucketArgs:
    """Settings of one :class:`SecureBucket`."""

    purpose: str
    """What the bucket holds, for the key's description and the bucket name (``uploads``)."""
    force_destroy: bool = False
    """Let ``pulumi destroy`` delete a non-empty bucket (every object version). Dev only."""
    protect: bool = False
    """Protect the bucket and key from ``pulumi destroy`` and keep them if removed from the program."""
    kms_key_arn: Input[str] | None = None
    """Encrypt with this existing key instead of creating one (the key's policy/grants are yours)."""
    noncurrent_version_days: int = 30
    """Delete overwritten/deleted object versions this many days after they became noncurrent."""
    abort_multipart_days: int = 7
    """Abort multipart uploads left incomplete this long (their parts are billed until then)."""
    expire_prefixes: dict[str, int] = field(default_factory=dict)
    """Re-creatable objects: key prefix → days after creation to delete them (e.g. the render
    cache, ``{"renders/": 30}``). Their noncurrent versions go one day later."""


def bucket_name_prefix(project: str, stack: str, purpose: str) -> str:
    """``<project>-<stack>-<purpose>-``, lower-case and short enough for an 8-hex suffix (≤ 63)."""
    prefix = _NOT_NAME.sub("-", f"{project}-{stack}-{purpose}".lower()).strip("-")
    return prefix[:54].rstrip("-") + "-"


class SecureBucket(pulumi.ComponentResource):
    """Private, versioned, SSE-KMS (CMK + bucket key), owner-enforced, TLS-only S3 bucket.

    Attributes: ``bucket`` (the ``aws.s3.Bucket``), ``bucket_name``, ``bucket_arn``,
    ``key_arn`` (the CMK that encrypts it) and ``key`` (None when a key was injected).
    Browsers get no cross-origin access unless :meth:`allow_browsers` grants it.
    """

    bucket_name: Output[str]
    """The bucket name (``<project>-<stack>-<purpose>-<hex>``)."""
    bucket_arn: Output[str]
    """The bucket ARN."""
    key_arn: Output[str]
    """ARN of the KMS key that encrypts the bucket."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: ResourceOptions | None = None) -> None:
        args = from_inputs(SecureBucketArgs, args)  # a dict when constructed through the package
        super().__init__(
            component_type("SecureBucket"), name, None, package_options("imgpipe:storage:SecureBucket", opts)
        )
        child = ResourceOptions(parent=self)
        # Data stores outlive a mistaken `pulumi destroy` in prod: protected, and retained if
        # deleted from the program.
        kept = ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)

        prefix = bucket_name_prefix(pulumi.get_project(), pulumi.get_stack(), args.purpose)

        # The bucket name is global and the key alias unique per account+region: both carry the
        # suffix, so two deployments of one stack name never collide (components/naming.py).
        suffix = random.RandomId(f"{name}-suffix", byte_length=4, opts=child)
        bucket_name = suffix.hex.apply(lambda hex_: prefix + hex_)

        self.key: aws.kms.Key | None = None
        if args.kms_key_arn is None:
            self.key = customer_key(
                name,
                self,
                encrypts=f"{args.purpose} bucket",
                protect=args.protect,
                alias=Output.concat(bucket_name, "-key"),
                service="s3",
                # S3's encryption context: the bucket ARN (S3 Bucket Key on), else the object ARN.
                # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context
                context={
                    "aws:s3:arn": [
                        Output.concat("arn:aws:s3:::", bucket_name),
                        Output.concat("arn:aws:s3:::", bucket_name, "/*"),
                    ]
                },
            )
            key_arn: Input[str] = self.key.arn
        else:
            key_arn = args.kms_key_arn

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            force_destroy=args.force_destroy,
            opts=kept,
        )
        bucket_id = self.bucket.id

        access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key_arn,
                    },
                    # one data key per bucket, not per object: far fewer KMS calls (cost, throttling)
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        # In a versioned bucket, Expiration puts a delete marker on the current version; the
        # noncurrent version then goes after a day (this rule overlaps the bucket-wide one: S3
        # honours the shorter expiration), and S3 removes the then-lone delete marker.
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html
        expiring: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
            {
                "id": f"expire-{_NOT_NAME.sub('-', prefix.lower()).strip('-') or 'all'}",
                "status": "Enabled",
                "filter": {"prefix": prefix},
                "expiration": {"days": days},
                "noncurrent_version_expiration": {"noncurrent_days": 1},
            }
            for prefix, days in sorted(args.expire_prefixes.items())
        ]
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
                },
                {
                    "id": "abort-incomplete-multipart-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": args.abort_multipart_days},
                },
                *expiring,
            ],
            # S3 rejects noncurrent-version rules racing the versioning change
            opts=ResourceOptions(parent=self, depends_on=[versioning]),
        )
        tls_only = policy_document(
            [
                {
                    "sid": "DenyInsecureTransport",
                    "effect": "Deny",
                    "principals": [{"type": "*", "identifiers": ["*"]}],
                    "actions": ["s3:*"],
                    "resources": [self.bucket.arn, self.bucket.arn.apply(lambda arn: f"{arn}/*")],
                    "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
                }
            ]
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=tls_only,
            # two bucket-level writes at once fail with OperationAborted: put the policy last
            opts=ResourceOptions(parent=self, depends_on=[access_block]),
        )

        self._name = name
        self.cors: aws.s3.BucketCorsConfiguration | None = None
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.key_arn = Output.from_input(key_arn)
        self.register_outputs(
            {"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "key_arn": self.key_arn}
        )

    def allow_browsers(
        self,
        origins: Input[Sequence[str]],
        methods: Sequence[str],
        allowed_headers: Sequence[str] = (),
        expose_headers: Sequence[str] = (),
        max_age_seconds: int = 600,
    ) -> aws.s3.BucketCorsConfiguration:
        """Let pages from ``origins`` call ``methods`` on the bucket's objects from JavaScript.

        Separate from the constructor because the origins can be known only later (the gallery's
        origin is the API's, and the API needs the buckets first). The bucket stays private: CORS
        only lets a browser read answers to requests that are already authorised (presigned URLs).
        S3 uses the first rule matching origin, method and requested headers
        (docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html); there is one rule here.
        """
        if self.cors is not None:
            raise ValueError(f"{self._name}: allow_browsers was already called (one CORS rule per bucket)")
        bad = sorted(set(methods) - {"GET", "PUT", "HEAD", "POST", "DELETE"})
        if not methods or bad:
            raise ValueError(
                f"S3 CORS methods must be among GET, PUT, HEAD, POST, DELETE, got {list(methods)}"
            )
        rule: aws.s3.BucketCorsConfigurationCorsRuleArgsDict = {
            "allowed_origins": origins,
            "allowed_methods": list(methods),
            "max_age_seconds": max_age_seconds,
        }
        if allowed_headers:
            rule["allowed_headers"] = list(allowed_headers)
        if expose_headers:
            rule["expose_headers"] = list(expose_headers)
        self.cors = aws.s3.BucketCorsConfiguration(
            f"{self._name}-cors",
            bucket=self.bucket.id,
            cors_rules=[rule],
            opts=ResourceOptions(parent=self),
        )
        return self.cors


def browser_origins(configured: Sequence[str], own_origin: Input[str]) -> Output[list[str]]:
    """Origins a bucket's CORS rule allows: any when ``corsOrigins`` has ``*``, else the configured
    ones plus the stack's own page (the gallery, served from the API's origin)."""
    if "*" in configured:
        return Output.from_input(["*"])
    return Output.from_input(own_origin).apply(
        lambda own: [*configured, *([own] if own and own not in configured else [])]
    )
