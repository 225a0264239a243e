"""Presigned S3 URLs checked as S3 checks them (moto accepts any signature).

A presigned URL (``X-Amz-Algorithm=AWS4-HMAC-SHA256`` in the query) is valid on AWS only when the
request carries every header named in ``X-Amz-SignedHeaders`` with the value that was signed,
and the signature over them matches (SigV4 query authentication, payload ``UNSIGNED-PAYLOAD``).
imgpipe relies on it: ``POST /uploads`` signs ``Content-Type``, ``Content-Length`` and, unless the
caller opts in to overwriting, ``If-None-Match: *`` into its upload URLs, so a client that drops
the header (and would overwrite an existing key) or changes the type or size must fail.

moto ignores the signature of presigned requests, so the local stack would accept all of that;
this middleware refuses it like S3 (403 ``SignatureDoesNotMatch``, or ``AccessDenied`` for an
expired URL), recomputing the signature with the secret of the access key (an STS session key
from a function role, an IAM user's key, or the dummy ``local``). A key this moto does not know
is left to moto (it has no secret to check against).

AWS: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SecretFor = Callable[[str], str | None]


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _header(environ: dict[str, Any], name: str) -> str | None:
    lowered = name.lower()
    if lowered == "content-type":
        return environ.get("CONTENT_TYPE")
    if lowered == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + lowered.upper().replace("-", "_"))


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check(
    environ: dict[str, Any], secret_for: SecretFor, now: datetime | None = None
) -> tuple[str, str] | None:
    """(S3 error code, message) when a presigned request would fail on S3, else None."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or "X-Amz-Signature" not in params:
        return None
    credential = params.get("X-Amz-Credential", "").split("/")
    if len(credential) != 5:
        return "AuthorizationQueryParametersError", "X-Amz-Credential is malformed"
    access_key, date, region, service, _ = credential
    secret = secret_for(access_key)
    if secret is None:
        return None  # not a key of this moto: nothing to verify against
    amz_date = params.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(params.get("X-Amz-Expires", "0"))
    except ValueError:
        return "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed"
    if (now or datetime.now(UTC)) > signed_at + timedelta(seconds=expires):
        return "AccessDenied", "Request has expired"
    signed_headers = params.get("X-Amz-SignedHeaders", "").split(";")
    canonical_headers = ""
    for name in signed_headers:
        value = environ.get("HTTP_HOST") if name == "host" else _header(environ, name)
        if value is None:
            return (
                "SignatureDoesNotMatch",
                f"the URL was signed with the header {name!r} and the request does not send it: "
                "send every header the URL was issued with",
            )
        canonical_headers += f"{name}:{' '.join(value.strip().split())}\n"
    # the path as the client sent it (S3 does not normalise or re-encode it)
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
    canonical_query = "&".join(
        f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query) if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            environ.get("REQUEST_METHOD", "GET"),
            raw_path.split("?", 1)[0],
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    expected = hmac.new(
        _signing_key(secret, date, region, service), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided: a signed "
            "header (Content-Type, Content-Length, If-None-Match) differs from what the URL was issued for",
        )
    return None


def middleware(app: WSGIApp, secret_for: SecretFor) -> WSGIApp:
    """Refuse presigned requests S3 would refuse; pass everything else to ``app``."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refused = check(environ, secret_for)
        if refused is None:
            return app(environ, start_response)
        code, message = refused
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{uuid.uuid4().hex}</RequestId></Error>"
        )
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [body.encode()]

    return wrapped
