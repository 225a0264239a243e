"""localaws.access on an in-process moto server: role policies checked for watched credentials only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import authorization
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from localaws import access, client_args

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/items"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    admin = admin_client(url, "s3")
    for bucket in ("in-bucket", "out-bucket", "cache-bucket"):
        admin.create_bucket(Bucket=bucket)
    admin.put_object(Bucket="in-bucket", Key="a.txt", Body=b"a")
    admin_client(url, "dynamodb").create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    iam = admin_client(url, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::in-bucket/*", "arn:aws:s3:::cache-bucket/*"],
            },
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::in-bucket"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::out-bucket/*"},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": TABLE_ARN},
        ],
    }
    iam.put_role_policy(RoleName="fn", PolicyName="access", PolicyDocument=json.dumps(policy))
    yield url
    server.stop()


@pytest.fixture
def enforcer(monkeypatch: pytest.MonkeyPatch) -> access.Enforcer:
    """The hook installed for this test only (moto's original method restored afterwards)."""
    cls = authorization.ActionAuthenticatorMixin
    name = "_authenticate_and_authorize_action"
    monkeypatch.setattr(cls, name, cls.__dict__[name])
    monkeypatch.setattr(access, "_installed", None)
    e = access.Enforcer()
    access.install(e)
    return e


def admin_client(url: str, service: str) -> Any:
    return boto3.client(service, **client_args(url, REGION))


def role_session(url: str, e: access.Enforcer, watch: bool = True) -> Any:
    """A boto3 session as the function role (assumed like Lambda does); ``watch`` = IAM-checked."""
    creds = access.assume_role(url, REGION, "arn:aws:iam::123456789012:role/fn", "fn")
    if watch:
        e.watch(creds["AWS_ACCESS_KEY_ID"], "fn")
    return boto3.session.Session(
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )


def role_clients(url: str, e: access.Enforcer, watch: bool = True) -> tuple[Any, Any]:
    session = role_session(url, e, watch)
    return session.client("s3", endpoint_url=url), session.client("dynamodb", endpoint_url=url)


def code(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_s3_actions_are_checked_against_the_object_arn(endpoint: str, enforcer: access.Enforcer) -> None:
    s3, _ = role_clients(endpoint, enforcer)
    assert s3.get_object(Bucket="in-bucket", Key="a.txt")["Body"].read() == b"a"
    s3.head_object(Bucket="in-bucket", Key="a.txt")  # HeadObject needs s3:GetObject, as on AWS
    s3.put_object(Bucket="out-bucket", Key="v.txt", Body=b"v")
    assert code(lambda: s3.put_object(Bucket="in-bucket", Key="v.txt", Body=b"v")) == "AccessDenied"
    assert code(lambda: s3.get_object(Bucket="out-bucket", Key="v.txt")) == "AccessDenied"
    assert enforcer.denied == 2


def test_missing_key_is_404_only_with_list_bucket_like_s3(endpoint: str, enforcer: access.Enforcer) -> None:
    s3, _ = role_clients(endpoint, enforcer)
    assert code(lambda: s3.get_object(Bucket="in-bucket", Key="nope")) == "NoSuchKey"
    assert code(lambda: s3.head_object(Bucket="in-bucket", Key="nope")) == "404"
    # s3:GetObject alone: S3 does not reveal whether the key exists.
    assert code(lambda: s3.get_object(Bucket="cache-bucket", Key="nope")) == "AccessDenied"
    assert code(lambda: s3.head_object(Bucket="cache-bucket", Key="nope")) == "403"


def test_missing_version_or_deleted_key_is_404_only_with_list_bucket(
    endpoint: str, enforcer: access.Enforcer
) -> None:
    """A deleted version (or a key whose current version is a delete marker) is missing too: the
    processor and render roles read sources by version id and rely on that 404."""
    admin = admin_client(endpoint, "s3")
    versions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObjectVersion",
                "Resource": ["arn:aws:s3:::in-bucket/*", "arn:aws:s3:::cache-bucket/*"],
            }
        ],
    }
    admin_client(endpoint, "iam").put_role_policy(
        RoleName="fn", PolicyName="versions", PolicyDocument=json.dumps(versions)
    )
    found: dict[str, tuple[str, str]] = {}
    for bucket in ("in-bucket", "cache-bucket"):
        admin.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        kept = admin.put_object(Bucket=bucket, Key="v.jpg", Body=b"1")["VersionId"]
        gone = admin.put_object(Bucket=bucket, Key="v.jpg", Body=b"2")["VersionId"]
        admin.delete_object(Bucket=bucket, Key="v.jpg", VersionId=gone)  # that version is gone
        admin.put_object(Bucket=bucket, Key="marked.jpg", Body=b"x")
        admin.delete_object(Bucket=bucket, Key="marked.jpg")  # current version: a delete marker
        found[bucket] = (kept, gone)
    s3, _ = role_clients(endpoint, enforcer)
    # with s3:ListBucket: S3's own 404s
    kept, gone = found["in-bucket"]
    assert s3.get_object(Bucket="in-bucket", Key="v.jpg", VersionId=kept)["Body"].read() == b"1"
    assert code(lambda: s3.get_object(Bucket="in-bucket", Key="v.jpg", VersionId=gone)) == "NoSuchVersion"
    assert code(lambda: s3.get_object(Bucket="in-bucket", Key="marked.jpg")) == "NoSuchKey"
    # without it: 403, exactly where the object is missing
    kept, gone = found["cache-bucket"]
    assert s3.get_object(Bucket="cache-bucket", Key="v.jpg", VersionId=kept)["Body"].read() == b"1"
    assert code(lambda: s3.get_object(Bucket="cache-bucket", Key="v.jpg", VersionId=gone)) == "AccessDenied"
    assert code(lambda: s3.head_object(Bucket="cache-bucket", Key="v.jpg", VersionId=gone)) == "403"
    assert code(lambda: s3.get_object(Bucket="cache-bucket", Key="marked.jpg")) == "AccessDenied"


def test_keys_over_1024_bytes_are_refused_like_s3(endpoint: str, enforcer: access.Enforcer) -> None:
    admin = admin_client(endpoint, "s3")
    at_limit = "k/" + "é" * 511  # 2 + 1,022 bytes of UTF-8
    admin.put_object(Bucket="in-bucket", Key=at_limit, Body=b"x")
    assert admin.get_object(Bucket="in-bucket", Key=at_limit)["Body"].read() == b"x"
    with pytest.raises(ClientError) as info:
        admin.put_object(Bucket="in-bucket", Key=at_limit + "x", Body=b"x")  # 1,025 bytes
    assert info.value.response["Error"]["Code"] == "KeyTooLongError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # function roles too (and before the IAM check: the key is what is wrong)
    s3, _ = role_clients(endpoint, enforcer)
    assert code(lambda: s3.put_object(Bucket="out-bucket", Key="v" * 1025, Body=b"v")) == "KeyTooLongError"


def test_dynamodb_actions_are_checked_against_the_table_arn(endpoint: str, enforcer: access.Enforcer) -> None:
    _, ddb = role_clients(endpoint, enforcer)
    ddb.put_item(TableName="items", Item={"id": {"S": "1"}})
    assert ddb.get_item(TableName="items", Key={"id": {"S": "1"}})["Item"]["id"]["S"] == "1"
    update = lambda: ddb.update_item(  # noqa: E731
        TableName="items",
        Key={"id": {"S": "1"}},
        UpdateExpression="SET a = :a",
        ExpressionAttributeValues={":a": {"S": "x"}},
    )
    with pytest.raises(ClientError) as info:
        update()
    # JSON-protocol error shape, as DynamoDB answers: boto3 reads the code and the message.
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:UpdateItem" in info.value.response["Error"]["Message"]
    assert TABLE_ARN in info.value.response["Error"]["Message"]
    assert code(lambda: ddb.delete_table(TableName="items")) == "AccessDeniedException"


def test_kms_and_sqs_calls_are_checked_too(endpoint: str, enforcer: access.Enforcer) -> None:
    key_id = admin_client(endpoint, "kms").create_key()["KeyMetadata"]["KeyId"]
    queue = admin_client(endpoint, "sqs").create_queue(QueueName="dlq")["QueueUrl"]
    session = role_session(endpoint, enforcer)
    kms = session.client("kms", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    assert code(lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")) == "AccessDeniedException"
    assert code(lambda: sqs.send_message(QueueUrl=queue, MessageBody="x")) in (
        "AccessDeniedException",
        "AccessDenied",
    )
    # Allowed on exactly that key and queue (ARNs, as the program scopes them): both succeed.
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kms:GenerateDataKey",
                "Resource": f"arn:aws:kms:{REGION}:123456789012:key/{key_id}",
            },
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:{REGION}:123456789012:dlq",
            },
        ],
    }
    admin_client(endpoint, "iam").put_role_policy(
        RoleName="fn", PolicyName="kms-sqs", PolicyDocument=json.dumps(grant)
    )
    assert len(kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]) == 32
    assert sqs.send_message(QueueUrl=queue, MessageBody="x")["MessageId"]


def test_unwatched_and_disabled_credentials_are_not_checked(endpoint: str, enforcer: access.Enforcer) -> None:
    # The deployer / developer's dummy keys and sessions not started by the engine: moto's default.
    admin_client(endpoint, "s3").put_object(Bucket="in-bucket", Key="admin.txt", Body=b"x")
    s3, _ = role_clients(endpoint, enforcer, watch=False)
    s3.put_object(Bucket="in-bucket", Key="unwatched.txt", Body=b"x")
    enforcer.enabled = False
    s3, _ = role_clients(endpoint, enforcer)
    s3.put_object(Bucket="in-bucket", Key="off.txt", Body=b"x")
    assert enforcer.denied == 0


def test_json_request_resources() -> None:
    assert access.resources_for("dynamodb", REGION, {"TableName": "t", "IndexName": "i"}, "*") == [
        f"arn:aws:dynamodb:{REGION}:123456789012:table/t/index/i"
    ]
    assert access.resources_for("dynamodb", REGION, {"RequestItems": {"a": [], "b": []}}, "*") == [
        f"arn:aws:dynamodb:{REGION}:123456789012:table/a",
        f"arn:aws:dynamodb:{REGION}:123456789012:table/b",
    ]
    assert access.resources_for("kms", REGION, {"KeyId": "1234"}, "*") == [
        f"arn:aws:kms:{REGION}:123456789012:key/1234"
    ]
    assert access.resources_for("sqs", REGION, {}, "arn:aws:sqs:x") == ["arn:aws:sqs:x"]
