"""The warm-container state: one :class:`Pipeline` per configuration, built on first use.

Settings are parsed from the environment once; boto3 clients are created once and reused by
later invocations of the same container (the cheap path Lambda rewards). A changed
environment (tests, the local engine's warm worker after a redeploy) builds a new one.
"""

from __future__ import annotations

import os
from typing import Any

from function.pipeline import Pipeline
from function.settings import Settings
from function.store import Store

_ENV_KEYS = (
    "PROCESSED_BUCKET",
    "METADATA_TABLE",
    "VARIANTS",
    "MAX_PIXELS",
    "LOG_LEVEL",
    "UPLOAD_BUCKET",
    "ENCODE_THREADS",
    "LEASE_SECONDS",
    "MAX_SOURCE_BYTES",
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
_cache: dict[tuple[str | None, ...], Pipeline] = {}


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
