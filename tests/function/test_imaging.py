"""function.imaging without AWS: modes per output format, geometry, render(), errors."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from PIL import Image

from function import imaging
from function.imaging import PermanentImageError, process, render, render_variants
from function.variants import DEFAULT_VARIANTS, Variant
from tests.function import samples

LIMIT = 10_000_000


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _by_name(data: bytes, specs=DEFAULT_VARIANTS, threads: int | None = None) -> dict[str, Image.Image]:
    _, encoded = process(data, specs, LIMIT, threads)
    return {v.spec.name: _open(v.data) for v in encoded}


def test_alpha_is_flattened_on_white_for_jpeg_and_kept_for_png_and_webp() -> None:
    out = _by_name(samples.rgba_png())
    assert out["compressed"].mode == "RGB"
    assert all(c > 245 for c in out["compressed"].getpixel((10, 40)))  # transparent half → white
    assert out["png"].mode == "RGBA" and out["png"].getpixel((10, 40))[3] == 0
    assert out["webp"].mode == "RGBA" and out["webp"].getpixel((10, 40))[3] == 0


def test_palette_with_transparency_expands_to_rgba() -> None:
    out = _by_name(samples.palette_alpha_png())
    assert out["png"].mode == "RGBA"
    assert out["png"].getpixel((10, 10))[3] == 0 and out["png"].getpixel((100, 10)) == (255, 0, 0, 255)
    r, g, b = out["compressed"].getpixel((10, 10))
    assert min(r, g, b) > 240  # transparent green pixels composited on white, not shown green


def test_16_bit_is_scaled_not_clipped() -> None:
    out = _by_name(samples.png16())
    assert out["png"].mode == "L" and abs(out["png"].getpixel((5, 5)) - 40000 // 256) <= 1


def test_cmyk_becomes_rgb_with_its_colours() -> None:
    out = _by_name(samples.cmyk_jpeg())
    for name in ("compressed", "webp", "png"):
        assert out[name].mode in ("RGB", "RGBA")
    r, g, b = out["png"].getpixel((3, 3))[:3]
    assert r > 180 and g < 90 and b < 90  # the red corner stays red


def test_grey_and_grey_alpha_stay_grey_where_the_format_allows() -> None:
    grey = _by_name(samples.grey_jpeg())
    assert grey["compressed"].mode == "L" and grey["png"].mode == "L" and grey["thumbnail"].mode == "L"
    la = _by_name(samples.la_png())
    assert la["png"].mode == "LA" and la["compressed"].mode == "L"
    assert la["compressed"].getpixel((10, 10)) > 245  # transparent half → white


def test_animated_gif_uses_first_frame_and_says_so() -> None:
    info, encoded = process(samples.animated_gif(), DEFAULT_VARIANTS, LIMIT)
    assert info.animated and info.frames == 3 and info.format == "gif"
    png = _open(encoded[3].data).convert("RGB")
    assert png.getpixel((60, 40)) == (255, 0, 0)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_upright_dimensions(orientation: int) -> None:
    info, encoded = process(samples.exif_rotated(orientation, (120, 80)), DEFAULT_VARIANTS[:1], LIMIT)
    expected = (80, 120) if orientation >= 5 else (120, 80)
    assert (info.width, info.height) == expected and info.orientation == orientation
    assert _open(encoded[0].data).size == expected


def test_results_do_not_depend_on_thread_count() -> None:
    data = samples.jpeg((400, 300))
    _, one = process(data, DEFAULT_VARIANTS, LIMIT, threads=1)
    _, four = process(data, DEFAULT_VARIANTS, LIMIT, threads=4)
    assert [v.data for v in one] == [v.data for v in four]
    assert [v.spec.name for v in one] == [s.name for s in DEFAULT_VARIANTS]


def test_sink_receives_each_variant_once_and_info_is_in_spec_order() -> None:
    seen: list[str] = []
    info = render_variants(samples.jpeg(), DEFAULT_VARIANTS, LIMIT, sink=lambda v: seen.append(v.spec.name))
    assert sorted(seen) == sorted(s.name for s in DEFAULT_VARIANTS)
    assert [v.name for v in info.variants] == [s.name for s in DEFAULT_VARIANTS]


def test_small_variants_from_a_large_jpeg_use_draft_and_keep_exact_sizes() -> None:
    data = samples.jpeg((1600, 1200))
    specs = (
        Variant("thumb", "jpeg", max_width=200, max_height=200),
        Variant("tiny", "png", max_width=50),
    )
    base, _info, scale = imaging.decode(data, specs, LIMIT)
    assert scale >= 2 and base.size[0] < 1600  # decoded at reduced DCT scale
    _, encoded = process(data, specs, LIMIT)
    assert [_open(v.data).size for v in encoded] == [(200, 150), (50, 38)]


def test_cover_crops_to_the_box_and_nothing_is_upscaled() -> None:
    specs = (
        Variant("square", "jpeg", max_width=60, max_height=60, fit="cover"),
        Variant("huge", "png", max_width=5000, max_height=5000),
        Variant("wide", "webp", max_width=1000, max_height=40, fit="cover"),
    )
    info, encoded = process(samples.jpeg((120, 80)), specs, LIMIT)
    assert [(v.info.width, v.info.height) for v in encoded] == [(60, 60), (120, 80), (120, 40)]
    assert [(v.width, v.height) for v in info.variants] == [(60, 60), (120, 80), (120, 40)]


def test_effort_reaches_the_encoder() -> None:
    data = samples.jpeg((300, 200))
    fast = process(data, (Variant("p", "png", effort=0),), LIMIT)[1][0]
    small = process(data, (Variant("p", "png", effort=9),), LIMIT)[1][0]
    assert fast.info.bytes > small.info.bytes  # level 0 stores, level 9 compresses


def test_webp_dimension_limit_is_a_clear_permanent_error() -> None:
    data = samples.encode(Image.new("L", (16500, 2), 0), "PNG")
    with pytest.raises(PermanentImageError, match="WebP cannot exceed 16383 px"):
        process(data, (Variant("w", "webp"),), LIMIT)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"empty \(0 bytes\)"),
        (b"GIF89a\x01", "corrupt or truncated"),
        (b"\x00\x00\x01\x00", "not a supported image"),  # ICO
        (b"II*\x00", "not a supported image"),  # TIFF is not accepted
        (samples.jpeg()[:300], "corrupt or truncated"),
        (samples.png_bomb(), "decompression bomb refused"),
        (samples.png_bomb(5000, 5000), "over the limit of 10,000,000"),
    ],
    ids=["empty", "gif-header-only", "ico", "tiff", "truncated-jpeg", "bomb", "over-limit"],
)
def test_bad_inputs_raise_permanent_errors(data: bytes, message: str) -> None:
    with pytest.raises(PermanentImageError, match=message):
        process(data, DEFAULT_VARIANTS, LIMIT)


def test_process_accepts_a_file_object() -> None:
    info, encoded = process(io.BytesIO(samples.jpeg()), DEFAULT_VARIANTS[:2], LIMIT)
    assert info.bytes == len(samples.jpeg()) and len(encoded) == 2


# ---------------------------------------------------------------- render (the API's on-demand path)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"width": 60, "height": None, "fit": "inside", "fmt": "jpeg"}, ("image/jpeg", 60, 40, "JPEG")),
        ({"width": None, "height": 20, "fit": "inside", "fmt": "png"}, ("image/png", 30, 20, "PNG")),
        ({"width": 50, "height": 50, "fit": "cover", "fmt": "webp"}, ("image/webp", 50, 50, "WEBP")),
        ({"width": 50, "height": 50, "fit": "inside", "fmt": "jpg"}, ("image/jpeg", 50, 33, "JPEG")),
        ({"width": 4000, "height": None, "fit": "inside", "fmt": "png"}, ("image/png", 120, 80, "PNG")),
        ({"width": None, "height": None, "fit": "inside", "fmt": "webp"}, ("image/webp", 120, 80, "WEBP")),
    ],
)
def test_render_bounds_fit_and_format(kwargs: dict, expected: tuple) -> None:
    data, content_type, width, height = render(
        samples.jpeg((120, 80)), quality=80, max_pixels=LIMIT, **kwargs
    )
    im = _open(data)
    assert (content_type, width, height, im.format) == expected and im.size == (width, height)


def test_render_quality_changes_size() -> None:
    src = samples.jpeg((200, 150))
    low = render(src, width=None, height=None, fit="inside", fmt="jpeg", quality=10, max_pixels=LIMIT)
    high = render(src, width=None, height=None, fit="inside", fmt="jpeg", quality=95, max_pixels=LIMIT)
    assert len(low[0]) < len(high[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"width": 0, "height": None, "fit": "inside", "fmt": "jpeg", "quality": 80},
            "'width' must be between",
        ),
        (
            {"width": 10, "height": None, "fit": "cover", "fmt": "jpeg", "quality": 80},
            "'cover' needs both width and height",
        ),
        ({"width": 10, "height": 10, "fit": "fill", "fmt": "jpeg", "quality": 80}, "'fit' must be"),
        (
            {"width": 10, "height": 10, "fit": "inside", "fmt": "tiff", "quality": 80},
            "'format' must be one of",
        ),
        (
            {"width": 10, "height": 10, "fit": "inside", "fmt": "png", "quality": 0},
            "'quality' must be between",
        ),
        ({"width": 99999, "height": 10, "fit": "inside", "fmt": "png", "quality": 80}, "'width' must be"),
    ],
)
def test_render_rejects_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(samples.jpeg(), max_pixels=LIMIT, **kwargs)


def test_contain_centres_on_a_canvas_with_one_decode_and_one_encode() -> None:
    src = samples.encode(Image.new("RGBA", (120, 80), (200, 10, 10, 128)), "PNG")
    with (
        mock.patch.object(imaging, "decode", wraps=imaging.decode) as decode,
        mock.patch.object(Image.Image, "save", autospec=True, side_effect=Image.Image.save) as save,
    ):
        data, content_type, width, height = render(
            src, width=60, height=60, fit="contain", fmt="png", quality=80, max_pixels=LIMIT
        )
    assert decode.call_count == 1 and save.call_count == 1  # no PNG round trip in between
    im = _open(data)
    assert (content_type, width, height, im.size, im.mode) == ("image/png", 60, 60, (60, 60), "RGBA")
    assert im.getpixel((30, 5)) == (0, 0, 0, 0)  # band above the 60x40 picture
    # half-transparent stays half, not a quarter (a masked paste multiplies alpha by itself)
    assert im.getpixel((30, 30)) == pytest.approx((200, 10, 10, 128), abs=2)


def test_contain_pads_jpeg_with_white() -> None:
    data, _, width, height = render(
        samples.jpeg((120, 80)), width=80, height=80, fit="contain", fmt="jpeg", quality=90, max_pixels=LIMIT
    )
    im = _open(data)
    assert im.mode == "RGB" and (width, height) == im.size == (80, 80)
    assert min(im.getpixel((40, 2))) > 245


def test_render_refuses_bad_images_and_big_ones() -> None:
    with pytest.raises(PermanentImageError, match="not a supported image"):
        render(b"text", width=10, height=10, fit="inside", fmt="png", quality=80, max_pixels=LIMIT)
    with pytest.raises(PermanentImageError, match="over the limit of 100"):
        render(samples.jpeg(), width=10, height=10, fit="inside", fmt="png", quality=80, max_pixels=100)


@pytest.mark.parametrize(
    ("memory", "cpus", "expected"), [("1024", 6, 1), ("1769", 6, 1), ("3008", 6, 2), ("", 2, 2)]
)
def test_threads_follow_the_vcpus_lambda_memory_buys(
    monkeypatch, memory: str, cpus: int, expected: int
) -> None:
    monkeypatch.setattr(imaging.os, "sched_getaffinity", lambda _pid: set(range(cpus)), raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
    assert imaging.default_threads() == expected


# ---------------------------------------------------------------- colour profiles


def test_a_huge_icc_profile_is_not_copied_into_variants() -> None:
    """A 64×64 JPEG with a 2 MB profile made five ~2 MB variants; now each is its pixels."""
    src = samples.jpeg_with_huge_icc()
    assert len(src) > 2_000_000
    _, encoded = process(src, DEFAULT_VARIANTS, LIMIT)
    for variant in encoded:
        assert variant.info.bytes < 30_000, (variant.spec.name, variant.info.bytes)
        im = _open(variant.data)
        assert len(im.info.get("icc_profile") or b"") <= imaging.ICC_MAX_BYTES
        assert im.getpixel((2, 2))[:3] == pytest.approx((255, 0, 0), abs=12)  # sRGB in, sRGB out
    data = render(src, width=32, height=32, fit="contain", fmt="png", quality=80, max_pixels=LIMIT)[0]
    assert len(data) < 30_000 and not _open(data).info.get("icc_profile")


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_a_small_display_profile_is_kept_verbatim(fmt: str) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = samples.encode(samples.photo((64, 48)), "JPEG", icc_profile=icc)
    _, [variant] = process(src, (Variant("v", fmt, max_width=32),), LIMIT)  # type: ignore[arg-type]
    assert _open(variant.data).info.get("icc_profile") == icc


def test_an_unusual_profile_is_dropped() -> None:
    """A Lab abstract profile says nothing about RGB pixels: no transform, no copy."""
    from PIL import ImageCms

    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    src = samples.encode(samples.photo((64, 48)), "JPEG", icc_profile=lab)
    _, encoded = process(src, DEFAULT_VARIANTS, LIMIT)
    assert all(not _open(v.data).info.get("icc_profile") for v in encoded)


def test_pillows_bomb_limit_follows_max_pixels() -> None:
    """Pillow refused > 2 × 89.5 MP itself, whatever maxPixels said: a 195 MP header under a
    200 MP limit was 'over the limit of 200,000,000'. Now Pillow's limit is maxPixels."""
    header_only = samples.png_bomb(15_000, 13_000)  # 195 MP declared, a few bytes of data
    with pytest.raises(PermanentImageError) as err:
        imaging.decode(header_only, DEFAULT_VARIANTS[:1], 200_000_000)
    assert "over the limit" not in str(err.value) and "truncated" in str(err.value)
    assert Image.MAX_IMAGE_PIXELS == 200_000_000
    with pytest.raises(PermanentImageError, match=r"decompression bomb refused.*over the limit of 1,000,000"):
        imaging.decode(samples.png_bomb(1_500, 1_500), DEFAULT_VARIANTS[:1], 1_000_000)


def test_a_declared_frame_count_is_bounded() -> None:
    """An APNG's acTL can declare 2³¹−1 frames; Pillow reports it unchecked as n_frames."""
    src = samples.apng_claiming_frames()
    with Image.open(io.BytesIO(src)) as im:
        assert im.n_frames == 2**31 - 1  # what the header claims
    _, info, _ = imaging.decode(src, DEFAULT_VARIANTS, LIMIT)
    assert info.frames == 1 and not info.animated  # PNG sources are stills here
    # formats whose count is declared rather than counted: never more frames than bytes
    gif = samples.animated_gif()
    with mock.patch.object(Image.Image, "n_frames", 2**31 - 1, create=True):
        _, info, _ = imaging.decode(gif, DEFAULT_VARIANTS[:1], LIMIT)
    assert info.frames <= len(gif)
    assert imaging.recorded_frames(2**31 - 1, 5_000) == 5_000 and imaging.recorded_frames(3, 5_000) == 3


def test_a_jpeg_render_loads_only_pillows_jpeg_plugin_and_other_formats_still_open(tmp_path) -> None:
    """imgpipe names every format, so Pillow's preinit of five plugins is skipped (cold start:
    docs/performance.md); a later open or save of another format must still find its plugin."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "in.jpg").write_bytes(samples.jpeg((64, 48)))
    code = (
        "import io, sys\n"
        "from PIL import Image\n"
        "from function import imaging\n"
        f"data = open({str(tmp_path / 'in.jpg')!r}, 'rb').read()\n"
        "imaging.render(data, width=32, height=None, fmt='jpeg', quality=80, max_pixels=10**6)\n"
        "print(sorted(m for m in sys.modules if m.endswith('ImagePlugin')))\n"
        "buf = io.BytesIO(); Image.new('RGB', (4, 4)).save(buf, 'GIF')\n"
        "png = imaging.render(buf.getvalue(), width=4, height=None, fmt='png', quality=80,"
        " max_pixels=10**6)\n"
        "print(Image.open(io.BytesIO(png[0])).format, Image.open(io.BytesIO(buf.getvalue())).format)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    loaded, formats = out.stdout.strip().splitlines()
    assert loaded == "['PIL.JpegImagePlugin']"
    assert formats == "PNG GIF"
