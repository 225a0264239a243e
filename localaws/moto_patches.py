"""Every place the local engine reaches into moto's private names, in one module.

moto has no public hooks for what the engine needs (run the real handler instead of Docker, send
S3's event shape, check IAM for some callers only, put middleware in front of its server), so
the engine replaces a few of moto's private functions and reads a few private attributes. All of
them are listed in ``PRIVATE_NAMES`` and every replacement goes through ``_replace``, which
refuses a name moto no longer has. ``tests/localaws/test_moto_patches.py`` checks that each
listed name still exists with the parameters used here, so upgrading moto (pinned in
requirements-dev.txt) fails that test loudly instead of the engine silently running moto's
own code path.

What is replaced (``PRIVATE_NAMES`` entries with ``replaced=True``):

- S3 notifications (``route_lambda``): the event gets ``versionId`` and ``sequencer`` as on
  versioned buckets, and the Lambda call goes to the local runtime's queue (asynchronous, like
  S3 → Lambda) instead of running inside the PUT;
- Lambda ``Invoke`` and every other moto path that runs a function (``route_lambda``): to the
  local runtime's warm workers;
- IAM authorization of requests (``replace_authorizer``, see ``localaws.access``);
- two directory scans moto repeats on every request (``cache_lookups``);
- the threaded server's entry point (``MotoServer``): moto's WSGI app wrapped in middleware.

Read only: a bucket's CORS rules (``s3_bucket_cors``), which ``localaws.s3_cors`` evaluates as S3
does in place of moto's own CORS answers.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from localaws import ACCOUNT_ID
from localaws.s3_cors import Rule

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class PrivateName:
    """A name inside moto the engine depends on; ``params`` are the parameters it is called with."""

    module: str
    qualname: str
    why: str
    replaced: bool = False
    params: tuple[str, ...] | None = None  # None: an attribute or class, not checked as a callable


PRIVATE_NAMES: tuple[PrivateName, ...] = (
    PrivateName(
        "moto.s3.notifications",
        "_get_s3_event",
        "add versionId and sequencer to S3 events (moto omits them)",
        replaced=True,
        params=("event_name", "bucket", "key", "notification_id"),
    ),
    PrivateName(
        "moto.s3.notifications",
        "_invoke_awslambda",
        "S3 → Lambda goes to the local runtime's async queue",
        replaced=True,
        params=("account_id", "event_body", "fn_arn", "region_name"),
    ),
    PrivateName(
        "moto.awslambda.models",
        "LambdaBackend.invoke",
        "Invoke runs the real handler in a warm worker",
        replaced=True,
        params=("self", "function_name", "qualifier", "body", "headers", "response_headers"),
    ),
    PrivateName(
        "moto.awslambda.models",
        "LambdaFunction._invoke_lambda",
        "moto's other invocation paths (event source mappings) run the real handler",
        replaced=True,
        params=("self", "event"),
    ),
    PrivateName(
        "moto.core.authorization",
        "ActionAuthenticatorMixin._authenticate_and_authorize_action",
        "IAM checks for the functions' credentials only (localaws.access)",
        replaced=True,
        params=("self", "iam_request_cls", "resource"),
    ),
    PrivateName(
        "moto.core.utils",
        "create_loader",
        "one botocore loader instead of a directory scan per model",
        replaced=True,
        params=(),
    ),
    PrivateName(
        "moto.backends",
        "list_of_moto_modules",
        "moto's package directory listed once",
        replaced=True,
        params=(),
    ),
    PrivateName(
        "moto.moto_server.threaded_moto_server",
        "ThreadedMotoServer._server_entry",
        "MotoServer overrides it to wrap moto's WSGI app in middleware",
        replaced=True,
        params=("self",),
    ),
    # Read, not replaced.
    PrivateName(
        "moto.core.responses",
        "BaseResponse._get_action",
        "the action a request names (localaws.access)",
        params=("self",),
    ),
    PrivateName(
        "moto.iam.access_control",
        "IAMRequest.check_signature",
        "moto's own signature check (localaws.access)",
        params=("self",),
    ),
    PrivateName(
        "moto.iam.access_control",
        "IAMRequest.check_action_permitted",
        "moto's own policy evaluation (localaws.access)",
        params=("self", "resource"),
    ),
    PrivateName("moto.core.exceptions", "AccessDeniedError", "moto's IAM denial (localaws.access)"),
    PrivateName(
        "moto.iam.access_control", "S3IAMRequest", "S3 requests are told apart by this class's name (access)"
    ),
    PrivateName("moto.s3.exceptions", "S3ClientError", "S3's KeyTooLongError answer (localaws.access)"),
    PrivateName("moto.core.exceptions", "JsonRESTError", "JSON-protocol errors (localaws.access)"),
    PrivateName(
        "moto.awslambda.utils",
        "get_backend",
        "a deployed function's code and configuration (localaws.functions)",
        params=("account_id", "region"),
    ),
    PrivateName(
        "moto.sts.models",
        "sts_backends",
        "STS session keys from AssumeRole (no API lists them)",
    ),
    PrivateName(
        "moto.sts.models",
        "STSBackend.get_assumed_role_from_access_key",
        "is an access key an STS session key",
        params=("self", "access_key_id"),
    ),
    PrivateName("moto.s3.models", "s3_backends", "does an S3 object exist (delete markers, versions)"),
    PrivateName("moto.s3.models", "FakeKey", "an object version that is not a delete marker"),
    PrivateName("moto.s3.models", "CorsRule", "a bucket's CORS rules, for S3's CORS evaluation (s3_cors)"),
    PrivateName(
        "moto.s3.models",
        "S3Backend.get_object",
        "does an S3 key exist, delete markers included",
        params=("self", "bucket_name", "key_name", "version_id", "part_number", "return_delete_marker"),
    ),
    PrivateName(
        "moto.iam.aws_managed_policies",
        "aws_managed_policies_data",
        "AWS's managed policy documents (moto loads them only with MOTO_IAM_LOAD_MANAGED_POLICIES)",
    ),
    PrivateName(
        "moto.iam.models",
        "iam_backends",
        "add one AWS managed policy the program attaches (its managed_policies dict, by ARN); an IAM"
        " user's secret key, to verify presigned URLs (s3_presign)",
    ),
    PrivateName(
        "moto.iam.models",
        "AWSManagedPolicy.from_data",
        "an AWS managed policy from moto's bundled document (localaws.resources.iam)",
        params=("name", "account_id", "region_name", "data"),
    ),
)

# (module, qualname) -> moto's own object, kept when it is replaced.
_ORIGINALS: dict[tuple[str, str], Any] = {}


class MotoChangedError(RuntimeError):
    """moto no longer has a private name the engine replaces: the pin was moved without the patch."""


def _owner(module: str, qualname: str) -> tuple[Any, str]:
    owner: Any = importlib.import_module(module)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


def original(module: str, qualname: str) -> Any:
    """moto's own object for ``module.qualname`` (before any replacement); AttributeError if gone."""
    if (module, qualname) in _ORIGINALS:
        return _ORIGINALS[(module, qualname)]
    owner, attr = _owner(module, qualname)
    return getattr(owner, attr)


def signature_params(obj: Any) -> tuple[str, ...]:
    return tuple(inspect.signature(obj).parameters)


def _replace(module: str, qualname: str, new: Any) -> None:
    listed = {(n.module, n.qualname) for n in PRIVATE_NAMES if n.replaced}
    if (module, qualname) not in listed:
        raise AssertionError(f"{module}.{qualname} is replaced but not listed in PRIVATE_NAMES")
    try:
        owner, attr = _owner(module, qualname)
        current = getattr(owner, attr)
    except (ImportError, AttributeError) as e:
        raise MotoChangedError(
            f"moto has no {module}.{qualname} any more: the local engine replaces it (see"
            " localaws/moto_patches.py); adapt the patch to the installed moto or pin moto back"
        ) from e
    _ORIGINALS.setdefault((module, qualname), current)
    setattr(owner, attr, new)


# --- speed ------------------------------------------------------------------------------------


def cache_lookups() -> None:
    """Two directory scans moto 5.2.5 repeats (CPU the whole engine shares under one GIL):

    - a new botocore loader for every service/error model it loads, each rescanning botocore's
      ~400 service directories (~0.3 s): share one, as a boto3 session does;
    - ``list_of_moto_modules()`` lists moto's package directory on every request whose host
      names no service: list it once.
    """
    if ("moto.core.utils", "create_loader") not in _ORIGINALS:
        _replace(
            "moto.core.utils", "create_loader", functools.cache(original("moto.core.utils", "create_loader"))
        )
    if ("moto.backends", "list_of_moto_modules") not in _ORIGINALS:
        scan = original("moto.backends", "list_of_moto_modules")
        _replace("moto.backends", "list_of_moto_modules", functools.cache(lambda: tuple(scan())))


# --- server -----------------------------------------------------------------------------------


# ThreadedMotoServer's private attributes MotoServer._server_entry sets and uses.
SERVER_ATTRIBUTES = ("_ip_address", "_port", "_server", "_server_ready_event")


class MotoServer(ThreadedMotoServer):
    """moto's threaded server on 127.0.0.1 with ``middleware`` wrapped around its WSGI app."""

    def __init__(self, middleware: Callable[[WSGIApp], WSGIApp], port: int = 0) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.middleware = middleware

    def _server_entry(self) -> None:
        # moto's own _server_entry with the app wrapped (moto 5.2.5, threaded_moto_server.py)
        app = self.middleware(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


# --- Lambda -----------------------------------------------------------------------------------


class LambdaRuntime(Protocol):
    """What ``route_lambda`` needs from the local function runtime (``localaws.functions``)."""

    def invoke(self, function_arn: str, event: Any) -> Any: ...

    def invoke_async(self, function_arn: str, event: Any) -> None: ...

    def next_sequencer(self) -> str: ...


def route_lambda(runtime: LambdaRuntime) -> None:
    """Route moto's Lambda invocations and S3 notifications to ``runtime``."""
    from localaws.functions import FunctionError  # not at the top: localaws.functions imports this module

    original_event = original("moto.s3.notifications", "_get_s3_event")

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        body: dict[str, Any] = original_event(event_name, bucket, key, notification_id)
        obj = body["Records"][0]["s3"]["object"]
        version = getattr(key, "version_id", None)
        if version and version != "null" and getattr(bucket, "is_versioned", False):
            obj["versionId"] = version
        obj["sequencer"] = runtime.next_sequencer()
        return body

    def invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        runtime.invoke_async(fn_arn, event_body)

    def backend_invoke(
        backend: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        fn = backend.get_function(function_name, qualifier)  # raises moto's not-found error
        kind = (headers.get("X-Amz-Invocation-Type") or "RequestResponse") if headers else "RequestResponse"
        event = json.loads(body) if body else {}
        if kind == "DryRun":
            return b""
        if kind == "Event":
            runtime.invoke_async(fn.function_arn, event)
            return b""
        try:
            result = runtime.invoke(fn.function_arn, event)
        except FunctionError as e:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(e.error).encode()
        return json.dumps(result).encode()

    def invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        # Any other moto path (e.g. event source mappings): synchronous, moto's return shape.
        try:
            return json.dumps(runtime.invoke(fn.function_arn, event or {})), False, ""
        except FunctionError as e:
            return json.dumps(e.error), True, str(e)

    _replace("moto.s3.notifications", "_get_s3_event", get_s3_event)
    _replace("moto.s3.notifications", "_invoke_awslambda", invoke_awslambda)
    _replace("moto.awslambda.models", "LambdaBackend.invoke", backend_invoke)
    _replace("moto.awslambda.models", "LambdaFunction._invoke_lambda", invoke_lambda)


def lambda_function(account_id: str, region: str, name_or_arn: str) -> Any:
    """moto's record of a deployed function (code, handler, environment, role)."""
    return original("moto.awslambda.utils", "get_backend")(account_id, region).get_function(name_or_arn)


# --- IAM --------------------------------------------------------------------------------------


def replace_authorizer(authorize: Callable[[Any, type, str], None]) -> None:
    """``authorize(response, iam_request_cls, resource)`` checks every request moto serves."""
    _replace(
        "moto.core.authorization", "ActionAuthenticatorMixin._authenticate_and_authorize_action", authorize
    )


def sts_access_key_exists(access_key_id: str) -> bool:
    """Is ``access_key_id`` a session key from ``AssumeRole`` in this process's moto?"""
    backends = original("moto.sts.models", "sts_backends")
    return any(
        backend.get_assumed_role_from_access_key(access_key_id) is not None
        for account in list(backends.values())
        for backend in list(account.values())
    )


def secret_access_key(access_key_id: str) -> str | None:
    """The secret of an access key this moto knows (an STS session key or an IAM user's key), to
    verify a presigned URL's signature; the dummy ``local`` credentials' secret is ``local``."""
    if access_key_id == "local":
        return "local"
    for account in list(original("moto.sts.models", "sts_backends").values()):
        for backend in list(account.values()):
            role = backend.get_assumed_role_from_access_key(access_key_id)
            if role is not None:
                return str(role.secret_access_key)
    for account in list(original("moto.iam.models", "iam_backends").values()):
        for backend in list(account.values()):
            for user in list(backend.users.values()):
                for key in list(user.access_keys):
                    if key.access_key_id == access_key_id:
                        return str(key.secret_access_key)
    return None


def s3_object_exists(account_id: str, bucket: str, key: str, version_id: str | None = None) -> bool:
    """Is there an object at ``key`` (or its version ``version_id``)? Without a version, a key
    whose current version is a delete marker is missing; a named version that is a delete marker
    exists (S3 answers 405 for it, not 404). Raises if there is no such bucket."""
    backend = original("moto.s3.models", "s3_backends")[account_id]["aws"]
    found = backend.get_object(bucket, key, version_id=version_id, return_delete_marker=True)
    return found is not None if version_id else isinstance(found, original("moto.s3.models", "FakeKey"))


def s3_bucket_cors(bucket: str) -> list[Rule] | None:
    """A bucket's CORS rules in order (``[]`` without a configuration), ``None`` when there is no
    such bucket: what ``localaws.s3_cors`` evaluates for browsers."""
    found = original("moto.s3.models", "s3_backends")[ACCOUNT_ID]["aws"].buckets.get(bucket)
    if found is None:
        return None
    return [
        Rule(
            allowed_origins=tuple(r.allowed_origins or ()),
            allowed_methods=tuple(m.upper() for m in r.allowed_methods or ()),
            allowed_headers=tuple(r.allowed_headers or ()),
            expose_headers=tuple(r.exposed_headers or ()),
            max_age_seconds=int(r.max_age_seconds) if r.max_age_seconds is not None else None,
        )
        for r in found.cors
    ]
