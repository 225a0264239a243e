"""UploadApi on the local stack (the real program, `localaws up`): every route and status code over HTTP,
Lambda routes running the real ``function.api.handler`` in the engine's workers."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from tests.integration.conftest import stack_client

pytestmark = pytest.mark.integration


def _jpeg(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _large_png() -> bytes:
    """An uncompressed 2000x1850 RGB PNG: 11.1 MB, over API Gateway's limit, cheap to decode."""
    buf = io.BytesIO()
    Image.effect_noise((2000, 1850), 80).convert("RGB").save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def _api(stack: dict[str, Any], method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"x-api-key": stack["api_key"], **kw.pop("headers", {})}
    return requests.request(
        method, stack["api_url"] + path, headers=headers, timeout=60, allow_redirects=False, **kw
    )


def _wait_for_item(stack: dict[str, Any], source_key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        resp = _api(stack, "GET", "/images", params={"source_key": source_key})
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        if items and items[0]["status"] in ("done", "failed"):
            return items[0]
        assert time.monotonic() < deadline, f"no processed item for {source_key}: {resp.text[:300]}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def uploaded(local_stack: dict[str, Any]) -> dict[str, Any]:
    """A small image PUT through the API and processed by the pipeline."""
    key = "api-it/small photo.jpg"
    resp = _api(
        local_stack,
        "PUT",
        f"/uploads/{quote(key)}",
        data=_jpeg((320, 240)),
        headers={"Content-Type": "image/jpeg"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["key"] == key
    item = _wait_for_item(local_stack, key)
    assert item["status"] == "done", item
    return item


def test_get_by_id_and_by_source_key(local_stack: dict[str, Any], uploaded: dict[str, Any]) -> None:
    resp = _api(local_stack, "GET", f"/images/{uploaded['image_id']}")
    assert resp.status_code == 200
    item = resp.json()
    assert item == uploaded
    assert (item["width"], item["height"]) == (320, 240)
    for name, variant in item["variants"].items():
        assert variant["url"] == f"/images/{item['image_id']}/variants/{name}"
    name, variant = next(iter(item["variants"].items()))
    redirect = _api(local_stack, "GET", variant["url"])
    assert redirect.status_code == 302
    data = requests.get(redirect.headers["Location"], timeout=30).content
    assert len(data) == variant["bytes"]


def test_render_twice_second_from_cache(local_stack: dict[str, Any], uploaded: dict[str, Any]) -> None:
    path = f"/images/{uploaded['image_id']}/render"
    params = {"w": "100", "h": "100", "fit": "cover", "format": "png"}
    first = _api(local_stack, "GET", path, params=params)
    assert first.status_code == 302, first.text
    assert first.headers["X-Cache"] == "Miss"
    image = Image.open(io.BytesIO(requests.get(first.headers["Location"], timeout=30).content))
    assert (image.format, image.size) == ("PNG", (100, 100))
    second = _api(local_stack, "GET", path, params=params)
    assert second.status_code == 302 and second.headers["X-Cache"] == "Hit"
    assert second.json()["key"] == first.json()["key"]


def test_render_of_a_deleted_source_is_410(local_stack: dict[str, Any]) -> None:
    """A deleted source version is 404 to the render role only with s3:ListBucket on the upload
    bucket (the local engine answers like S3: 403 without it), which the API turns into 410."""
    key = "api-it/gone soon.jpg"
    put = _api(
        local_stack,
        "PUT",
        f"/uploads/{quote(key)}",
        data=_jpeg((64, 48)),
        headers={"Content-Type": "image/jpeg"},
    )
    assert put.status_code == 200, put.text
    item = _wait_for_item(local_stack, key)
    assert item["status"] == "done", item
    stack_client(local_stack, "s3").delete_object(
        Bucket=local_stack["upload_bucket"], Key=key, VersionId=item["source_version_id"]
    )
    resp = _api(local_stack, "GET", f"/images/{item['image_id']}/render", params={"w": "33"})
    assert resp.status_code == 410, resp.text
    assert "no longer exists" in resp.json()["message"]


def test_presigned_upload_over_10_mb(local_stack: dict[str, Any]) -> None:
    data = _large_png()
    assert len(data) > 10 * 1024 * 1024
    ticket = _api(
        local_stack,
        "POST",
        "/uploads",
        json={"content_type": "image/png", "content_length": len(data), "key": "api-it/large.png"},
    )
    assert ticket.status_code == 201, ticket.text
    put = requests.put(ticket.json()["url"], data=data, headers=ticket.json()["headers"], timeout=60)
    assert put.status_code == 200, put.text
    item = _wait_for_item(local_stack, "api-it/large.png")
    assert item["status"] == "done" and (item["width"], item["height"]) == (2000, 1850)


def test_put_over_10_mb_is_413(local_stack: dict[str, Any]) -> None:
    resp = _api(
        local_stack,
        "PUT",
        "/uploads/api-it/too-big.jpg",
        data=b"\xff" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "image/jpeg"},
    )
    assert resp.status_code == 413 and "POST /uploads" in resp.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("POST", "/uploads", {"json": {"content_type": "text/html", "content_length": 5}}),
        ("GET", "/images/0123456789abcdef/render", {"params": {"w": "0"}}),
        ("GET", "/images", {}),
    ],
)
def test_bad_requests_are_400_json(
    local_stack: dict[str, Any], method: str, path: str, kw: dict[str, Any]
) -> None:
    resp = _api(local_stack, method, path, **kw)
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"]


def test_upload_without_content_type_is_415_json(local_stack: dict[str, Any]) -> None:
    # the upload authorizer's identity source is Content-Type: without one API Gateway answers
    # UNAUTHORIZED, which the gateway responses turn into the authorizer's own 415 (UploadApi)
    resp = _api(local_stack, "PUT", "/uploads/api-it/no-type.jpg", data=b"x")
    assert resp.status_code == 415, resp.text
    assert "image/jpeg" in resp.json()["message"]


def test_unknown_id_is_404(local_stack: dict[str, Any]) -> None:
    for path in ("/images/ffffffffffffffff", "/images/ffffffffffffffff/render?w=10"):
        resp = _api(local_stack, "GET", path)
        assert resp.status_code == 404 and resp.json()["message"]


def test_no_key_is_403(local_stack: dict[str, Any]) -> None:
    for method, path in (("POST", "/uploads"), ("GET", "/images?source_key=x"), ("GET", "/images/x/render")):
        resp = requests.request(method, local_stack["api_url"] + path, timeout=30)
        assert (resp.status_code, resp.json()) == (403, {"message": "Forbidden"}), path
