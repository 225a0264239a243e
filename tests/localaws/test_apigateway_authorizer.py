"""Lambda authorizers in the local stage server (``localaws.apigateway.authorizers``), the way API
Gateway runs them: identity sources, result caching, policy evaluation against the method ARN,
``$context.authorizer`` in mappings and gateway responses, ``Unauthorized`` → 401, 414.

A small API in moto: ``PUT /things/{key+}`` and ``GET /other`` (MOCK), behind one authorizer whose
"function" is a Python callable the test controls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localaws.apigateway import Request, Response, StageServer
from tests.localaws.rest_apis import MOCK_200, route

REGION = "eu-west-1"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:authz"
URI = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def allow_all(event: dict[str, Any]) -> dict[str, Any]:
    return policy("Allow", event["methodArn"], {"who": "tester", "n": 7, "ok": True})


def policy(effect: str, resource: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "principalId": "p-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": context or {},
    }


@dataclass
class Api:
    id: str
    server: StageServer
    events: list[dict[str, Any]] = field(default_factory=list)
    answer: Answer = allow_all

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, query: Any = ()
    ) -> Response:
        return self.server.dispatch(Request(method, f"/{self.id}/dev{path}", list(query), headers or {}))


def _mock(apigw: Any, api_id: str, rid: str, verb: str, authorizer_id: str) -> None:
    context = {
        "application/json": '{"principal": "$context.authorizer.principalId",'
        ' "who": "$context.authorizer.who", "n": "$context.authorizer.n", "ok": "$context.authorizer.ok"}'
    }
    route(
        apigw,
        api_id,
        rid,
        verb,
        MOCK_200,
        {"200": {"responseTemplates": context}},
        authorizationType="CUSTOM",
        authorizerId=authorizer_id,
    )


def _s3_store(apigw: Any, api_id: str, root: str, authorizer_id: str) -> None:
    """``PUT /store/{key+}``: an S3 integration whose request takes a header from the authorizer's
    context and S3's conditional write (as UploadApi's upload route does)."""
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="authz-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    store = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="store")["id"]
    key = apigw.create_resource(restApiId=api_id, parentId=store, pathPart="{key+}")["id"]
    apigw.put_method(
        restApiId=api_id,
        resourceId=key,
        httpMethod="PUT",
        authorizationType="CUSTOM",
        authorizerId=authorizer_id,
        requestParameters={"method.request.path.key": True},
    )
    apigw.put_integration(
        restApiId=api_id,
        resourceId=key,
        httpMethod="PUT",
        type="AWS",
        integrationHttpMethod="PUT",
        uri=f"arn:aws:apigateway:{REGION}:s3:path/authz-bucket/{{key}}",
        credentials="arn:aws:iam::123456789012:role/integration",
        requestParameters={
            "integration.request.path.key": "method.request.path.key",
            "integration.request.header.x-amz-meta-who": "context.authorizer.who",
            "integration.request.header.If-None-Match": "'*'",
        },
    )
    for status, pattern in (("200", None), ("409", "409|412")):
        apigw.put_method_response(restApiId=api_id, resourceId=key, httpMethod="PUT", statusCode=status)
        apigw.put_integration_response(
            restApiId=api_id,
            resourceId=key,
            httpMethod="PUT",
            statusCode=status,
            responseTemplates={"application/json": f'{{"status": {status}}}'},
            **({"selectionPattern": pattern} if pattern else {}),
        )


def _build(authorizer: dict[str, Any]) -> Iterator[Api]:
    with mock_aws():
        apigw = boto3.client("apigateway", region_name=REGION)
        api_id = apigw.create_rest_api(name="authz")["id"]
        root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
        authz = apigw.create_authorizer(restApiId=api_id, name="authz", authorizerUri=URI, **authorizer)["id"]
        things = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="things")["id"]
        key = apigw.create_resource(restApiId=api_id, parentId=things, pathPart="{key+}")["id"]
        other = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="other")["id"]
        _mock(apigw, api_id, key, "PUT", authz)
        _mock(apigw, api_id, other, "GET", authz)
        _s3_store(apigw, api_id, root, authz)
        # what UploadApi does with a Deny and with Unauthorized
        apigw.put_gateway_response(
            restApiId=api_id,
            responseType="ACCESS_DENIED",
            statusCode="400",
            responseTemplates={"application/json": '{"message": "$context.authorizer.message"}'},
        )
        apigw.put_gateway_response(
            restApiId=api_id,
            responseType="UNAUTHORIZED",
            statusCode="415",
            responseTemplates={"application/json": '{"message": "send an image type"}'},
        )
        apigw.create_deployment(restApiId=api_id, stageName="dev")
        api = Api(api_id, StageServer(None, REGION))

        def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
            assert function == FUNCTION
            api.events.append(event)
            return api.answer(event)

        api.server.invoke_lambda = invoke
        yield api


@pytest.fixture
def request_api() -> Iterator[Api]:
    """REQUEST authorizer, no caching (what UploadApi deploys)."""
    yield from _build({"type": "REQUEST", "authorizerResultTtlInSeconds": 0})


@pytest.fixture
def cached_api() -> Iterator[Api]:
    """REQUEST authorizer cached for 300 s on the X-Tenant header."""
    yield from _build(
        {
            "type": "REQUEST",
            "identitySource": "method.request.header.X-Tenant",
            "authorizerResultTtlInSeconds": 300,
        }
    )


def test_allow_runs_the_integration_with_the_context_stringified(request_api: Api) -> None:
    resp = request_api.call("PUT", "/things/a/b.jpg", {"Content-Type": "image/png"}, [("v", "1")])
    assert resp.status == 200, resp.body
    assert resp.json() == {"principal": "p-1", "who": "tester", "n": "7", "ok": "true"}
    [event] = request_api.events
    assert event["type"] == "REQUEST" and event["httpMethod"] == "PUT"
    assert (
        event["methodArn"]
        == f"arn:aws:execute-api:{REGION}:123456789012:{request_api.id}/dev/PUT/things/a/b.jpg"
    )
    assert event["resource"] == "/things/{key+}" and event["path"] == "/things/a/b.jpg"
    assert event["pathParameters"] == {"key": "a/b.jpg"}
    assert event["queryStringParameters"] == {"v": "1"} and event["headers"]["Content-Type"] == "image/png"
    assert event["requestContext"]["resourcePath"] == "/things/{key+}"


def test_deny_is_access_denied_with_the_authorizer_context_in_the_gateway_response(request_api: Api) -> None:
    request_api.answer = lambda e: policy("Deny", e["methodArn"], {"message": "bad key: '..' segment"})
    resp = request_api.call("PUT", "/things/x")
    assert (resp.status, resp.json()) == (400, {"message": "bad key: '..' segment"})
    assert resp.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_no_matching_allow_is_access_denied(request_api: Api) -> None:
    request_api.answer = lambda e: policy("Allow", e["methodArn"].replace("/PUT/", "/GET/"))
    assert request_api.call("PUT", "/things/x").status == 400  # the customised ACCESS_DENIED


def test_unauthorized_error_is_401_unauthorized(request_api: Api) -> None:
    def fail(_event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("Unauthorized")

    request_api.answer = fail
    resp = request_api.call("PUT", "/things/x")
    assert (resp.status, resp.json()) == (415, {"message": "send an image type"})
    assert resp.headers["x-amzn-ErrorType"] == "UnauthorizedException"


@pytest.mark.parametrize(
    "answer",
    [
        {"policyDocument": {"Statement": []}},  # no principalId
        {"principalId": "p"},  # no policy
        {"principalId": "p", "policyDocument": {"Statement": []}, "context": {"nested": {"no": 1}}},
    ],
)
def test_malformed_answers_are_500(request_api: Api, answer: dict[str, Any]) -> None:
    request_api.answer = lambda _e: answer
    resp = request_api.call("PUT", "/things/x")
    assert resp.status == 500 and resp.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


def test_a_function_error_is_500(request_api: Api) -> None:
    def crash(_event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("KeyError: 'x'")

    request_api.answer = crash
    assert request_api.call("PUT", "/things/x").status == 500


def test_uncached_authorizer_runs_for_every_request(request_api: Api) -> None:
    for _ in range(3):
        assert request_api.call("PUT", "/things/x").status == 200
    assert len(request_api.events) == 3


def test_cached_results_are_keyed_by_identity_source_and_checked_per_method(cached_api: Api) -> None:
    # the policy allows only the method it was asked for: a cached answer must not open another
    cached_api.answer = lambda e: policy("Allow", e["methodArn"])
    assert cached_api.call("PUT", "/things/x", {"X-Tenant": "a"}).status == 200
    assert cached_api.call("PUT", "/things/x", {"X-Tenant": "a"}).status == 200
    assert len(cached_api.events) == 1  # the second came from the cache
    assert cached_api.call("GET", "/other", {"X-Tenant": "a"}).status == 400  # cached policy: PUT only
    assert len(cached_api.events) == 1
    assert cached_api.call("PUT", "/things/x", {"X-Tenant": "b"}).status == 200
    assert len(cached_api.events) == 2  # another identity: another call


def test_cached_authorizer_without_its_identity_source_is_401_without_a_call(cached_api: Api) -> None:
    assert cached_api.call("PUT", "/things/x").status == 415  # UNAUTHORIZED, customised
    assert cached_api.events == []


def test_token_authorizer_needs_its_token_header() -> None:
    for api in _build(
        {
            "type": "TOKEN",
            "identitySource": "method.request.header.Authorization",
            "authorizerResultTtlInSeconds": 0,
        }
    ):
        assert api.call("PUT", "/things/x").status == 415  # no token: UNAUTHORIZED, no call
        assert api.events == []
        assert api.call("PUT", "/things/x", {"Authorization": "Bearer abc"}).status == 200
        assert api.events == [
            {
                "type": "TOKEN",
                "authorizationToken": "Bearer abc",
                "methodArn": f"arn:aws:execute-api:{REGION}:123456789012:{api.id}/dev/PUT/things/x",
            }
        ]


def test_a_method_arn_over_1600_bytes_is_414_before_the_authorizer(request_api: Api) -> None:
    resp = request_api.call("PUT", "/things/" + "k" * 1600)
    assert resp.status == 414 and json.loads(resp.body) == {"message": "Request-URI Too Long"}
    assert request_api.events == []


def test_the_context_reaches_integration_request_parameters(request_api: Api) -> None:
    """``context.authorizer.who`` mapped to an S3 metadata header; ``If-None-Match: *`` reaches S3."""
    first = request_api.call("PUT", "/store/a/b.txt", {"Content-Type": "text/plain"})
    assert (first.status, first.json()) == (200, {"status": 200}), first.body
    head = boto3.client("s3", region_name=REGION).head_object(Bucket="authz-bucket", Key="a/b.txt")
    assert head["Metadata"] == {"who": "tester"}
    again = request_api.call("PUT", "/store/a/b.txt", {"Content-Type": "text/plain"})
    assert (again.status, again.json()) == (409, {"status": 409})  # S3's 412: the key exists
