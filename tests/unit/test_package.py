"""The components as a package: ``imgpipe:index:<Name>`` tokens, aliases to the old tokens (no
replacement of a deployed stack's resources), and the provider's dict inputs turned into Args."""

from __future__ import annotations

import importlib
import inspect

import pulumi
import pytest

from components.image_processor import ImageProcessorArgs
from components.inputs import Architecture, DataStore
from components.package import component_type, from_inputs, package_options
from function.variants import Fit, ImageFormat, Variant
from tests.unit.mocks import Graph

# Every component's token before the package (what stacks deployed until then recorded).
LEGACY = {
    "SecureBucket": "imgpipe:storage:SecureBucket",
    "MetadataTable": "imgpipe:storage:MetadataTable",
    "ImageProcessor": "imgpipe:compute:ImageProcessor",
    "UploadApi": "imgpipe:api:UploadApi",
    "Monitoring": "imgpipe:ops:Monitoring",
    "GallerySite": "imgpipe:web:GallerySite",
}


def test_every_component_uses_the_index_module(dev: Graph) -> None:
    components = {r.type for r in dev.resources if r.type.startswith("imgpipe:")}
    assert components == {component_type(name) for name in LEGACY if name != "GallerySite"} | (
        {component_type("GallerySite")} & components
    )


MODULES = {
    "SecureBucket": "secure_bucket",
    "MetadataTable": "metadata_table",
    "ImageProcessor": "image_processor",
    "UploadApi": "upload_api",
    "Monitoring": "monitoring",
    "GallerySite": "gallery_site",
}


@pytest.mark.parametrize("name, legacy", sorted(LEGACY.items()))
def test_each_component_aliases_its_old_token(name: str, legacy: str) -> None:
    """Mocks never see resource options, so the alias is checked where it is made: each
    component registers under ``component_type(name)`` with ``package_options(<old token>)``
    (children inherit the parent's alias, Pulumi docs "Resource option: aliases")."""
    source = inspect.getsource(importlib.import_module(f"components.{MODULES[name]}"))
    assert f'component_type("{name}")' in source
    assert f'package_options("{legacy}", opts)' in source


def test_package_options_add_the_alias_and_keep_the_callers_options() -> None:
    parent_opts = pulumi.ResourceOptions(protect=True, aliases=[pulumi.Alias(name="old-name")])
    merged = package_options("imgpipe:storage:SecureBucket", parent_opts)
    assert merged.protect is True
    types = [a.type_ for a in merged.aliases or [] if isinstance(a, pulumi.Alias)]
    names = [a.name for a in merged.aliases or [] if isinstance(a, pulumi.Alias)]
    assert "imgpipe:storage:SecureBucket" in types and "old-name" in names


def test_provider_dicts_become_typed_args() -> None:
    store = {"name": "b", "arn": "arn:aws:s3:::b", "key_arn": "arn:aws:kms:us-east-1:1:key/k"}
    args = from_inputs(
        ImageProcessorArgs,
        {
            "upload_bucket": store,
            "processed_bucket": store,
            "table": store,
            "code": pulumi.AssetArchive({}),
            "layer_zip": "layer.zip",
            "architecture": "x86_64",
            "memory_mb": 1024,
            "timeout_seconds": 30,
            "log_retention_days": 7,
            "variants": [
                {"name": "thumb", "format": "webp", "quality": 80, "max_width": 200, "fit": "cover"}
            ],
            "max_pixels": 1000,
            "max_source_bytes": 10,
        },
    )
    assert args.upload_bucket == DataStore(**store)
    assert args.architecture is Architecture.X86_64
    [variant] = args.variants
    assert isinstance(variant, Variant) and variant.format is ImageFormat.WEBP and variant.fit is Fit.COVER
    assert from_inputs(ImageProcessorArgs, args) is args  # typed Args pass through


def test_unknown_or_wrong_inputs_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"unknown inputs \['colour'\]"):
        from_inputs(DataStore, {"name": "b", "arn": "a", "key_arn": "k", "colour": "red"})
    with pytest.raises(TypeError, match="expected DataStore or a dict"):
        from_inputs(DataStore, 42)  # type: ignore[arg-type]  # what a wrong caller passes
