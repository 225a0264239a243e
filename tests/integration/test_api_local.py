"""The REST API served by the local stack, called over HTTP exactly as on AWS."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from tests.integration.conftest import stack_client
from verify.check import http, image_id

pytestmark = pytest.mark.integration


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (64, 48), (10, 200, 120, 128)).save(buf, "PNG")
    return buf.getvalue()


def test_put_upload_is_byte_identical_and_get_returns_the_item(local_stack: dict[str, Any]) -> None:
    data = _png()
    key = "api-tests/nested dir/pixel+1.png"
    url = f"{local_stack['api_url']}/uploads/{quote(key, safe='/')}"
    status, _, body = http(
        "PUT", url, data, {"x-api-key": local_stack["api_key"], "Content-Type": "image/png"}
    )
    assert status == 200, body
    s3 = stack_client(local_stack, "s3")
    obj = s3.get_object(Bucket=local_stack["upload_bucket"], Key=key)
    assert obj["Body"].read() == data
    assert obj["ContentType"] == "image/png"

    img_id = image_id(local_stack["upload_bucket"], key, obj.get("VersionId"))
    deadline = time.monotonic() + 60
    while True:
        status, headers, body = http(
            "GET", f"{local_stack['api_url']}/images/{img_id}", headers={"x-api-key": local_stack["api_key"]}
        )
        if status == 200 and json.loads(body).get("status") in ("done", "failed"):
            break
        assert time.monotonic() < deadline, f"no done item for {img_id}: HTTP {status} {body[:200]!r}"
        time.sleep(0.3)
    item = json.loads(body)
    assert headers.get("Content-Type", "").startswith("application/json")
    assert item["status"] == "done" and item["image_id"] == img_id
    assert item["source_key"] == key and item["width"] == 64 and item["height"] == 48
    assert isinstance(item["variants"], dict) and item["variants"]


def test_unknown_image_is_404_json(local_stack: dict[str, Any]) -> None:
    status, _, body = http(
        "GET",
        f"{local_stack['api_url']}/images/ffffffffffffffff",
        headers={"x-api-key": local_stack["api_key"]},
    )
    assert status == 404
    assert isinstance(json.loads(body), dict)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "not-the-key"}])
def test_api_key_is_required(local_stack: dict[str, Any], headers: dict[str, str]) -> None:
    status, _, body = http(
        "PUT",
        f"{local_stack['api_url']}/uploads/denied.png",
        _png(),
        {**headers, "Content-Type": "image/png"},
    )
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    status, _, _ = http("GET", f"{local_stack['api_url']}/images/ffffffffffffffff", headers=headers)
    assert status == 403


def test_unknown_route_answers_like_api_gateway(local_stack: dict[str, Any]) -> None:
    status, _, body = http(
        "GET", f"{local_stack['api_url']}/no/such/route", headers={"x-api-key": local_stack["api_key"]}
    )
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_cors_preflight(local_stack: dict[str, Any]) -> None:
    status, headers, _ = http(
        "OPTIONS",
        f"{local_stack['api_url']}/images/ffffffffffffffff",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
    )
    assert status == 200
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower.get("access-control-allow-origin")
    assert "GET" in lower.get("access-control-allow-methods", "")
