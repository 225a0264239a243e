"""The consumer examples in examples/ use only what the package schema has: the type tokens,
input property names (through the Variant object type and the enums) and outputs they name exist
in the committed provider/schema.json, whose currency tests/provider/test_provider.py checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
