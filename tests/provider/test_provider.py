"""The imgpipe component package, served the way the Pulumi engine runs it: ``python
provider/__main__.py <engine address>`` prints its port, then ``GetPluginInfo`` and ``GetSchema``
over gRPC (``pulumi.runtime.proto`` stubs). The schema is what every consumer's SDK is generated
from (docs/package.md), so it is checked here: the components, the object types and enums, a
description for every input and output, the required inputs, and that the committed
provider/schema.json is what the provider serves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.inputs import ApiAuth, Architecture
from function.variants import Fit, ImageFormat
from provider.plugin import COMPONENTS, NAME, VERSION
from provider.schema import SCHEMA_FILE, ProviderStartError, render, running_provider

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "provider"


@dataclass
class Served:
    version: str
    schema: dict[str, Any]
    returncode: int | None
    """The provider's exit status once the context manager left (None would be a leaked process)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # started from an unrelated directory: the entry point must find the repository by itself
    with running_provider(cwd=tmp_path_factory.mktemp("elsewhere")) as provider:
        info = provider.plugin_info()
        schema = provider.schema()
        process = provider.process
    yield Served(info.version, schema, process.poll())


def _token(name: str) -> str:
    return f"{NAME}:index:{name}"


def _props(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, property name, property) for every input and output of every component and every
    property of every object type."""
    for token, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            for name, prop in resource.get(kind, {}).items():
                yield f"{token} {kind}", name, prop
    for token, typ in schema["types"].items():
        for name, prop in typ.get("properties", {}).items():
            yield token, name, prop


def test_the_provider_answers_as_the_engine_expects_and_is_stopped(served: Served) -> None:
    assert served.version == VERSION
    assert served.schema["name"] == NAME and served.schema["version"] == VERSION
    assert served.returncode is not None, "the provider process is still running after the block"


def test_every_component_is_served_as_an_index_token(served: Served) -> None:
    resources = served.schema["resources"]
    assert sorted(resources) == sorted(_token(c.__name__) for c in COMPONENTS)
    for token, resource in resources.items():
        assert resource["isComponent"] is True, token
        assert resource["description"].strip(), f"{token}: no description (the class docstring)"
        assert resource["properties"], f"{token}: no outputs"


def test_object_types_and_enums_match_the_python_types(served: Served) -> None:
    types = served.schema["types"]
    enums = {
        token: [member["value"] for member in typ["enum"]] for token, typ in types.items() if "enum" in typ
    }
    assert enums == {
        _token(enum.__name__): [member.value for member in enum]
        for enum in (Architecture, ApiAuth, ImageFormat, Fit)
    }
    for token in enums:
        assert all(m["description"].strip() for m in types[token]["enum"]), f"{token}: undocumented value"

    data_store = types[_token("DataStore")]
    assert data_store["type"] == "object"
    assert sorted(data_store["properties"]) == ["arn", "keyArn", "name"]
    assert sorted(data_store["required"]) == ["arn", "keyArn", "name"]

    variant = types[_token("Variant")]
    assert variant["type"] == "object"
    assert variant["properties"]["format"]["$ref"] == f"#/types/{_token('ImageFormat')}"
    assert variant["properties"]["fit"]["$ref"] == f"#/types/{_token('Fit')}"
    assert "name" in variant["required"] and "maxWidth" not in variant["required"]


def test_variants_are_a_list_of_the_variant_type_not_a_string(served: Served) -> None:
    users = 0
    for token, resource in served.schema["resources"].items():
        variants = resource["inputProperties"].get("variants")
        if variants is None:
            continue
        users += 1
        assert variants["type"] == "array", token
        assert variants["items"]["$ref"] == f"#/types/{_token('Variant')}", token
    assert users >= 3, "ImagePipeline, ImageProcessor and UploadApi take the variants"


def test_every_input_and_output_has_a_description(served: Served) -> None:
    undescribed = [
        f"{where}.{name}" for where, name, prop in _props(served.schema) if not prop.get("description")
    ]
    assert undescribed == []
    for token, typ in served.schema["types"].items():
        assert typ.get("description", "").strip(), f"{token}: no description"


def test_every_reference_resolves(served: Served) -> None:
    def refs(prop: dict[str, Any]) -> Iterator[str]:
        for value in (prop, prop.get("items") or {}, prop.get("additionalProperties") or {}):
            if "$ref" in value:
                yield value["$ref"]

    types = served.schema["types"]
    for where, name, prop in _props(served.schema):
        for ref in refs(prop):
            if ref.startswith("pulumi.json#/"):  # Pulumi's built-ins: Archive, Asset, Any
                continue
            target = ref.removeprefix("#/types/")
            assert ref.startswith("#/types/") and target in types, f"{where}.{name}: {ref}"


def test_required_inputs_and_outputs_are_declared(served: Served) -> None:
    for token, resource in served.schema["resources"].items():
        inputs, outputs = resource["inputProperties"], resource["properties"]
        assert set(resource.get("requiredInputs", [])) <= set(inputs), token
        assert set(resource.get("required", [])) <= set(outputs), token
    # the data stores a function works on have no sensible default: a consumer must pass them
    processor = served.schema["resources"][_token("ImageProcessor")]
    assert {"uploadBucket", "processedBucket", "table"} <= set(processor["requiredInputs"])


def test_the_image_pipeline_needs_at_most_two_inputs_and_gives_the_stack_outputs(served: Served) -> None:
    pipeline = served.schema["resources"][_token("ImagePipeline")]
    required = pipeline.get("requiredInputs", [])
    assert len(required) <= 2, f"ImagePipeline requires {required}: defaults should cover a working stack"
    # the stack output contract (docs/configuration.md), in the schema's camelCase
    assert set(pipeline["properties"]) >= {
        "uploadBucket",
        "processedBucket",
        "metadataTable",
        "functionName",
        "apiUrl",
        "dlqUrl",
        "dashboardUrl",
        "galleryUrl",
        "apiKey",
    }
    inputs = pipeline["inputProperties"]
    assert inputs["architecture"]["$ref"] == f"#/types/{_token('Architecture')}"
    assert inputs["apiAuth"]["$ref"] == f"#/types/{_token('ApiAuth')}"
    assert inputs["corsOrigins"]["type"] == "array" and inputs["corsOrigins"]["items"]["type"] == "string"


def test_the_committed_schema_is_what_the_provider_serves(served: Served) -> None:
    assert SCHEMA_FILE.exists(), "provider/schema.json is missing: run `make schema` and commit it"
    committed = SCHEMA_FILE.read_text()
    assert committed == render(served.schema), (
        "provider/schema.json is not what the provider serves: run `make schema` and commit it"
    )


def test_the_plugin_manifest_and_requirements() -> None:
    assert yaml.safe_load((PLUGIN_DIR / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}
    # Pulumi installs provider/requirements.txt into the plugin's virtualenv: it must be exactly the
    # program's hash-locked requirements (pip resolves -r relative to the including file)
    lines = [
        line.split("#", 1)[0].strip()
        for line in (PLUGIN_DIR / "requirements.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert lines == ["-r ../requirements.txt"]
    lock = (PLUGIN_DIR / "../requirements.txt").resolve()
    assert lock == ROOT / "requirements.txt"
    assert lock.read_text().startswith("# This file was autogenerated by uv via the following command:\n")
    assert "--hash=sha256:" in lock.read_text()


def _distribution_name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def test_the_provider_imports_only_what_its_requirements_install() -> None:
    # What the provider imports (components, their Args analysed into the schema) must come from
    # the program's lock, not from the dev tools in .venv, or a consumer's plugin venv would fail.
    probe = (
        "import importlib.metadata as md, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import provider.plugin as p\n"
        # imported only when a Construct has no layer zip: it builds one (pip, stdlib)
        "import layer.build\n"
        "from pulumi.provider.experimental.component import ComponentProvider\n"
        "ComponentProvider(p.COMPONENTS, p.NAME, None, p.VERSION)\n"
        "dists = md.packages_distributions()\n"
        "top = {m.split('.')[0] for m in list(sys.modules)}\n"
        "out = {t: dists.get(t) for t in top if t not in sys.stdlib_module_names and not t.startswith('_')\n"
        "       and getattr(sys.modules.get(t), '__file__', None)}\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    imported: dict[str, list[str] | None] = json.loads(result.stdout)
    locked = {
        _distribution_name(m[1])
        for m in re.finditer(r"^([A-Za-z0-9][\w.\-]*)==", (ROOT / "requirements.txt").read_text(), re.M)
    }
    local = {p.name for p in ROOT.iterdir() if p.is_dir()}
    outside = {
        module: dists
        for module, dists in imported.items()
        if not (dists is None and module in local)
        and not (dists and any(_distribution_name(d) in locked for d in dists))
    }
    assert outside == {}, "provider imports outside requirements.txt (edit requirements.in, make lock)"
    assert {"pulumi", "pulumi_aws", "components"} <= set(imported)


def test_a_provider_that_never_prints_its_port_is_stopped_and_reported(tmp_path: Path) -> None:
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(0o755)
    with pytest.raises(ProviderStartError, match="no port"), running_provider(python=str(silent), timeout=1):
        pass
    # and a provider that exits at once: its exit status is in the error
    with pytest.raises(ProviderStartError, match="exited with 1"), running_provider(python="/bin/false"):
        pass
