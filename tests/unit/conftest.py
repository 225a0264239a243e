"""Fixtures shared by the unit tests: the real program's graph for each committed stack config.

Session-scoped: the graph is only read, and one run per stack (per xdist worker) serves every
module that asserts on it.
"""

from __future__ import annotations

import pytest

from tests.unit.mocks import Graph, run_program
from tests.unit.test_policy_graph import stack_config


@pytest.fixture(scope="session")
def dev() -> Graph:
    return run_program(stack_config("dev"), stack="dev")


@pytest.fixture(scope="session")
def prod() -> Graph:
    return run_program(stack_config("prod"), stack="prod")
