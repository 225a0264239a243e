"""``python -m verify.soak``: a bounded burst of uploads, then proof that nothing was lost or doubled.

N small, distinct images (a few deliberately broken ones among them) are uploaded concurrently to
the stack's upload bucket. The soak then polls the metadata table (consistent ``BatchGetItem`` of
every expected ``image_id``) and the dead-letter queue until every upload has settled — item
``done`` or ``failed``, or its event in the DLQ — or the timeout passes, and counts:

- ``lost``: sent, but no terminal item and not in the DLQ (must be 0);
- ``duplicates``: uploads with more than one metadata item, or more than one set of variant
  objects (must be 0) — read from a scan of the run's items and a listing of its variants;
- ``p50_ms``/``p95_ms``: upload start → the item's ``processed_at``, over ``done`` uploads.

Against the local stack (default) the soak is meant to run with transient faults injected
(``IMGPIPE_LOCAL_FAULTS``); when no local stack is running it brings one up with faults on and
tears it down afterwards. ``--stack NAME`` soaks a real stack instead (no faults: AWS has its own).
The last line printed is always ``soak: sent=… done=… failed=… dlq=… lost=… duplicates=… p50_ms=…
p95_ms=…``; the exit code is 1 when anything was lost or duplicated, or a good image was recorded
``failed`` (a transient fault misread as a bad input is a lost image too).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import posixpath
import random
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, ImageDraw

from localaws import client_args, control
from localaws.faults import CONTROL_PATH
from verify.check import http, image_id, plain_item
from verify.outputs import LOCAL_OUTPUTS, OutputsError, load_local, load_outputs

DEFAULT_COUNT = 200
DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT = 300.0
# Transient S3 and DynamoDB write errors in the local engine; the handler and Lambda's async
# retries must absorb them. Used only when the soak brings the local stack up itself.
DEFAULT_FAULTS = "s3_put:0.05,ddb_put:0.05"
TERMINAL = ("done", "failed")
BAD_KINDS = ("zero-byte", "not-an-image", "truncated")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SoakImage:
    """One upload of the burst; ``bad`` ones must end ``failed`` (and never retry forever)."""

    index: int
    filename: str
    data: bytes
    content_type: str
    bad: str | None = None
    """Why the input is broken (one of ``BAD_KINDS``), or None for a valid image."""


def bad_count(count: int) -> int:
    """How many of ``count`` uploads are deliberately broken: 1 in 40, at least one when N ≥ 2."""
    if count < 2:
        return 0
    return max(1, count // 40)


def _picture(index: int, size: tuple[int, int]) -> Image.Image:
    """A small image unique to ``index``: a seeded gradient plus the index drawn as a bit pattern."""
    rnd = random.Random(index)
    width, height = size
    base = Image.linear_gradient("L").resize(size)
    c1, c2 = (rnd.randrange(256) for _ in range(2))
    img = Image.merge(
        "RGB", (base, base.point(lambda v: (v + c1) % 256), base.point(lambda v: (c2 - v) % 256))
    )
    draw = ImageDraw.Draw(img)
    cell = width // 16
    for bit in range(16):  # 16 bits of the index: no two images of one run are the same picture
        if index >> bit & 1:
            draw.rectangle((bit * cell, 0, bit * cell + cell - 1, cell), fill=(255, 255, 255))
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill=(c1, c2, 128))
    return img


def generate_images(count: int, seed: int = 0) -> list[SoakImage]:
    """``count`` distinct small JPEG/PNG uploads, ``bad_count(count)`` of them broken, spread evenly."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    bad_total = bad_count(count)
    bad_at = {round((i + 0.5) * count / bad_total) for i in range(bad_total)} if bad_total else set()
    images = []
    for i in range(count):
        png = i % 3 == 2  # two JPEGs to one PNG, roughly what people upload
        size = (160 + i % 7 * 16, 120 + i % 5 * 8)
        buf = io.BytesIO()
        _picture(seed * 100_003 + i, size).save(buf, "PNG" if png else "JPEG", quality=85)
        data = buf.getvalue()
        ext, ctype = ("png", "image/png") if png else ("jpg", "image/jpeg")
        bad = None
        if i in bad_at:
            bad = BAD_KINDS[len([b for b in bad_at if b < i]) % len(BAD_KINDS)]
            if bad == "zero-byte":
                data = b""
            elif bad == "not-an-image":
                data = b"this is a text file with an image extension\n" * 4
            else:  # the header parses, the pixel data stops half way
                data = data[: len(data) // 2]
        images.append(SoakImage(i, f"{i:04d}-{bad or 'ok'}.{ext}", data, ctype, bad))
    return images


# --------------------------------------------------------------------------- results


@dataclass
class SoakUpload:
    image: SoakImage
    bucket: str
    key: str
    started: float
    """Wall-clock seconds (``time.time()``) just before the upload began."""
    version_id: str | None = None
    image_id: str = ""
    error: str | None = None
    """Why the upload itself failed (then it was never sent)."""
    item: dict[str, Any] | None = None
    seen_terminal: float | None = None
    """Wall-clock seconds when the poll first saw the item ``done`` or ``failed``."""
    in_dlq: bool = False

    @property
    def sent(self) -> bool:
        return self.error is None


@dataclass
class SoakResult:
    sent: int = 0
    upload_errors: int = 0
    done: int = 0
    failed: int = 0
    failed_expected: int = 0
    dlq: int = 0
    lost: int = 0
    duplicates: int = 0
    misclassified: int = 0
    """Good images recorded ``failed`` plus broken ones recorded ``done``."""
    variant_rewrites: int = 0
    """Extra (noncurrent) versions of variant objects: retries that re-put a variant, not duplicates."""
    latencies_ms: list[float] = field(default_factory=list)
    faults: str = ""
    """The local stack's fault spec during the run (empty for a real stack)."""
    faults_injected: dict[str, int] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.misclassified == 0

    def line(self) -> str:
        """The one-line summary (always the soak's last line of output)."""

        def ms(value: float | None) -> str:
            return "n/a" if value is None else str(round(value))

        return (
            f"soak: sent={self.sent} done={self.done} failed={self.failed} dlq={self.dlq} "
            f"lost={self.lost} duplicates={self.duplicates} p50_ms={ms(self.p50_ms)} p95_ms={ms(self.p95_ms)}"
        )

    def table(self) -> str:
        def ms(value: float | None) -> str:
            return "n/a" if value is None else f"{value:,.0f} ms"

        rows = [
            ("uploads sent", str(self.sent), "put_object succeeded"),
            ("upload errors", str(self.upload_errors), "put_object failed after retries (not sent)"),
            ("done", str(self.done), "item status done"),
            (
                "failed",
                str(self.failed),
                f"item status failed ({self.failed_expected} deliberately bad inputs)",
            ),
            ("in DLQ", str(self.dlq), "event in the dead-letter queue (`make redrive` reprocesses)"),
            ("lost", str(self.lost), "sent, no done/failed item, not in the DLQ — must be 0"),
            ("duplicates", str(self.duplicates), "uploads with >1 item or >1 set of variants — must be 0"),
            ("misclassified", str(self.misclassified), "good image failed, or bad image done — must be 0"),
            ("variant rewrites", str(self.variant_rewrites), "noncurrent variant versions (retried puts)"),
            ("latency p50", ms(self.p50_ms), "upload start → processed_at, done uploads"),
            ("latency p95", ms(self.p95_ms), ""),
            ("latency max", ms(max(self.latencies_ms) if self.latencies_ms else None), ""),
            ("wall time", f"{self.seconds:.1f} s", "burst + settle"),
        ]
        if self.faults:
            injected = ", ".join(f"{k}={v}" for k, v in sorted(self.faults_injected.items())) or "none"
            rows.append(
                ("faults injected", str(sum(self.faults_injected.values())), f"{injected} ({self.faults})")
            )
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [f"{a.ljust(widths[0])}  {b.rjust(widths[1])}  {c}".rstrip() for a, b, c in rows]
        if self.details:
            lines += ["", *self.details[:20]]
            if len(self.details) > 20:
                lines.append(f"... and {len(self.details) - 20} more")
        return "\n".join(lines)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (a value that was measured, no interpolation); None when empty."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def parse_iso(value: Any) -> float | None:
    """An ISO-8601 timestamp → epoch seconds; naive times are UTC (the contract's strings are)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def latency_ms(upload: SoakUpload) -> float | None:
    """Upload start → ``processed_at``; the poll's first sighting when the item has no usable time."""
    end = parse_iso((upload.item or {}).get("processed_at"))
    if end is None or end < upload.started - 5:  # missing, or a clock that disagrees badly
        end = upload.seen_terminal
    return None if end is None else max(0.0, (end - upload.started) * 1000)


def dlq_sources(body: str) -> list[tuple[str, str, str | None]]:
    """(bucket, key, version id) of each S3 record in a DLQ message body.

    Lambda's async DLQ message body is the original event; an on-failure destination wraps it
    in ``requestPayload``. Keys arrive URL-encoded as in S3 events (space → ``+``).
    """
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        return []
    if isinstance(event, dict) and isinstance(event.get("requestPayload"), dict):
        event = event["requestPayload"]
    records = event.get("Records") if isinstance(event, dict) else None
    sources = []
    for record in records if isinstance(records, list) else []:
        s3 = record.get("s3") if isinstance(record, dict) else None
        if not isinstance(s3, dict):
            continue
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        if bucket and obj.get("key") is not None:
            sources.append((bucket, unquote_plus(obj["key"]), obj.get("versionId") or None))
    return sources


_VARIANT_REST = re.compile(r"^(?P<variant>.+)_(?P<id>[0-9a-f]{16})\.(?P<ext>[A-Za-z0-9]+)$")


def variant_objects(source_key: str, processed_keys: Iterable[str]) -> list[tuple[str, str, str]]:
    """(key, variant name, image id) of each processed key named after ``source_key``
    (``<source dir>/<source stem>_<variant>_<image_id>.<ext>``)."""
    directory, name = posixpath.split(source_key)
    stem = posixpath.splitext(name)[0] or name
    found = []
    for key in processed_keys:
        kdir, kname = posixpath.split(key)
        if kdir != directory or not kname.startswith(f"{stem}_"):
            continue
        match = _VARIANT_REST.match(kname[len(stem) + 1 :])
        if match:
            found.append((key, match["variant"], match["id"]))
    return found


def duplicate_reason(upload: SoakUpload, items_for_key: int, processed_keys: Iterable[str]) -> str | None:
    """Why this upload counts as duplicated, or None: more than one item, or more than one set of
    variant objects (variants under another image id, or two objects for one variant name)."""
    if items_for_key > 1:
        return f"{items_for_key} metadata items for s3://{upload.bucket}/{upload.key}"
    found = variant_objects(upload.key, processed_keys)
    ids = sorted({img for _, _, img in found})
    if len(ids) > 1:
        return f"variants under {len(ids)} image ids ({', '.join(ids)}) for {upload.key}"
    names = Counter(variant for _, variant, _ in found)
    doubled = sorted(n for n, c in names.items() if c > 1)
    if doubled:
        return f"two objects for variant(s) {', '.join(doubled)} of {upload.key}"
    return None


def tally(
    uploads: Sequence[SoakUpload],
    items_by_key: dict[str, int],
    processed_keys: Sequence[str],
    variant_rewrites: int = 0,
) -> SoakResult:
    """Count the outcome of every upload; pure (all AWS reads happen before)."""
    result = SoakResult(variant_rewrites=variant_rewrites)
    for upload in uploads:
        if not upload.sent:
            result.upload_errors += 1
            result.details.append(f"upload error {upload.key}: {upload.error}")
            continue
        result.sent += 1
        status = (upload.item or {}).get("status")
        bad = upload.image.bad
        if status == "done":
            result.done += 1
            lat = latency_ms(upload)
            if lat is not None:
                result.latencies_ms.append(lat)
            if bad:
                result.misclassified += 1
                result.details.append(f"MISCLASSIFIED {upload.key}: a {bad} input was recorded done")
        elif status == "failed":
            result.failed += 1
            if bad:
                result.failed_expected += 1
            else:
                result.misclassified += 1
                result.details.append(
                    f"MISCLASSIFIED {upload.key}: a valid image was recorded failed: "
                    f"{(upload.item or {}).get('error')!r}"
                )
        elif upload.in_dlq:
            result.dlq += 1
            result.details.append(f"in DLQ {upload.key} (image {upload.image_id}, item status {status!r})")
        else:
            result.lost += 1
            result.details.append(
                f"LOST {upload.key} (image {upload.image_id}): item status {status!r}, not in the DLQ"
            )
        reason = duplicate_reason(upload, items_by_key.get(upload.key, 0), processed_keys)
        if reason:
            result.duplicates += 1
            result.details.append(f"DUPLICATE {reason}")
    return result


# --------------------------------------------------------------------------- AWS side


class Stack:
    """The boto3 clients a soak needs, for the stack's region (and the local endpoint)."""

    def __init__(self, outputs: dict[str, Any], concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.outputs = outputs
        kwargs: dict[str, Any] = {
            "region_name": outputs["region"],
            # One pooled connection per uploading thread; standard retries absorb throttling.
            "config": Config(
                max_pool_connections=max(10, concurrency), retries={"max_attempts": 5, "mode": "standard"}
            ),
        }
        if outputs.get("endpoint_url"):
            # The local stack accepts any credentials; never send a user's real ones to it.
            kwargs.update(client_args(outputs["endpoint_url"], outputs["region"]))
        session = boto3.session.Session()  # clients are thread-safe; sessions are not shared
        self.s3 = session.client("s3", **kwargs)
        self.dynamodb = session.client("dynamodb", **kwargs)
        self.sqs = session.client("sqs", **kwargs)


def upload_all(stack: Stack, images: Sequence[SoakImage], prefix: str, concurrency: int) -> list[SoakUpload]:
    bucket = stack.outputs["upload_bucket"]

    def put(image: SoakImage) -> SoakUpload:
        upload = SoakUpload(image, bucket, f"{prefix}/{image.filename}", time.time())
        try:
            resp = stack.s3.put_object(
                Bucket=bucket, Key=upload.key, Body=image.data, ContentType=image.content_type
            )
        except (ClientError, BotoCoreError) as e:
            upload.error = str(e)
            return upload
        upload.version_id = resp.get("VersionId")
        upload.image_id = image_id(bucket, upload.key, upload.version_id)
        return upload

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="soak-upload") as pool:
        return list(pool.map(put, images))


def _poll_items(stack: Stack, pending: list[SoakUpload]) -> None:
    """Consistent BatchGetItem of the pending uploads' items (100 keys a call)."""
    table = stack.outputs["metadata_table"]
    by_id = {u.image_id: u for u in pending}
    ids = list(by_id)
    for start in range(0, len(ids), 100):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"image_id": {"S": i}} for i in ids[start : start + 100]],
                "ConsistentRead": True,
            }
        }
        for _ in range(10):  # unprocessed keys come back under throttling: ask again
            resp = stack.dynamodb.batch_get_item(RequestItems=request)
            for raw in resp.get("Responses", {}).get(table, []):
                item = plain_item(raw)
                upload = by_id.get(item.get("image_id", ""))
                if upload is not None:
                    upload.item = item
                    if item.get("status") in TERMINAL and upload.seen_terminal is None:
                        upload.seen_terminal = time.time()
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.2)


class DlqReader:
    """Reads the DLQ without consuming it: messages are received (hidden while the soak runs) and
    made visible again at the end, so ``make redrive`` still finds them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.url = stack.outputs.get("dlq_url") or ""
        self.handles: list[str] = []
        self.sources: set[str] = set()  # image ids of every event seen in the DLQ
        self.messages = 0

    def poll(self) -> None:
        if not self.url:
            return
        sqs = self.stack.sqs
        while True:
            resp = sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0
            )
            messages = resp.get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.handles.append(message["ReceiptHandle"])
                self.messages += 1
                for bucket, key, version in dlq_sources(message.get("Body", "")):
                    self.sources.add(image_id(bucket, key, version))

    def release(self) -> None:
        """Make every received message visible again (the soak only looked)."""
        sqs = self.stack.sqs
        for start in range(0, len(self.handles), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for n, h in enumerate(self.handles[start : start + 10])
            ]
            try:
                sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as e:
                print(f"soak: could not release DLQ messages (visible again in 10 min): {e}", file=sys.stderr)
        self.handles.clear()


def wait_settled(
    stack: Stack,
    uploads: Sequence[SoakUpload],
    dlq: DlqReader,
    timeout: float,
    progress: Callable[[str], None],
) -> None:
    """Poll items and the DLQ until every sent upload is terminal or in the DLQ, or ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.25
    last = ""
    while True:
        pending = [u for u in uploads if u.sent and (u.item or {}).get("status") not in TERMINAL]
        _poll_items(stack, pending)
        dlq.poll()
        for upload in uploads:
            upload.in_dlq = upload.image_id in dlq.sources
        waiting = [u for u in pending if (u.item or {}).get("status") not in TERMINAL and not u.in_dlq]
        settled = sum(1 for u in uploads if u.sent) - len(waiting)
        status = f"settled {settled}/{sum(1 for u in uploads if u.sent)}"
        if status != last:
            progress(status)
            last = status
        if not waiting or time.monotonic() > deadline:
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def items_by_source_key(stack: Stack, prefix: str) -> dict[str, int]:
    """How many metadata items exist for each source key under ``prefix`` (a consistent scan)."""
    counts: Counter[str] = Counter()
    paginator = stack.dynamodb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=stack.outputs["metadata_table"],
        FilterExpression="begins_with(source_key, :p)",
        ExpressionAttributeValues={":p": {"S": f"{prefix}/"}},
        ProjectionExpression="source_key",
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            counts[item["source_key"]["S"]] += 1
    return dict(counts)


def processed_objects(stack: Stack, prefix: str) -> tuple[list[str], int, list[tuple[str, str]]]:
    """(current variant keys, noncurrent versions, every (key, version) to delete) under ``prefix``."""
    bucket = stack.outputs["processed_bucket"]
    current: list[str] = []
    noncurrent = 0
    every: list[tuple[str, str]] = []
    paginator = stack.s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for version in page.get("Versions", []):
            every.append((version["Key"], version["VersionId"]))
            if version.get("IsLatest"):
                current.append(version["Key"])
            else:
                noncurrent += 1
        every += [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])]
    return current, noncurrent, every


def _delete_versions(stack: Stack, bucket: str, objects: Sequence[tuple[str, str | None]]) -> None:
    for start in range(0, len(objects), 1000):
        batch = [
            {"Key": k, "VersionId": v} if v and v != "null" else {"Key": k}
            for k, v in objects[start : start + 1000]
        ]
        stack.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def cleanup(
    stack: Stack, uploads: Sequence[SoakUpload], prefix: str, variant_versions: Sequence[tuple[str, str]]
) -> int:
    """Delete the run's uploads, variants and items, except uploads whose event is in the DLQ
    (``make redrive`` needs the source object). Returns how many uploads were kept."""
    keep = {u.key for u in uploads if u.in_dlq and (u.item or {}).get("status") not in TERMINAL}
    sources = [(u.key, u.version_id) for u in uploads if u.sent and u.key not in keep]
    try:
        _delete_versions(stack, stack.outputs["upload_bucket"], sources)
        _delete_versions(stack, stack.outputs["processed_bucket"], list(variant_versions))
        table = stack.outputs["metadata_table"]
        ids = [u.image_id for u in uploads if u.sent and u.key not in keep]
        for start in range(0, len(ids), 25):
            requests = [{"DeleteRequest": {"Key": {"image_id": {"S": i}}}} for i in ids[start : start + 25]]
            stack.dynamodb.batch_write_item(RequestItems={table: requests})
    except (ClientError, BotoCoreError) as e:  # best effort: the figures are already measured
        print(f"soak: clean-up incomplete ({e}); objects are under {prefix}/", file=sys.stderr)
    return len(keep)


def run_soak(
    outputs: dict[str, Any],
    *,
    count: int = DEFAULT_COUNT,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    keep: bool = False,
    prefix: str | None = None,
    progress: Callable[[str], None] | None = None,
    settle_pause: float = 1.0,
    faults: str | None = None,
    control_token: str = "",
) -> SoakResult:
    """Upload ``count`` images, wait until they settle, count the outcome; cleans up unless ``keep``.

    ``faults`` (local stack only): the fault spec to inject during the run; the stack's previous
    spec is restored afterwards. None leaves the stack's faults as they are. ``control_token``:
    the local stack's control token (``.local/control-token``), needed to read or set faults.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    say = progress or (lambda _msg: None)
    endpoint: str = outputs.get("endpoint_url") or ""
    if faults is not None and not endpoint:
        raise ValueError("faults can only be injected into the local stack (outputs have no endpoint_url)")
    before: dict[str, Any] = {}
    if endpoint:
        try:
            before = local_faults(endpoint, token=control_token)
            if faults is not None:
                local_faults(endpoint, faults, token=control_token)
        except (OSError, ValueError, OutputsError) as e:
            if faults:
                raise OutputsError(f"cannot set faults {faults!r} on the local stack: {e}") from e
            before = {}
    try:
        result = _soak(outputs, count, concurrency, timeout, keep, prefix, say, settle_pause)
    finally:
        if before:
            after = local_faults(endpoint, token=control_token)
            if faults is not None:
                previous = before.get("faults", "")
                local_faults(endpoint, "" if previous == "none" else previous, token=control_token)
    if before:
        result.faults = faults if faults is not None else before.get("faults", "")
        result.faults = "" if result.faults == "none" else result.faults
        result.faults_injected = injected_during(before.get("injected") or {}, after.get("injected") or {})
    return result


def _soak(
    outputs: dict[str, Any],
    count: int,
    concurrency: int,
    timeout: float,
    keep: bool,
    prefix: str | None,
    say: Callable[[str], None],
    settle_pause: float,
) -> SoakResult:
    started = time.monotonic()
    stack = Stack(outputs, concurrency)
    run = prefix or f"soak/{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    images = generate_images(count)
    say(
        f"uploading {count} images ({bad_count(count)} deliberately bad) to s3://{outputs['upload_bucket']}/{run}/"
    )
    uploads = upload_all(stack, images, run, concurrency)
    dlq = DlqReader(stack)
    try:
        wait_settled(stack, uploads, dlq, timeout, say)
        time.sleep(settle_pause)  # a late duplicate delivery would land now: look again before counting
        _poll_items(stack, [u for u in uploads if u.sent])
        by_key = items_by_source_key(stack, run)
        current, noncurrent, every_variant = processed_objects(stack, run)
    finally:
        dlq.release()
    result = tally(uploads, by_key, current, noncurrent)
    result.seconds = time.monotonic() - started
    if not keep:
        kept = cleanup(stack, uploads, run, every_variant)
        if kept:
            result.details.append(f"kept {kept} source object(s) whose events are in the DLQ: `make redrive`")
    return result


# --------------------------------------------------------------------------- local stack


def _localaws(command: str, state_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(state_dir), command],
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )


def injected_during(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Faults injected between two reads of the engine's (cumulative) counters."""
    delta = {kind: int(n) - int(before.get(kind, 0)) for kind, n in after.items()}
    return {kind: n for kind, n in delta.items() if n > 0}


def local_faults(endpoint_url: str, spec: str | None = None, token: str = "") -> dict[str, Any]:
    """The local stack's fault control (``/_localaws/faults``, needs the stack's control
    ``token``): set ``spec`` when given; returns ``{"faults": "<current spec or none>",
    "injected": {kind: count}}``."""
    url = f"{endpoint_url.rstrip('/')}{CONTROL_PATH}"
    data = None if spec is None else spec.encode()
    method = "POST" if spec is not None else "GET"
    status, _, body = http(method, url, data, timeout=10, headers={control.TOKEN_HEADER: token})
    if status != 200:
        raise OutputsError(f"{url}: HTTP {status}: {body[:300].decode(errors='replace')}")
    return json.loads(body)


def local_outputs(outputs_path: Path, faults: str, auto_up: bool) -> tuple[dict[str, Any], bool]:
    """The running local stack's outputs, or a new one brought up with ``faults``.

    Returns (outputs, started_here). A running stack must answer on its endpoint (a stale
    outputs file from a killed engine is reported, not soaked).
    """
    try:
        outputs = load_local(outputs_path)
    except OutputsError:
        if not auto_up:
            raise OutputsError(
                f"no local stack running ({outputs_path} not found): run "
                f"`IMGPIPE_LOCAL_FAULTS={faults} make up`, then `make soak`, then `make down`"
            ) from None
    else:
        try:
            if outputs.get("endpoint_url"):
                local_faults(outputs["endpoint_url"], token=control.read_token(outputs_path.parent))
        except (OSError, ValueError, OutputsError) as e:
            raise OutputsError(
                f"the local stack in {outputs_path} is not answering at {outputs.get('endpoint_url')} "
                f"({e}): run `make down` (or `make status`), then retry"
            ) from e
        return outputs, False
    env = {**os.environ, "IMGPIPE_LOCAL_FAULTS": faults}
    print(f"soak: no local stack running; bringing one up with IMGPIPE_LOCAL_FAULTS={faults}")
    proc = _localaws("up", outputs_path.parent, env)
    if proc.returncode != 0:
        _localaws("down", outputs_path.parent, env)
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise OutputsError(f"`python -m localaws up` failed (exit {proc.returncode}):\n{tail}")
    return load_local(outputs_path), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify.soak",
        description="Burst of N uploads (a few deliberately broken), then count done/failed/DLQ/lost/"
        "duplicates and end-to-end latency. Exit 1 if anything was lost or duplicated.",
    )
    parser.add_argument("--count", "-n", type=int, default=DEFAULT_COUNT, help="uploads (%(default)s)")
    parser.add_argument(
        "--concurrency", "-c", type=int, default=DEFAULT_CONCURRENCY, help="parallel uploads (%(default)s)"
    )
    parser.add_argument("--stack", help="a real Pulumi stack (reads `pulumi stack output`); default: local")
    parser.add_argument(
        "--outputs", type=Path, default=LOCAL_OUTPUTS, help="local outputs file (%(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for settling (%(default)s)"
    )
    parser.add_argument(
        "--faults",
        default=os.environ.get("IMGPIPE_LOCAL_FAULTS", DEFAULT_FAULTS),
        help="transient faults injected into the local stack during the run (%(default)s; '' for none); "
        "a running stack gets them for the run only, a stack the soak starts is started with them",
    )
    parser.add_argument(
        "--no-up", action="store_true", help="never start a local stack; fail if none is running"
    )
    parser.add_argument("--keep", action="store_true", help="keep the uploads, variants and items")
    args = parser.parse_args(argv)
    if args.count < 1 or args.concurrency < 1:
        parser.error("--count and --concurrency must be at least 1")

    started_here = False
    try:
        if args.stack:
            outputs = load_outputs(args.stack)
            target = f"stack {args.stack}"
        else:
            outputs, started_here = local_outputs(args.outputs, args.faults, not args.no_up)
            target = f"local stack at {outputs.get('endpoint_url')}"
    except OutputsError as e:
        print(f"soak: {e}", file=sys.stderr)
        return 2
    try:
        # A stack this run brought up already has the faults; a running one gets them for the run.
        faults = None if args.stack or started_here or not outputs.get("endpoint_url") else args.faults
        note = "" if args.stack else f", faults: {args.faults or 'none'}"
        print(f"soak: {target}, region {outputs['region']}, {args.count} uploads x{args.concurrency}{note}")
        result = run_soak(
            outputs,
            count=args.count,
            concurrency=args.concurrency,
            timeout=args.timeout,
            keep=args.keep,
            progress=lambda msg: print(f"soak: {msg}", flush=True),
            faults=faults,
            control_token="" if args.stack else control.read_token(args.outputs.parent),
        )
    except (OutputsError, ValueError) as e:
        print(f"soak: {e}", file=sys.stderr)
        return 2
    finally:
        if started_here:
            down = _localaws("down", args.outputs.parent, dict(os.environ))
            if down.returncode != 0:
                print(
                    f"soak: `python -m localaws down` failed; run `make down`: {down.stderr[-500:]}",
                    file=sys.stderr,
                )
    print()
    print(result.table())
    print(result.line())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
