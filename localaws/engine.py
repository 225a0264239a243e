"""The local engine: a moto server, the real Pulumi program under mocks, and the function runtime.

``new_resource`` creates every resource the program declares in the moto server through boto3
(one handler per type in ``localaws/resources``), in the dependency order Pulumi resolves, and
returns the real ids and attributes; ``destroy`` deletes them in reverse; ``call`` answers the
provider functions (``localaws/resources/invokes.py``). Unknown resource types and provider
functions stop the deploy with an error naming them.

The engine creates and deletes, but never updates: there is no previous state to diff against
(each ``up`` deploys a fresh stack; change the program, then ``make down`` and ``make up``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pulumi
import yaml

from localaws import access, control, moto_patches, resources, s3_cors, s3_presign
from localaws import faults as faults_mod
from localaws.functions import FunctionError, FunctionRuntime
from localaws.resources import Context, UnknownInvoke, UnknownResourceType, handler_for

REGION = "us-east-1"
# Local-only config: the local stack is disposable, so it can always be torn down.
LOCAL_OVERRIDES = {"imgpipe:forceDestroy": "true", "imgpipe:protect": "false"}


class DeployError(Exception):
    """The program could not be deployed locally; the message says why."""


@dataclass
class Created:
    type: str
    name: str
    id: str
    state: dict[str, Any]
    custom: bool = True


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"path": str(value.path)}
    return repr(value)


def load_config(program_dir: Path, stack: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Config like the CLI gives it: Pulumi.yaml defaults, then Pulumi.<stack>.yaml, then overrides."""
    config: dict[str, str] = {}
    project_file = program_dir / "Pulumi.yaml"
    project = "imgpipe"
    if project_file.exists():
        doc = yaml.safe_load(project_file.read_text()) or {}
        project = doc.get("name", project)
        for key, spec in (doc.get("config") or {}).items():
            full = key if ":" in key else f"{project}:{key}"
            if isinstance(spec, dict) and "default" in spec:
                config[full] = _config_value(spec["default"])
            elif not isinstance(spec, dict):
                config[full] = _config_value(spec)
    stack_file = program_dir / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        doc = yaml.safe_load(stack_file.read_text()) or {}
        for key, value in (doc.get("config") or {}).items():
            full = key if ":" in key else f"{project}:{key}"
            if isinstance(value, dict) and "secure" in value:
                continue  # encrypted with the stack's secrets provider: unreadable without the CLI
            config[full] = _config_value(value)
    config.update(overrides or {})
    return config


def _config_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


class LocalMocks(pulumi.runtime.Mocks):
    """Pulumi mocks that create every resource in the local AWS."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return self.engine.create(args.typ, args.name, dict(args.inputs), bool(args.custom))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return self.engine.answer(args.token, dict(args.args)), []


@dataclass
class LocalEngine:
    program_dir: Path
    state_dir: Path
    stack: str = "dev"
    config_overrides: dict[str, str] = field(default_factory=dict)
    fault_spec: str = ""
    port: int = 0
    say: Callable[[str], None] = print
    region: str = REGION
    # Check each function's AWS calls against its role's policies (localaws/access.py).
    enforce_iam: bool = True
    # Needed by the control endpoints (localaws/control.py); "" → a random one nobody knows.
    control_token: str = ""

    def __post_init__(self) -> None:
        self.program_dir = self.program_dir.resolve()
        self.state_dir = self.state_dir.resolve()
        self.faults = faults_mod.Faults(self.fault_spec)
        self.enforcer = access.Enforcer(enabled=self.enforce_iam, say=self.say)
        self.created: list[Created] = []
        self._lock = threading.Lock()
        self._family_locks: dict[str, threading.Lock] = {}
        self._inflight_lock = threading.Lock()
        self._inflight = 0
        self._last_activity = 0.0
        self.server: moto_patches.MotoServer | None = None
        self.runtime: FunctionRuntime | None = None
        self.stage_server: Any = None
        self.endpoint_url = ""
        self.ctx: Context | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Start moto (127.0.0.1, free port), the function runtime and the API stage server."""
        from localaws.apigateway import StageServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines in the progress
        moto_patches.cache_lookups()
        faults, token = self.faults, self.control_token or secrets.token_urlsafe(32)
        self.server = moto_patches.MotoServer(
            lambda app: control.host_guard(
                faults_mod.middleware(
                    # CORS outside the presign check, as on S3: a preflight is answered from the
                    # bucket's CORS rules (it carries no signature to check), and a refused
                    # presigned request still gets the rule's CORS headers, so a page can read why
                    s3_cors.middleware(
                        s3_presign.middleware(app, moto_patches.secret_access_key),
                        moto_patches.s3_bucket_cors,
                    ),
                    faults,
                    token,
                )
            ),
            self.port,
        )
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.ctx = Context(
            endpoint_url=self.endpoint_url, region=self.region, program_dir=self.program_dir, say=self.say
        )
        access.install(self.enforcer)
        self.runtime = FunctionRuntime(
            self.endpoint_url,
            self.region,
            self.state_dir,
            self.faults,
            self.ctx.dead_letters,
            say=self.say,
            enforcer=self.enforcer,
        )
        self.runtime.install()
        self.ctx.on_function_created = self.runtime.prewarm
        self.ctx.on_function_deleted = self.runtime.forget
        self.stage_server = StageServer(self.endpoint_url, self.region, invoke_lambda=self._invoke_for_api)
        self.ctx.stage_base_url = self.stage_server.start()
        return self.endpoint_url

    def _invoke_for_api(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        assert self.runtime is not None
        return self.runtime.invoke(function, event)  # raises FunctionError → 502 like AWS

    def stop(self) -> None:
        if self.stage_server is not None:
            self.stage_server.stop()
        if self.runtime is not None:
            self.runtime.stop()
        if self.server is not None:
            self.server.stop()

    # --- resources ------------------------------------------------------------------------

    def create(self, typ: str, name: str, inputs: dict[str, Any], custom: bool) -> tuple[str, dict[str, Any]]:
        assert self.ctx is not None
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider", inputs
        if not custom:  # a component: a node in the tree, nothing to create
            self.say(f"+ {typ:<58} {name}")
            return name, {}
        handler = handler_for(typ, name)
        with self._inflight_lock:
            self._inflight += 1
        try:
            return self._create(handler, typ, name, inputs)
        finally:
            with self._inflight_lock:
                self._inflight -= 1
                self._last_activity = time.monotonic()

    def _family_lock(self, typ: str) -> threading.Lock:
        # "aws:apigateway/method:Method" -> "aws:apigateway"
        family = typ.split("/", 1)[0]
        with self._lock:
            return self._family_locks.setdefault(family, threading.Lock())

    def _create(self, handler: Any, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, Any]:
        assert self.ctx is not None
        # Pulumi calls new_resource for independent resources from several threads and only
        # after a resource's dependencies returned; one AWS family at a time keeps each
        # service's call sequences (e.g. an API's methods and its deployment) unsurprising,
        # while buckets, keys, roles, queues and the API are created side by side.
        with self._family_lock(typ):
            t0 = time.monotonic()
            try:
                rid, state = handler.create(self.ctx, name, inputs)
            except UnknownResourceType:
                raise
            except Exception as e:
                raise DeployError(f"creating {typ} {name!r} failed: {e}") from e
        with self._lock:  # appended after the create: dependencies always precede dependents
            self.created.append(Created(typ, name, rid, state))
        self.say(f"+ {typ:<58} {name:<32} created ({(time.monotonic() - t0) * 1000:.0f} ms)")
        return rid, state

    def answer(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """A provider function's outputs (``localaws/resources/invokes.py``)."""
        ctx = self.ctx or Context(
            endpoint_url=self.endpoint_url, region=self.region, program_dir=self.program_dir
        )
        return resources.answer(ctx, token, args)

    # --- deploy / destroy -----------------------------------------------------------------

    def deploy(self) -> dict[str, Any]:
        """Run the program's ``__main__.py`` under the mocks; returns its (unwrapped) outputs."""
        main = self.program_dir / "__main__.py"
        if not main.exists():
            raise DeployError(f"no Pulumi program at {main}: run from the repository root or pass --program")
        config = load_config(self.program_dir, self.stack, {**LOCAL_OVERRIDES, **self.config_overrides})
        pulumi.runtime.set_mocks(LocalMocks(self), project="imgpipe", stack=self.stack, preview=False)
        for key, value in config.items():
            pulumi.runtime.set_config(key, value)
        exported: dict[str, pulumi.Output[Any]] = {}

        def program() -> None:
            runpy.run_path(str(main), run_name="__main__")
            root = pulumi.runtime.get_root_resource()
            for key, value in (getattr(root, "outputs", None) or {}).items():
                exported[key] = pulumi.Output.from_input(value)

        from pulumi.runtime.stack import run_pulumi_func
        from pulumi.runtime.sync_await import _sync_await

        cwd = os.getcwd()
        os.chdir(self.program_dir)  # the CLI runs programs from the project dir (relative archive paths)
        sys.path.insert(0, str(self.program_dir))
        try:
            _sync_await(run_pulumi_func(program))
        except (UnknownResourceType, UnknownInvoke, DeployError):
            raise
        except Exception as e:
            raise DeployError(f"the program failed: {type(e).__name__}: {e}") from e
        finally:
            os.chdir(cwd)
            sys.path.remove(str(self.program_dir))
        # Every output is resolved by now; read values and secretness back out of them.
        exports = {k: _sync_await(o.future()) for k, o in exported.items()}
        secrets = {k for k, o in exported.items() if _sync_await(o.is_secret())}
        return self._local_outputs(exports, secrets)

    def _local_outputs(self, exports: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
        outputs = dict(exports)
        api_url = outputs.get("api_url")
        m = re.match(r"https://([a-z0-9]+)\.execute-api\.[^/]+/([^/]+)/?$", str(api_url or ""))
        if m and self.ctx and self.ctx.stage_base_url:
            # The program builds the AWS URL itself: point it at the local stage server.
            outputs["api_url"] = f"{self.ctx.stage_base_url}/{m.group(1)}/{m.group(2)}"
        if isinstance(outputs.get("api_url"), str):
            outputs["api_url"] = outputs["api_url"].rstrip("/")
        page = str(outputs.get("gallery_url") or "")
        aws_page = re.match(r"https://[a-z0-9]+\.execute-api\.[^/]+/(.*)$", page)
        if aws_page and self.ctx and self.ctx.stage_base_url:
            page = f"{self.ctx.stage_base_url}/{aws_page.group(1)}"
        if page and outputs.get("api_key") and "#" not in page:
            # The local page opens authorised: the key rides in the fragment, which browsers never
            # send to a server (so it is in no request line, query string or access log).
            page += f"#key={quote(str(outputs['api_key']), safe='')}"
        if page:
            outputs["gallery_url"] = page
        outputs["endpoint_url"] = self.endpoint_url
        self.secret_outputs = secrets
        return outputs

    def settle(self, quiet_s: float = 0.5, timeout_s: float = 30.0) -> None:
        """After a failed deploy: let creates already under way finish, so destroy sees them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._inflight_lock:
                if self._inflight == 0 and time.monotonic() - self._last_activity >= quiet_s:
                    return
            time.sleep(0.05)

    def destroy(self) -> dict[str, int]:
        """Delete every created resource in reverse order; returns what is left (should be 0s)."""
        assert self.ctx is not None
        if self.runtime is not None:
            self.runtime.drain(timeout_s=30)
        for res in reversed(self.created):
            t0 = time.monotonic()
            try:
                handler_for(res.type, res.name).delete(self.ctx, res.id, res.state)
                self.say(f"- {res.type:<58} {res.name:<32} deleted ({(time.monotonic() - t0) * 1000:.0f} ms)")
            except Exception as e:  # keep going: leave as little behind as possible
                self.say(f"! {res.type:<58} {res.name:<32} delete failed: {e}")
        self.created.clear()
        return self.leftovers()

    def leftovers(self) -> dict[str, int]:
        assert self.ctx is not None
        c = self.ctx.client
        return {
            "buckets": len(c("s3").list_buckets().get("Buckets", [])),
            "tables": len(c("dynamodb").list_tables().get("TableNames", [])),
            "functions": len(c("lambda").list_functions().get("Functions", [])),
            "queues": len(c("sqs").list_queues().get("QueueUrls", [])),
            "rest_apis": len(c("apigateway").get_rest_apis().get("items", [])),
        }

    def state(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "stage_base_url": self.ctx.stage_base_url if self.ctx else "",
            "program": str(self.program_dir),
            "stack": self.stack,
            "faults": self.faults.describe(),
            "iam": "enforced" if self.enforce_iam else "off",
            "resources": [
                {"type": r.type, "name": r.name, "id": r.id, "state": _jsonable(r.state)}
                for r in self.created
            ],
        }


__all__ = ["DeployError", "FunctionError", "LocalEngine", "load_config"]
