"""The REST API as the stage server sees it: requests, responses, the deployed definition.

``load_definition`` reads what the program deployed (resources with their methods and
integrations, validators, models, gateway responses, binary media types, stage variables and
method settings) from the local AWS through boto3; ``match_resource`` routes a request path to a
resource the way API Gateway does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's hard request payload limit

InvokeLambda = Callable[[str, dict], dict]

# Gateway response type -> (default status, default message, x-amzn-ErrorType), as API Gateway
# defines them.
GATEWAY_RESPONSES: dict[str, tuple[int, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "ACCESS_DENIED": (403, "Forbidden", "ForbiddenException"),
    "INVALID_SIGNATURE": (
        403,
        "The request signature we calculated does not match the signature you provided.",
        "InvalidSignatureException",
    ),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters", "BadRequestException"),
    "BAD_REQUEST_BODY": (400, "Invalid request body", "BadRequestException"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type", "UnsupportedMediaTypeException"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long", "RequestTooLargeException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded", "LimitExceededException"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error", "InternalServerErrorException"),
    "INTEGRATION_FAILURE": (502, "Internal server error", "InternalServerErrorException"),
    "UNAUTHORIZED": (401, "Unauthorized", "UnauthorizedException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal server error", "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, "Internal server error", "AuthorizerFailureException"),
}
# Answers API Gateway gives that no gateway response can customise.
FIXED_RESPONSES: dict[str, tuple[int, str, str]] = {
    # an authorization-enabled method ARN over 1,600 bytes (a long path), before any authorizer
    "REQUEST_URI_TOO_LONG": (414, "Request-URI Too Long", "RequestURITooLongException"),
}


@dataclass
class Request:
    """One HTTP request to the stage server (``path`` is raw, still percent-encoded)."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    # the body was over MAX_PAYLOAD and was not read (``body`` is then empty)
    oversized: bool = False

    def header(self, name: str, default: str = "") -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Resource:
    id: str
    path: str
    segments: list[str]
    methods: dict[str, dict[str, Any]]


@dataclass
class ApiDefinition:
    api_id: str
    stage: str
    deployment_id: str
    binary_media_types: list[str]
    resources: list[Resource]
    stage_variables: dict[str, str]
    validators: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    gateway_responses: dict[str, dict[str, Any]]
    # the stage's methodSettings ("*/*", "~1images~1{image_id}/GET"), refreshed on every request
    method_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Lambda authorizers by id (methods with authorizationType CUSTOM name one)
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)


class GatewayError(Exception):
    """An answer API Gateway produces itself (not the integration's)."""

    def __init__(self, response_type: str, message: str | None = None, error_type: str | None = None) -> None:
        status, default, default_error_type = {**GATEWAY_RESPONSES, **FIXED_RESPONSES}[response_type]
        super().__init__(message or default)
        self.response_type = response_type
        self.status = status
        self.message = message or default
        self.error_type = error_type or default_error_type  # the x-amzn-ErrorType header


@dataclass
class IntegrationResult:
    """What the backend answered, before integration response mapping."""

    status: int
    headers: dict[str, str]
    body: bytes
    error_message: str | None = None  # Lambda non-proxy errors select on this


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_binary(content_type: str, binary_media_types: list[str]) -> bool:
    """Does ``content_type`` match one of the API's ``binaryMediaTypes`` (``image/*``, ``*/*``)?"""
    mt = media_type(content_type)
    for pattern in binary_media_types:
        pattern = pattern.strip().lower().replace("~1", "/")
        if not pattern:
            continue
        if pattern == "*/*" or pattern == mt:
            return True
        if pattern.endswith("/*") and mt.startswith(pattern[:-1]):
            return True
    return False


def _after_segments(path: str, count: int) -> str:
    """``path`` after its first ``count`` non-empty segments (``/a/b//c``, 1 → ``b//c``)."""
    parts = path.split("/")
    seen = 0
    for index, part in enumerate(parts):
        if seen == count and (part or (index > 0 and parts[index - 1])):
            return "/".join(parts[index:])
        if part:
            seen += 1
    return ""


def match_resource(resources: list[Resource], path: str) -> tuple[Resource, dict[str, str]] | None:
    """Find the resource for a raw request path; literal segments beat ``{var}`` beat ``{var+}``."""
    raw = [s for s in path.split("/") if s]
    best: tuple[tuple[int, ...], Resource, dict[str, str]] | None = None
    for res in resources:
        params: dict[str, str] = {}
        score: list[int] = []
        ok = True
        for i, seg in enumerate(res.segments):
            if seg.startswith("{") and seg.endswith("+}"):
                if i >= len(raw):
                    ok = False
                    break
                # the rest of the path as sent, empty segments included ("a//b", "dir/"), so the
                # backend (the upload key rule) sees the key the client asked for
                params[seg[1:-2]] = unquote(_after_segments(path, i))
                score.append(0)
                break
            if i >= len(raw):
                ok = False
                break
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = unquote(raw[i])
                score.append(1)
            elif seg == unquote(raw[i]):
                score.append(2)
            else:
                ok = False
                break
        else:
            ok = ok and len(res.segments) == len(raw)
        if ok and (best is None or tuple(score) > best[0]):
            best = (tuple(score), res, params)
    return None if best is None else (best[1], best[2])


def json_response(status: int, payload: Any, request_id: str) -> Response:
    return Response(
        status,
        {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
        json.dumps(payload).encode(),
    )


def load_definition(apigw: Any, api_id: str, stage: str, stage_info: dict[str, Any]) -> ApiDefinition:
    """Read the API ``api_id`` as deployed to ``stage`` (``stage_info`` is its ``GetStage`` answer)."""
    api = apigw.get_rest_api(restApiId=api_id)
    resources = []
    for page in apigw.get_paginator("get_resources").paginate(restApiId=api_id, embed=["methods"]):
        for item in page["items"]:
            resources.append(
                Resource(
                    id=item["id"],
                    path=item["path"],
                    segments=[s for s in item["path"].split("/") if s],
                    methods=item.get("resourceMethods") or {},
                )
            )
    validators = {v["id"]: v for v in apigw.get_request_validators(restApiId=api_id).get("items", [])}
    models = {m["name"]: m for m in apigw.get_models(restApiId=api_id).get("items", [])}
    try:
        gateway_responses = {
            g["responseType"]: g
            for g in apigw.get_gateway_responses(restApiId=api_id).get("items", [])
            if not g.get("defaultResponse")
        }
    except ClientError:
        gateway_responses = {}
    authorizers = {a["id"]: a for a in apigw.get_authorizers(restApiId=api_id).get("items", [])}
    return ApiDefinition(
        api_id=api_id,
        stage=stage,
        deployment_id=stage_info.get("deploymentId", ""),
        binary_media_types=[t for t in api.get("binaryMediaTypes") or [] if t],
        resources=resources,
        stage_variables=dict(stage_info.get("variables") or {}),
        validators=validators,
        models=models,
        gateway_responses=gateway_responses,
        method_settings=dict(stage_info.get("methodSettings") or {}),
        authorizers=authorizers,
    )
