"""The function's configuration, parsed once from its environment into a typed object.

The Pulumi program sets these variables (see docs/configuration.md, "Output and environment contract");
every problem is reported at once, naming the variable and saying how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from function import env as env_names
from function.variants import DEFAULT_MAX_ANIMATION_PIXELS, DEFAULT_VARIANTS, Variant, parse_variants

DEFAULT_MAX_PIXELS = 50_000_000
# A Lambda invocation cannot outlive 900 s; a lease this long is always past any run it guards.
DEFAULT_LEASE_SECONDS = 960
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """The function's environment is missing or has a bad value (a deployment problem)."""


@dataclass(frozen=True)
class Settings:
    processed_bucket: str
    """``PROCESSED_BUCKET``: where variants go (never the upload bucket: no re-trigger loop)."""
    metadata_table: str
    """``METADATA_TABLE``: the DynamoDB table of image items (partition key ``image_id``)."""
    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    """``VARIANTS``: JSON list from :func:`function.variants.variants_json`; unset = defaults."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """``MAX_PIXELS``: images with more pixels are refused before decoding."""
    max_animation_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS
    """``MAX_ANIMATION_PIXELS``: frames × pixels animated variants keep (longer: truncated)."""
    encode_threads: int | None = None
    """``ENCODE_THREADS``: encoder threads; unset = the vCPUs Lambda gives the function."""
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    """``LEASE_SECONDS``: how long a ``processing`` claim blocks others when the run's own
    deadline is unknown (the handler uses the invocation's remaining time when it has one)."""
    log_level: str = "INFO"
    """``LOG_LEVEL``: one of DEBUG, INFO, WARNING, ERROR, CRITICAL (Powertools Logger reads it too)."""
    upload_bucket: str | None = None
    """``UPLOAD_BUCKET`` (optional): when set, events from any other bucket are ignored."""
    max_source_bytes: int | None = None
    """``MAX_SOURCE_BYTES``: refuse larger objects without downloading them; unset = a bound
    derived from ``MAX_PIXELS`` (8 bytes per pixel, the most a 16-bit RGBA PNG needs) + 16 MiB."""

    @property
    def source_byte_limit(self) -> int:
        if self.max_source_bytes is not None:
            return self.max_source_bytes
        return self.max_pixels * 8 + 16 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        problems: list[str] = []

        def required(name: str, what: str) -> str:
            value = (env.get(name) or "").strip()
            if not value:
                problems.append(f"{name} is not set: it must name {what} (the stack sets it)")
            return value

        def positive_int(name: str, default: int | None, lo: int = 1) -> int | None:
            raw = (env.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = int(raw.replace("_", ""))
            except ValueError:
                problems.append(f"{name}={raw!r} is not a whole number")
                return default
            if value < lo:
                problems.append(f"{name}={value} must be at least {lo}")
                return default
            return value

        bucket = required(env_names.PROCESSED_BUCKET, "the bucket that receives the variants")
        table = required(env_names.METADATA_TABLE, "the DynamoDB table of image metadata")
        variants = DEFAULT_VARIANTS
        raw_variants = (env.get(env_names.VARIANTS) or "").strip()
        if raw_variants:
            try:
                variants = parse_variants(raw_variants)
            except ValueError as exc:
                problems.append(f"VARIANTS is invalid: {exc}")
        max_pixels = positive_int(env_names.MAX_PIXELS, DEFAULT_MAX_PIXELS)
        max_animation = positive_int(env_names.MAX_ANIMATION_PIXELS, DEFAULT_MAX_ANIMATION_PIXELS)
        threads = positive_int(env_names.ENCODE_THREADS, None)
        lease = positive_int(env_names.LEASE_SECONDS, DEFAULT_LEASE_SECONDS, lo=30)
        max_bytes = positive_int(env_names.MAX_SOURCE_BYTES, None)
        log_level = (env.get(env_names.LOG_LEVEL) or "INFO").strip().upper()
        if log_level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL={log_level!r} must be one of {', '.join(LOG_LEVELS)}")
        upload = (env.get(env_names.UPLOAD_BUCKET) or "").strip() or None
        if upload is not None and upload == bucket:
            problems.append(
                "UPLOAD_BUCKET and PROCESSED_BUCKET are the same bucket: variants would re-trigger "
                "the function forever; use two buckets"
            )
        if problems:
            raise SettingsError("function configuration: " + "; ".join(problems))
        return cls(
            processed_bucket=bucket,
            metadata_table=table,
            variants=variants,
            max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
            max_animation_pixels=max_animation or DEFAULT_MAX_ANIMATION_PIXELS,
            encode_threads=threads,
            lease_seconds=lease or DEFAULT_LEASE_SECONDS,
            log_level=log_level,
            upload_bucket=upload,
            max_source_bytes=max_bytes,
        )


@dataclass(frozen=True)
class ApiSettings:
    """The API function's configuration (``function.api.handler``), from the same environment
    contract as :class:`Settings`; the program sets every variable (``components/upload_api.py``)."""

    upload_bucket: str
    """``UPLOAD_BUCKET``: where presigned uploads go."""
    processed_bucket: str
    """``PROCESSED_BUCKET``: the variants, and the render cache under ``renders/``."""
    metadata_table: str
    """``METADATA_TABLE``: the image items the routes look up."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """``MAX_PIXELS``: the same bound as the pipeline's, for sources and renditions."""
    max_animation_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS
    """``MAX_ANIMATION_PIXELS``: frames × pixels an animated render keeps (longer: truncated)."""
    max_upload_bytes: int = 100 * 1024 * 1024
    """``MAX_UPLOAD_MB`` (MiB): the largest presigned upload."""
    presign_expires: int = 900
    """``PRESIGN_EXPIRES_SECONDS``: lifetime of every presigned URL handed out."""
    cors_origins: tuple[str, ...] = ("*",)
    """``CORS_ORIGINS``: comma-separated allowed origins, ``*`` for any."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        required = (env_names.UPLOAD_BUCKET, env_names.PROCESSED_BUCKET, env_names.METADATA_TABLE)
        missing = [n for n in required if not env.get(n)]
        if missing:
            raise SettingsError(f"API function misconfigured: set {', '.join(missing)} (the program does)")

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "").strip() or str(default)
            # isascii: str.isdigit() also accepts '²' and other digits int() refuses
            if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0:
                raise SettingsError(
                    f"API function misconfigured: {name} must be a positive integer, got {raw!r}"
                )
            return int(raw)

        origins = env.get(env_names.CORS_ORIGINS, "*")
        return cls(
            upload_bucket=env[env_names.UPLOAD_BUCKET],
            processed_bucket=env[env_names.PROCESSED_BUCKET],
            metadata_table=env[env_names.METADATA_TABLE],
            max_pixels=integer(env_names.MAX_PIXELS, DEFAULT_MAX_PIXELS),
            max_animation_pixels=integer(env_names.MAX_ANIMATION_PIXELS, DEFAULT_MAX_ANIMATION_PIXELS),
            max_upload_bytes=integer(env_names.MAX_UPLOAD_MB, 100) * 1024 * 1024,
            presign_expires=integer(env_names.PRESIGN_EXPIRES_SECONDS, 900),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()) or ("*",),
        )
