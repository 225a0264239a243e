"""What a method's integration does: mapping, the backend call, the integration response.

Non-proxy integrations (``integrate``): MOCK, and AWS service integrations for S3 ``path/…``,
DynamoDB ``action/…`` and Lambda, with request parameter mappings, request templates, content
handling and passthrough behaviour; their answers go through ``integration_response`` (selection
pattern, response parameters and templates, ``$context.responseOverride``). ``lambda_proxy``
runs ``AWS_PROXY`` Lambda integrations. Backends are reached through ``client(service)`` and
``invoke(function, event)``, which the stage server passes in.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from localaws import vtl
from localaws.apigateway.model import (
    ApiDefinition,
    GatewayError,
    IntegrationResult,
    InvokeLambda,
    Request,
    Resource,
    Response,
    is_binary,
    json_response,
    media_type,
)

LOG = logging.getLogger("localaws.apigateway")

ClientFactory = Callable[[str], Any]  # service name -> boto3 client for the local AWS


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _request_body(
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


def integrate(
    api: ApiDefinition,
    integration: dict[str, Any],
    request: Request,
    params: dict[str, dict[str, str]],
    context: dict[str, Any],
    client: ClientFactory,
    invoke: InvokeLambda,
) -> IntegrationResult:
    """Run a non-proxy integration (MOCK, or AWS: S3 ``path``, DynamoDB ``action``, Lambda)."""
    kind = integration.get("type")
    if kind == "MOCK":
        body = _request_body(api, integration, request, params, context)
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
    mapped = _integration_params(integration, params, context, api.stage_variables)
    body = _request_body(api, integration, request, params, context)
    if service == "s3" and style == "path":
        return _s3(client("s3"), integration.get("httpMethod", request.method), target, mapped, request, body)
    if service == "dynamodb" and style == "action":
        return _dynamodb(client("dynamodb"), target, body)
    if service == "lambda" and style == "path":
        return _lambda(invoke, target, body)
    raise RuntimeError(f"AWS integration {service}:{style}/… is not supported by the local stage server")


def _s3(
    s3: Any, http_method: str, target: str, mapped: dict[str, dict[str, str]], request: Request, body: bytes
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
                # S3 conditional writes: 412 PreconditionFailed when the condition fails
                ("if-none-match", "IfNoneMatch"),
                ("if-match", "IfMatch"),
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
    raise RuntimeError(f"S3 integration {http_method} {target!r} is not supported by the local stage server")


def _dynamodb(ddb: Any, action: str, body: bytes) -> IntegrationResult:
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


def _lambda(invoke: InvokeLambda, target: str, body: bytes) -> IntegrationResult:
    function = _function_from_path(target)
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        event = body.decode("utf-8", errors="replace")
    try:
        result = invoke(function, event)
    except Exception as e:  # the function failed: non-proxy integrations select on the message
        return IntegrationResult(200, {}, json.dumps({"errorMessage": str(e)}).encode(), error_message=str(e))
    error = result.get("errorMessage") if isinstance(result, dict) else None
    return IntegrationResult(200, {}, json.dumps(result).encode(), error_message=error)


def lambda_proxy(
    api: ApiDefinition,
    integration: dict[str, Any],
    request: Request,
    resource: Resource,
    params: dict[str, dict[str, str]],
    context: dict[str, Any],
    request_id: str,
    invoke: InvokeLambda,
) -> Response:
    """Run an ``AWS_PROXY`` Lambda integration: the proxy event in, the proxy answer out."""
    m = re.match(r"^arn:aws:apigateway:[^:]*:lambda:path/(.*)$", integration.get("uri", ""))
    if not m:
        raise RuntimeError(f"AWS_PROXY integration URI is not a Lambda function: {integration.get('uri')}")
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
        result = invoke(function, event)
    except Exception as e:
        LOG.error("Lambda proxy %s failed: %s", function, e)
        return json_response(502, {"message": "Internal server error"}, request_id)
    if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int | str):
        LOG.error("Lambda proxy %s returned a malformed response: %r", function, result)
        return json_response(502, {"message": "Internal server error"}, request_id)
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(k)] = ", ".join(str(v) for v in values)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    headers.setdefault("Content-Type", "application/json")
    headers["x-amzn-RequestId"] = request_id
    return Response(int(result.get("statusCode", 200)), headers, data)


# --- responses ------------------------------------------------------------------------


def integration_response(
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
            f"no integration response matches {subject!r} and none is the default (have {sorted(responses)})"
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
