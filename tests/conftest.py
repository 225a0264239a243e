"""Shared test set-up: the repository root is importable (``function``, ``components``, ...)."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _pillow_pixel_limit() -> Iterator[None]:
    """function.imaging sets Pillow's process-wide pixel limit to the function's MAX_PIXELS (one
    limit per Lambda process); tests share a process, so put it back after each test, or a small
    limit left by a handler test refuses another test's photos (verify's contact sheet)."""
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = before
