"""GallerySite: the page's files on a private prefix of a bucket."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from components.gallery_site import CONTENT_TYPES, PREFIX, site_files
from tests.unit.mocks import Graph, run_program

ROOT = Path(__file__).resolve().parents[2]
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def _site(tmp_path: Path, args: str = "") -> Graph:
    program = tmp_path / "__main__.py"
    program.write_text(
        textwrap.dedent(
            f"""
            from components.gallery_site import GallerySite, GallerySiteArgs
            GallerySite(
                "site", GallerySiteArgs(bucket_name="b", bucket_arn="arn:aws:s3:::b", key_arn="k"{args})
            )
            """
        )
    )
    return run_program({}, program=program)


def test_every_page_file_is_an_object_under_the_prefix(tmp_path: Path) -> None:
    graph = _site(tmp_path)
    site = graph.one("imgpipe:index:GallerySite", "site")
    objects = {o.inputs["key"]: o for o in graph.children(site) if o.type == OBJECT}
    names = site_files(ROOT / "web")
    assert {"index.html", "gallery.js", "gallery.css"} <= set(names)
    assert sorted(objects) == sorted(f"{PREFIX}{n}" for n in names)
    for key, obj in objects.items():
        assert obj.inputs["bucket"] == "b"
        assert obj.inputs["contentType"] == CONTENT_TYPES[Path(key).suffix]
        assert obj.inputs["cacheControl"] == "no-cache"  # a deploy shows at once
        # run from elsewhere (the snippet's folder), the file is named by its absolute path
        source = Path(obj.inputs["source"].path)
        assert source.is_absolute() and source == ROOT / "web" / Path(key).name


def test_prefix_and_source_are_checked(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="prefix must look like"):
        _site(tmp_path, ', prefix="/abs"')
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception, match="the gallery needs"):
        _site(tmp_path, f", source_dir={str(empty)!r}")


def test_variant_keys_can_never_be_page_files() -> None:
    """The API's keyless routes read only these keys; a variant key always ends with
    ``_<variant>_<16 hex>.<ext>``, so an upload under the prefix cannot shadow a page file."""
    from function.events import variant_key

    for name in site_files(ROOT / "web"):
        stem = Path(name).stem
        for variant in ("thumbnail", "png"):
            key = variant_key(f"{PREFIX}{name}", variant, "0123456789abcdef", "png")
            assert key != f"{PREFIX}{name}" and key.startswith(f"{PREFIX}{stem}_{variant}_")


def test_the_program_names_page_files_relative_to_the_project(dev: Graph) -> None:
    # the real program runs from the project directory: relative, like ./function
    assert all(o.inputs["source"].path.startswith("web/") for o in dev.of_type(OBJECT))


def test_the_api_serves_the_page_keyless_from_exactly_its_objects(dev: Graph) -> None:
    methods = {m.inputs.get("operationName"): m for m in dev.of_type("aws:apigateway/method:Method")}
    integrations = dev.of_type("aws:apigateway/integration:Integration")
    objects = sorted(o.inputs["key"] for o in dev.of_type(OBJECT))
    bucket = dev.one("aws:s3/bucket:Bucket", "processed").id
    for operation, key in (
        ("GetGalleryPage", f"{PREFIX}index.html"),
        ("GetGalleryAsset", f"{PREFIX}{{file}}"),
    ):
        method = methods[operation]
        assert method.inputs["httpMethod"] == "GET" and method.inputs["authorization"] == "NONE"
        assert not method.inputs.get("apiKeyRequired")
        [integration] = [
            i
            for i in integrations
            if i.inputs["resourceId"] == method.inputs["resourceId"] and i.inputs["httpMethod"] == "GET"
        ]
        assert integration.inputs["type"] == "AWS" and integration.inputs["integrationHttpMethod"] == "GET"
        assert integration.inputs["uri"].endswith(f":s3:path/{bucket}/{key}")
    # every other method still needs the key
    others = [m for op, m in methods.items() if op not in ("GetGalleryPage", "GetGalleryAsset")]
    assert all(m.inputs.get("apiKeyRequired") or m.inputs["httpMethod"] == "OPTIONS" for m in others)
    # the role behind the page routes reads exactly the page's objects
    role = dev.one("aws:iam/role:Role", "api-page-role")
    [policy] = [p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "api-page-policy"]
    doc = json.loads(policy.inputs["policy"])
    allowed = {
        a
        for st in doc["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert allowed == {"s3:GetObject", "kms:Decrypt"}
    [read] = [st for st in doc["Statement"] if st["Sid"] == "ReadPageFiles"]
    resources = sorted([read["Resource"]] if isinstance(read["Resource"], str) else read["Resource"])
    assert resources == sorted(f"arn:aws:s3:::{bucket}/{k}" for k in objects)
    assert role.inputs["assumeRolePolicy"]
    assert dev.outputs["gallery_url"] == dev.outputs["api_url"] + "/gallery"


def test_no_page_with_iam_auth() -> None:
    graph = run_program({"imgpipe:apiAuth": "iam"})
    assert graph.outputs["gallery_url"] == ""
    assert not [m for m in graph.of_type("aws:apigateway/method:Method") if m.inputs.get("operationName")]
