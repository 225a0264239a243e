"""Lambda authorizers (``TOKEN`` and ``REQUEST``) run the way API Gateway runs them.

For a method with ``authorizationType: CUSTOM`` (before the API key check, so an authorizer can
supply the usage key):

1. the **method ARN** ``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<VERB>/<path>`` is
   built; over 1,600 bytes the client gets 414 before any authorizer runs (AWS's limit on an
   authorization-enabled method ARN);
2. the **identity sources** (``method.request.header.X``, ``method.request.querystring.X``,
   ``stageVariables.X``, ``context.X``) are read. A ``TOKEN`` authorizer needs its header (and
   its ``identityValidationExpression`` to match, when the definition has one: moto does not
   store it); a ``REQUEST`` authorizer with caching on needs all of them. Missing → 401
   ``Unauthorized`` without calling the function;
3. with ``authorizerResultTtlInSeconds`` > 0 (AWS's default when unset is 300) the answer is
   **cached** per authorizer and identity-source values, and a cached policy is evaluated against
   each new request's method ARN (so a policy for one method does not open another);
4. otherwise the function is **invoked** with the ``TOKEN``/``REQUEST`` event. It failing with the
   message ``Unauthorized`` → 401 ``UNAUTHORIZED``; failing otherwise or answering without a
   ``principalId``/``policyDocument``, or with a non-scalar ``context`` value → 500
   ``AUTHORIZER_CONFIGURATION_ERROR``;
5. the **policy** is evaluated (``execute-api:Invoke``, ``*`` and ``?`` wildcards in resources): an
   explicit Deny or no Allow → 403 ``ACCESS_DENIED``;
6. on Allow, ``$context.authorizer`` holds ``principalId`` and the ``context`` map with every value
   stringified, for mappings (``context.authorizer.x``), templates, gateway responses and the
   Lambda proxy event's ``requestContext.authorizer``. On Deny too: its context is what a
   customised ``ACCESS_DENIED`` gateway response can show.

AWS: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
(input, output, caching, 414), …/api-gateway-mapping-template-reference.html (``$context.authorizer``).
Not emulated: ``apiKeySource: AUTHORIZER`` (``usageIdentifierKey``), Cognito authorizers, the
authorizer's IAM role (``authorizerCredentials``).
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localaws import ACCOUNT_ID
from localaws.apigateway.model import GatewayError, InvokeLambda, Request

MAX_METHOD_ARN = 1600  # bytes
DEFAULT_TTL = 300  # seconds, when authorizerResultTtlInSeconds is not set
UNAUTHORIZED = "Unauthorized"


@dataclass
class Decision:
    """An authorizer's answer: who, its policy document, its context (stringified)."""

    principal_id: str
    policy: dict[str, Any]
    context: dict[str, str]


def method_arn(region: str, api_id: str, stage: str, http_method: str, path: str) -> str:
    """The ARN API Gateway authorizes: ``…:<api>/<stage>/<VERB>/<path without leading slash>``."""
    return (
        f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api_id}/{stage}/{http_method.upper()}/{path.lstrip('/')}"
    )


def _function_arn(authorizer: dict[str, Any]) -> str:
    m = re.match(
        r"^arn:aws:apigateway:[^:]*:lambda:path/[\d-]+/functions/(.+)/invocations$",
        authorizer.get("authorizerUri", ""),
    )
    if not m:
        raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
    return m.group(1)


def _identity(source: str, request: Request, context: dict[str, Any], stage_variables: dict[str, str]) -> str:
    source = source.strip()
    if source.startswith("method.request.header."):
        return request.header(source.split(".", 3)[3])
    if source.startswith("method.request.querystring."):
        name = source.split(".", 3)[3]
        return next((v for k, v in request.query if k == name), "")
    if source.startswith("stageVariables."):
        return stage_variables.get(source.split(".", 1)[1], "")
    if source.startswith("context."):
        value: Any = context
        for part in source.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)
    raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_answer(answer: Any) -> Decision:
    """Check an authorizer's output like API Gateway does (500 when it is malformed)."""
    if (
        not isinstance(answer, dict)
        or "principalId" not in answer
        or not isinstance(answer.get("policyDocument"), dict)
    ):
        raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
    context = answer.get("context") or {}
    if not isinstance(context, dict) or any(
        not isinstance(v, str | int | float | bool) for v in context.values()
    ):
        # only string, number and boolean values are allowed in the context map
        raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
    return Decision(
        str(answer["principalId"]), answer["policyDocument"], {k: _stringify(v) for k, v in context.items()}
    )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)  # '*' any run (also '/'), '?' one character


def evaluate(policy: dict[str, Any], arn: str) -> str:
    """``Allow``, ``Deny`` (explicit) or ``None``-like ``NoAllow`` for ``execute-api:Invoke`` on ``arn``."""
    allowed = False
    statements = policy.get("Statement") or []
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = _as_list(statement.get("Action"))
        if not any(a in ("*", "execute-api:*", "execute-api:Invoke") for a in actions):
            continue
        if not any(_matches(r, arn) for r in _as_list(statement.get("Resource"))):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            allowed = True
    return "Allow" if allowed else "NoAllow"


class Authorizers:
    """Runs the authorizers of the APIs a stage server serves; keeps their result cache."""

    def __init__(self, invoke: InvokeLambda, region: str, clock: Callable[[], float] = time.time) -> None:
        self.invoke = invoke
        self.region = region
        self.clock = clock
        self.invocations = 0
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], tuple[float, Decision]] = {}

    def authorize(
        self,
        authorizer: dict[str, Any],
        api_id: str,
        stage: str,
        request: Request,
        path: str,
        path_params: dict[str, str],
        context: dict[str, Any],
        stage_variables: dict[str, str],
    ) -> None:
        """Allow the request or raise the gateway error; sets ``context["authorizer"]``."""
        arn = method_arn(self.region, api_id, stage, request.method, path)
        if len(arn.encode("utf-8")) > MAX_METHOD_ARN:
            raise GatewayError("REQUEST_URI_TOO_LONG")
        kind = (authorizer.get("type") or "TOKEN").upper()
        ttl = authorizer.get("authorizerResultTtlInSeconds")
        ttl = DEFAULT_TTL if ttl is None else int(ttl)
        sources = [s for s in (authorizer.get("identitySource") or "").split(",") if s.strip()]
        values = [_identity(s, request, context, stage_variables) for s in sources]
        if kind == "TOKEN":
            token = values[0] if values else ""
            pattern = authorizer.get("identityValidationExpression")
            if not token or (pattern and not re.fullmatch(pattern, token)):
                raise GatewayError("UNAUTHORIZED")
        elif ttl > 0 and (not sources or not all(values)):
            raise GatewayError("UNAUTHORIZED")
        cache_key = (api_id, stage, str(authorizer.get("id")), *values)
        decision = self._cached(cache_key) if ttl > 0 else None
        if decision is None:
            decision = self._call(
                authorizer, kind, arn, request, path, path_params, context, stage_variables, values
            )
            if ttl > 0:
                with self._lock:
                    self._cache[cache_key] = (self.clock() + ttl, decision)
        context["authorizer"] = {"principalId": decision.principal_id, **decision.context}
        effect = evaluate(decision.policy, arn)
        if effect == "Deny":
            raise GatewayError(
                "ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny"
            )
        if effect != "Allow":
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource")

    def _cached(self, key: tuple[str, ...]) -> Decision | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None or hit[0] <= self.clock():
                self._cache.pop(key, None)
                return None
            return hit[1]

    def _call(
        self,
        authorizer: dict[str, Any],
        kind: str,
        arn: str,
        request: Request,
        path: str,
        path_params: dict[str, str],
        context: dict[str, Any],
        stage_variables: dict[str, str],
        values: list[str],
    ) -> Decision:
        if kind == "TOKEN":
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
        else:
            query: dict[str, str] = {}
            multi_query: dict[str, list[str]] = {}
            for k, v in request.query:
                query[k] = v
                multi_query.setdefault(k, []).append(v)
            event = {
                "type": "REQUEST",
                "methodArn": arn,
                "resource": context.get("resourcePath"),
                "path": path,
                "httpMethod": request.method.upper(),
                "headers": dict(request.headers),
                "multiValueHeaders": {k: [v] for k, v in request.headers.items()},
                "queryStringParameters": query,
                "multiValueQueryStringParameters": multi_query,
                "pathParameters": dict(path_params),
                "stageVariables": dict(stage_variables),
                "requestContext": {
                    k: v for k, v in context.items() if k not in ("responseOverride", "authorizer")
                },
            }
        self.invocations += 1
        try:
            answer = self.invoke(_function_arn(authorizer), event)
        except GatewayError:
            raise
        except Exception as e:
            error = getattr(e, "error", None)
            message = error.get("errorMessage") if isinstance(error, dict) else str(e)
            if message == UNAUTHORIZED:
                raise GatewayError("UNAUTHORIZED") from e
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR") from e
        return parse_answer(answer)
