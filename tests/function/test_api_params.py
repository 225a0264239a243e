"""function.api_params: the API's request checks, without AWS or Pillow."""

from __future__ import annotations

import base64
import json

import pytest

from function.api_params import (
    HttpError,
    RenderRequest,
    accepted_types,
    json_body,
    negotiate_format,
    parse_render,
    parse_upload,
    validate_key,
)

MB = 1024 * 1024


def test_json_body_decodes_base64_and_refuses_non_objects() -> None:
    raw = json.dumps({"content_type": "image/png"})
    assert json_body(base64.b64encode(raw.encode()).decode(), base64_encoded=True) == {
        "content_type": "image/png"
    }
    assert json_body(None) == {}
    with pytest.raises(HttpError, match="must be a JSON object") as err:
        json_body("[1]")
    assert err.value.status == 400


def test_parse_upload_normalises_the_content_type() -> None:
    req = parse_upload({"content_type": "Image/PNG; charset=x", "content_length": 5}, 10 * MB)
    assert (req.content_type, req.content_length, req.key) == ("image/png", 5, None)
    assert (
        parse_upload({"content_type": "image/jpeg", "content_length": 1, "key": "a/b.jpg"}, MB).key
        == "a/b.jpg"
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "the key is empty"),
        (7, "must be a string"),
        ("x" * 1025, "over S3's limit of 1024"),
        ("/abs.jpg", "starts with '/'"),
        ("a\x07b.jpg", "control character"),
        ("a/./b.jpg", "'.' segment"),
    ],
)
def test_validate_key_says_which_rule_failed(key: object, message: str) -> None:
    with pytest.raises(HttpError, match=message) as err:
        validate_key(key)
    assert err.value.status == 400


def test_parse_render_defaults_and_aliases() -> None:
    assert parse_render({"w": "10"}, 100) == RenderRequest(10, None, "inside", "jpeg", 80)
    req = parse_render({"w": "10", "h": "5", "fit": "Contain", "format": "JPG", "quality": "9"}, 100)
    assert req == RenderRequest(10, 5, "contain", "jpeg", 9)
    assert req.cache_key("0123456789abcdef") == "renders/0123456789abcdef/10x5_contain_q9.jpg"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"w": "20", "h": "6"}, "over the limit of 100"),
        ({"w": "10", "format": "tiff"}, "'format' must be one of"),
        ({"w": "10", "fit": "contain"}, "fit 'contain' needs both"),
        ({"q": "1"}, "unknown parameter"),
    ],
)
def test_parse_render_refuses_with_400(query: dict[str, str], message: str) -> None:
    with pytest.raises(HttpError, match=message) as err:
        parse_render(query, 100)
    assert err.value.status == 400


def test_accepted_types_reads_q_values_and_ignores_case_and_parameters() -> None:
    assert accepted_types("Image/AVIF;q=0.9, image/webp;q=0, */*;q=0.1") == {"image/avif", "*/*"}
    assert accepted_types("image/png; q=oops") == set()  # a malformed weight is not acceptance
    assert accepted_types(None) == accepted_types("") == set()


@pytest.mark.parametrize(
    ("accept", "alpha", "animated", "chosen"),
    [
        ("image/avif,image/webp,*/*", False, False, "avif"),
        ("image/webp,*/*", False, False, "webp"),
        ("image/*,*/*", False, False, "jpeg"),  # wildcards choose what every client shows
        ("*/*", True, False, "png"),  # alpha without AVIF/WebP: PNG, not a flattened JPEG
        ("image/avif", True, False, "avif"),
        ("image/avif,image/webp", False, True, "webp"),  # animated: WebP keeps frames, AVIF not
        ("image/avif", False, True, "gif"),
        (None, False, False, "jpeg"),
    ],
)
def test_negotiate_format(accept: str | None, alpha: bool, animated: bool, chosen: str) -> None:
    assert negotiate_format(accept, alpha, animated) == chosen


def test_auto_must_be_resolved_before_it_names_a_rendition() -> None:
    req = parse_render({"w": "10", "format": "AUTO"}, 100)
    assert req.fmt == "auto"
    with pytest.raises(ValueError, match="must be resolved"):
        req.cache_key("0123456789abcdef")
    assert req.with_format("avif").cache_key("0123456789abcdef").endswith("/10xauto_inside_q80.avif")
