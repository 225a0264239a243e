"""Issue 16 end to end on the local stack: HEIC, AVIF, animated GIF and animated WebP uploaded
through ``PUT /uploads/{key+}``, processed by the real handler (pillow-heif from the host layer),
read back over the API; ``format=auto`` chosen from ``Accept`` sent over HTTP."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from tests.function import samples

pytestmark = pytest.mark.integration

UPLOADS = {
    # key: (Content-Type, bytes maker, format recorded, displayed size, frames)
    "formats-it/IMG_0001.HEIC": ("image/heic", lambda: samples.heic(orientation=6), "heif", (80, 120), 1),
    "formats-it/photo.avif": ("image/avif", samples.avif, "avif", (120, 80), 1),
    "formats-it/anim.gif": ("image/gif", samples.animated_gif, "gif", (120, 80), 3),
    "formats-it/sticker.webp": ("image/webp", samples.animated_webp, "webp", (120, 80), 2),
}


def _api(stack: dict[str, Any], method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"x-api-key": stack["api_key"], **kw.pop("headers", {})}
    return requests.request(
        method, stack["api_url"] + path, headers=headers, timeout=60, allow_redirects=False, **kw
    )


def _wait(stack: dict[str, Any], key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        resp = _api(stack, "GET", "/images", params={"source_key": key})
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        if items and items[0]["status"] in ("done", "failed"):
            return _api(stack, "GET", f"/images/{items[0]['image_id']}").json()
        assert time.monotonic() < deadline, f"no processed item for {key}: {resp.text[:300]}"
        time.sleep(0.3)


def _fetch(stack: dict[str, Any], path: str, **kw: Any) -> tuple[requests.Response, bytes]:
    answer = _api(stack, "GET", path, **kw)
    assert answer.status_code == 302, answer.text
    return answer, requests.get(answer.headers["Location"], timeout=30).content


@pytest.fixture(scope="module")
def items(local_stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for key, (content_type, make, *_) in UPLOADS.items():
        resp = _api(
            local_stack, "PUT", f"/uploads/{quote(key)}", data=make(), headers={"Content-Type": content_type}
        )
        assert resp.status_code == 200, resp.text
    return {key: _wait(local_stack, key) for key in UPLOADS}


@pytest.mark.parametrize("key", list(UPLOADS))
def test_each_format_is_processed_like_any_image(
    local_stack: dict[str, Any], items: dict[str, dict[str, Any]], key: str
) -> None:
    _, _, fmt, size, frames = UPLOADS[key]
    item = items[key]
    assert item["status"] == "done", item
    assert (item["format"], (item["width"], item["height"])) == (fmt, size)
    assert item["animated"] is (frames > 1) and item["frames"] == frames
    for name, variant in item["variants"].items():
        _, data = _fetch(local_stack, variant["url"])
        with Image.open(io.BytesIO(data)) as im:
            assert im.format.lower() == variant["format"], name
            assert im.size == (variant["width"], variant["height"]), name
            kept = getattr(im, "n_frames", 1)
        # the WebP variant of an animation keeps every frame; JPEG and PNG take the first
        assert kept == (frames if variant["format"] == "webp" else 1), name
        assert variant.get("frames", 1) == kept, name


@pytest.mark.parametrize(
    ("accept", "pil_format"),
    [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "AVIF"),
        ("image/webp,image/*;q=0.8,*/*;q=0.5", "WEBP"),
        ("*/*", "JPEG"),
    ],
)
def test_format_auto_over_http_follows_accept(
    local_stack: dict[str, Any], items: dict[str, dict[str, Any]], accept: str, pil_format: str
) -> None:
    """The Accept header reaches the render Lambda through the stage (as API Gateway's proxy
    integration passes it) and the answer varies on it."""
    item = items["formats-it/IMG_0001.HEIC"]
    answer, data = _fetch(
        local_stack,
        f"/images/{item['image_id']}/render",
        params={"w": "40", "format": "auto"},
        headers={"Accept": accept},
    )
    assert "Accept" in answer.headers["Vary"]
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == pil_format and im.size == (40, 60)
    assert answer.json()["key"].endswith({"AVIF": ".avif", "WEBP": ".webp", "JPEG": ".jpg"}[pil_format])


def test_animated_render_to_gif_keeps_the_animation(
    local_stack: dict[str, Any], items: dict[str, dict[str, Any]]
) -> None:
    item = items["formats-it/anim.gif"]
    _, data = _fetch(local_stack, f"/images/{item['image_id']}/render", params={"w": "60", "format": "gif"})
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "GIF" and im.size == (60, 40) and im.n_frames == 3
