"""API Gateway (REST): the API definition the local stage server executes.

moto drops ``binaryMediaTypes`` on ``create_rest_api``; they are added with ``update_rest_api``
(see notes in ``localaws/apigateway.py``), or image bodies would be treated as text.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any, ClassVar

from localaws.resources import Context, as_int, ignore_missing, prune, register


def _api(inputs: dict[str, Any]) -> str:
    return inputs.get("restApi") or inputs["restApiId"]


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _setting(value: Any) -> str:
    """Patch value: booleans lower-case, integral numbers without ``.0`` (wire numbers are floats)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bools(mapping: dict[str, Any] | None) -> dict[str, bool]:
    return {k: bool(v) for k, v in (mapping or {}).items()}


@register("aws:apigateway/restApi:RestApi")
class RestApi:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        apigw = ctx.client("apigateway")
        endpoint = inputs.get("endpointConfiguration") or {}
        api = apigw.create_rest_api(
            **prune(
                {
                    "name": inputs.get("name") or name,
                    "description": inputs.get("description"),
                    "apiKeySource": inputs.get("apiKeySource"),
                    # pulumi-aws v7 takes one type as a string; the AWS API a list
                    "endpointConfiguration": {"types": _as_list(endpoint["types"])}
                    if endpoint.get("types")
                    else None,
                    "minimumCompressionSize": as_int(inputs.get("minimumCompressionSize")),
                    "policy": inputs.get("policy"),
                    "disableExecuteApiEndpoint": inputs.get("disableExecuteApiEndpoint"),
                    "tags": inputs.get("tags"),
                }
            )
        )
        api_id = api["id"]
        binary = list(inputs.get("binaryMediaTypes") or [])
        for media in binary:
            apigw.update_rest_api(
                restApiId=api_id,
                patchOperations=[
                    {"op": "add", "path": "/binaryMediaTypes/" + media.replace("/", "~1"), "value": media}
                ],
            )
        root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        return api_id, {
            **inputs,
            "name": api["name"],
            "rootResourceId": root,
            "binaryMediaTypes": binary,
            "arn": f"arn:aws:apigateway:{ctx.region}::/restapis/{api_id}",
            "executionArn": ctx.arn("execute-api", api_id),
            "createdDate": str(api.get("createdDate", "")),
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("apigateway").delete_rest_api(restApiId=rid))


@register("aws:apigateway/resource:Resource")
class Resource:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = ctx.client("apigateway").create_resource(
            restApiId=_api(inputs), parentId=inputs["parentId"], pathPart=inputs["pathPart"]
        )
        return out["id"], {**inputs, "path": out["path"]}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_resource(restApiId=_api(state), resourceId=rid)
        )


def _method_key(d: dict[str, Any], by_status: bool) -> dict[str, Any]:
    """What names a method, its integration and their responses in AWS: API, resource, verb (status)."""
    key = {"restApiId": _api(d), "resourceId": d["resourceId"], "httpMethod": d["httpMethod"]}
    if by_status:
        key["statusCode"] = d["statusCode"]
    return key


class _MethodPart:
    """Method, integration, method/integration response: one put and one delete on the method key."""

    put: ClassVar[str]
    remove: ClassVar[str]
    prefix: ClassVar[str]  # physical id: ``<prefix>-<api>-<resource>-<verb>[-<status>]``
    by_status: ClassVar[bool] = False

    def fields(self, inputs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key = _method_key(inputs, self.by_status)
        getattr(ctx.client("apigateway"), self.put)(**prune({**key, **self.fields(inputs)}))
        return "-".join([self.prefix, *map(str, key.values())]), dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        key = _method_key(state, self.by_status)
        ignore_missing(lambda: getattr(ctx.client("apigateway"), self.remove)(**key))


@register("aws:apigateway/method:Method")
class Method(_MethodPart):
    put, remove, prefix = "put_method", "delete_method", "agm"

    def fields(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "authorizationType": inputs.get("authorization") or "NONE",
            "authorizerId": inputs.get("authorizerId"),
            "apiKeyRequired": bool(inputs.get("apiKeyRequired")),
            "operationName": inputs.get("operationName"),
            "requestParameters": _bools(inputs.get("requestParameters")),
            "requestModels": inputs.get("requestModels"),
            "requestValidatorId": inputs.get("requestValidatorId"),
            "authorizationScopes": inputs.get("authorizationScopes"),
        }


@register("aws:apigateway/integration:Integration")
class Integration(_MethodPart):
    put, remove, prefix = "put_integration", "delete_integration", "agi"

    def fields(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": inputs["type"],
            "integrationHttpMethod": inputs.get("integrationHttpMethod"),
            "uri": inputs.get("uri"),
            "credentials": inputs.get("credentials"),
            "requestParameters": inputs.get("requestParameters"),
            "requestTemplates": inputs.get("requestTemplates"),
            "passthroughBehavior": inputs.get("passthroughBehavior"),
            "contentHandling": inputs.get("contentHandling"),
            "timeoutInMillis": as_int(inputs.get("timeoutMilliseconds")),
            "cacheNamespace": inputs.get("cacheNamespace"),
            "cacheKeyParameters": inputs.get("cacheKeyParameters"),
            "connectionType": inputs.get("connectionType"),
        }


@register("aws:apigateway/methodResponse:MethodResponse")
class MethodResponse(_MethodPart):
    put, remove, prefix, by_status = "put_method_response", "delete_method_response", "agmr", True

    def fields(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "responseParameters": _bools(inputs.get("responseParameters")),
            "responseModels": inputs.get("responseModels"),
        }


@register("aws:apigateway/integrationResponse:IntegrationResponse")
class IntegrationResponse(_MethodPart):
    put, remove, prefix, by_status = "put_integration_response", "delete_integration_response", "agir", True

    def fields(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "selectionPattern": inputs.get("selectionPattern"),
            "responseParameters": inputs.get("responseParameters"),
            "responseTemplates": inputs.get("responseTemplates"),
            "contentHandling": inputs.get("contentHandling"),
        }


@register("aws:apigateway/response:Response")
class GatewayResponse:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ctx.client("apigateway").put_gateway_response(
            **prune(
                {
                    "restApiId": _api(inputs),
                    "responseType": inputs["responseType"],
                    "statusCode": inputs.get("statusCode"),
                    "responseParameters": inputs.get("responseParameters"),
                    "responseTemplates": inputs.get("responseTemplates"),
                }
            )
        )
        return f"aggr-{_api(inputs)}-{inputs['responseType']}", dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_gateway_response(
                restApiId=_api(state), responseType=state["responseType"]
            )
        )


register("aws:apigateway/gatewayResponse:GatewayResponse")(GatewayResponse)


@register("aws:apigateway/requestValidator:RequestValidator")
class RequestValidator:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = ctx.client("apigateway").create_request_validator(
            restApiId=_api(inputs),
            name=inputs.get("name") or name,
            validateRequestBody=bool(inputs.get("validateRequestBody")),
            validateRequestParameters=bool(inputs.get("validateRequestParameters")),
        )
        return out["id"], dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_request_validator(
                restApiId=_api(state), requestValidatorId=rid
            )
        )


@register("aws:apigateway/authorizer:Authorizer")
class Authorizer:
    """A Lambda (TOKEN/REQUEST) authorizer; the stage server runs it (localaws/apigateway/authorizers.py)."""

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = _api(inputs)
        out = ctx.client("apigateway").create_authorizer(
            **prune(
                {
                    "restApiId": api,
                    "name": inputs.get("name") or name,
                    "type": inputs.get("type") or "TOKEN",
                    "authorizerUri": inputs.get("authorizerUri"),
                    "authorizerCredentials": inputs.get("authorizerCredentials"),
                    "identitySource": inputs.get("identitySource") or None,
                    "identityValidationExpression": inputs.get("identityValidationExpression"),
                    "providerARNs": inputs.get("providerArns"),
                    # Pulumi's (and AWS's) default when unset: 300 s
                    "authorizerResultTtlInSeconds": as_int(inputs.get("authorizerResultTtlInSeconds", 300)),
                }
            )
        )
        return out["id"], {
            **inputs,
            "arn": f"arn:aws:apigateway:{ctx.region}::/restapis/{api}/authorizers/{out['id']}",
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_authorizer(restApiId=_api(state), authorizerId=rid)
        )


@register("aws:apigateway/model:Model")
class Model:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = ctx.client("apigateway").create_model(
            **prune(
                {
                    "restApiId": _api(inputs),
                    "name": inputs["name"],
                    "contentType": inputs["contentType"],
                    "schema": inputs.get("schema"),
                    "description": inputs.get("description"),
                }
            )
        )
        return out["id"], dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_model(restApiId=_api(state), modelName=state["name"])
        )


@register("aws:apigateway/deployment:Deployment")
class Deployment:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = ctx.client("apigateway").create_deployment(
            **prune(
                {
                    "restApiId": _api(inputs),
                    "description": inputs.get("description"),
                    "variables": inputs.get("variables"),
                }
            )
        )
        return out["id"], {**inputs, "createdDate": str(out.get("createdDate", ""))}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_deployment(restApiId=_api(state), deploymentId=rid)
        )


@register("aws:apigateway/stage:Stage")
class Stage:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = _api(inputs)
        stage = inputs["stageName"]
        ctx.client("apigateway").create_stage(
            **prune(
                {
                    "restApiId": api,
                    "stageName": stage,
                    # pulumi-aws v7's input is `deployment` (v6: `deploymentId`)
                    "deploymentId": inputs.get("deployment") or inputs["deploymentId"],
                    "description": inputs.get("description"),
                    "variables": inputs.get("variables"),
                    "tracingEnabled": inputs.get("xrayTracingEnabled"),
                    "tags": inputs.get("tags"),
                }
            )
        )
        base = ctx.stage_base_url or f"https://{api}.execute-api.{ctx.region}.amazonaws.com"
        invoke_url = f"{base}/{api}/{stage}" if ctx.stage_base_url else f"{base}/{stage}"
        return f"ags-{api}-{stage}", {
            **inputs,
            "invokeUrl": invoke_url,
            "executionArn": ctx.arn("execute-api", f"{api}/{stage}"),
            "arn": f"arn:aws:apigateway:{ctx.region}::/restapis/{api}/stages/{stage}",
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_stage(restApiId=_api(state), stageName=state["stageName"])
        )


@register("aws:apigateway/methodSettings:MethodSettings")
class MethodSettings:
    """Metrics/logging/throttling per method: stored on the stage (the stage server ignores them)."""

    _PATHS: ClassVar[dict[str, str]] = {
        "metricsEnabled": "metrics/enabled",
        "loggingLevel": "logging/loglevel",
        "dataTraceEnabled": "logging/dataTrace",
        "throttlingBurstLimit": "throttling/burstLimit",
        "throttlingRateLimit": "throttling/rateLimit",
        "cachingEnabled": "caching/enabled",
    }

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        settings = inputs.get("settings") or {}
        ops = [
            {
                "op": "replace",
                "path": f"/{inputs['methodPath']}/{path}",
                "value": _setting(settings[k]),
            }
            for k, path in self._PATHS.items()
            if settings.get(k) is not None
        ]
        if ops:
            ctx.client("apigateway").update_stage(
                restApiId=_api(inputs), stageName=inputs["stageName"], patchOperations=ops
            )
        return f"{_api(inputs)}-{inputs['stageName']}-{inputs['methodPath']}", dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        return None  # goes with the stage


@register("aws:apigateway/apiKey:ApiKey")
class ApiKey:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = ctx.client("apigateway").create_api_key(
            **prune(
                {
                    "name": inputs.get("name") or name,
                    "description": inputs.get("description"),
                    "enabled": inputs.get("enabled", True),
                    "value": inputs.get("value"),
                    "tags": inputs.get("tags"),
                }
            )
        )
        return out["id"], {
            **inputs,
            "name": out["name"],
            "value": out["value"],
            "arn": f"arn:aws:apigateway:{ctx.region}::/apikeys/{out['id']}",
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("apigateway").delete_api_key(apiKey=rid))


@register("aws:apigateway/usagePlan:UsagePlan")
class UsagePlan:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        throttle = inputs.get("throttleSettings") or {}
        quota = inputs.get("quotaSettings") or {}
        out = ctx.client("apigateway").create_usage_plan(
            **prune(
                {
                    "name": inputs.get("name") or name,
                    "description": inputs.get("description"),
                    "apiStages": [
                        {"apiId": s["apiId"], "stage": s["stage"]} for s in inputs.get("apiStages") or []
                    ],
                    "throttle": prune(
                        {
                            "burstLimit": as_int(throttle.get("burstLimit")),
                            "rateLimit": throttle.get("rateLimit"),
                        }
                    ),
                    "quota": prune(
                        {
                            "limit": as_int(quota.get("limit")),
                            "offset": as_int(quota.get("offset")),
                            "period": quota.get("period"),
                        }
                    ),
                    "tags": inputs.get("tags"),
                }
            )
        )
        return out["id"], {**inputs, "arn": f"arn:aws:apigateway:{ctx.region}::/usageplans/{out['id']}"}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("apigateway").delete_usage_plan(usagePlanId=rid))


@register("aws:apigateway/usagePlanKey:UsagePlanKey")
class UsagePlanKey:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = ctx.client("apigateway").create_usage_plan_key(
            usagePlanId=inputs["usagePlanId"], keyId=inputs["keyId"], keyType=inputs.get("keyType", "API_KEY")
        )
        return out["id"], {**inputs, "name": out.get("name"), "value": out.get("value")}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("apigateway").delete_usage_plan_key(
                usagePlanId=state["usagePlanId"], keyId=rid
            )
        )


# The permissions of AWS's managed policy AmazonAPIGatewayPushToCloudWatchLogs, which API Gateway
# expects of the account's CloudWatch role
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).
CLOUDWATCH_ROLE_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
)


def _statements(document: Any) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    found = doc.get("Statement", [])
    return [s for s in ([found] if isinstance(found, dict) else found) if isinstance(s, dict)]


def _role_documents(iam: Any, role: str) -> list[Any]:
    """Every permissions document of a role: attached managed policies, then inline ones."""
    docs = []
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        docs.append(
            iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"][
                "Document"
            ]
        )
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        docs.append(iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"])
    return docs


def check_cloudwatch_role(ctx: Context, role_arn: str) -> None:
    """What API Gateway checks when the account's CloudWatch role is set (moto checks nothing):
    the role trusts apigateway.amazonaws.com and may do what AmazonAPIGatewayPushToCloudWatchLogs
    allows, at that moment (so the setting must depend on the policy attachment)."""
    iam = ctx.client("iam")
    role = role_arn.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trusted = any(
        s.get("Effect") == "Allow"
        and "apigateway.amazonaws.com" in _as_list(s.get("Principal", {}).get("Service", []))
        for s in _statements(trust)
        if isinstance(s.get("Principal"), dict)
    )
    allowed = [
        pattern.lower()
        for doc in _role_documents(iam, role)
        for s in _statements(doc)
        if s.get("Effect") == "Allow"
        for pattern in _as_list(s.get("Action", []))
    ]
    missing = [
        a for a in CLOUDWATCH_ROLE_ACTIONS if not any(fnmatch.fnmatchcase(a.lower(), p) for p in allowed)
    ]
    problems = ([] if trusted else ["it does not trust apigateway.amazonaws.com"]) + (
        [f"it may not {', '.join(missing)}"] if missing else []
    )
    if problems:
        raise ValueError(
            "BadRequestException: The role ARN does not have required permissions set to API Gateway "
            f"(local engine: role {role}: {'; '.join(problems)}). Attach "
            "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs and make the "
            "Account depend on the attachment"
        )


@register("aws:apigateway/account:Account")
class Account:
    """Account-wide CloudWatch role for API Gateway logging: the role is checked as API Gateway
    does, the setting recorded locally (nothing to log to)."""

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if inputs.get("cloudwatchRoleArn"):
            check_cloudwatch_role(ctx, inputs["cloudwatchRoleArn"])
        ctx.say(
            f"    note: {name}: API Gateway account settings are recorded only (no execution logs locally)"
        )
        return "api-gateway-account", {
            **inputs,
            "throttleSettings": [{"burstLimit": 5000, "rateLimit": 10000}],
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        return None
