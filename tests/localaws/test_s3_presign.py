"""Presigned S3 URLs checked as S3 checks them (``localaws/s3_presign.py``): moto accepts any
signature, the local stack must not (a dropped ``If-None-Match: *`` would overwrite a key)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from localaws import s3_presign

SECRETS = {"AKIDLOCALTEST": "s3cr3t"}


def _url(**params: Any) -> str:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="AKIDLOCALTEST",
        aws_secret_access_key="s3cr3t",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    base = {"Bucket": "up", "Key": "dir/a b+c.jpg", "ContentType": "image/jpeg", "ContentLength": 5}
    return s3.generate_presigned_url("put_object", Params={**base, **params}, ExpiresIn=60)


def _environ(url: str, headers: dict[str, str], method: str = "PUT") -> dict[str, Any]:
    parts = urlsplit(url)
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "RAW_URI": f"{parts.path}?{parts.query}",
        "QUERY_STRING": parts.query,
        "HTTP_HOST": parts.netloc,
        "wsgi.input": io.BytesIO(b"x" * 5),
    }
    for name, value in headers.items():
        if name == "Content-Type":
            environ["CONTENT_TYPE"] = value
        elif name == "Content-Length":
            environ["CONTENT_LENGTH"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


GOOD = {"Content-Type": "image/jpeg", "Content-Length": "5", "If-None-Match": "*"}


def test_the_request_the_url_was_issued_for_passes() -> None:
    assert s3_presign.check(_environ(_url(IfNoneMatch="*"), GOOD), SECRETS.get) is None


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Content-Type": "image/jpeg", "Content-Length": "5"}, "'if-none-match'"),  # would overwrite
        ({**GOOD, "Content-Type": "text/html"}, "does not match"),
        ({**GOOD, "Content-Length": "6"}, "does not match"),
    ],
)
def test_a_dropped_or_changed_signed_header_is_refused(headers: dict[str, str], says: str) -> None:
    refused = s3_presign.check(_environ(_url(IfNoneMatch="*"), headers), SECRETS.get)
    assert refused is not None and refused[0] == "SignatureDoesNotMatch" and says in refused[1]


def test_a_tampered_query_or_path_is_refused() -> None:
    url = _url()
    assert s3_presign.check(_environ(url.replace("a%20b", "x%20b"), GOOD), SECRETS.get) is not None
    assert s3_presign.check(_environ(url.replace("X-Amz-Expires=60", "X-Amz-Expires=99"), GOOD), SECRETS.get)


def test_an_expired_url_is_access_denied() -> None:
    later = datetime.now(UTC) + timedelta(seconds=61)
    refused = s3_presign.check(_environ(_url(), GOOD), SECRETS.get, now=later)
    assert refused == ("AccessDenied", "Request has expired")


def test_unknown_keys_and_unsigned_requests_are_left_to_moto() -> None:
    assert s3_presign.check(_environ(_url(), {}), {}.get) is None  # no secret to check against
    plain = _environ("http://127.0.0.1:4566/up/k?versioning", {})
    assert s3_presign.check(plain, SECRETS.get) is None


def test_middleware_answers_403_xml_and_stores_nothing() -> None:
    called: list[str] = []

    def backend(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        called.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    statuses: list[str] = []
    app = s3_presign.middleware(backend, SECRETS.get)
    body = b"".join(
        app(_environ(_url(IfNoneMatch="*"), {**GOOD, "If-None-Match": ""}), lambda s, h: statuses.append(s))
    )
    assert statuses == ["403 Forbidden"] and b"<Code>SignatureDoesNotMatch</Code>" in body and called == []
    b"".join(app(_environ(_url(IfNoneMatch="*"), GOOD), lambda s, h: statuses.append(s)))
    assert statuses[-1] == "200 OK" and called == ["/up/dir/a%20b%2Bc.jpg"]
