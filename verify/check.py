"""Upload-and-verify: upload test photos, wait for the pipeline, check everything a user would.

Works unchanged against the local stack and a real AWS stack: it knows only the stack outputs
(and ``endpoint_url``, which only the local stack has). Each photo is uploaded twice, by bucket
name (boto3 ``put_object``) and through the API (``PUT {api_url}/uploads/<key>``); then for each
upload the metadata item must reach ``done`` and every variant the *deployed* function is
configured with (its ``VARIANTS`` environment) must exist with the right format, dimensions,
content type and size, and ``GET {api_url}/images/{image_id}`` must return the same item as
clean JSON.
"""

from __future__ import annotations

import io
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from function import events
from function.events import image_id
from function.variants import DEFAULT_VARIANTS, FORMATS, Variant, parse_variants
from localaws import client_args
from verify.photos import TestPhoto, generate_photos
from verify.report import UploadResult, VariantResult, VerifyReport

STACK = "stack"
ITEM_FIELDS: dict[str, type | tuple[type, ...]] = {
    "image_id": str,
    "source_bucket": str,
    "source_key": str,
    "status": str,
    "format": str,
    "width": int,
    "height": int,
    "bytes": int,
    "variants": dict,
    "created_at": str,
    "processed_at": str,
    "duration_ms": (int, float),
}
VARIANT_FIELDS: dict[str, type] = {
    "bucket": str,
    "key": str,
    "format": str,
    "width": int,
    "height": int,
    "bytes": int,
}
_PIL_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "AVIF": "avif", "GIF": "gif"}


def variant_key(source_key: str, variant: Variant, img_id: str) -> str:
    """Where ``variant`` of ``source_key`` must be: the contract's key (``function.events``, the
    one definition the handler writes with, including its cut at S3's 1,024-byte key limit)."""
    return events.variant_key(source_key, variant.name, img_id, variant.extension)


def expected_size(spec: Variant, width: int, height: int) -> tuple[int, int] | None:
    """The size a variant of a ``width``×``height`` (displayed) image must have.

    ``None`` when only bounds can be checked (``cover`` on a source smaller than the box).
    """
    mw, mh = spec.max_width, spec.max_height
    if spec.fit == "cover" and mw and mh:
        return (mw, mh) if width >= mw and height >= mh else None
    scale = min(mw / width if mw else 1.0, mh / height if mh else 1.0, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals → int/float, recursively (what clean JSON holds)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def plain_item(raw: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as the wire sends it (``{"S": ...}``) → clean JSON values."""
    deserializer = TypeDeserializer()
    return _plain({k: deserializer.deserialize(v) for k, v in raw.items()})


def _is_iso8601(value: Any) -> bool:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _type_ok(value: Any, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, expected)


class Stack:
    """boto3 clients for the stack's region (and local endpoint) plus the API settings."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs
        self.region = outputs["region"]
        kwargs: dict[str, Any] = {"region_name": self.region, "config": Config(retries={"max_attempts": 3})}
        endpoint = outputs.get("endpoint_url")
        if endpoint:
            # The local stack accepts any credentials; never send a user's real ones to it.
            kwargs.update(client_args(endpoint, self.region))
        session = boto3.session.Session()
        self.s3 = session.client("s3", **kwargs)
        self.dynamodb = session.client("dynamodb", **kwargs)
        self.awslambda = session.client("lambda", **kwargs)
        self.api_url = (outputs.get("api_url") or "").rstrip("/")
        self.api_key = outputs.get("api_key") or ""


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP call; returns (status, headers, body) for error statuses too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def deployed_variants(stack: Stack, report: VerifyReport) -> tuple[Variant, ...]:
    """The variants the deployed function is configured with (its ``VARIANTS`` environment)."""
    name = stack.outputs["function_name"]
    try:
        env = stack.awslambda.get_function_configuration(FunctionName=name).get("Environment", {})
        specs = parse_variants(env.get("Variables", {})["VARIANTS"])
    except (ClientError, BotoCoreError, KeyError, ValueError) as e:
        report.add(STACK, "deployed variants", False, f"cannot read VARIANTS of {name}: {e}")
        return DEFAULT_VARIANTS
    report.add(STACK, "deployed variants", True, ", ".join(s.name for s in specs) + f" (from {name})")
    return specs


def upload_s3(stack: Stack, photo: TestPhoto, key: str, report: VerifyReport) -> UploadResult | None:
    bucket = stack.outputs["upload_bucket"]
    result = UploadResult(photo, "s3", bucket, key)
    try:
        resp = stack.s3.put_object(Bucket=bucket, Key=key, Body=photo.data, ContentType=photo.content_type)
    except (ClientError, BotoCoreError) as e:
        report.add(result.subject, "upload (s3 put_object)", False, str(e))
        return None
    result.version_id = resp.get("VersionId")
    report.add(result.subject, "upload (s3 put_object)", True, f"s3://{bucket}/{key} ({len(photo.data):,} B)")
    return result


def upload_api(stack: Stack, photo: TestPhoto, key: str, report: VerifyReport) -> UploadResult | None:
    bucket = stack.outputs["upload_bucket"]
    result = UploadResult(photo, "api", bucket, key)
    url = f"{stack.api_url}/uploads/{quote(key, safe='/')}"
    try:
        status, _, body = http(
            "PUT", url, photo.data, {"x-api-key": stack.api_key, "Content-Type": photo.content_type}
        )
    except OSError as e:
        report.add(result.subject, "upload (PUT /uploads)", False, f"{url}: {e}")
        return None
    if not report.add(
        result.subject,
        "upload (PUT /uploads)",
        status == 200,
        f"HTTP {status}" + ("" if status == 200 else f": {body[:200]!r}"),
    ):
        return None
    try:  # the version id makes the image id; the API response need not carry it
        head = stack.s3.head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as e:
        report.add(result.subject, "uploaded object", False, f"s3://{bucket}/{key}: {e}")
        return None
    result.version_id = head.get("VersionId")
    ok = head.get("ContentLength") == len(photo.data)
    report.add(
        result.subject,
        "uploaded object intact",
        ok,
        f"{head.get('ContentLength'):,} B of {len(photo.data):,} B, {head.get('ContentType')}",
    )
    return result if ok else None


def wait_until_done(
    stack: Stack, uploads: list[UploadResult], started: dict[int, float], timeout: float, report: VerifyReport
) -> None:
    """Poll the metadata table (consistent reads, backoff) until every item is done or failed."""
    table = stack.outputs["metadata_table"]
    pending = list(uploads)
    deadline = time.monotonic() + timeout
    delay = 0.2
    while pending:
        for upload in list(pending):
            try:
                resp = stack.dynamodb.get_item(
                    TableName=table, Key={"image_id": {"S": upload.image_id}}, ConsistentRead=True
                )
            except (ClientError, BotoCoreError) as e:
                report.add(upload.subject, "metadata done", False, f"get_item failed: {e}")
                pending.remove(upload)
                continue
            raw = resp.get("Item")
            if raw is None:
                continue
            item = plain_item(raw)
            if item.get("status") in ("done", "failed"):
                upload.item = item
                upload.seconds_to_done = time.monotonic() - started[id(upload)]
                pending.remove(upload)
        if not pending:
            break
        if time.monotonic() > deadline:
            for upload in pending:
                report.add(
                    upload.subject,
                    "metadata done",
                    False,
                    f"no done item {upload.image_id} in {table} after {timeout:.0f} s "
                    "(check the function's logs and the DLQ)",
                )
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def check_item(upload: UploadResult, variants: Sequence[Variant], report: VerifyReport) -> bool:
    """Check the metadata item; True when it is ``done`` (so the variants are worth checking)."""
    item = upload.item or {}
    subject = upload.subject
    if item.get("status") != "done":
        report.add(
            subject,
            "metadata done",
            False,
            f"status={item.get('status')!r} error={item.get('error')!r} (image {upload.image_id})",
        )
        return False
    report.add(subject, "metadata done", True, f"image {upload.image_id} in {upload.seconds_to_done:.1f} s")

    problems = []
    for name, expected in ITEM_FIELDS.items():
        if name not in item:
            problems.append(f"missing {name}")
        elif not _type_ok(item[name], expected):
            problems.append(f"{name} is {type(item[name]).__name__}")
    if "source_version_id" not in item:
        problems.append("missing source_version_id")
    photo = upload.photo
    expect = {
        "image_id": upload.image_id,
        "source_bucket": upload.bucket,
        "source_key": upload.key,
        "bytes": len(photo.data),
    }
    for name, value in expect.items():
        if name in item and item[name] != value:
            problems.append(f"{name}={item[name]!r}, expected {value!r}")
    if (item.get("source_version_id") or None) != (upload.version_id or None):
        problems.append(
            f"source_version_id={item.get('source_version_id')!r}, expected {upload.version_id!r}"
        )
    if str(item.get("format", "")).lower().replace("jpg", "jpeg") != photo.format:
        problems.append(f"format={item.get('format')!r}, expected {photo.format!r}")
    size = (item.get("width"), item.get("height"))
    # The contract does not say whether an EXIF-rotated source's size is stored or displayed.
    if size not in ((photo.width, photo.height), (photo.height, photo.width) if photo.exif_rotated else None):
        problems.append(f"size={size}, expected {(photo.width, photo.height)}")
    for name in ("created_at", "processed_at"):
        if name in item and not _is_iso8601(item[name]):
            problems.append(f"{name}={item[name]!r} is not ISO-8601")
    missing_variants = sorted({v.name for v in variants} - set(item.get("variants") or {}))
    if missing_variants:
        problems.append(f"variants missing {missing_variants}")
    report.add(
        subject,
        "metadata fields",
        not problems,
        "; ".join(problems) or f"{len(ITEM_FIELDS) + 1} fields, types and values as contracted",
    )
    return True


def check_variant(stack: Stack, upload: UploadResult, spec: Variant, report: VerifyReport) -> None:
    bucket = stack.outputs["processed_bucket"]
    key = variant_key(upload.key, spec, upload.image_id)
    label = f"variant {spec.name}"
    try:
        obj = stack.s3.get_object(Bucket=bucket, Key=key)
        data = obj["Body"].read()
    except (ClientError, BotoCoreError) as e:
        report.add(upload.subject, label, False, f"s3://{bucket}/{key}: {e}")
        return
    problems = []
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = _PIL_FORMATS.get(img.format or "", str(img.format).lower())
            width, height = img.size
            has_alpha = "A" in img.getbands() or "transparency" in img.info
            frames = getattr(img, "n_frames", 1)
    except Exception as e:  # Pillow raises many types for undecodable data
        report.add(upload.subject, label, False, f"{key} is not a readable image: {e}")
        return
    upload.variants[spec.name] = VariantResult(spec, key, data, fmt, width, height)
    if fmt != spec.format:
        problems.append(f"format {fmt}, expected {spec.format}")
    if obj.get("ContentType") != FORMATS[spec.format][1]:
        problems.append(f"Content-Type {obj.get('ContentType')!r}, expected {FORMATS[spec.format][1]!r}")
    photo = upload.photo
    want = expected_size(spec, photo.width, photo.height)
    if want is None:
        if (spec.max_width and width > spec.max_width) or (spec.max_height and height > spec.max_height):
            problems.append(f"{width}x{height} exceeds {spec.max_width}x{spec.max_height}")
    elif abs(width - want[0]) > 1 or abs(height - want[1]) > 1:  # ±1 px: encoders round differently
        rotated = (
            " (EXIF orientation not applied?)" if photo.exif_rotated and (width, height)[::-1] == want else ""
        )
        problems.append(f"{width}x{height}, expected {want[0]}x{want[1]}{rotated}")
    if photo.has_alpha and spec.format in ("png", "webp") and not has_alpha:
        problems.append("transparency lost")
    # an animation stays one in WebP/GIF variants (every frame: the test GIF is within budget)
    want_frames = photo.frames if spec.format in ("webp", "gif") else 1
    if frames != want_frames:
        problems.append(f"{frames} frame(s), expected {want_frames}")
    recorded = ((upload.item or {}).get("variants") or {}).get(spec.name) or {}
    for name, expected_type in VARIANT_FIELDS.items():
        if not _type_ok(recorded.get(name), expected_type):
            problems.append(f"metadata variants.{spec.name}.{name}={recorded.get(name)!r}")
    actual = {
        "bucket": bucket,
        "key": key,
        "format": spec.format,
        "width": width,
        "height": height,
        "bytes": len(data),
    }
    for name, value in actual.items():
        if name in recorded and recorded[name] != value:
            problems.append(f"metadata {name}={recorded[name]!r}, object has {value!r}")
    report.add(
        upload.subject, label, not problems, "; ".join(problems) or f"{fmt} {width}x{height} {len(data):,} B"
    )


ITEM_CONTRACT_FIELDS = frozenset(
    {
        "image_id",
        "source_bucket",
        "source_key",
        "source_version_id",
        "status",
        "format",
        "width",
        "height",
        "bytes",
        "variants",
        "error",
        "created_at",
        "processed_at",
        "duration_ms",
    }
)


def check_api_get(stack: Stack, upload: UploadResult, report: VerifyReport) -> None:
    url = f"{stack.api_url}/images/{upload.image_id}"
    try:
        status, headers, body = http("GET", url, headers={"x-api-key": stack.api_key})
    except OSError as e:
        report.add(upload.subject, "GET /images/{id}", False, f"{url}: {e}")
        return
    if status != 200:
        report.add(upload.subject, "GET /images/{id}", False, f"HTTP {status}: {body[:200]!r}")
        return
    try:
        got = json.loads(body)
    except ValueError:
        report.add(upload.subject, "GET /images/{id}", False, f"not JSON: {body[:200]!r}")
        return
    problems = []
    item = upload.item or {}
    # Contract fields must be served (but the bucket names: no answer names a bucket); anything
    # extra the API serves must match the item too.
    if "source_bucket" in got:
        problems.append("source_bucket served: the API must not name buckets")
    for name, value in item.items():
        if name == "source_bucket" or (name not in ITEM_CONTRACT_FIELDS and name not in got):
            continue
        if name == "variants":
            for vname, fields in value.items():
                gv = (got.get("variants") or {}).get(vname)
                if not isinstance(gv, dict):
                    problems.append(f"variants.{vname} missing")
                    continue
                if "bucket" in gv:
                    problems.append(f"variants.{vname}.bucket served: the API must not name buckets")
                problems += [
                    f"variants.{vname}.{f}={gv.get(f)!r}, item has {v!r}"
                    for f, v in fields.items()
                    if f != "bucket" and gv.get(f) != v
                ]
        elif got.get(name) != value and not (value is None and name not in got):
            problems.append(f"{name}={got.get(name)!r}, item has {value!r}")
    if any(
        isinstance(v, dict) and set(v) <= {"S", "N", "M", "L", "BOOL", "NULL"} and v for v in got.values()
    ):
        problems.append("DynamoDB type wrappers in the JSON")
    report.add(
        upload.subject,
        "GET /images/{id}",
        not problems,
        "; ".join(problems[:4]) or f"HTTP 200 {headers.get('Content-Type', '')}, same item as clean JSON",
    )


def check_api_errors(stack: Stack, report: VerifyReport) -> None:
    """Unknown ids are a 404 JSON answer; no API key is a 403."""
    missing = f"{stack.api_url}/images/0000000000000000"
    status, _, body = http("GET", missing, headers={"x-api-key": stack.api_key})
    try:
        is_json = isinstance(json.loads(body), dict)
    except ValueError:
        is_json = False
    report.add("api", "GET unknown id → 404 JSON", status == 404 and is_json, f"HTTP {status} {body[:120]!r}")
    status, _, body = http("GET", missing)
    report.add("api", "no x-api-key → 403", status == 403, f"HTTP {status} {body[:120]!r}")


def cleanup(stack: Stack, uploads: Iterable[UploadResult]) -> None:
    """Delete what the run created: every version of its uploads, the variants, the items."""
    for upload in uploads:
        try:
            versions = stack.s3.list_object_versions(Bucket=upload.bucket, Prefix=upload.key)
            for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
                if v["Key"] == upload.key:
                    stack.s3.delete_object(Bucket=upload.bucket, Key=upload.key, VersionId=v["VersionId"])
            for variant in upload.variants.values() or []:
                stack.s3.delete_object(Bucket=stack.outputs["processed_bucket"], Key=variant.key)
            if upload.image_id:
                stack.dynamodb.delete_item(
                    TableName=stack.outputs["metadata_table"], Key={"image_id": {"S": upload.image_id}}
                )
        except (ClientError, BotoCoreError) as e:  # best effort: say so, the checks already ran
            print(f"cleanup of {upload.key}: {e}")


def run_verify(
    outputs: dict[str, Any],
    *,
    via: Sequence[str] = ("s3", "api"),
    timeout: float = 60,
    keep: bool = False,
    photos: Sequence[TestPhoto] | None = None,
    prefix: str | None = None,
    on_result: Callable[[VerifyReport], None] | None = None,
) -> VerifyReport:
    """Upload, wait, check; returns the report (``report.ok``). Cleans up unless ``keep``.

    ``on_result`` runs after the checks and before clean-up (the contact sheet needs the objects).
    """
    unknown = set(via) - {"s3", "api"}
    if unknown:
        raise ValueError(f"via: unknown upload path(s) {sorted(unknown)}; use 's3' and/or 'api'")
    started_run = time.monotonic()
    stack = Stack(outputs)
    report = VerifyReport()
    if "api" in via and not (stack.api_url and stack.api_key):
        report.add(STACK, "api outputs", False, "api_url/api_key outputs missing: cannot test the API")
        via = [v for v in via if v != "api"]
    variants = deployed_variants(stack, report)
    photos = list(photos) if photos is not None else generate_photos()
    run = prefix or f"verify/{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"

    uploads: list[UploadResult] = []
    started: dict[int, float] = {}
    for path in via:
        for photo in photos:
            key = f"{run}/{path}/{photo.filename}"
            t0 = time.monotonic()
            upload = (upload_s3 if path == "s3" else upload_api)(stack, photo, key, report)
            if upload is not None:
                upload.image_id = image_id(upload.bucket, upload.key, upload.version_id)
                started[id(upload)] = t0
                uploads.append(upload)
    report.uploads = uploads

    wait_until_done(stack, uploads, started, timeout, report)
    for upload in uploads:
        if upload.item is None or not check_item(upload, variants, report):
            continue
        for spec in variants:
            check_variant(stack, upload, spec, report)
        if "api" in via:
            check_api_get(stack, upload, report)
    if "api" in via:
        check_api_errors(stack, report)
    report.seconds = time.monotonic() - started_run
    try:
        if on_result is not None:
            on_result(report)
    finally:
        if not keep:
            cleanup(stack, uploads)
    return report
