"""Data access of the API function: image items, presigned URLs, sources and cached renditions.

Every AWS call of ``function.api`` is here, with the boto3 clients passed in (the warm container
builds them once in :mod:`function.runtime`; tests pass moto's). Nothing here knows about HTTP
or pixels. Items come back as plain values (:func:`function.store.plain_item`); the two facts a
caller acts on become exceptions (:class:`SourceGoneError`) or ``None`` (no item, no cached
object); every other ``ClientError`` propagates and the route answers 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from function.settings import ApiSettings
from function.store import MISSING_OBJECT_CODES, error_code, plain_item

RENDER_PREFIX = "renders/"
"""Where renditions are cached in the processed bucket (the render role may write only here)."""
RENDER_EXPIRY_DAYS = 30
"""Days after which the processed bucket's lifecycle rule deletes cached renditions (the
program sets the rule from this value); a later request renders again."""


class SourceGoneError(Exception):
    """The source version of an image no longer exists (deleted, or expired by lifecycle)."""


@dataclass(frozen=True)
class CachedRendition:
    """A rendition already in the cache: what HEAD says about it."""

    key: str
    content_type: str | None
    width: int | None
    height: int | None
    bytes: int | None


class ApiStore:
    """boto3 access for one :class:`ApiSettings`. ``s3`` must sign with SigV4 (SSE-KMS objects
    cannot be fetched with SigV2 presigned URLs)."""

    def __init__(self, settings: ApiSettings, s3: Any, dynamodb: Any) -> None:
        self.settings, self.s3, self.dynamodb = settings, s3, dynamodb

    # ------------------------------------------------------------------ DynamoDB

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        """The image's item as plain values, or None."""
        response = self.dynamodb.get_item(
            TableName=self.settings.metadata_table, Key={"image_id": {"S": image_id}}
        )
        raw = response.get("Item")
        return None if raw is None else plain_item(raw)

    # ------------------------------------------------------------------ presigned URLs

    def presign_get(self, bucket: str, key: str) -> str:
        return str(
            self.s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": bucket, "Key": key},
                ExpiresIn=self.settings.presign_expires,
            )
        )

    def presign_upload(self, key: str, content_type: str, length: int, overwrite: bool) -> str:
        """A PUT URL into the upload bucket. ContentType and ContentLength are signed headers:
        S3 answers 403 to any other type or size. Unless the caller opts in to overwriting,
        If-None-Match: * is signed too: S3 then refuses (412) to replace an existing key, and a
        URL used without the header fails its signature (S3 conditional writes:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)."""
        params: dict[str, Any] = {
            "Bucket": self.settings.upload_bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": length,
        }
        if not overwrite:
            params["IfNoneMatch"] = "*"
        return str(
            self.s3.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=self.settings.presign_expires, HttpMethod="PUT"
            )
        )

    # ------------------------------------------------------------------ objects

    def read_source(self, item: dict[str, Any]) -> bytes:
        """The exact source version the item describes. Raises :class:`SourceGoneError`."""
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": item["source_bucket"], "Key": item["source_key"]}
        if item.get("source_version_id"):
            args["VersionId"] = item["source_version_id"]
        try:
            return bytes(self.s3.get_object(**args)["Body"].read())
        except ClientError as exc:
            if error_code(exc) in MISSING_OBJECT_CODES:
                raise SourceGoneError(str(exc)) from exc
            raise

    def cached_rendition(self, key: str) -> CachedRendition | None:
        """HEAD of a cached rendition in the processed bucket, or None when there is none."""
        from botocore.exceptions import ClientError

        try:
            head = self.s3.head_object(Bucket=self.settings.processed_bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in MISSING_OBJECT_CODES:
                return None
            raise
        meta = head.get("Metadata", {})
        return CachedRendition(
            key=key,
            content_type=head.get("ContentType"),
            width=int(meta.get("width", 0)) or None,
            height=int(meta.get("height", 0)) or None,
            bytes=head.get("ContentLength"),
        )

    def count_renditions(self, image_id: str, limit: int) -> int:
        """How many renditions of the image are cached, counting up to ``limit`` (one request)."""
        response = self.s3.list_objects_v2(
            Bucket=self.settings.processed_bucket, Prefix=f"{RENDER_PREFIX}{image_id}/", MaxKeys=limit
        )
        return int(response.get("KeyCount", 0))

    def put_rendition(
        self, key: str, data: bytes, content_type: str, width: int, height: int, image_id: str
    ) -> None:
        self.s3.put_object(
            Bucket=self.settings.processed_bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable",  # a key names exactly one rendition
            Metadata={"width": str(width), "height": str(height), "image-id": image_id},
        )
