"""Output sizes: the one geometry of variants and renders. Pure Python (no Pillow).

The render route computes a rendition's size from the item's recorded width and height (the
displayed size) *before* it builds the cache key, and :mod:`function.imaging` produces exactly
that size from the decoded image with the same functions, so the key names what is stored.

Every function here never upscales, and none returns more pixels than the source has:

* :func:`inside` keeps the aspect ratio within a box (``None`` = unbounded on that side);
* :func:`cover` fills the box, clamped to the source, with a centred crop of the source;
* :func:`contain` is ``inside`` centred on a canvas of the box's aspect ratio. The canvas is the
  requested box, shrunk (keeping its aspect ratio) until it has no more pixels than the source:
  padding is pixels too, so a 1×1 source asked for 7071×7071 gets a 1×1 canvas, not 49 MP.
"""

from __future__ import annotations

import math

Size = tuple[int, int]
Box = tuple[float, float, float, float]


def inside(width: int, height: int, max_width: int | None, max_height: int | None) -> Size:
    """The size of ``width`` x ``height`` scaled to fit the bounds, never up."""
    scale = min(
        max_width / width if max_width else 1.0,
        max_height / height if max_height else 1.0,
        1.0,
    )
    return max(1, round(width * scale)), max(1, round(height * scale))


def cover(width: int, height: int, box_width: int, box_height: int) -> tuple[Size, Box]:
    """(output size, crop box in source pixels): the box clamped to the source, filled."""
    tw, th = min(box_width, width), min(box_height, height)
    scale = max(tw / width, th / height)
    cw, ch = tw / scale, th / scale  # source region with the target's aspect ratio
    left, top = (width - cw) / 2, (height - ch) / 2
    return (tw, th), (left, top, left + cw, top + ch)


def contain(width: int, height: int, box_width: int, box_height: int) -> tuple[Size, Size]:
    """(canvas size, picture size): the picture fits inside the canvas, centred by the caller;
    ``canvas pixels <= width * height`` always."""
    canvas_w, canvas_h = box_width, box_height
    if canvas_w * canvas_h > width * height:
        shrink = math.sqrt(width * height / (canvas_w * canvas_h))
        canvas_w, canvas_h = max(1, math.floor(canvas_w * shrink)), max(1, math.floor(canvas_h * shrink))
        while canvas_w * canvas_h > width * height:  # max(1, …) on a very thin box
            if canvas_w >= canvas_h:
                canvas_w -= 1
            else:
                canvas_h -= 1
    return (canvas_w, canvas_h), inside(width, height, canvas_w, canvas_h)
