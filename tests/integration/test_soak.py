"""A small soak against the embedded local stack, with transient faults injected into the real
handler's S3 and DynamoDB writes: nothing may be lost or duplicated, bad inputs end ``failed``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localaws import control
from tests.integration.conftest import stack_client
from verify.check import image_id
from verify.soak import dlq_sources, local_faults, run_soak

pytestmark = pytest.mark.integration


def test_soak_with_faults_loses_and_duplicates_nothing(local_stack_run: tuple[dict[str, Any], Path]) -> None:
    local_stack, state_dir = local_stack_run
    token = control.read_token(state_dir)
    before = local_faults(local_stack["endpoint_url"], token=token)["faults"]
    result = run_soak(
        local_stack,
        count=20,
        concurrency=8,
        timeout=180,
        faults="s3_put:0.15,ddb_put:0.15",
        settle_pause=0.5,
        control_token=token,
    )
    table = result.table()
    assert (result.sent, result.upload_errors) == (20, 0), table
    assert result.lost == 0 and result.duplicates == 0 and result.misclassified == 0, table
    assert result.done + result.failed + result.dlq == 20, table
    assert result.failed_expected == 1 and result.failed == 1, table  # the one deliberately bad input
    assert result.done + result.dlq == 19, table
    assert len(result.latencies_ms) == result.done and result.p95_ms is not None, table
    # The faults really were injected (≈20 invocations × several writes at 15%) ...
    assert sum(result.faults_injected.values()) > 0, table
    # ... and the stack's own fault setting is back as it was.
    assert local_faults(local_stack["endpoint_url"], token=token)["faults"] == before
    assert result.line().startswith("soak: sent=20 ")


def test_soak_counts_dlq_events_when_the_function_always_fails(
    local_stack_run: tuple[dict[str, Any], Path],
) -> None:
    local_stack, state_dir = local_stack_run
    prefix = "soak/dlq-test"
    result = run_soak(
        local_stack,
        count=3,
        concurrency=3,
        timeout=60,
        faults="handler_crash:1.0",
        prefix=prefix,
        settle_pause=0.2,
        control_token=control.read_token(state_dir),
    )
    sqs, s3 = stack_client(local_stack, "sqs"), stack_client(local_stack, "s3")
    try:
        table = result.table()
        assert (result.sent, result.dlq, result.lost, result.duplicates) == (3, 3, 0, 0), table
        assert result.line().startswith("soak: sent=3 done=0 failed=0 dlq=3 lost=0 duplicates=0 p50_ms=n/a")
    finally:
        # Leave the shared stack as found: drop this test's DLQ messages and kept sources.
        mine = set()
        for _ in range(10):
            messages = sqs.receive_message(
                QueueUrl=local_stack["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                sources = dlq_sources(message["Body"])
                if any(key.startswith(f"{prefix}/") for _, key, _ in sources):
                    mine.update(image_id(*s) for s in sources)
                    sqs.delete_message(
                        QueueUrl=local_stack["dlq_url"], ReceiptHandle=message["ReceiptHandle"]
                    )
                else:
                    sqs.change_message_visibility(
                        QueueUrl=local_stack["dlq_url"],
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
        versions = s3.list_object_versions(Bucket=local_stack["upload_bucket"], Prefix=f"{prefix}/")
        for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
            s3.delete_object(Bucket=local_stack["upload_bucket"], Key=v["Key"], VersionId=v["VersionId"])
    assert len(mine) == 3, json.dumps(sorted(mine))
