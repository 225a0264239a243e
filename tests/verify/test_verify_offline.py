"""The verifier itself, without the local engine: it passes a correct pipeline and fails broken ones.

A stack's resources are created in moto (``mock_aws``); a stand-in processor thread writes the
variants and item the contract describes, so these tests pin the verifier's judgement, not the
handler's (the handler is verified for real in ``test_verify.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from PIL import Image, ImageOps, ImageSequence
from pillow_heif import register_heif_opener

from function.variants import DEFAULT_VARIANTS, Variant, variants_json
from tests.data_stores import create_data_stores, stack_outputs
from verify.check import expected_size, image_id, run_verify, variant_key
from verify.contact_sheet import make_contact_sheet
from verify.outputs import OutputsError, load_local, load_stack
from verify.photos import generate_photos

REGION = "eu-west-1"
VARIANTS = (DEFAULT_VARIANTS[0], DEFAULT_VARIANTS[2], DEFAULT_VARIANTS[4])  # compressed, webp, thumbnail


@pytest.fixture
def stack() -> Iterator[dict[str, str]]:
    """Buckets, table and a function whose VARIANTS env lists three variants (moto, in-process)."""
    with mock_aws():
        create_data_stores(REGION, "up-bucket", "out-bucket", "meta")
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )["Role"]["Arn"]
        code = io.BytesIO()
        import zipfile

        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("function/handler.py", "def handler(event, context):\n    return None\n")
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="proc",
            Runtime="python3.12",
            Role=role,
            Handler="function.handler.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={"Variables": {"VARIANTS": variants_json(VARIANTS)}},
        )
        yield stack_outputs(REGION, api_url="", dlq_url="", dashboard_url="")


def _process(bucket: str, key: str, version: str | None, variants: tuple[Variant, ...]) -> None:
    """A minimal correct pipeline for one upload (the contract, nothing more)."""
    s3 = boto3.client("s3", region_name=REGION)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    img_id = image_id(bucket, key, version)
    register_heif_opener()  # the HEIC test photo
    with Image.open(io.BytesIO(data)) as src:
        fmt, (w, h) = src.format.lower(), src.size
        frames = [ImageOps.exif_transpose(f.convert("RGBA")) for f in ImageSequence.Iterator(src)]
    recorded = {}
    for spec in variants:
        # an animation stays one in WebP (and GIF); the other formats take its first frame
        outs = [f.copy() for f in (frames if spec.format in ("webp", "gif") else frames[:1])]
        for frame in outs:
            frame.thumbnail((spec.max_width or frame.width, spec.max_height or frame.height))
        out = outs[0].convert("RGB") if spec.format == "jpeg" else outs[0]
        buf = io.BytesIO()
        more = {"save_all": True, "append_images": outs[1:]} if len(outs) > 1 else {}
        out.save(buf, spec.format.upper(), quality=spec.quality, **more)
        vkey = variant_key(key, spec, img_id)
        s3.put_object(Bucket="out-bucket", Key=vkey, Body=buf.getvalue(), ContentType=spec.content_type)
        recorded[spec.name] = {
            "bucket": "out-bucket",
            "key": vkey,
            "format": spec.format,
            "width": out.width,
            "height": out.height,
            "bytes": len(buf.getvalue()),
        }
    now = datetime.now(UTC).isoformat()
    boto3.resource("dynamodb", region_name=REGION).Table("meta").put_item(
        Item={
            "image_id": img_id,
            "source_bucket": bucket,
            "source_key": key,
            "source_version_id": version,
            "status": "done",
            "format": fmt,
            "width": w,
            "height": h,
            "bytes": len(data),
            "variants": recorded,
            "created_at": now,
            "processed_at": now,
            "duration_ms": 12,
        }
    )


def _processor(variants: tuple[Variant, ...], stop: threading.Event) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    seen: set[tuple[str, str]] = set()
    while not stop.wait(0.05):
        for obj in s3.list_object_versions(Bucket="up-bucket").get("Versions", []):
            if (obj["Key"], obj["VersionId"]) not in seen:
                seen.add((obj["Key"], obj["VersionId"]))
                _process("up-bucket", obj["Key"], obj["VersionId"], variants)


@pytest.fixture
def processing(stack: dict[str, str]) -> Iterator[dict[str, str]]:
    stop = threading.Event()
    worker = threading.Thread(target=_processor, args=(VARIANTS, stop), daemon=True)
    worker.start()
    yield stack
    stop.set()
    worker.join(timeout=5)


def test_correct_pipeline_passes_and_run_cleans_up(processing: dict[str, str], tmp_path: Path) -> None:
    sheets: list[Path] = []
    report = run_verify(
        processing,
        via=("s3",),
        timeout=20,
        on_result=lambda r: sheets.append(make_contact_sheet(r, tmp_path / "sheet.png")),
    )
    assert report.ok, report.table(colour=False)
    names = {(c.subject, c.name) for c in report.checks}
    assert ("exif-rotated via s3", "variant thumbnail") in names
    assert ("stack", "deployed variants") in names
    assert len(report.uploads) == len(generate_photos()) == 5
    assert ("animated via s3", "variant webp") in names and ("heic via s3", "variant webp") in names
    # The contact sheet: one row per photo, original + three variants.
    with Image.open(sheets[0]) as sheet:
        assert sheet.width > 4 * 250 and sheet.height > 5 * 190
    # Clean-up removed every upload version, every variant and every item.
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.list_object_versions(Bucket="up-bucket").get("Versions", []) == []
    assert s3.list_objects_v2(Bucket="out-bucket").get("KeyCount") == 0
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName="meta")["Count"] == 0


def test_nothing_processes_uploads_fails_after_timeout(stack: dict[str, str]) -> None:
    report = run_verify(stack, via=("s3",), timeout=0.5, keep=True)
    assert not report.ok
    failed = {(c.subject, c.name) for c in report.failures}
    assert failed == {(f"{p.name} via s3", "metadata done") for p in generate_photos()}
    table = report.table(colour=False)
    assert "FAIL" in table and "no done item" in table and "0 passed" not in table


def test_missing_variant_object_and_wrong_size_are_failures(stack: dict[str, str]) -> None:
    photo = generate_photos()[0]
    key = "v/run/s3/" + photo.filename
    # Unversioned upload bucket: the image id is known before the upload.
    boto3.client("s3", region_name=REGION).put_bucket_versioning(
        Bucket="up-bucket", VersioningConfiguration={"Status": "Suspended"}
    )
    _process_variants = tuple(v for v in VARIANTS if v.name != "webp")
    boto3.client("s3", region_name=REGION).put_object(Bucket="up-bucket", Key=key, Body=photo.data)
    _process("up-bucket", key, None, _process_variants)
    # Corrupt the recorded thumbnail width so the item disagrees with the object.
    table = boto3.resource("dynamodb", region_name=REGION).Table("meta")
    table.update_item(
        Key={"image_id": image_id("up-bucket", key, None)},
        UpdateExpression="SET variants.thumbnail.width = :w",
        ExpressionAttributeValues={":w": 999},
    )
    report = run_verify(stack, via=("s3",), timeout=5, keep=True, photos=[photo], prefix="v/run")
    failures = {c.name: c.detail for c in report.failures}
    assert set(failures) == {"metadata fields", "variant webp", "variant thumbnail"}, report.table(
        colour=False
    )
    assert "variants missing ['webp']" in failures["metadata fields"]
    assert "NoSuchKey" in failures["variant webp"] or "Not Found" in failures["variant webp"]
    assert "width=999" in failures["variant thumbnail"]


def test_unreadable_function_config_is_reported(stack: dict[str, str]) -> None:
    report = run_verify({**stack, "function_name": "missing"}, via=("s3",), timeout=0.2, keep=True)
    row = next(c for c in report.checks if c.name == "deployed variants")
    assert not row.ok and "missing" in row.detail


def test_contract_helpers() -> None:
    assert image_id("b", "k.jpg", None) == hashlib.sha256(b"b\nk.jpg\n").hexdigest()[:16]
    spec = DEFAULT_VARIANTS[4]  # thumbnail, jpeg, 200x200 inside
    assert variant_key("a/b/my photo.jpg", spec, "0123") == "a/b/my photo_thumbnail_0123.jpg"
    assert variant_key("photo.png", DEFAULT_VARIANTS[2], "ff") == "photo_webp_ff.webp"
    assert posixpath.dirname(variant_key("photo", spec, "1")) == ""
    assert expected_size(spec, 1440, 900) == (200, 125)
    assert expected_size(spec, 100, 50) == (100, 50)  # never enlarged
    assert expected_size(DEFAULT_VARIANTS[0], 1440, 900) == (1440, 900)


def test_verify_expects_the_key_the_handler_writes_for_long_and_odd_keys() -> None:
    # verify uses the contract's own functions (function/events.py), so a key past S3's
    # 1,024-byte limit is expected where the handler puts it: the stem cut, never mid-character
    spec = DEFAULT_VARIANTS[4]
    long_key = "deep/" + "é" * 600 + ".jpg"  # 1,205 bytes of UTF-8
    expected = variant_key(long_key, spec, "0123456789abcdef")
    assert len(expected.encode()) <= 1024 and expected.startswith("deep/é")
    assert expected.endswith("_thumbnail_0123456789abcdef.jpg")
    assert variant_key("..a", spec, "1") == "._thumbnail_1.jpg"  # the last extension only
    assert variant_key("a.tar.gz", spec, "1") == "a.tar_thumbnail_1.jpg"
    cover = Variant("sq", "jpeg", max_width=100, max_height=100, fit="cover")
    assert expected_size(cover, 640, 480) == (100, 100)
    assert expected_size(cover, 80, 60) is None


def test_outputs_errors_say_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OutputsError, match="run `make up`"):
        load_local(tmp_path / "outputs.json")
    (tmp_path / "outputs.json").write_text(json.dumps({"upload_bucket": "u"}))
    with pytest.raises(OutputsError, match="missing stack outputs processed_bucket"):
        load_local(tmp_path / "outputs.json")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi on PATH
    with pytest.raises(OutputsError, match="Pulumi CLI is not installed"):
        load_stack("dev")


def test_unknown_stack_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\necho 'error: no stack named \"nope\" found' >&2\nexit 255\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OutputsError, match=r"no stack named .*pulumi stack init nope"):
        load_stack("nope")
