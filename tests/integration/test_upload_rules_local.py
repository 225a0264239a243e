"""Issue 12 on the local stack, over HTTP as a client with a valid API key would call AWS: bad keys
and types are refused before anything is stored, nothing is overwritten silently, no answer names
a bucket. The rows of the input table in docs/security.md ("Uploads: keys and types")."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from tests.integration.conftest import stack_client
from verify.check import http

pytestmark = pytest.mark.integration

PREFIX = "edge-tests"


def _jpeg(width: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, 24), (200, 40, 40)).save(buf, "JPEG")
    return buf.getvalue()


def _put(
    stack: dict[str, Any], raw_key: str, data: bytes, content_type: str | None = "image/jpeg", query: str = ""
):
    headers = {"x-api-key": stack["api_key"]}
    if content_type is not None:
        headers["Content-Type"] = content_type
    status, resp_headers, body = http("PUT", f"{stack['api_url']}/uploads/{raw_key}{query}", data, headers)
    return status, resp_headers, json.loads(body)


def _versions(stack: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    s3 = stack_client(stack, "s3")
    listed = s3.list_object_versions(Bucket=stack["upload_bucket"], Prefix=prefix)
    return listed.get("Versions", []) + listed.get("DeleteMarkers", [])


@pytest.mark.parametrize(
    ("raw_key", "says"),
    [
        ("%2E%2E/%2E%2E/x.jpg", "'..' segment"),  # ../../x.jpg (clients would normalise a literal ..)
        (f"{PREFIX}/%2E/x.jpg", "'.' segment"),
        ("%2Fx.jpg", "starts with '/'"),
        (f"{PREFIX}/a//x.jpg", "empty segment"),
        (f"{PREFIX}/invoice%E2%80%AEgpj.exe", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        (f"{PREFIX}/bell%07.jpg", "U+0007"),
        (f"{PREFIX}/c1%C2%85.jpg", "U+0085"),
        (f"{PREFIX}/" + "k" * 1100 + ".jpg", "over S3's limit of 1024"),
    ],
)
def test_bad_keys_are_400_naming_the_rule_and_nothing_is_stored(
    local_stack: dict[str, Any], raw_key: str, says: str
) -> None:
    before = len(_versions(local_stack, ""))
    status, headers, body = _put(local_stack, raw_key, _jpeg())
    assert status == 400, body
    assert body["message"].startswith("bad upload key: ") and says in body["message"], body
    assert headers.get("Access-Control-Allow-Origin") == "*"
    assert len(_versions(local_stack, "")) == before


def test_a_method_arn_over_api_gateways_limit_is_414(local_stack: dict[str, Any]) -> None:
    status, _, body = _put(local_stack, f"{PREFIX}/" + "k" * 1600, _jpeg())
    assert status == 414, body


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", "image/svg+xml", None])
def test_non_image_types_are_415_and_nothing_is_stored(
    local_stack: dict[str, Any], content_type: str | None
) -> None:
    key = f"{PREFIX}/typed/page.jpg"
    status, _, body = _put(local_stack, key, b"<html><script>alert(1)</script></html>", content_type)
    assert status == 415, body
    assert body["message"].startswith("unsupported Content-Type: PUT /uploads takes image/jpeg")
    assert _versions(local_stack, key) == []


def test_a_second_put_to_a_key_is_409_and_the_first_stays(local_stack: dict[str, Any]) -> None:
    key = f"{PREFIX}/once/photo.jpg"
    first, second = _jpeg(32), _jpeg(48)
    status, headers, _ = _put(local_stack, key, first)
    assert status == 200
    status, _, body = _put(local_stack, key, second)
    assert status == 409, body
    assert "already exists" in body["message"] and "overwrite" in body["message"]
    versions = _versions(local_stack, key)
    assert len(versions) == 1 and versions[0]["VersionId"] == headers["x-amz-version-id"]
    s3 = stack_client(local_stack, "s3")
    assert s3.get_object(Bucket=local_stack["upload_bucket"], Key=key)["Body"].read() == first
    # ?overwrite on PUT is refused too, pointing to the way that does overwrite
    status, _, body = _put(local_stack, key, second, query="?overwrite=true")
    assert status == 400 and "POST /uploads" in body["message"]
    assert len(_versions(local_stack, key)) == 1


def _ticket(stack: dict[str, Any], key: str, data: bytes, **extra: Any) -> dict[str, Any]:
    request = {"content_type": "image/jpeg", "content_length": len(data), "key": key, **extra}
    status, _, body = http(
        "POST",
        f"{stack['api_url']}/uploads",
        json.dumps(request).encode(),
        {"x-api-key": stack["api_key"], "Content-Type": "application/json"},
    )
    assert status == 201, body
    return json.loads(body)


def test_presigned_uploads_refuse_to_overwrite_unless_asked(local_stack: dict[str, Any]) -> None:
    key = f"{PREFIX}/presigned/photo.jpg"
    first, second = _jpeg(40), _jpeg(56)
    ticket = _ticket(local_stack, key, first)
    assert "bucket" not in ticket and local_stack["upload_bucket"] not in json.dumps(
        {k: v for k, v in ticket.items() if k != "url"}
    )
    assert http("PUT", ticket["url"], first, ticket["headers"])[0] == 200
    again = _ticket(local_stack, key, second)
    status, _, body = http("PUT", again["url"], second, again["headers"])
    assert status == 412 and b"PreconditionFailed" in body
    # dropping the signed If-None-Match does not get around it: S3 checks the signature
    no_condition = {k: v for k, v in again["headers"].items() if k != "If-None-Match"}
    status, _, body = http("PUT", again["url"], second, no_condition)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    assert len(_versions(local_stack, key)) == 1
    # the explicit opt-in writes a new version
    replace = _ticket(local_stack, key, second, overwrite=True)
    assert replace["overwrite"] is True and "If-None-Match" not in replace["headers"]
    assert http("PUT", replace["url"], second, replace["headers"])[0] == 200
    assert len([v for v in _versions(local_stack, key) if "Size" in v]) == 2


def test_bad_keys_are_400_on_post_too(local_stack: dict[str, Any]) -> None:
    for key, says in (("../../x.jpg", "'..' segment"), ("a\u202egpj.exe", "U+202E"), ("/x.jpg", "'/'")):
        status, _, body = http(
            "POST",
            f"{local_stack['api_url']}/uploads",
            json.dumps({"content_type": "image/jpeg", "content_length": 10, "key": key}).encode(),
            {"x-api-key": local_stack["api_key"], "Content-Type": "application/json"},
        )
        assert status == 400 and says in json.loads(body)["message"], body


def test_answers_name_no_bucket(local_stack: dict[str, Any]) -> None:
    key = f"{PREFIX}/named/photo.jpg"
    assert _put(local_stack, key, _jpeg())[0] == 200
    s3 = stack_client(local_stack, "s3")
    version = s3.head_object(Bucket=local_stack["upload_bucket"], Key=key)["VersionId"]
    from verify.check import image_id

    img = image_id(local_stack["upload_bucket"], key, version)
    deadline = time.monotonic() + 60
    while True:
        status, _, body = http(
            "GET", f"{local_stack['api_url']}/images/{img}", headers={"x-api-key": local_stack["api_key"]}
        )
        if status == 200 and json.loads(body)["status"] == "done":
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
    status, _, listed = http(
        "GET",
        f"{local_stack['api_url']}/images?source_key={quote(key)}",
        headers={"x-api-key": local_stack["api_key"]},
    )
    for text in (body, listed):
        for bucket in (local_stack["upload_bucket"], local_stack["processed_bucket"]):
            assert bucket.encode() not in text
        assert b"s3://" not in text
