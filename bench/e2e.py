"""The end-to-end row: one upload on a local stack, from ``put_object`` to the ``done`` record.

    python -m bench.e2e IMAGE [--repeats 3] [--burst 16]

Brings up the embedded local AWS (``python -m localaws up`` in a temporary state directory, no
faults), warms the function's worker with one small upload (a cold start is reported, not
compared: Lambda keeps a warm container too), then uploads ``IMAGE`` ``--repeats`` times under new
keys. Per upload:

* ``e2e_ms``: from the start of ``put_object`` until a consistent ``GetItem`` first sees the
  item ``done`` (polled every 5 ms);
* ``handler_ms``: the item's own ``duration_ms`` (the handler's time, S3 reads and writes included).

``e2e_overhead_ratio`` = median e2e ÷ median handler time: what the local engine adds (event
delivery, hand-off to the worker, recording) on top of the work. A burst of ``--burst`` small
uploads then measures the stack's throughput in images per second per core, next to the ideal
(one image per handler-CPU-second per core, from the handler's own ``duration_ms``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.005


def _localaws(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMGPIPE_LOCAL_FAULTS": ""}
    return subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _small_jpeg(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (seed * 37 % 256, seed * 91 % 256, 128)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


class _Stack:
    def __init__(self, outputs: dict[str, Any]) -> None:
        import boto3

        from localaws import client_args

        args = client_args(outputs["endpoint_url"], outputs["region"])
        self.bucket = outputs["upload_bucket"]
        self.table = outputs["metadata_table"]
        self.s3 = boto3.client("s3", **args)
        self.ddb = boto3.client("dynamodb", **args)

    def upload(self, key: str, body: bytes) -> tuple[str, float]:
        from function.events import image_id

        start = time.perf_counter()
        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="image/jpeg")
        return image_id(self.bucket, key, put.get("VersionId")), start

    def wait_done(self, img_id: str, timeout: float = 300.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.ddb.get_item(
                TableName=self.table, Key={"image_id": {"S": img_id}}, ConsistentRead=True
            ).get("Item")
            status = (item or {}).get("status", {}).get("S")
            if status == "done":
                assert item is not None
                return time.perf_counter(), item
            if status == "failed":
                raise RuntimeError(f"bench upload {img_id} failed: {item}")
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"bench upload {img_id} was not done after {timeout:.0f} s")


def _one(stack: _Stack, key: str, body: bytes) -> dict[str, float]:
    img_id, start = stack.upload(key, body)
    seen, item = stack.wait_done(img_id)
    return {"e2e_ms": (seen - start) * 1000, "handler_ms": float(item["duration_ms"]["N"])}


def measure(
    image: Path, repeats: int = 3, burst: int = 16, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    say = log or (lambda _msg: None)
    body = image.read_bytes()
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-e2e-") as tmp:
        state = Path(tmp)
        up = _localaws(state, "up")
        if up.returncode != 0:
            _localaws(state, "down")
            raise RuntimeError(f"bench e2e: local stack did not come up:\n{up.stdout}\n{up.stderr}")
        try:
            stack = _Stack(json.loads((state / "outputs.json").read_text()))
            say("e2e: warm-up upload")
            cold = _one(stack, "bench/warm-up.jpg", _small_jpeg(0))
            runs = []
            for rep in range(repeats):
                say(f"e2e: upload {rep + 1}/{repeats}")
                runs.append(_one(stack, f"bench/e2e-{rep}.jpg", body))
            say(f"e2e: burst of {burst}")
            started = time.perf_counter()
            pending = [stack.upload(f"bench/burst-{i}.jpg", _small_jpeg(i + 1))[0] for i in range(burst)]
            handler_ms = [float(stack.wait_done(img_id)[1]["duration_ms"]["N"]) for img_id in pending]
            burst_s = time.perf_counter() - started
        finally:
            _localaws(state, "down")
    cores = os.cpu_count() or 1
    e2e = statistics.median(r["e2e_ms"] for r in runs)
    handler = statistics.median(r["handler_ms"] for r in runs)
    ideal = 1000 / statistics.median(handler_ms) if handler_ms and statistics.median(handler_ms) > 0 else None
    return {
        "image": image.name,
        "repeats": repeats,
        "e2e_ms": round(e2e, 1),
        "handler_ms": round(handler, 1),
        "e2e_overhead_ratio": round(e2e / handler, 3) if handler > 0 else None,
        "first_upload_cold": {k: round(v, 1) for k, v in cold.items()},
        "runs": runs,
        "burst": {
            "images": burst,
            "seconds": round(burst_s, 3),
            "cores": cores,
            "images_per_s_per_core": round(burst / burst_s / cores, 3),
            "ideal_images_per_s_per_core": None if ideal is None else round(ideal, 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--burst", type=int, default=16)
    args = parser.parse_args(argv)
    print(
        json.dumps(
            measure(args.image, args.repeats, args.burst, lambda m: print(m, file=sys.stderr)), indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
