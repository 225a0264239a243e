"""A real imgpipe stack for the end-to-end test, through the Pulumi Automation API.

``IMGPIPE_E2E_STACK=dev pytest tests/e2e``: select (or create) the stack in the project
directory, build the layer, ``up``, hand the outputs to the test, ``destroy`` (the stack itself is
kept, so its config stays; ``IMGPIPE_E2E_KEEP=1`` skips the destroy). Skipped, with the reason,
when the stack name, the Pulumi CLI or AWS credentials are missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scenario import KEEP_ENV, STACK_ENV, e2e_skip_reason

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def real_stack() -> Iterator[dict[str, Any]]:
    reason = e2e_skip_reason()
    if reason:
        pytest.skip(reason)
    from pulumi import automation as auto  # only needed (and only useful) with the CLI present

    name = os.environ[STACK_ENV]
    # The program refuses to deploy without the layer zip for its architecture; build it first
    # (a no-op when the stamp matches).
    subprocess.run([sys.executable, "-m", "layer.build"], cwd=ROOT, check=True)
    stack = auto.create_or_select_stack(stack_name=name, work_dir=str(ROOT))
    print(f"e2e: pulumi up --stack {name} (in {ROOT})")
    up = stack.up(on_output=print, color="never")
    outputs = {key: value.value for key, value in up.outputs.items()}
    try:
        yield outputs
    finally:
        if os.environ.get(KEEP_ENV):
            print(f"e2e: {KEEP_ENV} set, stack {name} left deployed: `pulumi destroy --stack {name}`")
        else:
            print(f"e2e: pulumi destroy --stack {name}")
            stack.destroy(on_output=print, color="never")
