"""One S3 event → processed variants and one metadata item, exactly once in effect.

The logic between :mod:`function.handler` (ten lines) and the layers below it: events
(:mod:`function.events`), pixels (:mod:`function.imaging`, pure Pillow) and AWS
(:mod:`function.store`, boto3).

Idempotency: DynamoDB conditional writes plus a processing lease, not Powertools' idempotency
utility. The utility keys on the event payload and keeps its own record; here the metadata item
*is* the record (keyed by the contract ``image_id`` = source bucket/key/version), so one item
says both "what happened" and "who is working on it", with no second table or TTL to manage.

* New object → :meth:`Store.claim` creates the item ``processing`` with ``lease_until`` (epoch
  seconds: this invocation's remaining time + a margin) and a random ``lease_owner``.
* Redelivered event of a ``done``/``failed`` image → the claim's condition fails, nothing is
  written or re-put; the record is reported ``duplicate``.
* A ``processing`` item whose lease expired (its run crashed or timed out) → taken over and
  processed again; ``created_at`` is kept, ``attempts`` counts the tries. Variant keys are
  deterministic, so the retry overwrites the same objects: still one set.
* A ``processing`` item with a *fresh* lease (a concurrent duplicate delivery) → we **raise**
  :class:`LeaseHeldError`, so Lambda retries this event later. Skipping would be cheaper but
  could lose the image if the lease holder then crashed after our skip; a retry either finds
  the item finished (and stops) or the lease expired (and takes over). Nothing is lost.
* Transient errors (throttling, 5xx, connection) release the lease and propagate, so Lambda's
  retry can claim the item at once; permanent input errors record ``failed`` and return.

Loops: events from the processed bucket (or, when ``UPLOAD_BUCKET`` is set, from any bucket but
that one) are ignored, so variants never retrigger the pipeline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from function.events import ObjectRef, parse_event, variant_key
from function.settings import Settings
from function.store import ClaimResult, SourceUnavailableError, Store

LEASE_MARGIN_SECONDS = 30
"""Added to the invocation's remaining time: the lease outlives any run it guards."""


class LeaseHeldError(RuntimeError):
    """Another invocation is processing this image right now; raised so Lambda retries later."""


class OutcomeStatus(StrEnum):
    """What happened to one object (the handler's answer; ``done``/``failed`` are also the item's)."""

    DONE = "done"
    """Every variant written and the item recorded."""
    FAILED = "failed"
    """The image was refused or could not be processed; the item records why."""
    DUPLICATE = "duplicate"
    """Already finished (or being finished) by another delivery of the same event."""
    IGNORED = "ignored"
    """Not for this pipeline (another bucket, a variant, a folder placeholder)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one object; the handler returns these (as dicts) for logs and tests."""

    image_id: str
    bucket: str
    key: str
    status: OutcomeStatus
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v != ""}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ignored(ref: ObjectRef, settings: Settings) -> str:
    if ref.bucket == settings.processed_bucket:
        return "event from the processed bucket (variants never retrigger the pipeline)"
    if settings.upload_bucket and ref.bucket != settings.upload_bucket:
        return f"event from bucket {ref.bucket!r}, not the upload bucket {settings.upload_bucket!r}"
    if ref.key.endswith("/"):
        return "folder placeholder object, not an image"
    return ""


class Pipeline:
    """Processes S3 events with one :class:`Settings` and :class:`Store` (reused while warm)."""

    def __init__(self, settings: Settings, store: Store, logger: Any, metrics: Any) -> None:
        self.settings, self.store, self.logger, self.metrics = settings, store, logger, metrics

    def handle(self, event: Mapping[str, Any], remaining_ms: int | None = None) -> list[Outcome]:
        return [self.process(ref, remaining_ms) for ref in parse_event(event)]

    def process(self, ref: ObjectRef, remaining_ms: int | None = None) -> Outcome:
        log = self.logger
        image_id = ref.image_id
        log.append_keys(image_id=image_id, source_bucket=ref.bucket, source_key=ref.key)
        reason = _ignored(ref, self.settings)
        if reason:
            log.warning("ignored", extra={"reason": reason})
            return Outcome(image_id, ref.bucket, ref.key, OutcomeStatus.IGNORED, reason)

        started = time.time()
        owner = uuid.uuid4().hex
        lease = (remaining_ms / 1000 if remaining_ms else self.settings.lease_seconds) + LEASE_MARGIN_SECONDS
        claim = self.store.claim(ref, image_id, owner, _iso(started), int(started), int(started + lease))
        if claim.result is ClaimResult.FINISHED:
            status = (claim.item or {}).get("status")
            log.info("duplicate", extra={"status": status})
            return Outcome(image_id, ref.bucket, ref.key, OutcomeStatus.DUPLICATE, f"already {status}")
        if claim.result is ClaimResult.HELD:
            until = (claim.item or {}).get("lease_until")
            log.warning("lease held", extra={"lease_until": str(until)})
            raise LeaseHeldError(
                f"image {image_id} is being processed by another invocation (lease until {until}); "
                "retrying later"
            )
        log.info("claimed", extra={"lease_until": int(started + lease)})
        try:
            return self._run(ref, image_id, owner, started)
        except BaseException:
            self._release(image_id, owner)
            raise

    def _run(self, ref: ObjectRef, image_id: str, owner: str, started: float) -> Outcome:
        from function.imaging import EncodedVariant, PermanentImageError, render_variants

        log, settings = self.logger, self.settings
        variants: dict[str, dict[str, Any]] = {}

        def upload(encoded: EncodedVariant) -> None:
            key = variant_key(ref.key, encoded.spec.name, image_id, encoded.spec.extension)
            self.store.put_variant(key, encoded, ref, image_id)
            info = encoded.info
            variants[info.name] = {
                "bucket": settings.processed_bucket,
                "key": key,
                "format": info.format,
                "width": info.width,
                "height": info.height,
                "bytes": info.bytes,
            }
            if info.frames > 1:  # an animated variant: its frame count (fewer if truncated)
                variants[info.name]["frames"] = info.frames
            log.info("variant stored", extra={"variant": info.name, "key": key, "bytes": info.bytes})

        source_bytes: int | None = ref.size
        try:
            source, content_type = self.store.open_source(ref)
            log.info("downloaded", extra={"bytes": ref.size, "content_type": content_type})
            with source:
                info = render_variants(
                    source,
                    settings.variants,
                    settings.max_pixels,
                    settings.encode_threads,
                    upload,
                    settings.max_animation_pixels,
                )
            source_bytes = info.bytes
        except (PermanentImageError, SourceUnavailableError) as exc:
            # e.g. a WebP variant over 16,383 px after other variants were stored: a failed
            # image leaves no variants behind.
            self._cleanup([v["key"] for v in variants.values()])
            return self._fail(ref, image_id, owner, started, str(exc), source_bytes)

        finished = time.time()
        duration_ms = int((finished - started) * 1000)
        fields = {
            "format": info.format,
            "width": info.width,
            "height": info.height,
            "bytes": info.bytes,
            "alpha": info.alpha,
            "animated": info.animated,
            "frames": info.frames,
            "variants": variants,
            "processed_at": _iso(finished),
            "duration_ms": duration_ms,
        }
        if not self.store.finish(image_id, owner, fields):
            log.warning("lease lost", extra={"detail": "another run took over; its result stands"})
        self.metrics.add_metric(name="ImagesProcessed", unit="Count", value=1)
        self.metrics.add_metric(name="ProcessingDuration", unit="Milliseconds", value=duration_ms)
        self.metrics.add_metric(name="SourceBytes", unit="Bytes", value=info.bytes)
        log.info(
            "done",
            extra={
                "format": info.format,
                "width": info.width,
                "height": info.height,
                "duration_ms": duration_ms,
            },
        )
        return Outcome(image_id, ref.bucket, ref.key, OutcomeStatus.DONE)

    def _fail(
        self, ref: ObjectRef, image_id: str, owner: str, started: float, error: str, nbytes: int | None
    ) -> Outcome:
        finished = time.time()
        duration_ms = int((finished - started) * 1000)
        fields: dict[str, Any] = {"error": error, "processed_at": _iso(finished), "duration_ms": duration_ms}
        if nbytes is not None:
            fields["bytes"] = nbytes
        self.store.fail(image_id, owner, fields)
        self.metrics.add_metric(name="ImagesFailed", unit="Count", value=1)
        self.metrics.add_metric(name="ProcessingDuration", unit="Milliseconds", value=duration_ms)
        # A bad upload is the user's problem, not an outage: warning, and no retry.
        self.logger.warning("failed", extra={"error": error, "duration_ms": duration_ms})
        return Outcome(image_id, ref.bucket, ref.key, OutcomeStatus.FAILED, error)

    def _cleanup(self, keys: list[str]) -> None:
        """Best effort (needs s3:DeleteObject): an orphan variant is better than a retry storm."""
        try:
            self.store.delete_variants(keys)
        except Exception:
            self.logger.warning("could not delete partial variants", extra={"keys": keys}, exc_info=True)

    def _release(self, image_id: str, owner: str) -> None:
        """Best effort: end our lease so Lambda's retry can claim the item immediately."""
        try:
            self.store.release(image_id, owner)
        except Exception:  # the original error matters more; the lease expires on its own
            self.logger.exception("lease release failed")
