"""The e2e test's local twin: the very same scenario as ``tests/e2e/test_pipeline_e2e.py``, run
against the embedded local stack, so the real-AWS assertions are exercised on every ``make test``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.scenario import assert_pipeline_end_to_end

pytestmark = pytest.mark.integration


def test_upload_process_and_read_back_locally(local_stack: dict[str, Any]) -> None:
    assert_pipeline_end_to_end(local_stack, timeout=120)
