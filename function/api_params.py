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
    width: int | None
    height: int | None
    fit: str
    fmt: str
    """A key of :data:`RENDER_FORMATS`, or :data:`AUTO` until :meth:`with_format` resolves it."""
    quality: int

    @property
    def extension(self) -> str:
        return RENDER_FORMATS[self.fmt]

    def with_format(self, fmt: str) -> RenderRequest:
        return replace(self, fmt=fmt)

    def cache_key(self, image_id: str) -> str:
        """Names exactly one rendition: for ``format=auto`` the *chosen* format, never the header."""
        if self.fmt == AUTO:
            raise ValueError("format=auto must be resolved (with_format) before naming the rendition")
        w = self.width if self.width is not None else "auto"
        h = self.height if self.height is not None else "auto"
        return f"renders/{image_id}/{w}x{h}_{self.fit}_q{self.quality}.{self.extension}"


def parse_render(query: Mapping[str, str] | None, max_pixels: int) -> RenderRequest:
    """Check the render parameters; every problem is a 400 naming the parameter and its bounds."""
    query = query or {}
    unknown = set(query) - {"w", "h", "fit", "format", "quality"}
    if unknown:
        raise HttpError(400, f"unknown parameter(s) {sorted(unknown)}; allowed: w, h, fit, format, quality")

    def dimension(name: str) -> int | None:
        raw = (query.get(name) or "").strip()
        if not raw:
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_RENDER_DIMENSION:
            raise HttpError(400, f"'{name}' must be an integer from 1 to {MAX_RENDER_DIMENSION}, got {raw!r}")
        return int(raw)

    width, height = dimension("w"), dimension("h")
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
    raw_q = (query.get("quality") or str(DEFAULT_QUALITY)).strip()
    if not raw_q.isdigit() or not 1 <= int(raw_q) <= 100:
        raise HttpError(400, f"'quality' must be an integer from 1 to 100, got {raw_q!r}")
    return RenderRequest(width, height, fit, fmt, int(raw_q))


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
