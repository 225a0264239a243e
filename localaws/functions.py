"""Run Lambda functions locally: the real handler from the deployed archive, in warm workers.

moto's Lambda needs Docker to run code; this module replaces its invocation (moto 5.2.5
private names, pinned in requirements-dev.txt, replaced through ``localaws.moto_patches``):

- S3 → Lambda notifications are **asynchronous** (as on AWS): the S3 PUT returns at once and
  the event goes to a queue; the function's retry policy (``FunctionEventInvokeConfig``
  ``MaximumRetryAttempts``, default 2, with backoff) applies, then the dead-letter queue
  (``DeadLetterConfig``: the event as is) and/or the on-failure destination (an invocation
  record with ``requestPayload``).
- ``Invoke`` with ``RequestResponse`` (API Gateway Lambda integrations, ``make redrive``)
  runs synchronously and reports function errors like Lambda (``X-Amz-Function-Error``).
- moto's S3 event omits ``versionId`` and ``sequencer``; real S3 sends both for versioned
  buckets, so they are filled in here.

Each function gets warm worker processes (``localaws/worker.py``), started with the function's
environment plus ``AWS_ENDPOINT_URL`` and its role's session credentials (STS ``AssumeRole``,
checked against the role's policies by ``localaws.access``), running on the host's Python with
the layer's pinned requirements installed in the virtualenv (the layer zip holds manylinux
wheels for Lambda, which this host cannot load).
"""

from __future__ import annotations

import io
import json
import os
import queue
import selectors
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localaws import ACCOUNT_ID, access, client_args
from localaws.faults import WORKER_APP_ID, Faults

WORKER = Path(__file__).with_name("worker.py")
# AWS waits ~1 min then ~2 min between async retries; locally the same shape, scaled down
# (IMGPIPE_LOCAL_RETRY_DELAYS="0.05,0.1" shortens it further, e.g. for tests).
RETRY_DELAYS_S = (0.2, 0.5, 1.0)


def retry_delays(spec: str | None) -> tuple[float, ...]:
    """``"0.05,0.1"`` → ``(0.05, 0.1)``; empty → the default backoff."""
    if not (spec or "").strip():
        return RETRY_DELAYS_S
    try:
        delays = tuple(float(part) for part in str(spec).split(","))
    except ValueError:
        delays = ()
    if not delays or any(d < 0 for d in delays):
        raise ValueError(
            f"IMGPIPE_LOCAL_RETRY_DELAYS={spec!r}: use comma-separated seconds >= 0, e.g. 0.2,0.5,1"
        )
    return delays


class FunctionError(Exception):
    """The handler raised (or timed out); ``error`` is Lambda's error payload."""

    def __init__(self, function: str, error: dict[str, Any]) -> None:
        super().__init__(f"{function}: {error.get('errorType')}: {error.get('errorMessage')}")
        self.error = error


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    buffer: bytes = b""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise EOFError
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(timeout=5)


@dataclass
class Function:
    """A deployed function as the runtime sees it (read from moto's Lambda backend)."""

    name: str
    arn: str
    handler: str
    env: dict[str, str]
    timeout_s: float
    memory_mb: int
    code_dir: Path
    role_arn: str = ""
    idle: list[Worker] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Stats:
    invocations: int = 0
    errors: int = 0
    retries: int = 0
    dead_lettered: int = 0


class FunctionRuntime:
    """Warm workers per function, the async event queue with retries, and the moto hooks."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        work_dir: Path,
        faults: Faults,
        dead_letters: dict[str, str],
        say: Callable[[str], None] = print,
        concurrency: int = 2,
        enforcer: access.Enforcer | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        # None: workers get dummy credentials and nothing they call is checked.
        self.enforcer = enforcer
        self.retry_delays = retry_delays(os.environ.get("IMGPIPE_LOCAL_RETRY_DELAYS"))
        self.region = region
        self.work_dir = work_dir
        self.faults = faults
        self.dead_letters = dead_letters
        self.say = say
        self.stats = Stats()
        self._functions: dict[str, Function] = {}
        self._lock = threading.Lock()
        self._events: queue.Queue[tuple[str, dict[str, Any], int, float] | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._sequence = 0
        self._threads = [
            threading.Thread(target=self._dispatch_loop, name=f"lambda-async-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()

    # --- functions ------------------------------------------------------------------------

    def _backend_function(self, name_or_arn: str) -> Any:
        from localaws import moto_patches

        return moto_patches.lambda_function(ACCOUNT_ID, self.region, name_or_arn)

    def function(self, name_or_arn: str) -> Function:
        """The function, loaded (code extracted) on first use and after it changes."""
        fn = self._backend_function(name_or_arn)
        with self._lock:
            known = self._functions.get(fn.function_name)
            if known and known.arn == fn.function_arn and known.handler == fn.handler:
                return known
            code_dir = self.work_dir / "functions" / fn.function_name
            if code_dir.exists():
                shutil.rmtree(code_dir)
            code_dir.mkdir(parents=True)
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as zf:
                zf.extractall(code_dir)
            loaded = Function(
                name=fn.function_name,
                arn=fn.function_arn,
                handler=fn.handler,
                env={k: str(v) for k, v in (fn.environment_vars or {}).items()},
                timeout_s=float(fn.timeout or 3),
                memory_mb=int(fn.memory_size or 128),
                code_dir=code_dir,
                role_arn=str(fn.role or ""),
            )
            if known:
                self._retire(known)
            self._functions[fn.function_name] = loaded
            return loaded

    def prewarm(self, name: str) -> None:
        """Start one worker in the background so the first event does not pay the cold start."""

        def go() -> None:
            try:
                fn = self.function(name)
                worker = self._start_worker(fn)
                with fn.lock:
                    fn.idle.append(worker)
            except Exception as e:  # prewarming is an optimisation: report, do not fail the deploy
                self.say(f"    note: could not prewarm function {name}: {e}")

        threading.Thread(target=go, daemon=True).start()

    def forget(self, name: str) -> None:
        """The function was deleted: stop its workers and drop its extracted code."""
        with self._lock:
            fn = self._functions.pop(name, None)
        if fn:
            self._retire(fn)
        shutil.rmtree(self.work_dir / "functions" / name, ignore_errors=True)

    def _retire(self, fn: Function) -> None:
        with fn.lock:
            workers, fn.idle = fn.idle, []
        for w in workers:
            w.kill()

    def _credentials(self, fn: Function) -> dict[str, str]:
        """The role's session credentials (checked by moto's IAM), or dummy ones when off."""
        if self.enforcer is None or not self.enforcer.enabled:
            keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
            return dict.fromkeys(keys, "local")
        creds = access.assume_role(self.endpoint_url, self.region, fn.role_arn, fn.name)
        self.enforcer.watch(creds["AWS_ACCESS_KEY_ID"], fn.name)
        return creds

    def _start_worker(self, fn: Function) -> Worker:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            **fn.env,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **self._credentials(fn),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_SDK_UA_APP_ID": WORKER_APP_ID,
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(fn.code_dir),
            "_HANDLER": fn.handler,
            "IMGPIPE_LOCAL_FUNCTION_ARN": fn.arn,
        }
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"{fn.name}.log", "ab")  # noqa: SIM115 - owned by the child process
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-u", str(WORKER), str(fn.code_dir), fn.handler],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=fn.code_dir,
            )
        finally:
            log.close()
        return Worker(proc)

    # --- invocation -----------------------------------------------------------------------

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Run the handler once, synchronously; FunctionError when it fails."""
        fn = self.function(name_or_arn)
        with self._lock:
            self.stats.invocations += 1
        if self.faults.hit("handler_crash"):
            raise FunctionError(
                fn.name,
                {
                    "errorType": "InjectedFault",
                    "errorMessage": "handler crash injected by IMGPIPE_LOCAL_FAULTS",
                },
            )
        with fn.lock:
            worker = fn.idle.pop() if fn.idle else None
        if worker is None or not worker.alive():
            try:
                worker = self._start_worker(fn)
            except Exception as e:  # e.g. the role is gone: Lambda reports it as the invoke error
                raise FunctionError(
                    fn.name, {"errorType": "Runtime.InitError", "errorMessage": f"cannot start: {e}"}
                ) from e
        request_id = str(uuid.uuid4())
        deadline_ms = time.time() * 1000 + fn.timeout_s * 1000
        try:
            # The cold start counts against Lambda's init phase, not the invocation timeout.
            answer = worker.request(
                {"id": request_id, "event": event, "deadline_ms": deadline_ms}, fn.timeout_s + 10
            )
        except TimeoutError:
            worker.kill()
            raise FunctionError(
                fn.name,
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {fn.timeout_s:.2f} seconds",
                },
            ) from None
        except (EOFError, BrokenPipeError, OSError):
            worker.kill()
            raise FunctionError(
                fn.name, {"errorType": "Runtime.ExitError", "errorMessage": "the function's process exited"}
            ) from None
        with fn.lock:
            fn.idle.append(worker)
        if not answer.get("ok"):
            raise FunctionError(fn.name, answer.get("error") or {})
        return answer.get("result")

    def invoke_async(self, name_or_arn: str, event: dict[str, Any]) -> None:
        """Queue an event (S3 notification, Invoke with InvocationType=Event); returns at once."""
        with self._lock:
            self._pending += 1
        self._events.put((name_or_arn, event, 0, time.time()))

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until every queued event is processed or dead-lettered (tests, `down`)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _dispatch_loop(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            name, event, attempt, first_seen = item
            try:
                self._run_async(name, event, attempt, first_seen)
            except Exception as e:  # never lose the dispatcher thread
                self.say(f"  λ internal error running {name}: {e}")
                self._done()

    def _describe(self, event: dict[str, Any]) -> str:
        records = event.get("Records") if isinstance(event, dict) else None
        if records and isinstance(records, list) and "s3" in records[0]:
            s3 = records[0]["s3"]
            return f"s3 {records[0].get('eventName')} {s3['bucket']['name']}/{s3['object']['key']}"
        return "event"

    def _run_async(self, name: str, event: dict[str, Any], attempt: int, first_seen: float) -> None:
        t0 = time.monotonic()
        try:
            fn = self.function(name)
        except Exception as e:
            self.say(f"  λ {name}: function not found, event dropped ({e})")
            self._done()
            return
        try:
            self.invoke(name, event)
            self.say(f"  λ {fn.name}  ok  {(time.monotonic() - t0) * 1000:.0f} ms  ({self._describe(event)})")
            self._done()
            return
        except FunctionError as e:
            error = e.error
        max_retries, max_age, on_failure = self._retry_policy(fn)
        with self._lock:
            self.stats.errors += 1
        what = f"{error.get('errorType')}: {str(error.get('errorMessage'))[:160]}"
        if attempt < max_retries and time.time() - first_seen < max_age:
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            self.say(
                f"  λ {fn.name}  error (try {attempt + 1}/{max_retries + 1}), retry in {delay:g} s: {what}"
            )
            with self._lock:
                self.stats.retries += 1
            timer = threading.Timer(delay, self._events.put, args=[(name, event, attempt + 1, first_seen)])
            timer.daemon = True
            timer.start()
            return
        self.say(f"  λ {fn.name}  failed after {attempt + 1} attempt(s): {what}")
        self._dead_letter(fn, event, error, attempt + 1, on_failure)
        self._done()

    def _retry_policy(self, fn: Function) -> tuple[int, float, str | None]:
        configs = getattr(self._backend_function(fn.name), "event_invoke_config", None) or []
        if not configs:
            return 2, 6 * 3600.0, None
        conf = configs[0].response()
        on_failure = ((conf.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return (
            int(conf.get("MaximumRetryAttempts", 2)),
            float(conf.get("MaximumEventAgeInSeconds", 6 * 3600)),
            on_failure,
        )

    def _dead_letter(
        self,
        fn: Function,
        event: dict[str, Any],
        error: dict[str, Any],
        attempts: int,
        on_failure: str | None,
    ) -> None:
        import boto3

        sqs = boto3.client("sqs", **client_args(self.endpoint_url, self.region))
        targets = []
        dlq = self.dead_letters.get(fn.name)
        if dlq:
            # DeadLetterConfig: the event itself, with Lambda's message attributes.
            targets.append((dlq, json.dumps(event), True))
        if on_failure and on_failure != dlq:
            record = {
                "version": "1.0",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": f"{fn.arn}:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": event,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": error,
            }
            targets.append((on_failure, json.dumps(record), False))
        if not targets:
            self.say(f"  λ {fn.name}  event discarded: no dead-letter queue or on-failure destination")
            return
        for arn, body, attributes in targets:
            if not arn.startswith("arn:aws:sqs:"):
                self.say(f"  λ {fn.name}  on-failure target {arn} is not an SQS queue: not supported locally")
                continue
            url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
            extra: dict[str, Any] = {}
            if attributes:
                extra["MessageAttributes"] = {
                    "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                    "ErrorMessage": {
                        "DataType": "String",
                        "StringValue": str(error.get("errorMessage"))[:1000] or "-",
                    },
                    "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                }
            sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
            with self._lock:
                self.stats.dead_lettered += 1
            self.say(f"  λ {fn.name}  event sent to {arn.rsplit(':', 1)[-1]}")

    def stop(self) -> None:
        for _ in self._threads:
            self._events.put(None)
        with self._lock:
            functions = list(self._functions.values())
            self._functions.clear()
        for fn in functions:
            self._retire(fn)

    # --- moto hooks -----------------------------------------------------------------------

    def next_sequencer(self) -> str:
        with self._lock:
            self._sequence += 1
            return f"{time.time_ns():016X}{self._sequence:04X}"[-18:]

    def install(self) -> None:
        """Route moto's Lambda invocations and S3 notifications to this runtime."""
        from localaws import moto_patches

        moto_patches.route_lambda(self)
