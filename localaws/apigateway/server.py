"""The stage server: an HTTP server answering requests the way the deployed stage would.

``StageServer.dispatch`` routes a request (``model.match_resource``), checks the caller
(``limits``), validates parameters and body, runs the integration (``integrations``) and maps
errors to gateway responses. See the package docstring for what is and is not emulated.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws import ACCOUNT_ID, client_args, control, vtl
from localaws.apigateway import authorizers, integrations, limits
from localaws.apigateway.model import (
    FIXED_RESPONSES,
    MAX_PAYLOAD,
    ApiDefinition,
    GatewayError,
    InvokeLambda,
    Request,
    Resource,
    Response,
    json_response,
    load_definition,
    match_resource,
    media_type,
)

LOG = logging.getLogger("localaws.apigateway")


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
        self.limiter = limits.Limiter(clock)
        self.authorizers = authorizers.Authorizers(self._invoke, region, clock)
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
        definition = load_definition(apigw, api_id, stage, stage_info)
        with self._lock:
            self._definitions[key] = definition
        return definition

    def usage_plan_key(self, api_id: str, stage: str, value: str) -> limits.PlanKey | None:
        """See ``limits.usage_plan_key``."""
        return limits.usage_plan_key(self.client("apigateway"), api_id, stage, value)

    def check_sigv4(self, request: Request) -> None:
        """See ``limits.check_sigv4``."""
        limits.check_sigv4(self.client("iam"), request)

    def enforce_limits(
        self, api: ApiDefinition, resource: Resource, http_method: str, plan_key: limits.PlanKey | None
    ) -> None:
        """See ``limits.enforce_limits``."""
        limits.enforce_limits(self.limiter, api, resource, http_method, plan_key)

    # --- request handling -----------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Answer one request the way the deployed stage would."""
        request_id = str(uuid.uuid4())
        parts = request.path.lstrip("/").split("/", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            return json_response(
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
        if request.oversized or len(request.body) > MAX_PAYLOAD:
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
        elif method.get("authorizationType") == "CUSTOM":
            # before the API key, as on AWS (an authorizer can be the key's source)
            authorizer = api.authorizers.get(method.get("authorizerId") or "")
            if authorizer is None:
                raise RuntimeError(
                    f"{request.method} {resource.path}: authorizer {method.get('authorizerId')!r} not found"
                )
            self.authorizers.authorize(
                authorizer, api.api_id, api.stage, request, path, path_params, context, api.stage_variables
            )
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
            return integrations.lambda_proxy(
                api, integration, request, resource, params, context, request_id, self._invoke
            )
        result = integrations.integrate(api, integration, request, params, context, self.client, self._invoke)
        return integrations.integration_response(
            api, integration, result, request, params, context, request_id
        )

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

    def _invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        if self.invoke_lambda is None:
            raise RuntimeError(f"no Lambda invoker configured: cannot call {function}")
        return self.invoke_lambda(function, event)

    def _gateway_response(
        self, api: ApiDefinition | None, error: GatewayError, request_id: str, context: dict[str, Any]
    ) -> Response:
        custom: dict[str, Any] = {}
        if api is not None and error.response_type not in FIXED_RESPONSES:
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


class _Handler(BaseHTTPRequestHandler):
    stage_server: StageServer
    protocol_version = "HTTP/1.1"

    def _read_body(self) -> tuple[bytes, bool]:
        """(body, oversized): a body over API Gateway's limit is not read (nor held in memory);
        the connection is then closed after the 413, as the rest of it is still unread."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_PAYLOAD:
                    self.close_connection = True
                    return b"", True
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks), False
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD:
            self.close_connection = True
            return b"", True
        return (self.rfile.read(length) if length > 0 else b""), False

    def _refuse(self, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        started = time.monotonic()
        address = self.server.server_address  # (host, port): the server listens on AF_INET
        port = address[1] if isinstance(address, tuple) else 0
        if not control.host_allowed(self.headers.get("Host"), port):
            self._refuse(403, control.host_refusal_message(self.headers.get("Host"), port))
            return
        url = urlsplit(self.path)
        try:
            body, oversized = self._read_body()
        except ValueError:
            self._refuse(400, "malformed Content-Length or chunked body")
            return
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qsl(url.query, keep_blank_values=True),
            headers={k: v for k, v in self.headers.items()},
            body=body,
            source_ip=self.client_address[0],
            oversized=oversized,
        )
        response = self.stage_server.dispatch(request)
        self.send_response(response.status)
        if self.close_connection:
            self.send_header("Connection", "close")
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
