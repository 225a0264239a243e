"""Stack outputs for upload-and-verify: the local stack's outputs file or a real Pulumi stack.

Only the output contract is read (``upload_bucket``, ``processed_bucket``, ``metadata_table``,
``function_name``, ``api_url``, ``region``, secret ``api_key``), plus ``endpoint_url`` which
only the local stack has; so the same check runs unchanged against both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

LOCAL_OUTPUTS = Path(".local/outputs.json")
REQUIRED = ("upload_bucket", "processed_bucket", "metadata_table", "function_name", "region")


class OutputsError(Exception):
    """The stack outputs cannot be read; the message says what to run."""


def _validate(outputs: Any, where: str) -> dict[str, Any]:
    if not isinstance(outputs, dict):
        raise OutputsError(f"{where}: expected a JSON object of stack outputs, got {type(outputs).__name__}")
    missing = [name for name in REQUIRED if not outputs.get(name)]
    if missing:
        raise OutputsError(
            f"{where}: missing stack outputs {', '.join(missing)} "
            "(is this an imgpipe stack? `pulumi up` exports them)"
        )
    if outputs.get("api_key") == "[secret]":
        raise OutputsError(f"{where}: api_key is still masked; read the outputs with --show-secrets")
    return outputs


def load_local(path: Path = LOCAL_OUTPUTS) -> dict[str, Any]:
    """The outputs the local engine wrote when `make up` finished."""
    if not path.exists():
        raise OutputsError(f"no local stack running ({path} not found): run `make up` first, or `make demo`")
    try:
        outputs = json.loads(path.read_text())
    except ValueError as e:
        raise OutputsError(f"{path} is not valid JSON ({e}): run `make down && make up`") from e
    return _validate(outputs, str(path))


def load_stack(stack: str, cwd: Path | None = None) -> dict[str, Any]:
    """``pulumi stack output --json --show-secrets --stack <stack>`` for a real deployment."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise OutputsError(
            "the Pulumi CLI is not installed (needed to read the outputs of stack "
            f"{stack!r}): install it from pulumi.com, `pulumi login`, then retry; "
            "without it, verify the local stack: `make up && make verify`"
        )
    proc = subprocess.run(
        [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise OutputsError(
            f"`pulumi stack output --stack {stack}` failed: {detail[-1] if detail else 'no output'}. "
            f"List stacks with `pulumi stack ls`; create and deploy one with "
            f"`pulumi stack init {stack} && pulumi up`"
        )
    try:
        outputs = json.loads(proc.stdout)
    except ValueError as e:
        raise OutputsError(f"`pulumi stack output --json` printed something that is not JSON: {e}") from e
    return _validate(outputs, f"stack {stack!r}")


def load_outputs(stack: str | None = None, path: Path = LOCAL_OUTPUTS) -> dict[str, Any]:
    """Outputs of ``stack`` when given, else of the running local stack."""
    return load_stack(stack) if stack else load_local(path)
