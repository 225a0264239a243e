"""Image work for imgpipe: validate by content, decode once, render every variant. Pure Pillow.

No boto3 and no AWS here, so the benchmark and the tests call it directly. The one entry point::

    from function.imaging import render_variants
    info = render_variants(data, specs, max_pixels, threads=None, sink=callback)

* ``data`` — the uploaded object: its bytes, or a seekable binary file (the handler spools the
  S3 body to ``/tmp`` so the encoded source is not held in memory during encoding). Any
  extension; the content decides the format.
* ``specs`` — :class:`function.variants.Variant` tuple (``DEFAULT_VARIANTS`` or parsed config).
* ``max_pixels`` — refuse images with more pixels, read from the header *before* decoding.
* ``threads`` — encoder threads; ``None`` = the CPUs this process may use (capped at
  :data:`MAX_THREADS`), ``1`` = everything on the calling thread.
* ``sink`` — called on the *calling* thread with one :class:`EncodedVariant` as soon as it is
  encoded (largest first); its buffer is dropped when the sink returns, so at most one
  finished variant per worker is held. ``None`` discards the encoded bytes (benchmarks).

Returns :class:`ImageInfo` (source format, displayed size, ``animated``/``frames``, and a
:class:`VariantInfo` per spec in spec order). Bad input raises :class:`PermanentImageError` with
a message a user can act on; anything else (a sink's S3 error, MemoryError) propagates as is.

Two conveniences over it, both stable for other callers:

* ``process(data, specs, max_pixels, threads=None) -> (ImageInfo, list[EncodedVariant])`` —
  every encoded variant in spec order (tests, tools; holds all of them in memory).
* ``render(data, *, width, height, fit, fmt, quality, max_pixels) -> (bytes, content_type,
  width, height)`` — one on-demand rendition (the API's render Lambda). Bad parameters raise
  ``ValueError`` naming the parameter; bad images raise :class:`PermanentImageError` (also a
  ``ValueError``).

Why it is fast (see docs/performance.md): one decode; JPEG sources whose variants are all
small are decoded at 1/2..1/8 scale with ``draft``; small variants come from a ``reduce``d
intermediate (``reducing_gap``) instead of LANCZOS over the full image; encoder efforts from
:data:`function.variants.DEFAULT_EFFORT`; encodes run in parallel threads (Pillow releases the
GIL in its codecs and resamplers), most expensive first; the full-size WebP is encoded by libwebp
straight from the decoded pixels (:mod:`function.webp_direct`), saving ~80 MB of peak memory.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from PIL import Image

from function import geometry, png_fast
from function.variants import DEFAULT_MAX_ANIMATION_PIXELS, Variant

if TYPE_CHECKING:
    from concurrent.futures import Future

    from PIL.Image import Image as PILImage

Source = bytes | bytearray | memoryview | BinaryIO
MAX_THREADS = 4
"""Upper bound on encoder threads: Lambda has at most 6 vCPUs and each thread holds a buffer."""

# Source formats imgpipe accepts: name -> magic-byte test (HEIF and AVIF: see _ftyp_brands).
_MAGIC: dict[str, Callable[[bytes], bool]] = {
    "jpeg": lambda b: b[:3] == b"\xff\xd8\xff",
    "png": lambda b: b[:8] == b"\x89PNG\r\n\x1a\n",
    "gif": lambda b: b[:6] in (b"GIF87a", b"GIF89a"),
    "webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "bmp": lambda b: b[:2] == b"BM",
}
# Pillow's name and plugin module for each format imgpipe reads or writes (None: a plugin from
# another package, registered by _register_heif / _register_avif; see _pillow).
_PILLOW: dict[str, tuple[str, str | None]] = {
    "jpeg": ("JPEG", "JpegImagePlugin"),
    "png": ("PNG", "PngImagePlugin"),
    "gif": ("GIF", "GifImagePlugin"),
    "webp": ("WEBP", "WebPImagePlugin"),
    "bmp": ("BMP", "BmpImagePlugin"),
    "heif": ("HEIF", None),
    "avif": ("AVIF", None),
}
# ISO BMFF brands (the `ftyp` box: major brand, then compatible brands). AVIF files also list
# the generic `mif1`/`msf1`, so AVIF brands are checked first.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
SNIFF_BYTES = 64
"""Bytes :func:`sniff_format` needs: enough for an ``ftyp`` box with a dozen brands."""
# Relative encode cost per pixel, to start the slowest encodes first (measured, 12 MP photo:
# AVIF with SVT-AV1 at speed 10 takes ~2x the CPU of WebP at method 0).
_COST = {"avif": 10.0, "png": 12.0, "webp": 5.0, "gif": 3.0, "jpeg": 1.0}
ANIMATED_OUTPUTS = ("webp", "gif")
"""Variant formats that keep an animated source's frames; the others take its first frame."""
_ANIMATED_SOURCES = ("gif", "webp", "avif")
"""Source formats whose frames are an animation (a HEIF's extra images are not: primary only)."""
_WHITE: dict[str, int | tuple[int, int, int]] = {"L": 255, "RGB": (255, 255, 255)}
WEBP_MAX_DIMENSION = 16383


class PermanentImageError(ValueError):
    """The input can never be processed (corrupt, empty, not an image, too large, unsupported).

    Retrying cannot help, so the pipeline records a ``failed`` item with ``str(error)``.
    """


@dataclass(frozen=True)
class VariantInfo:
    """What one rendered variant is (no pixels): the metadata item's ``variants`` entry."""

    name: str
    format: str
    width: int
    height: int
    bytes: int
    content_type: str
    extension: str
    frames: int = 1
    """Animation frames in this variant (WebP/GIF of an animated source; 1 = a still image)."""


@dataclass
class EncodedVariant:
    """One encoded variant handed to the sink; ``buffer`` holds the encoded file."""

    spec: Variant
    info: VariantInfo
    buffer: io.BytesIO

    @property
    def data(self) -> bytes:
        return self.buffer.getvalue()

    def stream(self) -> io.BytesIO:
        """The encoded bytes as a file object at position 0 (for ``put_object(Body=...)``)."""
        self.buffer.seek(0)
        return self.buffer


@dataclass
class ImageInfo:
    """The source image as processed: format by content, displayed size (after EXIF rotation)."""

    format: str
    width: int
    height: int
    bytes: int
    mode: str
    animated: bool = False
    """True when the source is an animation (GIF/WebP/AVIF with several frames): WebP and GIF
    variants keep it, the others are rendered from its first frame."""
    frames: int = 1
    """Frames in the source (animated variants may keep fewer: see :func:`animation_frames`)."""
    orientation: int = 1
    alpha: bool = False
    """True when the image has transparency (an alpha channel that is not fully opaque)."""
    variants: list[VariantInfo] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    """Where one variant comes from: output size and crop box in *displayed source* pixels."""

    spec: Variant
    size: tuple[int, int]
    box: tuple[float, float, float, float]

    @property
    def cost(self) -> float:
        return self.size[0] * self.size[1] * _COST[self.spec.format]


# ---------------------------------------------------------------- validation and decoding


def _ftyp_brands(head: bytes) -> frozenset[bytes]:
    """Brands of an ISO BMFF ``ftyp`` box at the start of ``head`` (empty if there is none)."""
    if head[4:8] != b"ftyp":
        return frozenset()
    size = int.from_bytes(head[:4], "big")
    end = min(size, len(head)) if size >= 16 else 16
    return frozenset({head[8:12], *(head[i : i + 4] for i in range(16, end - 3, 4))})


def sniff_format(head: bytes) -> str:
    """The source format from its first bytes (:data:`SNIFF_BYTES`); the extension is never trusted."""
    if not head:
        raise PermanentImageError("the object is empty (0 bytes): upload the image file again")
    for name, test in _MAGIC.items():
        if test(head):
            return name
    brands = _ftyp_brands(head)
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heif"
    shown = head[:8].hex(" ")
    listed = sorted(b.decode("latin-1") for b in brands)
    detail = f" (an ISO media file with brands {listed})" if brands else ""
    raise PermanentImageError(
        f"not a supported image: content starts with bytes [{shown}]{detail}, which is not JPEG, PNG, "
        "WebP, GIF, BMP, HEIC/HEIF or AVIF (the file extension does not matter; the content does)"
    )


def _pillow(fmt: str) -> str:
    """Pillow's name for ``fmt``, with only that format's plugin imported.

    On its first open or save Pillow imports five plugins (BMP, GIF, JPEG, PPM, PNG; its
    ``preinit``) unless told they are loaded. imgpipe always names the format, so it imports
    the one plugin and marks that step done: a render of a JPEG loads one plugin, not five
    (~7 ms of a cold start with bytecode, ~55 ms without: docs/performance.md).
    A format not loaded here still works: Pillow then falls back to importing every plugin.
    HEIF and AVIF come from other packages' plugins, registered here too on first use.
    """
    name, module = _PILLOW[fmt]
    if fmt == "heif":
        _register_heif()
    elif fmt == "avif":
        _register_avif()
    elif module is not None:
        importlib.import_module(f"PIL.{module}")  # a dict lookup once imported
    Image._initialized = max(Image._initialized, 1)  # preinit() done: see above
    return name


@functools.cache
def _register_avif() -> None:
    """pillow-avif-plugin's AVIF in place of Pillow's own, once per process.

    Both are libavif with dav1d for decoding; the plugin's libavif also has SVT-AV1, which
    encodes a 12 MP AVIF with ~40% less CPU than the libaom in Pillow's wheel at equal size and
    quality (docs/performance.md, AVIF). Both register the format "AVIF", and the last one
    imported wins, so Pillow's is imported first: a later ``Image.init()`` finds it already
    imported and does not register it again.
    """
    # SVT-AV1 logs its whole configuration to stderr at its default level (info): ~20 lines per
    # encode in the function's log. 1 = errors only; an SVT_LOG in the environment still wins.
    os.environ.setdefault("SVT_LOG", "1")
    importlib.import_module("PIL.AvifImagePlugin")
    importlib.import_module("pillow_avif")  # an ImportError is a deployment bug: retried


def _save(im: PILImage, buf: io.BytesIO, fmt: str, options: dict[str, Any]) -> None:
    """``im.save`` in ``fmt``. SVT-AV1 encodes no side under 4 px (nor greyscale, which AVIF
    variants never are: see :func:`_output_mode`) and says so only by failing (``RuntimeError``):
    such an AVIF is encoded by libaom instead. If libaom fails too, the image cannot be an AVIF:
    ``OSError``, which the callers report as a permanent error naming the variant."""
    try:
        im.save(buf, _pillow(fmt), **options)
    except RuntimeError:
        if options.get("codec") != AVIF_CODEC:
            raise
        buf.seek(0)
        buf.truncate()
        try:
            im.save(buf, _pillow(fmt), **(options | {"codec": AVIF_FALLBACK_CODEC}))
        except RuntimeError as exc:
            raise OSError(f"libavif (SVT-AV1, then libaom): {exc}") from exc


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIF (pillow-heif, in the layer) once per process, on the first HEIF upload.

    Thumbnails, depth maps and auxiliary images are never used: not parsing them saves time and
    memory. libheif applies the file's rotation/mirror (``irot``/``imir``) while decoding and
    pillow-heif then resets the EXIF orientation to 1, so nothing is rotated twice.
    """
    from pillow_heif import register_heif_opener  # an ImportError is a deployment bug: retried

    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise PermanentImageError(f"image header declares an empty size {width}×{height}")
    if width * height > max_pixels:
        raise PermanentImageError(
            f"image is {width}×{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
            "(stack config imgpipe:maxPixels); downscale it before uploading"
        )


def _plans(specs: Sequence[Variant], width: int, height: int) -> list[_Plan]:
    """Output size and source crop per spec (:mod:`function.geometry`: never upscales)."""
    plans = []
    whole = (0.0, 0.0, float(width), float(height))
    for spec in specs:
        mw, mh = spec.max_width, spec.max_height
        if spec.fit == "cover" and mw and mh:
            size, box = geometry.cover(width, height, mw, mh)
            plans.append(_Plan(spec, size, box))
        else:
            plans.append(_Plan(spec, geometry.inside(width, height, mw, mh), whole))
    return plans


def _draft_scale(im: PILImage, plans: Sequence[_Plan], width: int, height: int, swapped: bool) -> int:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 when every variant is that small (DCT scaling).

    Shrink-on-load as libvips does it: the largest DCT scale whose result is still at least the
    largest output, then LANCZOS for the rest. DCT scaling is a proper low-pass filter, and a
    400 px rendition of a 12 MP JPEG then decodes at 1/8 instead of 1/4 (asking for twice the
    output, as ``Image.thumbnail`` does, cost ~15% of the render's CPU for no visible gain).
    Returns the scale factor actually applied (1 = full size).
    """
    if im.format != "JPEG":
        return 1
    need = max(max(p.size[0] / (p.box[2] - p.box[0]), p.size[1] / (p.box[3] - p.box[1])) for p in plans)
    if need > 0.5:
        return 1
    req_w, req_h = max(1, int(width * need) + 1), max(1, int(height * need) + 1)
    if swapped:  # the stored image is rotated relative to what is displayed
        req_w, req_h = req_h, req_w
    before = im.size[0]
    im.draft(None, (req_w, req_h))
    return max(1, round(before / im.size[0]))


def _buffers_whole_image(plan: _Plan, width: int, height: int) -> bool:
    """Does this variant's encoder hold a whole-image buffer (fast PNG, full-size direct WebP)?"""
    return plan.spec.format == "png" or (plan.spec.format == "webp" and plan.size == (width, height))


def _schedule(plans: list[_Plan], width: int, height: int) -> list[_Plan]:
    """Most expensive first, except that a second whole-image encoder goes last: it has to wait
    for the first (``_Derived.whole_image_encoder``), and meanwhile the small variants run.
    ``width`` x ``height``: the image's size (a WebP variant of that size is the direct one)."""
    heavy = [p for p in plans if _buffers_whole_image(p, width, height)]
    return heavy[:1] + [p for p in plans if p not in heavy] + heavy[1:]


def _full_size_webp(plans: Sequence[_Plan], size: tuple[int, int]) -> bool:
    """Is there a WebP variant of the whole image at its decoded size (the direct-libwebp case)?"""
    full = (0.0, 0.0, float(size[0]), float(size[1]))
    return any(p.spec.format == "webp" and p.size == size and p.box == full for p in plans)


def _working_mode(im: PILImage) -> PILImage:
    """One 8-bit mode per family: L, LA, RGB or RGBA (alpha dropped when fully opaque)."""
    mode = im.mode
    has_trns = "transparency" in im.info
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey: scale 0..65535 to 0..255 (a plain convert("L") clips everything to white).
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    elif mode in ("1", "F"):
        im = im.convert("L")
    elif mode == "P":
        palette_mode = im.palette.mode if im.palette is not None else ""  # a "P" image has a palette
        im = im.convert("RGBA" if has_trns or "A" in palette_mode else "RGB")
    elif mode in ("PA", "RGBa", "RGBX") or mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in mode or "a" in mode else "RGB")  # CMYK, YCbCr, LAB, HSV...
    elif has_trns and mode in ("L", "RGB"):
        im = im.convert("LA" if mode == "L" else "RGBA")
    if im.mode in ("LA", "RGBA") and im.getchannel("A").getextrema()[0] == 255:
        im = im.convert(im.mode[:-1])  # opaque alpha: cheaper encodes, no JPEG compositing
    return im


def _source(data: Source) -> tuple[BinaryIO, int]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return io.BytesIO(data), len(data)
    data.seek(0, io.SEEK_END)
    size = data.tell()
    data.seek(0)
    return data, size


def decode(data: Source, specs: Sequence[Variant], max_pixels: int) -> tuple[PILImage, ImageInfo, float]:
    """Validate and decode once. Returns (working image, info, base scale vs displayed pixels)."""
    work, info, scale, _ = _decode(data, specs, max_pixels)
    return work, info, scale


def _decode(
    data: Source, specs: Sequence[Variant], max_pixels: int
) -> tuple[PILImage, ImageInfo, float, PILImage]:
    """:func:`decode`, plus the opened source (positioned at frame 0) for reading more frames."""
    fp, nbytes = _source(data)
    fmt = sniff_format(fp.read(SNIFF_BYTES))
    fp.seek(0)
    # Pillow's own bomb check (a warning above MAX_IMAGE_PIXELS, an error above twice that) uses
    # maxPixels too, not its default of ~89 MP: a stack allowing 150 MP must not be refused by
    # Pillow at 179 MP with a message naming our limit, nor one allowing 10 MP warn at 89 MP.
    # One limit per process (the function's MAX_PIXELS), so setting the global is safe.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        im = Image.open(fp, formats=[_pillow(fmt)])
    except Image.DecompressionBombError as exc:
        # Pillow refuses > 2× its own limit inside open(); report it like our own limit.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise PermanentImageError(
            f"decompression bomb refused: the header declares {pixels}, over the limit of "
            f"{max_pixels:,} (stack config imgpipe:maxPixels)"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError, struct.error, ...
        raise PermanentImageError(
            f"not a readable {fmt.upper()} image (corrupt or truncated): {exc}"
        ) from exc
    stored_w, stored_h = im.size
    _check_pixels(stored_w, stored_h, max_pixels)
    try:
        frames = max(1, int(getattr(im, "n_frames", 1))) if fmt in _ANIMATED_SOURCES else 1
    except Exception:  # counting frames parses the whole file; a broken tail is caught at load()
        frames = 1
    frames = recorded_frames(frames, nbytes)
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block must not stop a decodable image
        orientation = 1
    orientation = orientation if 1 <= orientation <= 8 else 1
    swapped = orientation in (5, 6, 7, 8)
    width, height = (stored_h, stored_w) if swapped else (stored_w, stored_h)
    info = ImageInfo(fmt, width, height, nbytes, im.mode, frames > 1, frames, orientation)
    plans = _plans(specs, width, height)
    try:
        scale = _draft_scale(im, plans, width, height, swapped)
        if frames > 1:
            im.seek(0)  # n_frames walked the file; go back to the first frame
        if fmt == "jpeg" and frames == 1 and orientation == 1 and _full_size_webp(plans, im.size):
            from function import webp_direct  # ctypes + libwebp: only for a full-size WebP

            webp_direct.map_before_load(im)  # decode straight into a buffer libwebp can read
        im.load()  # frame 0 only: animations give their first frame
        if orientation != 1:
            from PIL import ImageOps  # with its palette modules: only for rotated photos

            ImageOps.exif_transpose(im, in_place=True)
        info.mode = im.mode
        work = _working_mode(im)
        _manage_profile(work, info.mode)
        info.alpha = work.mode in ("LA", "RGBA")
    except MemoryError:
        raise
    except Exception as exc:
        # Pillow signals bad data with many types; "image file is truncated" is an OSError.
        raise PermanentImageError(f"corrupt or truncated {fmt.upper()} image: {exc}") from exc
    return work, info, float(scale), im


# ---------------------------------------------------------------- colour profiles

ICC_MAX_BYTES = 4096
"""The largest ICC profile a variant or rendition carries (bytes).

Every RGB working space a browser needs fits: sRGB IEC61966-2.1 is 3,144 bytes, Display P3 536,
Adobe RGB (1998) 560 (matrix + curves profiles). Larger profiles are LUT-based device profiles
(printers, cameras, sRGB v4 "preference" at ~60 KB) or padding: a 64×64 JPEG may carry a 2 MB
profile, and copying it into five variants made every thumbnail ~2 MB. So a variant is at most
its pixels plus 4 KiB of profile, which on a 200×200 thumbnail is still a bounded overhead."""
_DISPLAY_CLASSES = ("mntr", "scnr", "spac")


def _srgb() -> Any:
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


def _manage_profile(im: PILImage, source_mode: str) -> None:
    """Bound the ICC profile the variants inherit through ``im.info`` (PNG and AVIF encoders
    fall back to it, so a profile must be removed there, not only left out of save options).

    * a small RGB/grey display profile that matches the image's channels: kept as is;
    * a large or unusual RGB profile: the pixels are converted to sRGB (in place, so a
      buffer-backed image stays so) and the profile dropped: untagged pixels are sRGB on the web;
    * anything else (unreadable, another colour space, a grey image's large profile, a profile
      lcms cannot build a transform from): dropped.

    CMYK, YCbCr and LAB sources are converted to RGB without their profile, as before.
    """
    icc = im.info.pop("icc_profile", None)
    if not icc or source_mode in ("CMYK", "YCbCr", "LAB"):
        return
    from PIL import ImageCms

    grey = im.mode in ("L", "LA")
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = str(profile.profile.xcolor_space).strip()
        device_class = str(profile.profile.device_class)
    except Exception:  # not a parsable profile: nothing to honour
        return
    if (
        len(icc) <= ICC_MAX_BYTES
        and space == ("GRAY" if grey else "RGB")
        and device_class in _DISPLAY_CLASSES
    ):
        im.info["icc_profile"] = icc
        return
    if grey or space != "RGB":
        return
    with contextlib.suppress(Exception):  # e.g. a link profile: no transform to sRGB exists
        ImageCms.profileToProfile(im, profile, _srgb(), inPlace=True)
    im.info.pop("icc_profile", None)  # the in-place transform tags the image with its output profile


# ---------------------------------------------------------------- animation

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class _Animation:
    """One animated variant's frames (already at the variant's size), with their timing."""

    frames: list[PILImage]
    durations: list[int]
    """Milliseconds each frame is shown, from the source."""
    loop: int | None
    """Source loop count (0 = forever); ``None`` = the source plays once."""


def recorded_frames(declared: int, nbytes: int) -> int:
    """The frame count stored in the item: the declared one, bounded by the file's size.

    Some containers *declare* their frame count (an APNG's ``acTL`` can say 2³¹−1; an AVIF
    sequence's sample table can too) and Pillow reports it as ``n_frames`` unchecked. No frame is
    coded in less than a byte (a GIF frame takes ≥ 12, a WebP ``ANMF`` chunk ≥ 24), so a
    count above the file's byte size is false and is recorded as that bound. (PNG sources are
    not read as animations at all: their frame count is 1.)
    """
    return max(1, min(declared, nbytes))


def animation_frames(frames: int, width: int, height: int, budget: int) -> int:
    """How many leading frames of an animation fit ``budget`` frame × pixels (at least one).

    The budget bounds both memory (each animated variant holds its resized frames until it is
    encoded) and time (every kept frame is decoded at full size). Longer animations are
    *truncated* to the frames that fit, not refused: the still variants never depend on it.
    """
    return max(1, min(frames, budget // max(1, width * height)))


def _read_animation(
    source: PILImage, info: ImageInfo, plans: Sequence[_Plan], keep: int
) -> dict[str, _Animation]:
    """Decode the first ``keep`` frames once and resize each to every animated plan's size.

    GIF and WebP readers give every frame composited on the canvas (disposal and blending
    applied), so each kept frame is a complete picture and can be re-encoded on its own.
    """
    loop = source.info.get("loop")
    out = {p.spec.name: _Animation([], [], None if loop is None else int(loop)) for p in plans}
    opaque = True
    for index in range(keep):
        try:
            source.seek(index)
        except EOFError:  # fewer frames than declared (see recorded_frames): keep what exists
            break
        source.load()  # WebP sets the frame's duration when it decodes it
        duration = int(source.info.get("duration") or 0)
        frame = source.convert("RGBA")
        frame.info.pop("icc_profile", None)  # animated outputs carry no profile (see ICC_MAX_BYTES)
        if info.orientation != 1:
            frame = frame.transpose(_TRANSPOSE[info.orientation])
        for plan in plans:
            resized = frame
            if plan.size != frame.size or plan.box != (0.0, 0.0, *map(float, frame.size)):
                resized = frame.resize(plan.size, Image.Resampling.LANCZOS, box=plan.box, reducing_gap=2.0)
            out[plan.spec.name].frames.append(resized)
            out[plan.spec.name].durations.append(duration)
        opaque = opaque and frame.getchannel("A").getextrema()[0] == 255
    if opaque:  # no transparent pixel in any frame: RGB encodes are smaller and faster
        for animation in out.values():
            animation.frames = [f.convert("RGB") for f in animation.frames]
    return out


def _encode_animation(plan: _Plan, animation: _Animation) -> EncodedVariant:
    spec = plan.spec
    if spec.format == "webp" and max(plan.size) > WEBP_MAX_DIMENSION:
        raise PermanentImageError(
            f"variant '{spec.name}': WebP cannot exceed {WEBP_MAX_DIMENSION} px per side, the image "
            f"is {plan.size[0]}×{plan.size[1]}; set max_width/max_height on the variant"
        )
    first, rest = animation.frames[0], animation.frames[1:]
    options: dict[str, Any] = {"save_all": True, "append_images": rest, "duration": animation.durations}
    if spec.format == "webp":
        # WebP's loop count 0 = forever, like GIF's NETSCAPE loop; a GIF without one plays once.
        options |= {"quality": spec.quality, "method": spec.resolved_effort}
        options["loop"] = 1 if animation.loop is None else animation.loop
    else:
        options["optimize"] = bool(spec.resolved_effort)
        if animation.loop is not None:
            options["loop"] = animation.loop
    buf = io.BytesIO()
    try:
        first.save(buf, _pillow(spec.format), **options)
    except (OSError, ValueError) as exc:
        raise PermanentImageError(
            f"variant '{spec.name}': cannot encode animated {spec.format}: {exc}"
        ) from exc
    animation.frames = []  # the encoded file is all that is needed now
    info = VariantInfo(
        spec.name,
        spec.format,
        plan.size[0],
        plan.size[1],
        buf.getbuffer().nbytes,
        spec.content_type,
        spec.extension,
        frames=len(animation.durations),
    )
    return EncodedVariant(spec, info, buf)


# ---------------------------------------------------------------- rendering


class _Derived:
    """Resized/converted images shared by variants with the same geometry and output mode.

    Two full-size JPEGs of an RGBA source composite once; each entry is dropped when its last
    user finishes, so memory returns as soon as possible.
    """

    def __init__(self, base: PILImage, scale: float, plans: Iterable[_Plan]) -> None:
        self.base, self.scale = base, scale
        # The direct WebP and the fast PNG each hold a whole-image buffer beside the decoded
        # pixels (~27 and ~72 MB at 12 MP): they take turns, so peak memory has one, not both.
        self.whole_image_encoder = threading.Lock()
        self._lock = threading.Lock()
        self._users: dict[tuple[Any, ...], int] = {}
        self._cache: dict[tuple[Any, ...], tuple[threading.Lock, list[PILImage]]] = {}
        for p in plans:
            key = self.key(p)
            self._users[key] = self._users.get(key, 0) + 1

    def key(self, plan: _Plan) -> tuple[Any, ...]:
        return (plan.size, plan.box, _output_mode(self.base.mode, plan.spec.format))

    def get(self, plan: _Plan) -> PILImage:
        key = self.key(plan)
        with self._lock:
            entry = self._cache.setdefault(key, (threading.Lock(), []))
        with entry[0]:
            if not entry[1]:
                entry[1].append(self._make(plan, key[2]))
            return entry[1][0]

    def release(self, plan: _Plan) -> None:
        key = self.key(plan)
        with self._lock:
            self._users[key] -= 1
            if self._users[key] == 0:
                self._cache.pop(key, None)

    def _make(self, plan: _Plan, mode: str) -> PILImage:
        im = self.base
        box = tuple(v / self.scale for v in plan.box)
        box = (box[0], box[1], min(box[2], im.size[0]), min(box[3], im.size[1]))
        if plan.size != im.size or box != (0, 0, *im.size):
            # reducing_gap: box-reduce by an integer factor first, then LANCZOS the rest —
            # ~5× faster than LANCZOS from full size for thumbnails, visually the same.
            im = im.resize(plan.size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
        if im.mode == mode:
            return im
        if mode in _WHITE and im.mode in ("LA", "RGBA"):  # JPEG has no alpha: composite on white
            flat = Image.new(mode, im.size, _WHITE[mode])
            flat.paste(im.convert(mode), mask=im.getchannel("A"))
            return flat
        return im.convert(mode)


def _is_grey(mode: str) -> bool:
    return mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;16")


def _output_mode(mode: str, fmt: str) -> str:
    if fmt == "jpeg":
        return "L" if mode in ("L", "LA") else "RGB"
    if fmt in ("webp", "avif", "gif"):  # libwebp and libavif encode RGB(A); GIF palettes from it
        return "RGBA" if mode in ("LA", "RGBA") else "RGB"
    return mode  # PNG keeps L, LA, RGB, RGBA


def _save_options(spec: Variant, mode: str, icc: bytes | None, icc_mode: str) -> dict[str, Any]:
    """Pillow ``save`` options for one spec: quality, encoder effort, the source's ICC profile."""
    effort = spec.resolved_effort
    options: dict[str, Any]
    if spec.format == "jpeg":
        options = {"quality": spec.quality, "optimize": bool(effort)}
    elif spec.format == "webp":
        options = {"quality": spec.quality, "method": effort}
    elif spec.format == "avif":
        options = avif_options(spec.quality, effort)
    elif spec.format == "gif":
        options = {"optimize": bool(effort)}
    else:
        options = {"compress_level": effort}
    if icc and _is_grey(mode) == _is_grey(icc_mode):
        options["icc_profile"] = icc  # keep the colour space; drop it after a mode change
    return options


def _source_icc(base: PILImage, info: ImageInfo) -> bytes | None:
    """The ICC profile variants carry: what :func:`_manage_profile` kept (at most
    :data:`ICC_MAX_BYTES`), unless the source's mode had no RGB/grey meaning."""
    return base.info.get("icc_profile") if info.mode not in ("CMYK", "YCbCr", "LAB") else None


def _encode(plan: _Plan, derived: _Derived, icc: bytes | None, icc_mode: str) -> EncodedVariant:
    spec = plan.spec
    if spec.format == "webp" and max(plan.size) > WEBP_MAX_DIMENSION:
        raise PermanentImageError(
            f"variant '{spec.name}': WebP cannot exceed {WEBP_MAX_DIMENSION} px per side, the image "
            f"is {plan.size[0]}×{plan.size[1]}; set max_width/max_height on the variant"
        )
    try:
        shared = derived.get(plan)
        # Image.save() keeps its options on the Image object (encoderinfo), so two threads saving
        # one object race (a q60 variant came out at q85). A wrapper per encode shares the
        # pixels (read-only here) without copying them.
        im = shared._new(shared.im)
        effort = spec.resolved_effort
        options = _save_options(spec, im.mode, icc, icc_mode)
        direct = None
        if spec.format == "webp" and shared is derived.base:  # full size: skip Pillow's ARGB copy
            from function import webp_direct

            with derived.whole_image_encoder:
                direct = webp_direct.encode(shared, spec.quality, effort, options.get("icc_profile"))
        elif spec.format == "png" and im.mode in png_fast.COLOUR_MODES:
            # Up filter + libdeflate: half Pillow's CPU at equal or smaller size for colour images
            # (greyscale comes out ~3% larger, so L/LA stay with Pillow's adaptive filters).
            with derived.whole_image_encoder:
                direct = png_fast.encode(im, effort, options.get("icc_profile"))
        buf = io.BytesIO(direct) if direct is not None else io.BytesIO()
        if direct is None:
            _save(im, buf, spec.format, options)
        size = im.size
    except (OSError, ValueError) as exc:
        raise PermanentImageError(f"variant '{spec.name}': cannot encode {spec.format}: {exc}") from exc
    finally:
        derived.release(plan)
    info = VariantInfo(
        spec.name, spec.format, size[0], size[1], buf.getbuffer().nbytes, spec.content_type, spec.extension
    )
    return EncodedVariant(spec, info, buf)


AVIF_CODEC = "svt"
"""libavif's encoder for AVIF variants: SVT-AV1 (pillow-avif-plugin's libavif)."""
AVIF_FALLBACK_CODEC = "aom"
"""For what SVT-AV1 cannot encode: sides under 4 px (see :func:`_save`)."""


def avif_options(quality: int, effort: int) -> dict[str, Any]:
    """Pillow's AVIF save options for a variant: ``effort`` 0..10 is libavif speed ``10 - effort``.

    One encoder thread: variants already encode in parallel, one per worker (the encoder's extra
    threads would compete with the other variants for the same vCPUs).
    """
    return {"quality": quality, "speed": 10 - effort, "max_threads": 1, "codec": AVIF_CODEC}


LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives one full vCPU per 1,769 MB of memory (up to 6 at 10,240 MB)."""


def default_threads() -> int:
    """Encoder threads: the CPUs this process may run on, bounded by the vCPUs Lambda's memory
    setting buys (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``; the OS may show more cores than the
    function's share), capped at :data:`MAX_THREADS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        cpus = min(cpus, -(-int(memory) // LAMBDA_MB_PER_VCPU))
    return max(1, min(cpus, MAX_THREADS))


def render_variants(
    data: Source,
    specs: Sequence[Variant],
    max_pixels: int,
    threads: int | None = None,
    sink: Callable[[EncodedVariant], None] | None = None,
    max_animation_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS,
) -> ImageInfo:
    """Validate, decode once and encode every variant; see the module docstring."""
    if not specs:
        raise ValueError("render_variants: no variant specs given")
    base, info, scale, source = _decode(data, specs, max_pixels)
    icc = _source_icc(base, info)
    by_cost = sorted(_plans(specs, info.width, info.height), key=lambda p: -p.cost)
    plans = _schedule(by_cost, info.width, info.height)
    moving = [p for p in plans if info.animated and p.spec.format in ANIMATED_OUTPUTS]
    animations: dict[str, _Animation] = {}
    if moving:
        if base is source:
            base = base.copy()  # reading more frames reuses the source's pixel buffer
        keep = animation_frames(info.frames, *source.size, max_animation_pixels)
        try:
            animations = _read_animation(source, info, moving, keep)
        except MemoryError:
            raise
        except Exception as exc:  # a frame past the first is broken
            raise PermanentImageError(f"corrupt or truncated {info.format.upper()} animation: {exc}") from exc
        plans = [p for p in plans if p not in moving]
    del source
    if _full_size_webp(plans, base.size):
        from function import webp_direct

        base = webp_direct.adopt(base)  # no-op when decoded into our buffer already
    derived = _Derived(base, scale, plans)
    del base
    results: dict[str, VariantInfo] = {}

    def deliver(encoded: EncodedVariant) -> None:
        results[encoded.spec.name] = encoded.info
        if sink is not None:
            sink(encoded)

    jobs: list[Callable[[], EncodedVariant]] = [
        functools.partial(_encode_animation, plan, animations.pop(plan.spec.name)) for plan in moving
    ]
    jobs += [functools.partial(_encode, plan, derived, icc, info.mode) for plan in plans]
    workers = min(threads or default_threads(), len(jobs))
    if workers <= 1:
        for job in jobs:
            deliver(job())
    else:
        # Imported here: a one-variant render (the API's cold path) never starts a pool.
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encode") as pool:
            pending: set[Future[EncodedVariant]] = {pool.submit(job) for job in jobs}
            jobs.clear()  # the pool holds them; done ones (and their frames) can be freed
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        deliver(future.result())  # the sink runs here, on the calling thread
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    info.variants = [results[spec.name] for spec in specs]
    return info


def process(
    data: Source,
    specs: Sequence[Variant],
    max_pixels: int,
    threads: int | None = None,
    max_animation_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS,
) -> tuple[ImageInfo, list[EncodedVariant]]:
    """:func:`render_variants` returning every :class:`EncodedVariant`, in spec order."""
    out: dict[str, EncodedVariant] = {}
    info = render_variants(
        data, specs, max_pixels, threads, lambda v: out.__setitem__(v.spec.name, v), max_animation_pixels
    )
    return info, [out[spec.name] for spec in specs]


def render(
    data: Source,
    *,
    width: int | None,
    height: int | None,
    fit: str = "inside",
    fmt: str = "jpeg",
    quality: int = 85,
    max_pixels: int,
    max_animation_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS,
) -> tuple[bytes, str, int, int]:
    """One rendition on demand: ``(encoded bytes, content type, width, height)``.

    ``width``/``height`` bound the output (``None`` = the source's; never upscaled), ``fit`` is
    ``inside``, ``cover`` (fills the box, cropping) or ``contain`` (``inside``, centred on a
    ``width`` x ``height`` canvas: transparent for PNG/WebP, white for JPEG); cover and contain
    need both. ``fmt`` ``jpeg``/``jpg``/``png``/``webp``/``avif``/``gif``, ``quality`` 1..100.
    Parameters are checked by the same rules as stack config variants. An animated source stays
    animated in WebP and GIF (``inside``/``cover``; ``contain`` takes the first frame), up to
    ``max_animation_pixels`` frames × pixels.
    """
    from function.variants import parse_variant

    raw: dict[str, Any] = {
        "name": "render",
        "format": fmt,
        "quality": quality,
        "fit": "inside" if fit == "contain" else fit,
    }
    if width is not None:
        raw["max_width"] = width
    if height is not None:
        raw["max_height"] = height
    try:
        if fit not in ("inside", "cover", "contain"):
            raise ValueError(f"render: 'fit' must be 'inside', 'cover' or 'contain', got {fit!r}")
        if fit == "contain" and (width is None or height is None):
            raise ValueError("variant 'render': fit 'contain' needs both max_width and max_height")
        spec = parse_variant(raw)
    except ValueError as exc:
        raise ValueError(str(exc).replace("variant 'render'", "render").replace("max_", "")) from exc
    if fit != "contain":
        variant = process(data, (spec,), max_pixels, 1, max_animation_pixels)[1][0]
        return variant.data, variant.info.content_type, variant.info.width, variant.info.height
    assert width is not None and height is not None  # checked above
    return _render_contain(data, spec, (width, height), max_pixels, max_animation_pixels)


def _render_contain(
    data: Source, spec: Variant, box: tuple[int, int], max_pixels: int, max_animation_pixels: int
) -> tuple[bytes, str, int, int]:
    """``inside``, centred on a canvas (:func:`function.geometry.contain`: the box, shrunk to at
    most the source's pixel count): one decode, one encode."""
    base, info, scale = decode(data, (spec,), max_pixels)
    icc = _source_icc(base, info)
    canvas_size, picture_size = geometry.contain(info.width, info.height, *box)
    inside = replace(spec, max_width=canvas_size[0], max_height=canvas_size[1])
    if canvas_size == picture_size:
        # Nothing to pad: exactly the ``inside`` rendition (the route caches it under that
        # name), animation included, so it is made by the inside path (a second decode).
        del base
        variant = process(data, (inside,), max_pixels, 1, max_animation_pixels)[1][0]
        return variant.data, variant.info.content_type, variant.info.width, variant.info.height
    plan = _plans((inside,), info.width, info.height)[0]  # plan.size == picture_size
    derived = _Derived(base, scale, [plan])
    try:
        picture = derived.get(plan)
        mode = "RGB" if spec.format == "jpeg" else "RGBA"
        background = (255, 255, 255) if mode == "RGB" else (0, 0, 0, 0)
        canvas = Image.new(mode, canvas_size, background)
        # A plain paste: the picture is already composited on white for JPEG, and on a
        # transparent canvas copying its alpha is exact (a masked paste would square it).
        offset = ((canvas_size[0] - plan.size[0]) // 2, (canvas_size[1] - plan.size[1]) // 2)
        canvas.paste(picture.convert(mode), offset)
        buf = io.BytesIO()
        _save(canvas, buf, spec.format, _save_options(spec, mode, icc, info.mode))
    except (OSError, ValueError) as exc:
        raise PermanentImageError(f"render: cannot encode {spec.format}: {exc}") from exc
    finally:
        derived.release(plan)
    return buf.getvalue(), spec.content_type, canvas_size[0], canvas_size[1]
