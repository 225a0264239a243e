"""The real program on the local engine: S3 upload → the real handler → variants + one item."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from PIL import Image

from tests.integration.conftest import stack_client as client
from tests.integration.conftest import stack_table
from verify.check import image_id

pytestmark = pytest.mark.integration


def jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def wait_done(outputs: dict[str, Any], img_id: str, timeout: float = 60) -> dict[str, Any]:
    table = stack_table(outputs)
    deadline = time.monotonic() + timeout
    while True:
        item = table.get_item(Key={"image_id": img_id}).get("Item")
        if item and item.get("status") in ("done", "failed"):
            return item
        assert time.monotonic() < deadline, f"no finished item for {img_id}: {item}"
        time.sleep(0.3)


def processed_keys(outputs: dict[str, Any], prefix: str) -> list[str]:
    out = client(outputs, "s3").list_objects_v2(Bucket=outputs["processed_bucket"], Prefix=prefix)
    return sorted(o["Key"] for o in out.get("Contents", []))


def _s3_event(stack: dict[str, Any], key: str, size: int, version_id: str, sequencer: str) -> dict[str, Any]:
    """An ObjectCreated:Put notification for the stack's upload bucket, as S3 sends it."""
    bucket = stack["upload_bucket"]
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": stack["region"],
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": size, "versionId": version_id, "sequencer": sequencer},
                },
            }
        ]
    }


def test_s3_upload_gives_every_variant_and_the_item(local_stack: dict[str, Any]) -> None:
    key = "engine tests/photo+1.jpg"
    put = client(local_stack, "s3").put_object(Bucket=local_stack["upload_bucket"], Key=key, Body=jpeg())
    img_id = image_id(local_stack["upload_bucket"], key, put.get("VersionId"))
    item = wait_done(local_stack, img_id)
    assert item["status"] == "done", item
    assert item["source_key"] == key and item["source_version_id"] == put["VersionId"]
    assert (int(item["width"]), int(item["height"])) == (320, 240)
    keys = processed_keys(local_stack, "engine tests/photo+1_")
    assert keys == sorted(v["key"] for v in item["variants"].values())
    assert all(img_id in k for k in keys) and len(keys) == len(item["variants"]) >= 1


def test_redelivered_event_gives_one_item_and_one_set_of_variants(local_stack: dict[str, Any]) -> None:
    s3 = client(local_stack, "s3")
    key = "engine-tests/twice.jpg"
    data = jpeg((200, 100))
    put = s3.put_object(Bucket=local_stack["upload_bucket"], Key=key, Body=data)
    img_id = image_id(local_stack["upload_bucket"], key, put.get("VersionId"))
    first = wait_done(local_stack, img_id)
    before = processed_keys(local_stack, "engine-tests/twice_")
    # S3 delivers at least once: send the same object version's event again, twice.
    event = _s3_event(
        local_stack, "engine-tests/twice.jpg", len(data), put["VersionId"], "0000000000000000FF"
    )
    lam = client(local_stack, "lambda")
    for _ in range(2):
        resp = lam.invoke(FunctionName=local_stack["function_name"], Payload=json.dumps(event))
        assert not resp.get("FunctionError"), resp["Payload"].read()
    table = stack_table(local_stack)
    items = table.query(IndexName="by_source_key", KeyConditionExpression=Key("source_key").eq(key))["Items"]
    assert [i["image_id"] for i in items] == [img_id]
    assert items[0]["status"] == "done" and items[0]["variants"] == first["variants"]
    assert processed_keys(local_stack, "engine-tests/twice_") == before


def test_a_missing_source_version_is_recorded_failed_not_retried(local_stack: dict[str, Any]) -> None:
    """S3 answers a missing version with 404 only to a role that may s3:ListBucket the bucket, else
    403 (the local engine does the same). With the 404 the handler records ``failed`` at once; with
    a 403 it would raise, be retried twice and end in the DLQ (issue 11)."""
    s3 = client(local_stack, "s3")
    key = "engine-tests/gone.jpg"
    data = jpeg((64, 48))
    s3.put_object(Bucket=local_stack["upload_bucket"], Key=key, Body=data)
    gone = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY-MTRCxf3vjVBH40Nrjfkd"  # a version that never existed
    event = _s3_event(local_stack, key, len(data), gone, "00000000000000AA")
    resp = client(local_stack, "lambda").invoke(
        FunctionName=local_stack["function_name"], Payload=json.dumps(event)
    )
    assert not resp.get("FunctionError"), resp["Payload"].read()
    item = wait_done(local_stack, image_id(local_stack["upload_bucket"], key, gone))
    assert item["status"] == "failed" and "no longer exists" in item["error"], item
