"""UploadApi under Pulumi mocks: every route's resources, auth modes, IAM scope, stage and redeploys."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pulumi
import pytest

from components.api_templates import (
    GET_ITEM_RESPONSE_TEMPLATE,
    QUERY_RESPONSE_TEMPLATE,
    get_item_request_template,
    query_request_template,
)
from components.inputs import ApiAuth, Architecture, DataStore
from components.lambda_function import function_name_for
from components.upload_api import UploadApi, UploadApiArgs
from tests.unit.mocks import ImgpipeMocks

REGION = "eu-west-1"
ACCOUNT = "123456789012"


class Mocks(ImgpipeMocks):
    """The unit mocks with the fixed ids these assertions name; records every resource.

    ``suffix`` is what RandomId answers (random on a real stack, fixed once in its state).
    Provider functions (policy documents, region, account) are answered as ImgpipeMocks does.
    """

    def __init__(self, suffix: str = "a1b2c3") -> None:
        super().__init__(region=REGION, account=ACCOUNT)
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.suffix = suffix

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        state = dict(args.inputs)
        rid = f"{args.name}-id"
        if args.typ == "aws:apigateway/restApi:RestApi":
            rid = "a1b2c3d4e5"
            state.update(rootResourceId="root0", executionArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{rid}")
        elif args.typ == "aws:apigateway/stage:Stage":
            state["invokeUrl"] = (
                f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/{args.inputs['stageName']}/"
            )
        elif args.typ == "random:index/randomId:RandomId":
            state["hex"] = self.suffix
        elif args.typ == "aws:apigateway/apiKey:ApiKey":
            state["value"] = "k" * 40
        elif args.typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{args.inputs['name']}"
            state.update(
                arn=arn,
                invokeArn=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations",
            )
        elif args.typ in ("aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup"):
            kind = "iam::" if "iam" in args.typ else f"logs:{REGION}:"
            state["arn"] = f"arn:aws:{kind}{ACCOUNT}:{args.name}"
            state.setdefault("name", args.name)
        return rid, state

    def of(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == f"aws:{typ}"]


UPLOAD_ARN = "arn:aws:s3:::uploads-b"
PROCESSED_ARN = "arn:aws:s3:::processed-b"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/meta"
KEYS = {n: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{n}" for n in ("upload", "processed", "table")}


def make_args(**overrides: Any) -> UploadApiArgs:
    args = UploadApiArgs(
        upload_bucket=DataStore(name="uploads-b", arn=UPLOAD_ARN, key_arn=KEYS["upload"]),
        processed_bucket=DataStore(name="processed-b", arn=PROCESSED_ARN, key_arn=KEYS["processed"]),
        table=DataStore(name="meta", arn=TABLE_ARN, key_arn=KEYS["table"]),
        code=pulumi.AssetArchive({}),
        layer_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:pillow:3",
        architecture=Architecture.ARM64,
        memory_mb=1024,
        timeout_seconds=28,
        log_retention_days=14,
        variants=(),
        max_pixels=50_000_000,
        max_upload_mb=50,
        api_auth=ApiAuth.API_KEY,
        cors_origins=["*"],
        throttle_rate_limit=20.0,
        throttle_burst_limit=40,
        quota_per_day=5000,
    )
    return dataclasses.replace(args, **overrides)


def build(
    suffix: str = "a1b2c3", project: str = "imgpipe", stack: str = "dev", **overrides: Any
) -> tuple[Mocks, dict[str, Any]]:
    mocks = Mocks(suffix)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    outputs: dict[str, Any] = {}
    names = ["url", "key", "id", "name", "stage", "api_function", "render_function"]

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        api = UploadApi("api", make_args(**overrides))
        return pulumi.Output.all(
            api.api_url,
            api.api_key,
            api.rest_api_id,
            api.rest_api_name,
            api.stage_name,
            api.api_function_name,
            api.render_function_name,
        ).apply(lambda v: outputs.update(zip(names, v, strict=True)))

    program()
    return mocks, outputs


@pytest.fixture(scope="module")
def graph() -> tuple[Mocks, dict[str, Any]]:
    return build()


def _methods(mocks: Mocks) -> dict[tuple[str, str], dict[str, Any]]:
    """(resource name, HTTP method) → Method inputs."""
    return {(m.name, m.inputs["httpMethod"]): m.inputs for m in mocks.of("apigateway/method:Method")}


def test_outputs_follow_the_contract(graph: tuple[Mocks, dict[str, Any]]) -> None:
    _, out = graph
    assert out["url"] == f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/dev"
    assert out["key"] == "k" * 40
    assert out["id"] == "a1b2c3d4e5" and out["name"] == "imgpipe-dev-api-a1b2c3" and out["stage"] == "dev"
    assert (out["api_function"], out["render_function"]) == (
        "imgpipe-dev-api-api-a1b2c3",
        "imgpipe-dev-api-render-a1b2c3",
    )


def _names(mocks: Mocks) -> set[str]:
    """Every physical name that must be unique in an account+region (or that names metrics)."""
    kinds = ("lambda/function:Function", "cloudwatch/logGroup:LogGroup", "apigateway/restApi:RestApi")
    return {r.inputs["name"] for kind in kinds for r in mocks.of(kind)}


def test_same_stack_name_in_another_project_or_stack_does_not_collide(
    graph: tuple[Mocks, dict[str, Any]],
) -> None:
    mocks, _ = graph
    other, _ = build(suffix="d4e5f6")  # another project's "dev" stack: its own RandomId
    assert len(_names(mocks)) == len(_names(other)) == 8  # 3 functions, 4 log groups, the API
    assert not _names(mocks) & _names(other)
    renamed, _ = build(project="photos")
    assert not _names(mocks) & _names(renamed)


def test_long_names_keep_the_suffix_within_lambdas_limit() -> None:
    _, out = build(stack="customer-acceptance-environment-eu-west-1-blue")
    for name in (out["api_function"], out["render_function"]):
        assert len(name) <= 64 and name.endswith("-a1b2c3"), name
    assert function_name_for("x" * 80, "render", "a1b2c3") == "x" * 57 + "-a1b2c3"


def test_every_route_and_its_path(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    parts = {r.name: r.inputs["pathPart"] for r in mocks.of("apigateway/resource:Resource")}
    assert parts == {
        "api-uploads": "uploads",
        "api-upload-key": "{key+}",
        "api-images": "images",
        "api-image": "{image_id}",
        "api-render": "render",
        "api-variants": "variants",
        "api-variant": "{variant}",
    }
    routes = {(m.inputs["httpMethod"], m.name) for m in mocks.of("apigateway/method:Method")}
    assert {
        ("PUT", "api-upload-method"),
        ("POST", "api-create-upload-method"),
        ("GET", "api-list-images-method"),
        ("GET", "api-get-image-method"),
        ("GET", "api-render-method"),
        ("GET", "api-get-variant-method"),
    } <= routes
    assert sum(1 for m, _ in routes if m == "OPTIONS") == 6


def test_api_key_on_every_method_but_preflights(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    for (name, verb), inputs in _methods(mocks).items():
        if verb == "OPTIONS":
            assert inputs["authorization"] == "NONE" and not inputs.get("apiKeyRequired"), name
        elif name == "api-upload-method":  # the key, then the upload authorizer's rules
            assert inputs["apiKeyRequired"] is True and inputs["authorization"] == "CUSTOM", name
            assert inputs["authorizerId"] == "api-upload-authorizer-id"
        else:
            assert inputs["apiKeyRequired"] is True and inputs["authorization"] == "NONE", name
    keys = mocks.of("apigateway/apiKey:ApiKey")
    assert len(keys) == 1 and keys[0].inputs["enabled"] is True
    plan = mocks.of("apigateway/usagePlan:UsagePlan")[0].inputs
    assert plan["quotaSettings"] == {"limit": 5000, "period": "DAY"}
    assert plan["throttleSettings"] == {"rateLimit": 20.0, "burstLimit": 40}
    assert plan["apiStages"] == [{"apiId": "a1b2c3d4e5", "stage": "dev"}]
    (plan_key,) = mocks.of("apigateway/usagePlanKey:UsagePlanKey")
    assert plan_key.inputs["keyType"] == "API_KEY" and plan_key.inputs["keyId"] == "api-key-id"


def test_iam_auth_uses_sigv4_and_no_key() -> None:
    mocks, out = build(api_auth=ApiAuth.IAM)
    for (name, verb), inputs in _methods(mocks).items():
        expected = "NONE" if verb == "OPTIONS" else "AWS_IAM"
        assert inputs["authorization"] == expected, name
        assert not inputs.get("apiKeyRequired"), name
    assert mocks.of("apigateway/apiKey:ApiKey") == []
    assert out["key"] == ""
    # a method has one authorization type: AWS_IAM leaves no room for the upload authorizer
    assert mocks.of("apigateway/authorizer:Authorizer") == []
    assert {r.inputs["responseType"] for r in mocks.of("apigateway/response:Response")}.isdisjoint(
        {"ACCESS_DENIED", "UNAUTHORIZED"}
    )
    assert "quotaSettings" not in mocks.of("apigateway/usagePlan:UsagePlan")[0].inputs


def test_put_upload_is_a_binary_passthrough_s3_integration(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    (api,) = mocks.of("apigateway/restApi:RestApi")
    assert api.inputs["binaryMediaTypes"] == ["image/*", "application/octet-stream"]
    integ = next(
        i.inputs for i in mocks.of("apigateway/integration:Integration") if i.name == "api-upload-integration"
    )
    assert integ["type"] == "AWS" and integ["integrationHttpMethod"] == "PUT"
    assert integ["uri"] == f"arn:aws:apigateway:{REGION}:s3:path/uploads-b/{{key}}"
    assert integ["credentials"].endswith("api-integration-role")
    assert "requestTemplates" not in integ and "contentHandling" not in integ
    assert integ["requestParameters"]["integration.request.path.key"] == "method.request.path.key"
    put = _methods(mocks)[("api-upload-method", "PUT")]
    assert put["requestParameters"] == {
        "method.request.path.key": True,
        "method.request.header.Content-Type": True,
    }
    assert put["requestValidatorId"] == "api-params-validator-id"


def test_put_upload_checks_run_in_a_request_authorizer_before_s3(graph: tuple[Mocks, dict[str, Any]]) -> None:
    """Key rule and image type in the upload authorizer, no silent overwrite by S3's conditional write."""
    mocks, _ = graph
    (authorizer,) = mocks.of("apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "REQUEST"
    assert authorizer.inputs["authorizerResultTtlInSeconds"] == 0  # the path decides: no cache
    assert authorizer.inputs["identitySource"] == "method.request.header.Content-Type"
    assert authorizer.inputs["authorizerUri"].endswith(
        "function:imgpipe-dev-api-authorizer-a1b2c3/invocations"
    )
    integ = next(
        i.inputs for i in mocks.of("apigateway/integration:Integration") if i.name == "api-upload-integration"
    )
    assert integ["requestParameters"]["integration.request.header.If-None-Match"] == "'*'"
    responses = {r.name: r.inputs for r in mocks.of("apigateway/integrationResponse:IntegrationResponse")}
    conflict = responses["api-upload-409-integration"]
    assert (
        conflict["selectionPattern"] == "409|412"
        and "overwrite" in conflict["responseTemplates"]["application/json"]
    )
    other = responses["api-upload-400-integration"]["selectionPattern"]
    assert [c for c in map(str, range(400, 500)) if re.fullmatch(other, c)] == [
        c for c in map(str, range(400, 500)) if c not in ("409", "412")
    ]
    gateway = {r.inputs["responseType"]: r.inputs for r in mocks.of("apigateway/response:Response")}
    assert gateway["ACCESS_DENIED"]["statusCode"] == "400"
    assert gateway["ACCESS_DENIED"]["responseTemplates"] == {
        "application/json": '{"message": $context.authorizer.messageJson}'
    }
    assert gateway["UNAUTHORIZED"]["statusCode"] == "415"
    assert "image/jpeg, image/png" in gateway["UNAUTHORIZED"]["responseTemplates"]["application/json"]


def test_dynamodb_routes_use_templates_and_the_index(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    integ = {i.name: i.inputs for i in mocks.of("apigateway/integration:Integration")}
    get = integ["api-get-image-integration"]
    assert get["uri"] == f"arn:aws:apigateway:{REGION}:dynamodb:action/GetItem"
    assert get["passthroughBehavior"] == "NEVER"
    assert get["requestTemplates"]["application/json"] == get_item_request_template("meta")
    query = integ["api-list-images-integration"]
    assert query["uri"].endswith(":dynamodb:action/Query")
    assert query["requestTemplates"]["application/json"] == query_request_template("meta")
    assert '"IndexName": "by_source_key"' in query_request_template("meta")
    responses = {r.name: r.inputs for r in mocks.of("apigateway/integrationResponse:IntegrationResponse")}
    assert responses["api-get-image-200-integration"]["responseTemplates"] == {
        "application/json": GET_ITEM_RESPONSE_TEMPLATE
    }
    assert responses["api-list-images-200-integration"]["responseTemplates"] == {
        "application/json": QUERY_RESPONSE_TEMPLATE
    }
    assert '"IndexName": "by_status"' in query_request_template("meta")
    # source_key or status: optional for the validator, checked by the templates (400 + message)
    assert _methods(mocks)[("api-list-images-method", "GET")]["requestParameters"] == {
        f"method.request.querystring.{q}": False for q in ("source_key", "status", "limit", "cursor")
    }


def test_lambda_routes_proxy_to_their_functions_with_scoped_permissions(
    graph: tuple[Mocks, dict[str, Any]],
) -> None:
    mocks, _ = graph
    functions = {f.name: f.inputs for f in mocks.of("lambda/function:Function")}
    assert set(functions) == {"api-api-function", "api-render-function", "api-authorizer-function"}
    authorizer = functions.pop("api-authorizer-function")
    assert authorizer["handler"] == "function.authorizer.handler"
    assert set(authorizer["environment"]["variables"]) == {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "LOG_LEVEL",
    }  # it needs no bucket or table: it checks the request only
    for f in functions.values():
        assert f["runtime"] == "python3.12" and f["handler"] == "function.api.handler"
        assert f["architectures"] == ["arm64"] and f["layers"] == [
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:pillow:3"
        ]
        env = f["environment"]["variables"]
        assert env["UPLOAD_BUCKET"] == "uploads-b" and env["PROCESSED_BUCKET"] == "processed-b"
        assert env["METADATA_TABLE"] == "meta" and env["MAX_UPLOAD_MB"] == "50"
        assert f["loggingConfig"]["logGroup"] == f"/aws/lambda/{f['name']}"
    assert functions["api-render-function"]["memorySize"] == 1024
    assert functions["api-render-function"]["timeout"] == 28
    integ = {i.name: i.inputs for i in mocks.of("apigateway/integration:Integration")}
    for label, fn in (("render", "render"), ("create-upload", "api"), ("get-variant", "api")):
        assert integ[f"api-{label}-integration"]["type"] == "AWS_PROXY"
        assert integ[f"api-{label}-integration"]["uri"].endswith(
            f"function:imgpipe-dev-api-{fn}-a1b2c3/invocations"
        )
    perms = {p.name: p.inputs for p in mocks.of("lambda/permission:Permission")}
    exec_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5"
    assert (
        perms.pop("api-authorizer-invoke")["sourceArn"] == f"{exec_arn}/authorizers/api-upload-authorizer-id"
    )
    assert perms["api-render-invoke"]["sourceArn"] == f"{exec_arn}/*/GET/images/*/render"
    assert perms["api-create-upload-invoke"]["sourceArn"] == f"{exec_arn}/*/POST/uploads"
    assert perms["api-get-variant-invoke"]["sourceArn"] == f"{exec_arn}/*/GET/images/*/variants/*"
    assert all(p["principal"] == "apigateway.amazonaws.com" for p in perms.values())
    groups = {g.inputs["name"]: g.inputs["retentionInDays"] for g in mocks.of("cloudwatch/logGroup:LogGroup")}
    assert groups == {
        "/aws/lambda/imgpipe-dev-api-api-a1b2c3": 14,
        "/aws/lambda/imgpipe-dev-api-render-a1b2c3": 14,
        "/aws/lambda/imgpipe-dev-api-authorizer-a1b2c3": 14,
        "/aws/apigateway/imgpipe-dev-api-a1b2c3-access": 14,
    }


def _policies(mocks: Mocks) -> dict[str, list[dict[str, Any]]]:
    """Each role policy's statements, Action and Resource as lists (the provider renders one value
    as a string)."""

    def listed(statement: dict[str, Any]) -> dict[str, Any]:
        return {
            k: [v] if k in ("Action", "Resource") and isinstance(v, str) else v for k, v in statement.items()
        }

    return {
        p.name: [listed(s) for s in json.loads(p.inputs["policy"])["Statement"]]
        for p in mocks.of("iam/rolePolicy:RolePolicy")
    }


def test_iam_is_scoped_to_exact_arns(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    policies = _policies(mocks)
    by_sid = {name: {s["Sid"]: s for s in stmts} for name, stmts in policies.items()}
    integ = by_sid["api-integration-policy"]
    assert integ["PutUploads"]["Action"] == ["s3:PutObject"]
    assert integ["PutUploads"]["Resource"] == [f"{UPLOAD_ARN}/*"]
    assert integ["EncryptUploads"]["Resource"] == [KEYS["upload"]]
    assert integ["ReadMetadata"]["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    assert integ["ReadMetadata"]["Resource"] == [
        TABLE_ARN,
        f"{TABLE_ARN}/index/by_source_key",
        f"{TABLE_ARN}/index/by_status",
    ]
    assert integ["DecryptMetadata"]["Resource"] == [KEYS["table"]]
    # KMS only through the owning service, for the one bucket/table (issue 13)
    s3_upload = {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [UPLOAD_ARN, f"{UPLOAD_ARN}/*"]},
    }
    table_only = {
        "StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:dynamodb:tableName": "meta"},
    }
    assert integ["EncryptUploads"]["Condition"] == s3_upload
    assert integ["DecryptMetadata"]["Condition"] == table_only
    assert by_sid["api-api-policy"]["EncryptUploads"]["Condition"] == s3_upload
    assert by_sid["api-api-policy"]["DecryptTable"]["Condition"] == table_only
    assert by_sid["api-render-policy"]["DecryptSources"]["Condition"] == s3_upload
    kms_grants = [s for stmts in policies.values() for s in stmts if s["Action"][0].startswith("kms:")]
    assert len(kms_grants) == 8
    assert all("kms:ViaService" in s["Condition"]["StringEquals"] for s in kms_grants)
    render = by_sid["api-render-policy"]
    assert render["WriteRenders"]["Resource"] == [f"{PROCESSED_ARN}/renders/*"]
    assert render["ReadSourcesAndRenders"]["Resource"] == [f"{UPLOAD_ARN}/*", f"{PROCESSED_ARN}/*"]
    assert render["WriteOwnLogs"]["Resource"] == [f"arn:aws:logs:{REGION}:{ACCOUNT}:api-render-logs:*"]
    for name, stmts in policies.items():
        for s in stmts:
            for action in s["Action"]:
                assert "*" not in action, (name, s)
            for resource in s["Resource"]:
                assert resource != "*", (name, s)


def test_cors_preflights_and_gateway_responses(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    mocks_ir = {r.name: r.inputs for r in mocks.of("apigateway/integrationResponse:IntegrationResponse")}
    pre = mocks_ir["api-render-options-200-integration"]["responseParameters"]
    assert pre["method.response.header.Access-Control-Allow-Origin"] == "'*'"
    assert pre["method.response.header.Access-Control-Allow-Methods"] == "'GET,OPTIONS'"
    assert "X-Api-Key" in pre["method.response.header.Access-Control-Allow-Headers"]
    responses = {r.inputs["responseType"]: r.inputs for r in mocks.of("apigateway/response:Response")}
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "REQUEST_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"} <= set(responses)
    for r in responses.values():
        assert r["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
        assert r["responseTemplates"]["application/json"].startswith('{"message":')
    assert responses["REQUEST_TOO_LARGE"]["statusCode"] == "413"


def test_several_origins_are_echoed_by_preflights() -> None:
    mocks, _ = build(cors_origins=["https://a.example", "https://b.example"])
    ir = {r.name: r.inputs for r in mocks.of("apigateway/integrationResponse:IntegrationResponse")}
    pre = ir["api-image-options-200-integration"]
    assert "https://a.example|https://b.example" in pre["responseTemplates"]["application/json"]
    assert pre["responseParameters"]["method.response.header.Vary"] == "'Origin'"


def test_stage_access_logs_throttling_and_deployment(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    (stage,) = mocks.of("apigateway/stage:Stage")
    assert stage.inputs["stageName"] == "dev" and stage.inputs["deployment"] == "api-deployment-id"
    log = stage.inputs["accessLogSettings"]
    assert log["destinationArn"].endswith("api-access-logs")
    assert "$context.requestId" in log["format"] and "$context.status" in log["format"]
    (settings,) = mocks.of("apigateway/methodSettings:MethodSettings")
    assert settings.inputs["methodPath"] == "*/*"
    assert settings.inputs["settings"]["throttlingRateLimit"] == 20.0
    assert len(mocks.of("apigateway/account:Account")) == 1
    (deployment,) = mocks.of("apigateway/deployment:Deployment")
    assert len(deployment.inputs["triggers"]["redeployment"]) == 64


def _trigger(**overrides: Any) -> str:
    mocks, _ = build(**overrides)
    return mocks.of("apigateway/deployment:Deployment")[0].inputs["triggers"]["redeployment"]


def test_deployment_trigger_changes_with_the_api_only() -> None:
    base = _trigger()
    assert _trigger() == base  # stable: no redeploy without a change
    assert _trigger(cors_origins=["https://app.example"]) != base
    assert _trigger(api_auth=ApiAuth.IAM) != base
    assert _trigger(table=DataStore(name="other", arn=TABLE_ARN, key_arn=KEYS["table"])) != base


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_auth": "basic"}, "api_auth must be"),
        ({"architecture": "sparc"}, "architecture must be"),
        ({"cors_origins": []}, "at least one origin"),
        ({"cors_origins": ["example.com"]}, r"must be '\*' or start with http"),
        ({"quota_per_day": 0}, "must be positive"),
    ],
)
def test_bad_args_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_integration_role_trusts_api_gateway_for_this_api_only(graph: tuple[Mocks, dict[str, Any]]) -> None:
    mocks, _ = graph
    roles = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in mocks.of("iam/role:Role")}
    [trust] = roles["api-integration-role"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    # confused-deputy protection: API Gateway acting for this account's API, nothing else
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/*"},
    }
