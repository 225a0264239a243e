"""The three ways the benchmark renders the default variants, each run in a fresh process.

    python -m bench.modes MODE IMAGE    # prints one JSON line: timings, output sizes, peak RSS

* ``naive`` — what a first Lambda usually does: decode the upload again for every variant,
  default encoder settings (``img.save(buf, fmt, quality=q)``), thumbnail with LANCZOS from the
  full-size image.
* ``imgpipe`` — the real handler's image code, :func:`function.imaging.render_variants` (no AWS).
* ``pyvips`` — the same variants through libvips: ``jpegsave``/``webpsave``/``pngsave`` at their
  defaults and ``thumbnail`` (shrink-on-load) for resized variants.
* ``pyvips-tuned`` — libvips at imgpipe's settings and its own best pipeline: the variant set's
  qualities and encoder efforts (WebP ``effort``, PNG ``compression`` and the same "Up" filter,
  JPEG ``optimize_coding`` as imgpipe's JPEG effort), one decode shared by the full-size saves,
  shrink-on-load thumbnails, and as many libvips threads as imgpipe's encoder threads.

naive and pyvips get the upload as bytes (``get_object()["Body"].read()``); imgpipe gets it as
an open file, because the real handler spools the S3 body to ``/tmp`` and passes the file (the
encoded source is then not held in memory). Wall time runs from there to the last encoded
variant; imports and reading/spooling the file are outside it (the cold import is measured
separately by :mod:`bench.run`).
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from function.variants import DEFAULT_VARIANTS, Variant

MODES = ("naive", "imgpipe", "pyvips", "pyvips-tuned")
MAX_PIXELS = 100_000_000  # above the 24 MP image: the benchmark measures speed, not the limit
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

Result = dict[str, Any]


def _rss_mb() -> float:
    """This process's peak RSS in MB.

    Linux's ``VmHWM`` belongs to the address space exec'd here. ``ru_maxrss`` is not usable in a
    child: exec keeps the high-water mark of the address space it replaced (under ``vfork`` the
    parent's), so every mode reported the same inherited figure.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: KiB on Linux and BSD


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fit_inside(spec: Variant, size: tuple[int, int]) -> tuple[int, int]:
    return (spec.max_width or size[0], spec.max_height or size[1])


def run_naive(data: bytes, specs: tuple[Variant, ...]) -> Result:
    from PIL import Image, ImageOps

    variants: dict[str, dict[str, Any]] = {}
    for spec in specs:
        start = time.perf_counter()
        img: Image.Image = Image.open(io.BytesIO(data))
        img.load()  # a full decode per variant: the naive handler's biggest waste
        if spec.max_width or spec.max_height:
            if spec.fit == "cover":
                img = ImageOps.fit(img, _fit_inside(spec, img.size), Image.Resampling.LANCZOS)
            else:
                # reducing_gap=None: plain LANCZOS over every source pixel, no box pre-reduction.
                img.thumbnail(_fit_inside(spec, img.size), Image.Resampling.LANCZOS, reducing_gap=None)
        if spec.format == "jpeg" and img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        buf = io.BytesIO()
        img.save(buf, _PIL_FORMAT[spec.format], quality=spec.quality)
        variants[spec.name] = {
            "seconds": time.perf_counter() - start,
            "bytes": buf.getbuffer().nbytes,
            "width": img.width,
            "height": img.height,
        }
    return {"variants": variants}


def run_imgpipe(data: bytes | BinaryIO, specs: tuple[Variant, ...]) -> Result:
    from function import imaging  # here, not at the top: the other modes never load it

    # Per-step timings without changing the code path: wrap the module's decode and per-variant
    # encode functions when they exist (they run on worker threads, so their times overlap).
    steps: dict[str, float] = {}

    def record_encode(args: tuple[Any, ...], secs: float) -> None:
        spec = getattr(args[0], "spec", None) if args else None
        if spec is not None:  # private helper: skip the per-variant figure if its shape changes
            steps[spec.name] = secs

    _wrap(imaging, "decode", lambda args, secs: steps.__setitem__("decode", secs))
    _wrap(imaging, "_encode", record_encode)
    uploaded: dict[str, int] = {}

    def sink(encoded: Any) -> None:
        # Stands in for the S3 upload: reads the buffer once, then the handler drops it.
        uploaded[encoded.spec.name] = len(encoded.stream().getbuffer())

    info = imaging.render_variants(data, specs, MAX_PIXELS, sink=sink)
    variants = {
        v.name: {"seconds": steps.get(v.name), "bytes": v.bytes, "width": v.width, "height": v.height}
        for v in info.variants
    }
    if uploaded != {name: v["bytes"] for name, v in variants.items()}:
        raise SystemExit(f"imgpipe sink saw {uploaded}, info says {variants}")
    return {"variants": variants, "decode_seconds": steps.get("decode"), "threads": imaging.default_threads()}


def _wrap(module: Any, name: str, record: Callable[[tuple[Any, ...], float], None]) -> None:
    original = getattr(module, name, None)
    if original is None:
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            record(args, time.perf_counter() - start)

    setattr(module, name, timed)


def run_pyvips(data: bytes, specs: tuple[Variant, ...], tuned: bool = False) -> Result:
    import pyvips

    variants: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    # libvips decodes lazily; copy_memory() decodes once here so full-size saves share the pixels.
    full = pyvips.Image.new_from_buffer(data, "").copy_memory()
    decode_seconds = time.perf_counter() - start
    for spec in specs:
        start = time.perf_counter()
        if spec.max_width or spec.max_height:
            # thumbnail_buffer uses shrink-on-load (libjpeg DCT scaling), libvips' fast path.
            w, h = _fit_inside(spec, (full.width, full.height))
            crop = "centre" if spec.fit == "cover" else "none"
            img = pyvips.Image.thumbnail_buffer(data, w, height=h, size="down", crop=crop)
        else:
            img = full
        if tuned:
            out = _tuned_save(img, spec)
        elif spec.format == "jpeg":
            out = img.jpegsave_buffer(Q=spec.quality)
        elif spec.format == "webp":
            out = img.webpsave_buffer(Q=spec.quality)
        else:
            out = img.pngsave_buffer()
        variants[spec.name] = {
            "seconds": time.perf_counter() - start,
            "bytes": len(out),
            "width": img.width,
            "height": img.height,
        }
    return {"variants": variants, "decode_seconds": decode_seconds}


def _tuned_save(img: Any, spec: Variant) -> bytes:
    """libvips' save at the settings imgpipe uses for ``spec`` (same quality and effort)."""
    effort = spec.resolved_effort
    if spec.format == "jpeg":
        return bytes(img.jpegsave_buffer(Q=spec.quality, optimize_coding=bool(effort)))
    if spec.format == "webp":
        return bytes(img.webpsave_buffer(Q=spec.quality, effort=effort))
    # imgpipe's PNG: every row filtered "Up", deflate at the effort's level (function/png_fast.py).
    return bytes(img.pngsave_buffer(compression=effort, filter="up"))


def run_pyvips_tuned(data: bytes, specs: tuple[Variant, ...]) -> Result:
    return run_pyvips(data, specs, tuned=True)


RUNNERS: dict[str, Callable[[bytes, tuple[Variant, ...]], Result]] = {
    "naive": run_naive,
    "imgpipe": run_imgpipe,
    "pyvips": run_pyvips,
    "pyvips-tuned": run_pyvips_tuned,
}


def measure(mode: str, image: Path, specs: tuple[Variant, ...] = DEFAULT_VARIANTS) -> Result:
    """Run one mode once in this process and return its figures (call from a fresh process)."""
    if mode not in RUNNERS:
        raise SystemExit(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    runner = RUNNERS[mode]
    data: bytes | BinaryIO = Path(image).read_bytes()
    if mode == "imgpipe":
        data = open(image, "rb")  # noqa: SIM115  (closed below; the handler passes its /tmp spool)
    if mode.startswith("pyvips"):
        import pyvips  # (library load outside the timing, like Pillow's import)

        if mode == "pyvips-tuned":
            from function.imaging import default_threads

            pyvips.concurrency_set(default_threads())  # imgpipe's encoder threads
    else:
        import PIL.Image  # noqa: F401
    if mode == "imgpipe":
        import function.imaging  # noqa: F401
    rss_before = _rss_mb()
    cpu_before = _cpu_s()
    start = time.perf_counter()
    try:
        # only imgpipe's runner is handed a file (RUNNERS is typed for the bytes the others take)
        result = runner(data, specs)  # type: ignore[arg-type]
    finally:
        if not isinstance(data, bytes):
            data.close()
    result["wall_seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = _cpu_s() - cpu_before
    result["peak_rss_mb"] = _rss_mb()
    result["rss_before_mb"] = rss_before
    result["output_bytes"] = sum(v["bytes"] for v in result["variants"].values())
    result["mode"] = mode
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(f"usage: python -m bench.modes {'|'.join(MODES)} IMAGE", file=sys.stderr)
        return 2
    print(json.dumps(measure(args[0], Path(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
