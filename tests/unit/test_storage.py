"""SecureBucket and MetadataTable, as the real program registers them (dev and prod stacks),
plus small programs for the options the stacks do not use (injected key, TTL)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from components.secure_bucket import bucket_name_prefix
from tests.unit.mocks import Graph, Recorded, run_program

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"


def child(graph: Graph, component: str, resource_type: str) -> Recorded:
    kind = "MetadataTable" if component == "metadata" else "SecureBucket"
    parent = graph.one(f"imgpipe:index:{kind}", component)
    found = [r for r in graph.children(parent) if r.type == resource_type]
    assert len(found) == 1, (component, resource_type, [r.name for r in found])
    return found[0]


@pytest.mark.parametrize("purpose", ["uploads", "processed"])
def test_secure_bucket_children_are_private_versioned_cmk_tls_only(dev: Graph, purpose: str) -> None:
    key = child(dev, purpose, KEY)
    assert key.inputs["enableKeyRotation"] is True
    alias = child(dev, purpose, "aws:kms/alias:Alias")
    assert alias.inputs["targetKeyId"] == key.state["keyId"]
    bucket = child(dev, purpose, BUCKET)
    suffix = child(dev, purpose, "random:index/randomId:RandomId")
    assert suffix.inputs["byteLength"] == 4
    assert bucket.id == f"imgpipe-dev-{purpose}-{suffix.state['hex']}"
    # the alias is unique per account+region: it carries the bucket's suffix (test_naming.py)
    assert alias.inputs["name"] == f"alias/{bucket.id}-key"
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{2,62}", bucket.id)

    pab = child(dev, purpose, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert pab.inputs["bucket"] == bucket.id
    assert all(
        pab.inputs[f] is True
        for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = child(dev, purpose, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = child(dev, purpose, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = child(
        dev, purpose, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    [rule] = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.state["arn"],
    }
    assert rule["bucketKeyEnabled"] is True

    lifecycle = child(dev, purpose, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }
    assert all(r["status"] == "Enabled" for r in rules.values())
    assert versioning.urn in lifecycle.dependencies

    policy = child(dev, purpose, "aws:s3/bucketPolicy:BucketPolicy")
    doc = json.loads(policy.inputs["policy"])
    [deny] = doc["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Resource"] == [bucket.state["arn"], bucket.state["arn"] + "/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert pab.urn in policy.dependencies  # the policy is written after the access block


def test_each_bucket_has_its_own_key(dev: Graph) -> None:
    keys = {child(dev, p, KEY).state["arn"] for p in ("uploads", "processed")}
    assert len(keys) == 2


def test_dev_buckets_force_destroy_and_are_not_protected(dev: Graph) -> None:
    for bucket in dev.of_type(BUCKET):
        assert bucket.inputs["forceDestroy"] is True
        assert not bucket.protect and not bucket.retain_on_delete


def test_prod_protects_and_retains_the_data_stores(prod: Graph) -> None:
    kinds = ("imgpipe:index:SecureBucket", "imgpipe:index:MetadataTable")
    storage = {r.urn for r in prod.resources if r.type in kinds}
    stores = [r for r in prod.of_type(BUCKET, KEY, "aws:dynamodb/table:Table") if r.parent in storage]
    assert len(stores) == 6  # two buckets, their keys, the table and its key
    for store in stores:
        assert store.protect and store.retain_on_delete, store.name
    for bucket in prod.of_type(BUCKET):
        assert bucket.inputs["forceDestroy"] is False
    table = prod.one("aws:dynamodb/table:Table")
    assert table.inputs["deletionProtectionEnabled"] is True
    assert all(child(prod, p, KEY).inputs["deletionWindowInDays"] == 30 for p in ("uploads", "processed"))


def test_metadata_table_shape(dev: Graph) -> None:
    table = child(dev, "metadata", "aws:dynamodb/table:Table")
    key = child(dev, "metadata", KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "image_id"
    assert {a["name"]: a["type"] for a in table.inputs["attributes"]} == {
        "image_id": "S",
        "source_key": "S",
        "status": "S",
        "created_at": "S",
    }
    indexes = {i["name"]: i for i in table.inputs["globalSecondaryIndexes"]}
    assert set(indexes) == {"by_source_key", "by_status"}
    assert (indexes["by_source_key"]["hashKey"], indexes["by_source_key"]["rangeKey"]) == (
        "source_key",
        "created_at",
    )
    assert (indexes["by_status"]["hashKey"], indexes["by_status"]["rangeKey"]) == ("status", "created_at")
    assert all(i["projectionType"] == "ALL" for i in indexes.values())
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.state["arn"]}
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True
    assert table.inputs["deletionProtectionEnabled"] is False
    assert "ttl" not in table.inputs


def test_bucket_names_fit_s3_limits() -> None:
    prefix = bucket_name_prefix("imgpipe", "a-very-long-stack-name-for-feature-branch-previews", "processed")
    assert len(prefix) + 8 <= 63 and prefix.endswith("-") and "--" not in prefix
    assert bucket_name_prefix("imgpipe", "Dev_Stack", "uploads") == "imgpipe-dev-stack-uploads-"


def _run_snippet(tmp_path: Path, body: str) -> Graph:
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(body))
    return run_program({}, program=program)


def test_render_cache_expires_by_lifecycle_in_the_processed_bucket_only(dev: Graph) -> None:
    from function.api_store import RENDER_EXPIRY_DAYS, RENDER_PREFIX

    lifecycle = child(dev, "processed", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    renders = rules["expire-renders"]
    assert renders["filter"] == {"prefix": RENDER_PREFIX} and renders["status"] == "Enabled"
    assert renders["expiration"]["days"] == RENDER_EXPIRY_DAYS == 30
    assert renders["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    uploads = child(dev, "uploads", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert not any("expiration" in r for r in uploads.inputs["rules"])  # originals never expire


def test_injected_key_replaces_the_buckets_own_key(tmp_path: Path) -> None:
    graph = _run_snippet(
        tmp_path,
        """
        from components.secure_bucket import SecureBucket, SecureBucketArgs
        key = "arn:aws:kms:us-east-1:123456789012:key/k1"
        SecureBucket("shared", SecureBucketArgs("shared", kms_key_arn=key, noncurrent_version_days=3))
        """,
    )
    assert graph.of_type(KEY) == []
    sse = graph.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].endswith(":key/k1")
    lifecycle = graph.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 3}


def test_table_ttl_is_optional(tmp_path: Path) -> None:
    graph = _run_snippet(
        tmp_path,
        """
        from components.metadata_table import MetadataTable, MetadataTableArgs
        MetadataTable("m", MetadataTableArgs(ttl_attribute="expires_at"))
        """,
    )
    table = graph.one("aws:dynamodb/table:Table")
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}


CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"


@pytest.mark.parametrize(
    ("purpose", "methods", "allowed_headers", "expose"),
    [
        ("uploads", ["PUT"], ["Content-Type", "If-None-Match"], ["ETag", "x-amz-version-id"]),
        ("processed", ["GET", "HEAD"], None, ["ETag", "Content-Length", "Content-Type"]),
    ],
)
def test_buckets_let_browsers_use_presigned_urls(
    dev: Graph,
    prod: Graph,
    purpose: str,
    methods: list[str],
    allowed_headers: list[str] | None,
    expose: list[str],
) -> None:
    for graph in (dev, prod):
        cors = child(graph, purpose, CORS)
        assert cors.inputs["bucket"] == child(graph, purpose, BUCKET).id
        [rule] = cors.inputs["corsRules"]
        assert rule["allowedMethods"] == methods
        assert rule.get("allowedHeaders") == allowed_headers
        assert rule["exposeHeaders"] == expose
        assert rule["maxAgeSeconds"] == 600
    # dev allows any origin (corsOrigins "*"); prod its configured origin plus the gallery's own,
    # the API's origin (the page is served by the API)
    assert child(dev, purpose, CORS).inputs["corsRules"][0]["allowedOrigins"] == ["*"]
    origins = child(prod, purpose, CORS).inputs["corsRules"][0]["allowedOrigins"]
    assert origins[0] == "https://images.example.com"
    assert re.fullmatch(r"https://[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com", origins[1]), origins
    assert len(origins) == 2


def test_allow_browsers_refuses_bad_methods_and_a_second_rule(tmp_path: Path) -> None:
    graph = _run_snippet(
        tmp_path,
        """
        from components.secure_bucket import SecureBucket, SecureBucketArgs
        b = SecureBucket("b", SecureBucketArgs(purpose="b"))
        b.allow_browsers(["*"], methods=["GET"])
        try:
            b.allow_browsers(["*"], methods=["GET"])
        except ValueError as e:
            assert "already called" in str(e), e
        else:
            raise AssertionError("second allow_browsers accepted")
        try:
            SecureBucket("c", SecureBucketArgs(purpose="c")).allow_browsers(["*"], methods=["PATCH"])
        except ValueError as e:
            assert "PATCH" in str(e), e
        else:
            raise AssertionError("PATCH accepted")
        """,
    )
    assert len(graph.of_type(CORS)) == 1
