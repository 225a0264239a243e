"""End to end on real AWS: ``pulumi up`` → upload via bucket and API → assert → ``pulumi destroy``.

Run with ``IMGPIPE_E2E_STACK=dev .venv/bin/python -m pytest tests/e2e -m e2e``; the local twin of
this test (same assertions on the embedded local stack) is
``tests/integration/test_e2e_local_twin.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.scenario import assert_pipeline_end_to_end

pytestmark = pytest.mark.e2e


def test_upload_process_and_read_back_on_aws(real_stack: dict[str, Any]) -> None:
    # Cold starts and layer init on a fresh deploy: allow more time than locally.
    assert_pipeline_end_to_end(real_stack, timeout=180)
