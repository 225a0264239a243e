"""Where the peak RSS goes: decode alone, then decode + one encoder, each in a fresh process.

    python -m bench.memory [IMAGE]      # default: the cached 12 MP photo

Every row is its own interpreter, so each figure is that step's own high-water mark (VmHWM).
It explains ``rss_ratio_vs_naive``: whatever the handler does, it holds the decoded image while
the largest full-size encoder runs, so that encoder's extra memory sets the floor.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import images
from bench.modes import _rss_mb
from function.variants import DEFAULT_EFFORT

ROOT = Path(__file__).resolve().parent.parent
DIRECT = "webp-direct"
# (label, format, save options): Pillow defaults as naive uses them, then imgpipe's efforts.
STEPS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "decode only": (None, {}),
    "jpeg q85": ("JPEG", {"quality": 85}),
    "webp q85 (default method 4)": ("WEBP", {"quality": 85}),
    f"webp q85 method {DEFAULT_EFFORT['webp']}": ("WEBP", {"quality": 85, "method": DEFAULT_EFFORT["webp"]}),
    # imgpipe's own path: decode into a buffer libwebp reads directly (function.webp_direct).
    f"webp q85 m{DEFAULT_EFFORT['webp']} direct (imgpipe)": (DIRECT, {"quality": 85}),
    "png (default level 6)": ("PNG", {}),
    f"png compress_level {DEFAULT_EFFORT['png']}": ("PNG", {"compress_level": DEFAULT_EFFORT["png"]}),
}


def step(image: Path, label: str) -> dict[str, float]:
    """Run one step in this process; call from a fresh interpreter."""
    from PIL import Image

    data = image.read_bytes()
    baseline = _rss_mb()
    fmt, options = STEPS[label]
    im = Image.open(io.BytesIO(data))
    if fmt == DIRECT:
        from function import webp_direct

        if not webp_direct.map_before_load(im):
            raise SystemExit("function.webp_direct cannot map this image (libwebp not found?)")
    im.load()
    decoded = _rss_mb()
    out = 0
    if fmt == DIRECT:
        encoded = webp_direct.encode(im, options["quality"], DEFAULT_EFFORT["webp"], None)
        if encoded is None:
            raise SystemExit("function.webp_direct.encode declined the image")
        out = len(encoded)
    elif fmt is not None:
        buf = io.BytesIO()
        im.save(buf, fmt, **options)
        out = buf.tell()
    return {"baseline_mb": baseline, "decoded_mb": decoded, "peak_mb": _rss_mb(), "output_mb": out / 1e6}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--step"] and len(args) == 3:
        print(json.dumps(step(Path(args[2]), args[1])))
        return 0
    if len(args) > 1:
        print("usage: python -m bench.memory [IMAGE]", file=sys.stderr)
        return 2
    image = Path(args[0]) if args else images.ensure_image("12", ROOT / ".bench")
    if not image.is_file():
        print(f"no such image: {image}", file=sys.stderr)
        return 2
    print(f"{image.name}: peak RSS (MB) per step, each in a fresh process")
    print(f"{'step':<28} {'baseline':>8} {'decoded':>8} {'peak':>6} {'+encode':>8} {'out MB':>7}")
    for label in STEPS:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.memory", "--step", label, str(image)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            print(f"{label:<28} n/a: {reason}")
            continue
        r = json.loads(proc.stdout)
        print(
            f"{label:<28} {r['baseline_mb']:>8.0f} {r['decoded_mb']:>8.0f} {r['peak_mb']:>6.0f} "
            f"{r['peak_mb'] - r['decoded_mb']:>8.0f} {r['output_mb']:>7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
