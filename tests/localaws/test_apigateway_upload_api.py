"""UploadApi as deployed: the component runs under the local engine's Pulumi mocks, whose resources
are created in moto by its handlers (``localaws.resources``), then ``StageServer`` serves that definition and
runs the real ``function.api.handler`` for Lambda routes. Every route and status code, end to end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pulumi
import pytest
import requests
from moto import mock_aws
from PIL import Image

from components.inputs import ApiAuth, Architecture, DataStore
from components.upload_api import UploadApi, UploadApiArgs
from localaws.apigateway import Request, Response, StageServer
from localaws.engine import LocalEngine, LocalMocks
from localaws.resources import Context
from tests.data_stores import create_data_stores

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ROOT = Path(__file__).resolve().parents[2]
UPLOADS, PROCESSED, TABLE = "up-b", "proc-b", "meta-t"
IMAGE_ID = "0123456789abcdef"
SOURCE_KEY = "photos/it's a cat.jpg"


def _jpeg(size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 60, 20)).save(buf, "JPEG")
    return buf.getvalue()


def _layer() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("python/placeholder.py", "")  # the real layer is built by `make layer`
    lam = boto3.client("lambda", region_name=REGION)
    return lam.publish_layer_version(LayerName="pillow", Content={"ZipFile": buf.getvalue()})[
        "LayerVersionArn"
    ]


def _data_stores() -> str:
    s3, ddb = create_data_stores(REGION, UPLOADS, PROCESSED, TABLE)
    version = s3.put_object(Bucket=UPLOADS, Key=SOURCE_KEY, Body=_jpeg(), ContentType="image/jpeg")[
        "VersionId"
    ]
    s3.put_object(Bucket=PROCESSED, Key=f"photos/cat_thumbnail_{IMAGE_ID}.jpg", Body=b"thumb-bytes")
    variant = {
        "bucket": {"S": PROCESSED},
        "key": {"S": f"photos/cat_thumbnail_{IMAGE_ID}.jpg"},
        "format": {"S": "jpeg"},
        "width": {"N": "200"},
        "height": {"N": "133"},
        "bytes": {"N": "11"},
    }
    for image_id, created, status in (
        (IMAGE_ID, "2026-11-23T08:00:00Z", "done"),
        ("aaaaaaaaaaaaaaaa", "2026-11-22T08:00:00Z", "failed"),
    ):
        item = {
            "image_id": {"S": image_id},
            "source_bucket": {"S": UPLOADS},
            "source_key": {"S": SOURCE_KEY},
            "source_version_id": {"S": version},
            "status": {"S": status},
            "created_at": {"S": created},
        }
        if status == "done":
            item.update(
                format={"S": "jpeg"},
                width={"N": "300"},
                height={"N": "200"},
                bytes={"N": "1000"},
                variants={"M": {"thumbnail": {"M": variant}}},
            )
        else:
            item["error"] = {"S": 'a "quoted" reason'}
        ddb.put_item(TableName=TABLE, Item=item)
    return version


def _args(**overrides: Any) -> UploadApiArgs:
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    args = UploadApiArgs(
        upload_bucket=DataStore(name=UPLOADS, arn=f"arn:aws:s3:::{UPLOADS}", key_arn=arn),
        processed_bucket=DataStore(name=PROCESSED, arn=f"arn:aws:s3:::{PROCESSED}", key_arn=arn),
        table=DataStore(name=TABLE, arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}", key_arn=arn),
        code=pulumi.AssetArchive({"function": pulumi.FileArchive("./function")}),
        layer_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:pillow:1",
        architecture=Architecture.X86_64,
        memory_mb=512,
        timeout_seconds=20,
        log_retention_days=7,
        variants=(),
        max_pixels=4_000_000,
        max_upload_mb=30,
        api_auth=ApiAuth.API_KEY,
        cors_origins=["*"],
        # high: these tests run on the wall clock (test_apigateway_limits drives limits)
        throttle_rate_limit=1000.0,
        throttle_burst_limit=500,
        quota_per_day=10_000,
    )
    return dataclasses.replace(args, **overrides)


@dataclasses.dataclass
class Deployed:
    server: StageServer
    api_id: str
    key: str
    invocations: list[str]
    render_function: str = ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        key: bool = True,
    ) -> Response:
        h = dict(headers or {})
        if key:
            h.setdefault("x-api-key", self.key)
        return self.server.dispatch(Request(method, f"/{self.api_id}/dev{path}", query or [], h, body))


_ENV_LOCK = threading.Lock()


def _invoker(invocations: list[str]) -> Any:
    """Run the real handler with the function's deployed environment (like the local engine)."""
    from function import api, authorizer

    lam = boto3.client("lambda", region_name=REGION)

    def invoke(function_arn: str, event: dict[str, Any]) -> dict[str, Any]:
        config = lam.get_function_configuration(FunctionName=function_arn)
        handlers = {"function.api.handler": api.handler, "function.authorizer.handler": authorizer.handler}
        handler = handlers[config["Handler"]]
        env = config.get("Environment", {}).get("Variables", {})
        invocations.append(config["FunctionName"])
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                return handler(event, None)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    return invoke


def deploy(layer_arn: str, name: str = "api", **overrides: Any) -> Deployed:
    """Deploy an UploadApi named ``name`` into the current moto session (data stores exist)."""
    overrides.setdefault("layer_arn", layer_arn)
    # the local engine's own mocks, on moto's in-process mock_aws (the test's session) instead of
    # its server: the same resource handlers and provider-function answers as `make up`
    engine = LocalEngine(ROOT, ROOT / ".local", say=lambda _: None, region=REGION)
    engine.ctx = Context(endpoint_url=None, region=REGION, program_dir=ROOT, say=lambda _: None)
    mocks = LocalMocks(engine)
    pulumi.runtime.set_mocks(mocks, project="imgpipe", stack="dev", preview=False)
    out: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        component = UploadApi(name, _args(**overrides))
        return pulumi.Output.all(
            component.rest_api_id, component.api_key, component.render_function_name
        ).apply(lambda v: out.update(id=v[0], key=v[1], render=v[2]))

    program()
    invocations: list[str] = []
    return Deployed(
        StageServer(None, REGION, invoke_lambda=_invoker(invocations)),
        out["id"],
        out["key"],
        invocations,
        out["render"],
    )


@contextlib.contextmanager
def _local_aws() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(name, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws(config={"lambda": {"use_docker": False}}):
            yield mp


@pytest.fixture(scope="module")
def local_aws() -> Iterator[str]:
    """One moto session for the module with the data stores; yields a layer version ARN."""
    from function import api

    with _local_aws() as mp:
        mp.chdir(ROOT)  # FileArchive("./function") is relative to the program directory
        api.reset_clients()
        _data_stores()
        yield _layer()
        api.reset_clients()


@pytest.fixture(scope="module")
def shared(local_aws: str) -> Deployed:
    """One deployment for the module (deploying takes seconds); tests only add objects to it."""
    return deploy(local_aws)


@pytest.fixture
def deployed(shared: Deployed) -> Deployed:
    shared.invocations.clear()
    return shared


def test_put_upload_small_image(deployed: Deployed) -> None:
    data = _jpeg((40, 30))
    resp = deployed.request("PUT", "/uploads/new%20dir/a+b.jpg", data, {"Content-Type": "image/jpeg"})
    assert resp.status == 200, resp.body
    assert resp.json() == {"key": "new dir/a+b.jpg", "message": "uploaded; processing starts now"}
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    obj = boto3.client("s3", region_name=REGION).get_object(Bucket=UPLOADS, Key="new dir/a+b.jpg")
    assert obj["Body"].read() == data
    assert resp.headers["x-amz-version-id"] == obj["VersionId"]


def test_put_without_content_type_is_415(deployed: Deployed) -> None:
    resp = deployed.request("PUT", "/uploads/x.jpg", b"abc")
    assert resp.status == 415
    assert "unsupported Content-Type" in resp.json()["message"]


def test_put_over_10_mb_is_413_json(deployed: Deployed) -> None:
    resp = deployed.request(
        "PUT", "/uploads/big.jpg", b"\xff" * (10 * 1024 * 1024 + 1), {"Content-Type": "image/jpeg"}
    )
    assert resp.status == 413
    assert "POST /uploads" in resp.json()["message"]
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_presigned_upload_of_a_large_image(deployed: Deployed) -> None:
    size = 11 * 1024 * 1024
    resp = deployed.request(
        "POST",
        "/uploads",
        json.dumps(
            {"content_type": "image/png", "content_length": size, "key": "big/over-10mb.png"}
        ).encode(),
        {"Content-Type": "application/json"},
    )
    assert resp.status == 201, resp.body
    ticket = resp.json()
    put = requests.put(
        ticket["url"], data=b"\x89PNG" + b"\0" * (size - 4), headers=ticket["headers"], timeout=30
    )
    assert put.status_code == 200
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=UPLOADS, Key="big/over-10mb.png")
    assert head["ContentLength"] == size and head["ContentType"] == "image/png"


@pytest.mark.parametrize(
    "payload",
    [
        {"content_type": "text/plain", "content_length": 10},
        {"content_type": "image/jpeg", "content_length": 31 * 1024 * 1024},
    ],
)
def test_presign_bad_type_or_size_is_400(deployed: Deployed, payload: dict[str, Any]) -> None:
    resp = deployed.request(
        "POST", "/uploads", json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    assert resp.status == 400 and resp.json()["message"]


def test_get_image_is_clean_json_with_variant_urls(deployed: Deployed) -> None:
    resp = deployed.request("GET", f"/images/{IMAGE_ID}")
    assert resp.status == 200, resp.body
    item = resp.json()
    assert item["image_id"] == IMAGE_ID and item["source_key"] == SOURCE_KEY
    assert (item["width"], item["height"], item["status"]) == (300, 200, "done")
    thumb = item["variants"]["thumbnail"]
    assert thumb["url"] == f"/images/{IMAGE_ID}/variants/thumbnail"
    assert (thumb["width"], thumb["bytes"]) == (200, 11)
    # the stage-relative URL works: 302 to the variant's bytes
    redirect = deployed.request("GET", thumb["url"])
    assert redirect.status == 302
    assert requests.get(redirect.headers["Location"], timeout=10).content == b"thumb-bytes"


def test_get_unknown_image_is_404_json(deployed: Deployed) -> None:
    resp = deployed.request("GET", "/images/ffffffffffffffff")
    assert (resp.status, resp.json()) == (404, {"message": "image not found", "image_id": "ffffffffffffffff"})


def test_list_by_source_key_uses_the_index(deployed: Deployed) -> None:
    resp = deployed.request("GET", "/images", query=[("source_key", SOURCE_KEY)])
    assert resp.status == 200, resp.body
    body = resp.json()
    assert body["source_key"] == SOURCE_KEY and body["count"] == 2
    assert [i["image_id"] for i in body["items"]] == [IMAGE_ID, "aaaaaaaaaaaaaaaa"]  # newest first
    assert body["items"][1]["error"] == 'a "quoted" reason' and body["items"][1]["variants"] == {}
    empty = deployed.request("GET", "/images", query=[("source_key", "nothing/here.jpg")]).json()
    assert empty == {"source_key": "nothing/here.jpg", "count": 0, "items": []}


def test_list_without_source_key_is_400(deployed: Deployed) -> None:
    resp = deployed.request("GET", "/images")
    assert resp.status == 400 and "source_key" in resp.json()["message"]


def test_render_twice_second_from_cache(deployed: Deployed) -> None:
    query = [("w", "150"), ("format", "webp")]
    first = deployed.request("GET", f"/images/{IMAGE_ID}/render", query=query)
    assert first.status == 302, first.body
    assert first.headers["X-Cache"] == "Miss" and first.json()["width"] == 150
    image = Image.open(io.BytesIO(requests.get(first.headers["Location"], timeout=10).content))
    assert image.format == "WEBP" and image.size == (150, 100)
    second = deployed.request("GET", f"/images/{IMAGE_ID}/render", query=query)
    assert second.status == 302 and second.headers["X-Cache"] == "Hit"
    assert second.json()["key"] == first.json()["key"] == f"renders/{IMAGE_ID}/150x100_inside_q80.webp"
    assert deployed.render_function.startswith("imgpipe-dev-api-render-")  # the stack's random suffix
    assert deployed.invocations == [deployed.render_function] * 2


def test_render_bad_parameters_are_400(deployed: Deployed) -> None:
    resp = deployed.request("GET", f"/images/{IMAGE_ID}/render", query=[("w", "0")])
    assert resp.status == 400 and "'w' must be" in resp.json()["message"]
    assert deployed.request("GET", "/images/ffffffffffffffff/render", query=[("w", "10")]).status == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/uploads/x.jpg"),
        ("POST", "/uploads"),
        ("GET", f"/images/{IMAGE_ID}"),
        ("GET", "/images?source_key=x"),
        ("GET", f"/images/{IMAGE_ID}/render?w=10"),
        ("GET", f"/images/{IMAGE_ID}/variants/thumbnail"),
    ],
)
def test_every_route_needs_the_api_key(deployed: Deployed, method: str, path: str) -> None:
    path, _, qs = path.partition("?")
    query = [tuple(qs.split("=", 1))] if qs else []
    # an upload the authorizer lets through, so the key check is what answers
    base = {"Content-Type": "image/jpeg"} if method == "PUT" else {}
    for headers in (base, {**base, "x-api-key": "wrong"}):
        resp = deployed.request(method, path, headers=headers, query=query, key=False)  # type: ignore[arg-type]
        assert (resp.status, resp.json()) == (403, {"message": "Forbidden"}), (method, path, headers)
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    # no route's function ran; the upload authorizer runs before the key check, as on AWS
    assert [name for name in deployed.invocations if "-authorizer-" not in name] == []


def test_preflight_answers_without_a_key(deployed: Deployed) -> None:
    resp = deployed.request("OPTIONS", f"/images/{IMAGE_ID}/render", key=False)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert "X-Api-Key" in resp.headers["Access-Control-Allow-Headers"]


def test_quoted_key_roundtrip_over_http(deployed: Deployed) -> None:
    base = deployed.server.start()
    try:
        url = f"{base}/{deployed.api_id}/dev/images"
        resp = requests.get(
            url, params={"source_key": SOURCE_KEY}, headers={"x-api-key": deployed.key}, timeout=10
        )
        assert resp.status_code == 200 and resp.json()["count"] == 2
        data = _jpeg((20, 20))
        put = requests.put(
            f"{base}/{deployed.api_id}/dev/uploads/{quote('dir/ü n.jpg')}",
            data=data,
            headers={"x-api-key": deployed.key, "Content-Type": "image/jpeg"},
            timeout=10,
        )
        assert put.status_code == 200
        stored = boto3.client("s3", region_name=REGION).get_object(Bucket=UPLOADS, Key="dir/ü n.jpg")
        assert stored["Body"].read() == data
    finally:
        deployed.server.stop()


def test_iam_mode_requires_a_known_access_key(local_aws: str) -> None:
    deployed = deploy(local_aws, "iamapi", api_auth=ApiAuth.IAM)
    assert deployed.key == ""
    resp = deployed.request("GET", f"/images/{IMAGE_ID}", key=False)
    assert (resp.status, resp.json()) == (403, {"message": "Missing Authentication Token"})

    def signed(access_key: str) -> Response:
        scope = f"{access_key}/20261123/{REGION}/execute-api/aws4_request"
        auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"
        return deployed.request("GET", f"/images/{IMAGE_ID}", headers={"Authorization": auth}, key=False)

    unknown = signed("AKIAUNKNOWN000000000")
    assert (unknown.status, unknown.json()) == (
        403,
        {"message": "The security token included in the request is invalid."},
    )
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="app")
    assert signed(iam.create_access_key(UserName="app")["AccessKey"]["AccessKeyId"]).status == 200


def test_usage_plan_limits_from_config_reach_the_stage_server(deployed: Deployed) -> None:
    found = deployed.server.usage_plan_key(deployed.api_id, "dev", deployed.key)
    assert found is not None
    _, plan, _ = found
    assert plan["throttle"] == {"rateLimit": 1000.0, "burstLimit": 500}
    assert plan["quota"]["limit"] == 10_000 and plan["quota"]["period"] == "DAY"
    settings = deployed.server.definition(deployed.api_id, "dev").method_settings["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (1000.0, 500)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://b.example", "https://b.example"), ("https://evil.example", None), (None, None)],
)
def test_preflight_template_echoes_only_configured_origins(origin: str | None, allowed: str | None) -> None:
    from components.api_templates import preflight_template
    from localaws import vtl

    template = preflight_template(["https://a.example", "https://b.example"])
    context: dict[str, Any] = {"responseOverride": {"status": None, "header": {}}}
    headers = {"Origin": origin} if origin else {}
    vtl.render(
        template, "", {"path": {}, "querystring": {}, "header": headers}, vtl.TemplateContext(context, {})
    )
    assert context["responseOverride"]["header"].get("Access-Control-Allow-Origin") == allowed


def test_list_by_status_pages_newest_first(deployed: Deployed) -> None:
    first = deployed.request("GET", "/images", query=[("status", "done"), ("limit", "1")])
    assert first.status == 200, first.body
    page = first.json()
    assert page["status"] == "done" and page["count"] == 1 and page["items"][0]["image_id"] == IMAGE_ID
    # the last item's created_at~image_id continues after it (DynamoDB sends LastEvaluatedKey when
    # it stops at the limit; moto only when more items follow, so the cursor is written out here)
    cursor = f"2026-11-23T08:00:00Z~{IMAGE_ID}"
    assert page["next_cursor"] in (None, cursor)
    rest = deployed.request(
        "GET", "/images", query=[("status", "done"), ("limit", "1"), ("cursor", cursor)]
    ).json()
    assert rest == {"status": "done", "count": 0, "items": [], "next_cursor": None}
    failed = deployed.request("GET", "/images", query=[("status", "failed")]).json()
    assert [i["image_id"] for i in failed["items"]] == ["aaaaaaaaaaaaaaaa"] and failed["next_cursor"] is None
    for query, message in (
        ([("status", "gone")], "status must be"),
        ([("status", "done"), ("limit", "500")], "limit must be"),
        ([("status", "done"), ("cursor", "page-2")], "cursor must be"),
    ):
        resp = deployed.request("GET", "/images", query=query)
        assert resp.status == 400 and message in resp.json()["message"], resp.body
