"""The fast PNG writer: standard PNG, same pixels as the source, no larger than Pillow's on photos."""

from __future__ import annotations

import io
import random
import zlib

import pytest
from PIL import Image

from function import png_fast


def _photo(mode: str, size: tuple[int, int]) -> Image.Image:
    rng = random.Random(3)
    w, h = size
    # Smooth gradients plus a little noise: the kind of content PNG filters are for.
    base = Image.linear_gradient("L").resize(size)
    noise = Image.frombytes("L", size, bytes(rng.randrange(0, 12) for _ in range(w * h)))
    grey = Image.blend(base, noise, 0.1)
    rgb = Image.merge("RGB", (grey, grey.rotate(90).resize(size), noise))
    if mode == "RGB":
        return rgb
    if mode == "RGBA":
        return Image.merge("RGBA", (*rgb.split(), grey))
    if mode == "LA":
        return Image.merge("LA", (grey, noise))
    return grey


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
@pytest.mark.parametrize("size", [(1, 1), (3, 2), (257, 300), (64, 513)])
def test_round_trip_same_pixels(mode: str, size: tuple[int, int]) -> None:
    im = _photo(mode, size)
    data = png_fast.encode(im)
    out = Image.open(io.BytesIO(data))
    assert out.format == "PNG" and out.mode == mode and out.size == size
    assert out.tobytes() == im.tobytes()


def test_every_row_uses_the_up_filter_and_one_zlib_stream() -> None:
    im = _photo("RGB", (40, 600))
    data = png_fast.encode(im, effort=2)
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        assert int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big") == zlib.crc32(kind + body)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 40 * 3 + 1
    assert len(raw) == stride * 600
    assert set(raw[0::stride]) == {2}


def test_icc_profile_is_kept() -> None:
    profile = b"not a real profile, but bytes the decoder must hand back" * 10
    out = Image.open(io.BytesIO(png_fast.encode(_photo("RGB", (8, 8)), icc_profile=profile)))
    assert out.info["icc_profile"] == profile


def test_effort_zero_stores_and_higher_effort_is_not_larger() -> None:
    im = _photo("RGB", (200, 200))
    stored, fast, best = (len(png_fast.encode(im, effort=e)) for e in (0, 1, 9))
    assert stored > fast >= best
    assert png_fast.level_for_effort(1) == 4 and png_fast.level_for_effort(9) == 12


def test_photo_is_no_larger_than_pillows_adaptive_filters() -> None:
    im = _photo("RGB", (400, 300))
    pillow = io.BytesIO()
    im.save(pillow, "PNG", compress_level=1)
    assert len(png_fast.encode(im)) <= pillow.getbuffer().nbytes


def test_other_modes_are_refused() -> None:
    with pytest.raises(ValueError, match="not P"):
        png_fast.encode(Image.new("P", (2, 2)))
