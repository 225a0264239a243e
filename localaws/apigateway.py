"""Serve a deployed REST API stage locally, from its definition in the local AWS.

moto stores REST APIs but executes only DynamoDB ``action/…`` integrations (against the real
AWS hostname, without mapping templates) and rejects S3 ``path/…`` ones, so the local stack
serves stages itself: every request reads the API definition the program deployed (resources,
methods, integrations, integration responses, validators, gateway responses, usage plans and
keys) from the local endpoint through boto3 and executes it the way API Gateway does.

URL layout: ``<base_url>/<rest_api_id>/<stage_name>/<resource path>``, i.e. the stage invoke URL
``https://<id>.execute-api.<region>.amazonaws.com/<stage>`` with the host replaced.

Behaviour kept from AWS (so clients see the same answers locally): unknown routes and methods →
403 ``Missing Authentication Token``; missing/unknown/disabled API key → 403 ``Forbidden``;
unknown stage → 403 ``Forbidden``; bodies over 10 MiB → 413; non-binary media types are
UTF-8 text (an image sent without a matching ``binaryMediaTypes`` entry is corrupted exactly as
on AWS); ``$context.responseOverride`` applies; gateway responses can be customised.
Throttling and quotas are enforced from the deployed definition (see ``Limiter``): the stage's
method settings (per method, all callers) and the usage plan of the request's API key (rate/burst
token bucket and per-method throttle per key, then the DAY/WEEK/MONTH quota per key) → 429
``Too Many Requests`` (``THROTTLED``) or ``Limit Exceeded`` (``QUOTA_EXCEEDED``). ``AWS_IAM``
methods need a SigV4 ``Authorization`` header whose access key exists locally (see
``StageServer.check_sigv4`` for what is and is not checked).
Not emulated: the SigV4 signature itself, caching, authorizers, HTTP/VPC-link integrations,
account-level throttling, quota ``offset``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from localaws import ACCOUNT_ID, client_args, vtl

LOG = logging.getLogger("localaws.apigateway")

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


class GatewayError(Exception):
    """An answer API Gateway produces itself (not the integration's)."""

    def __init__(self, response_type: str, message: str | None = None, error_type: str | None = None) -> None:
        status, default, default_error_type = GATEWAY_RESPONSES[response_type]
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


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Limiter:
    """API Gateway's request limits: token buckets (rate per second, burst) and period quotas.

    ``clock`` returns epoch seconds (injectable so tests drive time instead of sleeping). A bucket
    starts full (``burst`` tokens), refills at ``rate`` tokens per second up to ``burst``; each
    request takes one token. A quota counts requests per UTC day, ISO week or calendar month.
    Limits are kept in memory per server (a restart forgets them, as a new AWS account would not).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[Any, ...], _Bucket] = {}
        self._counts: dict[tuple[Any, ...], tuple[str, int]] = {}

    def take(self, key: tuple[Any, ...], rate: float, burst: float) -> bool:
        """Take a token from the bucket ``key``; False when it is empty (the request is throttled)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            # max(): a clock set back must not drain the bucket
            bucket.tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    def count(self, key: tuple[Any, ...], limit: int, period: str) -> bool:
        """Count one request against ``limit`` per ``period``; False once the limit is used up."""
        window = _quota_window(self.clock(), period)
        with self._lock:
            current, used = self._counts.get(key, (window, 0))
            if current != window:
                used = 0  # a new day/week/month
            if used >= limit:
                return False
            self._counts[key] = (window, used + 1)
            return True


def _quota_window(epoch: float, period: str) -> str:
    """The quota period containing ``epoch`` (UTC), e.g. ``2026-11-23``, ``2026-W48``, ``2026-11``."""
    day = datetime.fromtimestamp(epoch, UTC).date()
    if period == "DAY":
        return day.isoformat()
    if period == "WEEK":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "MONTH":
        return f"{day.year}-{day.month:02d}"
    raise RuntimeError(f"usage plan quota period {period!r} is not DAY, WEEK or MONTH")


def _throttle(settings: Mapping[str, Any] | None, rate: str, burst: str) -> tuple[float, float] | None:
    """(rate, burst) from throttle settings; None when unset (AWS and moto use -1 or omit them)."""
    if not settings or settings.get(rate) is None or settings.get(burst) is None:
        return None
    values = float(settings[rate]), float(settings[burst])
    return None if min(values) < 0 else values


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
                params[seg[1:-2]] = unquote("/".join(raw[i:]))
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


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class StageServer:
    """HTTP server executing REST API stages deployed to the local AWS at ``endpoint_url``.

    ``endpoint_url`` None means boto3's default endpoints (for tests under moto's ``mock_aws``).
    ``invoke_lambda(function_name_or_arn, event) -> result`` runs Lambda integrations; without
    it, Lambda routes answer 500 and log why. ``clock`` (epoch seconds) drives throttling and
    quotas.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        region: str,
        invoke_lambda: InvokeLambda | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint_url = endpoint_url or None
        self.region = region
        self.invoke_lambda = invoke_lambda
        self.limiter = Limiter(clock)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._definitions: dict[tuple[str, str, str], ApiDefinition] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Listen on 127.0.0.1 (free port) in a daemon thread; returns the base URL."""
        server = self

        class Handler(_Handler):
            stage_server = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="stage-server", daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def invoke_url(self, api_id: str, stage: str) -> str:
        return f"{self.base_url}/{api_id}/{stage}"

    # --- AWS access -----------------------------------------------------------------------

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                # The local endpoint takes any credentials; real ones must never be sent to it.
                kwargs = (
                    client_args(self.endpoint_url, self.region)
                    if self.endpoint_url
                    else {"region_name": self.region}
                )
                self._clients[service] = boto3.session.Session().client(
                    service,
                    config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
                    **kwargs,
                )
            return self._clients[service]

    def definition(self, api_id: str, stage: str) -> ApiDefinition:
        """The API as deployed to ``stage``, re-read whenever the stage's deployment changes."""
        apigw = self.client("apigateway")
        try:
            stage_info = apigw.get_stage(restApiId=api_id, stageName=stage)
        except ClientError as e:
            raise GatewayError("ACCESS_DENIED") from e  # AWS answers 403 Forbidden for unknown stages
        key = (api_id, stage, stage_info.get("deploymentId", ""))
        with self._lock:
            cached = self._definitions.get(key)
        if cached is not None:
            # stage settings change without a new deployment
            cached.method_settings = dict(stage_info.get("methodSettings") or {})
            return cached
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
        definition = ApiDefinition(
            api_id=api_id,
            stage=stage,
            deployment_id=key[2],
            binary_media_types=[t for t in api.get("binaryMediaTypes") or [] if t],
            resources=resources,
            stage_variables=dict(stage_info.get("variables") or {}),
            validators=validators,
            models=models,
            gateway_responses=gateway_responses,
            method_settings=dict(stage_info.get("methodSettings") or {}),
        )
        with self._lock:
            self._definitions[key] = definition
        return definition

    def usage_plan_key(
        self, api_id: str, stage: str, value: str
    ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """(key id, usage plan, its api stage entry) for an enabled API key with this value whose
        usage plan covers api+stage; None if there is none (→ 403 Forbidden).

        Read on every request (not cached): keys and plans can change while the stack runs.
        """
        if not value:
            return None
        apigw = self.client("apigateway")
        keys = apigw.get_api_keys(includeValues=True).get("items", [])
        for key in keys:
            if key.get("value") != value or not key.get("enabled", False):
                continue
            for plan in apigw.get_usage_plans(keyId=key["id"]).get("items", []):
                for api_stage in plan.get("apiStages", []):
                    if api_stage.get("apiId") == api_id and api_stage.get("stage") == stage:
                        return key["id"], plan, api_stage
        return None

    def check_sigv4(self, request: Request) -> None:
        """Authenticate an ``AWS_IAM`` method's request as far as the local AWS allows.

        Checked: an ``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/
        execute-api/aws4_request, …`` header is present (else 403 ``Missing Authentication
        Token``), its scope names ``execute-api``, and the access key exists in the local AWS:
        an IAM user's access key (IAM ``GetAccessKeyLastUsed``) or an STS session key from
        ``AssumeRole`` (moto's STS backend, readable when moto runs in this process, as in the
        local engine and tests) — else 403 ``The security token included in the request is
        invalid.``. Not checked: the signature itself, the date/expiry, the region, the session
        token, and the caller's IAM permission to ``execute-api:Invoke`` (AWS checks all these).
        """
        auth = request.header("authorization")
        if not auth.startswith("AWS4-HMAC-SHA256"):
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
        scope = auth.partition("Credential=")[2].partition(",")[0].strip().split("/")
        if len(scope) != 5 or not scope[0]:
            raise GatewayError(
                "INVALID_SIGNATURE",
                "Authorization header requires 'Credential' parameter"
                " (Credential=<access key>/<date>/<region>/execute-api/aws4_request).",
                "IncompleteSignatureException",
            )
        if scope[3] != "execute-api":
            raise GatewayError(
                "INVALID_SIGNATURE", "Credential should be scoped to correct service: 'execute-api'."
            )
        if not self._access_key_exists(scope[0]):
            raise GatewayError(
                "INVALID_SIGNATURE",
                "The security token included in the request is invalid.",
                "UnrecognizedClientException",
            )

    def _access_key_exists(self, access_key_id: str) -> bool:
        try:
            self.client("iam").get_access_key_last_used(AccessKeyId=access_key_id)
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
        # STS keys live only in moto's STS backend (no API lists them)
        from moto.sts.models import sts_backends

        return any(
            role.access_key_id == access_key_id
            for account in list(sts_backends.values())
            for backend in list(account.values())
            for role in list(backend.assumed_roles)
        )

    def enforce_limits(
        self, api: ApiDefinition, resource: Resource, http_method: str, plan_key: tuple[Any, ...] | None
    ) -> None:
        """Stage method throttling (all callers), then the usage plan's per-key throttle and quota.

        Order as on AWS: throttling before the quota, so a throttled request uses no quota.
        """
        method_key = f"{resource.path.replace('/', '~1')}/{http_method}"
        settings = api.method_settings.get(method_key) or api.method_settings.get("*/*")
        limits = [
            (
                (api.api_id, api.stage, "method", resource.path, http_method),
                _throttle(settings, "throttlingRateLimit", "throttlingBurstLimit"),
            )
        ]
        if plan_key is not None:
            key_id, plan, api_stage = plan_key
            per_method = (api_stage.get("throttle") or {}).get(f"{resource.path}/{http_method}")
            limits += [
                ((plan["id"], key_id, "plan"), _throttle(plan.get("throttle"), "rateLimit", "burstLimit")),
                (
                    (plan["id"], key_id, resource.path, http_method),
                    _throttle(per_method, "rateLimit", "burstLimit"),
                ),
            ]
        for bucket, throttle in limits:
            if throttle is not None and not self.limiter.take(bucket, *throttle):
                raise GatewayError("THROTTLED")
        if plan_key is None:
            return
        key_id, plan, _ = plan_key
        quota = plan.get("quota") or {}
        if quota.get("limit") is not None and not self.limiter.count(
            (plan["id"], key_id), int(quota["limit"]), quota["period"]
        ):
            raise GatewayError("QUOTA_EXCEEDED")

    # --- request handling -----------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Answer one request the way the deployed stage would."""
        request_id = str(uuid.uuid4())
        parts = request.path.lstrip("/").split("/", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            return _json_response(
                404, {"message": "Not Found: use <base_url>/<rest_api_id>/<stage>/<path>"}, request_id
            )
        api_id, stage = parts[0], parts[1]
        rest = "/" + (parts[2] if len(parts) > 2 else "")
        definition: ApiDefinition | None = None
        context: dict[str, Any] = {}
        try:
            definition = self.definition(api_id, stage)
            return self._dispatch(definition, request, rest, request_id, context)
        except GatewayError as e:
            LOG.info("%s %s -> %s %s", request.method, request.path, e.status, e.message)
            return self._gateway_response(definition, e, request_id, context)
        except Exception as e:  # a bug or misconfiguration: answer like AWS, log the cause
            LOG.exception("%s %s failed: %s", request.method, request.path, e)
            err = GatewayError("API_CONFIGURATION_ERROR")
            return self._gateway_response(definition, err, request_id, context)

    def _dispatch(
        self, api: ApiDefinition, request: Request, path: str, request_id: str, context: dict[str, Any]
    ) -> Response:
        if len(request.body) > MAX_PAYLOAD:
            raise GatewayError("REQUEST_TOO_LARGE")
        found = match_resource(api.resources, path)
        if found is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
        resource, path_params = found
        method = resource.methods.get(request.method.upper()) or resource.methods.get("ANY")
        if method is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")

        now = datetime.now(UTC)
        api_key = request.header("x-api-key")
        context.update(
            {
                "requestId": request_id,
                "extendedRequestId": request_id,
                "apiId": api.api_id,
                "stage": api.stage,
                "resourceId": resource.id,
                "resourcePath": resource.path,
                "httpMethod": request.method.upper(),
                "path": f"/{api.stage}{path}",
                "protocol": "HTTP/1.1",
                "accountId": ACCOUNT_ID,
                "domainName": request.header("host"),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": {
                    "sourceIp": request.source_ip,
                    "userAgent": request.header("user-agent"),
                    "apiKey": api_key,
                    "apiKeyId": "",
                },
                "responseOverride": {"status": None, "header": {}},
            }
        )

        if method.get("authorizationType") == "AWS_IAM":
            self.check_sigv4(request)
        plan_key = None
        if method.get("apiKeyRequired"):
            plan_key = self.usage_plan_key(api.api_id, api.stage, api_key)
            if plan_key is None:
                raise GatewayError("INVALID_API_KEY")
            context["identity"]["apiKeyId"] = plan_key[0]
        self.enforce_limits(api, resource, request.method.upper(), plan_key)

        params = {
            "path": path_params,
            "querystring": dict(request.query),
            "header": dict(request.headers),
        }
        self._validate(api, method, request, params)

        integration = method.get("methodIntegration")
        if not integration:
            raise RuntimeError(f"{request.method} {resource.path} has no integration")
        kind = integration.get("type", "")
        if kind == "AWS_PROXY":
            return self._lambda_proxy(api, integration, request, resource, params, context, request_id)
        result = self._integrate(api, integration, request, params, context)
        return self._integration_response(api, integration, result, request, params, context, request_id)

    def _validate(
        self, api: ApiDefinition, method: dict[str, Any], request: Request, params: dict[str, dict[str, str]]
    ) -> None:
        validator = api.validators.get(method.get("requestValidatorId") or "")
        if not validator:
            return
        if validator.get("validateRequestParameters"):
            missing = []
            for name, required in (method.get("requestParameters") or {}).items():
                if not required:
                    continue
                _, _, where, pname = name.split(".", 3)
                if where == "header":
                    present = any(h.lower() == pname.lower() for h in params["header"])
                else:
                    present = pname in params.get(where, {})
                if not present:
                    missing.append(pname)
            if missing:
                raise GatewayError(
                    "BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{', '.join(missing)}]"
                )
        if validator.get("validateRequestBody"):
            models = method.get("requestModels") or {}
            ctype = media_type(request.header("content-type") or "application/json")
            model_name = models.get(ctype)
            model = api.models.get(model_name or "")
            if model and model.get("schema"):
                import jsonschema  # the dev requirements carry it (check-jsonschema)

                try:
                    jsonschema.validate(json.loads(request.body or b"{}"), json.loads(model["schema"]))
                except (ValueError, jsonschema.ValidationError) as e:
                    msg = getattr(e, "message", str(e))
                    raise GatewayError("BAD_REQUEST_BODY", f"Invalid request body: {msg}") from e

    # --- integrations ---------------------------------------------------------------------

    def _request_body(
        self,
        api: ApiDefinition,
        integration: dict[str, Any],
        request: Request,
        params: dict[str, dict[str, str]],
        context: dict[str, Any],
    ) -> bytes:
        """The integration request body: mapping template, or the payload passed through."""
        ctype = media_type(request.header("content-type") or "application/json")
        binary = is_binary(ctype, api.binary_media_types)
        payload = request.body
        if not binary:
            # API Gateway handles non-binary payloads as UTF-8 text (lossy for binary data).
            payload = payload.decode("utf-8", errors="replace").encode("utf-8")
            if request.body and payload != request.body:
                LOG.warning(
                    "%s body of type %s is not valid UTF-8 and no binaryMediaTypes entry (%s) matches it:"
                    " it was converted to text, as API Gateway does (add the type to binaryMediaTypes)",
                    request.path,
                    ctype,
                    api.binary_media_types,
                )
        handling = integration.get("contentHandling")
        if handling == "CONVERT_TO_TEXT" and binary:
            payload = base64.b64encode(payload)
        elif handling == "CONVERT_TO_BINARY" and not binary:
            payload = base64.b64decode(payload)

        templates = integration.get("requestTemplates") or {}
        template = templates.get(ctype)
        if template is None:
            behaviour = integration.get("passthroughBehavior") or "WHEN_NO_MATCH"
            if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and templates):
                raise GatewayError("UNSUPPORTED_MEDIA_TYPE")
            return payload
        body_text = (
            base64.b64encode(payload).decode()
            if binary and handling is None
            else payload.decode("utf-8", errors="replace")
        )
        rendered = vtl.render(template, body_text, params, vtl.TemplateContext(context, api.stage_variables))
        return rendered.encode("utf-8")

    def _integration_params(
        self,
        integration: dict[str, Any],
        params: dict[str, dict[str, str]],
        context: dict[str, Any],
        stage_variables: dict[str, str],
    ) -> dict[str, dict[str, str]]:
        """Evaluate ``integration.request.<where>.<name>`` ← source mappings."""
        out: dict[str, dict[str, str]] = {"path": {}, "querystring": {}, "header": {}}
        for target, source in (integration.get("requestParameters") or {}).items():
            _, _, where, name = target.split(".", 3)
            value = _request_source(source, params, context, stage_variables)
            if value is not None:
                out.setdefault(where, {})[name] = value
        return out

    def _integrate(
        self,
        api: ApiDefinition,
        integration: dict[str, Any],
        request: Request,
        params: dict[str, dict[str, str]],
        context: dict[str, Any],
    ) -> IntegrationResult:
        kind = integration.get("type")
        if kind == "MOCK":
            body = self._request_body(api, integration, request, params, context)
            try:
                status = int(json.loads(body or b"{}").get("statusCode", 200))
            except (ValueError, AttributeError):
                status = 200
            return IntegrationResult(status, {}, b"")
        if kind != "AWS":
            raise RuntimeError(f"integration type {kind!r} is not supported by the local stage server")
        uri = integration.get("uri", "")
        m = re.match(r"^arn:aws:apigateway:[^:]*:([^:]+):(path|action)/(.*)$", uri)
        if not m:
            raise RuntimeError(f"cannot parse integration URI {uri!r}")
        service, style, target = m.groups()
        mapped = self._integration_params(integration, params, context, api.stage_variables)
        body = self._request_body(api, integration, request, params, context)
        if service == "s3" and style == "path":
            return self._s3(integration.get("httpMethod", request.method), target, mapped, request, body)
        if service == "dynamodb" and style == "action":
            return self._dynamodb(target, body)
        if service == "lambda" and style == "path":
            return self._lambda(target, body)
        raise RuntimeError(f"AWS integration {service}:{style}/… is not supported by the local stage server")

    def _s3(
        self, http_method: str, target: str, mapped: dict[str, dict[str, str]], request: Request, body: bytes
    ) -> IntegrationResult:
        path = re.sub(
            r"\{([^}]+)\}",
            lambda m: mapped["path"].get(m.group(1).rstrip("+"), m.group(0)),
            target,
        )
        if "{" in path:
            raise RuntimeError(f"S3 integration path {target!r}: unmapped path parameter in {path!r}")
        bucket, _, key = path.partition("/")
        headers = {k.lower(): v for k, v in mapped["header"].items()}
        s3 = self.client("s3")
        try:
            if http_method == "PUT" and key:
                extra: dict[str, Any] = {}
                ctype = headers.get("content-type") or request.header("content-type")
                if ctype:
                    extra["ContentType"] = ctype
                for header, arg in (
                    ("cache-control", "CacheControl"),
                    ("content-disposition", "ContentDisposition"),
                    ("x-amz-acl", "ACL"),
                ):
                    if header in headers:
                        extra[arg] = headers[header]
                meta = {h[len("x-amz-meta-") :]: v for h, v in headers.items() if h.startswith("x-amz-meta-")}
                if meta:
                    extra["Metadata"] = meta
                resp = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
                return IntegrationResult(200, _aws_headers(resp), b"")
            if http_method in ("GET", "HEAD") and key:
                call = s3.get_object if http_method == "GET" else s3.head_object
                resp = call(Bucket=bucket, Key=key)
                data = resp["Body"].read() if http_method == "GET" else b""
                return IntegrationResult(200, _aws_headers(resp), data)
            if http_method == "DELETE" and key:
                resp = s3.delete_object(Bucket=bucket, Key=key)
                return IntegrationResult(204, _aws_headers(resp), b"")
        except ClientError as e:
            err = e.response.get("Error", {})
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>'
            ).format(err.get("Code", ""), err.get("Message", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            return IntegrationResult(status, {"Content-Type": "application/xml"}, xml.encode())
        raise RuntimeError(
            f"S3 integration {http_method} {target!r} is not supported by the local stage server"
        )

    def _dynamodb(self, action: str, body: bytes) -> IntegrationResult:
        ddb = self.client("dynamodb")
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError("the request body must be a JSON object")
        except ValueError as e:
            payload = {"__type": "com.amazon.coral.service#SerializationException", "message": str(e)}
            return IntegrationResult(400, headers, json.dumps(payload).encode())
        try:
            resp = getattr(ddb, xform_name(action))(**request)
        except AttributeError:
            payload = {"__type": "com.amazon.coral.service#UnknownOperationException", "message": action}
            return IntegrationResult(400, headers, json.dumps(payload).encode())
        except ParamValidationError as e:
            payload = {"__type": "com.amazon.coral.validate#ValidationException", "message": str(e)}
            return IntegrationResult(400, headers, json.dumps(payload).encode())
        except ClientError as e:
            err = e.response.get("Error", {})
            payload = {
                "__type": f"com.amazonaws.dynamodb.v20120810#{err.get('Code', '')}",
                "message": err.get("Message", ""),
            }
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            return IntegrationResult(status, headers, json.dumps(payload).encode())
        resp.pop("ResponseMetadata", None)
        return IntegrationResult(200, headers, json.dumps(resp, default=_json_default).encode())

    def _invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        if self.invoke_lambda is None:
            raise RuntimeError(f"no Lambda invoker configured: cannot call {function}")
        return self.invoke_lambda(function, event)

    def _lambda(self, target: str, body: bytes) -> IntegrationResult:
        function = _function_from_path(target)
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            event = body.decode("utf-8", errors="replace")
        try:
            result = self._invoke(function, event)
        except Exception as e:  # the function failed: non-proxy integrations select on the message
            return IntegrationResult(
                200, {}, json.dumps({"errorMessage": str(e)}).encode(), error_message=str(e)
            )
        error = result.get("errorMessage") if isinstance(result, dict) else None
        return IntegrationResult(200, {}, json.dumps(result).encode(), error_message=error)

    def _lambda_proxy(
        self,
        api: ApiDefinition,
        integration: dict[str, Any],
        request: Request,
        resource: Resource,
        params: dict[str, dict[str, str]],
        context: dict[str, Any],
        request_id: str,
    ) -> Response:
        m = re.match(r"^arn:aws:apigateway:[^:]*:lambda:path/(.*)$", integration.get("uri", ""))
        if not m:
            raise RuntimeError(
                f"AWS_PROXY integration URI is not a Lambda function: {integration.get('uri')}"
            )
        function = _function_from_path(m.group(1))
        binary = is_binary(request.header("content-type") or "", api.binary_media_types)
        multi_query: dict[str, list[str]] = {}
        for k, v in request.query:
            multi_query.setdefault(k, []).append(v)
        event = {
            "resource": resource.path,
            "path": context["path"][len(api.stage) + 1 :],
            "httpMethod": request.method.upper(),
            "headers": dict(request.headers) or None,
            "multiValueHeaders": {k: [v] for k, v in request.headers.items()} or None,
            "queryStringParameters": dict(request.query) or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params["path"] or None,
            "stageVariables": api.stage_variables or None,
            "requestContext": {k: v for k, v in context.items() if k != "responseOverride"},
            "body": (
                base64.b64encode(request.body).decode()
                if binary
                else request.body.decode("utf-8", errors="replace")
            )
            if request.body
            else None,
            "isBase64Encoded": bool(binary and request.body),
        }
        try:
            result = self._invoke(function, event)
        except Exception as e:
            LOG.error("Lambda proxy %s failed: %s", function, e)
            return _json_response(502, {"message": "Internal server error"}, request_id)
        if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int | str):
            LOG.error("Lambda proxy %s returned a malformed response: %r", function, result)
            return _json_response(502, {"message": "Internal server error"}, request_id)
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(k)] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
        headers["x-amzn-RequestId"] = request_id
        return Response(int(result.get("statusCode", 200)), headers, data)

    # --- responses ------------------------------------------------------------------------

    def _integration_response(
        self,
        api: ApiDefinition,
        integration: dict[str, Any],
        result: IntegrationResult,
        request: Request,
        params: dict[str, dict[str, str]],
        context: dict[str, Any],
        request_id: str,
    ) -> Response:
        responses = integration.get("integrationResponses") or {}
        # Lambda non-proxy selects on the error message, every other integration on the status code.
        subject = result.error_message if result.error_message is not None else str(result.status)
        chosen = None
        default = None
        for resp in responses.values():
            pattern = resp.get("selectionPattern")
            if not pattern:
                default = resp
            elif re.fullmatch(pattern, subject, flags=re.S):
                chosen = resp
                break
        chosen = chosen or default
        if chosen is None:
            raise RuntimeError(
                f"no integration response matches {subject!r} and none is the default"
                f" (have {sorted(responses)})"
            )
        status = int(chosen["statusCode"])
        headers: dict[str, str] = {}
        body_text: str | None = None
        for target, source in (chosen.get("responseParameters") or {}).items():
            name = target.split(".", 3)[3]
            value = _response_source(source, result, params)
            if value is not None:
                headers[name] = value

        templates = chosen.get("responseTemplates") or {}
        accept = media_type(request.header("accept") or "")
        ctype = (
            accept
            if accept in templates
            else ("application/json" if "application/json" in templates else next(iter(templates), None))
        )
        template = templates.get(ctype) if ctype else None
        handling = chosen.get("contentHandling")
        if template:
            body_text = vtl.render(
                template,
                result.body.decode("utf-8", errors="replace"),
                params,
                vtl.TemplateContext(context, api.stage_variables),
            )
            data = body_text.encode("utf-8")
            headers.setdefault("Content-Type", ctype or "application/json")
        else:
            data = result.body
            if handling == "CONVERT_TO_TEXT":
                data = base64.b64encode(data)
            elif handling == "CONVERT_TO_BINARY":
                data = base64.b64decode(data)
            headers.setdefault("Content-Type", "application/json")
        override = context.get("responseOverride") or {}
        if override.get("status"):
            status = int(override["status"])
        for name, value in (override.get("header") or {}).items():
            headers[str(name)] = str(value)
        headers["x-amzn-RequestId"] = request_id
        return Response(status, headers, data)

    def _gateway_response(
        self, api: ApiDefinition | None, error: GatewayError, request_id: str, context: dict[str, Any]
    ) -> Response:
        custom: dict[str, Any] = {}
        if api is not None:
            family = "DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX"
            custom = api.gateway_responses.get(error.response_type) or api.gateway_responses.get(family) or {}
        status = int(custom.get("statusCode") or error.status)
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.error_type}
        for target, source in (custom.get("responseParameters") or {}).items():
            if source.startswith("'") and source.endswith("'"):
                headers[target.split(".", 3)[-1]] = source[1:-1]
        template = (custom.get("responseTemplates") or {}).get("application/json")
        if template:
            ctx = dict(context)
            ctx["error"] = {
                "message": error.message,
                "messageString": json.dumps(error.message),
                "responseType": error.response_type,
            }
            body = vtl.render(template, "", {}, vtl.TemplateContext(ctx, {})).encode()
        else:
            body = json.dumps({"message": error.message}).encode()
        headers["x-amzn-RequestId"] = request_id
        return Response(status, headers, body)


def _function_from_path(target: str) -> str:
    """``2015-03-31/functions/<arn>/invocations`` → ``<arn>``."""
    m = re.match(r"^[\d-]+/functions/(.+)/invocations$", target)
    if not m:
        raise RuntimeError(f"Lambda integration path is not …/functions/<arn>/invocations: {target!r}")
    return m.group(1)


def _aws_headers(resp: Mapping[str, Any]) -> dict[str, str]:
    return dict(resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}))


def _request_source(
    source: str, params: dict[str, dict[str, str]], context: dict[str, Any], stage_variables: dict[str, str]
) -> str | None:
    """Resolve ``method.request.<where>.<name>``, ``'static'``, ``context.x``, ``stageVariables.x``."""
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.startswith("method.request."):
        _, _, where, name = source.split(".", 3)
        where = {"multivaluequerystring": "querystring", "multivalueheader": "header"}.get(where, where)
        if where == "header":
            return next((v for k, v in params["header"].items() if k.lower() == name.lower()), None)
        return params.get(where, {}).get(name)
    if source.startswith("context."):
        value: Any = context
        for part in source.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)
    if source.startswith("stageVariables."):
        return stage_variables.get(source.split(".", 1)[1])
    raise RuntimeError(f"unsupported request parameter mapping source {source!r}")


def _response_source(source: str, result: IntegrationResult, params: dict[str, dict[str, str]]) -> str | None:
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.startswith("integration.response.header."):
        name = source.split(".", 3)[3].lower()
        return next((v for k, v in result.headers.items() if k.lower() == name), None)
    if source == "integration.response.body":
        return result.body.decode("utf-8", errors="replace")
    if source.startswith("integration.response.body."):
        value = vtl.jsonpath(json.loads(result.body or b"{}"), "$." + source.split(".", 3)[3])
        return None if value is None else (value if isinstance(value, str) else json.dumps(value))
    if source.startswith("method.request."):
        return _request_source(source, params, {}, {})
    raise RuntimeError(f"unsupported response parameter mapping source {source!r}")


def _json_response(status: int, payload: Any, request_id: str) -> Response:
    return Response(
        status,
        {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
        json.dumps(payload).encode(),
    )


class _Handler(BaseHTTPRequestHandler):
    stage_server: StageServer
    protocol_version = "HTTP/1.1"

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qsl(url.query, keep_blank_values=True),
            headers={k: v for k, v in self.headers.items()},
            body=self._read_body(),
            source_ip=self.client_address[0],
        )
        response = self.stage_server.dispatch(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        body = b"" if self.command == "HEAD" else response.body
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        LOG.debug(
            "%s %s -> %d (%.0f ms)",
            self.command,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug(format, *args)
