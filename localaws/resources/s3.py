"""S3: buckets and the bucket-level settings resources of pulumi-aws v7."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pulumi

from localaws.resources import Context, autoname, ignore_missing, pascal, prune, register

# v7 tokens plus the V2 aliases older programs use.
_ALIASES = {
    "Bucket": ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"],
    "Versioning": [
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    ],
    "Sse": [
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ],
    "Lifecycle": [
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    ],
    "Cors": [
        "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
        "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2",
    ],
}


def _register_all(kind: str) -> Any:
    def deco(cls: type) -> type:
        for token in _ALIASES[kind]:
            register(token)(cls)
        return cls

    return deco


def empty_bucket(ctx: Context, bucket: str) -> int:
    """Delete every object version and delete marker (a versioned bucket keeps them all)."""
    s3 = ctx.client("s3")
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        # moto 5.2.5 fails DeleteObjects on a key whose versions include a delete marker
        # (FakeDeleteMarker.dispose): remove the markers first, one by one.
        for marker in page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=marker["Key"], VersionId=marker["VersionId"])
        versions = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        for i in range(0, len(versions), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": versions[i : i + 1000], "Quiet": True})
        removed += len(versions) + len(page.get("DeleteMarkers", []))
    return removed


class _BucketSetting:
    """A bucket-level setting resource: one put on the bucket (physical id = bucket), one delete call."""

    put: ClassVar[str]
    remove: ClassVar[str]
    remove_args: ClassVar[dict[str, Any]] = {}  # for settings cleared by a put (no delete call)

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The put call's arguments besides ``Bucket``."""
        raise NotImplementedError

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        config = self.config(inputs)
        getattr(ctx.client("s3"), self.put)(Bucket=inputs["bucket"], **config)
        return inputs["bucket"], dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: getattr(ctx.client("s3"), self.remove)(Bucket=rid, **self.remove_args))


@_register_all("Bucket")
class Bucket:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bucket = autoname(inputs, name, key="bucket", max_len=63).lower()
        s3 = ctx.client("s3")
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if ctx.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        s3.create_bucket(**kwargs)
        if inputs.get("tags"):
            s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]}
            )
        return bucket, {
            **inputs,
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{ctx.region}.amazonaws.com",
            "region": ctx.region,
            "hostedZoneId": "Z3AQBSTGFYJSTF",
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        # The local stack is disposable: always empty first (AWS needs forceDestroy for this).
        def go() -> None:
            s3 = ctx.client("s3")
            if s3.get_bucket_versioning(Bucket=rid).get("Status") == "Suspended":
                # moto removes every version of a key (and fails on delete markers) when a
                # suspended bucket deletes by version id: enable again, delete version by version.
                s3.put_bucket_versioning(Bucket=rid, VersioningConfiguration={"Status": "Enabled"})
            empty_bucket(ctx, rid)
            ctx.client("s3").delete_bucket(Bucket=rid)

        ignore_missing(go)


@_register_all("Versioning")
class BucketVersioning(_BucketSetting):
    put = remove = "put_bucket_versioning"
    remove_args: ClassVar[dict[str, Any]] = {"VersioningConfiguration": {"Status": "Suspended"}}

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        conf = inputs.get("versioningConfiguration") or {}
        return {"VersioningConfiguration": {"Status": conf.get("status", "Enabled")}}


@_register_all("Sse")
class BucketEncryption(_BucketSetting):
    put, remove = "put_bucket_encryption", "delete_bucket_encryption"

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"ServerSideEncryptionConfiguration": {"Rules": pascal(inputs.get("rules") or [])}}


@register("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
class PublicAccessBlock(_BucketSetting):
    put, remove = "put_public_access_block", "delete_public_access_block"

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        conf = {
            k: bool(inputs.get(k, False))
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        }
        return {"PublicAccessBlockConfiguration": pascal(conf)}


@register("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
class OwnershipControls(_BucketSetting):
    put, remove = "put_bucket_ownership_controls", "delete_bucket_ownership_controls"

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        rule = inputs.get("rule") or {}
        return {
            "OwnershipControls": {
                "Rules": [{"ObjectOwnership": rule.get("objectOwnership", "BucketOwnerEnforced")}]
            }
        }


def is_tls_only_deny(statement: dict[str, Any]) -> bool:
    """A Deny conditioned on aws:SecureTransport (moto ignores the condition: it would deny all)."""
    if statement.get("Effect") != "Deny":
        return False
    for test in (statement.get("Condition") or {}).values():
        if isinstance(test, dict) and any(k.lower() == "aws:securetransport" for k in test):
            return True
    return False


@register("aws:s3/bucketPolicy:BucketPolicy")
class BucketPolicy:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bucket = inputs["bucket"]
        raw = inputs["policy"]
        doc = json.loads(raw) if isinstance(raw, str) else raw
        statements = doc.get("Statement") or []
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if not is_tls_only_deny(s)]
        skipped = len(statements) - len(kept)
        if skipped:
            ctx.say(
                f"    note: {name}: not applying {skipped} aws:SecureTransport Deny statement(s) locally "
                "(moto ignores the condition and would deny every call; the local endpoint is plain HTTP). "
                "AWS gets the full policy."
            )
        if kept:
            ctx.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps({**doc, "Statement": kept}))
        return bucket, dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("s3").delete_bucket_policy(Bucket=rid))


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out = pascal(rule)
    flt = out.get("Filter")
    if not flt:
        out["Filter"] = {"Prefix": out.pop("Prefix", "")}
    elif "ObjectSizeGreaterThan" in flt or "ObjectSizeLessThan" in flt:
        # Pulumi sends sizes as strings in v7; S3 wants numbers.
        for k in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
            if k in flt:
                flt[k] = int(flt[k])
    return {k: v for k, v in out.items() if v not in (None, {}, [])}


@_register_all("Lifecycle")
class Lifecycle(_BucketSetting):
    put, remove = "put_bucket_lifecycle_configuration", "delete_bucket_lifecycle"

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"LifecycleConfiguration": {"Rules": [_lifecycle_rule(r) for r in inputs.get("rules") or []]}}


@_register_all("Cors")
class Cors(_BucketSetting):
    put, remove = "put_bucket_cors", "delete_bucket_cors"

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        config = self.config(inputs)
        for rule in config["CORSConfiguration"]["CORSRules"]:
            rule["AllowedOrigins"] = [
                local_origin(o, ctx.stage_base_url) for o in rule.get("AllowedOrigins", [])
            ]
        ctx.client("s3").put_bucket_cors(Bucket=inputs["bucket"], **config)
        return inputs["bucket"], dict(inputs)

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        rules = [prune(pascal(r, {"id": "ID"})) for r in inputs.get("corsRules") or []]
        for rule in rules:
            if "MaxAgeSeconds" in rule:  # numbers reach the mocks as floats
                rule["MaxAgeSeconds"] = int(rule["MaxAgeSeconds"])
        return {"CORSConfiguration": {"CORSRules": rules}}


_EXECUTE_API_ORIGIN = re.compile(r"^https://[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com$")


def local_origin(origin: str, stage_base_url: str) -> str:
    """An API's AWS origin (``https://<id>.execute-api.<region>.amazonaws.com``) is the local
    stage server's origin here: pages the stack serves come from there."""
    if stage_base_url and _EXECUTE_API_ORIGIN.match(origin):
        parts = urlsplit(stage_base_url)
        return f"{parts.scheme}://{parts.netloc}"
    return origin


def _filter(item: dict[str, Any]) -> dict[str, Any]:
    rules = [
        {"Name": n, "Value": item[k]}
        for n, k in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
        if item.get(k)
    ]
    return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}


@register("aws:s3/bucketNotification:BucketNotification")
class Notification(_BucketSetting):
    put = remove = "put_bucket_notification_configuration"
    remove_args: ClassVar[dict[str, Any]] = {"NotificationConfiguration": {}}

    def config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        conf: dict[str, Any] = {}
        for key, out, arn in (
            ("lambdaFunctions", "LambdaFunctionConfigurations", ("lambdaFunctionArn", "LambdaFunctionArn")),
            ("queues", "QueueConfigurations", ("queueArn", "QueueArn")),
            ("topics", "TopicConfigurations", ("topicArn", "TopicArn")),
        ):
            items = inputs.get(key) or []
            if items:
                conf[out] = [
                    prune({"Id": i.get("id"), arn[1]: i[arn[0]], "Events": i.get("events"), **_filter(i)})
                    for i in items
                ]
        if inputs.get("eventbridge"):
            conf["EventBridgeConfiguration"] = {}
        return {"NotificationConfiguration": conf}


@register("aws:s3/bucketObjectv2:BucketObjectv2")
class BucketObject:
    """One object from a file or a string (the gallery's static files); deleted with all versions."""

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        source = inputs.get("source")
        if isinstance(source, pulumi.FileAsset):
            body = (ctx.program_dir / source.path).read_bytes()  # relative to the program, like the CLI
        elif isinstance(source, pulumi.StringAsset):
            body = source.text.encode()
        elif inputs.get("content") is not None:
            body = str(inputs["content"]).encode()
        else:
            raise ValueError(f"{name}: give source (FileAsset or StringAsset) or content")
        bucket, key = inputs["bucket"], inputs["key"]
        extra = {
            arg: inputs[field]
            for field, arg in (
                ("contentType", "ContentType"),
                ("cacheControl", "CacheControl"),
                ("contentDisposition", "ContentDisposition"),
            )
            if inputs.get(field)
        }
        resp = ctx.client("s3").put_object(Bucket=bucket, Key=key, Body=body, **extra)
        return f"{bucket}/{key}", {
            **inputs,
            "etag": resp.get("ETag", "").strip('"'),
            "versionId": resp.get("VersionId", ""),
            "arn": f"arn:aws:s3:::{bucket}/{key}",
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        s3 = ctx.client("s3")
        bucket, key = state["bucket"], state["key"]

        def go() -> None:
            versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
            for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]:
                if v["Key"] == key:
                    s3.delete_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])

        ignore_missing(go)
