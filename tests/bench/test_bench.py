"""``make bench`` runs end to end on a tiny image; its pure helpers compute what they claim.

No timing assertions: the machine is shared, so only structure and arithmetic are checked.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from bench import images, run
from function import imaging

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_KEYS = {
    "speedup_vs_naive",
    "speedup_vs_pyvips",
    "rss_ratio_vs_naive",
    "cold_import_ms",
    "size_ratio_vs_naive",
    "max_size_ratio_vs_naive",
    "cost",
    "memory_recommendation",
    "verdicts",
    "images",
    "cpu_ratio_vs_pyvips_tuned",
    "size_ratio_vs_pyvips_tuned",
    "render",
    "render_ratio_vs_pyvips",
    "e2e",
    "e2e_overhead_ratio",
}


def test_quick_bench_writes_results_and_plot(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--repeats", "1", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) >= REQUIRED_KEYS
    per_mode = results["images"]["tiny"]
    assert set(per_mode) == {"naive", "imgpipe", "pyvips", "pyvips-tuned"}
    # imgpipe ran the encoder threads the deployed function would at the stack's memoryMb
    memory = run.stack_settings()["memory_mb"]
    assert results["lambda_memory_mb"] == memory
    assert per_mode["imgpipe"]["threads"] == min(-(-memory // 1769), imaging.default_threads())
    # The render row rendered real JPEGs in both libraries; the e2e row saw a done record.
    assert {m: r["bytes"] > 0 for m, r in results["render"].items()} == {"imgpipe": True, "pyvips": True}
    assert results["e2e"]["handler_ms"] > 0 and results["e2e"]["e2e_ms"] >= results["e2e"]["handler_ms"]
    assert results["e2e"]["burst"]["images"] == 8
    for mode, summary in per_mode.items():
        assert summary["runs"] == 1
        assert summary["wall_seconds"] > 0 and summary["peak_rss_mb"] > 0, mode
        assert set(summary["variants"]) == {"compressed", "low", "webp", "png", "thumbnail"}
        # Every mode renders the same geometry: the thumbnail fits 200×200, the rest are full size.
        assert summary["variants"]["thumbnail"]["width"] == 200, mode
        assert summary["variants"]["png"]["width"] == 320, mode
    assert set(results["size_ratio_vs_naive"]) == {"compressed", "low", "webp", "png", "thumbnail"}
    assert results["speedup_vs_naive"] == pytest.approx(
        per_mode["naive"]["wall_seconds"] / per_mode["imgpipe"]["wall_seconds"], rel=0.01
    )
    assert set(results["verdicts"]) == set(run.TARGETS)
    # One PASS/FAIL line per target, and the cold import reported either way.
    verdict_lines = [
        line.split() for line in proc.stdout.splitlines() if line.strip()[:4] in ("PASS", "FAIL")
    ]
    assert sorted(words[1] for words in verdict_lines) == sorted(run.TARGETS)
    assert "Cold import of function.handler" in proc.stdout
    report = (tmp_path / "results.md").read_text()
    assert "| imgpipe |" in report and "Targets" in report
    # the formats rows (issue 16): AVIF and WebP encodes of the same photo, HEIC/AVIF decodes
    formats = results["formats"]
    assert set(formats) == set(run.FORMAT_ROWS)
    assert (formats["avif"]["quality"], formats["avif"]["effort"]) == (64, 0)  # the config default
    assert formats["heic_decode"]["format"] == "heif" and formats["avif_decode"]["format"] == "avif"
    assert all(formats[r]["bytes"] > 0 and formats[r]["psnr_db"] > 25 for r in ("webp", "avif", "avif_q85"))
    assert formats["avif_q85"]["bytes"] > formats["avif"]["bytes"]  # quality reaches the encoder
    assert results["avif_vs_webp_cpu"] == pytest.approx(
        formats["avif"]["cpu_seconds"] / formats["webp"]["cpu_seconds"], rel=0.01
    )
    assert "AVIF ÷ WebP variant" in report and "AVIF ÷ WebP variant" in proc.stdout
    assert (tmp_path / "photo-320x240-q90-v1.heic").is_file()
    with Image.open(tmp_path / "bench.png") as plot:
        assert plot.format == "PNG" and plot.width > 500


def test_photo_is_deterministic_and_not_trivially_compressible() -> None:
    first, second = images.jpeg_bytes(160, 120), images.jpeg_bytes(160, 120)
    assert first == second
    assert images.jpeg_bytes(160, 120, seed=8) != first
    # A flat or gradient image JPEG-compresses to almost nothing; a photo keeps real detail.
    pixels = Image.open(io.BytesIO(first)).tobytes()
    assert len(zlib.compress(pixels, 6)) > 0.5 * len(pixels)


def test_ensure_image_caches_and_rejects_unknown_sizes(tmp_path: Path) -> None:
    path = images.ensure_image("tiny", tmp_path)
    mtime = path.stat().st_mtime_ns
    assert images.ensure_image("tiny", tmp_path) == path and path.stat().st_mtime_ns == mtime
    with Image.open(path) as im:
        assert im.size == images.SIZES["tiny"] and im.format == "JPEG"
    with pytest.raises(ValueError, match="unknown image size '7'"):
        images.ensure_image("7", tmp_path)


def test_stack_settings_reads_stack_file_then_project_defaults(tmp_path: Path) -> None:
    assert run.stack_settings(tmp_path, "dev")["source"] == "built-in defaults"
    (tmp_path / "Pulumi.yaml").write_text(
        "name: imgpipe\nconfig:\n  imgpipe:memoryMb:\n    default: 1024\n"
        "  imgpipe:architecture:\n    default: x86_64\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  imgpipe:memoryMb: 2048\n")
    settings = run.stack_settings(tmp_path, "dev")
    assert settings["memory_mb"] == 2048 and settings["architecture"] == "x86_64"
    assert "memoryMb from Pulumi.dev.yaml" in settings["source"]


def test_cost_rounds_up_to_the_millisecond_and_adds_requests() -> None:
    # 1.0004 s bills as 1.001 s; 1,000 × 1.001 s × 1 GB × arm64 price + 1,000 requests.
    expected = 1000 * (1.001 * run.PRICE_GB_S["arm64"] + run.PRICE_REQUEST)
    assert run.cost_per_1000(1.0004, 1024, "arm64") == pytest.approx(expected)


def test_memory_recommendation_prefers_fast_sizes_within_five_percent_of_cheapest() -> None:
    # 2 s of CPU, 1.1 s wall on two cores, 150 MB peak: CPU-bound below one vCPU.
    rows = run.memory_estimates({"cpu_seconds": 2.0, "wall_seconds": 1.1, "peak_rss_mb": 150}, "arm64")
    assert rows[0]["memory_mb"] == 512
    # One vCPU at 1,769 MB: all the CPU time; two vCPUs: no faster than the two cores measured.
    summary = {"cpu_seconds": 2.0, "wall_seconds": 1.1}
    assert run.lambda_seconds(summary, 1769) == pytest.approx(2.0)
    assert run.lambda_seconds(summary, 1769 // 2) == pytest.approx(4.0, rel=0.01)
    assert run.lambda_seconds(summary, 2 * 1769) == pytest.approx(1.1)
    assert all(r["seconds"] >= 1.1 for r in rows)
    best = run.recommend_memory(rows)
    cheapest = min(r["gb_seconds"] for r in rows)
    assert best is not None and best["gb_seconds"] <= cheapest * 1.05
    assert run.recommend_memory([]) is None
    # Sizes that cannot hold the peak RSS with headroom are not offered.
    big = run.memory_estimates({"cpu_seconds": 2.0, "wall_seconds": 1.1, "peak_rss_mb": 900}, "arm64")
    assert min(r["memory_mb"] for r in big) >= 900 * 1.25
    # ... including a larger image's peak when one is given.
    larger = run.memory_estimates(
        {"cpu_seconds": 2.0, "wall_seconds": 1.1, "peak_rss_mb": 150}, "arm64", peak_rss_mb=700
    )
    assert min(r["memory_mb"] for r in larger) >= 700 * 1.25


def test_verdicts_and_size_ratios() -> None:
    results = {
        "speedup_vs_naive": 3.0,
        "speedup_vs_pyvips": 1.2,
        "rss_ratio_vs_naive": 0.5,
        "cold_import_ms": None,
        "max_size_ratio_vs_naive": 1.05,
        "avif_vs_webp_cpu": 2.4,
        "cpu_ratio_vs_pyvips_tuned": 0.95,
        "size_ratio_vs_pyvips_tuned": 1.02,
        "render_ratio_vs_pyvips": 1.0,
        "e2e_overhead_ratio": 1.6,
    }
    verdicts = run.verdicts(results)
    assert {k: v["pass"] for k, v in verdicts.items()} == {
        "speedup_vs_naive": True,
        "speedup_vs_pyvips": False,
        "rss_ratio_vs_naive": True,
        "cold_import_ms": False,
        "max_size_ratio_vs_naive": True,
        "avif_vs_webp_cpu": False,
        "cpu_ratio_vs_pyvips_tuned": True,
        "size_ratio_vs_pyvips_tuned": False,
        "render_ratio_vs_pyvips": True,
        "e2e_overhead_ratio": False,
    }
    per_mode = {
        "naive": {"variants": {"a": {"bytes": 100}, "b": {"bytes": 200}}},
        "imgpipe": {"variants": {"a": {"bytes": 110}, "b": {"bytes": 100}}},
    }
    assert run.size_ratios(per_mode) == {"a": 1.1, "b": 0.5}
    assert run.size_ratios({"naive": per_mode["naive"]}) == {}


def test_direct_imports_keeps_only_what_the_module_itself_imports() -> None:
    importtime = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       300 |        300 |   posix",
            "import time:       900 |       1200 | os",
            "import time:       100 |       5000 |     aws_lambda_powertools.logging",
            "import time:       400 |      40000 |   aws_lambda_powertools",
            "import time:        50 |       2000 |   typing",
            "import time:       700 |      43000 | function.handler",
        ]
    )
    assert run.direct_imports(importtime, "function.handler") == [
        {"module": "aws_lambda_powertools", "ms": 40.0},
        {"module": "typing", "ms": 2.0},
    ]
    assert run.direct_imports(importtime, "missing") == []


def test_memory_steps_run_on_a_tiny_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import memory

    image = images.ensure_image("tiny", tmp_path)
    assert memory.main([str(image)]) == 0
    table = capsys.readouterr().out
    assert all(label in table for label in memory.STEPS)
    assert memory.main([str(tmp_path / "missing.jpg")]) == 2
