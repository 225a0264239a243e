"""Data access: the source object in S3, variant objects, and the metadata item in DynamoDB.

Every AWS call of the function is here; nothing here knows about pixels. Errors are not
translated except the two that are *permanent* facts about the input (the object is gone, or
is too large to download): every other ``ClientError`` / connection error propagates, so the
invocation fails and Lambda retries it (then the DLQ).

The item's lease protocol (see :mod:`function.pipeline` for why) is three conditional writes:

* :meth:`Store.claim` — ``status=processing`` + ``lease_until`` + ``lease_owner``, only if the
  item does not exist or is ``processing`` with an expired lease (a crashed run);
* :meth:`Store.finish` — ``done`` with the contract fields, only while we still own the lease;
* :meth:`Store.fail` — ``failed`` with ``error``, same condition;
* :meth:`Store.release` — expire our lease after a transient error, so the retry is not blocked.
"""

from __future__ import annotations

import enum
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from function.events import ObjectRef
from function.settings import Settings

if TYPE_CHECKING:
    from function.imaging import EncodedVariant

# The source is spooled to /tmp above this size so the encoded file is not in memory while
# the decoded pixels and the encoders are.
SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
# Error codes meaning "no such object/version" (GetObject says NoSuchKey, HeadObject 404).
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


class SourceUnavailableError(Exception):
    """The source object can never be read by a retry (deleted, or over the size limit)."""


class ClaimResult(enum.Enum):
    CLAIMED = "claimed"
    """We own the lease: process the image."""
    FINISHED = "finished"
    """The item is ``done`` or ``failed`` already: a duplicate delivery, nothing to do."""
    HELD = "held"
    """Another run holds an unexpired lease."""


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    item: Mapping[str, Any] | None = None
    """The current item when not claimed (plain Python values)."""


def client(service: str, **config: Any) -> Any:
    """A boto3 client for the function's Lambdas (both the pipeline's and the API's).

    Imported on first use: boto3 is ~200 ms of import, kept out of the handlers' cold import.
    AWS_ENDPOINT_URL (the local engine) is read by boto3 itself. Standard retry mode backs off
    on throttling before an error reaches the handler. ``config`` adds botocore ``Config`` fields.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}, **config))


def plain_item(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item in wire format (``{"S": …}``) as plain values; the one conversion the
    function uses, so no caller reads ``["S"]`` itself. Numbers come back as ``Decimal``."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    return {k: des.deserialize(v) for k, v in raw.items()}


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty for anything else)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code") or "")


def _is_conditional_failure(exc: Exception) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


class Store:
    """boto3 access for one :class:`Settings`; clients are created lazily and reused."""

    def __init__(self, settings: Settings, s3: Any = None, dynamodb: Any = None) -> None:
        self.settings = settings
        self._s3, self._ddb = s3, dynamodb

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    @property
    def dynamodb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    # ------------------------------------------------------------------ S3

    def open_source(self, ref: ObjectRef) -> tuple[BinaryIO, str | None]:
        """Download the source version into a spooled temp file (memory, /tmp when large).

        Returns (file at position 0, ContentType). Raises :class:`SourceUnavailableError` when
        the object no longer exists or is over the byte limit (checked before downloading).
        """
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            args["VersionId"] = ref.version_id
        try:
            response = self.s3.get_object(**args)
        except ClientError as exc:
            if error_code(exc) in MISSING_OBJECT_CODES:
                raise SourceUnavailableError(
                    # no bucket name or s3:// path: this text is recorded and served by the API
                    f"the source object {ref.key!r} (version {ref.version_id or '-'}) "
                    "no longer exists; upload it again"
                ) from exc
            raise
        body = response["Body"]
        length = int(response.get("ContentLength") or 0)
        limit = self.settings.source_byte_limit
        if length > limit:
            body.close()
            raise SourceUnavailableError(
                f"the object is {length:,} bytes, over the {limit:,}-byte limit derived from "
                "imgpipe:maxPixels; upload a smaller image"
            )
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
        try:
            for chunk in body.iter_chunks(_CHUNK):
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        finally:
            body.close()
        spool.seek(0)
        # typeshed does not declare SpooledTemporaryFile a BinaryIO, though it is a binary file
        return spool, response.get("ContentType")  # type: ignore[return-value]

    def put_variant(self, key: str, variant: EncodedVariant, ref: ObjectRef, image_id: str) -> None:
        """Write one encoded variant with its content type; S3 metadata links it to its source."""
        self.s3.put_object(
            Bucket=self.settings.processed_bucket,
            Key=key,
            Body=variant.stream(),
            ContentType=variant.info.content_type,
            CacheControl="public, max-age=31536000, immutable",  # key changes with the source version
            Metadata={
                # S3 user metadata is ASCII: the key is linked through image_id, not repeated.
                "image-id": image_id,
                "variant": variant.spec.name,
                "source-bucket": ref.bucket,
            },
        )

    def delete_variants(self, keys: list[str]) -> None:
        """Remove variants written before the image turned out to be unprocessable."""
        if keys:
            self.s3.delete_objects(
                Bucket=self.settings.processed_bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )

    # ------------------------------------------------------------------ DynamoDB

    def _key(self, image_id: str) -> dict[str, Any]:
        return {"image_id": {"S": image_id}}

    def get_item(self, image_id: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=self.settings.metadata_table, Key=self._key(image_id), ConsistentRead=True
        )
        raw = response.get("Item")
        return None if raw is None else plain_item(raw)

    def claim(
        self, ref: ObjectRef, image_id: str, owner: str, now: str, now_epoch: int, lease_until: int
    ) -> Claim:
        """Take the processing lease (see the module docstring); never overwrites a finished item."""
        from botocore.exceptions import ClientError

        values = _serialize(
            {
                ":processing": "processing",
                ":lease": lease_until,
                ":owner": owner,
                ":now": now,
                ":now_epoch": now_epoch,
                ":bucket": ref.bucket,
                ":key": ref.key,
                ":version": ref.version_id,
                ":zero": 0,
                ":one": 1,
            }
        )
        try:
            self.dynamodb.update_item(
                TableName=self.settings.metadata_table,
                Key=self._key(image_id),
                UpdateExpression=(
                    "SET #status = :processing, lease_until = :lease, lease_owner = :owner, "
                    "source_bucket = :bucket, source_key = :key, source_version_id = :version, "
                    "created_at = if_not_exists(created_at, :now), "
                    "attempts = if_not_exists(attempts, :zero) + :one"
                ),
                ConditionExpression=(
                    "attribute_not_exists(image_id) OR (#status = :processing AND lease_until < :now_epoch)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            item = self.get_item(image_id)
            if item is None:  # deleted between the two calls: let the retry claim it
                return Claim(ClaimResult.HELD, None)
            if item.get("status") in ("done", "failed"):
                return Claim(ClaimResult.FINISHED, item)
            return Claim(ClaimResult.HELD, item)
        return Claim(ClaimResult.CLAIMED, None)

    def _settle(self, image_id: str, owner: str, fields: Mapping[str, Any]) -> bool:
        """Write the final fields while we own the lease. False if another run took it over."""
        from botocore.exceptions import ClientError

        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = _serialize({f":v{i}": value for i, value in enumerate(fields.values())})
        values[":owner"] = {"S": owner}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        try:
            self.dynamodb.update_item(
                TableName=self.settings.metadata_table,
                Key=self._key(image_id),
                UpdateExpression=f"SET {sets} REMOVE lease_until, lease_owner",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def release(self, image_id: str, owner: str) -> None:
        """Expire our lease now (after a transient error) so a retry can claim the item at once."""
        from botocore.exceptions import ClientError

        try:
            self.dynamodb.update_item(
                TableName=self.settings.metadata_table,
                Key=self._key(image_id),
                UpdateExpression="SET lease_until = :zero REMOVE lease_owner",
                ConditionExpression="lease_owner = :owner AND #status = :processing",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_serialize(
                    {":zero": 0, ":owner": owner, ":processing": "processing"}
                ),
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise

    def finish(self, image_id: str, owner: str, fields: Mapping[str, Any]) -> bool:
        return self._settle(image_id, owner, {**fields, "status": "done"})

    def fail(self, image_id: str, owner: str, fields: Mapping[str, Any]) -> bool:
        return self._settle(image_id, owner, {**fields, "status": "failed"})


def _serialize(values: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in values.items()}
