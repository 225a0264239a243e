"""Deterministic photo-like JPEGs for the benchmark, made with Pillow only (no numpy).

A photo is not a test card: JPEG/WebP/PNG cost depends on how much detail there is. The generator
layers what real photos have — smooth sky/ground gradients, a vignette, large soft shapes with
edges, low- and mid-frequency mottling, and fine sensor-like grain — all from one seeded RNG, so a
12 MP image encodes to ~5–6 MB at q90, like a phone photo, and is the same bytes on every run.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

# Bump when the generator changes, so cached files are regenerated rather than silently reused.
GENERATOR_VERSION = 1
SIZES: dict[str, tuple[int, int]] = {
    "12": (4000, 3000),  # 12 MP, a phone camera
    "24": (6000, 4000),  # 24 MP, an APS-C camera
    "tiny": (320, 240),  # quick mode and tests
}
JPEG_QUALITY = 90
# (feature size as a fraction of the width, or pixels when ≥ 1; amplitude): mottling to grain.
NOISE_OCTAVES = ((1 / 40, 0.18), (1 / 400, 0.12), (4, 0.15), (2, 0.3), (1, 0.95))


def _noise(rng: random.Random, size: tuple[int, int], cell: int, amplitude: float) -> Image.Image:
    """Signed noise (centred on 128) with features about ``cell`` pixels across."""
    w, h = size
    small = (max(2, w // cell), max(2, h // cell))
    img = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    # Cell 1 is grain: a touch of blur makes it look like demosaiced sensor noise, not salt and pepper.
    img = img.resize(size, Image.Resampling.BICUBIC) if cell > 1 else img.filter(ImageFilter.BoxBlur(0.6))
    # Uniform 0..255 → centred, scaled: 128 + (v - 128) * amplitude.
    lut = [max(0, min(255, round(128 + (v - 128) * amplitude))) for v in range(256)]
    return img.point(lut)


def _add(rgb: Image.Image, noise: Image.Image) -> Image.Image:
    return ImageChops.add(rgb, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-128)


def _random_colour(rng: random.Random, lo: int = 20, hi: int = 235) -> tuple[int, int, int]:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def photo(width: int, height: int, seed: int = 7) -> Image.Image:
    """A photo-like RGB image; the same (width, height, seed) always gives the same pixels."""
    rng = random.Random(f"imgpipe-bench-{seed}-{width}x{height}")
    size = (width, height)
    # Sky to ground: a vertical gradient through three colours.
    vertical = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    img = ImageOps.colorize(
        vertical, black=(70, 120, 190), mid=(200, 190, 170), white=(60, 80, 40), midpoint=110
    )
    # Large soft shapes (hills, buildings, objects) with crisp and blurred edges.
    shapes = Image.new("RGB", size)
    mask = Image.new("L", size, 0)
    draw, mdraw = ImageDraw.Draw(shapes), ImageDraw.Draw(mask)
    for _ in range(40):
        cx, cy = rng.uniform(0, width), rng.uniform(height * 0.25, height)
        rx, ry = rng.uniform(0.03, 0.25) * width, rng.uniform(0.03, 0.2) * height
        colour, alpha = _random_colour(rng), rng.randint(120, 255)
        if rng.random() < 0.5:
            box = (cx - rx, cy - ry, cx + rx, cy + ry)
            draw.ellipse(box, fill=colour)
            mdraw.ellipse(box, fill=alpha)
        else:
            points = [
                (cx + rng.uniform(-rx, rx), cy + rng.uniform(-ry, ry)) for _ in range(rng.randint(3, 7))
            ]
            draw.polygon(points, fill=colour)
            mdraw.polygon(points, fill=alpha)
    mask = mask.filter(ImageFilter.BoxBlur(max(1, width // 2000)))
    img = Image.composite(shapes, img, mask)
    # Vignette: darker corners, as lenses do.
    vignette = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    vignette = vignette.point([255 - (v * 90) // 255 for v in range(256)])
    img = ImageChops.multiply(img, Image.merge("RGB", (vignette,) * 3))
    # Mottling at three scales plus fine grain: what keeps a real photo from compressing to nothing.
    for scale, amplitude in NOISE_OCTAVES:
        cell = max(2, round(width * scale)) if scale < 1 else int(scale)
        img = _add(img, _noise(rng, size, cell, amplitude))
    return img


def jpeg_bytes(width: int, height: int, seed: int = 7, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    photo(width, height, seed).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def ensure_image(size: str, cache_dir: Path = Path(".bench")) -> Path:
    """The cached JPEG for ``size`` (a key of :data:`SIZES`), generated on first use."""
    if size not in SIZES:
        raise ValueError(f"unknown image size {size!r}: use one of {sorted(SIZES)}")
    width, height = SIZES[size]
    path = Path(cache_dir) / f"photo-{width}x{height}-q{JPEG_QUALITY}-v{GENERATOR_VERSION}.jpg"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(jpeg_bytes(width, height))
        tmp.replace(path)
    return path
