"""ImagePipeline, the whole stack as one package component, builds what the program deploys."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from components.config import ConfigError
from tests.unit.mocks import ROOT, Graph, run_program

PROGRAM = ROOT / "tests" / "unit" / "programs" / "pipeline" / "__main__.py"
PIPELINE = "imgpipe:index:ImagePipeline"


@contextmanager
def _inputs(values: dict[str, object]) -> Iterator[None]:
    os.environ["IMGPIPE_TEST_PIPELINE_INPUTS"] = json.dumps(values)
    try:
        yield
    finally:
        del os.environ["IMGPIPE_TEST_PIPELINE_INPUTS"]


def _pipeline(values: dict[str, object] | None = None) -> Graph:
    with _inputs(values or {}):
        return run_program(program=PROGRAM)


def test_construct_builds_the_programs_graph(dev: Graph) -> None:
    graph = _pipeline()
    [component] = [r for r in graph.resources if r.type == PIPELINE]
    inside = {(r.type, r.name.removeprefix("imgpipe-")) for r in graph.resources if r.type != PIPELINE}
    program = {(r.type, r.name) for r in dev.resources}
    assert inside == program
    # every top-level building block is the component's child (its children follow them)
    tops = {r.name for r in graph.resources if r.parent == component.urn}
    assert tops == {
        f"imgpipe-{n}" for n in ("uploads", "processed", "metadata", "process", "gallery", "api", "ops")
    }
    assert set(graph.outputs) >= {"upload_bucket", "api_url", "api_key"}
    assert "api_key" in graph.secret_outputs


def test_inputs_arrive_as_the_providers_dict() -> None:
    graph = _pipeline(
        {
            "memory_mb": 2048,
            "architecture": "x86_64",
            "variants": [{"name": "thumb", "format": "webp", "quality": 80, "max_width": 100}],
        }
    )
    [function] = [
        r for r in graph.of_type("aws:lambda/function:Function") if r.name == "imgpipe-process-function"
    ]
    assert function.inputs["memorySize"] == 2048
    assert function.inputs["architectures"] == ["x86_64"]
    variants = json.loads(function.inputs["environment"]["variables"]["VARIANTS"])
    assert [v["name"] for v in variants] == ["thumb"]


def test_bad_inputs_fail_like_bad_stack_config() -> None:
    with pytest.raises(ConfigError, match="memoryMb is 99999; it must be between 128 and 10240"):
        _pipeline({"memory_mb": 99999})
    with pytest.raises(TypeError, match=r"unknown inputs \['colour'\]"):
        _pipeline({"colour": "red"})
