"""imgpipe's API Lambdas (handler ``function.api.handler``), behind API Gateway proxy integrations.

One handler, routed on the API Gateway resource:

* ``POST /uploads`` — presigned S3 ``PUT`` URL for uploads too large for API Gateway's 10 MB body
  limit. Body ``{"content_type": "image/jpeg", "content_length": 12345678, "key": "optional"}``;
  content type and length are *signed into* the URL, so S3 refuses any other type or size.
* ``GET /images/{image_id}/variants/{variant}`` — 302 to a short-lived presigned URL of a variant.
* ``GET /images/{image_id}/render?w=&h=&fit=&format=&quality=`` — on-demand rendition of the
  source with :func:`function.imaging.render`, cached in the processed bucket under
  ``renders/<image_id>/<w>x<h>_<fit>_q<quality>.<ext>``; a repeat request only finds the cached
  object (``X-Cache: Hit``). Answers 302 to a presigned URL (see ``components/upload_api.py``
  for why not inline bytes) with a JSON body describing the rendition.

Every error is ``{"message": …}`` JSON with a 4xx status saying what to fix. No code here knows
whether it runs on AWS or the local stack: boto3 reads ``AWS_ENDPOINT_URL`` itself.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import ClientError

from function.settings import DEFAULT_MAX_PIXELS
from function.store import MISSING_OBJECT_CODES
from function.uploads import UPLOAD_CONTENT_TYPES, KeyRuleError, check_key

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "imgpipe"))

RENDER_FORMATS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp"}
RENDER_FITS = ("inside", "cover", "contain")
MAX_RENDER_DIMENSION = 8192
DEFAULT_QUALITY = 80
IMAGE_ID = re.compile(r"^[0-9a-f]{16}$")


class HttpError(Exception):
    """An answer for the client: status + message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ApiSettings:
    upload_bucket: str
    processed_bucket: str
    metadata_table: str
    max_pixels: int
    max_upload_bytes: int
    presign_expires: int
    cors_origins: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        missing = [n for n in ("UPLOAD_BUCKET", "PROCESSED_BUCKET", "METADATA_TABLE") if not env.get(n)]
        if missing:
            raise RuntimeError(f"API function misconfigured: set {', '.join(missing)} (the program does)")

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "").strip() or str(default)
            if not raw.isdigit() or int(raw) <= 0:
                raise RuntimeError(
                    f"API function misconfigured: {name} must be a positive integer, got {raw!r}"
                )
            return int(raw)

        return cls(
            upload_bucket=env["UPLOAD_BUCKET"],
            processed_bucket=env["PROCESSED_BUCKET"],
            metadata_table=env["METADATA_TABLE"],
            max_pixels=integer("MAX_PIXELS", DEFAULT_MAX_PIXELS),
            max_upload_bytes=integer("MAX_UPLOAD_MB", 100) * 1024 * 1024,
            presign_expires=integer("PRESIGN_EXPIRES_SECONDS", 900),
            cors_origins=tuple(o.strip() for o in env.get("CORS_ORIGINS", "*").split(",") if o.strip()),
        )


@functools.cache
def _s3() -> Any:
    # SigV4 everywhere: SSE-KMS objects cannot be fetched with SigV2 presigned URLs.
    return boto3.client("s3", config=Config(signature_version="s3v4", retries={"mode": "standard"}))


@functools.cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))


def reset_clients() -> None:
    """Forget cached clients (tests switch moto backends between cases)."""
    _s3.cache_clear()
    _dynamodb.cache_clear()


# --- responses ----------------------------------------------------------------------------------


def _cors(event: Mapping[str, Any], settings: ApiSettings) -> dict[str, str]:
    headers = {"Access-Control-Expose-Headers": "Location,X-Cache"}
    if "*" in settings.cors_origins:
        headers["Access-Control-Allow-Origin"] = "*"
        return headers
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), "")
    headers["Access-Control-Allow-Origin"] = (
        origin if origin in settings.cors_origins else settings.cors_origins[0]
    )
    headers["Vary"] = "Origin"
    return headers


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }


# --- POST /uploads --------------------------------------------------------------------------------


def _body(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        import base64

        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    try:
        body = json.loads(raw or "{}")
    except ValueError as e:
        raise HttpError(400, f"request body must be JSON: {e}") from e
    if not isinstance(body, dict):
        raise HttpError(
            400, 'request body must be a JSON object like {"content_type": …, "content_length": …}'
        )
    return body


def validate_key(key: Any) -> str:
    """The upload key rule (``function.uploads``, shared with the PUT route's authorizer) as a 400."""
    if not isinstance(key, str):
        raise HttpError(400, "'key' must be a string (the object key of the upload)")
    try:
        return check_key(key)
    except KeyRuleError as e:
        raise HttpError(400, f"'key': {e.message}") from e


def create_upload(event: Mapping[str, Any], settings: ApiSettings) -> dict[str, Any]:
    body = _body(event)
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
    limit_mb = settings.max_upload_bytes // (1024 * 1024)
    if not 0 < length <= settings.max_upload_bytes:
        raise HttpError(
            400,
            f"'content_length' must be between 1 and {settings.max_upload_bytes} bytes"
            f" ({limit_mb} MB, stack config maxUploadMb), got {length}",
        )
    key = body.get("key")
    key = (
        validate_key(key)
        if key is not None
        else f"uploads/{uuid.uuid4().hex}{UPLOAD_CONTENT_TYPES[content_type]}"
    )
    # ContentType and ContentLength are signed headers: S3 answers 403 to any other type or size.
    # Unless the caller opts in to overwriting, If-None-Match: * is signed too: S3 then refuses
    # (412) to replace an existing key, and a URL used without the header fails its signature
    # (S3 conditional writes: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
    params: dict[str, Any] = {
        "Bucket": settings.upload_bucket,
        "Key": key,
        "ContentType": content_type,
        "ContentLength": length,
    }
    headers = {"Content-Type": content_type, "Content-Length": str(length)}
    if not overwrite:
        params["IfNoneMatch"] = "*"
        headers["If-None-Match"] = "*"
    url = _s3().generate_presigned_url(
        "put_object", Params=params, ExpiresIn=settings.presign_expires, HttpMethod="PUT"
    )
    logger.info(
        "presigned upload",
        extra={"key": key, "content_type": content_type, "bytes": length, "overwrite": overwrite},
    )
    # No bucket name in the answer (the URL is S3's own and names it, unavoidably).
    return _json(
        201,
        {
            "method": "PUT",
            "url": url,
            "headers": headers,
            "key": key,
            "overwrite": overwrite,
            "expires_in": settings.presign_expires,
            "max_bytes": settings.max_upload_bytes,
        },
        _cors(event, settings),
    )


# --- lookups ------------------------------------------------------------------------------------


def _item(image_id: str, settings: ApiSettings) -> dict[str, Any]:
    if not IMAGE_ID.match(image_id):
        raise HttpError(404, f"image not found: {image_id!r} is not an image id (16 hex characters)")
    resp = _dynamodb().get_item(TableName=settings.metadata_table, Key={"image_id": {"S": image_id}})
    if "Item" not in resp:
        raise HttpError(404, f"image not found: {image_id}")
    return resp["Item"]


def _presigned_get(bucket: str, key: str, settings: ApiSettings) -> str:
    return _s3().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=settings.presign_expires
    )


def get_variant(event: Mapping[str, Any], settings: ApiSettings) -> dict[str, Any]:
    params = event.get("pathParameters") or {}
    image_id, name = params.get("image_id", ""), params.get("variant", "")
    item = _item(image_id, settings)
    variants = item.get("variants", {}).get("M", {})
    if name not in variants:
        status = item.get("status", {}).get("S", "")
        hint = f"; the image is {status}" if status != "done" else f"; it has {sorted(variants)}"
        raise HttpError(404, f"image {image_id} has no variant {name!r}{hint}")
    v = variants[name]["M"]
    url = _presigned_get(v["bucket"]["S"], v["key"]["S"], settings)
    return _json(
        302,
        {"url": url, "variant": name, "key": v["key"]["S"], "format": v.get("format", {}).get("S")},
        {"Location": url, "Cache-Control": "no-store", **_cors(event, settings)},
    )


# --- GET /images/{image_id}/render --------------------------------------------------------------


@dataclass(frozen=True)
class RenderRequest:
    width: int | None
    height: int | None
    fit: str
    fmt: str  # jpeg | png | webp
    quality: int

    @property
    def extension(self) -> str:
        return RENDER_FORMATS[self.fmt]

    def cache_key(self, image_id: str) -> str:
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
    if fmt not in RENDER_FORMATS:
        raise HttpError(400, f"'format' must be one of jpeg, png, webp, got {query.get('format')!r}")
    fmt = "jpeg" if fmt == "jpg" else fmt
    raw_q = (query.get("quality") or str(DEFAULT_QUALITY)).strip()
    if not raw_q.isdigit() or not 1 <= int(raw_q) <= 100:
        raise HttpError(400, f"'quality' must be an integer from 1 to 100, got {raw_q!r}")
    return RenderRequest(width, height, fit, fmt, int(raw_q))


def render_bytes(data: bytes, req: RenderRequest, max_pixels: int) -> tuple[bytes, str, int, int]:
    """The rendition: ``function.imaging.render`` for inside/cover; ``contain`` = inside, then
    centred on a ``w`` x ``h`` canvas (transparent for PNG/WebP, white for JPEG)."""
    from function.imaging import render

    if req.fit != "contain":
        return render(
            data,
            width=req.width,
            height=req.height,
            fit=req.fit,
            fmt=req.fmt,
            quality=req.quality,
            max_pixels=max_pixels,
        )
    from PIL import Image

    assert req.width is not None and req.height is not None  # parse_render guarantees it
    # lossless intermediate, so the only lossy step is the final encode
    inner, _, w, h = render(
        data, width=req.width, height=req.height, fit="inside", fmt="png", quality=100, max_pixels=max_pixels
    )
    with Image.open(io.BytesIO(inner)) as im:
        im.load()
        mode = "RGB" if req.fmt == "jpeg" else "RGBA"
        background = (255, 255, 255) if mode == "RGB" else (0, 0, 0, 0)
        canvas = Image.new(mode, (req.width, req.height), background)
        src = im.convert("RGBA")
        canvas.paste(src, ((req.width - w) // 2, (req.height - h) // 2), src)
    buf = io.BytesIO()
    canvas.save(buf, "PNG", compress_level=1)
    return render(
        buf.getvalue(),
        width=req.width,
        height=req.height,
        fit="inside",
        fmt=req.fmt,
        quality=req.quality,
        max_pixels=max_pixels,
    )


def render_image(event: Mapping[str, Any], settings: ApiSettings) -> dict[str, Any]:
    from function.imaging import PermanentImageError

    image_id = (event.get("pathParameters") or {}).get("image_id", "")
    req = parse_render(event.get("queryStringParameters"), settings.max_pixels)
    item = _item(image_id, settings)
    status = item.get("status", {}).get("S", "")
    if status != "done":
        detail = item.get("error", {}).get("S", "")
        raise HttpError(
            409, f"image {image_id} is {status or 'not processed'}" + (f": {detail}" if detail else "")
        )
    key = req.cache_key(image_id)
    s3 = _s3()
    headers = {"Cache-Control": "no-store", **_cors(event, settings)}
    try:
        head = s3.head_object(Bucket=settings.processed_bucket, Key=key)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in MISSING_OBJECT_CODES:
            raise
    else:
        meta = head.get("Metadata", {})
        url = _presigned_get(settings.processed_bucket, key, settings)
        logger.info("render cache hit", extra={"image_id": image_id, "key": key})
        return _json(
            302,
            {
                "url": url,
                "key": key,
                "cached": True,
                "content_type": head.get("ContentType"),
                "width": int(meta.get("width", 0)) or None,
                "height": int(meta.get("height", 0)) or None,
                "bytes": head.get("ContentLength"),
            },
            {"Location": url, "X-Cache": "Hit", **headers},
        )

    source: dict[str, Any] = {"Bucket": item["source_bucket"]["S"], "Key": item["source_key"]["S"]}
    version = item.get("source_version_id", {}).get("S")
    if version:
        source["VersionId"] = version
    try:
        data = s3.get_object(**source)["Body"].read()
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in MISSING_OBJECT_CODES:
            raise HttpError(410, f"the source of image {image_id} no longer exists") from e
        raise
    try:
        out, content_type, width, height = render_bytes(data, req, settings.max_pixels)
    except PermanentImageError as e:
        raise HttpError(422, f"cannot render image {image_id}: {e}") from e
    except ValueError as e:  # parameters the image code refuses
        raise HttpError(400, str(e)) from e
    s3.put_object(
        Bucket=settings.processed_bucket,
        Key=key,
        Body=out,
        ContentType=content_type,
        CacheControl="public, max-age=31536000, immutable",  # a key names exactly one rendition
        Metadata={"width": str(width), "height": str(height), "image-id": image_id},
    )
    url = _presigned_get(settings.processed_bucket, key, settings)
    logger.info(
        "rendered",
        extra={"image_id": image_id, "key": key, "bytes": len(out), "width": width, "height": height},
    )
    return _json(
        302,
        {
            "url": url,
            "key": key,
            "cached": False,
            "content_type": content_type,
            "width": width,
            "height": height,
            "bytes": len(out),
        },
        {"Location": url, "X-Cache": "Miss", **headers},
    )


# --- entry point --------------------------------------------------------------------------------

ROUTES = {
    ("POST", "/uploads"): create_upload,
    ("GET", "/images/{image_id}/variants/{variant}"): get_variant,
    ("GET", "/images/{image_id}/render"): render_image,
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Keys by hand, not inject_lambda_context: local invokers may pass a minimal context.
    logger.remove_keys(["request_id", "api_request_id", "route"])
    logger.append_keys(
        request_id=getattr(context, "aws_request_id", None),
        api_request_id=(event.get("requestContext") or {}).get("requestId"),
        route=f"{event.get('httpMethod')} {event.get('resource')}",
    )
    settings = ApiSettings.from_env()
    route = ROUTES.get((str(event.get("httpMethod", "")).upper(), str(event.get("resource", ""))))
    try:
        if route is None:
            raise HttpError(404, f"no route for {event.get('httpMethod')} {event.get('resource')}")
        return route(event, settings)
    except HttpError as e:
        logger.info("client error", extra={"status": e.status, "error": e.message})
        return _json(e.status, {"message": e.message}, _cors(event, settings))
