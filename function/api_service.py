"""What the API's Lambda routes do, between :mod:`function.api` (HTTP in and out) and the layers
below it: parameters (:mod:`function.api_params`), pixels (:mod:`function.imaging`, pure Pillow)
and AWS (:mod:`function.api_store`, boto3).

The S3 path's shape (``handler`` → ``pipeline`` → ``store``/``imaging``) for the API. Methods take
checked parameters and return plain results; refusals are :class:`HttpError`; no method sees an
API Gateway event or builds a response.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from function.api_params import (
    AUTO,
    HttpError,
    RenderRequest,
    UploadRequest,
    negotiate_format,
    parse_render,
)
from function.api_store import RENDER_EXPIRY_DAYS, ApiStore, SourceGoneError
from function.settings import ApiSettings
from function.uploads import UPLOAD_CONTENT_TYPES

IMAGE_ID = re.compile(r"^[0-9a-f]{16}$")
# Source formats that cannot carry alpha: an item from before the `alpha` field still gets JPEG.
_OPAQUE_FORMATS = ("jpeg",)


def _has_alpha(item: Mapping[str, Any]) -> bool:
    """Does the processed image have transparency (the item's ``alpha``, recorded by the
    pipeline)? Items written before that field: any format that can carry alpha counts as
    having it, so ``format=auto`` never flattens a transparent image."""
    alpha = item.get("alpha")
    if isinstance(alpha, bool):
        return alpha
    return item.get("format") not in _OPAQUE_FORMATS


MAX_RENDITIONS_PER_IMAGE = 100
"""Distinct cached renditions one image may have at a time (until lifecycle expires them).

A cap rather than quality/size steps: steps still let ``w`` x ``h`` x fit x format x quality
multiply into thousands of objects per image, while a cap bounds them whatever the parameters,
and 100 covers a responsive site's srcset (~10 widths x 3 formats x 2 fits) with room to spare.
Counted with one ``ListObjectsV2`` on a cache miss only (a miss already reads the source and
encodes); concurrent misses can pass the count together, so the true bound is the cap plus the
render function's reserved concurrency."""


@dataclass(frozen=True)
class PresignedUpload:
    """The answer to ``POST /uploads``: where and how to PUT the file. No bucket name (the URL is
    S3's own and names it, unavoidably)."""

    method: str
    url: str
    headers: dict[str, str]
    key: str
    overwrite: bool
    expires_in: int
    max_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VariantLink:
    """A presigned URL of one variant of an image."""

    url: str
    variant: str
    key: str
    format: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rendition:
    """A presigned URL of a rendition, and whether it came from the cache."""

    url: str
    key: str
    cached: bool
    content_type: str | None
    width: int | None
    height: int | None
    bytes: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ApiService:
    """The API's logic for one :class:`ApiSettings` and :class:`ApiStore` (reused while warm)."""

    def __init__(self, settings: ApiSettings, store: ApiStore, logger: Any) -> None:
        self.settings, self.store, self.logger = settings, store, logger

    # ------------------------------------------------------------------ POST /uploads

    def create_upload(self, request: UploadRequest) -> PresignedUpload:
        key = request.key or f"uploads/{uuid.uuid4().hex}{UPLOAD_CONTENT_TYPES[request.content_type]}"
        url = self.store.presign_upload(key, request.content_type, request.content_length, request.overwrite)
        headers = {"Content-Type": request.content_type, "Content-Length": str(request.content_length)}
        if not request.overwrite:
            headers["If-None-Match"] = "*"  # signed into the URL: the client must send it
        self.logger.info(
            "presigned upload",
            extra={
                "key": key,
                "content_type": request.content_type,
                "bytes": request.content_length,
                "overwrite": request.overwrite,
            },
        )
        return PresignedUpload(
            method="PUT",
            url=url,
            headers=headers,
            key=key,
            overwrite=request.overwrite,
            expires_in=self.settings.presign_expires,
            max_bytes=self.settings.max_upload_bytes,
        )

    # ------------------------------------------------------------------ lookups

    def image(self, image_id: str) -> dict[str, Any]:
        """The image's item (plain values); 404 for a malformed or unknown id."""
        if not IMAGE_ID.match(image_id):
            raise HttpError(404, f"image not found: {image_id!r} is not an image id (16 hex characters)")
        item = self.store.get_image(image_id)
        if item is None:
            raise HttpError(404, f"image not found: {image_id}")
        return item

    def variant(self, image_id: str, name: str) -> VariantLink:
        item = self.image(image_id)
        variants: Mapping[str, Any] = item.get("variants") or {}
        if name not in variants:
            status = item.get("status", "")
            hint = f"; the image is {status}" if status != "done" else f"; it has {sorted(variants)}"
            raise HttpError(404, f"image {image_id} has no variant {name!r}{hint}")
        v = variants[name]
        url = self.store.presign_get(v["bucket"], v["key"])
        return VariantLink(url=url, variant=name, key=v["key"], format=v.get("format"))

    # ------------------------------------------------------------------ render

    def render(self, image_id: str, query: Mapping[str, str] | None, accept: str | None = None) -> Rendition:
        """The rendition ``query`` asks for: from the cache, or rendered from the source and cached.

        ``format=auto`` picks the format from ``accept`` (the request's ``Accept`` header) and
        the image's item (alpha, animation); the cache key names the chosen format, so two
        clients with different headers share nothing they cannot both show. The request is
        clamped to what the source can give (:meth:`RenderRequest.plan`, from the item's
        recorded size) *before* the cache key is built, so ``w=5000`` and ``w=5001`` on a small
        image are one object. A miss that would add a rendition to an image that already has
        :data:`MAX_RENDITIONS_PER_IMAGE` is refused (429); ``renders/`` expires by lifecycle.
        """
        request = parse_render(query, self.settings.max_pixels)
        item = self.image(image_id)
        status = item.get("status", "")
        if status != "done":
            detail = item.get("error", "")
            raise HttpError(
                409, f"image {image_id} is {status or 'not processed'}" + (f": {detail}" if detail else "")
            )
        if request.fmt == AUTO:
            chosen = negotiate_format(accept, _has_alpha(item), bool(item.get("animated")))
            request = request.with_format(chosen)
        if not item.get("width") or not item.get("height"):
            raise HttpError(409, f"image {image_id} has no recorded size; upload it again")
        planned = request.plan(int(item["width"]), int(item["height"]))
        key = planned.cache_key(image_id)
        bucket = self.settings.processed_bucket
        cached = self.store.cached_rendition(key)
        if cached is not None:
            self.logger.info("render cache hit", extra={"image_id": image_id, "key": key})
            return Rendition(
                url=self.store.presign_get(bucket, key),
                key=key,
                cached=True,
                content_type=cached.content_type,
                width=cached.width,
                height=cached.height,
                bytes=cached.bytes,
            )
        existing = self.store.count_renditions(image_id, MAX_RENDITIONS_PER_IMAGE)
        if existing >= MAX_RENDITIONS_PER_IMAGE:
            raise HttpError(
                429,
                f"image {image_id} already has {existing} cached renditions, the most one image may "
                f"have ({MAX_RENDITIONS_PER_IMAGE}); ask for a size, fit, format and quality you "
                f"asked for before, or retry after {RENDER_EXPIRY_DAYS} days, when cached renditions expire",
            )
        try:
            data = self.store.read_source(item)
        except SourceGoneError as exc:
            raise HttpError(410, f"the source of image {image_id} no longer exists") from exc
        out, content_type, width, height = self._render(image_id, data, request)
        if (width, height) != (planned.width, planned.height):  # the item's size disagrees with the file
            self.logger.warning(
                "rendition size differs from plan",
                extra={"key": key, "planned": [planned.width, planned.height], "got": [width, height]},
            )
        self.store.put_rendition(key, out, content_type, width, height, image_id)
        self.logger.info(
            "rendered",
            extra={"image_id": image_id, "key": key, "bytes": len(out), "width": width, "height": height},
        )
        return Rendition(
            url=self.store.presign_get(bucket, key),
            key=key,
            cached=False,
            content_type=content_type,
            width=width,
            height=height,
            bytes=len(out),
        )

    def _render(self, image_id: str, data: bytes, request: RenderRequest) -> tuple[bytes, str, int, int]:
        from function import imaging  # Pillow loads on the first cache miss, not on every cold start

        try:
            return imaging.render(
                data,
                width=request.width,
                height=request.height,
                fit=request.fit,
                fmt=request.fmt,
                quality=request.quality,
                max_pixels=self.settings.max_pixels,
                max_animation_pixels=self.settings.max_animation_pixels,
            )
        except imaging.PermanentImageError as e:
            raise HttpError(422, f"cannot render image {image_id}: {e}") from e
        except ValueError as e:  # parameters the image code refuses
            raise HttpError(400, str(e)) from e
