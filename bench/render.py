"""The render row: ``GET /images/{id}/render``'s image work, imgpipe against libvips.

    python -m bench.render IMAGE [--repeats 5]

A 12 MP JPEG becomes a 400 px wide JPEG (q80, the route's default quality), in a fresh
interpreter per run, so each figure includes loading the library: imgpipe's
:func:`function.imaging.render` (what the render Lambda calls on a cache miss) against
``pyvips.Image.thumbnail_buffer`` + ``jpegsave_buffer`` (libvips' fastest path: shrink-on-load).
``cold_ms`` runs from before the import to the encoded bytes (``cold_cpu_ms``: the CPU time of
the same span, steadier on a busy machine); ``warm_ms`` is a second render in the same process.
The source bytes are read before the clock starts, as the Lambda has them from S3.
Interpreter start-up is the same for both and left out. Both load bytecode: pip compiled
pyvips' and Pillow's modules at install, and :func:`compile_sources` compiles imgpipe's, which
the interpreter would otherwise compile from source on every run where ``__pycache__`` cannot
be written (``PYTHONDONTWRITEBYTECODE``, a read-only tree).
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

WIDTH = 400
QUALITY = 80
MODES = ("imgpipe", "pyvips")

_SNIPPETS = {
    "imgpipe": (
        "from function import imaging",
        "out = imaging.render(data, width={w}, height=None, fmt='jpeg', quality={q}, "
        "max_pixels=100_000_000)[0]",
    ),
    "pyvips": (
        "import pyvips",
        "out = pyvips.Image.thumbnail_buffer(data, {w}, size='down').jpegsave_buffer(Q={q})",
    ),
}


def compile_sources(root: Path) -> None:
    """Write ``function/``'s bytecode, as pip does for an installed library (see the docstring)."""
    if not compileall.compile_dir(root / "function", quiet=1):
        raise RuntimeError(f"cannot compile {root / 'function'}: see the errors above")


def snippet(mode: str, image: Path) -> str:
    load, work = _SNIPPETS[mode]
    work = work.format(w=WIDTH, q=QUALITY)
    return (
        "import json, time\n"
        f"data = open({str(image)!r}, 'rb').read()\n"
        "t0, c0 = time.perf_counter(), time.process_time()\n"
        f"{load}\n"
        f"{work}\n"
        "t1, c1 = time.perf_counter(), time.process_time()\n"
        f"{work}\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'cold_ms': (t1 - t0) * 1000, 'warm_ms': (t2 - t1) * 1000,"
        " 'cold_cpu_ms': (c1 - c0) * 1000, 'bytes': len(out)}))\n"
    )


def run_once(mode: str, image: Path, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", snippet(mode, image)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"render bench {mode!r} failed: {(proc.stderr or proc.stdout).strip()[-600:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(image: Path, repeats: int, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Median cold/warm ms per mode (modes take turns within each repeat)."""
    compile_sources(cwd)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for _ in range(repeats):
        for mode in MODES:
            runs[mode].append(run_once(mode, image, cwd, env))
    return {
        mode: {
            "cold_ms": round(statistics.median(r["cold_ms"] for r in rs), 1),
            "warm_ms": round(statistics.median(r["warm_ms"] for r in rs), 1),
            "cold_cpu_ms": round(statistics.median(r["cold_cpu_ms"] for r in rs), 1),
            "bytes": rs[-1]["bytes"],
        }
        for mode, rs in runs.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.image, args.repeats, Path.cwd()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
