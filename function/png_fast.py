"""A faster PNG writer for 8-bit L, LA, RGB and RGBA images: Pillow's C image ops + libdeflate.

Pillow's PNG encoder chooses a filter per row by trying all five (adaptive filtering, about half
its time on a 12 MP photo) and deflates with zlib. Here every row uses the PNG "Up" filter,
computed in C by :func:`PIL.ImageChops.subtract_modulo` against the image shifted down one row
(rows above the image read as zero, as the PNG spec defines for the first row), and the filtered
scanlines are deflated in one call to libdeflate (the ``deflate`` package), which compresses
better than zlib at the same speed. On the benchmark's 12 MP photo: 0.5 s CPU and 19.3 MB against
Pillow's 1.2 s and 19.5 MB at ``compress_level=1``.

The output is a standard PNG (PNG spec, 2nd ed.: filter type 2, one zlib stream split over IDAT
chunks, iCCP for the ICC profile) that decodes to the same pixels. Memory: the filtered
scanlines and libdeflate's output buffer (about twice the raw image size) exist for the length
of one encode.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

_COLOUR_TYPE = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}
_UP = 2  # PNG filter type "Up"
_STRIP_ROWS = 256  # rows filtered per step: a few MB of temporaries, not a second full image
_IDAT_BYTES = 1 << 20  # IDAT chunk size; decoders accept any, 1 MB keeps slices cheap
MODES = frozenset(_COLOUR_TYPE)
COLOUR_MODES = frozenset({"RGB", "RGBA"})
"""Where it beats Pillow on size too; greyscale photos come out ~3% larger than adaptive filtering."""


def level_for_effort(effort: int) -> int:
    """libdeflate level for a PNG variant's ``effort`` (0–9, as Pillow's ``compress_level``):
    0 stores, 1 (the default) is libdeflate 4 — the smallest output at about zlib-1 speed —
    and each step above adds one, up to libdeflate's 12."""
    return 0 if effort <= 0 else min(12, effort + 3)


def _chunk(kind: bytes, data: bytes | memoryview) -> list[bytes | memoryview]:
    """One PNG chunk as parts for ``b"".join``: ``data`` is not copied until then."""
    crc = zlib.crc32(data, zlib.crc32(kind))
    return [struct.pack(">I", len(data)) + kind, data, struct.pack(">I", crc)]


def _filtered_scanlines(im: PILImage) -> bytearray:
    """Every row as ``[2] + Up-filtered bytes``, built strip by strip."""
    from PIL import ImageChops

    width, height = im.size
    stride = width * len(im.getbands())
    out = bytearray((stride + 1) * height)
    out[0 :: stride + 1] = bytes([_UP]) * height
    view = memoryview(out)
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        rows = im.crop((0, top, width, bottom))
        above = im.crop((0, top - 1, width, bottom - 1))  # row -1 is outside: Pillow fills it with 0
        data = ImageChops.subtract_modulo(rows, above).tobytes()
        for row in range(bottom - top):
            start = (top + row) * (stride + 1) + 1
            view[start : start + stride] = data[row * stride : (row + 1) * stride]
    return out


def encode(im: PILImage, effort: int = 1, icc_profile: bytes | None = None) -> bytes:
    """The PNG bytes of ``im`` (mode L, LA, RGB or RGBA)."""
    import deflate

    if im.mode not in MODES:
        raise ValueError(f"png_fast encodes modes {sorted(MODES)}, not {im.mode}")
    width, height = im.size
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPE[im.mode], 0, 0, 0)
    parts: list[bytes | memoryview] = [b"\x89PNG\r\n\x1a\n", *_chunk(b"IHDR", header)]
    if icc_profile:
        # iCCP: a profile name (1–79 Latin-1 bytes), NUL, compression method 0, zlib data.
        parts += _chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    scanlines = _filtered_scanlines(im)
    stream = memoryview(deflate.zlib_compress(scanlines, level_for_effort(effort)))
    del scanlines
    for i in range(0, len(stream), _IDAT_BYTES):
        parts += _chunk(b"IDAT", stream[i : i + _IDAT_BYTES])
    parts += _chunk(b"IEND", b"")
    return b"".join(parts)  # the one copy of the compressed stream
