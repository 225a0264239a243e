"""S3 CORS on the local endpoint, evaluated the way Amazon S3 does it.

moto's server answers every request with ``Access-Control-Allow-Origin: *`` (flask-cors on the
whole app) and its S3 ``OPTIONS`` merges all of a bucket's rules without looking at the method or
the headers, so a browser test against it would pass where AWS refuses. This WSGI middleware sits
in front of moto and answers for S3 the way the S3 user guide describes ("How does Amazon S3
evaluate the CORS configuration on a bucket?", docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html)
and the ``OPTIONS object`` API reference (docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html):

- a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) uses the *first*
  rule whose ``AllowedOrigin`` matches the origin (one ``*`` wildcard allowed), whose
  ``AllowedMethod`` has the requested method and whose ``AllowedHeader`` entries match every
  requested header (case-insensitive, one ``*`` wildcard allowed); it answers 200 with that
  rule's methods, the requested headers, its expose headers and max age, or 403 ``AccessForbidden``
  when no rule matches, or 403 when the bucket has no CORS configuration at all;
- an actual request with an ``Origin`` gets the CORS headers of the first rule matching origin and
  method (and none otherwise: the request itself still runs, the browser then hides the answer).

Only path-style S3 requests are touched (``/<bucket>/<key>``, as the local endpoint is addressed);
every other service keeps moto's behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

FORBIDDEN = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_ORIGIN = "Insufficient information. Origin request header needed."
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


@dataclass(frozen=True)
class Rule:
    """One ``CORSRule`` of a bucket's configuration."""

    allowed_origins: Sequence[str]
    allowed_methods: Sequence[str]
    allowed_headers: Sequence[str] = ()
    expose_headers: Sequence[str] = ()
    max_age_seconds: int | None = None


def _wildcard(pattern: str, value: str, *, case_insensitive: bool = False) -> bool:
    """S3's matching: the pattern is literal except for (at most) one ``*`` matching anything."""
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, value, re.IGNORECASE if case_insensitive else 0) is not None


def origin_allowed(rule: Rule, origin: str) -> bool:
    return any(_wildcard(allowed, origin) for allowed in rule.allowed_origins)


def _header_allowed(rule: Rule, header: str) -> bool:
    return any(_wildcard(allowed, header, case_insensitive=True) for allowed in rule.allowed_headers)


def preflight_rule(rules: Sequence[Rule], origin: str, method: str, headers: Sequence[str]) -> Rule | None:
    """The first rule allowing the origin, the method and every requested header."""
    for rule in rules:
        if (
            origin_allowed(rule, origin)
            and method in rule.allowed_methods
            and all(_header_allowed(rule, h) for h in headers)
        ):
            return rule
    return None


def request_rule(rules: Sequence[Rule], origin: str, method: str) -> Rule | None:
    """The first rule allowing an actual (non-preflight) request's origin and method."""
    for rule in rules:
        if origin_allowed(rule, origin) and method in rule.allowed_methods:
            return rule
    return None


def _allow_origin(rule: Rule, origin: str) -> dict[str, str]:
    # A rule allowing any origin answers "*"; a specific one echoes it and allows credentials.
    if "*" in rule.allowed_origins:
        return {"Access-Control-Allow-Origin": "*"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}


def preflight_headers(rule: Rule, origin: str, headers: Sequence[str]) -> dict[str, str]:
    """An actual request's CORS headers plus the request headers the preflight asked for."""
    out = request_headers(rule, origin)
    if headers:
        out["Access-Control-Allow-Headers"] = ", ".join(headers)
    return out


def request_headers(rule: Rule, origin: str) -> dict[str, str]:
    out = {**_allow_origin(rule, origin), "Access-Control-Allow-Methods": ", ".join(rule.allowed_methods)}
    if rule.expose_headers:
        out["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        out["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    out["Vary"] = VARY
    return out


def _error(start_response: Callable[..., Any], status: str, code: str, message: str) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def is_s3_request(environ: dict[str, Any]) -> bool:
    """A SigV4 request (header or presigned query) for the ``s3`` service."""
    if "/s3/aws4_request" in environ.get("HTTP_AUTHORIZATION", ""):
        return True
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    return credential.endswith("/s3/aws4_request")


def middleware(app: WSGIApp, bucket_rules: Callable[[str], list[Rule] | None]) -> WSGIApp:
    """Wrap moto's WSGI app. ``bucket_rules(name)`` is the bucket's CORS rules, ``[]`` when it has
    none, ``None`` when there is no such bucket (then moto answers as it would)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        origin = environ.get("HTTP_ORIGIN", "")
        bucket = unquote(environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0])
        if method == "OPTIONS" and bucket and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            rules = bucket_rules(bucket)
            if rules is None:
                return app(environ, start_response)
            if not origin:
                return _error(start_response, "400 Bad Request", "BadRequest", NO_ORIGIN)
            if not rules:
                return _error(start_response, "403 Forbidden", "AccessForbidden", NOT_ENABLED)
            asked = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"].strip().upper()
            headers = [
                h.strip().lower() for h in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",")
            ]
            headers = [h for h in headers if h]
            rule = preflight_rule(rules, origin, asked, headers)
            if rule is None:
                return _error(start_response, "403 Forbidden", "AccessForbidden", FORBIDDEN)
            start_response(
                "200 OK", [*preflight_headers(rule, origin, headers).items(), ("Content-Length", "0")]
            )
            return [b""]
        if not origin or not bucket or not is_s3_request(environ):
            return app(environ, start_response)
        rules = bucket_rules(bucket) or []
        rule = request_rule(rules, origin, method)
        extra = request_headers(rule, origin) if rule else {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # moto's blanket "Access-Control-*: *" goes; S3's own answer (or none) takes its place
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, [*kept, *extra.items()], exc_info)

        return app(environ, start)

    return wrapped
