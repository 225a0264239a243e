"""The local engine itself, on its own small program: deploy, S3 events, retries, DLQ, redrive, down.

The real program's behaviour (variants, metadata, API) is in test_engine_pipeline.py,
test_verify.py and test_api_local.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import PROGRAMS, localaws
from tests.integration.conftest import stack_client as client

pytestmark = pytest.mark.integration


def wait_for(fn: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def items(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    return client(outputs, "dynamodb").scan(TableName=outputs["table"])["Items"]


def dlq_messages(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    return (
        client(outputs, "sqs")
        .receive_message(
            QueueUrl=outputs["dlq_url"],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        )
        .get("Messages", [])
    )


def test_s3_event_runs_the_deployed_handler_with_the_aws_event_shape(
    mini_stack: tuple[dict[str, Any], Path],
) -> None:
    outputs, _ = mini_stack
    s3 = client(outputs, "s3")
    key = "dir/a photo+1.txt"
    put = s3.put_object(Bucket=outputs["upload_bucket"], Key=key, Body=b"hello")
    item = wait_for(lambda: [i for i in items(outputs) if i["key"]["S"] == key], "the item")[0]
    # versionId and sequencer are filled in like real S3 does for versioned buckets.
    assert item["version"]["S"] == put["VersionId"]
    assert len(item["sequencer"]["S"]) >= 16
    assert item["function"]["S"] == outputs["function_name"]
    copy = s3.get_object(Bucket=outputs["output_bucket"], Key=f"copy/{key}")["Body"].read()
    assert copy == b"hello"


def test_secret_output_is_unwrapped_in_the_outputs_file(mini_stack: tuple[dict[str, Any], Path]) -> None:
    outputs, state_dir = mini_stack
    assert outputs["token"] == "s3cret"
    state = json.loads((state_dir / "state.json").read_text())
    types = [r["type"] for r in state["resources"]]
    assert types.index("aws:iam/role:Role") < types.index("aws:lambda/function:Function")
    assert types.index("aws:lambda/permission:Permission") < types.index(
        "aws:s3/bucketNotification:BucketNotification"
    )


def test_tls_only_deny_is_skipped_locally_and_said_so(mini_stack: tuple[dict[str, Any], Path]) -> None:
    _, state_dir = mini_stack
    log = (state_dir / "engine.log").read_text()
    assert "not applying 1 aws:SecureTransport Deny statement(s) locally" in log


def test_failing_handler_retries_then_dead_letters_the_event_intact_then_redrive(
    mini_stack: tuple[dict[str, Any], Path],
) -> None:
    outputs, state_dir = mini_stack
    s3 = client(outputs, "s3")
    key = "fail/broken.txt"
    put = s3.put_object(Bucket=outputs["upload_bucket"], Key=key, Body=b"x")
    message = wait_for(lambda: dlq_messages(outputs), "the DLQ message")[0]
    event = json.loads(message["Body"])
    obj = event["Records"][0]["s3"]["object"]
    assert obj["key"] == "fail%2Fbroken.txt" and obj["versionId"] == put["VersionId"]
    assert "refusing fail/broken.txt" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    log = (state_dir / "engine.log").read_text()
    # FunctionEventInvokeConfig maximum_retry_attempts=1 → two attempts in all.
    assert "failed after 2 attempt(s): RuntimeError: refusing fail/broken.txt" in log
    # Still failing: redrive keeps the message.
    redrive = localaws(state_dir, "redrive")
    assert redrive.returncode == 1 and "1 still failing (kept)" in redrive.stdout, (
        redrive.stdout + redrive.stderr
    )


def test_handler_crash_fault_then_redrive_reprocesses(mini_stack: tuple[dict[str, Any], Path]) -> None:
    outputs, state_dir = mini_stack
    # Leave only this test's message in the queue.
    sqs = client(outputs, "sqs")
    sqs.purge_queue(QueueUrl=outputs["dlq_url"])
    assert localaws(state_dir, "faults", "handler_crash:1.0").returncode == 0
    try:
        key = "crash/ok.txt"
        client(outputs, "s3").put_object(Bucket=outputs["upload_bucket"], Key=key, Body=b"y")
        wait_for(lambda: dlq_messages(outputs), "the DLQ message")
        assert not [i for i in items(outputs) if i["key"]["S"] == key]
    finally:
        assert localaws(state_dir, "faults", "").returncode == 0
    redrive = localaws(state_dir, "redrive")
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    assert "1 message(s), 1 reprocessed and deleted, 0 still failing" in redrive.stdout
    assert [i for i in items(outputs) if i["key"]["S"] == key]
    assert not dlq_messages(outputs)


def test_transient_s3_and_dynamodb_faults_are_retried(mini_stack: tuple[dict[str, Any], Path]) -> None:
    outputs, state_dir = mini_stack
    # 30 uploads x 2 writes at 15%: no fault at all has odds 0.85**60 < 0.01%. A lost event needs
    # the SDK's retries (S3 3 tries, DynamoDB 4) to fail in both Lambda attempts: ~0.004**2 per
    # event, < 0.1% for the run (10 uploads at 30% lost one now and then: ~3%).
    assert localaws(state_dir, "faults", "s3_put:0.15,ddb_put:0.15").returncode == 0
    try:
        keys = [f"flaky/{i}.txt" for i in range(30)]
        for key in keys:
            client(outputs, "s3").put_object(Bucket=outputs["upload_bucket"], Key=key, Body=b"z")
        wait_for(
            lambda: {i["key"]["S"] for i in items(outputs)} >= set(keys),
            "all items despite faults",
            timeout=90,
        )
        injected = json.loads(localaws(state_dir, "faults").stdout)["injected"]
    finally:
        localaws(state_dir, "faults", "")
    assert injected.get("s3_put", 0) + injected.get("ddb_put", 0) > 0


def test_missing_role_permission_fails_the_invocation_like_aws(
    mini_stack: tuple[dict[str, Any], Path],
) -> None:
    """The readonly function's role lacks s3:PutObject: its write is refused, its read allowed."""
    outputs, state_dir = mini_stack
    key = "iam/probe.txt"
    put = client(outputs, "s3").put_object(Bucket=outputs["upload_bucket"], Key=key, Body=b"p")
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": outputs["upload_bucket"]},
                    "object": {"key": key, "versionId": put["VersionId"], "sequencer": "00"},
                },
            }
        ]
    }
    answer = client(outputs, "lambda").invoke(
        FunctionName=outputs["readonly_function_name"], Payload=json.dumps(event).encode()
    )
    assert answer.get("FunctionError") == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] in ("ClientError", "AccessDenied")  # botocore's class for the code
    assert "AccessDenied" in error["errorMessage"] and "PutObject" in error["errorMessage"]
    # The engine log names the denied call, the way CloudTrail would.
    log = (state_dir / "engine.log").read_text()
    denied = f"iam: {outputs['readonly_function_name']} denied s3:PutObject on arn:aws:s3:::"
    assert f"{denied}{outputs['output_bucket']}/copy/{key}" in log
    # The same upload's notification runs the main function, whose role allows the write.
    wait_for(lambda: [i for i in items(outputs) if i["key"]["S"] == key], "the allowed function's item")


def test_second_up_is_refused_while_running(mini_stack: tuple[dict[str, Any], Path]) -> None:
    _, state_dir = mini_stack
    again = localaws(state_dir, "up", "--program", str(PROGRAMS / "mini"))
    assert again.returncode == 1
    assert "already running" in again.stderr


def test_status_reports_the_running_stack(mini_stack: tuple[dict[str, Any], Path]) -> None:
    outputs, state_dir = mini_stack
    status = localaws(state_dir, "status")
    assert status.returncode == 0 and outputs["endpoint_url"] in status.stdout


def test_versions_and_delete_markers_are_left_for_down(mini_stack: tuple[dict[str, Any], Path]) -> None:
    """Two versions and a delete marker in the versioned upload bucket: the session fixture's
    `down` (conftest.check_down) must still remove every bucket."""
    outputs, _ = mini_stack
    s3 = client(outputs, "s3")
    for body in (b"1", b"2"):
        s3.put_object(Bucket=outputs["upload_bucket"], Key="v.txt", Body=body)
    wait_for(lambda: [i for i in items(outputs) if i["key"]["S"] == "v.txt"], "an item")
    s3.delete_object(Bucket=outputs["upload_bucket"], Key="v.txt")
    listing = s3.list_object_versions(Bucket=outputs["upload_bucket"], Prefix="v.txt")
    assert len(listing.get("Versions", [])) == 2 and len(listing.get("DeleteMarkers", [])) == 1


def test_unknown_resource_type_is_a_clear_error_and_nothing_is_left(tmp_path: Path) -> None:
    up = localaws(tmp_path, "up", "--program", str(PROGRAMS / "unknown"))
    assert up.returncode == 1
    out = up.stdout + up.stderr
    assert "cannot create resource type 'aws:ec2/vpc:Vpc' (resource 'network')" in out
    assert "- aws:s3/bucket:Bucket" in out  # what was created is removed again
    assert not (tmp_path / "state.json").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMGPIPE_LOCAL_FAULTS": "s3_pot:0.1"}, "unknown fault 's3_pot'"),
        ({"IMGPIPE_LOCAL_IAM": "maybe"}, "IMGPIPE_LOCAL_IAM='maybe': use on (the default) or off"),
        ({"IMGPIPE_LOCAL_RETRY_DELAYS": "1,soon"}, "use comma-separated seconds >= 0"),
    ],
)
def test_bad_settings_are_refused_before_starting(tmp_path: Path, env: dict[str, str], message: str) -> None:
    up = localaws(tmp_path, "up", "--program", str(PROGRAMS / "mini"), env=env)
    assert up.returncode == 1
    assert message in up.stderr
    assert not (tmp_path / "engine.log").exists()


def test_state_is_private_and_the_control_endpoint_needs_the_token(
    mini_stack: tuple[dict[str, Any], Path],
) -> None:
    """`up` wrote the token 0600; files holding the API key are 0600 in a 0700 dir; the fault
    control refuses calls without the token (401) or with another (403), and other Host names."""
    import stat
    import urllib.error
    import urllib.request

    from localaws import control
    from localaws.faults import CONTROL_PATH

    outputs, state_dir = mini_stack
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for name in ("outputs.json", "state.json", control.TOKEN_FILE):
        assert stat.S_IMODE((state_dir / name).stat().st_mode) == 0o600, name
    url = outputs["endpoint_url"] + CONTROL_PATH
    port = outputs["endpoint_url"].rsplit(":", 1)[1]
    for headers, status in (
        ({}, 401),
        ({control.TOKEN_HEADER: "not-the-token"}, 403),
        ({control.TOKEN_HEADER: control.read_token(state_dir), "Host": f"rebound.example:{port}"}, 403),
    ):
        request = urllib.request.Request(url, data=b"handler_crash:1", headers=headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == status, headers
    status = json.loads(localaws(state_dir, "faults").stdout)
    assert status["faults"] == "none"  # none of the refused calls changed anything
