"""The local REST API stage server (``localaws.apigateway``) against a small API built in moto.

The API mirrors the shape of UploadApi: an S3 ``path`` integration for uploads, a DynamoDB
``action/GetItem`` integration with mapping templates, a MOCK CORS preflight, a Lambda proxy
route, an API key in a usage plan.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from localaws.apigateway import Request, Resource, StageServer, is_binary, match_resource
from tests.data_stores import create_bucket, create_metadata_table
from tests.localaws.rest_apis import resource, rest_api, route

REGION = "eu-west-1"
BUCKET = "uploads-bucket"
TABLE = "metadata"

GET_REQUEST = (
    '{"TableName": "'
    + TABLE
    + '", "Key": {"image_id": {"S": "$util.escapeJavaScript($input.params(\'image_id\'))"}}}'
)
# A complete item -> clean JSON template (every contract field), as UploadApi would deploy it.
# escapeJavaScript turns ' into \' (invalid JSON, an AWS quirk): replaceAll undoes it.
GET_RESPONSE = """#set($item = $input.path('$.Item'))
#if(!$item)
#set($context.responseOverride.status = 404)
{"message": "image not found", "image_id": "$util.escapeJavaScript($input.params('image_id'))"}
#else
#set($vs = $item.variants.M)
{"image_id": "$util.escapeJavaScript($item.image_id.S).replaceAll("\\\\'", "'")",
 "source_bucket": "$util.escapeJavaScript($item.source_bucket.S).replaceAll("\\\\'", "'")",
 "source_key": "$util.escapeJavaScript($item.source_key.S).replaceAll("\\\\'", "'")",
 "source_version_id": #if($item.source_version_id.S)"$item.source_version_id.S"#{else}null#end,
 "status": "$item.status.S",
 "format": #if($item.format.S)"$item.format.S"#{else}null#end,
 "width": #if($item.width.N)$item.width.N#{else}null#end,
 "height": #if($item.height.N)$item.height.N#{else}null#end,
 "bytes": #if($item.bytes.N)$item.bytes.N#{else}null#end,
 "created_at": "$item.created_at.S",
 "processed_at": #if($item.processed_at.S)"$item.processed_at.S"#{else}null#end,
 "duration_ms": #if($item.duration_ms.N)$item.duration_ms.N#{else}null#end,
#if($item.error.S) "error": "$util.escapeJavaScript($item.error.S).replaceAll("\\\\'", "'")",
#end
 "variants": {#foreach($name in $vs.keySet())#set($v = $vs.get($name).M)
  "$name": {"bucket": "$v.bucket.S", "format": "$v.format.S",
   "key": "$util.escapeJavaScript($v.key.S).replaceAll("\\\\'", "'")",
   "width": $v.width.N, "height": $v.height.N, "bytes": $v.bytes.N}#if($foreach.hasNext),#end
#end}}
#end"""


ITEM = {
    "image_id": {"S": "abc"},
    "source_bucket": {"S": BUCKET},
    "source_key": {"S": 'dir/it\'s a "photo".jpg'},
    "source_version_id": {"NULL": True},
    "status": {"S": "done"},
    "format": {"S": "jpeg"},
    "width": {"N": "640"},
    "height": {"N": "480"},
    "bytes": {"N": "12345"},
    "created_at": {"S": "2026-11-23T08:00:00+00:00"},
    "processed_at": {"S": "2026-11-23T08:00:01+00:00"},
    "duration_ms": {"N": "812.5"},
    "variants": {
        "M": {
            "thumbnail": {
                "M": {
                    "bucket": {"S": "out"},
                    "key": {"S": "dir/it's_thumbnail_abc.jpg"},
                    "format": {"S": "jpeg"},
                    "width": {"N": "200"},
                    "height": {"N": "150"},
                    "bytes": {"N": "3000"},
                }
            }
        }
    },
}


@dataclass
class Api:
    id: str
    key: str
    key_id: str
    server: StageServer
    calls: list[tuple[str, dict[str, Any]]]

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
    ):
        return self.server.dispatch(
            Request(
                method=method,
                path=f"/{self.id}/dev{path}",
                query=query or [],
                headers=headers or {},
                body=body,
            )
        )


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 60)).save(buf, "JPEG")
    return buf.getvalue()


def build_api() -> tuple[str, str, str]:
    create_bucket(boto3.client("s3", region_name=REGION), BUCKET, REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    create_metadata_table(ddb, TABLE)
    ddb.put_item(TableName=TABLE, Item=ITEM)

    apigw = boto3.client("apigateway", region_name=REGION)
    api_id, root = rest_api(apigw, "imgpipe", binary_media_types=("image/*",))

    key = resource(apigw, api_id, resource(apigw, api_id, root, "uploads"), "{key+}")
    route(
        apigw,
        api_id,
        key,
        "PUT",
        integration={
            "type": "AWS",
            "integrationHttpMethod": "PUT",
            "uri": f"arn:aws:apigateway:{REGION}:s3:path/{BUCKET}/{{key}}",
            "credentials": "arn:aws:iam::123456789012:role/api-s3",
            "requestParameters": {
                "integration.request.path.key": "method.request.path.key",
                "integration.request.header.Content-Type": "method.request.header.Content-Type",
            },
        },
        responses={
            "200": {
                "responseParameters": {"method.response.header.ETag": "integration.response.header.ETag"},
                "responseTemplates": {
                    "application/json": '{"key": "$util.escapeJavaScript($input.params(\'key\'))"}'
                },
            },
            "500": {
                "selectionPattern": "5\\d\\d|4\\d\\d",
                "responseTemplates": {"application/json": '{"message": "upload failed"}'},
            },
        },
        apiKeyRequired=True,
        requestParameters={"method.request.path.key": True, "method.request.header.Content-Type": False},
    )

    image = resource(apigw, api_id, resource(apigw, api_id, root, "images"), "{image_id}")
    route(
        apigw,
        api_id,
        image,
        "GET",
        integration={
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:dynamodb:action/GetItem",
            "credentials": "arn:aws:iam::123456789012:role/api-ddb",
            "requestTemplates": {"application/json": GET_REQUEST},
            "passthroughBehavior": "NEVER",
        },
        responses={"200": {"responseTemplates": {"application/json": GET_RESPONSE}}},
        apiKeyRequired=True,
        requestParameters={"method.request.path.image_id": True},
    )
    route(
        apigw,
        api_id,
        image,
        "OPTIONS",
        integration={"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
        responses={
            "200": {
                "responseParameters": {
                    "method.response.header.Access-Control-Allow-Origin": "'*'",
                    "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
                }
            }
        },
    )

    validator = apigw.create_request_validator(
        restApiId=api_id, name="params", validateRequestParameters=True
    )["id"]
    route(
        apigw,
        api_id,
        resource(apigw, api_id, root, "hello"),
        "GET",
        integration={
            "type": "AWS_PROXY",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:{REGION}:123456789012:function:hello/invocations",
        },
        responses={},
        requestValidatorId=validator,
        requestParameters={"method.request.querystring.name": True},
    )

    apigw.create_deployment(restApiId=api_id, stageName="dev")
    api_key = apigw.create_api_key(name="k", enabled=True)
    plan = apigw.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "dev"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=api_key["id"], keyType="API_KEY")
    return api_id, api_key["value"], api_key["id"]


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        api_id, key, key_id = build_api()
        calls: list[tuple[str, dict[str, Any]]] = []

        def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
            calls.append((function, event))
            return {
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain"},
                "body": f"hello {event['queryStringParameters']['name']}",
            }

        yield Api(api_id, key, key_id, StageServer(None, REGION, invoke_lambda=invoke), calls)


def test_put_upload_stores_binary_body_intact_with_content_type(api: Api) -> None:
    photo = _jpeg()
    resp = api.request(
        "PUT",
        "/uploads/holiday/2024/beach%20day.jpg",
        photo,
        {"x-api-key": api.key, "Content-Type": "image/jpeg"},
    )
    assert resp.status == 200, resp.body
    assert resp.json() == {"key": "holiday/2024/beach day.jpg"}
    obj = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key="holiday/2024/beach day.jpg")
    assert obj["Body"].read() == photo
    assert obj["ContentType"] == "image/jpeg"
    assert resp.headers["ETag"] == obj["ETag"]


def test_non_binary_media_type_is_converted_to_text_like_aws(api: Api) -> None:
    photo = _jpeg()
    resp = api.request("PUT", "/uploads/x.jpg", photo, {"x-api-key": api.key, "Content-Type": "text/plain"})
    assert resp.status == 200
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key="x.jpg")["Body"].read()
    assert stored != photo  # JPEG bytes are not UTF-8: API Gateway would corrupt them the same way
    assert stored == photo.decode("utf-8", errors="replace").encode()


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}])
def test_missing_or_unknown_api_key_is_forbidden(api: Api, headers: dict[str, str]) -> None:
    resp = api.request("PUT", "/uploads/x.jpg", b"x", {**headers, "Content-Type": "image/jpeg"})
    assert (resp.status, resp.json()) == (403, {"message": "Forbidden"})


def test_disabled_api_key_is_forbidden(api: Api) -> None:
    boto3.client("apigateway", region_name=REGION).update_api_key(
        apiKey=api.key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    resp = api.request("GET", "/images/abc", headers={"x-api-key": api.key})
    assert resp.status == 403


def test_unknown_route_or_method_answers_missing_authentication_token(api: Api) -> None:
    for method, path in [("GET", "/nope"), ("DELETE", "/images/abc"), ("PUT", "/uploads")]:
        resp = api.request(method, path, headers={"x-api-key": api.key})
        assert (resp.status, resp.json()) == (403, {"message": "Missing Authentication Token"}), (
            method,
            path,
        )


def test_unknown_stage_is_forbidden(api: Api) -> None:
    resp = api.server.dispatch(Request("GET", f"/{api.id}/prod/images/abc", headers={"x-api-key": api.key}))
    assert resp.status == 403


def test_get_image_returns_clean_json(api: Api) -> None:
    resp = api.request("GET", "/images/abc", headers={"x-api-key": api.key})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json() == {
        "image_id": "abc",
        "source_bucket": BUCKET,
        "source_key": 'dir/it\'s a "photo".jpg',
        "source_version_id": None,
        "status": "done",
        "format": "jpeg",
        "width": 640,
        "height": 480,
        "bytes": 12345,
        "created_at": "2026-11-23T08:00:00+00:00",
        "processed_at": "2026-11-23T08:00:01+00:00",
        "duration_ms": 812.5,
        "variants": {
            "thumbnail": {
                "bucket": "out",
                "key": "dir/it's_thumbnail_abc.jpg",
                "format": "jpeg",
                "width": 200,
                "height": 150,
                "bytes": 3000,
            }
        },
    }


def test_get_unknown_image_is_404_json(api: Api) -> None:
    resp = api.request("GET", "/images/nope", headers={"x-api-key": api.key})
    assert resp.status == 404
    assert resp.json() == {"message": "image not found", "image_id": "nope"}


def test_cors_preflight_mock_returns_static_headers(api: Api) -> None:
    resp = api.request("OPTIONS", "/images/abc")
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_lambda_proxy_event_and_response(api: Api) -> None:
    resp = api.request("GET", "/hello", query=[("name", "ada")], headers={"User-Agent": "t"})
    assert (resp.status, resp.body, resp.headers["Content-Type"]) == (201, b"hello ada", "text/plain")
    function, event = api.calls[0]
    assert function == f"arn:aws:lambda:{REGION}:123456789012:function:hello"
    assert event["resource"] == "/hello" and event["path"] == "/hello" and event["httpMethod"] == "GET"
    assert event["requestContext"]["stage"] == "dev"
    assert event["isBase64Encoded"] is False


def test_lambda_proxy_without_invoker_is_502(api: Api) -> None:
    api.server.invoke_lambda = None
    resp = api.request("GET", "/hello", query=[("name", "ada")])
    assert (resp.status, resp.json()) == (502, {"message": "Internal server error"})


def test_request_validator_rejects_missing_parameter(api: Api) -> None:
    resp = api.request("GET", "/hello")
    assert (resp.status, resp.json()) == (400, {"message": "Missing required request parameters: [name]"})
    assert api.calls == []


def test_payload_over_10_mib_is_413(api: Api) -> None:
    resp = api.request(
        "PUT",
        "/uploads/big.jpg",
        b"\0" * (10 * 1024 * 1024 + 1),
        {"x-api-key": api.key, "Content-Type": "image/jpeg"},
    )
    assert resp.status == 413


def test_new_deployment_is_picked_up(api: Api) -> None:
    assert api.request("GET", "/status").status == 403
    apigw = boto3.client("apigateway", region_name=REGION)
    root = next(r["id"] for r in apigw.get_resources(restApiId=api.id)["items"] if r["path"] == "/")
    status = apigw.create_resource(restApiId=api.id, parentId=root, pathPart="status")["id"]
    apigw.put_method(restApiId=api.id, resourceId=status, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=status,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=status,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={"application/json": '{"ok": true}'},
    )
    apigw.create_deployment(restApiId=api.id, stageName="dev")
    resp = api.request("GET", "/status")
    assert (resp.status, resp.json()) == (200, {"ok": True})


def test_over_http_binary_roundtrip(api: Api) -> None:
    base = api.server.start()
    try:
        photo = _jpeg()
        req = urllib.request.Request(
            f"{base}/{api.id}/dev/uploads/http.jpg",
            data=photo,
            method="PUT",
            headers={"x-api-key": api.key, "Content-Type": "image/jpeg"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        stored = (
            boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key="http.jpg")["Body"].read()
        )
        assert stored == photo
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/{api.id}/dev/images/abc", timeout=10)
        assert err.value.code == 403
    finally:
        api.server.stop()


def _res(path: str) -> Resource:
    return Resource(id=path, path=path, segments=[s for s in path.split("/") if s], methods={})


def test_route_matching_prefers_literals_then_variables_then_greedy() -> None:
    resources = [_res(p) for p in ["/", "/images", "/images/{image_id}", "/images/latest", "/uploads/{key+}"]]
    assert match_resource(resources, "/")[0].path == "/"
    assert match_resource(resources, "/images/latest")[0].path == "/images/latest"
    assert match_resource(resources, "/images/a%20b") == (resources[2], {"image_id": "a b"})
    assert match_resource(resources, "/uploads/a/b%2Bc.jpg") == (resources[4], {"key": "a/b+c.jpg"})
    assert match_resource(resources, "/uploads") is None
    assert match_resource(resources, "/images/a/b") is None


def test_binary_media_type_matching() -> None:
    assert is_binary("image/jpeg", ["image/*"])
    assert is_binary("image/png; charset=x", ["image/png"])
    assert is_binary("application/pdf", ["*/*"])
    assert not is_binary("application/json", ["image/*"])
    assert not is_binary("image/jpeg", [])
