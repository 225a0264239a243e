"""The API Lambdas (``function.api.handler``) under moto: presign, variant redirects, renders, errors."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from function import api

REGION = "eu-west-1"
UPLOADS = "uploads-b"
PROCESSED = "processed-b"
TABLE = "meta"
IMAGE_ID = "0123456789abcdef"
SOURCE_KEY = "photos/cat.jpg"


def _jpeg(size: tuple[int, int] = (320, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "UPLOAD_BUCKET": UPLOADS,
        "PROCESSED_BUCKET": PROCESSED,
        "METADATA_TABLE": TABLE,
        "MAX_PIXELS": "4000000",
        "MAX_UPLOAD_MB": "50",
        "PRESIGN_EXPIRES_SECONDS": "600",
        "CORS_ORIGINS": "*",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        api.reset_clients()
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (UPLOADS, PROCESSED):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=UPLOADS, VersioningConfiguration={"Status": "Enabled"})
        version = s3.put_object(Bucket=UPLOADS, Key=SOURCE_KEY, Body=_jpeg(), ContentType="image/jpeg")[
            "VersionId"
        ]
        s3.put_object(Bucket=PROCESSED, Key="photos/cat_thumbnail_0123456789abcdef.jpg", Body=b"thumb")
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "image_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(
            TableName=TABLE,
            Item={
                "image_id": {"S": IMAGE_ID},
                "source_bucket": {"S": UPLOADS},
                "source_key": {"S": SOURCE_KEY},
                "source_version_id": {"S": version},
                "status": {"S": "done"},
                "format": {"S": "jpeg"},
                "alpha": {"BOOL": False},
                "animated": {"BOOL": False},
                "width": {"N": "320"},
                "height": {"N": "200"},
                "variants": {
                    "M": {
                        "thumbnail": {
                            "M": {
                                "bucket": {"S": PROCESSED},
                                "key": {"S": "photos/cat_thumbnail_0123456789abcdef.jpg"},
                                "format": {"S": "jpeg"},
                            }
                        }
                    }
                },
            },
        )
        ddb.put_item(
            TableName=TABLE,
            Item={
                "image_id": {"S": "fedcba9876543210"},
                "source_bucket": {"S": UPLOADS},
                "source_key": {"S": "bad.jpg"},
                "status": {"S": "failed"},
                "error": {"S": "not an image"},
            },
        )
        yield {"s3": s3, "ddb": ddb}
        api.reset_clients()


def call(method: str, resource: str, **kw: Any) -> tuple[int, dict[str, str], Any]:
    event = {
        "resource": resource,
        "httpMethod": method,
        "headers": kw.get("headers") or {},
        "pathParameters": kw.get("path"),
        "queryStringParameters": kw.get("query"),
        "body": kw.get("body"),
        "isBase64Encoded": False,
        "requestContext": {"requestId": "r-1"},
    }
    resp = api.handler(event, None)
    assert resp["isBase64Encoded"] is False
    return resp["statusCode"], resp["headers"], json.loads(resp["body"])


def presign(body: Any) -> tuple[int, dict[str, str], Any]:
    return call("POST", "/uploads", body=body if isinstance(body, str) else json.dumps(body))


def render(
    image_id: str = IMAGE_ID, accept: str | None = None, **query: str
) -> tuple[int, dict[str, str], Any]:
    headers = {"Accept": accept} if accept is not None else None
    return call(
        "GET", "/images/{image_id}/render", path={"image_id": image_id}, query=query or None, headers=headers
    )


# --- presign --------------------------------------------------------------------------------------


def test_presign_signs_type_and_length(aws: dict[str, Any]) -> None:
    status, headers, body = presign(
        {"content_type": "image/png", "content_length": 12 * 1024 * 1024, "key": "a/b c.png"}
    )
    assert status == 201, body
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert body["method"] == "PUT" and body["key"] == "a/b c.png" and body["overwrite"] is False
    # no bucket name in the answer (issue 12); the URL is S3's and names it unavoidably
    assert "bucket" not in body and UPLOADS not in json.dumps({k: v for k, v in body.items() if k != "url"})
    assert body["headers"] == {
        "Content-Type": "image/png",
        "Content-Length": str(12 * 1024 * 1024),
        "If-None-Match": "*",
    }
    assert body["expires_in"] == 600 and body["max_bytes"] == 50 * 1024 * 1024
    url = urlsplit(body["url"])
    assert url.path.endswith("/a/b%20c.png")
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["600"]
    signed = query["X-Amz-SignedHeaders"][0].split(";")
    assert "content-type" in signed and "content-length" in signed and "if-none-match" in signed


def test_presigned_url_accepts_the_upload(aws: dict[str, Any]) -> None:
    data = _jpeg()
    _, _, body = presign({"content_type": "image/jpeg", "content_length": len(data)})
    assert body["key"].startswith("uploads/") and body["key"].endswith(".jpg")
    import requests  # mock_aws intercepts plain HTTP to S3 URLs too (via `responses`)

    resp = requests.put(body["url"], data=data, headers=body["headers"], timeout=10)
    assert resp.status_code == 200
    stored = aws["s3"].get_object(Bucket=UPLOADS, Key=body["key"])
    assert stored["Body"].read() == data and stored["ContentType"] == "image/jpeg"


def test_presigned_url_refuses_to_replace_an_existing_key(aws: dict[str, Any]) -> None:
    """If-None-Match: * is signed in: a second upload to the key gets S3's 412, the first stays."""
    import requests

    first, second = _jpeg((40, 30)), _jpeg((50, 30))
    _, _, ticket = presign({"content_type": "image/jpeg", "content_length": len(first), "key": "k/once.jpg"})
    assert requests.put(ticket["url"], data=first, headers=ticket["headers"], timeout=10).status_code == 200
    _, _, again = presign({"content_type": "image/jpeg", "content_length": len(second), "key": "k/once.jpg"})
    resp = requests.put(again["url"], data=second, headers=again["headers"], timeout=10)
    assert resp.status_code == 412 and "PreconditionFailed" in resp.text
    assert aws["s3"].get_object(Bucket=UPLOADS, Key="k/once.jpg")["Body"].read() == first


def test_presign_overwrite_opt_in_writes_a_new_version(aws: dict[str, Any]) -> None:
    import requests

    data = _jpeg((60, 30))
    status, _, ticket = presign(
        {"content_type": "image/jpeg", "content_length": len(data), "key": SOURCE_KEY, "overwrite": True}
    )
    assert status == 201 and ticket["overwrite"] is True and "If-None-Match" not in ticket["headers"]
    assert "if-none-match" not in parse_qs(urlsplit(ticket["url"]).query)["X-Amz-SignedHeaders"][0]
    assert requests.put(ticket["url"], data=data, headers=ticket["headers"], timeout=10).status_code == 200
    versions = aws["s3"].list_object_versions(Bucket=UPLOADS, Prefix=SOURCE_KEY)["Versions"]
    assert len(versions) == 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"content_type": "image/jpeg", "content_length": 5, "overwrite": "yes"}, "'overwrite' must be"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": "a\u202egpj.exe"}, "U+202E"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": "a\u0085b.jpg"}, "control character"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": "é" * 513}, "over S3's limit"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": "a//b.jpg"}, "empty segment"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": ""}, "the key is empty"),
        ({"content_type": "text/plain", "content_length": 10}, "'content_type' must be one of"),
        ({"content_type": "application/pdf", "content_length": 10}, "'content_type' must be one of"),
        ({"content_type": "image/jpeg", "content_length": 51 * 1024 * 1024}, "maxUploadMb"),
        ({"content_type": "image/jpeg", "content_length": 0}, "between 1 and"),
        ({"content_type": "image/jpeg", "content_length": "12"}, "must be the file size in bytes"),
        ({"content_type": "image/jpeg"}, "must be the file size in bytes"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": "/abs.jpg"}, "starts with '/'"),
        ({"content_type": "image/jpeg", "content_length": 5, "key": "a/../b.jpg"}, "'..' segment"),
        ({"content_type": "image/jpeg", "content_length": 5, "extra": 1}, "unknown field"),
        ("not json", "must be JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_presign_rejects_bad_requests_with_400_json(aws: dict[str, Any], payload: Any, message: str) -> None:
    status, headers, body = presign(payload)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert message in body["message"]


# --- variants -------------------------------------------------------------------------------------


def test_variant_redirects_to_a_presigned_url(aws: dict[str, Any]) -> None:
    status, headers, body = call(
        "GET", "/images/{image_id}/variants/{variant}", path={"image_id": IMAGE_ID, "variant": "thumbnail"}
    )
    assert status == 302
    assert headers["Location"] == body["url"]
    assert "/photos/cat_thumbnail_0123456789abcdef.jpg" in body["url"] and "X-Amz-Signature" in body["url"]


VARIANT = "/images/{image_id}/variants/{variant}"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Accept": "application/json"}, None),
        ({"accept": "text/plain;q=0.5, application/json"}, None),
        ({}, {"redirect": "false"}),
        ({"Accept": "image/*"}, {"redirect": "False"}),
    ],
)
def test_variant_answers_json_on_request(
    aws: dict[str, Any], headers: dict[str, str], query: dict[str, str] | None
) -> None:
    status, resp_headers, body = call(
        "GET", VARIANT, path={"image_id": IMAGE_ID, "variant": "thumbnail"}, headers=headers, query=query
    )
    assert status == 200 and "Location" not in resp_headers
    assert resp_headers["Content-Type"] == "application/json"
    assert resp_headers["Access-Control-Allow-Origin"] == "*"
    assert "/photos/cat_thumbnail_0123456789abcdef.jpg" in body["url"] and "X-Amz-Signature" in body["url"]
    assert body["variant"] == "thumbnail" and body["format"] == "jpeg"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, None),  # a browser navigating
        ({"Accept": "application/json"}, {"redirect": "true"}),  # the parameter wins
    ],
)
def test_variant_redirect_stays_the_default(
    aws: dict[str, Any], headers: dict[str, str], query: dict[str, str] | None
) -> None:
    status, resp_headers, body = call(
        "GET", VARIANT, path={"image_id": IMAGE_ID, "variant": "thumbnail"}, headers=headers, query=query
    )
    assert status == 302 and resp_headers["Location"] == body["url"]


def test_bad_redirect_value_is_400(aws: dict[str, Any]) -> None:
    status, _, body = call(
        "GET", VARIANT, path={"image_id": IMAGE_ID, "variant": "thumbnail"}, query={"redirect": "no"}
    )
    assert status == 400 and "'redirect' must be true" in body["message"]
    status, _, body = render(w="10", redirect="maybe")
    assert status == 400 and "'redirect' must be true" in body["message"]


@pytest.mark.parametrize(
    ("image_id", "variant", "message"),
    [
        ("ffffffffffffffff", "thumbnail", "image not found"),
        ("not-an-id", "thumbnail", "is not an image id"),
        (IMAGE_ID, "huge", "has no variant 'huge'"),
        ("fedcba9876543210", "thumbnail", "the image is failed"),
    ],
)
def test_unknown_image_or_variant_is_404(
    aws: dict[str, Any], image_id: str, variant: str, message: str
) -> None:
    status, _, body = call(
        "GET", "/images/{image_id}/variants/{variant}", path={"image_id": image_id, "variant": variant}
    )
    assert status == 404 and message in body["message"]


# --- render ---------------------------------------------------------------------------------------


def _cached(aws: dict[str, Any], key: str) -> Image.Image:
    return Image.open(io.BytesIO(aws["s3"].get_object(Bucket=PROCESSED, Key=key)["Body"].read()))


@pytest.mark.parametrize(
    ("query", "key", "pil_format", "size"),
    [
        ({"w": "160"}, "160x100_inside_q80.jpg", "JPEG", (160, 100)),
        ({"h": "50", "format": "png"}, "80x50_inside.png", "PNG", (80, 50)),
        (
            {"w": "100", "h": "100", "fit": "cover", "format": "webp", "quality": "70"},
            "100x100_cover_q70.webp",
            "WEBP",
            (100, 100),
        ),
        (
            {"w": "100", "h": "100", "fit": "contain", "format": "png"},
            "100x100_contain.png",
            "PNG",
            (100, 100),
        ),
        (
            {"w": "100", "h": "100", "fit": "inside", "format": "jpg"},
            "100x62_inside_q80.jpg",
            "JPEG",
            (100, 62),
        ),
    ],
)
def test_render_formats_and_fits(
    aws: dict[str, Any], query: dict[str, str], key: str, pil_format: str, size: tuple[int, int]
) -> None:
    status, headers, body = render(**query)
    assert status == 302, body
    assert headers["X-Cache"] == "Miss" and headers["Location"] == body["url"]
    assert body["key"] == f"renders/{IMAGE_ID}/{key}" and body["cached"] is False
    assert (body["width"], body["height"]) == size
    im = _cached(aws, body["key"])
    assert im.format == pil_format and im.size == size
    assert body["content_type"] == aws["s3"].head_object(Bucket=PROCESSED, Key=body["key"])["ContentType"]


@pytest.mark.parametrize(
    ("accept", "ext", "pil_format"),
    [
        # Chrome / Firefox: AVIF first
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "avif", "AVIF"),
        # a client without AVIF
        ("image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5", "webp", "WEBP"),
        # curl, or anything that lists no image type: JPEG, which every client shows
        ("*/*", "jpg", "JPEG"),
    ],
)
def test_format_auto_follows_accept_and_varies_on_it(
    aws: dict[str, Any], accept: str, ext: str, pil_format: str
) -> None:
    status, headers, body = render(accept=accept, w="160", format="auto")
    assert status == 302, body
    assert headers["Vary"] == "Accept"
    assert body["key"] == f"renders/{IMAGE_ID}/160x100_inside_q80.{ext}"  # the chosen format
    assert _cached(aws, body["key"]).format == pil_format
    assert body["content_type"] == f"image/{pil_format.lower()}"


def test_format_auto_cache_key_is_the_chosen_format_not_the_header(aws: dict[str, Any]) -> None:
    _, _, first = render(accept="image/avif", w="100", format="auto")
    # another header choosing the same format: the same object, a cache hit, no encode
    with mock.patch("function.imaging.render", side_effect=AssertionError("re-encoded")):
        status, headers, second = render(accept="image/webp;q=0.9, image/avif", w="100", format="auto")
    assert status == 302 and headers["X-Cache"] == "Hit" and second["key"] == first["key"]
    # and an explicit format=avif names the same rendition
    _, headers, third = render(w="100", format="avif")
    assert third["key"] == first["key"] and headers["X-Cache"] == "Hit" and "Vary" not in headers
    # a refused type (q=0) is not accepted
    _, _, webp = render(accept="image/avif;q=0, image/webp", w="100", format="auto")
    assert webp["key"].endswith(".webp")


def test_format_auto_keeps_alpha_and_animation(aws: dict[str, Any]) -> None:
    from tests.function import samples

    def source(key: str, data: bytes, image_id: str, **fields: Any) -> None:
        version = aws["s3"].put_object(Bucket=UPLOADS, Key=key, Body=data)["VersionId"]
        item = {
            "image_id": {"S": image_id},
            "source_bucket": {"S": UPLOADS},
            "source_key": {"S": key},
            "source_version_id": {"S": version},
            "status": {"S": "done"},
            "width": {"N": "120"},  # both samples are 120x80
            "height": {"N": "80"},
            **{k: {"BOOL": v} if isinstance(v, bool) else {"S": v} for k, v in fields.items()},
        }
        aws["ddb"].put_item(TableName=TABLE, Item=item)

    source("a.png", samples.rgba_png(), "00000000000000aa", format="png", alpha=True, animated=False)
    source("b.gif", samples.animated_gif(), "00000000000000bb", format="gif", alpha=False, animated=True)
    source("c.png", samples.rgba_png(), "00000000000000cc", format="png")  # item from before `alpha`
    _, _, body = render("00000000000000aa", accept="*/*", w="60", format="auto")
    assert body["key"].endswith(".png") and _cached(aws, body["key"]).mode == "RGBA"
    _, _, body = render("00000000000000cc", accept="text/html", w="60", format="auto")
    assert body["key"].endswith(".png")  # unknown alpha: never flattened
    _, _, body = render("00000000000000bb", accept="image/avif,image/webp", w="60", format="auto")
    assert body["key"].endswith(".webp") and getattr(_cached(aws, body["key"]), "n_frames", 1) == 3
    _, _, body = render("00000000000000bb", accept="*/*", w="60", format="auto")
    assert body["key"].endswith(".gif") and getattr(_cached(aws, body["key"]), "n_frames", 1) == 3


def test_render_answers_json_on_request(aws: dict[str, Any]) -> None:
    status, headers, first = render(w="90", redirect="false")
    assert status == 200 and "Location" not in headers and headers["X-Cache"] == "Miss"
    assert first["cached"] is False and first["width"] == 90 and "X-Amz-Signature" in first["url"]
    status, headers, second = call(
        "GET",
        "/images/{image_id}/render",
        path={"image_id": IMAGE_ID},
        query={"w": "90"},
        headers={"Accept": "application/json"},
    )
    assert status == 200 and headers["X-Cache"] == "Hit" and second["cached"] is True
    assert second["key"] == first["key"]


def test_contain_pads_with_transparency(aws: dict[str, Any]) -> None:
    _, _, body = render(w="100", h="100", fit="contain", format="png")
    im = _cached(aws, body["key"]).convert("RGBA")
    assert im.getpixel((50, 2))[3] == 0  # letterbox band above the 100x62 picture
    assert im.getpixel((50, 50))[:3] == pytest.approx((30, 120, 200), abs=3)


def test_second_render_is_served_from_cache_without_encoding(aws: dict[str, Any]) -> None:
    status, _, first = render(w="120", format="webp")
    assert status == 302 and first["cached"] is False
    with mock.patch("function.imaging.render", side_effect=AssertionError("re-encoded")) as encode:
        status, headers, second = render(w="120", format="webp")
    assert encode.call_count == 0
    assert status == 302 and headers["X-Cache"] == "Hit" and second["cached"] is True
    assert second["key"] == first["key"]
    assert (second["width"], second["height"], second["bytes"]) == (
        first["width"],
        first["height"],
        first["bytes"],
    )


def _add_image(aws: dict[str, Any], image_id: str, data: bytes, size: tuple[int, int]) -> None:
    """A processed (``done``) image whose source is ``data``."""
    version = aws["s3"].put_object(Bucket=UPLOADS, Key=f"{image_id}.img", Body=data)["VersionId"]
    aws["ddb"].put_item(
        TableName=TABLE,
        Item={
            "image_id": {"S": image_id},
            "source_bucket": {"S": UPLOADS},
            "source_key": {"S": f"{image_id}.img"},
            "source_version_id": {"S": version},
            "status": {"S": "done"},
            "width": {"N": str(size[0])},
            "height": {"N": str(size[1])},
        },
    )


def _renders(aws: dict[str, Any], image_id: str = IMAGE_ID) -> list[str]:
    listing = aws["s3"].list_objects_v2(Bucket=PROCESSED, Prefix=f"renders/{image_id}/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_oversized_boxes_are_clamped_before_the_cache_key(aws: dict[str, Any]) -> None:
    """w=5000/5001/5002 on a 320x200 image all produce 320x200: one object, Miss then Hit, Hit."""
    answers = [render(w=w) for w in ("5000", "5001", "5002")]
    assert [a[1]["X-Cache"] for a in answers] == ["Miss", "Hit", "Hit"]
    assert {a[2]["key"] for a in answers} == {f"renders/{IMAGE_ID}/320x200_inside_q80.jpg"}
    assert all((a[2]["width"], a[2]["height"]) == (320, 200) for a in answers)  # never upscaled
    # a cover or contain box that neither crops nor pads is that same inside picture
    assert render(w="320", h="200", fit="cover")[1]["X-Cache"] == "Hit"
    assert render(w="640", h="400", fit="contain")[1]["X-Cache"] == "Hit"
    assert _renders(aws) == [f"renders/{IMAGE_ID}/320x200_inside_q80.jpg"]


def test_contain_never_pads_beyond_the_source_pixel_count(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: a 1x1 source asked for 7071x7071 (49 MP of padding before)."""
    monkeypatch.setenv("MAX_PIXELS", "50000000")  # the stack default, so the box itself is allowed
    _add_image(aws, "1111111111111111", _jpeg((1, 1)), (1, 1))
    status, _, body = render("1111111111111111", w="7071", h="7071", fit="contain", format="png")
    assert status == 302, body
    assert (body["width"], body["height"]) == (1, 1) and _cached(aws, body["key"]).size == (1, 1)
    # a wide source in a square box: the canvas keeps the box's shape within the source's pixels
    status, _, body = render(w="4000", h="4000", fit="contain", format="png")
    canvas = _cached(aws, body["key"])
    assert canvas.size == (252, 252) and 252 * 252 <= 320 * 200
    assert canvas.convert("RGBA").getpixel((126, 2))[3] == 0  # still padded, with the box's aspect


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"w": "²"}, "ASCII digits 0-9 only"),
        ({"w": "٣"}, "ASCII digits 0-9 only"),
        ({"h": "12a"}, "ASCII digits 0-9 only"),
        ({"w": "-5"}, "ASCII digits 0-9 only"),
        ({"w": "1" * 5000}, "from 1 to 8192"),
        ({"w": "10", "quality": "⁹"}, "'quality' must be a whole number from 1 to 100"),
    ],
)
def test_render_numbers_are_ascii_digits(aws: dict[str, Any], query: dict[str, str], message: str) -> None:
    """``w=²`` passed str.isdigit() and crashed int() (a 502 that paged); now a 400."""
    status, _, body = render(**query)
    assert status == 400 and message in body["message"], body
    assert _renders(aws) == []


def test_distinct_renditions_per_image_are_capped(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from function import api_service

    monkeypatch.setattr(api_service, "MAX_RENDITIONS_PER_IMAGE", 3)
    for w in ("10", "20", "30"):
        assert render(w=w)[1]["X-Cache"] == "Miss"
    status, _, body = render(w="40")
    assert status == 429 and "already has 3 cached renditions" in body["message"]
    assert "expire" in body["message"]
    assert render(w="20")[1]["X-Cache"] == "Hit"  # renditions it has are still served
    assert len(_renders(aws)) == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "give 'w', 'h' or both"),
        ({"w": "0"}, "'w' must be a whole number from 1 to 8192"),
        ({"w": "9000"}, "'w' must be a whole number from 1 to 8192"),
        ({"h": "abc"}, "'h' must be a whole number"),
        ({"w": "4000", "h": "4000"}, "over the limit of 4000000"),
        ({"w": "10", "fit": "stretch"}, "'fit' must be one of"),
        ({"w": "10", "fit": "cover"}, "fit 'cover' needs both"),
        ({"w": "10", "format": "tiff"}, "'format' must be one of jpeg, png, webp, avif, gif, auto"),
        ({"w": "10", "quality": "101"}, "'quality' must be a whole number from 1 to 100"),
        ({"w": "10", "colour": "red"}, "unknown parameter"),
    ],
)
def test_render_bounds_are_400(aws: dict[str, Any], query: dict[str, str], message: str) -> None:
    status, _, body = render(**query)
    assert status == 400 and message in body["message"]
    assert aws["s3"].list_objects_v2(Bucket=PROCESSED, Prefix="renders/").get("KeyCount", 0) == 0


def test_render_unknown_or_unfinished_image(aws: dict[str, Any]) -> None:
    assert render("ffffffffffffffff", w="10")[0] == 404
    status, _, body = render("fedcba9876543210", w="10")
    assert status == 409 and "failed: not an image" in body["message"]


def test_render_of_a_deleted_source_is_410(aws: dict[str, Any]) -> None:
    for v in aws["s3"].list_object_versions(Bucket=UPLOADS)["Versions"]:
        aws["s3"].delete_object(Bucket=UPLOADS, Key=v["Key"], VersionId=v["VersionId"])
    assert render(w="10")[0] == 410


def test_unknown_route_is_404_json(aws: dict[str, Any]) -> None:
    status, _, body = call("DELETE", "/uploads")
    assert status == 404 and "no route" in body["message"]


def test_cors_echoes_a_configured_origin(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example,https://b.example")
    _, headers, _ = call(
        "GET",
        "/images/{image_id}/render",
        path={"image_id": IMAGE_ID},
        headers={"Origin": "https://b.example"},
    )
    assert headers["Access-Control-Allow-Origin"] == "https://b.example" and headers["Vary"] == "Origin"
    _, headers, _ = call(
        "GET",
        "/images/{image_id}/render",
        path={"image_id": IMAGE_ID},
        query={"w": "10", "format": "auto"},
        headers={"Origin": "https://b.example", "Accept": "image/webp"},
    )
    assert headers["Vary"] == "Accept, Origin"  # both, not one overwriting the other
    _, headers, _ = call(
        "GET",
        "/images/{image_id}/render",
        path={"image_id": IMAGE_ID},
        headers={"Origin": "https://evil.example"},
    )
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
