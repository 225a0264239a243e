"""S3 event notifications → the objects to process, with keys decoded as S3 encodes them.

S3 sends ``s3.object.key`` form-encoded: a space arrives as ``+``, a literal ``+`` as ``%2B``,
non-ASCII as UTF-8 ``%XX``. :func:`parse_event` undoes that once, here, so no other layer sees
an encoded key. Hand-written rather than Powertools' ``S3Event`` because it is a dozen lines,
adds nothing to cold start, and also has to accept ``versionId``/``size`` being absent.

Pure Python, no boto3: the identity helpers (:func:`image_id`, :func:`variant_key`) are the
processed-object **contract** and are imported by tests and tools.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length


class EventError(ValueError):
    """The invocation payload is not an S3 event notification (a wiring problem, not an image)."""


@dataclass(frozen=True)
class ObjectRef:
    """One uploaded object named by an ``ObjectCreated`` record."""

    bucket: str
    key: str
    """Decoded key (``my photo+1.jpg``, not ``my+photo%2B1.jpg``)."""
    version_id: str | None = None
    size: int | None = None
    event_name: str = "ObjectCreated:Put"
    event_time: str | None = None

    @property
    def image_id(self) -> str:
        return image_id(self.bucket, self.key, self.version_id)


def image_id(bucket: str, key: str, version_id: str | None) -> str:
    """**Contract**: first 16 hex chars of sha256(f"{bucket}\\n{key}\\n{version_id or ''}")."""
    return hashlib.sha256(f"{bucket}\n{key}\n{version_id or ''}".encode()).hexdigest()[:16]


def variant_key(source_key: str, variant: str, image_id: str, extension: str) -> str:
    """**Contract**: ``<source dir>/<source stem>_<variant>_<image_id>.<ext>`` (no leading ``/``
    without a dir). The stem loses its last extension only (``a.tar.gz`` → ``a.tar``); a stem
    that would push the key past S3's 1,024-byte limit is shortened (never split mid-character)."""
    folder, _, name = source_key.rpartition("/")
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    suffix = f"_{variant}_{image_id}.{extension}"
    prefix = f"{folder}/" if folder else ""
    room = MAX_KEY_BYTES - len(prefix.encode()) - len(suffix.encode())
    encoded = stem.encode()
    if len(encoded) > room:
        stem = encoded[: max(room, 0)].decode("utf-8", "ignore")
    return f"{prefix}{stem}{suffix}"


def _records(event: Mapping[str, Any]) -> list[Any]:
    if not isinstance(event, Mapping):
        raise EventError(f"expected an S3 event notification object, got {type(event).__name__}")
    records = event.get("Records")
    if records is None:
        if event.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
            return []
        raise EventError("not an S3 event notification: no 'Records' list in the payload")
    if not isinstance(records, list):
        raise EventError("not an S3 event notification: 'Records' is not a list")
    return records


def parse_event(event: Mapping[str, Any]) -> Iterator[ObjectRef]:
    """The ``ObjectCreated`` objects in an S3 notification, keys decoded; other records skipped."""
    for i, record in enumerate(_records(event)):
        if not isinstance(record, Mapping) or record.get("eventSource", "aws:s3") != "aws:s3":
            continue
        name = str(record.get("eventName", ""))
        if not name.startswith("ObjectCreated"):
            continue
        try:
            s3 = record["s3"]
            bucket = s3["bucket"]["name"]
            raw_key = s3["object"]["key"]
        except (KeyError, TypeError) as exc:
            raise EventError(f"Records[{i}]: missing s3.bucket.name or s3.object.key ({exc})") from exc
        obj = s3["object"]
        size = obj.get("size")
        yield ObjectRef(
            bucket=str(bucket),
            key=unquote_plus(str(raw_key)),
            version_id=obj.get("versionId") or None,
            size=int(size) if isinstance(size, (int, float)) else None,
            event_name=name,
            event_time=record.get("eventTime"),
        )
