"""Small Pillow-generated inputs and THE input table (issue 6): input → expected outcome.

The table drives ``test_inputs.py`` (through the real handler under moto) and is written as
markdown for docs/security.md by ``python -m tests.function.samples`` — one source for both.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

# The handler tests run with this pixel limit so "too many pixels" needs only a 1.2 MP image.
TEST_MAX_PIXELS = 1_000_000


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def photo(size: tuple[int, int] = (120, 80), mode: str = "RGB") -> Image.Image:
    """A small image with a gradient and a red square in the top-left corner (orientation marker)."""
    w, h = size
    grad = Image.linear_gradient("L").resize(size)
    im = Image.merge("RGB", (grad, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grad.rotate(90)))
    im.paste((255, 0, 0), (0, 0, max(1, w // 4), max(1, h // 4)))
    return im if mode == "RGB" else im.convert(mode)


def jpeg(size: tuple[int, int] = (120, 80), **options: object) -> bytes:
    return encode(photo(size), "JPEG", quality=90, **options)


def exif_rotated(orientation: int = 6, size: tuple[int, int] = (120, 80)) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(photo(size), "JPEG", quality=90, exif=exif.tobytes())


def cmyk_jpeg() -> bytes:
    return encode(photo().convert("CMYK"), "JPEG", quality=90)


def grey_jpeg() -> bytes:
    return encode(photo().convert("L"), "JPEG", quality=90)


def rgba_png() -> bytes:
    """Left half fully transparent, right half opaque."""
    im = photo().convert("RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 60, 80))
    return encode(im, "PNG")


def palette_alpha_png() -> bytes:
    im = Image.new("P", (120, 80), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 60, 80))
    return encode(im, "PNG", transparency=1)


def png16() -> bytes:
    """16-bit greyscale, value 40000 of 65535 (→ 156 in 8 bits, not clipped to white)."""
    return encode(Image.new("I;16", (120, 80), 40000), "PNG")


def la_png() -> bytes:
    im = Image.new("LA", (120, 80), (100, 255))
    im.paste((200, 0), (0, 0, 60, 80))
    return encode(im, "PNG")


GIF_DURATIONS = (100, 200, 300)
"""Per-frame milliseconds of :func:`animated_gif` (distinct, so a test sees timing carried over)."""
WEBP_DURATIONS = (120, 80)


def animated_gif(loop: int | None = 0) -> bytes:
    """Red, blue, green frames; ``loop=None`` writes no NETSCAPE loop block (plays once)."""
    frames = [Image.new("RGB", (120, 80), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    options: dict[str, object] = {"loop": loop} if loop is not None else {}
    return encode(
        frames[0], "GIF", save_all=True, append_images=frames[1:], duration=list(GIF_DURATIONS), **options
    )


def animated_webp(loop: int = 0) -> bytes:
    """Red then blue, each with a transparent hole in the middle.

    A hole, not a transparent border: libwebp's animation encoder crops a frame's transparent
    border into the canvas and then sets no alpha flag, so Pillow reads such files as RGB
    (libvips#1351 is the same finding).
    """
    first = Image.new("RGBA", (120, 80), (255, 0, 0, 255))
    second = Image.new("RGBA", (120, 80), (0, 0, 255, 255))
    for frame in (first, second):
        frame.paste((0, 0, 0, 0), (40, 20, 80, 60))
    return encode(
        first,
        "WEBP",
        save_all=True,
        append_images=[second],
        duration=list(WEBP_DURATIONS),
        loop=loop,
        lossless=True,
    )


def long_gif_grey(index: int) -> int:
    return (index * 23) % 256  # far enough apart that no encoder merges two frames


def long_gif(frames: int, size: tuple[int, int] = (40, 30)) -> bytes:
    """``frames`` frames; frame ``i`` is grey :func:`long_gif_grey` (i): it tells its index."""
    images = [Image.new("L", size, long_gif_grey(i)) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=40, loop=0)


def _heif_plugin() -> None:
    # Only writing HEIC needs this here; the function registers the reader itself.
    from pillow_heif import register_heif_opener

    register_heif_opener()


def heic(size: tuple[int, int] = (120, 80), orientation: int = 1, icc: bytes | None = None) -> bytes:
    """A HEIC (HEVC, x265) as an iPhone writes it; a non-1 orientation becomes the file's
    rotation (``irot``/``imir``), as in real camera files."""
    _heif_plugin()
    options: dict[str, object] = {"quality": 90}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if icc:
        options["icc_profile"] = icc
    return encode(photo(size), "HEIF", **options)


def avif(size: tuple[int, int] = (120, 80), orientation: int = 1, mode: str = "RGB") -> bytes:
    """An AVIF by Pillow's own libavif; orientation is written as ``irot``/``imir`` too."""
    options: dict[str, object] = {"quality": 90}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    im = photo(size)
    if mode == "RGBA":
        im = im.convert("RGBA")
        im.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    return encode(im, "AVIF", **options)


def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def iso_media(brand: bytes = b"isom", compatible: tuple[bytes, ...] = (b"isom", b"mp42")) -> bytes:
    """The start of an MP4-like file: an ``ftyp`` box that is not an image brand."""
    body = brand + b"\0\0\2\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0" * 64


def bmp() -> bytes:
    return encode(photo(), "BMP")


def webp() -> bytes:
    return encode(photo(), "WEBP", quality=90)


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header declares width×height pixels over a few bytes of data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def too_many_pixels() -> bytes:
    return encode(Image.new("L", (1200, 1000), 128), "PNG")


def corrupt_jpeg() -> bytes:
    """A JPEG header followed by garbage where the scan data should be."""
    good = jpeg()
    return good[:200] + bytes(range(256)) * 8


def padded_srgb_profile(size: int = 2 * 1024 * 1024) -> bytes:
    """An sRGB ICC profile padded to ``size`` bytes (header size field updated; lcms reads it)."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile += bytes(size - len(profile))
    struct.pack_into(">I", profile, 0, len(profile))
    return bytes(profile)


def jpeg_with_huge_icc() -> bytes:
    """The issue's amplification case: a 64×64 JPEG carrying a 2 MB ICC profile."""
    return encode(photo((64, 64)), "JPEG", quality=90, icc_profile=padded_srgb_profile())


def apng_claiming_frames(claimed: int = 2**31 - 1) -> bytes:
    """A two-frame APNG whose ``acTL`` chunk declares ``claimed`` frames (CRC fixed up)."""
    frames = [Image.new("RGB", (120, 80), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = bytearray(encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100))
    at = data.index(b"acTL")
    struct.pack_into(">I", data, at + 4, claimed)
    struct.pack_into(">I", data, at + 12, zlib.crc32(bytes(data[at : at + 12])))
    return bytes(data)


@dataclass(frozen=True)
class InputCase:
    id: str
    description: str
    make: Callable[[], bytes]
    key: str
    status: str
    """``done`` or ``failed``."""
    format: str | None = None
    size: tuple[int, int] | None = None
    """Displayed (EXIF-applied) width×height recorded in the item."""
    animated: bool = False
    error: str | None = None
    """A fragment the item's ``error`` must contain."""
    note: str = ""


INPUTS: tuple[InputCase, ...] = (
    InputCase("jpeg", "baseline JPEG", jpeg, "photo.jpg", "done", "jpeg", (120, 80)),
    InputCase(
        "progressive",
        "progressive JPEG",
        lambda: jpeg(progressive=True),
        "prog.jpg",
        "done",
        "jpeg",
        (120, 80),
    ),
    InputCase(
        "exif-rotated",
        "JPEG stored 120×80 with EXIF orientation 6",
        exif_rotated,
        "rotated.jpg",
        "done",
        "jpeg",
        (80, 120),
        note="rotated upright; metadata has the displayed size",
    ),
    InputCase("cmyk", "CMYK JPEG", cmyk_jpeg, "cmyk.jpg", "done", "jpeg", (120, 80), note="converted to RGB"),
    InputCase(
        "grayscale",
        "greyscale JPEG",
        grey_jpeg,
        "grey.jpg",
        "done",
        "jpeg",
        (120, 80),
        note="variants stay grey",
    ),
    InputCase(
        "rgba",
        "PNG with alpha",
        rgba_png,
        "alpha.png",
        "done",
        "png",
        (120, 80),
        note="JPEG variants flattened on white; PNG/WebP keep alpha",
    ),
    InputCase(
        "palette-alpha",
        "palette PNG with transparency → JPEG",
        palette_alpha_png,
        "palette.png",
        "done",
        "png",
        (120, 80),
        note="palette expanded to RGBA, then as above",
    ),
    InputCase(
        "16-bit", "16-bit greyscale PNG", png16, "deep.png", "done", "png", (120, 80), note="scaled to 8 bits"
    ),
    InputCase("la", "greyscale+alpha PNG", la_png, "la.png", "done", "png", (120, 80)),
    InputCase(
        "animated-gif",
        "animated GIF (3 frames)",
        animated_gif,
        "anim.gif",
        "done",
        "gif",
        (120, 80),
        animated=True,
        note="item has animated=true, frames=3; the WebP variant keeps the animation and its "
        "timing, JPEG/PNG take the first frame",
    ),
    InputCase(
        "animated-webp",
        "animated WebP (2 frames)",
        animated_webp,
        "anim.webp",
        "done",
        "webp",
        (120, 80),
        animated=True,
        note="as above: animated WebP variant, still JPEG/PNG",
    ),
    InputCase("webp", "still WebP", webp, "still.webp", "done", "webp", (120, 80)),
    InputCase(
        "apng-claims-2g-frames",
        "APNG whose `acTL` declares 2³¹−1 frames (it has 2)",
        apng_claiming_frames,
        "claims.png",
        "done",
        "png",
        (120, 80),
        note="first frame, frames=1: a declared count is never stored as is",
    ),
    InputCase(
        "icc-2mb",
        "64×64 JPEG carrying a 2 MB ICC profile",
        jpeg_with_huge_icc,
        "icc.jpg",
        "done",
        "jpeg",
        (64, 64),
        note="profile over 4 KiB: pixels converted to sRGB, profile dropped; variants a few KB, not 2 MB",
    ),
    InputCase("heic", "HEIC (iPhone photo)", heic, "IMG_0001.HEIC", "done", "heif", (120, 80)),
    InputCase(
        "heic-rotated",
        "HEIC stored 120×80 with rotation (orientation 6)",
        lambda: heic(orientation=6),
        "IMG_0002.heic",
        "done",
        "heif",
        (80, 120),
        note="rotated upright once (libheif applies it; EXIF says 1 after)",
    ),
    InputCase("avif", "AVIF", avif, "photo.avif", "done", "avif", (120, 80)),
    InputCase(
        "avif-rotated",
        "AVIF stored 120×80 with rotation (orientation 6)",
        lambda: avif(orientation=6),
        "rotated.avif",
        "done",
        "avif",
        (80, 120),
        note="rotated upright",
    ),
    InputCase("bmp", "BMP", bmp, "old.bmp", "done", "bmp", (120, 80)),
    InputCase(
        "wrong-extension",
        "PNG content named `.jpg`",
        rgba_png,
        "misnamed.jpg",
        "done",
        "png",
        (120, 80),
        note="format by content, not extension",
    ),
    InputCase(
        "zero-byte", "empty object (0 bytes)", lambda: b"", "empty.jpg", "failed", error="empty (0 bytes)"
    ),
    InputCase(
        "truncated",
        "JPEG cut after 200 bytes",
        lambda: jpeg()[:200],
        "cut.jpg",
        "failed",
        error="corrupt or truncated",
    ),
    InputCase(
        "corrupt",
        "JPEG header + garbage scan data",
        corrupt_jpeg,
        "corrupt.jpg",
        "failed",
        error="corrupt or truncated",
    ),
    InputCase(
        "non-image",
        "text file named `.jpg`",
        lambda: b"hello, this is not a picture\n",
        "notes.jpg",
        "failed",
        error="not a supported image",
    ),
    InputCase(
        "pdf",
        "PDF document",
        lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        "doc.pdf",
        "failed",
        error="not a supported",
    ),
    InputCase(
        "bomb",
        "decompression bomb: PNG header declaring 50,000×50,000",
        png_bomb,
        "bomb.png",
        "failed",
        error="over the limit",
        note="refused from the header, before decoding",
    ),
    InputCase(
        "too-many-pixels",
        f"1200×1000 PNG with `maxPixels` = {TEST_MAX_PIXELS:,}",
        too_many_pixels,
        "big.png",
        "failed",
        error="over the limit",
    ),
    InputCase(
        "heic-too-many-pixels",
        f"1200×1000 HEIC with `maxPixels` = {TEST_MAX_PIXELS:,}",
        lambda: heic((1200, 1000)),
        "big.heic",
        "failed",
        error="over the limit",
        note="refused from the header, before decoding",
    ),
    InputCase(
        "mp4",
        "MP4 video (ISO media, brand `isom`)",
        iso_media,
        "clip.heic",
        "failed",
        error="not a supported image",
    ),
)


def markdown() -> str:
    """The table for docs/security.md, section "Inputs"."""
    rows = ["| input | uploaded as | outcome |", "|---|---|---|"]
    for case in INPUTS:
        if case.status == "done":
            size = f", {case.size[0]}×{case.size[1]}" if case.size else ""
            what = f"`done`: format `{case.format}`{size}, 5 variants"
        else:
            what = f"`failed`: error says “…{case.error}…”; no variants, no retry"
        if case.note:
            what += f" ({case.note})"
        rows.append(f"| {case.description} | `{case.key}` | {what} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
