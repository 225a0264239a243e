"""The gallery in headless Chromium against a local stack of the real program.

Skips, saying why, where no browser can run (``verify.gallery.browser_missing``); ``make setup``
installs Debian's ``chromium`` and ``chromium-driver`` when it runs as root with apt-get.
``IMGPIPE_REQUIRE_BROWSER=1`` turns that skip into a failure (for machines that must run them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verify.gallery import Gallery, browser_missing, chromium

ROOT = Path(__file__).resolve().parents[2]
TEST_ENV = {"IMGPIPE_LOCAL_FAULTS": "", "IMGPIPE_LOCAL_RETRY_DELAYS": "0.05,0.1,0.2"}


def _localaws(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **TEST_ENV},
        check=False,
    )


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("IMGPIPE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"IMGPIPE_REQUIRE_BROWSER=1 but no browser test can run: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def gallery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The real program deployed locally for the browser (its own state dir and ports)."""
    state_dir = tmp_path_factory.mktemp("gallery-stack")
    up = _localaws(state_dir, "up", "--program", str(ROOT))
    if up.returncode != 0:
        _localaws(state_dir, "down")
        pytest.fail(f"`python -m localaws up` failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}")
    try:
        yield json.loads((state_dir / "outputs.json").read_text()), state_dir
    finally:
        down = _localaws(state_dir, "down")
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save their screenshots (printed, so a failing run can be looked at)."""
    return tmp_path_factory.mktemp("gallery-screenshots")


@pytest.fixture
def page() -> Iterator[Gallery]:
    with chromium() as driver:
        yield Gallery(driver, timeout=150)
