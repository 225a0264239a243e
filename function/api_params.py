"""The API's request parameters, checked: presign bodies, upload keys and render queries.

What :mod:`function.events` is to the S3 path: pure Python (no boto3, no Pillow), every problem
an :class:`HttpError` whose message names the parameter and says what to send instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from function import geometry
from function.uploads import UPLOAD_CONTENT_TYPES, KeyRuleError, check_key

RENDER_FORMATS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif"}
"""Render output format -> file extension of the cached rendition."""
AUTO = "auto"
"""``format=auto``: the format is chosen from the request's ``Accept`` (:func:`negotiate_format`)."""
_FORMAT_ALIASES = {"jpg": "jpeg"}
RENDER_FITS = ("inside", "cover", "contain")
MAX_RENDER_DIMENSION = 8192
DEFAULT_QUALITY = 80


class HttpError(Exception):
    """An answer for the client: status + message (rendered as ``{"message": …}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- POST /uploads


@dataclass(frozen=True)
class UploadRequest:
    content_type: str
    content_length: int
    key: str | None
    """The requested object key; None lets the service choose one."""
    overwrite: bool = False
    """Opt-in to replacing an existing key (a new version); by default S3 refuses with 412."""


def json_body(body: str | None, base64_encoded: bool = False) -> dict[str, Any]:
    raw = body or ""
    if base64_encoded:
        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    try:
        parsed = json.loads(raw or "{}")
    except ValueError as e:
        raise HttpError(400, f"request body must be JSON: {e}") from e
    if not isinstance(parsed, dict):
        raise HttpError(
            400, 'request body must be a JSON object like {"content_type": …, "content_length": …}'
        )
    return parsed


def validate_key(key: Any) -> str:
    """The upload key rule (``function.uploads``, shared with the PUT route's authorizer) as a 400."""
    if not isinstance(key, str):
        raise HttpError(400, "'key' must be a string (the object key of the upload)")
    try:
        return check_key(key)
    except KeyRuleError as e:
        raise HttpError(400, f"'key': {e.message}") from e


def parse_upload(body: Mapping[str, Any], max_upload_bytes: int) -> UploadRequest:
    """Check a presign request body; content type and length are signed into the URL later."""
    unknown = set(body) - {"content_type", "content_length", "key", "overwrite"}
    if unknown:
        raise HttpError(
            400,
            f"unknown field(s) {sorted(unknown)}; allowed: content_type, content_length, key, overwrite",
        )
    overwrite = body.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise HttpError(400, "'overwrite' must be true or false (true: replace an existing key's object)")
    content_type = str(body.get("content_type") or "").split(";", 1)[0].strip().lower()
    if content_type not in UPLOAD_CONTENT_TYPES:
        raise HttpError(
            400,
            f"'content_type' must be one of {sorted(UPLOAD_CONTENT_TYPES)}, got {body.get('content_type')!r}",
        )
    length = body.get("content_length")
    if isinstance(length, bool) or not isinstance(length, int):
        raise HttpError(400, "'content_length' must be the file size in bytes (an integer)")
    limit_mb = max_upload_bytes // (1024 * 1024)
    if not 0 < length <= max_upload_bytes:
        raise HttpError(
            400,
            f"'content_length' must be between 1 and {max_upload_bytes} bytes"
            f" ({limit_mb} MB, stack config maxUploadMb), got {length}",
        )
    key = body.get("key")
    return UploadRequest(content_type, length, None if key is None else validate_key(key), overwrite)


# --------------------------------------------------------------------------- render


@dataclass(frozen=True)
class RenderRequest:
    """A checked render query: the bounding box as asked (not yet clamped to the source)."""

    width: int | None
    height: int | None
    fit: str
    fmt: str
    """A key of :data:`RENDER_FORMATS`, or :data:`AUTO` until :meth:`with_format` resolves it."""
    quality: int

    def with_format(self, fmt: str) -> RenderRequest:
        return replace(self, fmt=fmt)

    def plan(self, source_width: int, source_height: int) -> PlannedRendition:
        """What this request produces from a source of that (displayed) size: the box clamped
        by :mod:`function.geometry` (never upscaled; no more pixels than the source). A cover
        or contain that neither crops nor pads is the same picture as ``inside`` at that size,
        and is named so (one cached object, not three)."""
        w, h = self.width, self.height
        size = geometry.inside(source_width, source_height, w, h)
        fit = "inside"
        if self.fit == "cover" and w and h:
            size = geometry.cover(source_width, source_height, w, h)[0]
        elif self.fit == "contain" and w and h:
            size = geometry.contain(source_width, source_height, w, h)[0]
        if size != geometry.inside(source_width, source_height, *size):
            fit = self.fit
        return PlannedRendition(size[0], size[1], fit, self.fmt, self.quality)


@dataclass(frozen=True)
class PlannedRendition:
    """The rendition a request resolves to for one source: its cache key names exactly it."""

    width: int
    height: int
    fit: str
    fmt: str
    quality: int

    def cache_key(self, image_id: str) -> str:
        """``renders/<image_id>/<w>x<h>_<fit>[_q<quality>].<ext>`` (PNG and GIF take no quality).
        Names exactly one rendition: for ``format=auto`` the *chosen* format, never the header."""
        if self.fmt == AUTO:
            raise ValueError("format=auto must be resolved (with_format) before naming the rendition")
        quality = "" if self.fmt in ("png", "gif") else f"_q{self.quality}"
        return f"renders/{image_id}/{self.width}x{self.height}_{self.fit}{quality}.{RENDER_FORMATS[self.fmt]}"


def _whole_number(query: Mapping[str, str], name: str, lo: int, hi: int) -> int | None:
    """``query[name]`` as an integer in [lo, hi], or None when absent. ASCII digits only:
    ``str.isdigit()`` also accepts '²' or '٣' (which ``int()`` refuses or reads as 3), and a
    5,000-digit number makes ``int()`` raise; both used to crash the function (502)."""
    raw = (query.get(name) or "").strip()
    if not raw:
        return None
    digits = raw.isascii() and raw.isdigit()
    if not digits or len(raw) > len(str(hi)) or not lo <= int(raw) <= hi:
        what = "ASCII digits 0-9 only" if not digits else f"{lo} to {hi}"
        raise HttpError(400, f"'{name}' must be a whole number from {lo} to {hi} ({what}), got {raw[:20]!r}")
    return int(raw)


def parse_render(query: Mapping[str, str] | None, max_pixels: int) -> RenderRequest:
    """Check the render parameters; every problem is a 400 naming the parameter and its bounds."""
    query = query or {}
    unknown = set(query) - {"w", "h", "fit", "format", "quality"}
    if unknown:
        raise HttpError(400, f"unknown parameter(s) {sorted(unknown)}; allowed: w, h, fit, format, quality")
    width = _whole_number(query, "w", 1, MAX_RENDER_DIMENSION)
    height = _whole_number(query, "h", 1, MAX_RENDER_DIMENSION)
    if width is None and height is None:
        raise HttpError(400, "give 'w', 'h' or both (the bounding box of the rendition, in pixels)")
    if width is not None and height is not None and width * height > max_pixels:
        raise HttpError(400, f"'w' x 'h' = {width * height} pixels is over the limit of {max_pixels}")
    fit = (query.get("fit") or "inside").strip().lower()
    if fit not in RENDER_FITS:
        raise HttpError(400, f"'fit' must be one of {list(RENDER_FITS)}, got {query.get('fit')!r}")
    if fit in ("cover", "contain") and (width is None or height is None):
        raise HttpError(400, f"fit '{fit}' needs both 'w' and 'h'")
    fmt = (query.get("format") or "jpeg").strip().lower()
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in RENDER_FORMATS and fmt != AUTO:
        raise HttpError(
            400, f"'format' must be one of {', '.join([*RENDER_FORMATS, AUTO])}, got {query.get('format')!r}"
        )
    quality = _whole_number(query, "quality", 1, 100)
    return RenderRequest(width, height, fit, fmt, DEFAULT_QUALITY if quality is None else quality)


def wants_json(query: Mapping[str, str] | None, headers: Mapping[str, str] | None) -> bool:
    """Answer a URL as ``200`` JSON instead of a 302: ``?redirect=false`` (``true`` keeps the 302
    and wins over the header), else an ``Accept`` header naming ``application/json``."""
    raw = ((query or {}).get("redirect") or "").strip().lower()
    if raw not in ("", "true", "false"):
        raise HttpError(400, f"'redirect' must be true (302, the default) or false (200 JSON), got {raw!r}")
    if raw:
        return raw == "false"
    accept = next((v for k, v in (headers or {}).items() if k.lower() == "accept"), "") or ""
    return "application/json" in [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]


def accepted_types(accept: str | None) -> set[str]:
    """The media types an ``Accept`` header lists with a non-zero ``q`` (lower case, no params)."""
    listed: set[str] = set()
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0  # a malformed weight does not count as acceptance
        if media and q > 0:
            listed.add(media.lower())
    return listed


def negotiate_format(accept: str | None, alpha: bool, animated: bool = False) -> str:
    """``format=auto``: AVIF if ``Accept`` lists ``image/avif``, else WebP if it lists
    ``image/webp``, else JPEG — or PNG when the source has alpha (JPEG would flatten it).

    Only explicit listings count (``*/*`` and ``image/*`` choose JPEG/PNG, which every client
    shows). An animated source skips AVIF (its renders are still) for WebP, else GIF, which keep
    the animation.
    """
    listed = accepted_types(accept)
    if animated:
        return "webp" if "image/webp" in listed else "gif"
    if "image/avif" in listed:
        return "avif"
    if "image/webp" in listed:
        return "webp"
    return "png" if alpha else "jpeg"
