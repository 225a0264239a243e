"""The embedded local AWS for integration tests: one stack per test session (per xdist worker).

Each stack runs as the same background engine `make up` starts, in its own temporary state
directory on free ports, so it never collides with a developer's running `make up`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localaws import client_args

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
# No faults unless a test sets them; short retry backoff (the retry path is under test, not
# AWS's waiting time).
TEST_ENV = {"IMGPIPE_LOCAL_FAULTS": "", "IMGPIPE_LOCAL_RETRY_DELAYS": "0.05,0.1,0.2"}


def stack_client(outputs: dict[str, Any], service: str) -> Any:
    """A boto3 client on a local stack's endpoint (the mini program exports no region)."""
    return boto3.client(service, **client_args(outputs["endpoint_url"], outputs.get("region", "us-east-1")))


def stack_table(outputs: dict[str, Any]) -> Any:
    """The stack's metadata table as a boto3 resource (items come back as plain Python values)."""
    dynamodb = boto3.resource("dynamodb", **client_args(outputs["endpoint_url"], outputs["region"]))
    return dynamodb.Table(outputs["metadata_table"])


def localaws(
    state_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m localaws --state-dir <state_dir> <args>`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **TEST_ENV, **(env or {})},
        check=False,
    )


def _stack(state_dir: Path, program: Path) -> Iterator[dict[str, Any]]:
    up = localaws(state_dir, "up", "--program", str(program))
    if up.returncode != 0:
        localaws(state_dir, "down")
        pytest.fail(f"`python -m localaws up` failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}")
    outputs = json.loads((state_dir / "outputs.json").read_text())
    sheet = state_dir / "contact-sheet.png"
    try:
        yield outputs
    finally:
        sheet.write_bytes(b"png")  # a user's file in the state dir
        down = localaws(state_dir, "down")
        check_down(down, state_dir)
        assert sheet.exists(), "down must keep the contact sheet"


def check_down(down: subprocess.CompletedProcess[str], state_dir: Path) -> None:
    """What every `down` must achieve (checked on each session stack as it is torn down)."""
    out = down.stdout + down.stderr
    assert down.returncode == 0, out
    assert "left behind: 0 buckets, 0 tables, 0 functions, 0 queues, 0 rest_apis" in out, out
    assert "- aws:lambda/function:Function" in out, out
    assert re.search(r"IAM: \d+ function call\(s\) checked, \d+ denied", out), out
    assert not (state_dir / "state.json").exists() and not (state_dir / "outputs.json").exists()
    assert "no local stack running" in localaws(state_dir, "status").stdout


@pytest.fixture(scope="session")
def local_stack_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The real program (`__main__.py` at the repo root) deployed locally, and its state dir."""
    if not (ROOT / "__main__.py").exists():
        pytest.fail("the Pulumi program (__main__.py at the repository root) does not exist yet")
    state_dir = tmp_path_factory.mktemp("local-stack")
    for outputs in _stack(state_dir, ROOT):
        yield outputs, state_dir


@pytest.fixture(scope="session")
def local_stack(local_stack_run: tuple[dict[str, Any], Path]) -> dict[str, Any]:
    """The outputs contract of the local stack plus ``endpoint_url`` (``api_key`` unwrapped)."""
    return local_stack_run[0]


@pytest.fixture(scope="session")
def mini_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The engine's own small program (bucket → test function → bucket + table, DLQ, retries)."""
    state_dir = tmp_path_factory.mktemp("mini-stack")
    for outputs in _stack(state_dir, PROGRAMS / "mini"):
        yield outputs, state_dir
