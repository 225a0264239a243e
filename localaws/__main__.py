"""``python -m localaws up|down|status|redrive|faults``: the local stack as a background service.

``up`` starts a detached engine process (moto server + the deployed program + the function
runtime + the API stage server), streams its progress until the deploy finishes, and leaves it
running; its state is in ``.local/`` (``outputs.json`` = the stack outputs + ``endpoint_url``,
``state.json`` = pid, endpoint, resources in creation order, ``engine.log``, ``control-token`` =
what the control endpoints need; the first three are 0600, in a 0700 directory: see
``localaws/control.py``). ``down`` asks it to destroy everything in reverse order and stop. Other
files in ``.local/`` (the contact sheet) stay.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from localaws import client_args, control

STATE = "state.json"
OUTPUTS = "outputs.json"
LOG = "engine.log"
READY = "READY"
FAILED = "FAILED"
ENGINE_FILES = (STATE, OUTPUTS, control.TOKEN_FILE)


def _forget_engine(state_dir: Path) -> None:
    """Remove the files that say an engine runs here (``status`` and ``down`` read them)."""
    for name in ENGINE_FILES:
        (state_dir / name).unlink(missing_ok=True)


def shown(key: str, value: Any, secret: set[str]) -> Any:
    """An output as printed: secrets hidden, and the API key in ``gallery_url``'s fragment too
    (the engine's output goes to ``.local/engine.log``; the key stays in ``outputs.json``)."""
    if key in secret:
        return "[secret]"
    if key == "gallery_url" and isinstance(value, str) and "#" in value:
        return value.split("#", 1)[0] + "#key=[secret]"
    return value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours (tests run `up` in-process) counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATE).read_text())
    except (OSError, ValueError):
        return None


def _running(state_dir: Path) -> dict[str, Any] | None:
    state = _read_state(state_dir)
    if state and _alive(int(state.get("pid", 0))):
        return state
    return None


# --- the engine process ---------------------------------------------------------------------


def _iam_setting() -> bool:
    """``IMGPIPE_LOCAL_IAM``: ``on`` (default) checks each function's calls against its role."""
    value = os.environ.get("IMGPIPE_LOCAL_IAM", "on").strip().lower() or "on"
    if value not in ("on", "off"):
        raise ValueError(f"IMGPIPE_LOCAL_IAM={value!r}: use on (the default) or off")
    return value == "on"


def serve(args: argparse.Namespace) -> int:
    """Runs in the detached process: deploy, write state, serve until SIGTERM, then destroy."""
    from localaws.engine import LocalEngine
    from localaws.faults import FaultSpecError

    state_dir = Path(args.state_dir).resolve()

    def say(line: str) -> None:
        print(line, flush=True)

    # A plain flag, not threading.Event: Event.set() from a signal handler deadlocks when the
    # signal lands while the main thread holds the Event's lock inside wait() (seen on `down`
    # sent right after READY).
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: stopping.append(signum))
    try:
        engine = LocalEngine(
            program_dir=Path(args.program),
            state_dir=state_dir,
            stack=args.stack,
            fault_spec=os.environ.get("IMGPIPE_LOCAL_FAULTS", ""),
            port=args.port,
            say=say,
            enforce_iam=_iam_setting(),
            # `up` wrote it; an engine started some other way makes its own
            control_token=control.read_token(state_dir) or control.new_token(state_dir),
        )
    except (FaultSpecError, ValueError) as e:
        say(f"error: {e}")
        say(FAILED)
        return 1
    t0 = time.monotonic()
    endpoint = engine.start()
    say(f"local AWS (moto) on {endpoint}; API stages on {engine.ctx.stage_base_url if engine.ctx else '?'}")
    say(f"deploying {engine.program_dir / '__main__.py'} (stack {args.stack}) into it:")
    try:
        outputs = engine.deploy()
    except Exception as e:
        say(f"error: {e}")
        engine.settle()
        if engine.created:
            say("cleaning up what was created:")
            engine.destroy()
        engine.stop()
        say(FAILED)
        return 1
    # both hold the API key (outputs directly, state in the API key resource's attributes)
    control.write_private(state_dir / OUTPUTS, json.dumps(outputs, indent=2) + "\n")
    state = {"pid": os.getpid(), "port": int(endpoint.rsplit(":", 1)[1]), **engine.state()}
    control.write_private(state_dir / STATE, json.dumps(state, indent=2) + "\n")
    say(f"\nResources: {len(engine.created)} created in {time.monotonic() - t0:.1f} s")
    say("\nOutputs:")
    secret: set[str] = getattr(engine, "secret_outputs", set())
    for key, value in outputs.items():
        say(f"    {key:<18}: {shown(key, value, secret)}")
    if engine.faults.probabilities:
        say(f"\nfault injection on: {engine.faults.describe()}")
    say(
        "IAM: each function's calls are checked against its role's policies (IMGPIPE_LOCAL_IAM=off: not)"
        if engine.enforce_iam
        else "IAM: not enforced (IMGPIPE_LOCAL_IAM=off)"
    )
    say(READY)
    while not stopping:
        time.sleep(0.1)
    say("\ndestroying the local stack:")
    left = engine.destroy()
    engine.stop()
    if engine.enforce_iam:
        say(f"IAM: {engine.enforcer.checked} function call(s) checked, {engine.enforcer.denied} denied")
    say("left behind: " + ", ".join(f"{v} {k}" for k, v in left.items()))
    _forget_engine(state_dir)
    say("local stack stopped")
    # Everything is stopped and written: skip joining the idle server and SDK threads at
    # interpreter exit (~1.5 s that `down` would wait for).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --- commands -------------------------------------------------------------------------------


def _follow(
    log: Path, offset: int, proc_alive: Any, until: tuple[str, ...], timeout_s: float
) -> tuple[str, int]:
    """Print the log from ``offset`` as it grows, until a line in ``until`` or the process ends."""
    deadline = time.monotonic() + timeout_s
    buffer = b""
    with open(log, "rb") as f:
        f.seek(offset)
        while time.monotonic() < deadline:
            chunk = f.read()
            if chunk:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode(errors="replace")
                    if line in until:
                        return line, f.tell()
                    print(line, flush=True)
            elif not proc_alive():
                return "", f.tell()
            else:
                time.sleep(0.05)
    return "timeout", offset


def up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    running = _running(state_dir)
    if running:
        print(
            f"a local stack is already running (pid {running['pid']}, endpoint {running['endpoint_url']}); "
            "use it, or `make down` first",
            file=sys.stderr,
        )
        return 1
    from localaws.faults import FaultSpecError, parse
    from localaws.functions import retry_delays

    try:
        parse(os.environ.get("IMGPIPE_LOCAL_FAULTS", ""))
        _iam_setting()
        retry_delays(os.environ.get("IMGPIPE_LOCAL_RETRY_DELAYS"))
    except (FaultSpecError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    control.private_dir(state_dir)
    _forget_engine(state_dir)  # stale files from a killed engine
    control.new_token(state_dir)  # the control endpoints' token, 0600 (localaws/control.py)
    log = state_dir / LOG
    log.write_bytes(b"")
    t0 = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localaws",
                "--state-dir",
                str(state_dir),
                "_serve",
                "--program",
                str(Path(args.program).resolve()),
                "--stack",
                args.stack,
                "--port",
                str(args.port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the shell that ran `make up`
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    marker, _ = _follow(log, 0, lambda: proc.poll() is None, (READY, FAILED), args.timeout)
    if marker != READY:
        if proc.poll() is None:
            proc.terminate()
        print(f"local stack failed to start ({marker or 'engine exited'}); full log: {log}", file=sys.stderr)
        return 1
    outputs = json.loads((state_dir / OUTPUTS).read_text())
    elapsed = time.monotonic() - t0
    print(f"\nlocal stack up in {elapsed:.1f} s (pid {proc.pid}); outputs in {state_dir / OUTPUTS}")
    aws = f"aws --endpoint-url {outputs['endpoint_url']}"
    print("try:")
    print(f"    {aws} s3 cp photo.jpg s3://{outputs.get('upload_bucket', '<bucket>')}/")
    if outputs.get("processed_bucket"):
        print(f"    {aws} s3 ls s3://{outputs['processed_bucket']}/ --recursive")
    print("    make verify    # upload-and-verify;  make down  # destroy and stop")
    gallery = outputs.get("gallery_url")
    if gallery:
        # The full link (with the key in its fragment) only on an interactive terminal, never
        # into a log or CI output; outputs.json (mode 0600) always has it.
        if sys.stdout.isatty():
            print(f"gallery (opens authorised): {gallery}")
        else:
            masked = shown("gallery_url", gallery, set())
            print(f"gallery: {masked}  (full link: gallery_url in {state_dir / OUTPUTS})")
    print("(the AWS CLI needs any credentials: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)")
    return 0


def down(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    state = _read_state(state_dir)
    if not state:
        print("no local stack running (nothing to do)")
        return 0
    pid = int(state["pid"])
    log = state_dir / LOG
    if not _alive(pid):
        print(f"the local engine (pid {pid}) is not running any more; removing its stale state")
        _forget_engine(state_dir)
        return 0
    offset = log.stat().st_size if log.exists() else 0
    os.kill(pid, signal.SIGTERM)
    _follow(log, offset, lambda: _alive(pid), (), args.timeout)
    if _alive(pid):
        print(f"the engine did not stop within {args.timeout:.0f} s; killing pid {pid}", file=sys.stderr)
        os.kill(pid, signal.SIGKILL)
        _forget_engine(state_dir)
        return 1
    return 0


def status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    state = _running(state_dir)
    if not state:
        print("no local stack running (`make up` starts one)")
        return 3
    outputs = json.loads((state_dir / OUTPUTS).read_text())
    print(
        f"local stack running: pid {state['pid']}, endpoint {state['endpoint_url']}, stack {state['stack']}"
    )
    print(
        f"{len(state['resources'])} resources; faults: {state.get('faults', 'none')}; "
        f"IAM: {state.get('iam', 'off')}"
    )
    for key, value in outputs.items():
        print(f"    {key:<18}: {shown(key, value, {'api_key'})}")
    try:
        import boto3

        sqs = boto3.client("sqs", **client_args(state["endpoint_url"], outputs.get("region", "us-east-1")))
        if outputs.get("dlq_url"):
            attrs = sqs.get_queue_attributes(
                QueueUrl=outputs["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            print(f"dead-letter queue: {attrs['ApproximateNumberOfMessages']} message(s) (`make redrive`)")
    except Exception as e:
        print(f"(could not read the dead-letter queue: {e})")
    return 0


def _clients(state_dir: Path) -> tuple[dict[str, Any], Any, Any]:
    import boto3
    from botocore.config import Config

    state = _running(state_dir)
    if not state:
        raise SystemExit("no local stack running: `make up` first")
    outputs = json.loads((state_dir / OUTPUTS).read_text())
    kwargs = client_args(state["endpoint_url"], outputs.get("region", "us-east-1"))
    lam = boto3.client("lambda", config=Config(read_timeout=900, retries={"max_attempts": 1}), **kwargs)
    return outputs, boto3.client("sqs", **kwargs), lam


def redrive_messages(outputs: dict[str, Any], sqs: Any, lam: Any, say: Any = print) -> tuple[int, int]:
    """Re-invoke the function with each DLQ message's event; delete it when the run succeeds."""
    url = outputs.get("dlq_url")
    if not url:
        raise SystemExit("the stack has no dlq_url output")
    function = outputs["function_name"]
    done = failed = 0
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for m in fresh:
            seen.add(m["MessageId"])
            body = json.loads(m["Body"])
            # An on-failure destination record wraps the event; a DeadLetterConfig message is the event.
            event = body.get("requestPayload", body) if isinstance(body, dict) else body
            resp = lam.invoke(
                FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event)
            )
            payload = resp["Payload"].read().decode()
            if resp.get("FunctionError"):
                failed += 1
                say(f"    still failing, left in the queue: {payload[:200]}")
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                done += 1
    return done, failed


def redrive(args: argparse.Namespace) -> int:
    outputs, sqs, lam = _clients(Path(args.state_dir).resolve())
    done, failed = redrive_messages(outputs, sqs, lam)
    print(
        f"redrive: {done + failed} message(s), {done} reprocessed and deleted, {failed} still failing (kept)"
    )
    return 0 if failed == 0 else 1


def faults(args: argparse.Namespace) -> int:
    import urllib.request

    state = _running(Path(args.state_dir).resolve())
    if not state:
        print("no local stack running: `make up` first", file=sys.stderr)
        return 1
    from localaws.faults import CONTROL_PATH

    url = state["endpoint_url"] + CONTROL_PATH
    data = None if args.spec is None else args.spec.encode()
    headers = {control.TOKEN_HEADER: control.read_token(Path(args.state_dir).resolve())}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(
                url, data=data, headers=headers, method="POST" if data is not None else "GET"
            )
        ) as r:
            print(r.read().decode())
    except urllib.error.HTTPError as e:
        print(e.read().decode(), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", default=os.environ.get("IMGPIPE_LOCAL_DIR", ".local"))
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="deploy the program into a background local AWS")
    p_serve = sub.add_parser("_serve", help=argparse.SUPPRESS)
    for p in (p_up, p_serve):
        p.add_argument("--program", default=".", help="directory with __main__.py and Pulumi.yaml")
        p.add_argument("--stack", default="dev", help="config from Pulumi.<stack>.yaml (default dev)")
        p.add_argument("--port", type=int, default=0, help="moto port (default: a free one)")
    p_up.add_argument("--timeout", type=float, default=180.0)
    p_down = sub.add_parser("down", help="destroy the local stack and stop it")
    p_down.add_argument("--timeout", type=float, default=120.0)
    sub.add_parser("status", help="is a local stack running?")
    sub.add_parser("redrive", help="reprocess the dead-letter queue's messages")
    p_faults = sub.add_parser("faults", help="show or set fault injection (e.g. s3_put:0.1,handler_crash:1)")
    p_faults.add_argument("spec", nargs="?", default=None)
    args = parser.parse_args(argv)
    commands = {
        "up": up,
        "_serve": serve,
        "down": down,
        "status": status,
        "redrive": redrive,
        "faults": faults,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
