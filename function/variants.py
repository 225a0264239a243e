"""The variant contract shared by stack config (validated at preview) and the handler.

Pure Python, no Pillow or boto3 import: the Pulumi program imports this module too, and its
component inputs take :class:`Variant` objects (no ``from __future__ import annotations``: Pulumi's
component schema analyzer reads these annotations as types).
"""

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class ImageFormat(StrEnum):
    """Output format of a variant."""

    JPEG = "jpeg"
    """Lossy, smallest for photos; no transparency (flattened onto white)."""
    PNG = "png"
    """Lossless, keeps transparency; large for photos."""
    WEBP = "webp"
    """Lossy WebP: smaller than JPEG at the same quality, keeps transparency and animation."""
    AVIF = "avif"
    """AVIF: smaller than WebP at the same quality, slower to encode; first frame only."""
    GIF = "gif"
    """GIF: 256 colours, keeps animation."""


class Fit(StrEnum):
    """How a variant fits its ``max_width`` x ``max_height`` bounds."""

    INSIDE = "inside"
    """Scale down to fit inside the bounds, keeping the aspect ratio (never upscales)."""
    COVER = "cover"
    """Scale and centre-crop to fill the bounds exactly (needs both bounds)."""


FORMATS: dict[str, tuple[str, str]] = {
    # format -> (file extension, content type)
    "jpeg": ("jpg", "image/jpeg"),
    "png": ("png", "image/png"),
    "webp": ("webp", "image/webp"),
    "avif": ("avif", "image/avif"),
    "gif": ("gif", "image/gif"),
}
_FORMAT_ALIASES = {"jpg": "jpeg"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# Encoder effort: WebP `method` 0..6, PNG `compress_level` 0..9, JPEG 0 (baseline) or 1 (optimize),
# AVIF 0..10 = libavif speed 10..0 (more effort, slower, smaller), GIF 0 or 1 (optimize palette).
EFFORT_RANGE: dict[str, tuple[int, int]] = {
    "jpeg": (0, 1),
    "png": (0, 9),
    "webp": (0, 6),
    "avif": (0, 10),
    "gif": (0, 1),
}
# Chosen from measured time/size trade-offs (see docs/performance.md): near-equal size, ~3x faster.
# PNG level 1 vs Pillow's default 6 on the bench's 12 MP photo: 19.5 MB vs 20.6 MB (smaller) in
# 1.1 s vs 4.5 s; level 3 saves another 2.7% for +40% time, so 1 it is (output ≤ naive's size).
# AVIF effort 0 (libavif speed 10, SVT-AV1): the fastest, ~2x WebP method 0's CPU on the 12 MP
# bench photo (libaom's fastest took ~2.8x; SVT at speed 8 takes ~1.8x speed 10's time); see
# docs/performance.md "AVIF".
DEFAULT_EFFORT: dict[str, int] = {"jpeg": 0, "png": 1, "webp": 0, "avif": 0, "gif": 0}
# Quality when a variant's config gives none. AVIF's scale is not JPEG's or WebP's, nor the same
# for every AV1 encoder: on the bench photo SVT-AV1 at q64 has the PSNR of WebP q85 (38.0 vs
# 38.1 dB) in 28% fewer bytes (3.34 vs 4.62 MB; libaom needed q70 for 37.3 dB in 3.33 MB); q85
# would spend bytes on detail the other formats do not keep.
DEFAULT_QUALITY = 85
FORMAT_DEFAULT_QUALITY: dict[str, int] = {"avif": 64}
MAX_DIMENSION = 16384
# Frames × pixels of an animation that animated (WebP/GIF) variants keep; longer ones are cut to
# the leading frames that fit. 100 M = e.g. 400 frames of 500×500, or 33 frames of 1920×1580:
# ~400 MB of RGBA frames for a full-size animated variant, a few seconds of decoding.
DEFAULT_MAX_ANIMATION_PIXELS = 100_000_000


@dataclass(frozen=True)
class Variant:
    """One output rendition of every uploaded image."""

    name: str
    """Variant name, used in object keys and the metadata item (``[a-z0-9-]``, ≤ 32 chars)."""
    format: ImageFormat
    """Output format: ``jpeg``, ``png``, ``webp``, ``avif`` or ``gif`` (WebP and GIF keep an
    animated source's animation; the others take its first frame)."""
    quality: int = DEFAULT_QUALITY
    """Encoder quality 1..100 (ignored for PNG, which is lossless, and GIF); config without one
    gets :data:`FORMAT_DEFAULT_QUALITY` (AVIF 64), else 85."""
    max_width: int | None = None
    """Bound on the output width in pixels; ``None`` keeps the source width."""
    max_height: int | None = None
    """Bound on the output height in pixels; ``None`` keeps the source height."""
    fit: Fit = Fit.INSIDE
    """``inside`` keeps the aspect ratio within the bounds; ``cover`` fills them and crops."""
    effort: int | None = None
    """Encoder effort (WebP method 0..6, PNG compress_level 0..9, JPEG optimize 0/1,
    AVIF 0..10 = speed 10 - effort, GIF optimize 0/1);
    ``None`` takes :data:`DEFAULT_EFFORT` for the format."""

    def __post_init__(self) -> None:
        # plain strings ("jpeg", "cover") are accepted and stored as the enum members
        object.__setattr__(self, "format", ImageFormat(self.format))
        object.__setattr__(self, "fit", Fit(self.fit))

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][1]

    @property
    def resolved_effort(self) -> int:
        return DEFAULT_EFFORT[self.format] if self.effort is None else self.effort

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


DEFAULT_VARIANTS: tuple[Variant, ...] = (
    Variant("compressed", ImageFormat.JPEG, quality=85),
    Variant("low", ImageFormat.JPEG, quality=60),
    Variant("webp", ImageFormat.WEBP, quality=85),
    Variant("png", ImageFormat.PNG),
    Variant("thumbnail", ImageFormat.JPEG, quality=85, max_width=200, max_height=200),
)

_FIELDS = {"name", "format", "quality", "max_width", "max_height", "fit", "effort"}


def _int(where: str, field: str, value: Any, lo: int, hi: int) -> int:
    # bool is an int subclass; floats arrive from JSON/YAML as 85.0 and are fine when whole.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError(f"{where}: '{field}' must be a whole number, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{where}: '{field}' must be between {lo} and {hi}, got {value!r}")
    return int(value)


def parse_variant(raw: Any, index: int = 0) -> Variant:
    """Build one :class:`Variant` from config, with an error that says what to fix."""
    where = f"variants[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object like {{name, format, quality}}, got {raw!r}")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where}: 'name' must match [a-z0-9][a-z0-9-]{{0,31}}, got {name!r}")
    where = f"variant '{name}'"
    fmt = str(raw.get("format", "")).lower()
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"{where}: 'format' must be one of {sorted(FORMATS)}, got {raw.get('format')!r}")
    default_quality = FORMAT_DEFAULT_QUALITY.get(fmt, DEFAULT_QUALITY)
    quality = _int(where, "quality", raw.get("quality", default_quality), 1, 100)
    dims: dict[str, int | None] = {}
    for field in ("max_width", "max_height"):
        value = raw.get(field)
        dims[field] = None if value is None else _int(where, field, value, 1, MAX_DIMENSION)
    fit = raw.get("fit", Fit.INSIDE)
    if fit not in tuple(Fit):
        raise ValueError(f"{where}: 'fit' must be 'inside' or 'cover', got {fit!r}")
    if fit == Fit.COVER and (dims["max_width"] is None or dims["max_height"] is None):
        raise ValueError(f"{where}: fit 'cover' needs both max_width and max_height")
    effort = raw.get("effort")
    if effort is not None:
        lo, hi = EFFORT_RANGE[fmt]
        effort = _int(where, "effort", effort, lo, hi)
    return Variant(name, ImageFormat(fmt), quality, dims["max_width"], dims["max_height"], Fit(fit), effort)


def parse_variants(raw: Any) -> tuple[Variant, ...]:
    """Validate a list of variant objects (or its JSON text); names must be unique."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"variants: not valid JSON ({exc})") from exc
    if not isinstance(raw, list) or not raw:
        raise ValueError("variants: expected a non-empty list of {name, format, quality, ...} objects")
    specs = tuple(parse_variant(item, i) for i, item in enumerate(raw))
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(f"variants: name '{spec.name}' is used twice; names must be unique")
        seen.add(spec.name)
    return specs


def variants_json(specs: Sequence[Variant]) -> str:
    """The compact JSON the program puts in the function's ``VARIANTS`` environment variable."""
    return json.dumps([s.to_dict() for s in specs], separators=(",", ":"), sort_keys=True)
