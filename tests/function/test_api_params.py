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


@pytest.mark.parametrize(
    ("request_", "source", "key"),
    [
        (RenderRequest(5000, None, "inside", "jpeg", 80), (320, 200), "320x200_inside_q80.jpg"),
        (RenderRequest(None, 50, "inside", "png", 80), (320, 200), "80x50_inside.png"),
        (RenderRequest(100, 100, "cover", "webp", 70), (320, 200), "100x100_cover_q70.webp"),
        (RenderRequest(5000, 5000, "cover", "webp", 70), (320, 200), "320x200_inside_q70.webp"),
        (RenderRequest(100, 100, "contain", "jpeg", 80), (320, 200), "100x100_contain_q80.jpg"),
        (RenderRequest(7071, 7071, "contain", "png", 80), (1, 1), "1x1_inside.png"),
        (RenderRequest(1000, 1000, "contain", "png", 80), (320, 200), "252x252_contain.png"),
    ],
)
def test_plan_clamps_to_the_source_and_names_what_is_produced(
    request_: RenderRequest, source: tuple[int, int], key: str
) -> None:
    planned = request_.plan(*source)
    assert planned.cache_key("0123456789abcdef") == f"renders/0123456789abcdef/{key}"
    assert planned.width * planned.height <= source[0] * source[1]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"w": "20", "h": "6"}, "over the limit of 100"),
        ({"w": "10", "format": "tiff"}, "'format' must be one of"),
        ({"w": "10", "fit": "contain"}, "fit 'contain' needs both"),
        ({"q": "1"}, "unknown parameter"),
        ({"w": "²"}, "ASCII digits 0-9 only"),
        ({"w": "99999999999999999999"}, "from 1 to 8192"),
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
        req.plan(120, 80).cache_key("0123456789abcdef")
    planned = req.with_format("avif").plan(120, 80)
    assert planned.cache_key("0123456789abcdef").endswith("/10x7_inside_q80.avif")
