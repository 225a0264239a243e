"""Transient fault injection for the local stack (``IMGPIPE_LOCAL_FAULTS``).

``IMGPIPE_LOCAL_FAULTS=s3_put:0.1,ddb_put:0.1`` makes 10% of the function's S3 writes answer
``503 SlowDown`` / ``500 InternalError`` and 10% of its DynamoDB writes answer
``ProvisionedThroughputExceededException`` / ``InternalServerError``, the errors AWS returns
under load, so the handler's retries are exercised. Only calls from the local function worker
are hit (its SDK user agent carries ``app/imgpipe-local-worker``): deploys, uploads and checks
stay reliable. ``handler_crash:1.0`` makes every invocation fail before the handler runs
(the way to send events to the dead-letter queue).

The spec can be changed while the stack runs: ``python -m localaws faults <spec>``
(POST ``/_localaws/faults`` on the local endpoint, with the header ``X-Localaws-Token`` holding
the token in ``.local/control-token``: see ``localaws/control.py``).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from localaws import control

WORKER_APP_ID = "imgpipe-local-worker"
CONTROL_PATH = "/_localaws/faults"

# fault name -> what it hits
KINDS: dict[str, str] = {
    "s3_put": "S3 PutObject / multipart upload parts (503 SlowDown or 500 InternalError)",
    "s3_get": "S3 GetObject / HeadObject (503 SlowDown or 500 InternalError)",
    "ddb_put": "DynamoDB writes: PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem",
    "ddb_get": "DynamoDB reads: GetItem, Query, BatchGetItem",
    "handler_crash": "the function fails before its handler runs",
}
_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
_DDB_READS = {"GetItem", "Query", "BatchGetItem"}


class FaultSpecError(ValueError):
    """IMGPIPE_LOCAL_FAULTS is malformed; the message says what is wrong and what is allowed."""


def parse(spec: str) -> dict[str, float]:
    """``"s3_put:0.1,ddb_put:0.05"`` → ``{"s3_put": 0.1, "ddb_put": 0.05}`` (empty → no faults)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in (spec or "").split(",")):
        if not part:
            continue
        name, sep, prob = part.partition(":")
        name = name.strip()
        if name not in KINDS:
            raise FaultSpecError(
                f"IMGPIPE_LOCAL_FAULTS: unknown fault {name!r}; use name:probability with names "
                f"{', '.join(KINDS)} (e.g. s3_put:0.1,ddb_put:0.1)"
            )
        try:
            p = float(prob) if sep else 1.0
        except ValueError:
            raise FaultSpecError(
                f"IMGPIPE_LOCAL_FAULTS: {part!r}: probability must be a number in [0, 1]"
            ) from None
        if not 0.0 <= p <= 1.0:
            raise FaultSpecError(f"IMGPIPE_LOCAL_FAULTS: {part!r}: probability must be in [0, 1]")
        out[name] = p
    return out


class Faults:
    """The current fault probabilities and how many faults were injected (thread-safe)."""

    def __init__(self, spec: str = "", seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.probabilities = parse(spec)
        self.injected: Counter[str] = Counter()

    def set(self, spec: str) -> None:
        probabilities = parse(spec)
        with self._lock:
            self.probabilities = probabilities

    def describe(self) -> str:
        with self._lock:
            return ",".join(f"{k}:{v:g}" for k, v in self.probabilities.items()) or "none"

    def hit(self, kind: str) -> bool:
        with self._lock:
            p = self.probabilities.get(kind, 0.0)
            if p and self._rng.random() < p:
                self.injected[kind] += 1
                return True
        return False

    def choice(self, options: list[Any]) -> Any:
        with self._lock:
            return self._rng.choice(options)


def classify(environ: dict[str, Any]) -> str | None:
    """The fault kind a request to the local endpoint belongs to, if any."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB_"):
        op = target.split(".", 1)[-1]
        return "ddb_put" if op in _DDB_WRITES else "ddb_get" if op in _DDB_READS else None
    method = environ.get("REQUEST_METHOD", "")
    path = environ.get("PATH_INFO", "")
    # Path-style S3 object requests: /<bucket>/<key...>; service endpoints like Lambda have their own paths.
    if "aws4_request" in environ.get("HTTP_AUTHORIZATION", "") and "/s3/aws4_request" in environ.get(
        "HTTP_AUTHORIZATION", ""
    ):
        has_key = len([p for p in path.split("/", 2) if p]) >= 2
        if not has_key:
            return None
        if method in ("PUT", "POST") and "HTTP_X_AMZ_COPY_SOURCE" not in environ:
            query = environ.get("QUERY_STRING", "")
            if any(q in query for q in ("tagging", "acl", "retention", "legal-hold")):
                return None
            return "s3_put"
        if method in ("GET", "HEAD"):
            return "s3_get"
    return None


def _s3_error(faults: Faults) -> tuple[str, str, str]:
    status, code, message = faults.choice(
        [
            ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
            (
                "500 Internal Server Error",
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
        ]
    )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message} '
        f"(injected by IMGPIPE_LOCAL_FAULTS)</Message><RequestId>{uuid.uuid4().hex}</RequestId></Error>"
    )
    return status, "application/xml", body


def _ddb_error(faults: Faults) -> tuple[str, str, str]:
    status, code, message = faults.choice(
        [
            (
                "400 Bad Request",
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            ),
            ("500 Internal Server Error", "InternalServerError", "Internal server error"),
        ]
    )
    body = json.dumps(
        {
            "__type": f"com.amazonaws.dynamodb.v20120810#{code}",
            "message": f"{message} (injected by IMGPIPE_LOCAL_FAULTS)",
        }
    )
    return status, "application/x-amz-json-1.0", body


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def middleware(app: WSGIApp, faults: Faults, token: str) -> WSGIApp:
    """Wrap moto's WSGI app: the fault control endpoint (``token`` required), and faults for the
    function's calls."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CONTROL_PATH:
            refused = control.token_refusal(control.wsgi_token(environ), token)
            if refused is not None:
                status = "401 Unauthorized" if refused[0] == 401 else "403 Forbidden"
                start_response(status, [("Content-Type", "application/json")])
                return [json.dumps({"message": refused[1]}).encode()]
            if environ.get("REQUEST_METHOD") == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                spec = environ["wsgi.input"].read(size).decode()
                try:
                    faults.set(spec)
                except FaultSpecError as e:
                    start_response("400 Bad Request", [("Content-Type", "text/plain")])
                    return [str(e).encode()]
            body = json.dumps({"faults": faults.describe(), "injected": dict(faults.injected)}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if WORKER_APP_ID in environ.get("HTTP_USER_AGENT", ""):
            kind = classify(environ)
            if kind and faults.hit(kind):
                status, ctype, error = (_ddb_error if kind.startswith("ddb") else _s3_error)(faults)
                start_response(
                    status,
                    [
                        ("Content-Type", ctype),
                        ("x-amzn-RequestId", uuid.uuid4().hex),
                        ("x-amz-request-id", "00"),
                    ],
                )
                return [error.encode()]
        return app(environ, start_response)

    return wrapped
