"""``run_soak`` and ``python -m verify.soak`` against moto, with a stand-in processor.

The stand-in pins what the soak *measures* (items, DLQ events, variant objects, clean-up); the
real handler under injected faults is soaked in ``tests/integration/test_soak.py``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from tests.data_stores import create_data_stores, stack_outputs
from verify.check import image_id
from verify.soak import main, run_soak

REGION = "eu-west-1"
Behaviour = Callable[[str, str, str], str]
"""(key, version, image id) → what the stand-in does: done, failed, dlq, lose, duplicate."""


@pytest.fixture
def stack() -> Iterator[dict[str, str]]:
    with mock_aws():
        create_data_stores(REGION, "up-bucket", "out-bucket", "meta", version_processed=True)
        dlq = boto3.client("sqs", region_name=REGION).create_queue(QueueName="dlq")["QueueUrl"]
        yield stack_outputs(REGION, dlq_url=dlq)


def _process(key: str, version: str, behaviour: Behaviour, dlq_url: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    table = boto3.resource("dynamodb", region_name=REGION).Table("meta")
    img_id = image_id("up-bucket", key, version)
    action = behaviour(key, version, img_id)
    now = datetime.now(UTC).isoformat()
    item: dict[str, Any] = {"image_id": img_id, "source_bucket": "up-bucket", "source_key": key}
    if action == "lose":
        return
    if action == "dlq":  # retries exhausted: a processing item and the event in the DLQ
        table.put_item(Item={**item, "status": "processing", "created_at": now})
        event = {
            "Records": [
                {
                    "s3": {
                        "bucket": {"name": "up-bucket"},
                        "object": {"key": quote_plus(key, safe="/"), "versionId": version},
                    }
                }
            ]
        }
        boto3.client("sqs", region_name=REGION).send_message(QueueUrl=dlq_url, MessageBody=json.dumps(event))
        return
    data = s3.get_object(Bucket="up-bucket", Key=key, VersionId=version)["Body"].read()
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as e:  # the stand-in's "permanent input error"
        table.put_item(Item={**item, "status": "failed", "error": str(e) or "empty", "processed_at": now})
        return
    stem = key.rsplit(".", 1)[0]
    for variant in ("compressed", "thumbnail"):
        s3.put_object(Bucket="out-bucket", Key=f"{stem}_{variant}_{img_id}.jpg", Body=b"jpeg")
        if action == "rewrite":  # a retried invocation re-puts the same key: a new version, same set
            s3.put_object(Bucket="out-bucket", Key=f"{stem}_{variant}_{img_id}.jpg", Body=b"jpeg")
    table.put_item(Item={**item, "status": "done", "processed_at": now})
    if action == "duplicate":  # a second item and variant set under another id for the same upload
        other = "f" * 16
        table.put_item(Item={**item, "image_id": other, "status": "done", "processed_at": now})
        s3.put_object(Bucket="out-bucket", Key=f"{stem}_compressed_{other}.jpg", Body=b"jpeg")


@pytest.fixture
def processor(stack: dict[str, str]) -> Iterator[Callable[[Behaviour], None]]:
    """Start a stand-in pipeline that reacts to new upload versions with a chosen behaviour."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def loop(behaviour: Behaviour) -> None:
        s3 = boto3.client("s3", region_name=REGION)
        seen: set[str] = set()
        while not stop.wait(0.05):
            paginator = s3.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket="up-bucket"):
                for version in page.get("Versions", []):
                    if version["VersionId"] not in seen:
                        seen.add(version["VersionId"])
                        _process(version["Key"], version["VersionId"], behaviour, stack["dlq_url"])

    def start(behaviour: Behaviour) -> None:
        thread = threading.Thread(target=loop, args=(behaviour,), daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def test_clean_pipeline_settles_counts_and_cleans_up(
    stack: dict[str, str], processor: Callable[[Behaviour], None]
) -> None:
    processor(lambda key, version, img_id: "rewrite" if key.endswith("0003-ok.jpg") else "done")
    result = run_soak(stack, count=12, concurrency=4, timeout=30, settle_pause=0.1)
    assert result.ok, result.table()
    assert (result.sent, result.done, result.failed, result.failed_expected) == (12, 11, 1, 1)
    assert (result.dlq, result.lost, result.duplicates, result.misclassified) == (0, 0, 0, 0)
    assert result.variant_rewrites == 2  # both variants of 0003 were put twice: not duplicates
    assert len(result.latencies_ms) == 11 and all(ms >= 0 for ms in result.latencies_ms)
    assert result.line().startswith("soak: sent=12 done=11 failed=1 dlq=0 lost=0 duplicates=0 p50_ms=")
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.list_object_versions(Bucket="up-bucket").get("Versions", []) == []
    assert s3.list_object_versions(Bucket="out-bucket").get("Versions", []) == []
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName="meta")["Count"] == 0


def test_dlq_lost_and_duplicates_are_counted_and_dlq_left_for_redrive(
    stack: dict[str, str], processor: Callable[[Behaviour], None]
) -> None:
    actions = {"0001-ok.jpg": "dlq", "0004-ok.jpg": "lose", "0006-ok.jpg": "duplicate"}
    processor(lambda key, version, img_id: actions.get(key.rsplit("/", 1)[1], "done"))
    # The lost upload makes the soak wait its whole timeout; 2 s was too short for the other nine
    # to settle on a loaded machine (they were counted lost too), 6 s leaves room.
    result = run_soak(stack, count=10, concurrency=3, timeout=6, settle_pause=0.1)
    assert (result.sent, result.done, result.failed, result.dlq, result.lost) == (10, 7, 1, 1, 1)
    assert result.duplicates == 1 and not result.ok
    assert any("LOST" in d and "0004-ok.jpg" in d for d in result.details)
    assert any("DUPLICATE" in d and "0006-ok.jpg" in d for d in result.details)
    # The DLQ message was only looked at: it is visible again for `make redrive` ...
    sqs = boto3.client("sqs", region_name=REGION)
    attrs = sqs.get_queue_attributes(QueueUrl=stack["dlq_url"], AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"
    # ... and its source object was kept so redrive can reprocess it.
    keys = [
        v["Key"]
        for v in boto3.client("s3", region_name=REGION)
        .list_object_versions(Bucket="up-bucket")
        .get("Versions", [])
    ]
    assert len(keys) == 1 and keys[0].endswith("0001-ok.jpg")


def test_cli_prints_the_table_and_ends_with_the_soak_line(
    stack: dict[str, str],
    processor: Callable[[Behaviour], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    processor(lambda key, version, img_id: "done")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack))
    code = main(
        ["--outputs", str(outputs), "--count", "6", "--concurrency", "2", "--timeout", "30", "--no-up"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert lines[-1].startswith("soak: sent=6 done=5 failed=1 dlq=0 lost=0 duplicates=0 p50_ms=")
    assert sum(1 for line in lines if line.startswith("soak: sent=")) == 1
    assert "misclassified" in out and "latency p95" in out


def test_cli_exit_1_when_uploads_are_lost(
    stack: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack))  # nothing processes the uploads
    code = main(["--outputs", str(outputs), "--count", "3", "--timeout", "0.5", "--no-up"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.strip().splitlines()[-1] == (
        "soak: sent=3 done=0 failed=0 dlq=0 lost=3 duplicates=0 p50_ms=n/a p95_ms=n/a"
    )


def test_cli_without_local_stack_and_no_up_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--outputs", str(tmp_path / "missing.json"), "--no-up", "--faults", "s3_put:0.1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "IMGPIPE_LOCAL_FAULTS=s3_put:0.1 make up" in err and "make soak" in err
