"""Settings parsed once from the environment, with errors that name the variable."""

from __future__ import annotations

import pytest

from function.settings import DEFAULT_MAX_PIXELS, ApiSettings, Settings, SettingsError
from function.variants import DEFAULT_VARIANTS, Variant, variants_json

BASE = {"PROCESSED_BUCKET": "processed", "METADATA_TABLE": "table"}


def test_defaults() -> None:
    s = Settings.from_env(BASE)
    assert (s.processed_bucket, s.metadata_table, s.variants) == ("processed", "table", DEFAULT_VARIANTS)
    assert s.max_pixels == DEFAULT_MAX_PIXELS and s.log_level == "INFO" and s.upload_bucket is None
    assert s.encode_threads is None and s.source_byte_limit == DEFAULT_MAX_PIXELS * 8 + 16 * 1024 * 1024


def test_all_values_parsed() -> None:
    specs = (Variant("t", "webp", quality=50, max_width=10),)
    s = Settings.from_env(
        {
            **BASE,
            "VARIANTS": variants_json(specs),
            "MAX_PIXELS": "40_000_000",
            "LOG_LEVEL": "debug",
            "UPLOAD_BUCKET": "uploads",
            "ENCODE_THREADS": "2",
            "MAX_SOURCE_BYTES": "1000",
            "MAX_ANIMATION_PIXELS": "5_000_000",
        }
    )
    assert s.max_animation_pixels == 5_000_000
    assert s.variants == specs and s.max_pixels == 40_000_000 and s.log_level == "DEBUG"
    assert s.upload_bucket == "uploads" and s.encode_threads == 2 and s.source_byte_limit == 1000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "PROCESSED_BUCKET is not set.*METADATA_TABLE is not set"),
        ({**BASE, "MAX_PIXELS": "lots"}, "MAX_PIXELS='lots' is not a whole number"),
        ({**BASE, "MAX_PIXELS": "0"}, "MAX_PIXELS=0 must be at least 1"),
        ({**BASE, "MAX_ANIMATION_PIXELS": "0"}, "MAX_ANIMATION_PIXELS=0 must be at least 1"),
        ({**BASE, "VARIANTS": "[oops"}, "VARIANTS is invalid: variants: not valid JSON"),
        (
            {**BASE, "VARIANTS": '[{"name":"a","format":"tiff"}]'},
            "VARIANTS is invalid: .*'format' must be one of",
        ),
        ({**BASE, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' must be one of DEBUG, INFO"),
        ({**BASE, "UPLOAD_BUCKET": "processed"}, "same bucket: variants would re-trigger"),
        ({**BASE, "LEASE_SECONDS": "5"}, "LEASE_SECONDS=5 must be at least 30"),
    ],
)
def test_errors_name_the_variable(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_cold_import_of_handler_loads_neither_pillow_nor_boto3() -> None:
    """The handler module defers the heavy imports to the first event (cold start; Powertools
    itself pulls in botocore, which is unavoidable with it)."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, function.handler; print(sorted(m for m in ('PIL', 'boto3') if m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_api_settings_defaults_and_values() -> None:
    base = {"UPLOAD_BUCKET": "u", "PROCESSED_BUCKET": "p", "METADATA_TABLE": "t"}
    s = ApiSettings.from_env(base)
    assert (s.upload_bucket, s.processed_bucket, s.metadata_table) == ("u", "p", "t")
    assert s.max_pixels == DEFAULT_MAX_PIXELS and s.cors_origins == ("*",)
    s = ApiSettings.from_env(
        {
            **base,
            "MAX_UPLOAD_MB": "5",
            "PRESIGN_EXPIRES_SECONDS": "60",
            "CORS_ORIGINS": " https://a , https://b",
        }
    )
    assert s.max_upload_bytes == 5 * 1024 * 1024 and s.presign_expires == 60
    assert s.cors_origins == ("https://a", "https://b")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UPLOAD_BUCKET": "u", "PROCESSED_BUCKET": "p"}, "set METADATA_TABLE"),
        ({}, "set UPLOAD_BUCKET, PROCESSED_BUCKET, METADATA_TABLE"),
        (
            {"UPLOAD_BUCKET": "u", "PROCESSED_BUCKET": "p", "METADATA_TABLE": "t", "MAX_PIXELS": "²"},
            "MAX_PIXELS must be a positive integer",
        ),
    ],
)
def test_api_settings_say_what_to_set(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ApiSettings.from_env(env)
