"""Who may drive the local stack (``localaws/control.py``): control token, 0600 files, Host check,
and the stage server refusing oversized bodies without reading them."""

from __future__ import annotations

import json
import socket
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localaws import control, faults
from localaws.apigateway import MAX_PAYLOAD, StageServer
from tests.localaws.rest_apis import resource, route

REGION = "eu-west-1"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_files_are_0600_even_when_they_existed(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text("old")
    path.chmod(0o644)
    control.write_private(path, '{"api_key": "k"}')
    assert _mode(path) == 0o600 and path.read_text() == '{"api_key": "k"}'


def test_new_token_is_random_private_and_readable_back(tmp_path: Path) -> None:
    state_dir = tmp_path / ".local"
    first = control.new_token(state_dir)
    assert _mode(state_dir) == 0o700 and _mode(state_dir / control.TOKEN_FILE) == 0o600
    assert control.read_token(state_dir) == first and len(first) >= 40
    assert control.new_token(state_dir) != first
    control.forget_token(state_dir)
    assert control.read_token(state_dir) == ""


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:4566", True),
        ("localhost:4566", True),
        ("LOCALHOST:4566", True),
        ("my-bucket.localhost:4566", True),
        ("127.0.0.1:4567", False),  # another port: another service
        ("127.0.0.1", False),
        ("attacker.example:4566", False),  # DNS rebinding: the page's own name
        ("localhost.attacker.example:4566", False),
        ("127.0.0.1.nip.io:4566", False),
        ("", False),
        (None, False),
    ],
)
def test_host_must_name_this_loopback_endpoint(host: str | None, ok: bool) -> None:
    assert control.host_allowed(host, 4566) is ok


def _wsgi(
    app: Any, path: str, headers: dict[str, str], method: str = "GET", body: bytes = b""
) -> tuple[str, Any]:
    import io

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_PORT": "4566",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    }
    seen: list[str] = []

    def start_response(status: str, _headers: list[tuple[str, str]]) -> None:
        seen.append(status)

    out = b"".join(app(environ, start_response))
    return seen[0], json.loads(out) if out else None


def _backend(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b'{"moto": true}']


def test_fault_control_needs_the_token() -> None:
    injected = faults.Faults()
    app = control.host_guard(faults.middleware(_backend, injected, "s3cret-token"))
    host = {"Host": "127.0.0.1:4566"}
    status, body = _wsgi(app, faults.CONTROL_PATH, host, "POST", b"handler_crash:1")
    assert status.startswith("401") and "X-Localaws-Token" in body["message"]
    status, body = _wsgi(app, faults.CONTROL_PATH, {**host, "X-Localaws-Token": "guess"}, "POST", b"s3_put:1")
    assert status.startswith("403") and "wrong X-Localaws-Token" in body["message"]
    assert injected.describe() == "none"  # neither call changed anything
    token = {**host, "X-Localaws-Token": "s3cret-token"}
    status, body = _wsgi(app, faults.CONTROL_PATH, token, "POST", b"handler_crash:1")
    assert status.startswith("200") and body["faults"] == "handler_crash:1"
    # the rest of the endpoint (moto) is unchanged
    assert _wsgi(app, "/", host) == ("200 OK", {"moto": True})


def test_other_hosts_are_refused_before_anything_runs() -> None:
    injected = faults.Faults()
    app = control.host_guard(faults.middleware(_backend, injected, "t"))
    status, body = _wsgi(app, "/", {"Host": "rebound.attacker.example:4566"})
    assert status.startswith("403") and "DNS rebinding" in body["message"]
    headers = {"Host": "rebound.attacker.example:4566", "X-Localaws-Token": "t"}
    status, _ = _wsgi(app, faults.CONTROL_PATH, headers, "POST", b"s3_put:1")
    assert status.startswith("403") and injected.describe() == "none"


# --- the stage server over real HTTP -------------------------------------------------------------


@pytest.fixture
def stage() -> Iterator[tuple[StageServer, str]]:
    """A stage with one MOCK ``PUT /echo`` (no key), served on 127.0.0.1."""
    with mock_aws():
        apigw = boto3.client("apigateway", region_name=REGION)
        api_id = apigw.create_rest_api(name="control", binaryMediaTypes=["image/*"])["id"]
        root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
        route(
            apigw,
            api_id,
            resource(apigw, api_id, root, "echo"),
            "PUT",
            {
                "type": "MOCK",
                "requestTemplates": {"image/png": '{"statusCode": 200}'},
                "passthroughBehavior": "NEVER",
            },
            {"200": {"responseTemplates": {"application/json": '{"ok": true}'}}},
        )
        apigw.put_gateway_response(
            restApiId=api_id,
            responseType="REQUEST_TOO_LARGE",
            statusCode="413",
            responseTemplates={"application/json": '{"message": "too big: use POST /uploads"}'},
        )
        apigw.create_deployment(restApiId=api_id, stageName="dev")
        server = StageServer(None, REGION)
        server.start()
        try:
            yield server, f"/{api_id}/dev/echo"
        finally:
            server.stop()


def _raw(server: StageServer, head: str, body: bytes = b"") -> tuple[int, dict[str, Any], float]:
    """Send ``head`` (+ ``body``) on a fresh connection; (status, JSON body, seconds to answer)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    elapsed = time.monotonic() - t0
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1] or b"null"), elapsed


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_a_declared_oversized_body_is_413_before_it_is_sent(stage: tuple[StageServer, str]) -> None:
    server, path = stage
    port = server.base_url.rsplit(":", 1)[1]
    # Only the headers are sent: an answer proves the server did not wait to read 10 MB.
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {MAX_PAYLOAD + 1}\r\n\r\n"
    )
    status, body, elapsed = _raw(server, head)
    assert (status, body) == (413, {"message": "too big: use POST /uploads"})
    assert elapsed < 5


def test_a_chunked_body_is_cut_off_at_the_limit(stage: tuple[StageServer, str]) -> None:
    server, path = stage
    port = server.base_url.rsplit(":", 1)[1]
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * (1024 * 1024)
    # 10 MiB in chunks, then only the size line of an 11th: the answer comes without its data
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(10)) + b"%x\r\n" % len(chunk)
    status, answer, _ = _raw(server, head, body)
    assert (status, answer) == (413, {"message": "too big: use POST /uploads"})


def test_a_body_at_the_limit_still_passes(stage: tuple[StageServer, str]) -> None:
    server, path = stage
    port = server.base_url.rsplit(":", 1)[1]
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {MAX_PAYLOAD}\r\n\r\n"
    )
    status, answer, _ = _raw(server, head, b"\0" * MAX_PAYLOAD)
    assert (status, answer) == (200, {"ok": True})


def test_the_stage_server_refuses_other_hosts(stage: tuple[StageServer, str]) -> None:
    server, path = stage
    port = server.base_url.rsplit(":", 1)[1]
    head = f"PUT {path} HTTP/1.1\r\nHost: attacker.example:{port}\r\nContent-Length: 0\r\n\r\n"
    status, body, _ = _raw(server, head)
    assert status == 403 and "DNS rebinding" in body["message"]
    ok = (
        f"PUT {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: image/png\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    assert _raw(server, ok)[:2] == (200, {"ok": True})
