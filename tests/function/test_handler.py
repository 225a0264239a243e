"""The real handler under moto: variants, keys, item fields, idempotency, loops, AWS errors."""

from __future__ import annotations

import io
import re
import time

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from function.events import image_id, variant_key
from function.variants import DEFAULT_VARIANTS
from tests.function import samples
from tests.function.conftest import PROCESSED, TABLE, UPLOAD, FakeContext, s3_event

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _id(event: dict) -> str:
    obj = event["Records"][0]["s3"]["object"]
    from urllib.parse import unquote_plus

    return image_id(
        event["Records"][0]["s3"]["bucket"]["name"], unquote_plus(obj["key"]), obj.get("versionId")
    )


def test_every_default_variant_has_contract_key_format_size_and_content_type(aws) -> None:
    data = samples.jpeg((600, 400))
    event = aws.upload("albums/2026/photo.jpg", data)
    result = aws.invoke(event)
    iid = _id(event)
    assert result == {
        "results": [{"image_id": iid, "bucket": UPLOAD, "key": "albums/2026/photo.jpg", "status": "done"}]
    }
    item = aws.item(iid)
    version = event["Records"][0]["s3"]["object"]["versionId"]
    assert item["status"] == "done"
    assert (item["source_bucket"], item["source_key"], item["source_version_id"]) == (
        UPLOAD,
        "albums/2026/photo.jpg",
        version,
    )
    assert (item["format"], item["width"], item["height"], item["bytes"]) == ("jpeg", 600, 400, len(data))
    assert ISO.match(item["created_at"]) and ISO.match(item["processed_at"])
    assert item["duration_ms"] >= 0 and item["animated"] is False and item["frames"] == 1
    assert "lease_owner" not in item and "lease_until" not in item and "error" not in item
    expected = {
        "compressed": ("jpeg", "image/jpeg", "jpg", (600, 400)),
        "low": ("jpeg", "image/jpeg", "jpg", (600, 400)),
        "webp": ("webp", "image/webp", "webp", (600, 400)),
        "png": ("png", "image/png", "png", (600, 400)),
        "thumbnail": ("jpeg", "image/jpeg", "jpg", (200, 133)),
    }
    assert set(item["variants"]) == set(expected)
    for name, (fmt, content_type, ext, size) in expected.items():
        entry = item["variants"][name]
        key = f"albums/2026/photo_{name}_{iid}.{ext}"
        assert entry == {
            "bucket": PROCESSED,
            "key": key,
            "format": fmt,
            "width": size[0],
            "height": size[1],
            "bytes": entry["bytes"],
        }
        obj = aws.s3.get_object(Bucket=PROCESSED, Key=key)
        body = obj["Body"].read()
        assert obj["ContentType"] == content_type and len(body) == entry["bytes"]
        assert obj["Metadata"]["image-id"] == iid
        with Image.open(io.BytesIO(body)) as im:
            assert (im.format.lower(), im.size) == (fmt, size)
    # the low variant is smaller than the compressed one: quality settings reach the encoder
    assert item["variants"]["low"]["bytes"] < item["variants"]["compressed"]["bytes"]


def test_source_without_folder_gives_keys_without_leading_slash(aws) -> None:
    event = aws.upload("cat.png", samples.rgba_png())
    aws.invoke(event)
    keys = aws.processed_keys()
    assert len(keys) == 5 and all(not k.startswith("/") and k.startswith("cat_") for k in keys)


def test_exif_rotation_is_applied_to_pixels_and_metadata(aws) -> None:
    event = aws.upload("phone/IMG_0001.JPG", samples.exif_rotated(6, (120, 80)))
    aws.invoke(event)
    item = aws.item(_id(event))
    assert (item["width"], item["height"]) == (80, 120)
    key = item["variants"]["png"]["key"]
    with Image.open(io.BytesIO(aws.s3.get_object(Bucket=PROCESSED, Key=key)["Body"].read())) as im:
        assert im.size == (80, 120)
        # orientation 6 = rotate 90° clockwise to display: the red top-left corner moves top-right
        r, g, b = im.convert("RGB").getpixel((75, 3))
        assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize(
    "key",
    [
        "my holiday photo.jpg",
        "a+b=c.jpg",
        "déjà vu/été 2026/プール.jpg",
        "deep/a/b/c/d/e/f/g/h/i/j/k.jpg",
        "odd%20name (1) & [2].jpeg",
    ],
)
def test_keys_with_spaces_plus_unicode_and_deep_prefixes(aws, key: str) -> None:
    event = aws.upload(key, samples.jpeg())
    assert "+" in event["Records"][0]["s3"]["object"]["key"] or " " not in key  # S3's encoding
    aws.invoke(event)
    item = aws.item(_id(event))
    assert item["status"] == "done" and item["source_key"] == key
    folder, _, name = key.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    expected = (
        f"{folder}/{stem}_thumbnail_{_id(event)}.jpg" if folder else f"{stem}_thumbnail_{_id(event)}.jpg"
    )
    assert item["variants"]["thumbnail"]["key"] == expected
    assert expected in aws.processed_keys()


def test_duplicate_event_gives_one_item_and_one_set_of_objects(aws) -> None:
    event = aws.upload("dup.jpg", samples.jpeg())
    first = aws.invoke(event)
    item = aws.item(_id(event))
    second = aws.invoke(event)
    assert first["results"][0]["status"] == "done"
    assert second["results"][0]["status"] == "duplicate"
    assert len(aws.items()) == 1 and aws.item(_id(event)) == item
    assert len(aws.processed_keys()) == 5  # no re-put: the processed bucket would hold new versions


def test_duplicate_of_failed_image_is_not_retried(aws) -> None:
    event = aws.upload("empty.jpg", b"")
    aws.invoke(event)
    again = aws.invoke(event)
    assert again["results"][0] == {
        "image_id": _id(event),
        "bucket": UPLOAD,
        "key": "empty.jpg",
        "status": "duplicate",
        "detail": "already failed",
    }
    assert aws.item(_id(event))["status"] == "failed"


def test_new_version_of_same_key_is_a_new_image(aws) -> None:
    first = aws.upload("same.jpg", samples.jpeg((100, 100)))
    second = aws.upload("same.jpg", samples.jpeg((100, 50)))
    aws.invoke(first)
    aws.invoke(second)
    assert _id(first) != _id(second)
    assert {(i["source_key"], i["height"]) for i in aws.items()} == {("same.jpg", 100), ("same.jpg", 50)}


def _put_processing_item(
    aws, iid: str, owner: str, lease_left_seconds: int, attempts: int | None = None
) -> None:
    """A ``processing`` item another run holds, its lease ending ``lease_left_seconds`` from now."""
    extra = {} if attempts is None else {"attempts": {"N": str(attempts)}}
    aws.ddb.put_item(
        TableName=TABLE,
        Item={
            "image_id": {"S": iid},
            "status": {"S": "processing"},
            "lease_until": {"N": str(int(time.time()) + lease_left_seconds)},
            "lease_owner": {"S": owner},
            "created_at": {"S": "2026-11-23T08:00:00.000Z"},
            **extra,
        },
    )


def test_stale_processing_item_is_taken_over_and_finished(aws) -> None:
    event = aws.upload("crashed.jpg", samples.jpeg())
    iid = _id(event)
    _put_processing_item(aws, iid, owner="crashed-run", lease_left_seconds=-5, attempts=1)
    assert aws.invoke(event)["results"][0]["status"] == "done"
    item = aws.item(iid)
    assert item["status"] == "done" and len(item["variants"]) == 5
    assert item["created_at"] == "2026-11-23T08:00:00.000Z" and item["attempts"] == 2


def test_fresh_lease_of_another_run_raises_so_lambda_retries_later(aws) -> None:
    from function.pipeline import LeaseHeldError

    event = aws.upload("busy.jpg", samples.jpeg())
    iid = _id(event)
    _put_processing_item(aws, iid, owner="other-run", lease_left_seconds=600)
    with pytest.raises(LeaseHeldError, match="another invocation"):
        aws.invoke(event)
    assert aws.item(iid)["lease_owner"] == "other-run" and aws.processed_keys() == []


def test_lease_covers_the_invocation_remaining_time(aws) -> None:
    from function import runtime

    event = aws.upload("lease.jpg", samples.jpeg())
    seen: list[int] = []
    pipeline = runtime.pipeline(None, None)
    original = pipeline.store.claim

    def spy(*args, **kwargs):
        seen.append(args[5] - args[4])  # lease_until - now
        return original(*args, **kwargs)

    pipeline.store.claim = spy
    aws.invoke(event, FakeContext(remaining_ms=120_000))
    assert seen and 150 <= seen[0] <= 151  # remaining 120 s + 30 s margin


class _Failing:
    """A boto3 client whose ``operation`` raises ``code`` (what throttling or a 5xx looks like)."""

    def __init__(self, real, operation: str, code: str, status: int) -> None:
        self.real, self.operation, self.code, self.status = real, operation, code, status
        self.calls = 0

    def __getattr__(self, name: str):
        if name != self.operation:
            return getattr(self.real, name)

        def fail(**kwargs):
            self.calls += 1
            raise ClientError(
                {
                    "Error": {"Code": self.code, "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": self.status},
                },
                name,
            )

        return fail


@pytest.mark.parametrize(
    ("service", "operation", "code", "status"),
    [
        ("dynamodb", "update_item", "ProvisionedThroughputExceededException", 400),
        ("dynamodb", "update_item", "ThrottlingException", 400),
        ("s3", "get_object", "SlowDown", 503),
        ("s3", "put_object", "InternalError", 500),
    ],
)
def test_transient_aws_errors_raise_for_lambda_retry(aws, service, operation, code, status) -> None:
    from function import runtime

    event = aws.upload("retry.jpg", samples.jpeg())
    store = runtime.pipeline(None, None).store
    real = store.dynamodb if service == "dynamodb" else store.s3
    failing = _Failing(real, operation, code, status)
    if service == "dynamodb":
        store._ddb = failing
    else:
        store._s3 = failing
    with pytest.raises(ClientError, match=code):
        aws.invoke(event)
    assert failing.calls >= 1
    # the retry (errors gone) finishes the image: the lease was released, not left blocking
    if service == "dynamodb":
        store._ddb = real
    else:
        store._s3 = real
    assert aws.invoke(event)["results"][0]["status"] == "done"
    assert aws.item(_id(event))["status"] == "done"


def test_events_from_the_processed_bucket_never_loop(aws) -> None:
    key = variant_key("photo.jpg", "compressed", "0123456789abcdef", "jpg")
    event = aws.upload(key, samples.jpeg(), bucket=PROCESSED)
    result = aws.invoke(event)
    assert result["results"][0]["status"] == "ignored"
    assert aws.items() == [] and aws.processed_keys() == [key]


def test_events_from_another_bucket_are_ignored_when_upload_bucket_is_set(aws, monkeypatch) -> None:
    monkeypatch.setenv("UPLOAD_BUCKET", UPLOAD)
    aws.s3.create_bucket(Bucket="someone-else")
    event = aws.upload("x.jpg", samples.jpeg(), bucket="someone-else")
    assert aws.invoke(event)["results"][0]["status"] == "ignored"
    ok = aws.upload("y.jpg", samples.jpeg())
    assert aws.invoke(ok)["results"][0]["status"] == "done"
    assert [i["source_key"] for i in aws.items()] == ["y.jpg"]


def test_non_create_events_and_test_events_do_nothing(aws) -> None:
    removed = s3_event(UPLOAD, "gone.jpg", None, 0, name="ObjectRemoved:Delete")
    assert aws.invoke(removed) == {"results": []}
    assert aws.invoke({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": UPLOAD}) == {"results": []}
    assert aws.items() == []


def test_deleted_source_is_a_permanent_failure(aws) -> None:
    event = s3_event(UPLOAD, "never-uploaded.jpg", None, 10)
    assert aws.invoke(event)["results"][0]["status"] == "failed"
    item = aws.item(_id(event))
    assert item["status"] == "failed" and "no longer exists" in item["error"]
    # the recorded error is served by GET /images/{id}: no bucket name, no s3:// path (issue 12)
    error = item["error"]
    assert "never-uploaded.jpg" in error and UPLOAD not in error and "s3://" not in error


def test_source_over_the_byte_limit_fails_without_decoding(aws, monkeypatch) -> None:
    monkeypatch.setenv("MAX_SOURCE_BYTES", "100")
    event = aws.upload("big.jpg", samples.jpeg())
    aws.invoke(event)
    item = aws.item(_id(event))
    assert item["status"] == "failed" and "over the 100-byte limit" in item["error"]


def test_custom_variants_from_environment(aws, monkeypatch) -> None:
    monkeypatch.setenv(
        "VARIANTS",
        '[{"name":"square","format":"webp","quality":70,"max_width":64,"max_height":64,"fit":"cover"}]',
    )
    event = aws.upload("pic.jpg", samples.jpeg((300, 100)))
    aws.invoke(event)
    item = aws.item(_id(event))
    assert set(item["variants"]) == {"square"}
    assert (item["variants"]["square"]["width"], item["variants"]["square"]["height"]) == (64, 64)
    assert aws.processed_keys() == [f"pic_square_{_id(event)}.webp"]


def test_bad_settings_fail_the_invocation_with_a_clear_message(aws, monkeypatch) -> None:
    from function.settings import SettingsError

    monkeypatch.delenv("PROCESSED_BUCKET")
    event = aws.upload("a.jpg", samples.jpeg())
    with pytest.raises(SettingsError, match="PROCESSED_BUCKET is not set"):
        aws.invoke(event)


def test_metrics_and_json_logs(aws, capsys) -> None:
    import json

    from function.handler import logger

    # The JSON log handler keeps the stream it was created with (another test's capture).
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        aws.invoke(aws.upload("m.jpg", samples.jpeg()))
        aws.invoke(aws.upload("bad.jpg", b"nope"))
    finally:
        logger.registered_handler.setStream(previous)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    names = {m["Name"] for line in emf for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"ImagesProcessed", "ImagesFailed", "ProcessingDuration", "SourceBytes"} <= names
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "imgpipe" for line in emf)
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]] for line in emf)
    assert all(line["service"] == "imgpipe" for line in emf)
    steps = [line["message"] for line in lines if "message" in line and line.get("source_key") == "m.jpg"]
    assert steps[:2] == ["claimed", "downloaded"] and steps[-1] == "done"
    assert sum(s == "variant stored" for s in steps) == len(DEFAULT_VARIANTS)


def test_variant_that_cannot_be_encoded_fails_the_image_and_leaves_no_variants(aws, monkeypatch) -> None:
    monkeypatch.setenv(
        "VARIANTS",
        '[{"name":"thumb","format":"jpeg","max_width":100},{"name":"full","format":"webp"}]',
    )
    event = aws.upload("panorama.png", samples.encode(Image.new("L", (16500, 2), 90), "PNG"))
    assert aws.invoke(event)["results"][0]["status"] == "failed"
    item = aws.item(_id(event))
    assert item["status"] == "failed" and "WebP cannot exceed 16383 px" in item["error"]
    assert aws.s3.list_objects_v2(Bucket=PROCESSED).get("KeyCount") == 0
