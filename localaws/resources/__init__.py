"""Create and delete each Pulumi resource type in the local AWS (moto) through boto3, and answer
the provider functions (``invoke``s) the program calls.

Resources are created and deleted, never updated: every ``make up`` deploys a fresh stack
and ``make down`` deletes it, so there is no update path to emulate (a changed program is
deployed by ``down`` then ``up``).

One module per AWS service family; each handler, behind ``@register(token)``, turns the
resource's Pulumi inputs (camelCase wire names, numbers as floats, as the mocks see them) into
the AWS API calls the real provider makes, and returns the physical id plus the computed outputs
(ARNs, names, URLs) in camelCase. A type without a handler is an error naming the type: the
local stack never skips a resource. Provider functions are answered by ``invokes.py``, each
behind ``@register_invoke(token)``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws import ACCOUNT_ID, client_args


class UnknownResourceType(Exception):
    """The program declares a resource type the local engine cannot create."""

    def __init__(self, token: str, name: str) -> None:
        families = sorted({t.split("/")[0] for t in REGISTRY})
        super().__init__(
            f"the local engine cannot create resource type {token!r} (resource {name!r}). "
            f"Add a handler for it in localaws/resources/ ({len(REGISTRY)} types handled, "
            f"in {', '.join(families)})"
        )
        self.token = token


class UnknownInvoke(Exception):
    """The program calls a provider function the local engine does not answer."""

    def __init__(self, token: str) -> None:
        super().__init__(
            f"the local engine does not answer the provider function {token!r}. Add an answer"
            " for it with @register_invoke in localaws/resources/invokes.py"
            f" (answered: {', '.join(sorted(INVOKES))})"
        )
        self.token = token


@dataclass
class Context:
    """What a resource handler needs: boto3 clients on the local endpoint plus engine callbacks."""

    endpoint_url: str | None  # None: boto3's default endpoints (inside moto's mock_aws, in tests)
    region: str
    program_dir: Path
    say: Callable[[str], None] = print
    account_id: str = ACCOUNT_ID
    # Set by the engine: base URL of the local API Gateway stage server ("" = not served).
    stage_base_url: str = ""
    # Function name -> dead-letter target ARN (moto does not keep DeadLetterConfig).
    dead_letters: dict[str, str] = field(default_factory=dict)
    on_function_created: Callable[[str], None] | None = None
    on_function_deleted: Callable[[str], None] | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _session: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str) -> Any:
        with self._lock:  # boto3 client creation is not thread-safe; the clients themselves are
            if service not in self._clients:
                if self._session is None:  # one session: each new one rescans botocore's data dir
                    self._session = boto3.session.Session()
                self._clients[service] = self._session.client(
                    service,
                    config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
                    **client_args(self.endpoint_url, self.region),
                )
            return self._clients[service]

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id}:{resource}"


class Handler(Protocol):
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]: ...

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None: ...


REGISTRY: dict[str, Handler] = {}


def register(token: str) -> Callable[[type], type]:
    """Class decorator: the handler (an instance of the class) for resource type ``token``."""

    def deco(cls: type) -> type:
        REGISTRY[token] = cls()
        return cls

    return deco


def handler_for(token: str, name: str) -> Handler:
    _load_all()
    try:
        return REGISTRY[token]
    except KeyError:
        raise UnknownResourceType(token, name) from None


# A provider function's answer: its outputs (camelCase wire names) for the given arguments.
Invoke = Callable[[Context, dict[str, Any]], dict[str, Any]]

INVOKES: dict[str, Invoke] = {}


def register_invoke(token: str) -> Callable[[Invoke], Invoke]:
    """Function decorator: the answer to the provider function ``token``."""

    def deco(fn: Invoke) -> Invoke:
        INVOKES[token] = fn
        return fn

    return deco


def answer(ctx: Context, token: str, args: dict[str, Any]) -> dict[str, Any]:
    """The provider function ``token``'s outputs, as the provider would return them."""
    _load_all()
    try:
        fn = INVOKES[token]
    except KeyError:
        raise UnknownInvoke(token) from None
    return fn(ctx, args)


def _load_all() -> None:
    # Imported for their @register side effect.
    from localaws.resources import (  # noqa: F401
        apigateway,
        cloudwatch,
        dynamodb,
        iam,
        invokes,
        kms,
        lambda_,
        random_id,
        s3,
        sns,
        sqs,
    )


# --- helpers shared by the handlers ----------------------------------------------------------


def autoname(inputs: Mapping[str, Any], logical: str, key: str = "name", max_len: int = 64) -> str:
    """Pulumi's auto-naming: ``<logical>-<7 hex>`` unless the program set the name or a prefix."""
    if inputs.get(key):
        return str(inputs[key])
    prefix = inputs.get(f"{key}Prefix")
    if prefix:
        return f"{prefix}{secrets.token_hex(13)}"[:max_len]
    return f"{logical}-{secrets.token_hex(4)[:7]}"[:max_len]


def as_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(float(value))


def prune(d: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None/empty values: boto3 rejects None, Pulumi sends absent optionals as missing or None."""
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


_SPECIAL = {
    "id": "ID",
    "sseAlgorithm": "SSEAlgorithm",
    "kmsMasterKeyId": "KMSMasterKeyID",
    "and": "And",
}


def pascal(value: Any, special: Mapping[str, str] | None = None) -> Any:
    """camelCase Pulumi inputs → PascalCase AWS API shapes (recursively; integral floats → int)."""
    names = {**_SPECIAL, **(special or {})}
    if isinstance(value, Mapping):
        return {
            names.get(k, k[:1].upper() + k[1:]): pascal(v, special) for k, v in value.items() if v is not None
        }
    if isinstance(value, list):
        return [pascal(v, special) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def tags_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in (tags or {}).items()]


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def ignore_missing(fn: Callable[[], Any], *codes: str) -> None:
    """Deletes are idempotent: a resource already gone (e.g. with its parent) is fine."""
    try:
        fn()
    except ClientError as e:
        code = error_code(e)
        if code in codes or "NotFound" in code or "NoSuch" in code or code == "404":
            return
        raise
