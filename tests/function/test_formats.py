"""Issue 16's formats through the image code: HEIC/AVIF in, AVIF/GIF out, animation kept.

Fixtures are generated here (pillow-heif writes HEIC with x265, Pillow writes AVIF and the
animations); nothing is downloaded. The handler-level rows are in ``samples.INPUTS``.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from function import imaging
from function.imaging import PermanentImageError, avif_options, process, render, sniff_format
from function.variants import DEFAULT_VARIANTS, parse_variant, parse_variants
from tests.function import samples

LIMIT = 10_000_000
RED = (255, 0, 0)
ALL_FORMATS = parse_variants(
    [
        {"name": "jpeg", "format": "jpeg"},
        {"name": "png", "format": "png"},
        {"name": "webp", "format": "webp"},
        {"name": "avif", "format": "avif", "quality": 60},
        {"name": "gif", "format": "gif"},
        {"name": "thumb", "format": "webp", "max_width": 60, "max_height": 60},
    ]
)


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _frames(data: bytes) -> list[tuple[int, Image.Image]]:
    """(duration ms, RGBA frame) for every frame of an encoded animation."""
    im = Image.open(io.BytesIO(data))
    out = []
    for index in range(getattr(im, "n_frames", 1)):
        im.seek(index)
        im.load()
        out.append((int(im.info.get("duration") or 0), im.convert("RGBA")))
    return out


def _close(pixel: tuple[int, ...], want: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, want, strict=False))


# ---------------------------------------------------------------- sniffing by ftyp brand


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (samples.heic, "heif"),
        (samples.avif, "avif"),
        # major brand mif1 with AVIF among the compatible brands: AVIF wins
        (lambda: samples.iso_media(b"mif1", (b"mif1", b"avif", b"miaf")), "avif"),
        (lambda: samples.iso_media(b"mif1", (b"mif1", b"heic")), "heif"),
        (lambda: samples.iso_media(b"heix", (b"mif1",)), "heif"),
    ],
)
def test_heif_and_avif_are_recognised_by_their_ftyp_brand(make, fmt: str) -> None:
    assert sniff_format(make()[: imaging.SNIFF_BYTES]) == fmt


def test_other_iso_media_is_refused_naming_its_brands() -> None:
    with pytest.raises(PermanentImageError, match=r"not a supported image.*brands \['isom', 'mp42'\]"):
        sniff_format(samples.iso_media()[: imaging.SNIFF_BYTES])
    with pytest.raises(PermanentImageError, match="HEIC/HEIF or AVIF"):
        process(samples.iso_media(), DEFAULT_VARIANTS, LIMIT)


# ---------------------------------------------------------------- HEIC and AVIF in


@pytest.mark.parametrize(("make", "fmt"), [(samples.heic, "heif"), (samples.avif, "avif")])
def test_heic_and_avif_uploads_make_every_variant(make, fmt: str) -> None:
    info, encoded = process(make(), ALL_FORMATS, LIMIT)
    assert (info.format, info.width, info.height, info.animated) == (fmt, 120, 80, False)
    for variant in encoded:
        im = _open(variant.data)
        assert im.format.lower() == variant.info.format
        assert im.size == (variant.info.width, variant.info.height)
        # the red orientation marker is in the top-left corner: decoded, not garbage
        assert _close(im.convert("RGB").getpixel((2, 2)), RED, 20), variant.info.name


@pytest.mark.parametrize("make", [samples.heic, samples.avif])
def test_rotation_is_applied_exactly_once(make) -> None:
    """Orientation 6 (stored 120×80, shown rotated 90° clockwise): the top-left marker moves to
    the top-right. HEIF is rotated by libheif, AVIF by our EXIF transpose; never both."""
    info, (jpeg,) = process(make(orientation=6), DEFAULT_VARIANTS[:1], LIMIT)
    assert (info.width, info.height) == (80, 120)
    im = _open(jpeg.data).convert("RGB")
    assert im.size == (80, 120)
    assert _close(im.getpixel((77, 2)), RED, 30) and not _close(im.getpixel((2, 2)), RED, 60)


def test_heic_icc_profile_reaches_every_format_that_can_carry_it() -> None:
    icc = samples.srgb_profile()
    _, encoded = process(samples.heic(icc=icc), ALL_FORMATS[:4], LIMIT)
    for variant in encoded:  # jpeg, png, webp, avif
        assert _open(variant.data).info.get("icc_profile") == icc, variant.info.name


def test_avif_alpha_is_kept_where_the_output_has_alpha() -> None:
    info, encoded = process(samples.avif(mode="RGBA"), ALL_FORMATS[:4], LIMIT)
    assert info.mode == "RGBA"
    by_name = {v.info.name: _open(v.data) for v in encoded}
    assert by_name["jpeg"].mode == "RGB" and by_name["jpeg"].getpixel((10, 40))[0] > 240  # on white
    for name in ("png", "webp", "avif"):
        assert by_name[name].convert("RGBA").getpixel((10, 40))[3] == 0, name
        assert by_name[name].convert("RGBA").getpixel((110, 40))[3] == 255, name


def test_heic_pixel_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    from pillow_heif import as_plugin

    data = samples.heic((1200, 1000))

    def no_decoding(self):  # a header-only refusal never gets here
        raise AssertionError("decoded a HEIC that is over the pixel limit")

    monkeypatch.setattr(as_plugin.HeifImageFile, "load", no_decoding)
    with pytest.raises(
        PermanentImageError, match="1200×1000 = 1,200,000 pixels, over the limit of 1,000,000"
    ):
        process(data, DEFAULT_VARIANTS, 1_000_000)


def test_truncated_heic_is_a_permanent_error() -> None:
    with pytest.raises(PermanentImageError, match="HEIF"):
        process(samples.heic()[:300], DEFAULT_VARIANTS, LIMIT)


# ---------------------------------------------------------------- AVIF and GIF out


def test_avif_variants_are_encoded_by_svt_av1_and_by_libaom_where_svt_cannot(monkeypatch) -> None:
    """SVT-AV1 (pillow-avif-plugin's libavif) encodes AVIF variants, greyscale sources too (they
    reach libavif as RGB); a side under 4 px fails in SVT-AV1 and is encoded by libaom instead."""
    codecs: list[str] = []
    original = Image.Image.save

    def spy(self, fp, format=None, **params):
        if format == "AVIF":
            codecs.append(params["codec"])
        return original(self, fp, format, **params)

    monkeypatch.setattr(Image.Image, "save", spy)
    avif = parse_variants([{"name": "a", "format": "avif", "quality": 60}])
    _, encoded = process(samples.jpeg((64, 48)), avif, LIMIT)
    assert codecs == ["svt"] and _open(encoded[0].data).format == "AVIF"
    codecs.clear()
    grey = io.BytesIO()
    Image.new("L", (64, 48), 120).save(grey, "PNG")
    _, encoded = process(grey.getvalue(), avif, LIMIT)
    assert codecs == ["svt"] and _open(encoded[0].data).size == (64, 48)
    codecs.clear()
    thin, _, w, h = render(
        samples.jpeg((64, 48)), width=3, height=None, fmt="avif", quality=60, max_pixels=LIMIT
    )
    assert codecs == ["svt", "aom"] and _open(thin).format == "AVIF" and (w, h) == (3, 2)


def test_an_avif_neither_encoder_can_write_is_a_permanent_error_naming_the_variant(monkeypatch) -> None:
    original = Image.Image.save

    def failing(self, fp, format=None, **params):
        if format == "AVIF":
            raise RuntimeError("Failed to encode image: Encoding of color planes failed")
        return original(self, fp, format, **params)

    monkeypatch.setattr(Image.Image, "save", failing)
    avif = parse_variants([{"name": "small", "format": "avif"}])
    with pytest.raises(PermanentImageError, match=r"variant 'small': cannot encode avif: libavif \(SVT-AV1"):
        process(samples.jpeg((64, 48)), avif, LIMIT)


def test_svt_av1_does_not_log_its_configuration_to_stderr(capfd) -> None:
    render(samples.jpeg((64, 48)), width=32, height=None, fmt="avif", quality=60, max_pixels=LIMIT)
    assert "Svt[info]" not in capfd.readouterr().err


def test_the_avif_plugin_stays_registered_after_pillow_loads_every_plugin() -> None:
    """Pillow's own AVIF plugin and pillow-avif-plugin both register "AVIF"; a later
    Image.init() (any open of an unknown format) must not hand AVIF back to Pillow's."""
    import pillow_avif.AvifImagePlugin as plugin

    render(samples.jpeg((64, 48)), width=32, height=None, fmt="avif", quality=60, max_pixels=LIMIT)
    Image.init()
    assert Image.SAVE["AVIF"] is plugin._save and Image.OPEN["AVIF"][0] is plugin.AvifImageFile


def test_avif_effort_is_the_encoder_speed_and_quality_reaches_it() -> None:
    assert avif_options(60, 0) == {"quality": 60, "speed": 10, "max_threads": 1, "codec": "svt"}
    # config without quality: AVIF 64 (WebP q85's PSNR on the bench photo, SVT-AV1), the others 85
    assert parse_variant({"name": "a", "format": "avif"}).quality == 64
    assert parse_variant({"name": "w", "format": "webp"}).quality == 85
    assert avif_options(60, 4)["speed"] == 6
    src = samples.jpeg((240, 160))
    low = process(src, parse_variants([{"name": "a", "format": "avif", "quality": 30}]), LIMIT)[1][0]
    high = process(src, parse_variants([{"name": "a", "format": "avif", "quality": 95}]), LIMIT)[1][0]
    assert low.info.content_type == "image/avif" and low.info.extension == "avif"
    assert len(low.data) < len(high.data)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "a", "format": "avif", "effort": 11}, "'effort' must be between 0 and 10"),
        ({"name": "a", "format": "gif", "effort": 2}, "'effort' must be between 0 and 1"),
        ({"name": "a", "format": "heic"}, "'format' must be one of"),
    ],
)
def test_variant_config_for_the_new_formats_is_checked(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_variant(raw)


# ---------------------------------------------------------------- animation


def test_animated_gif_keeps_frames_timing_and_loop_in_webp_and_gif() -> None:
    info, encoded = process(samples.animated_gif(), ALL_FORMATS, LIMIT)
    assert info.animated and info.frames == 3
    by_name = {v.info.name: v for v in encoded}
    colours = [RED, (0, 0, 255), (0, 255, 0)]
    for name in ("webp", "gif", "thumb"):
        frames = _frames(by_name[name].data)
        assert [d for d, _ in frames] == list(samples.GIF_DURATIONS), name
        assert all(
            _close(f.getpixel((f.width // 2, f.height // 2)), (*c, 255))
            for (_, f), c in zip(frames, colours, strict=True)
        )
        assert by_name[name].info.frames == 3
        assert _open(by_name[name].data).info.get("loop") == 0
    assert by_name["thumb"].info.width == 60
    for name in ("jpeg", "png", "avif"):  # still formats: the first frame
        im = Image.open(io.BytesIO(by_name[name].data))
        assert getattr(im, "n_frames", 1) == 1 and by_name[name].info.frames == 1
        assert _close(im.convert("RGB").getpixel((60, 40)), RED, 20), name


def test_a_gif_that_plays_once_still_plays_once() -> None:
    _, encoded = process(samples.animated_gif(loop=None), ALL_FORMATS, LIMIT)
    by_name = {v.info.name: _open(v.data) for v in encoded}
    assert by_name["webp"].info["loop"] == 1  # WebP: play once; 0 would loop forever
    assert "loop" not in by_name["gif"].info  # GIF: no NETSCAPE block, as in the source


def test_animated_webp_keeps_transparency_in_every_frame() -> None:
    info, encoded = process(samples.animated_webp(), ALL_FORMATS, LIMIT)
    assert info.animated and info.frames == 2
    by_name = {v.info.name: v for v in encoded}
    for name in ("webp", "gif"):
        frames = _frames(by_name[name].data)
        assert [d for d, _ in frames] == list(samples.WEBP_DURATIONS)
        for _, frame in frames:
            assert frame.getpixel((60, 40))[3] == 0, name  # the hole
            assert frame.getpixel((5, 5))[3] == 255, name
    assert _open(by_name["jpeg"].data).getpixel((60, 40)) == (255, 255, 255)


def test_animation_over_the_frame_pixel_budget_is_truncated_not_refused() -> None:
    data = samples.long_gif(50, (40, 30))  # 50 frames × 1,200 px
    info, encoded = process(data, ALL_FORMATS, LIMIT, max_animation_pixels=12_000)
    assert info.frames == 50  # the source, as uploaded
    by_name = {v.info.name: v for v in encoded}
    for name in ("webp", "gif"):
        frames = _frames(by_name[name].data)
        assert by_name[name].info.frames == len(frames) == 10, name
        # the leading frames, in order
        greys = [samples.long_gif_grey(i) for i in range(10)]
        assert [f.getpixel((20, 15))[0] for _, f in frames] == pytest.approx(greys, abs=4)
    assert imaging.animation_frames(50, 40, 30, 12_000) == 10
    assert imaging.animation_frames(50, 40, 30, 10) == 1  # a still first frame at worst
    assert imaging.animation_frames(5, 40, 30, 10**9) == 5


def test_animated_results_do_not_depend_on_thread_count() -> None:
    data = samples.animated_gif()
    one = [v.data for v in process(data, ALL_FORMATS, LIMIT, threads=1)[1]]
    four = [v.data for v in process(data, ALL_FORMATS, LIMIT, threads=4)[1]]
    assert one == four


def test_render_to_gif_and_webp_stays_animated_and_avif_renders() -> None:
    gif, content_type, w, h = render(
        samples.animated_gif(), width=60, height=None, fmt="gif", quality=80, max_pixels=LIMIT
    )
    assert content_type == "image/gif" and (w, h) == (60, 40)
    assert [d for d, _ in _frames(gif)] == list(samples.GIF_DURATIONS)
    webp = render(samples.animated_webp(), width=60, height=None, fmt="webp", quality=80, max_pixels=LIMIT)[0]
    assert len(_frames(webp)) == 2
    avif, content_type, w, h = render(
        samples.heic(), width=60, height=None, fmt="avif", quality=60, max_pixels=LIMIT
    )
    assert content_type == "image/avif" and _open(avif).format == "AVIF" and (w, h) == (60, 40)
