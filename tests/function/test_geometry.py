"""function.geometry: never upscaled, never more pixels than the source (padding included)."""

from __future__ import annotations

import random

import pytest

from function import geometry


def test_inside_keeps_the_aspect_and_never_upscales() -> None:
    assert geometry.inside(320, 200, 160, None) == (160, 100)
    assert geometry.inside(320, 200, 5000, 5000) == (320, 200)
    assert geometry.inside(320, 200, None, None) == (320, 200)
    assert geometry.inside(5000, 1, 10, None) == (10, 1)  # never 0


def test_cover_clamps_the_box_to_the_source_and_crops_centred() -> None:
    assert geometry.cover(320, 200, 100, 100) == ((100, 100), (60.0, 0.0, 260.0, 200.0))
    assert geometry.cover(320, 200, 5000, 100)[0] == (320, 100)


@pytest.mark.parametrize(
    ("source", "box", "canvas", "picture"),
    [
        ((1, 1), (7071, 7071), (1, 1), (1, 1)),
        ((320, 200), (100, 100), (100, 100), (100, 62)),
        ((320, 200), (1000, 1000), (252, 252), (252, 158)),
        ((2, 2), (8192, 1), (4, 1), (1, 1)),
    ],
)
def test_contain_examples(
    source: tuple[int, int], box: tuple[int, int], canvas: tuple[int, int], picture: tuple[int, int]
) -> None:
    assert geometry.contain(*source, *box) == (canvas, picture)


def test_no_rendition_has_more_pixels_than_its_source() -> None:
    rng = random.Random(12)
    for _ in range(5000):
        w, h = rng.randint(1, 3000), rng.randint(1, 3000)
        bw, bh = rng.randint(1, 8192), rng.randint(1, 8192)
        (cw, ch), (pw, ph) = geometry.contain(w, h, bw, bh)
        assert cw * ch <= w * h and pw <= cw and ph <= ch and pw <= w and ph <= h
        assert cw <= bw and ch <= bh
        tw, th = geometry.cover(w, h, bw, bh)[0]
        assert tw * th <= w * h
        iw, ih = geometry.inside(w, h, bw, bh)
        assert iw <= w and ih <= h
