"""Pulumi mocks that run the REAL ``__main__.py`` and record the whole resource graph.

``run_program(config, stack)`` does what ``pulumi preview``/``up`` does with a language host,
minus the cloud: it configures the runtime with :class:`ImgpipeMocks` behind a
:class:`RecordingMonitor`, sets the stack config, runs ``__main__.py`` inside a root stack
(``run_in_stack``, as the CLI does) and returns a :class:`Graph`: every resource registered
(type, name, URN, id, inputs, returned state, parent, dependency URNs, protect/retain flags)
plus the stack outputs, resolved, with the names of the secret ones.

Why a monitor subclass: ``Mocks.new_resource`` never sees resource options (``depends_on``,
``protect``, ``retain_on_delete``), but the RegisterResource request the monitor receives does;
recording it lets a test assert "the S3 notification depends on the Lambda permission" on
what the engine would actually get, not on the program's source.

The mock answers like AWS: ARNs in each service's format, S3 bucket ids = names, SQS ids =
queue URLs, Pulumi-style autonames (``<name>-<7 hex>``), RandomId hex/b64, API Gateway invoke
URLs. Values are derived from hashes of the resource name, so runs are stable. Provider
functions (``getPolicyDocument``, ``getCallerIdentity``, ``getRegion``, ``getPartition``) are
answered by the local engine's registry (``localaws/resources/invokes.py``).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import json
import os
import runpy
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from localaws import resources
from localaws.resources import Context

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "imgpipe"
ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
# the marker Pulumi's wire format uses for a secret value
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"


def _digest(*parts: str, length: int = 16) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


@dataclass
class Recorded:
    """One registered resource, as the engine received it and as the mock answered."""

    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def props(self) -> dict[str, Any]:
        """Inputs overlaid with the returned state (what a stack policy would see)."""
        return {**self.inputs, **self.state}


@dataclass
class Graph:
    """The result of one run of the program."""

    resources: list[Recorded]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    stack: str
    region: str

    def of_type(self, *types: str) -> list[Recorded]:
        return [r for r in self.resources if r.type in types]

    def one(self, resource_type: str, name_contains: str = "") -> Recorded:
        found = [r for r in self.of_type(resource_type) if name_contains in r.name]
        if len(found) != 1:
            names = [r.name for r in found]
            raise AssertionError(f"expected one {resource_type} named *{name_contains}*, got {names}")
        return found[0]

    def by_urn(self, urn: str) -> Recorded:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children(self, parent: Recorded) -> list[Recorded]:
        return [r for r in self.resources if r.parent == parent.urn]

    @property
    def types(self) -> list[str]:
        return sorted({r.type for r in self.resources})


class ImgpipeMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes like AWS would (see module docstring)."""

    def __init__(self, region: str = DEFAULT_REGION, account: str = ACCOUNT, seed: str = "") -> None:
        self.region = region
        self.account = account
        # What the cloud would choose at random (RandomId bytes, autoname suffixes): stable per
        # seed, different between seeds, like two deployments of the same program.
        self.seed = seed
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    # --- helpers ------------------------------------------------------------------------------
    def _arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"
        )

    def _autoname(self, name: str, given: Any) -> str:
        if isinstance(given, str) and given:
            return given
        return f"{name}-{_digest('autoname', *self._seeded(name), length=7)}"

    def _seeded(self, name: str) -> tuple[str, ...]:
        return (self.seed, name) if self.seed else (name,)

    # --- resources ----------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if not args.custom:  # component resources: the SDK ignores the answer
            return f"{args.name}-component", inputs
        # "aws:s3/bucket:Bucket" -> _s3_Bucket, "random:index/randomId:RandomId" -> _random_RandomId
        package, module, kind = [*args.typ.split(":"), "", ""][:3]
        module = module.split("/")[0]
        handler = getattr(self, f"_{package if module == 'index' else module}_{kind}", None)
        if handler is None:
            return f"{args.name}-{_digest(args.typ, args.name, length=8)}", inputs
        rid, extra = handler(args.name, inputs)
        return rid, {**inputs, **extra}

    # random
    def _random_RandomId(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = bytes.fromhex(
            _digest("random", *self._seeded(name), length=2 * int(inputs.get("byteLength", 8)))
        )
        b64url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        state = {
            "hex": raw.hex(),
            "b64Url": b64url,
            "b64Std": base64.b64encode(raw).decode(),
            "dec": str(int.from_bytes(raw, "big")),
        }
        return b64url, state

    def _random_RandomPassword(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        length = int(inputs.get("length", 16))
        value = (_digest("password", name, length=64) * 4)[:length]
        return "none", {"result": value, "bcryptHash": "$2a$10$" + _digest("bcrypt", name, length=53)}

    # kms
    def _kms_Key(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key_id = "-".join(
            _digest("kms", name, length=32)[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
        )
        return key_id, {"keyId": key_id, "arn": self._arn("kms", f"key/{key_id}")}

    def _kms_Alias(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        alias = self._autoname(name, inputs.get("name"))
        return alias, {"name": alias, "arn": self._arn("kms", alias), "targetKeyArn": ""}

    # s3
    def _s3_Bucket(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bucket = self._autoname(name, inputs.get("bucket")).lower()
        return bucket, {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
            "hostedZoneId": "Z3AQBSTGFYJSTF",
            "region": self.region,
        }

    def _s3_child(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return str(inputs.get("bucket") or name), {}

    _s3_BucketVersioning = _s3_child
    _s3_BucketPublicAccessBlock = _s3_child
    _s3_BucketOwnershipControls = _s3_child
    _s3_BucketServerSideEncryptionConfiguration = _s3_child
    _s3_BucketLifecycleConfiguration = _s3_child
    _s3_BucketPolicy = _s3_child
    _s3_BucketNotification = _s3_child
    _s3_BucketCorsConfiguration = _s3_child

    # dynamodb
    def _dynamodb_Table(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        table = self._autoname(name, inputs.get("name"))
        arn = self._arn("dynamodb", f"table/{table}")
        return table, {"name": table, "arn": arn}

    # iam
    def _iam_Role(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        role = self._autoname(name, inputs.get("name"))
        return role, {
            "name": role,
            "arn": f"arn:aws:iam::{self.account}:role{inputs.get('path') or '/'}{role}",
            "uniqueId": "AROA" + _digest("role", name, length=17).upper(),
        }

    def _iam_RolePolicy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        policy = self._autoname(name, inputs.get("name"))
        return f"{inputs.get('role')}:{policy}", {"name": policy}

    def _iam_Policy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        policy = self._autoname(name, inputs.get("name"))
        arn = f"arn:aws:iam::{self.account}:policy/{policy}"
        return arn, {"name": policy, "arn": arn, "policyId": "ANPA" + _digest("p", name, length=17).upper()}

    # lambda
    def _lambda_Function(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        function = self._autoname(name, inputs.get("name"))
        arn = self._arn("lambda", f"function:{function}")
        return function, {
            "name": function,
            "arn": arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "version": "$LATEST",
            "invokeArn": f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
            f"{arn}/invocations",
            "lastModified": "2026-11-01T00:00:00.000+0000",
            "sourceCodeHash": _digest("code", name, length=44),
        }

    def _lambda_LayerVersion(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        layer = str(inputs.get("layerName") or name)
        layer_arn = self._arn("lambda", f"layer:{layer}")
        return f"{layer_arn}:1", {"arn": f"{layer_arn}:1", "layerArn": layer_arn, "version": "1"}

    def _lambda_Permission(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        statement = self._autoname(name, inputs.get("statementId"))
        return statement, {"statementId": statement}

    def _lambda_FunctionEventInvokeConfig(
        self, name: str, inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return str(inputs.get("functionName")), {}

    # sqs / sns
    def _sqs_Queue(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        queue = self._autoname(name, inputs.get("name"))
        url = f"https://sqs.{self.region}.amazonaws.com/{self.account}/{queue}"
        return url, {"name": queue, "url": url, "arn": self._arn("sqs", queue)}

    def _sqs_QueuePolicy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return str(inputs.get("queueUrl")), {}

    def _sns_Topic(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        topic = self._autoname(name, inputs.get("name"))
        arn = self._arn("sns", topic)
        return arn, {"name": topic, "arn": arn}

    def _sns_TopicSubscription(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = f"{inputs.get('topicArn')}:{_digest('sub', name, length=32)}"
        return arn, {"arn": arn, "pendingConfirmation": True}

    def _sns_TopicPolicy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return str(inputs.get("arn")), {}

    # cloudwatch
    def _cloudwatch_LogGroup(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group = self._autoname(name, inputs.get("name"))
        return group, {"name": group, "arn": self._arn("logs", f"log-group:{group}")}

    def _cloudwatch_MetricAlarm(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        alarm = self._autoname(name, inputs.get("name"))
        return alarm, {"name": alarm, "arn": self._arn("cloudwatch", f"alarm:{alarm}")}

    def _cloudwatch_Dashboard(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        dashboard = str(inputs.get("dashboardName") or name)
        return dashboard, {"dashboardArn": f"arn:aws:cloudwatch::{self.account}:dashboard/{dashboard}"}

    # apigateway (the UploadApi component)
    def _api_id(self, name: str) -> str:
        return _digest("api", name, length=10)

    def _apigateway_RestApi(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api_id = self._api_id(name)
        return api_id, {
            "name": self._autoname(name, inputs.get("name")),
            "rootResourceId": _digest("root", name, length=10),
            "arn": f"arn:aws:apigateway:{self.region}::/restapis/{api_id}",
            "executionArn": self._arn("execute-api", api_id),
            "createdDate": "2026-11-01T00:00:00Z",
        }

    def _apigateway_Resource(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self._api_id(name), {"path": f"/{inputs.get('pathPart', '')}"}

    def _apigateway_Deployment(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self._api_id(name), {"createdDate": "2026-11-01T00:00:00Z"}

    def _apigateway_Stage(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api_id, stage = inputs.get("restApi"), inputs.get("stageName")
        return f"ags-{api_id}-{stage}", {
            "invokeUrl": f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}",
            "executionArn": self._arn("execute-api", f"{api_id}/{stage}"),
            "arn": f"arn:aws:apigateway:{self.region}::/restapis/{api_id}/stages/{stage}",
        }

    def _apigateway_ApiKey(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key_id = self._api_id(name)
        value = inputs.get("value") or _digest("apikey", name, length=40)
        return key_id, {"name": self._autoname(name, inputs.get("name")), "value": value, "arn": key_id}

    def _apigateway_UsagePlan(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        plan_id = self._api_id(name)
        return plan_id, {
            "name": self._autoname(name, inputs.get("name")),
            "arn": f"arn:aws:apigateway:{self.region}::/usageplans/{plan_id}",
        }

    # --- invokes ------------------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        with self._lock:
            self.calls.append((args.token, dict(args.args)))
        # the local engine's answers (one source for every stand-in of the provider)
        where = Context(endpoint_url=None, region=self.region, program_dir=ROOT, account_id=self.account)
        return resources.answer(where, args.token, dict(args.args))


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each request's options and the stack outputs."""

    def __init__(self, mocks: ImgpipeMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self.stack_outputs: dict[str, Any] = {}
        self.secret_outputs: set[str] = set()
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        inputs = rpc.deserialize_properties(request.object)
        record = Recorded(
            type=request.type,
            name=request.name,
            urn=response.urn,
            id=registration.id or "",
            inputs=dict(inputs),
            state=dict(registration.state or {}),
            custom=bool(request.custom),
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
        )
        with self._lock:
            self.recorded.append(record)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.outputs)
            with self._lock:
                for key, value in raw.items():
                    if isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG:
                        self.secret_outputs.add(key)
                        value = value.get("value")
                    self.stack_outputs[key] = value
        return super().RegisterResourceOutputs(request)


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file config (YAML values) as the engine hands it to the program: structured values
    as JSON text, booleans as ``true``/``false``; keys without a namespace get ``imgpipe:``."""
    out: dict[str, str] = {}
    for key, value in config.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, str):
            out[full] = value
        else:
            out[full] = json.dumps(value)
    return out


@contextlib.contextmanager
def fake_layer_zip() -> Iterator[Path]:
    """A tiny stand-in for the Pillow layer zip (the mocks never open it), so unit tests do not
    depend on ``make layer``."""
    with tempfile.TemporaryDirectory(prefix="imgpipe-layer-") as tmp:
        path = Path(tmp) / "layer-fake.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("python/PIL/__init__.py", "# placeholder layer for unit tests\n")
        yield path


def _set_environ(values: Mapping[str, str | None]) -> None:
    """Set each variable, or unset it where the value is None."""
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def _environ(**values: str | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)  # None in `saved`: the variable was unset before


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    # The program uses paths relative to the project directory (as under the CLI).
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


_RUN_LOCK = threading.Lock()


def run_program(
    config: Mapping[str, Any] | None = None,
    stack: str = "dev",
    *,
    preview: bool = False,
    layer_zip: Path | str | None = "fake",
    program: Path = ROOT / "__main__.py",
    seed: str = "",
) -> Graph:
    """Run the real program under the mocks and return what it registered and exported.

        ``config``: ``{"imgpipe:memoryMb": 2048, "aws:region": "eu-west-1", ...}`` (plain values
        or strings; keys without a namespace are ``imgpipe:`` keys). ``layer_zip``: ``"fake"`` (a
        throw-away zip), ``None`` (the real ``make layer`` output) or a path. ``seed``: stands in for
    the cloud's randomness (random ids, autonames); two seeds = two deployments of one stack.
    Exceptions raised by
        the program (e.g. a ConfigError) propagate.
    """
    strings = config_strings(config or {})
    region = strings.get("aws:region", DEFAULT_REGION)
    mocks = ImgpipeMocks(region=region, seed=seed)
    monitor = RecordingMonitor(mocks)

    def run() -> None:
        # A fresh context per run: Pulumi keeps its settings, config and root stack in
        # ContextVars, so runs cannot leak into each other.
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
        pulumi.runtime.settings.ROOT.set(None)  # run_in_stack makes the root stack, as the CLI does
        pulumi.runtime.config.set_all_config(strings, [])
        _sync_await(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))

    with contextlib.ExitStack() as stack_ctx:
        stack_ctx.enter_context(_RUN_LOCK)  # chdir/environ are process-wide
        if layer_zip == "fake":
            layer_zip = stack_ctx.enter_context(fake_layer_zip())
        stack_ctx.enter_context(_environ(IMGPIPE_LAYER_ZIP=None if layer_zip is None else str(layer_zip)))
        stack_ctx.enter_context(_cwd(program.parent))
        contextvars.Context().run(run)

    return Graph(
        resources=list(monitor.recorded),
        outputs=dict(monitor.stack_outputs),
        secret_outputs=set(monitor.secret_outputs),
        stack=stack,
        region=region,
    )
