"""S3 event parsing (key decoding, versions, skipped records) and the key/id contract."""

from __future__ import annotations

import hashlib

import pytest

from function.events import EventError, ObjectRef, image_id, parse_event, variant_key
from tests.function.conftest import s3_event


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("photo.jpg", "photo.jpg"),
        ("my+holiday+photo.jpg", "my holiday photo.jpg"),
        ("a%2Bb%3Dc.jpg", "a+b=c.jpg"),
        ("d%C3%A9j%C3%A0+vu/%E3%83%97%E3%83%BC%E3%83%AB.jpg", "déjà vu/プール.jpg"),
        ("deep/a/b/c/d.jpg", "deep/a/b/c/d.jpg"),
        ("100%25+real.png", "100% real.png"),
    ],
)
def test_keys_are_decoded_like_s3_encodes_them(encoded: str, decoded: str) -> None:
    event = s3_event("up", "x", "v1", 5)
    event["Records"][0]["s3"]["object"]["key"] = encoded
    assert list(parse_event(event)) == [
        ObjectRef("up", decoded, "v1", 5, "ObjectCreated:Put", event["Records"][0]["eventTime"])
    ]


def test_missing_version_and_size_are_none() -> None:
    event = s3_event("up", "a.jpg", None, 1)
    del event["Records"][0]["s3"]["object"]["size"]
    (ref,) = parse_event(event)
    assert ref.version_id is None and ref.size is None


def test_only_object_created_records_are_returned() -> None:
    event = s3_event("up", "a.jpg", "v", 1)
    records = event["Records"]
    records.append({**records[0], "eventName": "ObjectRemoved:Delete"})
    records.append({**records[0], "eventSource": "aws:sqs"})
    records.append({**records[0], "eventName": "ObjectCreated:CompleteMultipartUpload"})
    assert [r.event_name for r in parse_event(event)] == [
        "ObjectCreated:Put",
        "ObjectCreated:CompleteMultipartUpload",
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hello": "world"}, "no 'Records' list"),
        ({"Records": "nope"}, "'Records' is not a list"),
        (
            {"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]},
            r"Records\[0\]: missing s3.bucket.name",
        ),
        ([1, 2], "expected an S3 event notification object"),
    ],
)
def test_malformed_payloads_say_what_is_wrong(payload, message: str) -> None:
    with pytest.raises(EventError, match=message):
        list(parse_event(payload))


def test_image_id_is_the_contract_hash() -> None:
    expected = hashlib.sha256(b"bucket\nphotos/a b.jpg\nv123").hexdigest()[:16]
    assert image_id("bucket", "photos/a b.jpg", "v123") == expected
    assert image_id("bucket", "k", None) == hashlib.sha256(b"bucket\nk\n").hexdigest()[:16]
    assert image_id("bucket", "k", "v1") != image_id("bucket", "k", "v2")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("photo.jpg", "photo_thumbnail_0123456789abcdef.jpg"),
        ("a/b/photo.JPG", "a/b/photo_thumbnail_0123456789abcdef.jpg"),
        ("archive.tar.gz", "archive.tar_thumbnail_0123456789abcdef.jpg"),
        ("noext", "noext_thumbnail_0123456789abcdef.jpg"),
        (".hidden", ".hidden_thumbnail_0123456789abcdef.jpg"),
        ("dir.v2/file", "dir.v2/file_thumbnail_0123456789abcdef.jpg"),
    ],
)
def test_variant_key_contract(source: str, expected: str) -> None:
    assert variant_key(source, "thumbnail", "0123456789abcdef", "jpg") == expected


def test_variant_key_stays_within_s3_limit_without_splitting_characters() -> None:
    key = "dir/" + "é" * 600 + ".jpg"  # 1,200 bytes of stem
    out = variant_key(key, "compressed", "0123456789abcdef", "jpg")
    assert len(out.encode()) <= 1024 and out.endswith("_compressed_0123456789abcdef.jpg")
    out.encode().decode("utf-8")  # still valid UTF-8
