"""The direct-libwebp full-size WebP path gives the same pictures as Pillow's encoder."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageCms

from function import imaging, webp_direct
from function.variants import Variant
from tests.function import samples

WEBP = (Variant("webp", "webp", quality=85),)
pytestmark = pytest.mark.skipif(webp_direct.libwebp() is None, reason="libwebp not loadable here")


def _pillow_webp(source: bytes, **options: object) -> bytes:
    im = Image.open(io.BytesIO(source))
    im = im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB")
    out = io.BytesIO()
    im.save(out, "WEBP", quality=85, method=0, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    "source", [samples.jpeg((160, 120)), samples.rgba_png()], ids=["jpeg-rgb", "png-rgba"]
)
def test_direct_output_equals_pillow_output(source: bytes) -> None:
    _, (encoded,) = imaging.process(source, WEBP, 10**7)
    expected = _pillow_webp(source)
    a, b = Image.open(io.BytesIO(encoded.data)), Image.open(io.BytesIO(expected))
    assert a.mode == b.mode and a.size == b.size
    assert ImageChops.difference(a, b).getbbox() is None  # pixel-identical


def test_jpeg_is_decoded_into_a_buffer_libwebp_reads() -> None:
    base, _, _ = imaging.decode(samples.jpeg((160, 120)), WEBP, 10**7)
    assert webp_direct.buffer_of(base) is not None


def test_rotated_source_is_adopted_into_a_buffer() -> None:
    base, info, _ = imaging.decode(samples.exif_rotated(6), WEBP, 10**7)
    assert webp_direct.buffer_of(base) is None  # the transpose made a new image
    adopted = webp_direct.adopt(base)
    assert webp_direct.buffer_of(adopted) is not None
    assert ImageChops.difference(adopted, base).getbbox() is None and adopted.size == (
        info.width,
        info.height,
    )


def test_icc_profile_is_kept() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = samples.encode(samples.photo((64, 48)), "JPEG", icc_profile=icc)
    _, (encoded,) = imaging.process(source, WEBP, 10**7)
    with Image.open(io.BytesIO(encoded.data)) as im:
        im.load()
        assert im.info.get("icc_profile") == icc and im.size == (64, 48)


def test_disabled_or_unbacked_falls_back_to_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    source = samples.jpeg((160, 120))
    _, (direct,) = imaging.process(source, WEBP, 10**7)
    plain = Image.open(io.BytesIO(source))
    plain.load()
    assert webp_direct.encode(plain, 85, 0, None) is None  # Pillow-owned pixels: not ours to pass
    monkeypatch.setenv("IMGPIPE_WEBP_DIRECT", "0")
    webp_direct.libwebp.cache_clear()
    try:
        _, (fallback,) = imaging.process(source, WEBP, 10**7)
    finally:
        webp_direct.libwebp.cache_clear()
    a, b = Image.open(io.BytesIO(direct.data)), Image.open(io.BytesIO(fallback.data))
    assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def test_truncated_scan_data_is_still_refused_when_decoding_into_our_buffer() -> None:
    data = samples.jpeg((400, 300))
    with pytest.raises(imaging.PermanentImageError, match="corrupt or truncated"):
        imaging.process(data[: len(data) // 2], WEBP, 10**7)
