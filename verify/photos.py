"""Test photos for upload-and-verify, generated deterministically with Pillow (no downloads).

Five inputs cover what the pipeline must handle: a photo-like JPEG (~1.3 MP, gradients, edges
and grain so the encoders have realistic work), a PNG with transparency, a JPEG whose EXIF
Orientation tag says "rotate 90°" (stored landscape, displayed portrait), an iPhone-style HEIC
(stored landscape with the file's own rotation, displayed portrait) and an animated GIF.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class TestPhoto:
    """One generated upload and what a correct pipeline must report about it."""

    __test__ = False  # not a pytest test class despite the name

    name: str
    filename: str
    data: bytes
    content_type: str
    format: str
    """Pillow format name in lower case: ``jpeg`` or ``png``."""
    width: int
    """Width as displayed, i.e. after applying the EXIF orientation."""
    height: int
    has_alpha: bool = False
    exif_rotated: bool = False
    frames: int = 1
    """Animation frames: WebP/GIF variants must keep them all, the others show the first."""


def _landscape(width: int, height: int, seed: int) -> Image.Image:
    """A small synthetic landscape: sky, sun, two mountain ranges, a lake, film grain."""
    rnd = random.Random(seed)
    sky = Image.linear_gradient("L").resize((width, height))
    img = Image.merge(
        "RGB",
        (
            sky.point(lambda v: 40 + v * 180 // 255),
            sky.point(lambda v: 90 + v * 130 // 255),
            sky.point(lambda v: 200 - v * 60 // 255),
        ),
    )
    draw = ImageDraw.Draw(img)
    sun_r = height // 9
    sx, sy = int(width * 0.72), int(height * 0.28)
    for i in range(sun_r, 0, -2):  # warm edge to a pale core
        core = (sun_r - i) / sun_r
        draw.ellipse((sx - i, sy - i, sx + i, sy + i), fill=(255, 196 + int(54 * core), 80 + int(150 * core)))
    for layer, (base, colour) in enumerate(((0.55, (70, 90, 120)), (0.68, (40, 70, 55)))):
        points = [(0, height)]
        x = 0
        while x <= width:
            points.append((x, int(height * base + rnd.uniform(-0.12, 0.08) * height * (1 + layer * 0.3))))
            x += rnd.randint(width // 24, width // 10)
        points += [(width, int(height * base)), (width, height)]
        draw.polygon(points, fill=colour)
    lake_top = int(height * 0.8)
    draw.rectangle((0, lake_top, width, height), fill=(50, 100, 150))
    for _ in range(60):  # ripples
        y = rnd.randint(lake_top + 4, height - 2)
        x = rnd.randint(0, width)
        draw.line((x, y, x + rnd.randint(10, 60), y), fill=(150, 190, 220), width=1)
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    # Deterministic grain: a photo has noise; flat synthetic colour would compress unrealistically well.
    noise = Image.frombytes("L", (width, height), rnd.randbytes(width * height))
    grain = Image.merge("RGB", (noise, noise, noise))
    return Image.blend(img, grain, 0.06)


def _with_alpha(width: int, height: int) -> Image.Image:
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    colours = ((230, 60, 70, 220), (60, 170, 90, 180), (60, 110, 230, 200))
    for i, colour in enumerate(colours):
        cx = width // 3 + i * width // 6
        cy = height // 3 + (i % 2) * height // 4
        r = min(width, height) // 4
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    draw.rounded_rectangle((20, height - 70, width - 20, height - 20), radius=16, fill=(255, 255, 255, 140))
    return img


def _animation(width: int, height: int, frames: int) -> list[Image.Image]:
    """A ball crossing a landscape: every frame differs, so no encoder merges two."""
    backdrop = _landscape(width, height, seed=99)
    out = []
    for i in range(frames):
        frame = backdrop.copy()
        r = height // 8
        x = r + (width - 2 * r) * i // max(1, frames - 1)
        ImageDraw.Draw(frame).ellipse((x - r, height // 2 - r, x + r, height // 2 + r), fill=(230, 60, 70))
        out.append(frame)
    return out


def _heic(img: Image.Image, **kwargs: object) -> bytes:
    from pillow_heif import register_heif_opener  # writes HEIC (x265), as an iPhone does

    register_heif_opener()
    return _encode(img, "HEIF", **kwargs)


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def generate_photos() -> list[TestPhoto]:
    """The verify inputs; the same bytes on every call (fixed seeds, fixed encoder settings)."""
    landscape = _landscape(1440, 900, seed=20241)
    alpha = _with_alpha(640, 480)
    # An upright 600x800 portrait stored turned 90° CCW (800x600) with Orientation 6 ("rotate 90° CW
    # to display"): a pipeline that applies EXIF shows it upright, one that ignores it sideways.
    rotated = _landscape(600, 800, seed=7).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    # The HEIC: stored 800x600 like the rotated JPEG, the rotation written into the file (irot),
    # which libheif applies while decoding: displayed as the upright 600x800 portrait.
    iphone = _landscape(600, 800, seed=12).transpose(Image.Transpose.ROTATE_90)
    frames = _animation(320, 200, 6)
    return [
        TestPhoto(
            name="landscape",
            filename="landscape photo.jpg",  # the space exercises URL-encoded keys in S3 events
            data=_encode(landscape, "JPEG", quality=90),
            content_type="image/jpeg",
            format="jpeg",
            width=1440,
            height=900,
        ),
        TestPhoto(
            name="alpha",
            filename="shapes-alpha.png",
            data=_encode(alpha, "PNG"),
            content_type="image/png",
            format="png",
            width=640,
            height=480,
            has_alpha=True,
        ),
        TestPhoto(
            name="exif-rotated",
            filename="rotated.jpg",
            data=_encode(rotated, "JPEG", quality=88, exif=exif),
            content_type="image/jpeg",
            format="jpeg",
            width=600,
            height=800,
            exif_rotated=True,
        ),
        TestPhoto(
            name="heic",
            filename="IMG_0042.HEIC",
            data=_heic(iphone, quality=85, exif=exif.tobytes()),
            content_type="image/heic",
            format="heif",
            width=600,
            height=800,
        ),
        TestPhoto(
            name="animated",
            filename="ball.gif",
            data=_encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0),
            content_type="image/gif",
            format="gif",
            width=320,
            height=200,
            frames=len(frames),
        ),
    ]
