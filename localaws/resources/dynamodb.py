"""DynamoDB: tables with GSIs, CMK encryption, PITR, TTL and deletion protection."""

from __future__ import annotations

from typing import Any

from localaws.resources import Context, as_int, autoname, ignore_missing, prune, register, tags_list


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _throughput(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "ProvisionedThroughput": {
            "ReadCapacityUnits": as_int(item.get("readCapacity")) or 1,
            "WriteCapacityUnits": as_int(item.get("writeCapacity")) or 1,
        }
    }


@register("aws:dynamodb/table:Table")
class Table:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        table = autoname(inputs, name, max_len=255)
        billing = inputs.get("billingMode") or "PROVISIONED"
        ondemand = billing == "PAY_PER_REQUEST"
        gsis = []
        for g in inputs.get("globalSecondaryIndexes") or []:
            projection = prune(
                {
                    "ProjectionType": g.get("projectionType", "ALL"),
                    "NonKeyAttributes": g.get("nonKeyAttributes"),
                }
            )
            gsis.append(
                {
                    "IndexName": g["name"],
                    "KeySchema": _key_schema(g["hashKey"], g.get("rangeKey")),
                    "Projection": projection,
                    **({} if ondemand else _throughput(g)),
                }
            )
        sse = inputs.get("serverSideEncryption") or {}
        args = prune(
            {
                "TableName": table,
                "BillingMode": billing,
                "AttributeDefinitions": [
                    {"AttributeName": a["name"], "AttributeType": a["type"]}
                    for a in inputs.get("attributes") or []
                ],
                "KeySchema": _key_schema(inputs["hashKey"], inputs.get("rangeKey")),
                "GlobalSecondaryIndexes": gsis,
                "SSESpecification": prune(
                    {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": sse.get("kmsKeyArn")}
                )
                if sse.get("enabled")
                else None,
                "StreamSpecification": {"StreamEnabled": True, "StreamViewType": inputs["streamViewType"]}
                if inputs.get("streamEnabled")
                else None,
                "DeletionProtectionEnabled": bool(inputs.get("deletionProtectionEnabled")),
                "TableClass": inputs.get("tableClass"),
                "Tags": tags_list(inputs.get("tags")),
            }
        )
        if not ondemand:
            args.update(_throughput(inputs))
        ddb = ctx.client("dynamodb")
        desc = ddb.create_table(**args)["TableDescription"]
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            ddb.update_continuous_backups(
                TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        ttl = inputs.get("ttl") or {}
        if ttl.get("enabled") and ttl.get("attributeName"):
            ddb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
            )
        return table, {
            **inputs,
            "name": table,
            "arn": desc["TableArn"],
            "streamArn": desc.get("LatestStreamArn"),
            "streamLabel": desc.get("LatestStreamLabel"),
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ddb = ctx.client("dynamodb")
        if state.get("deletionProtectionEnabled"):
            # `pulumi destroy` would stop here on AWS; the local stack is disposable.
            ctx.say(f"    note: turning off deletion protection of table {rid} to remove the local stack")
            ignore_missing(lambda: ddb.update_table(TableName=rid, DeletionProtectionEnabled=False))
        ignore_missing(lambda: ddb.delete_table(TableName=rid))
