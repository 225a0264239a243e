"""KMS: customer managed keys and aliases."""

from __future__ import annotations

from typing import Any

from localaws.resources import Context, autoname, ignore_missing, prune, register, tags_list


@register("aws:kms/key:Key")
class Key:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = ctx.client("kms")
        args = prune(
            {
                "Description": inputs.get("description"),
                "KeyUsage": inputs.get("keyUsage"),
                "KeySpec": inputs.get("customerMasterKeySpec") or inputs.get("keySpec"),
                "Policy": inputs.get("policy"),
                "Tags": tags_list(inputs.get("tags"), "TagKey", "TagValue"),
            }
        )
        meta = kms.create_key(**args)["KeyMetadata"]
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        return meta["KeyId"], {**inputs, "keyId": meta["KeyId"], "arn": meta["Arn"]}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("kms").schedule_key_deletion(KeyId=rid, PendingWindowInDays=7),
            "KMSInvalidStateException",
        )


@register("aws:kms/alias:Alias")
class Alias:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        alias = autoname(inputs, f"alias/{name}", max_len=256)
        kms = ctx.client("kms")
        kms.create_alias(AliasName=alias, TargetKeyId=inputs["targetKeyId"])
        target = kms.describe_key(KeyId=inputs["targetKeyId"])["KeyMetadata"]["Arn"]
        return alias, {**inputs, "name": alias, "arn": ctx.arn("kms", alias), "targetKeyArn": target}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("kms").delete_alias(AliasName=rid))
