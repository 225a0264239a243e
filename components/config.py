"""The stack's configuration: read once from ``pulumi.Config("imgpipe")`` into :class:`StackConfig`.

Every key is declared (type, description, default) in ``Pulumi.yaml``; the defaults below are
the same values, so the program also behaves when run with no project file (unit tests, the
local engine). Each problem raises :class:`ConfigError` naming the key, the bad value, what is
allowed and the ``pulumi config set`` command that fixes it, so ``pulumi preview`` fails early
and clearly instead of half-way through an update.
"""

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pulumi

from components.inputs import ApiAuth, Architecture
from function.variants import DEFAULT_VARIANTS, Variant, parse_variants
from layer.build import default_zip_path

NAMESPACE = "imgpipe"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# Tests (and anyone with a layer built elsewhere) point the program at another zip.
LAYER_ZIP_ENV = "IMGPIPE_LAYER_ZIP"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STAGE = re.compile(r"^[A-Za-z0-9_]{1,128}$")


class ConfigError(ValueError):
    """A stack config value is missing or invalid; the message says how to fix it."""


@dataclass(frozen=True)
class StackConfig:
    """Every ``imgpipe:*`` setting, validated. Field docs match ``Pulumi.yaml``."""

    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    """``variants``: the renditions made of every upload (default: JPEG q85 ``compressed``, JPEG
    q60 ``low``, WebP q85 ``webp``, lossless ``png`` and a 200x200 JPEG ``thumbnail``)."""
    architecture: Architecture = Architecture.ARM64
    """``architecture``: Lambda CPU architecture, ``arm64`` (cheaper per ms) or ``x86_64``."""
    memory_mb: int = 1536
    """``memoryMb``: function memory, 128..10240 MB (CPU share grows with it)."""
    timeout_seconds: int = 60
    """``timeoutSeconds``: function timeout, 1..900 s."""
    log_retention_days: int = 14
    """``logRetentionDays``: CloudWatch Logs retention, one of :data:`LOG_RETENTION_DAYS`."""
    max_pixels: int = 50_000_000
    """``maxPixels``: larger images are refused before decoding (decompression bombs)."""
    max_animation_pixels: int = 100_000_000
    """``maxAnimationPixels``: frames × pixels an animated (WebP/GIF) variant keeps; longer
    animations are truncated to the leading frames that fit."""
    max_upload_mb: int = 25
    """``maxUploadMb``: larger uploads are refused without being downloaded."""
    force_destroy: bool = True
    """``forceDestroy``: ``pulumi destroy`` empties the buckets first (dev convenience)."""
    protect: bool = False
    """``protect``: protect and retain the data stores (buckets, table, keys): prod."""
    api_auth: ApiAuth = ApiAuth.API_KEY
    """``apiAuth``: ``api_key`` (x-api-key header + usage plan) or ``iam`` (SigV4)."""
    alarm_email: str | None = None
    """``alarmEmail``: subscribe this address to the alarm topic (optional)."""
    cors_origins: tuple[str, ...] = ("*",)
    """``corsOrigins``: origins allowed by the API's CORS responses."""
    throttle_rate_limit: float = 10.0
    """``throttleRateLimit``: steady requests per second per API key."""
    throttle_burst_limit: int = 20
    """``throttleBurstLimit``: burst requests per API key."""
    quota_per_day: int = 10_000
    """``quotaPerDay``: requests per API key per day."""
    reserved_concurrency: int | None = None
    """``reservedConcurrency``: cap on concurrent function runs (0 / unset = unreserved)."""
    render_concurrency: int | None = None
    """``renderConcurrency``: reserved concurrency of the render function, which also caps it,
    so a burst of renders cannot take the concurrency the image function needs (0 / unset =
    unreserved)."""
    stage_name: str = "dev"
    """``stageName``: the API Gateway stage (part of ``api_url``)."""
    manage_api_gateway_account: bool = True
    """``manageApiGatewayAccount``: this stack sets the region's API Gateway CloudWatch role
    (``aws.apigateway.Account``, a per-account-and-region singleton) and creates that role;
    ``false`` when another stack or an account bootstrap owns it."""

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def layer_zip(self) -> Path:
        """The Pillow layer zip for this architecture (``make layer`` builds it)."""
        override = os.environ.get(LAYER_ZIP_ENV)
        if override:
            return Path(override)
        path = default_zip_path(self.architecture)  # where `make layer` writes it
        # Relative to the project directory (the CLI's working directory), like "./function":
        # the checkout's location then does not end up in the stack's state.
        return path.relative_to(PROJECT_ROOT) if Path.cwd().resolve() == PROJECT_ROOT else path

    def require_layer_zip(self) -> Path:
        """The layer zip, or a :class:`ConfigError` saying how to build it."""
        path = self.layer_zip
        if not path.is_file():
            raise ConfigError(
                f"the Pillow layer zip {path} does not exist: run `make layer` "
                f"(or `ARCH={self.architecture} python -m layer.build`) before `pulumi preview/up`"
            )
        return path


def _fix(key: str, example: str) -> str:
    return f"fix: pulumi config set {NAMESPACE}:{key} {example}"


def _bad(key: str, value: Any, allowed: str, example: str) -> ConfigError:
    return ConfigError(f"{NAMESPACE}:{key} is {value!r}; {allowed}. {_fix(key, example)}")


class ConfigSource(Protocol):
    """Where settings come from: a ``pulumi.Config`` (the stack), or the package component's
    inputs (``components.pipeline.ImagePipelineArgs``) in the same shape."""

    def get(self, key: str) -> str | None: ...


class _Reader:
    """Typed getters over one config source that turn every problem into a ConfigError."""

    def __init__(self, config: ConfigSource) -> None:
        self._config = config

    def raw(self, key: str) -> str | None:
        value = self._config.get(key)
        return None if value is None or value.strip() == "" else value

    def integer(self, key: str, default: int | None, lo: int, hi: int, example: str) -> int | None:
        raw = self.raw(key)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise _bad(key, raw, f"it must be a whole number between {lo} and {hi}", example) from None
        if not lo <= value <= hi:
            raise _bad(key, value, f"it must be between {lo} and {hi}", example)
        return value

    def number(self, key: str, default: float, lo: float, hi: float, example: str) -> float:
        raw = self.raw(key)
        if raw is None:
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            raise _bad(key, raw, f"it must be a number between {lo:g} and {hi:g}", example) from None
        if not lo <= value <= hi:
            raise _bad(key, value, f"it must be between {lo:g} and {hi:g}", example)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.raw(key)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise _bad(key, raw, "it must be true or false", "true")

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.raw(key)
        if raw is None:
            return default
        value = raw.strip()
        if value not in allowed:
            raise _bad(key, value, f"allowed: {', '.join(allowed)}", allowed[0])
        return value

    def json_value(self, key: str) -> Any:
        raw = self.raw(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            # a plain string set without --path (e.g. corsOrigins=https://example.com)
            return raw


def _variants(reader: _Reader) -> tuple[Variant, ...]:
    raw = reader.raw("variants")
    if raw is None:
        return DEFAULT_VARIANTS
    try:
        return parse_variants(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{NAMESPACE}:variants is invalid: {exc}. It is a JSON list of "
            "{name, format, quality, max_width, max_height, fit, effort}; fix: pulumi config set "
            f"""{NAMESPACE}:variants '[{{"name": "thumbnail", "format": "jpeg", "max_width": 200}}]'"""
        ) from exc


def _cors_origins(reader: _Reader) -> tuple[str, ...]:
    value = reader.json_value("corsOrigins")
    if value is None:
        return StackConfig.cors_origins
    origins = [value] if isinstance(value, str) else value
    example = "--path 'imgpipe:corsOrigins[0]' https://example.com"
    if not isinstance(origins, list) or not origins:
        raise _bad("corsOrigins", value, "it must be a non-empty list of origins", example)
    for origin in origins:
        if not isinstance(origin, str) or not (origin == "*" or re.match(r"^https?://[^/\s]+$", origin)):
            raise _bad(
                "corsOrigins", origin, "each origin must be '*' or scheme://host[:port] with no path", example
            )
    return tuple(origins)


def _alarm_email(reader: _Reader) -> str | None:
    raw = reader.raw("alarmEmail")
    if raw is None:
        return None
    email = raw.strip()
    if not _EMAIL.match(email):
        raise _bad("alarmEmail", email, "it must be an email address (or unset)", "ops@example.com")
    return email


def _stage_name(reader: _Reader) -> str:
    raw = reader.raw("stageName")
    if raw is None:
        return StackConfig.stage_name
    if not _STAGE.match(raw.strip()):
        raise _bad("stageName", raw, "it must be 1..128 letters, digits or '_'", "dev")
    return raw.strip()


def load(config: ConfigSource | None = None) -> StackConfig:
    """Read and validate every ``imgpipe:*`` key (call once, from ``__main__.py``)."""
    reader = _Reader(config or pulumi.Config(NAMESPACE))
    d = StackConfig()
    integer: Callable[..., int] = reader.integer  # type: ignore[assignment]  # defaults are ints
    retention = integer("logRetentionDays", d.log_retention_days, 1, 3653, "30")
    if retention not in LOG_RETENTION_DAYS:
        raise _bad(
            "logRetentionDays",
            retention,
            f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))}",
            "30",
        )
    reserved = integer("reservedConcurrency", 0, 0, 10_000, "10")
    render_reserved = integer("renderConcurrency", 0, 0, 10_000, "10")
    return StackConfig(
        variants=_variants(reader),
        architecture=Architecture(reader.choice("architecture", d.architecture, tuple(Architecture))),
        memory_mb=integer("memoryMb", d.memory_mb, 128, 10240, "1536"),
        timeout_seconds=integer("timeoutSeconds", d.timeout_seconds, 1, 900, "60"),
        log_retention_days=retention,
        max_pixels=integer("maxPixels", d.max_pixels, 1, 1_000_000_000, "50000000"),
        max_animation_pixels=integer(
            "maxAnimationPixels", d.max_animation_pixels, 1, 10_000_000_000, "100000000"
        ),
        max_upload_mb=integer("maxUploadMb", d.max_upload_mb, 1, 5120, "25"),
        force_destroy=reader.boolean("forceDestroy", d.force_destroy),
        protect=reader.boolean("protect", d.protect),
        api_auth=ApiAuth(reader.choice("apiAuth", d.api_auth, tuple(ApiAuth))),
        alarm_email=_alarm_email(reader),
        cors_origins=_cors_origins(reader),
        throttle_rate_limit=reader.number("throttleRateLimit", d.throttle_rate_limit, 0.1, 10_000, "10"),
        throttle_burst_limit=integer("throttleBurstLimit", d.throttle_burst_limit, 1, 5000, "20"),
        quota_per_day=integer("quotaPerDay", d.quota_per_day, 1, 100_000_000, "10000"),
        reserved_concurrency=reserved or None,
        render_concurrency=render_reserved or None,
        stage_name=_stage_name(reader),
        manage_api_gateway_account=reader.boolean("manageApiGatewayAccount", d.manage_api_gateway_account),
    )
