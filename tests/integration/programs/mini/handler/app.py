"""Test handler: copies each uploaded object to the output bucket and records one item per version.

Fails on purpose for keys under ``fail/`` (to exercise retries and the dead-letter queue).
"""

import os
from urllib.parse import unquote_plus

import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        if key.startswith("fail/"):
            raise RuntimeError(f"refusing {key}")
        version = record["s3"]["object"].get("versionId", "")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=os.environ["OUTPUT_BUCKET"], Key=f"copy/{key}", Body=body)
        table.put_item(
            Item={
                "id": f"{bucket}/{key}@{version}",
                "key": key,
                "version": version,
                "sequencer": record["s3"]["object"]["sequencer"],
                "function": context.function_name,
            }
        )
    return {"ok": True}
