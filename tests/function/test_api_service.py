"""function.api_service: the API's logic over an in-memory store (no boto3, no moto)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from function.api_params import HttpError
from function.api_service import ApiService
from function.api_store import CachedRendition, SourceGoneError
from function.settings import ApiSettings
from tests.function import samples

IMAGE_ID = "0123456789abcdef"
SETTINGS = ApiSettings("uploads", "processed", "meta", max_pixels=1_000_000, presign_expires=60)


@dataclass
class MemoryStore:
    """The :class:`function.api_store.ApiStore` interface over dicts; records what was read."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[tuple[str, str], bytes] = field(default_factory=dict)
    renders: dict[str, CachedRendition] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        return self.items.get(image_id)

    def presign_get(self, bucket: str, key: str) -> str:
        return f"https://{bucket}.example/{key}?signed"

    def presign_upload(self, key: str, content_type: str, length: int, overwrite: bool) -> str:
        return f"https://uploads.example/{key}?type={content_type}&length={length}&overwrite={overwrite}"

    def read_source(self, item: dict[str, Any]) -> bytes:
        self.reads.append(item["source_key"])
        try:
            return self.sources[(item["source_bucket"], item["source_key"])]
        except KeyError:
            raise SourceGoneError(item["source_key"]) from None

    def cached_rendition(self, key: str) -> CachedRendition | None:
        return self.renders.get(key)

    def count_renditions(self, image_id: str, limit: int) -> int:
        return min(limit, sum(key.startswith(f"renders/{image_id}/") for key in self.renders))

    def put_rendition(
        self, key: str, data: bytes, content_type: str, width: int, height: int, image_id: str
    ) -> None:
        self.renders[key] = CachedRendition(key, content_type, width, height, len(data))


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    s.items[IMAGE_ID] = {
        "image_id": IMAGE_ID,
        "status": "done",
        "source_bucket": "uploads",
        "source_key": "a/cat.jpg",
        "width": 120,
        "height": 80,
        "variants": {"thumbnail": {"bucket": "processed", "key": "a/cat_thumbnail.jpg", "format": "jpeg"}},
    }
    s.sources[("uploads", "a/cat.jpg")] = samples.jpeg((120, 80))
    return s


def service(store: MemoryStore) -> ApiService:
    return ApiService(SETTINGS, store, logging.getLogger("test"))  # type: ignore[arg-type]  # duck-typed store


def test_render_miss_then_hit_reads_the_source_once(store: MemoryStore) -> None:
    api = service(store)
    first = api.render(IMAGE_ID, {"w": "60"})
    assert not first.cached and (first.width, first.height) == (60, 40) and first.content_type == "image/jpeg"
    assert first.url == f"https://processed.example/{first.key}?signed"
    second = api.render(IMAGE_ID, {"w": "60"})
    assert second.cached and second.key == first.key and second.bytes == first.bytes
    assert store.reads == ["a/cat.jpg"]


def test_render_plans_from_the_recorded_size_before_reading_anything(store: MemoryStore) -> None:
    api = service(store)
    first = api.render(IMAGE_ID, {"w": "4000", "format": "png"})
    assert first.key == f"renders/{IMAGE_ID}/120x80_inside.png" and (first.width, first.height) == (120, 80)
    assert api.render(IMAGE_ID, {"w": "120", "h": "80", "fit": "cover", "format": "png"}).cached
    store.items[IMAGE_ID].pop("width")
    with pytest.raises(HttpError, match="no recorded size") as err:
        api.render(IMAGE_ID, {"w": "10"})
    assert err.value.status == 409 and store.reads == ["a/cat.jpg"]


def test_render_refuses_unfinished_gone_and_unknown_images(store: MemoryStore) -> None:
    api = service(store)
    store.items["fedcba9876543210"] = {**store.items[IMAGE_ID], "status": "failed", "error": "boom"}
    with pytest.raises(HttpError, match="is failed: boom") as err:
        api.render("fedcba9876543210", {"w": "10"})
    assert err.value.status == 409
    del store.sources[("uploads", "a/cat.jpg")]
    with pytest.raises(HttpError, match="no longer exists") as err:
        api.render(IMAGE_ID, {"w": "10"})
    assert err.value.status == 410
    with pytest.raises(HttpError, match="not an image id") as err:
        api.render("../etc", {"w": "10"})
    assert err.value.status == 404
    assert store.renders == {}


def test_render_of_an_unreadable_source_is_422(store: MemoryStore) -> None:
    store.sources[("uploads", "a/cat.jpg")] = b"not an image"
    with pytest.raises(HttpError, match="cannot render image") as err:
        service(store).render(IMAGE_ID, {"w": "10"})
    assert err.value.status == 422 and store.renders == {}


def test_variant_links_and_hints(store: MemoryStore) -> None:
    api = service(store)
    link = api.variant(IMAGE_ID, "thumbnail")
    assert link.url == "https://processed.example/a/cat_thumbnail.jpg?signed" and link.format == "jpeg"
    with pytest.raises(HttpError, match=r"it has \['thumbnail'\]"):
        api.variant(IMAGE_ID, "huge")


def test_create_upload_chooses_a_key_when_none_is_given(store: MemoryStore) -> None:
    from function.api_params import UploadRequest

    upload = service(store).create_upload(UploadRequest("image/webp", 10, None))
    assert upload.key.startswith("uploads/") and upload.key.endswith(".webp")
    assert upload.headers == {"Content-Type": "image/webp", "Content-Length": "10", "If-None-Match": "*"}
    assert upload.expires_in == 60 and "bucket" not in upload.as_dict()
    replace = service(store).create_upload(UploadRequest("image/png", 10, "a/b.png", overwrite=True))
    assert replace.key == "a/b.png" and replace.overwrite and "If-None-Match" not in replace.headers
    assert replace.url.endswith("overwrite=True")
