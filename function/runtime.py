"""The warm-container state: one :class:`Pipeline` (S3 path) or :class:`ApiService` (API path)
per configuration, built on first use.

Settings are parsed from the environment once; boto3 clients are created once and reused by
later invocations of the same container (the cheap path Lambda rewards). A changed
environment (tests, the local engine's warm worker after a redeploy) builds a new one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from function import env as env_names
from function.pipeline import Pipeline
from function.settings import Settings
from function.store import Store

if TYPE_CHECKING:
    from function.api_service import ApiService

_ENV_KEYS = (
    env_names.PROCESSED_BUCKET,
    env_names.METADATA_TABLE,
    env_names.VARIANTS,
    env_names.MAX_PIXELS,
    env_names.LOG_LEVEL,
    env_names.UPLOAD_BUCKET,
    env_names.ENCODE_THREADS,
    env_names.LEASE_SECONDS,
    env_names.MAX_SOURCE_BYTES,
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
_API_ENV_KEYS = (
    env_names.UPLOAD_BUCKET,
    env_names.PROCESSED_BUCKET,
    env_names.METADATA_TABLE,
    env_names.MAX_PIXELS,
    env_names.MAX_UPLOAD_MB,
    env_names.PRESIGN_EXPIRES_SECONDS,
    env_names.CORS_ORIGINS,
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
_cache: dict[tuple[str | None, ...], Pipeline] = {}
_api_cache: dict[tuple[str | None, ...], ApiService] = {}


def pipeline(logger: Any, metrics: Any) -> Pipeline:
    """The pipeline for the current environment (raises ``SettingsError`` when it is wrong)."""
    key = tuple(os.environ.get(name) for name in _ENV_KEYS)
    current = _cache.get(key)
    if current is None:
        settings = Settings.from_env()
        _cache.clear()
        current = _cache[key] = Pipeline(settings, Store(settings), logger, metrics)
    current.logger, current.metrics = logger, metrics
    return current


def api_service(logger: Any) -> ApiService:
    """The API service for the current environment (raises ``SettingsError`` when it is wrong)."""
    from function.api_service import ApiService
    from function.api_store import ApiStore
    from function.settings import ApiSettings
    from function.store import client

    key = tuple(os.environ.get(name) for name in _API_ENV_KEYS)
    current = _api_cache.get(key)
    if current is None:
        settings = ApiSettings.from_env()
        # SigV4 everywhere: SSE-KMS objects cannot be fetched with SigV2 presigned URLs.
        store = ApiStore(settings, client("s3", signature_version="s3v4"), client("dynamodb"))
        _api_cache.clear()
        current = _api_cache[key] = ApiService(settings, store, logger)
    current.logger = logger
    return current


def reset() -> None:
    """Forget every warm object (tests switch moto backends between cases)."""
    _cache.clear()
    _api_cache.clear()
