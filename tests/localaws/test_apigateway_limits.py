"""Throttling, quotas and IAM authentication in the local stage server (``localaws.apigateway``).

A small API built in moto: ``GET /ping`` (MOCK, API key required) and ``GET /private`` (MOCK,
``AWS_IAM``). Time is an injected clock, so the token buckets and quota periods are driven by the
test, never by sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import mock_aws

from localaws.apigateway import Request, Response, StageServer
from tests.localaws.rest_apis import MOCK_200, resource, rest_api, route

REGION = "eu-west-1"
DAY = 24 * 3600.0


@dataclass
class Clock:
    now: float = 1_795_000_000.0  # epoch seconds; quota periods are UTC days/weeks/months of it

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    id: str
    server: StageServer
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)  # key name -> value

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.server.dispatch(Request("GET", f"/{self.id}/dev{path}", headers=headers or {}))

    def ping(self, key: str) -> Response:
        return self.get("/ping", {"x-api-key": self.keys[key]})

    def plan(self, name: str, **limits: Any) -> None:
        """A usage plan for the dev stage with ``limits`` (throttle=, quota=) and one key ``name``."""
        apigw = boto3.client("apigateway", region_name=REGION)
        plan = apigw.create_usage_plan(name=name, apiStages=[{"apiId": self.id, "stage": "dev"}], **limits)
        key = apigw.create_api_key(name=name, enabled=True)
        apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        self.keys[name] = key["value"]


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        apigw = boto3.client("apigateway", region_name=REGION)
        api_id, root = rest_api(apigw, "limits")
        for part, method in (
            ("ping", {"authorizationType": "NONE", "apiKeyRequired": True}),
            ("private", {"authorizationType": "AWS_IAM"}),
        ):
            ok = {"200": {"responseTemplates": {"application/json": '{"ok": true}'}}}
            route(apigw, api_id, resource(apigw, api_id, root, part), "GET", MOCK_200, ok, **method)
        # what UploadApi deploys: JSON + CORS for every 4xx API Gateway answers itself
        apigw.put_gateway_response(
            restApiId=api_id,
            responseType="DEFAULT_4XX",
            responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
            responseTemplates={"application/json": '{"message": $context.error.messageString}'},
        )
        apigw.create_deployment(restApiId=api_id, stageName="dev")
        clock = Clock()
        yield Api(api_id, StageServer(None, REGION, clock=clock), clock)


def _body(resp: Response) -> tuple[int, Any]:
    return resp.status, json.loads(resp.body)


def test_under_the_limits_requests_pass(api: Api) -> None:
    api.plan("k", throttle={"rateLimit": 1.0, "burstLimit": 3}, quota={"limit": 3, "period": "DAY"})
    assert [_body(api.ping("k")) for _ in range(3)] == [(200, {"ok": True})] * 3


def test_burst_exceeded_is_429_too_many_requests_until_the_bucket_refills(api: Api) -> None:
    api.plan("k", throttle={"rateLimit": 0.5, "burstLimit": 2})
    assert [api.ping("k").status for _ in range(2)] == [200, 200]
    throttled = api.ping("k")
    assert _body(throttled) == (429, {"message": "Too Many Requests"})
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert throttled.headers["Access-Control-Allow-Origin"] == "*"  # DEFAULT_4XX applies
    api.clock.now += 1.0  # half a token: still empty
    assert api.ping("k").status == 429
    api.clock.now += 1.0
    assert api.ping("k").status == 200
    assert api.ping("k").status == 429


def test_throttle_is_per_api_key(api: Api) -> None:
    api.plan("a", throttle={"rateLimit": 1.0, "burstLimit": 1})
    api.plan("b", throttle={"rateLimit": 1.0, "burstLimit": 1})
    assert [api.ping("a").status, api.ping("a").status, api.ping("b").status] == [200, 429, 200]


def test_quota_exceeded_is_429_limit_exceeded_until_the_next_period(api: Api) -> None:
    api.plan("k", throttle={"rateLimit": 100.0, "burstLimit": 100}, quota={"limit": 2, "period": "DAY"})
    assert [api.ping("k").status for _ in range(2)] == [200, 200]
    over = api.ping("k")
    assert _body(over) == (429, {"message": "Limit Exceeded"})
    assert over.headers["x-amzn-ErrorType"] == "LimitExceededException"
    api.clock.now += DAY
    assert api.ping("k").status == 200


def test_throttled_requests_use_no_quota(api: Api) -> None:
    api.plan("k", throttle={"rateLimit": 1.0, "burstLimit": 1}, quota={"limit": 2, "period": "WEEK"})
    assert [api.ping("k").status for _ in range(3)] == [200, 429, 429]
    api.clock.now += 1.0
    assert api.ping("k").status == 200  # the second (and last) request of the quota
    api.clock.now += 1.0
    assert _body(api.ping("k")) == (429, {"message": "Limit Exceeded"})


def test_stage_method_throttling_applies_to_every_caller(api: Api) -> None:
    api.plan("a")
    api.plan("b")
    boto3.client("apigateway", region_name=REGION).update_stage(
        restApiId=api.id,
        stageName="dev",
        patchOperations=[
            {"op": "replace", "path": "/~1ping/GET/throttling/rateLimit", "value": "1"},
            {"op": "replace", "path": "/~1ping/GET/throttling/burstLimit", "value": "1"},
        ],
    )
    assert [api.ping("a").status, api.ping("b").status] == [200, 429]
    api.clock.now += 1.0
    assert api.ping("b").status == 200


def _signed(access_key: str, secret: str, token: str | None = None, service: str = "execute-api") -> dict:
    request = AWSRequest("GET", "http://127.0.0.1/private", headers={"Host": "127.0.0.1"})
    SigV4Auth(Credentials(access_key, secret, token), service, REGION).add_auth(request)
    return dict(request.headers.items())


def test_iam_method_without_a_signature_is_missing_authentication_token(api: Api) -> None:
    resp = api.get("/private")
    assert _body(resp) == (403, {"message": "Missing Authentication Token"})


def test_iam_method_with_an_unknown_access_key_is_403_invalid_token(api: Api) -> None:
    resp = api.get("/private", _signed("AKIAUNKNOWN000000000", "secret"))
    assert _body(resp) == (403, {"message": "The security token included in the request is invalid."})
    assert resp.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_iam_method_with_a_credential_for_another_service_is_403(api: Api) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    resp = api.get("/private", _signed(key["AccessKeyId"], key["SecretAccessKey"], service="s3"))
    assert _body(resp) == (403, {"message": "Credential should be scoped to correct service: 'execute-api'."})


def test_iam_method_with_a_known_iam_user_key_passes(api: Api) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    resp = api.get("/private", _signed(key["AccessKeyId"], key["SecretAccessKey"]))
    assert _body(resp) == (200, {"ok": True})


def test_iam_method_with_an_assumed_role_session_key_passes(api: Api) -> None:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn="arn:aws:iam::123456789012:role/app", RoleSessionName="app"
    )["Credentials"]
    headers = _signed(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert api.get("/private", headers).status == 200
