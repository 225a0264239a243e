"""The consumer examples in examples/ use only what the package schema has: the type tokens,
input property names (through the Variant object type and the enums) and outputs they name exist
in the committed provider/schema.json, whose currency tests/provider/test_provider.py checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.plugin import VERSION
from tests.provider.examples import check_typescript_program, check_value, check_yaml_program

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "provider" / "schema.json").read_text())
    return loaded


def test_the_checks_catch_what_a_consumer_could_get_wrong(schema: dict[str, Any]) -> None:
    # not vacuous: each mistake below is reported, a correct use is not
    program = {
        "resources": {
            "bucket": {
                "type": "imgpipe:index:SecureBucket",
                "properties": {"purpose": "uploads", "protect": False},
            },
            "worker": {
                "type": "imgpipe:index:ImageProcessor",
                "properties": {
                    "uploadBucket": {
                        "name": "${bucket.bucketName}",
                        "arn": "${bucket.bucketArn}",
                        "keyArn": "k",
                    },
                    "variants": [
                        {"name": "thumb", "format": "tiff", "quality": 80, "fit": "inside", "size": 1}
                    ],
                    "memoryMB": 1024,
                },
            },
            "ghost": {"type": "imgpipe:index:Nothing"},
        },
        "outputs": {"good": "${bucket.keyArn}", "bad": "${bucket.bucketUrl}"},
    }
    problems, ours = check_yaml_program(schema, program)
    text = "\n".join(problems)
    assert ours == {
        "bucket": "imgpipe:index:SecureBucket",
        "worker": "imgpipe:index:ImageProcessor",
        "ghost": "imgpipe:index:Nothing",
    }
    assert "'tiff' is not one of" in text
    assert "worker.variants[0]: no property 'size'" in text
    assert "worker: no property 'memoryMB'" in text
    assert "worker: required 'processedBucket' is missing" in text
    assert "imgpipe:index:Nothing is not a component" in text
    assert "has no output 'bucketUrl'" in text
    assert "'keyArn'" not in [p.split(" has no output ")[-1].split(" ")[0] for p in problems]
    # and what is right passes: a data store, a variant with enum values, an interpolation
    store = {"name": "${bucket.bucketName}", "arn": "arn:aws:s3:::b", "keyArn": "${bucket.keyArn}"}
    variant = {"name": "thumb", "format": "webp", "quality": 80, "fit": "cover", "maxWidth": 200}
    assert check_value(schema, {"$ref": "#/types/imgpipe:index:DataStore"}, store, "store") == []
    assert check_value(schema, {"$ref": "#/types/imgpipe:index:Variant"}, variant, "variant") == []

    source = """
    import * as pulumi from "@pulumi/pulumi";
    import * as ip from "@pulumi/imgpipe";
    // a comment with imgpipe.Ignored("x", {})
    const store = new ip.SecureBucket("store", {
        purpose: "uploads",
        forceDestroy: true,
        protect: "no",   // wrong type
        colour: 3,
    });
    export const arn = store.bucketArn;
    export const url = store.websiteUrl;
    """
    problems, made = check_typescript_program(schema, source)
    text = "\n".join(problems)
    assert made == {"store": "imgpipe:index:SecureBucket"}
    assert "store.protect: expected boolean, got 'no'" in text
    assert "store: no property 'colour'" in text
    assert "has no output 'websiteUrl'" in text and "no output 'bucketArn'" not in text
    assert check_typescript_program(schema, "const x = 1;")[0][0].startswith("no `import * as")


EXAMPLES = ROOT / "examples"


def test_the_yaml_example_uses_only_what_the_schema_has(schema: dict[str, Any]) -> None:
    program = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())
    assert program["runtime"] == "yaml"
    assert program["packages"]["imgpipe"]["source"].endswith("/provider")
    problems, ours = check_yaml_program(schema, program)
    assert problems == []
    assert "imgpipe:index:ImagePipeline" in ours.values()
    images = next(name for name, token in ours.items() if token == "imgpipe:index:ImagePipeline")
    # it shows the typed inputs (enums, the Variant objects) and reads the outputs
    assert {"variants", "architecture", "apiAuth"} <= set(program["resources"][images]["properties"])
    assert f"${{{images}.apiUrl}}" in program["outputs"].values()


def test_the_typescript_example_uses_only_what_the_schema_has(schema: dict[str, Any]) -> None:
    problems, made = check_typescript_program(schema, (EXAMPLES / "typescript" / "index.ts").read_text())
    assert problems == []
    assert list(made.values()) == ["imgpipe:index:ImagePipeline"]


def test_the_typescript_project_is_what_package_add_leaves() -> None:
    # pulumi package add records the package in Pulumi.yaml and links the generated SDK
    project = yaml.safe_load((EXAMPLES / "typescript" / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "nodejs"
    assert project["packages"]["imgpipe"]["source"].endswith("/provider")
    package = json.loads((EXAMPLES / "typescript" / "package.json").read_text())
    assert package["dependencies"]["@pulumi/imgpipe"] == "file:sdks/imgpipe"
    assert "@pulumi/pulumi" in package["dependencies"]
    tsconfig = json.loads((EXAMPLES / "typescript" / "tsconfig.json").read_text())
    assert tsconfig["files"] == ["index.ts"] and (EXAMPLES / "typescript" / "index.ts").exists()


def test_the_docs_page_lists_every_input_and_output_of_the_pipeline(schema: dict[str, Any]) -> None:
    page = (ROOT / "docs" / "package.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.M))
    pipeline = schema["resources"]["imgpipe:index:ImagePipeline"]
    missing = (set(pipeline["inputProperties"]) | set(pipeline["properties"])) - listed
    assert missing == set(), "docs/package.md: add these ImagePipeline inputs/outputs to its tables"
    for component in schema["resources"]:
        assert f"`{component}`" in page, f"docs/package.md does not name {component}"


def test_the_examples_and_the_docs_pin_the_current_release() -> None:
    # a release bumps VERSION, and the examples and the docs' package add line with it
    tag = f"v{VERSION}"
    for example in ("yaml", "typescript"):
        project = yaml.safe_load((EXAMPLES / example / "Pulumi.yaml").read_text())
        assert project["packages"]["imgpipe"]["version"] == tag, f"examples/{example}/Pulumi.yaml"
    assert f"/provider@{tag}" in (ROOT / "docs" / "package.md").read_text()
