"""moto-backed fixtures: an upload bucket (versioned), a processed bucket, the metadata table
(with the contract GSIs) and an ``invoke`` that sends S3-shaped events to the real handler."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import pytest

from tests.data_stores import create_data_stores
from tests.function.samples import TEST_MAX_PIXELS

UPLOAD = "imgpipe-upload-test"
PROCESSED = "imgpipe-processed-test"
TABLE = "imgpipe-metadata-test"
REGION = "us-east-1"


@dataclass
class FakeContext:
    """The attributes Powertools and the handler read from Lambda's context."""

    remaining_ms: int = 60_000
    function_name: str = "imgpipe-processor"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-processor"
    aws_request_id: str = "req-0001"
    log_group_name: str = "/aws/lambda/imgpipe-processor"
    log_stream_name: str = "stream"
    extra: dict[str, Any] = field(default_factory=dict)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def s3_event(
    bucket: str, key: str, version_id: str | None, size: int, name: str = "ObjectCreated:Put"
) -> dict:
    """An S3 notification as S3 sends it: the key form-encoded (space → ``+``, ``+`` → ``%2B``)."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": "0", "sequencer": "00"}
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-23T09:00:00.000Z",
                "eventName": name,
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
            }
        ]
    }


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "UPLOAD_BUCKET", "ENCODE_THREADS", "VARIANTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("PROCESSED_BUCKET", PROCESSED)
    monkeypatch.setenv("METADATA_TABLE", TABLE)
    monkeypatch.setenv("MAX_PIXELS", str(TEST_MAX_PIXELS))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "imgpipe")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "imgpipe")
    monkeypatch.setenv("LOG_LEVEL", "INFO")


class Aws:
    """The mocked account plus helpers to upload and invoke."""

    def __init__(self) -> None:

        self.s3, self.ddb = create_data_stores(REGION, UPLOAD, PROCESSED, TABLE)

    def upload(self, key: str, data: bytes, bucket: str = UPLOAD) -> dict:
        """Put the object and return the event S3 would send for it."""
        version = self.s3.put_object(Bucket=bucket, Key=key, Body=data).get("VersionId")
        return s3_event(bucket, key, version, len(data))

    def invoke(self, event: dict, context: FakeContext | None = None) -> dict:
        from function.handler import handler

        return handler(event, context or FakeContext())

    def item(self, image_id: str) -> dict | None:
        from function.store import plain_item

        raw = self.ddb.get_item(TableName=TABLE, Key={"image_id": {"S": image_id}}, ConsistentRead=True)
        return plain_item(raw["Item"]) if "Item" in raw else None

    def items(self) -> list[dict]:
        from function.store import plain_item

        return [plain_item(i) for i in self.ddb.scan(TableName=TABLE)["Items"]]

    def processed_keys(self) -> list[str]:
        listing = self.s3.list_object_versions(Bucket=PROCESSED)
        return sorted(v["Key"] for v in listing.get("Versions", []))


@pytest.fixture
def aws(aws_env: None) -> Iterator[Aws]:
    from moto import mock_aws

    from function import runtime

    runtime.reset()  # a warm pipeline from another test holds clients of another mock
    with mock_aws():
        yield Aws()
    runtime.reset()
