"""The data stores as the program deploys them, created in moto for tests: the upload and
processed buckets and the metadata table (key and indexes as ``components/metadata_table.py``
declares them; ``tests/unit/test_data_stores.py`` checks the two agree).

Call inside ``mock_aws()`` (or with clients on a moto server).
"""

from __future__ import annotations

from typing import Any

import boto3

HASH_KEY = "image_id"
INDEXES: dict[str, tuple[str, str]] = {
    # index name -> (hash key, range key), as components.metadata_table.INDEXES
    "by_source_key": ("source_key", "created_at"),
    "by_status": ("status", "created_at"),
}


def create_bucket(s3: Any, bucket: str, region: str, *, versioned: bool = False) -> None:
    """A bucket in ``region`` (us-east-1 takes no location constraint, like S3), versioned or not."""
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **extra)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def create_metadata_table(ddb: Any, table: str) -> None:
    """The metadata table: ``image_id`` partition key, the by_source_key and by_status indexes."""
    names = sorted({HASH_KEY, *(k for pair in INDEXES.values() for k in pair)})
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
        KeySchema=[{"AttributeName": HASH_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in INDEXES.items()
        ],
    )


def create_data_stores(
    region: str, upload_bucket: str, processed_bucket: str, table: str, *, version_processed: bool = False
) -> tuple[Any, Any]:
    """Both buckets (uploads versioned, as SecureBucket makes them) and the table; (s3, dynamodb)."""
    s3 = boto3.client("s3", region_name=region)
    ddb = boto3.client("dynamodb", region_name=region)
    create_bucket(s3, upload_bucket, region, versioned=True)
    create_bucket(s3, processed_bucket, region, versioned=version_processed)
    create_metadata_table(ddb, table)
    return s3, ddb


def stack_outputs(region: str, **more: str) -> dict[str, str]:
    """The output contract of a stack made of ``create_data_stores(region, "up-bucket", "out-bucket",
    "meta")`` and a function ``proc`` (the verify and soak tests' stand-in stack), plus ``more``."""
    return {
        "upload_bucket": "up-bucket",
        "processed_bucket": "out-bucket",
        "metadata_table": "meta",
        "function_name": "proc",
        "region": region,
        **more,
    }
