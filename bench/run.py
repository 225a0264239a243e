"""``make bench``: imgpipe against a naive handler and pyvips on photo-like 12 and 24 MP JPEGs.

    python -m bench [--sizes 12,24] [--repeats 5] [--quick] [--strict] [--out-dir .bench]

Each (size, repeat, mode) runs in a fresh interpreter (``python -m bench.modes``) so peak RSS
is that run's own and no mode warms caches for another; modes are interleaved per repeat so
machine noise hits them alike, and the median of the repeats is reported. Also measured: the
cold import of ``function.handler`` (fresh interpreter, median) and the Lambda cost per 1,000
images at the stack's memory size and architecture (``Pulumi.<STACK or dev>.yaml``). Writes
``results.json``, ``results.md`` (tables for docs/performance.md) and ``bench.png`` to
``--out-dir``, and
prints PASS/FAIL against the targets (exit status 0 unless ``--strict``). ``python -m
bench.memory`` breaks the peak RSS down by step.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import e2e as bench_e2e
from bench import images
from bench import render as bench_render
from bench.modes import MODES
from function.imaging import LAMBDA_MB_PER_VCPU
from function.variants import DEFAULT_VARIANTS, variants_json

ROOT = Path(__file__).resolve().parent.parent
# Lambda prices (us-east-1, 2026): per GB-second by architecture, and per request.
PRICE_GB_S = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
PRICE_REQUEST = 0.20 / 1_000_000
DEFAULT_MEMORY_MB = 1024
DEFAULT_ARCH = "arm64"
TARGETS = {
    # key: (comparison, threshold)
    "speedup_vs_naive": (">=", 2.5),
    "speedup_vs_pyvips": (">=", 1.5),
    "rss_ratio_vs_naive": ("<=", 0.55),
    "cold_import_ms": ("<=", 150.0),
    # The largest imgpipe ÷ naive output size over the variants (same quality setting).
    "max_size_ratio_vs_naive": ("<=", 1.10),
    # Full-size AVIF variant ÷ full-size WebP variant, encode CPU seconds, at their defaults
    # (bench/formats.py; the default AVIF speed was chosen by it).
    "avif_vs_webp_cpu": ("<=", 2.0),
    # libvips at imgpipe's own settings (bench.modes "pyvips-tuned"): CPU seconds are the bill.
    "cpu_ratio_vs_pyvips_tuned": ("<=", 1.0),
    "size_ratio_vs_pyvips_tuned": ("<=", 1.0),
    # GET /images/{id}/render's image work, 12 MP -> 400 px JPEG, cold process (bench.render).
    "render_ratio_vs_pyvips": ("<=", 1.0),
    # A 12 MP upload on the local stack to its done record, over the handler's own time (bench.e2e).
    "e2e_overhead_ratio": ("<=", 1.5),
}
FORMAT_ROWS = {
    "webp": "WebP variant encode (q85, method 0)",
    "avif": "AVIF variant encode (default q64, SVT-AV1 speed 10)",
    "avif_q85": "AVIF variant encode (q85, SVT-AV1 speed 10)",
    "heic_decode": "HEIC decode (pillow-heif)",
    "avif_decode": "AVIF decode (libavif/dav1d)",
    "jpeg_pipeline": "5 default variants from the JPEG",
    "heic_pipeline": "5 default variants from the HEIC",
}
# What the handler reads at import; values only need to be well formed (nothing is called).
HANDLER_ENV = {
    "PROCESSED_BUCKET": "bench-processed",
    "METADATA_TABLE": "bench-metadata",
    "VARIANTS": variants_json(DEFAULT_VARIANTS),
    "MAX_PIXELS": "100000000",
    "POWERTOOLS_SERVICE_NAME": "imgpipe",
    "POWERTOOLS_METRICS_NAMESPACE": "imgpipe",
    "LOG_LEVEL": "INFO",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def stack_settings(root: Path = ROOT, stack: str | None = None) -> dict[str, Any]:
    """memoryMb and architecture from ``Pulumi.<stack>.yaml``, else ``Pulumi.yaml`` defaults."""
    import yaml

    stack = stack or os.environ.get("STACK") or "dev"
    found: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path, section in ((root / f"Pulumi.{stack}.yaml", "value"), (root / "Pulumi.yaml", "default")):
        if not path.is_file():
            continue
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        for key in ("memoryMb", "architecture"):
            raw = config.get(f"imgpipe:{key}")
            value = raw.get("default") if isinstance(raw, dict) and section == "default" else raw
            if key not in found and value is not None and not isinstance(value, dict):
                found[key], sources[key] = value, path.name
    return {
        "memory_mb": int(found.get("memoryMb", DEFAULT_MEMORY_MB)),
        "architecture": str(found.get("architecture", DEFAULT_ARCH)),
        "source": ", ".join(f"{k} from {v}" for k, v in sources.items()) or "built-in defaults",
    }


@functools.cache
def lambda_memory_mb() -> int:
    """The memory size the bench's children run as: env ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, else
    the stack's ``memoryMb`` (read once per run)."""
    return int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or stack_settings()["memory_mb"])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(HANDLER_ENV)
    # Lambda sets this; imgpipe sizes its encoder threads by it (function.imaging.default_threads)
    # and pyvips-tuned takes the same count, so the run uses the threads the deployed function
    # would: one at the stack's default 1,536 MB. Set it to bench another size (3538: two vCPUs).
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(lambda_memory_mb())
    return env


def run_formats(image: Path, cache_dir: Path) -> dict[str, Any]:
    """One fresh-process run of :mod:`bench.formats` (AVIF/WebP encodes, HEIC/AVIF decodes)."""
    return _run_child(["bench.formats", str(image), str(cache_dir)], "formats", image)


def summarise_formats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall/CPU seconds per formats row; sizes and PSNR are the same in every run."""
    return {
        row: {
            **first,
            "wall_seconds": statistics.median(r[row]["wall_seconds"] for r in runs),
            "cpu_seconds": statistics.median(r[row]["cpu_seconds"] for r in runs),
        }
        for row, first in runs[0].items()
    }


def run_mode(mode: str, image: Path) -> dict[str, Any]:
    return _run_child(["bench.modes", mode, str(image)], mode, image)


def _run_child(args: list[str], what: str, image: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_child_env(),
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n    ".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise RuntimeError(f"bench {what!r} failed on {image.name}:\n    {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The handler defers Pillow and boto3 to the first event; a cold invocation still pays for them,
# so the bench reports that second figure too (informational, not a target).
FIRST_EVENT_MODULES = ("function.runtime", "function.imaging", "boto3", "PIL.Image")
_IMPORT_SNIPPET = f"""
import importlib, importlib.util, time
t = time.perf_counter()
import function.handler
handler_ms = (time.perf_counter() - t) * 1000
t = time.perf_counter()
for name in {FIRST_EVENT_MODULES!r}:
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)
print(handler_ms, (time.perf_counter() - t) * 1000)
"""


def cold_import(repeats: int) -> dict[str, Any]:
    """Median ms to import ``function.handler`` in a fresh interpreter, plus the heaviest imports.

    ``first_event_ms`` is what the first invocation then adds by importing
    :data:`FIRST_EVENT_MODULES` (Pillow, boto3, the pipeline) in the same interpreter.
    """
    samples: list[float] = []
    first_event: list[float] = []
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-c", _IMPORT_SNIPPET],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_child_env(),
        )
        if proc.returncode != 0:
            # Reported as n/a (and FAIL) rather than aborting the image benchmarks.
            error = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            return {
                "median_ms": None,
                "samples_ms": [],
                "first_event_ms": None,
                "heaviest": [],
                "error": error[0],
            }
        handler_ms, rest_ms = (float(v) for v in proc.stdout.strip().splitlines()[-1].split())
        samples.append(round(handler_ms, 1))
        first_event.append(rest_ms)
    return {
        "median_ms": statistics.median(samples),
        "samples_ms": samples,
        "first_event_ms": round(statistics.median(first_event), 1),
        "first_event_modules": list(FIRST_EVENT_MODULES),
        "heaviest": _heaviest_imports(),
    }


def _heaviest_imports(top: int = 8) -> list[dict[str, Any]]:
    """Top-level packages by cumulative import time (``-X importtime``), for profiling cold start."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import function.handler"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_child_env(),
    )
    return direct_imports(proc.stderr, "function.handler", top)


def direct_imports(importtime: str, module: str, top: int = 8) -> list[dict[str, Any]]:
    """The modules ``module`` imports itself, by cumulative ms, from ``-X importtime`` output.

    Children are listed before their parent and nested by indentation (1 space = imported by
    ``-c``, 3 = by that module): depth-3 rows are collected until ``module``'s own row closes them.
    """
    totals: dict[str, int] = {}
    pending: dict[str, int] = {}
    for line in importtime.splitlines():
        # "import time:       self [us] |  cumulative | imported package"
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = len(name) - len(name.lstrip())
        if depth == 3:
            pending[name.strip()] = pending.get(name.strip(), 0) + int(parts[1])
        elif depth == 1:
            if name.strip() == module:
                totals = pending
            pending = {}
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"module": name, "ms": round(us / 1000, 1)} for name, us in ranked]


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median figures over the repeats of one mode on one image."""
    first = runs[0]
    variants = {
        name: {
            "seconds": _median([r["variants"][name]["seconds"] for r in runs]),
            "bytes": info["bytes"],
            "width": info["width"],
            "height": info["height"],
        }
        for name, info in first["variants"].items()
    }
    return {
        "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "rss_before_mb": statistics.median(r["rss_before_mb"] for r in runs),
        "output_bytes": first["output_bytes"],
        "decode_seconds": _median([r.get("decode_seconds") for r in runs]),
        "threads": first.get("threads"),
        "variants": variants,
        "runs": len(runs),
        "wall_samples": [round(r["wall_seconds"], 3) for r in runs],
    }


def cost_per_1000(seconds: float, memory_mb: int, arch: str) -> float:
    """Lambda cost of 1,000 invocations: billed ms (rounded up) × GB × price, plus requests."""
    billed_s = -(-seconds * 1000 // 1) / 1000
    return 1000 * (billed_s * memory_mb / 1024 * PRICE_GB_S[arch] + PRICE_REQUEST)


def lambda_seconds(summary: dict[str, Any], memory_mb: int) -> float:
    """Estimated Lambda duration at ``memory_mb`` from the CPU seconds measured here.

    Lambda's CPU share is memory / 1,769 MB vCPUs. Below one vCPU the work is CPU-bound:
    duration ≈ CPU seconds ÷ share. Above it, extra vCPUs help only as far as the encoder threads
    kept this machine's cores busy (CPU ÷ wall).
    """
    share = memory_mb / LAMBDA_MB_PER_VCPU
    # How many cores the run kept busy (CPU ÷ wall; at least one): a busy machine lowers it, which
    # only makes the estimate more conservative. Wall time itself is never used: on a shared
    # machine it measures the queue, while CPU seconds are what Lambda bills.
    wall = summary["wall_seconds"]
    parallel = max(1.0, summary["cpu_seconds"] / wall) if wall else 1.0
    return float(summary["cpu_seconds"] / min(share, parallel))


def memory_estimates(
    summary: dict[str, Any], arch: str, peak_rss_mb: float | None = None
) -> list[dict[str, Any]]:
    """Estimated duration (:func:`lambda_seconds`) and cost per memory size.

    Sizes that cannot hold the peak RSS (``peak_rss_mb``, e.g. of the largest image
    benchmarked; default this run's) with 25% headroom are left out.
    """
    rss = max(summary["peak_rss_mb"], peak_rss_mb or 0.0)
    rows = []
    for memory in (512, 768, 1024, 1536, 1769, 2048, 2560, 3008, 3538):
        if memory < rss * 1.25:
            continue
        seconds = lambda_seconds(summary, memory)
        rows.append(
            {
                "memory_mb": memory,
                "seconds": round(seconds, 3),
                "gb_seconds": round(seconds * memory / 1024, 3),
                "cost_per_1000": round(cost_per_1000(seconds, memory, arch), 4),
            }
        )
    return rows


def recommend_memory(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest size whose GB-seconds are within 5% of the cheapest."""
    if not rows:
        return None
    cheapest = min(r["gb_seconds"] for r in rows)
    affordable = [r for r in rows if r["gb_seconds"] <= cheapest * 1.05]
    return min(affordable, key=lambda r: (r["seconds"], r["memory_mb"]))


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def size_ratios(per_mode: dict[str, Any]) -> dict[str, float | None]:
    """imgpipe ÷ naive output bytes per variant (empty when either mode was not run)."""
    if "imgpipe" not in per_mode or "naive" not in per_mode:
        return {}
    mine, theirs = per_mode["imgpipe"]["variants"], per_mode["naive"]["variants"]
    return {name: _ratio(mine[name]["bytes"], theirs.get(name, {}).get("bytes")) for name in mine}


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, (op, limit) in TARGETS.items():
        value = results.get(key)
        ok = value is not None and (value >= limit if op == ">=" else value <= limit)
        out[key] = {"value": value, "target": f"{op} {limit:g}", "pass": ok}
    return out


# ---------------------------------------------------------------- output


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def print_report(results: dict[str, Any]) -> None:
    names = [s.name for s in DEFAULT_VARIANTS]
    for size, per_mode in results["images"].items():
        meta = results["image_files"][size]
        print(
            f"\n{meta['megapixels']:.2g} MP  {meta['width']}×{meta['height']}  "
            f"{meta['bytes'] / 1e6:.1f} MB JPEG  (median of {results['repeats']})"
        )
        header = (
            f"{'mode':<8} {'wall s':>7} {'cpu s':>6} {'RSS MB':>7} {'out MB':>7} {'decode':>7} "
            + " ".join(f"{n:>10}" for n in names)
        )
        print(header)
        print("-" * len(header))
        for mode, s in per_mode.items():
            cells = " ".join(f"{_fmt_s(s['variants'][n]['seconds']):>10}" for n in names)
            print(
                f"{mode:<8} {s['wall_seconds']:>7.2f} {s['cpu_seconds']:>6.2f} {s['peak_rss_mb']:>7.0f} "
                f"{s['output_bytes'] / 1e6:>7.1f} {_fmt_s(s['decode_seconds']):>7} {cells}"
            )
        sizes = " ".join(f"{n}={r:.2f}" for n, r in size_ratios(per_mode).items() if r is not None)
        if sizes:
            print(f"imgpipe output size ÷ naive, per variant: {sizes}")
    threads = next((m["imgpipe"].get("threads") for m in results["images"].values() if "imgpipe" in m), None)
    print(
        f"\n(imgpipe and pyvips-tuned ran {threads} encoder thread(s): what the function uses at "
        f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE={results.get('lambda_memory_mb')}; per-variant seconds: "
        "naive's include its own decode; imgpipe's threads overlap)"
    )
    cost = results["cost"]
    imports = results["cold_import"]
    if imports["median_ms"] is None:
        print(f"\nCold import of function.handler failed: {imports['error']}")
    else:
        heaviest = ", ".join(f"{h['module']} {h['ms']:.0f} ms" for h in imports["heaviest"][:5])
        print(
            f"\nCold import of function.handler: {imports['median_ms']:.0f} ms (median); heaviest: {heaviest}"
            f"\n  + {imports['first_event_ms']:.0f} ms of deferred imports on the first event "
            f"({', '.join(imports['first_event_modules'])})"
        )
    headline_mp = results["image_files"][results["headline_size"]]["megapixels"]
    print(
        f"Cost per 1,000 {headline_mp:.2g} MP images at {cost['memory_mb']} MB {cost['architecture']} "
        f"({cost['settings_source']}), est. duration at that CPU share:\n  "
        + ",  ".join(f"{m} ${c:.4f} ({cost['lambda_seconds'][m]:.2f} s)" for m, c in cost["per_1000"].items())
    )
    rec = results.get("memory_recommendation")
    if rec:
        print(
            f"memoryMb estimate for imgpipe (fastest within 5% of the lowest GB-s): {rec['memory_mb']} MB "
            f"≈ {rec['seconds']:.2f} s, ${rec['cost_per_1000']:.4f} per 1,000"
        )
    if results.get("formats"):
        mp = results["image_files"][results["headline_size"]]["megapixels"]
        print(f"\nFormats ({mp:.2g} MP photo, median of {results['formats_runs']}, one thread):")
        for row, fig in results["formats"].items():
            extra = f"  {fig['bytes'] / 1e6:5.2f} MB"
            if "psnr_db" in fig:
                extra += f"  {fig['psnr_db']:.1f} dB"
            print(
                f"  {FORMAT_ROWS.get(row, row):<44} {fig['wall_seconds']:6.2f} s wall "
                f"{fig['cpu_seconds']:6.2f} s CPU{extra}"
            )
        print(
            f"  AVIF ÷ WebP variant: {results['avif_vs_webp_cpu'] or 0:.2f}× CPU, "
            f"{results['avif_vs_webp_wall'] or 0:.2f}× wall"
        )
    render, e2e = results["render"], results["e2e"]
    print(f"\nRender ({headline_mp:.2g} MP → {bench_render.WIDTH} px JPEG, fresh process, median ms):")
    for mode, fig in render.items():
        print(
            f"  {mode:<8} cold {fig['cold_ms']:7.1f} (CPU {fig['cold_cpu_ms']:6.1f})"
            f"  warm {fig['warm_ms']:7.1f}"
        )
    burst = e2e["burst"]
    print(
        f"\nEnd to end on the local stack ({e2e['image']}, median of {e2e['repeats']}): upload → done "
        f"{e2e['e2e_ms']:.0f} ms, handler {e2e['handler_ms']:.0f} ms; burst of {burst['images']} small "
        f"images: {burst['images_per_s_per_core']:.2f} images/s/core (ideal "
        f"{burst['ideal_images_per_s_per_core'] or 0:.2f})"
    )
    load = results["machine"]
    print(f"\nLoad average (1 min) at start/end: {load['load_1min_at_start']} / {load['load_1min_at_end']}")
    if results.get("cpu_speedup_vs_naive"):
        print(
            "CPU-time ratios (less sensitive to load): "
            f"naive ÷ imgpipe {results['cpu_speedup_vs_naive']:.2f}, "
            f"pyvips ÷ imgpipe {results['cpu_speedup_vs_pyvips']:.2f}"
        )
    print(f"\nTargets ({headline_mp:.2g} MP):")
    for key, v in results["verdicts"].items():
        shown = "n/a" if v["value"] is None else f"{v['value']:.2f}"
        print(f"  {'PASS' if v['pass'] else 'FAIL'}  {key:<27} {shown:>8}  (target {v['target']})")


def markdown(results: dict[str, Any]) -> str:
    """The figures as Markdown tables, ready for docs/performance.md."""
    names = [s.name for s in DEFAULT_VARIANTS]
    m = results["machine"]
    lines = [
        f"Measured {results['finished_at']} on {m['cpus']} CPUs ({m['machine']}), Python {m['python']}, "
        f"Pillow {m['pillow']}; median of {results['repeats']} fresh-process runs per mode; "
        f"1-min load average {m['load_1min_at_start']} at start, {m['load_1min_at_end']} at end.",
        "",
    ]
    for size, per_mode in results["images"].items():
        meta = results["image_files"][size]
        lines += [
            f"**{meta['megapixels']:.2g} MP** ({meta['width']}×{meta['height']}, "
            f"{meta['bytes'] / 1e6:.1f} MB JPEG q{images.JPEG_QUALITY}), seconds:",
            "",
            "| mode | total s | CPU s | peak RSS MB | output MB | decode | " + " | ".join(names) + " |",
            "|---" * (6 + len(names)) + "|",
        ]
        for mode, st in per_mode.items():
            cells = " | ".join(_fmt_s(st["variants"][n]["seconds"]) for n in names)
            lines.append(
                f"| {mode} | {st['wall_seconds']:.2f} | {st['cpu_seconds']:.2f} | {st['peak_rss_mb']:.0f} | "
                f"{st['output_bytes'] / 1e6:.1f} | {_fmt_s(st['decode_seconds'])} | {cells} |"
            )
        ratios = size_ratios(per_mode)
        if ratios:
            shown = ", ".join(f"{n} {r:.2f}" for n, r in ratios.items() if r is not None)
            lines += ["", f"Output size imgpipe ÷ naive: {shown}."]
        lines.append("")
    imports = results["cold_import"]
    if imports["median_ms"] is not None:
        lines += [
            f"Cold import of `function.handler`: **{imports['median_ms']:.0f} ms** (median); the first "
            f"event then imports Pillow, boto3 and the pipeline (+{imports['first_event_ms']:.0f} ms).",
            "",
        ]
    cost = results["cost"]
    mp = results["image_files"][results["headline_size"]]["megapixels"]
    lines += [
        f"Cost per 1,000 {mp:.2g} MP images at {cost['memory_mb']} MB {cost['architecture']} "
        f"(${cost['price_gb_s']:.10f}/GB-s + ${cost['price_request'] * 1e6:.2f}/M requests): "
        + ", ".join(
            f"{mode} ${c:.4f} (est. {cost['lambda_seconds'][mode]:.2f} s)"
            for mode, c in cost["per_1000"].items()
        )
        + ".",
        "",
    ]
    if results["memory_estimates"]:
        lines += [
            "Estimated imgpipe duration and cost by `memoryMb` (CPU share = memory ÷ 1,769 MB):",
            "",
            "| memoryMb | est. seconds | GB-seconds | $ per 1,000 |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['memory_mb']} | {r['seconds']:.2f} | {r['gb_seconds']:.2f} | {r['cost_per_1000']:.4f} |"
            for r in results["memory_estimates"]
        ]
        lines.append("")
    if results.get("formats"):
        lines += [
            f"Formats ({mp:.2g} MP photo, median of {results['formats_runs']} fresh-process runs, "
            "one thread; PSNR against the decoded JPEG):",
            "",
            "| step | wall s | CPU s | output MB | PSNR dB |",
            "|---|---|---|---|---|",
        ]
        for row, fig in results["formats"].items():
            shown = f"{fig['psnr_db']:.1f}" if "psnr_db" in fig else "—"
            lines.append(
                f"| {FORMAT_ROWS.get(row, row)} | {fig['wall_seconds']:.2f} | {fig['cpu_seconds']:.2f} | "
                f"{fig['bytes'] / 1e6:.2f} | {shown} |"
            )
        lines += [
            "",
            f"AVIF ÷ WebP variant: {results['avif_vs_webp_cpu'] or 0:.2f}× CPU, "
            f"{results['avif_vs_webp_wall'] or 0:.2f}× wall.",
            "",
        ]
    render, e2e = results["render"], results["e2e"]
    lines += [
        f"Render (`GET /images/{{id}}/render` image work, {mp:.2g} MP → {bench_render.WIDTH} px JPEG "
        f"q{bench_render.QUALITY}, fresh process, median ms):",
        "",
        "| mode | cold (imports included) | cold CPU | warm |",
        "|---|---|---|---|",
        *(
            f"| {mode} | {f['cold_ms']:.1f} | {f['cold_cpu_ms']:.1f} | {f['warm_ms']:.1f} |"
            for mode, f in render.items()
        ),
        "",
        f"End to end on the local stack ({e2e['image']}, median of {e2e['repeats']}): upload → `done` "
        f"{e2e['e2e_ms']:.0f} ms against the handler's own {e2e['handler_ms']:.0f} ms; a burst of "
        f"{e2e['burst']['images']} small images ran at {e2e['burst']['images_per_s_per_core']:.2f} images/s "
        f"per core (ideal from the handler's time: {e2e['burst']['ideal_images_per_s_per_core'] or 0:.2f}).",
        "",
    ]
    lines += [f"Targets ({mp:.2g} MP):", "", "| target | value | result |", "|---|---|---|"]
    for key, v in results["verdicts"].items():
        shown = "n/a" if v["value"] is None else f"{v['value']:.2f}"
        lines.append(f"| `{key}` {v['target']} | {shown} | {'PASS' if v['pass'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(results["images"])
    names = ["decode", *[s.name for s in DEFAULT_VARIANTS]]
    colours = {"naive": "#b0b0b0", "pyvips": "#6a9fd8", "pyvips-tuned": "#2f5f9e", "imgpipe": "#e07b39"}
    fig, axes = plt.subplots(1, len(sizes) + 1, figsize=(6 * len(sizes) + 5, 4.8), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=False):
        per_mode = results["images"][size]
        width = 0.8 / max(1, len(per_mode))
        for i, (mode, s) in enumerate(per_mode.items()):
            values = [s["decode_seconds"] or 0.0] + [s["variants"][n]["seconds"] or 0.0 for n in names[1:]]
            xs = [x + (i - (len(per_mode) - 1) / 2) * width for x in range(len(names))]
            ax.bar(
                xs, values, width, label=f"{mode} (total {s['wall_seconds']:.2f} s)", color=colours.get(mode)
            )
        mp = results["image_files"][size]["megapixels"]
        ax.set_title(f"{mp:.2g} MP photo: seconds per step (median)")
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("seconds")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    ax = axes[0][-1]
    modes = list(results["images"][sizes[0]])
    width = 0.8 / max(1, len(sizes))
    for j, size in enumerate(sizes):
        per_mode = results["images"][size]
        xs = [x + (j - (len(sizes) - 1) / 2) * width for x in range(len(modes))]
        bars = ax.bar(
            xs,
            [per_mode[m]["peak_rss_mb"] for m in modes],
            width,
            label=f"{results['image_files'][size]['megapixels']:.2g} MP",
            alpha=0.85,
        )
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(range(len(modes)), modes)
    ax.set_title("peak RSS (MB, median)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"imgpipe benchmark — {results['machine']['cpus']} CPUs, Pillow {results['machine']['pillow']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main


def run(
    sizes: list[str],
    repeats: int,
    out_dir: Path,
    modes: tuple[str, ...] = MODES,
    formats_repeats: int | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    load_at_start = _load()
    image_files = {size: images.ensure_image(size, out_dir) for size in sizes}
    per_size: dict[str, dict[str, Any]] = {}
    files_meta: dict[str, Any] = {}
    for size, image in image_files.items():
        w, h = images.SIZES[size]
        files_meta[size] = {
            "path": str(image),
            "width": w,
            "height": h,
            "megapixels": w * h / 1e6,
            "bytes": image.stat().st_size,
        }
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for rep in range(repeats):
            for mode in modes:
                print(f"\r{size} MP run {rep + 1}/{repeats}: {mode:<8}", end="", flush=True, file=sys.stderr)
                runs[mode].append(run_mode(mode, image))
        print(file=sys.stderr)
        per_size[size] = {m: summarise(r) for m, r in runs.items()}
    headline = "12" if "12" in per_size else sizes[0]
    main_img = per_size[headline]
    # AVIF encodes take seconds at 12 MP: at most three runs (median), on the headline photo only.
    format_runs = []
    for rep in range(min(repeats, 3) if formats_repeats is None else formats_repeats):
        print(f"\r{headline} MP formats run {rep + 1}", end="", flush=True, file=sys.stderr)
        format_runs.append(run_formats(image_files[headline], out_dir))
    print(file=sys.stderr)
    formats = summarise_formats(format_runs) if format_runs else {}
    ratios = size_ratios(main_img)
    print(f"{headline} MP render row (cold processes)", file=sys.stderr)
    # A fresh interpreter's ~100 ms swings by ±15 ms on a quiet machine: three times the repeats
    # (at least 9, ~0.2 s each) so the cold medians, and their ratio, hold still.
    render = bench_render.measure(image_files[headline], max(3 * repeats, 9), ROOT, _child_env())
    print(f"{headline} MP end-to-end row (local stack)", file=sys.stderr)
    e2e = bench_e2e.measure(image_files[headline], repeats=min(repeats, 3), burst=8 if quick else 16)
    settings = stack_settings()
    arch = settings["architecture"] if settings["architecture"] in PRICE_GB_S else DEFAULT_ARCH
    imports = cold_import(repeats)
    # Memory must hold the largest image benchmarked, not just the headline one.
    largest_rss = max((s["imgpipe"]["peak_rss_mb"] for s in per_size.values() if "imgpipe" in s), default=0.0)
    estimates = memory_estimates(main_img["imgpipe"], arch, largest_rss) if "imgpipe" in main_img else []
    results: dict[str, Any] = {
        "headline_size": headline,
        "lambda_memory_mb": lambda_memory_mb(),
        "speedup_vs_naive": _ratio(
            main_img.get("naive", {}).get("wall_seconds"), main_img.get("imgpipe", {}).get("wall_seconds")
        ),
        "speedup_vs_pyvips": _ratio(
            main_img.get("pyvips", {}).get("wall_seconds"), main_img.get("imgpipe", {}).get("wall_seconds")
        ),
        # CPU-time ratios: less sensitive to other load on the machine (informational).
        "cpu_speedup_vs_naive": _ratio(
            main_img.get("naive", {}).get("cpu_seconds"), main_img.get("imgpipe", {}).get("cpu_seconds")
        ),
        "cpu_speedup_vs_pyvips": _ratio(
            main_img.get("pyvips", {}).get("cpu_seconds"), main_img.get("imgpipe", {}).get("cpu_seconds")
        ),
        "cpu_ratio_vs_pyvips_tuned": _ratio(
            main_img.get("imgpipe", {}).get("cpu_seconds"),
            main_img.get("pyvips-tuned", {}).get("cpu_seconds"),
        ),
        "size_ratio_vs_pyvips_tuned": _ratio(
            main_img.get("imgpipe", {}).get("output_bytes"),
            main_img.get("pyvips-tuned", {}).get("output_bytes"),
        ),
        "render": render,
        "render_ratio_vs_pyvips": _ratio(render["imgpipe"]["cold_ms"], render["pyvips"]["cold_ms"]),
        "render_warm_ratio_vs_pyvips": _ratio(render["imgpipe"]["warm_ms"], render["pyvips"]["warm_ms"]),
        "render_cpu_ratio_vs_pyvips": _ratio(
            render["imgpipe"]["cold_cpu_ms"], render["pyvips"]["cold_cpu_ms"]
        ),
        "e2e": e2e,
        "e2e_overhead_ratio": e2e["e2e_overhead_ratio"],
        "rss_ratio_vs_naive": _ratio(
            main_img.get("imgpipe", {}).get("peak_rss_mb"), main_img.get("naive", {}).get("peak_rss_mb")
        ),
        "cold_import_ms": None if imports["median_ms"] is None else round(imports["median_ms"], 1),
        "formats": formats,
        "avif_vs_webp_cpu": _ratio(
            formats.get("avif", {}).get("cpu_seconds"), formats.get("webp", {}).get("cpu_seconds")
        ),
        "avif_vs_webp_wall": _ratio(
            formats.get("avif", {}).get("wall_seconds"), formats.get("webp", {}).get("wall_seconds")
        ),
        "size_ratio_vs_naive": ratios,
        "max_size_ratio_vs_naive": max((r for r in ratios.values() if r is not None), default=None),
        "cold_import": imports,
        "repeats": repeats,
        "formats_runs": len(format_runs),
        "images": per_size,
        "image_files": files_meta,
        "cost": {
            "memory_mb": settings["memory_mb"],
            "architecture": arch,
            "settings_source": settings["source"],
            "price_gb_s": PRICE_GB_S[arch],
            "price_request": PRICE_REQUEST,
            # Durations at the configured memory (its CPU share), not this machine's wall time.
            "lambda_seconds": {
                m: round(lambda_seconds(s, settings["memory_mb"]), 3) for m, s in main_img.items()
            },
            "per_1000": {
                m: round(
                    cost_per_1000(lambda_seconds(s, settings["memory_mb"]), settings["memory_mb"], arch), 4
                )
                for m, s in main_img.items()
            },
        },
        "memory_estimates": estimates,
        "memory_recommendation": recommend_memory(estimates),
        "machine": {**_machine(), "load_1min_at_start": load_at_start},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results["verdicts"] = verdicts(results)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(results))
    plot(results, out_dir / "bench.png")
    return results


def _load() -> float | None:
    # Other work on the machine skews timings; the load average is recorded with the figures.
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _machine() -> dict[str, Any]:
    import PIL

    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "machine": platform.machine(),
        "load_1min_at_end": _load(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="12,24", help="comma-separated megapixel sizes: 12, 24 (default 12,24)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="fresh-process runs per mode (median; default 5, quick 2)"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny image, 2 repeats: checks the bench runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any target fails")
    parser.add_argument(
        "--out-dir", type=Path, default=ROOT / ".bench", help="results.json, bench.png, images"
    )
    args = parser.parse_args(argv)
    sizes = ["tiny"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in images.SIZES]
    if unknown or not sizes:
        parser.error(f"--sizes: unknown size(s) {unknown}; use 12 and/or 24")
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    results = run(sizes, repeats, args.out_dir, quick=args.quick)
    print_report(results)
    written = ", ".join(str(args.out_dir / name) for name in ("results.json", "results.md", "bench.png"))
    print(f"\nwrote {written}")
    failed = [key for key, v in results["verdicts"].items() if not v["pass"]]
    if failed and args.strict:
        print(f"--strict: {len(failed)} target(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
