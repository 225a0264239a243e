"""Lambda entry point ``function.api.handler``: API Gateway proxy events → the API's routes.

Routes are thin: read the event, call :class:`function.api_service.ApiService`, shape the answer.

* ``POST /uploads`` — presigned S3 ``PUT`` URL for uploads too large for API Gateway's 10 MB body
  limit. Body ``{"content_type": "image/jpeg", "content_length": 12345678, "key": "optional"}``;
  content type and length are *signed into* the URL, so S3 refuses any other type or size.
* ``GET /images/{image_id}/variants/{variant}`` — 302 to a short-lived presigned URL of a variant.
* ``GET /images/{image_id}/render?w=&h=&fit=&format=&quality=`` — on-demand rendition of the
  source, cached in the processed bucket under ``renders/``; a repeat request only finds the
  cached object (``X-Cache: Hit``). ``format=auto`` chooses AVIF/WebP/JPEG (PNG for alpha) from
  the ``Accept`` header and answers ``Vary: Accept``. Answers 302 to a presigned URL (see
  ``components/upload_api.py`` for why not inline bytes) with a JSON body describing it.

Both GETs answer ``200`` with that JSON (``{"url": …}``) and no ``Location`` instead of the 302
when asked: ``Accept: application/json`` or ``?redirect=false``. Browsers' ``fetch`` cannot read
a cross-origin redirect, and following it would re-send ``x-api-key`` to S3.

Every error is ``{"message": …}`` JSON with a 4xx status saying what to fix. No code here knows
whether it runs on AWS or the local stack: boto3 reads ``AWS_ENDPOINT_URL`` itself.

Routing is a table keyed on (method, API Gateway ``resource``) rather than Powertools'
``APIGatewayRestResolver``: API Gateway has already matched the route, three routes fit in a
dict, and the resolver costs ~170 ms more cold import (measured, warm ``.pyc``) and has other
CORS rules (no ``Access-Control-Allow-Origin`` without an ``Origin`` header).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from function import env as env_names
from function.api_params import AUTO, HttpError, json_body, parse_upload, wants_json
from function.api_service import ApiService

logger = Logger(service=os.environ.get(env_names.POWERTOOLS_SERVICE_NAME, env_names.SERVICE))

Event = Mapping[str, Any]
Response = dict[str, Any]


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }


def _redirect(url: str, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """302 to a presigned URL; the JSON body describes the target for clients that do not follow."""
    return _json(302, payload, {"Location": url, "Cache-Control": "no-store", **(headers or {})})


def _located(event: Event, url: str, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """The default 302 to ``url``, or 200 with the same JSON when the client asked for JSON."""
    if wants_json(event.get("queryStringParameters"), event.get("headers")):
        return _json(200, payload, {"Cache-Control": "no-store", **(headers or {})})
    return _redirect(url, payload, headers)


def _cors(event: Event, origins: tuple[str, ...]) -> dict[str, str]:
    headers = {"Access-Control-Expose-Headers": "Location,X-Cache"}
    if "*" in origins:
        headers["Access-Control-Allow-Origin"] = "*"
        return headers
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), "")
    headers["Access-Control-Allow-Origin"] = origin if origin in origins else origins[0]
    headers["Vary"] = "Origin"
    return headers


# --------------------------------------------------------------------------- routes


def create_upload(event: Event, service: ApiService) -> Response:
    body = json_body(event.get("body"), bool(event.get("isBase64Encoded")))
    upload = service.create_upload(parse_upload(body, service.settings.max_upload_bytes))
    return _json(201, upload.as_dict())


def get_variant(event: Event, service: ApiService) -> Response:
    params = event.get("pathParameters") or {}
    wants_json(event.get("queryStringParameters"), event.get("headers"))  # a bad value: 400 first
    link = service.variant(params.get("image_id", ""), params.get("variant", ""))
    return _located(event, link.url, link.as_dict())


def render_image(event: Event, service: ApiService) -> Response:
    image_id = (event.get("pathParameters") or {}).get("image_id", "")
    query = dict(event.get("queryStringParameters") or {})
    wants_json(query, event.get("headers"))  # a bad redirect value: 400 before any work
    query.pop("redirect", None)  # how to answer, not what to render
    # A Lambda proxy integration hands the function every request header, Accept included
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html);
    # the local stage server builds the same event (localaws/apigateway/integrations.py).
    accept = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "accept"), None)
    rendition = service.render(image_id, query or None, accept)
    headers = {"X-Cache": "Hit" if rendition.cached else "Miss"}
    if (query.get("format") or "").strip().lower() == AUTO:
        headers["Vary"] = "Accept"  # the answer depends on the header: shared caches must key on it
    return _located(event, rendition.url, rendition.as_dict(), headers)


ROUTES: dict[tuple[str, str], Callable[[Event, ApiService], Response]] = {
    ("POST", "/uploads"): create_upload,
    ("GET", "/images/{image_id}/variants/{variant}"): get_variant,
    ("GET", "/images/{image_id}/render"): render_image,
}


def handler(event: dict[str, Any], context: Any) -> Response:
    from function.runtime import api_service

    # Keys by hand, not inject_lambda_context: local invokers may pass a minimal context.
    logger.remove_keys(["request_id", "api_request_id", "route"])
    logger.append_keys(
        request_id=getattr(context, "aws_request_id", None),
        api_request_id=(event.get("requestContext") or {}).get("requestId"),
        route=f"{event.get('httpMethod')} {event.get('resource')}",
    )
    service = api_service(logger)
    cors = _cors(event, service.settings.cors_origins)
    route = ROUTES.get((str(event.get("httpMethod", "")).upper(), str(event.get("resource", ""))))
    try:
        if route is None:
            raise HttpError(404, f"no route for {event.get('httpMethod')} {event.get('resource')}")
        response = route(event, service)
    except HttpError as e:
        logger.info("client error", extra={"status": e.status, "error": e.message})
        response = _json(e.status, {"message": e.message})
    vary = [v for v in (response["headers"].get("Vary"), cors.get("Vary")) if v]
    response["headers"].update(cors)
    if vary:  # both the route's (Accept) and CORS's (Origin)
        response["headers"]["Vary"] = ", ".join(vary)
    return response


def reset_clients() -> None:
    """Forget the warm service and its clients (tests switch moto backends between cases)."""
    from function.runtime import reset

    reset()
