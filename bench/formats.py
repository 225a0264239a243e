"""The formats rows of ``make bench``: AVIF encode against WebP, HEIC and AVIF decode.

    python -m bench.formats IMAGE CACHE_DIR   # prints one JSON line (run in a fresh process)

On the bench photo (``IMAGE``, a JPEG):

* ``webp`` / ``avif`` / ``avif_q85`` — one full-size variant through
  :func:`function.imaging.render_variants` at its default effort (WebP method 0; AVIF effort 0 =
  libavif speed 10 with SVT-AV1, the fastest) and the quality a variant gets when config names
  none (WebP 85, AVIF 64: the AVIF quality with WebP q85's PSNR), plus AVIF at 85. One thread
  each; the figure is the encode step alone (decoding the JPEG is the same for all), with the
  output's PSNR against the decoded photo. ``avif ÷ webp`` CPU is the number the default AVIF
  speed was chosen by (target ≤ 2).
* ``heic_decode`` / ``avif_decode`` — opening and decoding the same photo stored as HEIC
  (pillow-heif, x265, q90) and as AVIF (q90), as the pipeline does.
* ``heic_pipeline`` — the five default variants from the HEIC, against the same from the JPEG
  (``jpeg_pipeline``): what an iPhone upload costs compared with a JPEG one.

Wall and CPU seconds each; the ratios use CPU seconds, which other load on a shared machine
disturbs less than wall time. The HEIC and AVIF copies are written once into ``CACHE_DIR``.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from function.variants import DEFAULT_VARIANTS, Variant, parse_variant

MAX_PIXELS = 100_000_000
ENCODES: dict[str, Variant] = {
    # what `{"name": …, "format": …}` without a quality becomes
    "webp": parse_variant({"name": "webp", "format": "webp"}),
    "avif": parse_variant({"name": "avif", "format": "avif"}),
    "avif_q85": parse_variant({"name": "avif-q85", "format": "avif", "quality": 85}),
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    cpu, wall = _cpu(), time.perf_counter()
    result = fn()
    return {"wall_seconds": time.perf_counter() - wall, "cpu_seconds": _cpu() - cpu}, result


def encoded_copy(image: Path, fmt: str, cache_dir: Path) -> Path:
    """The bench photo re-encoded as ``heif`` or ``avif`` (q90), cached next to it."""
    from PIL import Image

    path = cache_dir / f"{image.stem}.{'heic' if fmt == 'heif' else fmt}"
    if not path.is_file():
        if fmt == "heif":
            from pillow_heif import register_heif_opener

            register_heif_opener()
        with Image.open(image) as im:
            tmp = path.with_name(path.name + ".tmp")
            im.save(tmp, "HEIF" if fmt == "heif" else "AVIF", quality=90)
        tmp.replace(path)
    return path


def psnr(reference: Any, data: bytes) -> float:
    """PSNR in dB of the encoded ``data`` against ``reference`` (an RGB image), over R, G and B."""
    import math

    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(data)) as im:
        histogram = ImageChops.difference(reference, im.convert("RGB")).histogram()
    squared = sum(count * (index % 256) ** 2 for index, count in enumerate(histogram))
    mse = squared / (reference.width * reference.height * 3)
    return round(10 * math.log10(255**2 / mse), 2) if mse else math.inf


def _encode_step(data: bytes, spec: Variant, reference: Any) -> dict[str, Any]:
    """One variant through the real code; the encode step's own wall and CPU time."""
    from function import imaging

    step: dict[str, Any] = {"quality": spec.quality, "effort": spec.resolved_effort}
    encoded: list[bytes] = []
    original = imaging._encode

    def timed(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = _cpu(), time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:  # threads=1: this thread's CPU is the encode's
            step.update(wall_seconds=time.perf_counter() - wall, cpu_seconds=_cpu() - cpu)

    imaging._encode = timed
    try:
        info = imaging.render_variants(
            io.BytesIO(data), (spec,), MAX_PIXELS, threads=1, sink=lambda v: encoded.append(v.data)
        )
    finally:
        imaging._encode = original
    return {**step, "bytes": info.variants[0].bytes, "psnr_db": psnr(reference, encoded[0])}


def _decode(path: Path) -> dict[str, Any]:
    from function import imaging

    data = path.read_bytes()
    figures, (_, info, _) = _timed(lambda: imaging.decode(io.BytesIO(data), DEFAULT_VARIANTS, MAX_PIXELS))
    return {**figures, "bytes": len(data), "format": info.format}


def _pipeline(path: Path) -> dict[str, Any]:
    from function import imaging

    data = path.read_bytes()
    figures, info = _timed(lambda: imaging.render_variants(io.BytesIO(data), DEFAULT_VARIANTS, MAX_PIXELS))
    return {**figures, "bytes": sum(v.bytes for v in info.variants)}


def measure(image: Path, cache_dir: Path) -> dict[str, Any]:
    heic, avif = encoded_copy(image, "heif", cache_dir), encoded_copy(image, "avif", cache_dir)
    from PIL import Image

    import function.imaging  # noqa: F401  (imports outside the timings)

    data = image.read_bytes()
    with Image.open(image) as im:
        reference = im.convert("RGB")
    rows: dict[str, Any] = {name: _encode_step(data, spec, reference) for name, spec in ENCODES.items()}
    rows["heic_decode"] = _decode(heic)
    rows["avif_decode"] = _decode(avif)
    rows["jpeg_pipeline"] = _pipeline(image)
    rows["heic_pipeline"] = _pipeline(heic)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.formats IMAGE CACHE_DIR", file=sys.stderr)
        return 2
    print(json.dumps(measure(Path(args[0]), Path(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
