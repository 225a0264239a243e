"""The local endpoint's S3 CORS evaluation (localaws/s3_cors.py), against AWS's documented rules:
first matching rule, method and every requested header must match, 403 without a match or without
a configuration, moto's blanket ``*`` headers replaced on actual requests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from localaws import s3_cors
from localaws.resources.s3 import local_origin
from localaws.s3_cors import Rule

UPLOAD_RULE = Rule(
    allowed_origins=("https://app.example.com", "http://127.0.0.1:*"),
    allowed_methods=("PUT",),
    allowed_headers=("Content-Type",),
    expose_headers=("ETag", "x-amz-version-id"),
    max_age_seconds=600,
)
READ_RULE = Rule(allowed_origins=("*",), allowed_methods=("GET", "HEAD"))
PRESIGNED_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=local%2F20261128%2Fus-east-1%2Fs3%2Faws4_request"
)


def moto_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Stands in for moto: answers 200 with flask-cors' blanket headers."""
    start_response(
        "200 OK",
        [("ETag", '"abc"'), ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "*")],
    )
    return [b"moto"]


def call(
    rules: dict[str, list[Rule]], method: str, path: str, headers: dict[str, str], query: str = ""
) -> tuple[int, dict[str, str], bytes]:
    app = s3_cors.middleware(moto_app, rules.get)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


BUCKETS = {"uploads": [UPLOAD_RULE], "processed": [READ_RULE], "plain": []}


def preflight(bucket: str, origin: str, method: str, headers: str = "") -> tuple[int, dict[str, str], bytes]:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request["Access-Control-Request-Headers"] = headers
    return call(BUCKETS, "OPTIONS", f"/{bucket}/gallery/a.jpg", request)


def test_preflight_allowed_echoes_origin_methods_and_requested_headers() -> None:
    status, headers, _ = preflight("uploads", "https://app.example.com", "PUT", "content-type")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "PUT"
    assert headers["Access-Control-Allow-Headers"] == "content-type"
    assert headers["Access-Control-Expose-Headers"] == "ETag, x-amz-version-id"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in headers["Vary"]


def test_wildcard_origin_answers_star_and_one_star_matches_a_port() -> None:
    status, headers, _ = preflight("processed", "http://anything.test", "GET")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = preflight("uploads", "http://127.0.0.1:41234", "PUT", "content-type")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:41234"


@pytest.mark.parametrize(
    ("bucket", "origin", "method", "request_headers"),
    [
        ("uploads", "https://evil.example.com", "PUT", "content-type"),  # origin not listed
        ("uploads", "https://app.example.com", "DELETE", ""),  # method not allowed
        ("uploads", "https://app.example.com", "PUT", "content-type,x-api-key"),  # header not allowed
        ("processed", "http://x.test", "PUT", ""),  # read-only bucket
    ],
)
def test_preflight_without_a_matching_rule_is_403(
    bucket: str, origin: str, method: str, request_headers: str
) -> None:
    status, headers, body = preflight(bucket, origin, method, request_headers)
    assert status == 403 and b"<Code>AccessForbidden</Code>" in body
    assert not any(k.startswith("Access-Control-") for k in headers)


def test_bucket_without_cors_refuses_preflights() -> None:
    status, _, body = preflight("plain", "https://app.example.com", "GET")
    assert status == 403 and b"CORS is not enabled for this bucket" in body


def test_preflight_without_origin_is_400() -> None:
    status, _, body = call(BUCKETS, "OPTIONS", "/uploads/a.jpg", {"Access-Control-Request-Method": "PUT"})
    assert status == 400 and b"Origin request header needed" in body


def test_unknown_bucket_is_left_to_moto() -> None:
    status, _, body = preflight("nope", "https://app.example.com", "PUT")
    assert (status, body) == (200, b"moto")


def test_first_matching_rule_wins() -> None:
    narrow = Rule(allowed_origins=("*",), allowed_methods=("GET",), expose_headers=("ETag",))
    broad = Rule(allowed_origins=("*",), allowed_methods=("GET", "PUT"), expose_headers=("x-first-not",))
    assert s3_cors.preflight_rule([narrow, broad], "http://a.test", "GET", []) is narrow
    assert s3_cors.preflight_rule([narrow, broad], "http://a.test", "PUT", []) is broad
    assert s3_cors.request_rule([narrow, broad], "http://a.test", "PUT") is broad


def test_allowed_header_wildcard_is_case_insensitive() -> None:
    rule = Rule(allowed_origins=("*",), allowed_methods=("PUT",), allowed_headers=("x-amz-*", "Content-Type"))
    assert s3_cors.preflight_rule([rule], "http://a.test", "PUT", ["x-amz-meta-a", "content-type"]) is rule
    assert s3_cors.preflight_rule([rule], "http://a.test", "PUT", ["x-api-key"]) is None


def test_actual_request_gets_the_rules_headers_instead_of_motos() -> None:
    status, headers, body = call(
        BUCKETS, "PUT", "/uploads/gallery/a.jpg", {"Origin": "https://app.example.com"}, PRESIGNED_QUERY
    )
    assert (status, body) == (200, b"moto")
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Expose-Headers"] == "ETag, x-amz-version-id"
    assert headers["Access-Control-Allow-Methods"] == "PUT" and headers["ETag"] == '"abc"'


def test_actual_request_from_another_origin_gets_no_cors_headers() -> None:
    _, headers, body = call(
        BUCKETS, "PUT", "/uploads/a.jpg", {"Origin": "https://evil.example.com"}, PRESIGNED_QUERY
    )
    assert body == b"moto"  # the request runs, as on S3; the browser hides the answer
    assert not any(k.startswith("Access-Control-") for k in headers)


def test_requests_that_are_not_s3_keep_motos_answer() -> None:
    _, headers, _ = call(BUCKETS, "POST", "/", {"Origin": "https://app.example.com"})
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_sigv4_header_requests_count_as_s3() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=local/20261128/us-east-1/s3/aws4_request, SignedHeaders=host"
    _, headers, _ = call(
        BUCKETS, "GET", "/processed/a.jpg", {"Origin": "http://x.test", "Authorization": auth}
    )
    assert (
        headers["Access-Control-Allow-Origin"] == "*"
        and headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    )


def test_execute_api_origin_maps_to_the_local_stage_server() -> None:
    stage = "http://127.0.0.1:45678"
    assert local_origin("https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", stage) == stage
    assert local_origin("https://images.example.com", stage) == "https://images.example.com"
    assert local_origin("*", stage) == "*"
