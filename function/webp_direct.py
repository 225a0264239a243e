"""Full-size WebP without Pillow's extra ARGB copy: libwebp called directly on our pixels.

Why: Pillow's WebP encoder copies the image into a 32-bit ARGB picture and libwebp then
converts that to YUV, so a 12 MP WebP needs ~79 MB on top of the decoded image — the largest
single cost in the function's peak memory (and Lambda bills memory × time). libwebp can import
RGB(X)/RGBA rows straight to YUV when ``use_argb`` is 0; that needs the pixels in one buffer
we own. So the decoded image lives in a ``bytearray`` (Pillow stores RGB as 4 bytes per pixel,
i.e. RGBX rows, so :func:`Image.core.map_buffer` can put an ``RGB`` image over it) and
:func:`encode` hands that buffer to the same libwebp Pillow loaded (``PIL._webp``'s
dependencies, found through ``dlopen``). Measured on the bench photo: identical output bytes,
WebP step 79 MB → 25 MB.

Everything degrades to Pillow's encoder: :func:`encode` returns ``None`` when the image is not
buffer-backed or libwebp cannot be loaded, and the caller saves through Pillow as before.
``IMGPIPE_WEBP_DIRECT=0`` turns the direct path off.
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
from typing import Any

from PIL import Image

_ABI = 0x020F  # WEBP_ENCODER_ABI_VERSION of libwebp 1.x; only the major byte must match
_METHOD_OFFSET = 8  # WebPConfig: int lossless; float quality; int method; ... (stable since 0.1)
_ATTR = "_imgpipe_backing"


class _Picture(ctypes.Structure):
    """``WebPPicture`` from libwebp's ``encode.h`` (encoder ABI 2.x)."""

    _fields_ = (
        ("use_argb", ctypes.c_int),
        ("colorspace", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("y", ctypes.c_void_p),
        ("u", ctypes.c_void_p),
        ("v", ctypes.c_void_p),
        ("y_stride", ctypes.c_int),
        ("uv_stride", ctypes.c_int),
        ("a", ctypes.c_void_p),
        ("a_stride", ctypes.c_int),
        ("pad1", ctypes.c_uint32 * 2),
        ("argb", ctypes.c_void_p),
        ("argb_stride", ctypes.c_int),
        ("pad2", ctypes.c_uint32 * 3),
        ("writer", ctypes.c_void_p),
        ("custom_ptr", ctypes.c_void_p),
        ("extra_info_type", ctypes.c_int),
        ("extra_info", ctypes.c_void_p),
        ("stats", ctypes.c_void_p),
        ("error_code", ctypes.c_int),
        ("progress_hook", ctypes.c_void_p),
        ("user_data", ctypes.c_void_p),
        ("pad3", ctypes.c_uint32 * 3),
        ("pad4", ctypes.c_void_p),
        ("pad5", ctypes.c_void_p),
        ("pad6", ctypes.c_uint32 * 8),
        ("memory_", ctypes.c_void_p),
        ("memory_argb_", ctypes.c_void_p),
        ("pad7", ctypes.c_void_p * 2),
    )


class _MemoryWriter(ctypes.Structure):
    _fields_ = (
        ("mem", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
        ("max_size", ctypes.c_size_t),
        ("pad", ctypes.c_uint32 * 1),
    )


@functools.cache
def libwebp() -> Any | None:
    """The libwebp Pillow uses, with argument types set; ``None`` if unavailable or disabled."""
    if os.environ.get("IMGPIPE_WEBP_DIRECT", "1") == "0":
        return None
    try:
        from PIL import _webp

        lib = ctypes.CDLL(_webp.__file__)  # dlsym on this handle also searches its libwebp
        vp, c_int = ctypes.c_void_p, ctypes.c_int
        lib.WebPGetEncoderVersion.restype = c_int
        lib.WebPConfigInitInternal.argtypes = (vp, c_int, ctypes.c_float, c_int)
        lib.WebPPictureInitInternal.argtypes = (vp, c_int)
        lib.WebPPictureImportRGBX.argtypes = (vp, vp, c_int)
        lib.WebPPictureImportRGBA.argtypes = (vp, vp, c_int)
        lib.WebPEncode.argtypes = (vp, vp)
        for name in ("WebPMemoryWriterInit", "WebPMemoryWriterClear", "WebPPictureFree"):
            getattr(lib, name).argtypes = (vp,)
            getattr(lib, name).restype = None
        if lib.WebPGetEncoderVersion() < 0x010000:  # the layout above is libwebp ≥ 1.0
            return None
        return lib
    except (ImportError, OSError, AttributeError):
        return None


def _backed(im: Image.Image, buf: bytearray) -> Image.Image:
    setattr(im, _ATTR, (im.im, buf))
    return im


def map_before_load(im: Image.Image) -> bool:
    """Make ``im`` (opened, not loaded, RGB/RGBA) decode into a buffer we own. True if done."""
    if im.mode not in ("RGB", "RGBA") or not getattr(im, "tile", None) or libwebp() is None:
        return False  # no tiles = nothing to decode: let load() raise its "cannot load" error
    try:
        buf = bytearray(im.size[0] * im.size[1] * 4)
        im.im = Image.core.map_buffer(buf, im.size, "raw", 0, (im.mode, 0, 1))
    except Exception:  # an unexpected Pillow internals change: decode the usual way
        return False
    _backed(im, buf)
    return True


def buffer_of(im: Image.Image) -> bytearray | None:
    """The buffer under ``im``'s pixels, if it is still ours (not replaced by a transform)."""
    backing = getattr(im, _ATTR, None)
    return backing[1] if backing is not None and backing[0] is im.im else None


def adopt(im: Image.Image) -> Image.Image:
    """``im`` itself when buffer-backed, else a buffer-backed copy (RGB/RGBA only)."""
    if buffer_of(im) is not None or im.mode not in ("RGB", "RGBA") or libwebp() is None:
        return im
    buf = bytearray(im.size[0] * im.size[1] * 4)
    copy = im._new(Image.core.map_buffer(buf, im.size, "raw", 0, (im.mode, 0, 1)))
    copy.paste(im, (0, 0))
    return _backed(copy, buf)


def encode(im: Image.Image, quality: int, method: int, icc: bytes | None) -> bytes | None:
    """Lossy WebP of a buffer-backed RGB/RGBA image, or ``None`` to use Pillow instead."""
    buf, lib = buffer_of(im), libwebp()
    if buf is None or lib is None or im.mode not in ("RGB", "RGBA"):
        return None
    width, height = im.size
    config = (ctypes.c_char * 256)()  # WebPConfig is ~30 ints; 256 bytes leaves room
    picture, writer = _Picture(), _MemoryWriter()
    if not lib.WebPConfigInitInternal(config, 0, float(quality), _ABI):
        return None
    ctypes.c_int.from_buffer(config, _METHOD_OFFSET).value = method
    if not lib.WebPPictureInitInternal(ctypes.byref(picture), _ABI):
        return None
    picture.use_argb, picture.width, picture.height = 0, width, height
    pixels = (ctypes.c_char * len(buf)).from_buffer(buf)
    lib.WebPMemoryWriterInit(ctypes.byref(writer))
    try:
        importer = lib.WebPPictureImportRGBA if im.mode == "RGBA" else lib.WebPPictureImportRGBX
        if not importer(ctypes.byref(picture), pixels, width * 4):
            raise MemoryError("libwebp could not allocate the picture")
        picture.writer = ctypes.cast(lib.WebPMemoryWrite, ctypes.c_void_p).value
        picture.custom_ptr = ctypes.addressof(writer)
        if not lib.WebPEncode(config, ctypes.byref(picture)):
            raise OSError(f"libwebp could not encode the image (error {picture.error_code})")
        data = ctypes.string_at(writer.mem, writer.size)
    finally:
        lib.WebPMemoryWriterClear(ctypes.byref(writer))
        lib.WebPPictureFree(ctypes.byref(picture))
        del pixels  # release the export so the bytearray can be freed
    return with_icc(data, icc, width, height) if icc else data


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def with_icc(data: bytes, icc: bytes, width: int, height: int) -> bytes:
    """Add an ICCP chunk (extended format: VP8X with the ICC flag), as Pillow's mux does."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP RIFF file")
    body = data[12:]
    iccp = _chunk(b"ICCP", icc)
    if body[:4] == b"VP8X":
        size = struct.unpack("<I", body[4:8])[0]
        vp8x = bytearray(body[: 8 + size])
        vp8x[8] |= 0x20
        chunks = bytes(vp8x) + iccp + body[8 + size :]
    else:
        flags = 0x20
        canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks = _chunk(b"VP8X", bytes((flags, 0, 0, 0)) + canvas) + iccp + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
