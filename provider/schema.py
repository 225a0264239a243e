"""Start the provider the way the Pulumi engine does and ask it for its package schema.

The engine runs ``python provider/__main__.py <engine address>``, reads the port the provider
prints on its first line of stdout and talks gRPC to it (``pulumi.runtime.proto`` stubs).
``GetPluginInfo`` and ``GetSchema`` need no engine behind that address, so this works offline.

    python -m provider.schema           # rewrite provider/schema.json (what `make schema` runs)
    python -m provider.schema --check   # exit 1 if provider/schema.json is not current

The tests (tests/provider/) use :func:`running_provider` too; it always stops the process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAIN = HERE / "__main__.py"
SCHEMA_FILE = HERE / "schema.json"
# Starting imports pulumi_aws (a few seconds of CPU); generous for a machine shared by many jobs.
START_TIMEOUT = 120.0
CALL_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class ProviderStartError(RuntimeError):
    """The provider exited or printed no port in time (the message has its stderr)."""


@dataclass
class RunningProvider:
    """A provider process that printed its port, and a gRPC stub connected to it."""

    process: subprocess.Popen[bytes]
    port: int
    stub: provider_pb2_grpc.ResourceProviderStub

    def plugin_info(self) -> plugin_pb2.PluginInfo:
        return self.stub.GetPluginInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)

    def schema(self) -> dict[str, Any]:
        response = self.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=CALL_TIMEOUT)
        schema: dict[str, Any] = json.loads(response.schema)
        return schema


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(stderr: IO[bytes], limit: int = 4000) -> str:
    stderr.seek(0)
    return stderr.read().decode(errors="replace")[-limit:]


def _read_port(process: subprocess.Popen[bytes], stderr: IO[bytes], timeout: float) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderStartError(f"no port from {MAIN} within {timeout:.0f} s; stderr:\n{_tail(stderr)}")
        ready, _, _ = select.select([process.stdout], [], [], min(remaining, 1.0))
        if not ready:
            continue
        line = process.stdout.readline()
        if not line:  # EOF: the provider exited before it served
            process.wait(timeout=STOP_TIMEOUT)
            raise ProviderStartError(
                f"{MAIN} exited with {process.returncode} before printing its port; stderr:\n{_tail(stderr)}"
            )
        text = line.decode(errors="replace").strip()
        if text.isdigit():
            return int(text)
        raise ProviderStartError(f"{MAIN} printed {text!r} where the engine expects its port")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def running_provider(
    python: str = sys.executable, cwd: Path | None = None, timeout: float = START_TIMEOUT
) -> Iterator[RunningProvider]:
    """Run the provider as the engine does (cwd: the plugin directory unless given) and yield
    it; the process is terminated (killed if it must be) however the block ends."""
    # Nothing listens there: the calls made here need no engine, and the provider only dials it
    # for Construct.
    engine = f"127.0.0.1:{unused_port()}"
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [python, str(MAIN), engine], cwd=cwd or HERE, stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            port = _read_port(process, stderr, timeout)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT)
                yield RunningProvider(process, port, provider_pb2_grpc.ResourceProviderStub(channel))
        finally:
            _stop(process)


def render(schema: dict[str, Any]) -> str:
    """The committed form: the provider's schema as it answers it, indented, one final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if provider/schema.json is not current")
    args = parser.parse_args(argv)
    with running_provider() as provider:
        text = render(provider.schema())
    relative = SCHEMA_FILE.relative_to(ROOT)
    if args.check:
        if SCHEMA_FILE.exists() and SCHEMA_FILE.read_text() == text:
            print(f"{relative} is current")
            return 0
        print(f"{relative} is not what the provider serves: run `make schema` and commit it", file=sys.stderr)
        return 1
    SCHEMA_FILE.write_text(text)
    schema = json.loads(text)
    print(f"wrote {relative}: {len(schema['resources'])} components, {len(schema['types'])} types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
