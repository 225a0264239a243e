"""function.api_store under moto: plain items, presigned URLs, sources by version, the render cache."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from function.api_store import ApiStore, SourceGoneError
from function.settings import ApiSettings
from function.store import client
from tests.function.conftest import PROCESSED, TABLE, UPLOAD, Aws

SETTINGS = ApiSettings(UPLOAD, PROCESSED, TABLE, presign_expires=120)


@pytest.fixture
def api_store(aws: Aws) -> Iterator[ApiStore]:
    yield ApiStore(SETTINGS, client("s3", signature_version="s3v4"), client("dynamodb"))


def test_get_image_returns_plain_values(aws: Aws, api_store: ApiStore) -> None:
    aws.ddb.put_item(
        TableName=TABLE,
        Item={
            "image_id": {"S": "0123456789abcdef"},
            "width": {"N": "320"},
            "variants": {"M": {"t": {"M": {"key": {"S": "k.jpg"}}}}},
        },
    )
    item = api_store.get_image("0123456789abcdef")
    assert item == {
        "image_id": "0123456789abcdef",
        "width": Decimal(320),
        "variants": {"t": {"key": "k.jpg"}},
    }
    assert api_store.get_image("ffffffffffffffff") is None


def test_read_source_reads_the_recorded_version(aws: Aws, api_store: ApiStore) -> None:
    first = aws.s3.put_object(Bucket=UPLOAD, Key="a.jpg", Body=b"one")["VersionId"]
    aws.s3.put_object(Bucket=UPLOAD, Key="a.jpg", Body=b"two")
    item: dict[str, Any] = {"source_bucket": UPLOAD, "source_key": "a.jpg", "source_version_id": first}
    assert api_store.read_source(item) == b"one"
    assert api_store.read_source({"source_bucket": UPLOAD, "source_key": "a.jpg"}) == b"two"
    with pytest.raises(SourceGoneError):
        api_store.read_source({"source_bucket": UPLOAD, "source_key": "gone.jpg"})


def test_render_cache_round_trip(aws: Aws, api_store: ApiStore) -> None:
    key = "renders/0123456789abcdef/10x5_inside_q80.jpg"
    assert api_store.cached_rendition(key) is None
    api_store.put_rendition(key, b"jpeg!", "image/jpeg", 10, 5, "0123456789abcdef")
    cached = api_store.cached_rendition(key)
    assert cached is not None and (cached.width, cached.height, cached.bytes) == (10, 5, 5)
    assert cached.content_type == "image/jpeg"
    head = aws.s3.head_object(Bucket=PROCESSED, Key=key)
    assert head["Metadata"]["image-id"] == "0123456789abcdef" and "immutable" in head["CacheControl"]


def test_presigned_upload_signs_type_length_and_no_overwrite(api_store: ApiStore) -> None:
    url = urlsplit(api_store.presign_upload("a b.png", "image/png", 42, overwrite=False))
    query = parse_qs(url.query)
    assert url.path.endswith("/a%20b.png") and query["X-Amz-Expires"] == ["120"]
    signed = set(query["X-Amz-SignedHeaders"][0].split(";"))
    assert {"content-type", "content-length", "if-none-match"} <= signed
    query = parse_qs(urlsplit(api_store.presign_upload("a.png", "image/png", 42, overwrite=True)).query)
    assert "if-none-match" not in query["X-Amz-SignedHeaders"][0]
