"""Lambda: layer versions, functions, permissions and async invoke configs."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from localaws.resources import Context, as_int, autoname, ignore_missing, prune, register
from localaws.resources.archives import archive_zip


def _code(ctx: Context, inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs.get("code") is not None:
        return {"ZipFile": archive_zip(inputs["code"], ctx.program_dir)}
    if inputs.get("s3Bucket"):
        return prune(
            {
                "S3Bucket": inputs["s3Bucket"],
                "S3Key": inputs["s3Key"],
                "S3ObjectVersion": inputs.get("s3ObjectVersion"),
            }
        )
    raise ValueError(
        "a Lambda resource needs `code` (an archive) or `s3_bucket`/`s3_key` for the local stack"
    )


def _hash(code: dict[str, Any]) -> str:
    data = code.get("ZipFile", b"")
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@register("aws:lambda/layerVersion:LayerVersion")
class LayerVersion:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        layer = inputs.get("layerName") or name
        code = _code(ctx, inputs)
        out = ctx.client("lambda").publish_layer_version(
            **prune(
                {
                    "LayerName": layer,
                    "Description": inputs.get("description"),
                    "Content": code,
                    "CompatibleRuntimes": inputs.get("compatibleRuntimes"),
                    "CompatibleArchitectures": inputs.get("compatibleArchitectures"),
                    "LicenseInfo": inputs.get("licenseInfo"),
                }
            )
        )
        arn = out["LayerVersionArn"]
        return arn, {
            **inputs,
            "layerName": layer,
            "arn": arn,
            "layerArn": out["LayerArn"],
            "version": str(out["Version"]),
            "codeSha256": _hash(code),
            "sourceCodeHash": _hash(code),
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        layer_arn, version = rid.rsplit(":", 1)
        ignore_missing(
            lambda: ctx.client("lambda").delete_layer_version(LayerName=layer_arn, VersionNumber=int(version))
        )


@register("aws:lambda/function:Function")
class Function:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fn = autoname(inputs, name)
        code = _code(ctx, inputs)
        env = (inputs.get("environment") or {}).get("variables") or {}
        logging = inputs.get("loggingConfig") or {}
        dlq = (inputs.get("deadLetterConfig") or {}).get("targetArn")
        args = prune(
            {
                "FunctionName": fn,
                "Runtime": inputs.get("runtime"),
                "Role": inputs["role"],
                "Handler": inputs.get("handler"),
                "Code": code,
                "Description": inputs.get("description"),
                "Timeout": as_int(inputs.get("timeout")) or 3,
                "MemorySize": as_int(inputs.get("memorySize")) or 128,
                "Publish": bool(inputs.get("publish")),
                "Environment": {"Variables": {k: str(v) for k, v in env.items()}} if env else None,
                "Layers": inputs.get("layers"),
                "Architectures": inputs.get("architectures"),
                "DeadLetterConfig": {"TargetArn": dlq} if dlq else None,
                "TracingConfig": {"Mode": inputs["tracingConfig"]["mode"]}
                if inputs.get("tracingConfig")
                else None,
                "LoggingConfig": prune(
                    {
                        "LogFormat": logging.get("logFormat"),
                        "ApplicationLogLevel": logging.get("applicationLogLevel"),
                        "SystemLogLevel": logging.get("systemLogLevel"),
                        "LogGroup": logging.get("logGroup"),
                    }
                ),
                "Tags": inputs.get("tags"),
            }
        )
        out = ctx.client("lambda").create_function(**args)
        if inputs.get("reservedConcurrentExecutions") not in (None, -1, -1.0):
            ctx.client("lambda").put_function_concurrency(
                FunctionName=fn, ReservedConcurrentExecutions=as_int(inputs["reservedConcurrentExecutions"])
            )
        if dlq:
            ctx.dead_letters[fn] = dlq
        if ctx.on_function_created:
            ctx.on_function_created(fn)
        arn = out["FunctionArn"]
        version = out.get("Version", "$LATEST")
        invoke = f"arn:aws:apigateway:{ctx.region}:lambda:path/2015-03-31/functions"
        return fn, {
            **inputs,
            "name": fn,
            "arn": arn,
            "qualifiedArn": f"{arn}:{version}",
            "invokeArn": f"{invoke}/{arn}/invocations",
            "qualifiedInvokeArn": f"{invoke}/{arn}:{version}/invocations",
            "version": version,
            "sourceCodeHash": _hash(code),
            "codeSha256": out.get("CodeSha256"),
            "lastModified": out.get("LastModified"),
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        if ctx.on_function_deleted:
            ctx.on_function_deleted(rid)
        ctx.dead_letters.pop(rid, None)
        ignore_missing(lambda: ctx.client("lambda").delete_function(FunctionName=rid))


@register("aws:lambda/permission:Permission")
class Permission:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sid = autoname(inputs, name, key="statementId", max_len=100)
        ctx.client("lambda").add_permission(
            **prune(
                {
                    "FunctionName": inputs["function"],
                    "StatementId": sid,
                    "Action": inputs["action"],
                    "Principal": inputs["principal"],
                    "SourceArn": inputs.get("sourceArn"),
                    "SourceAccount": inputs.get("sourceAccount"),
                    "Qualifier": inputs.get("qualifier"),
                }
            )
        )
        return f"{inputs['function']}|{sid}", {**inputs, "statementId": sid}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        fn, sid = rid.split("|", 1)
        ignore_missing(lambda: ctx.client("lambda").remove_permission(FunctionName=fn, StatementId=sid))


@register("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
class EventInvokeConfig:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fn = inputs["functionName"].split(":function:")[-1].split(":")[0]
        dest = inputs.get("destinationConfig") or {}
        on_failure = (dest.get("onFailure") or {}).get("destination")
        on_success = (dest.get("onSuccess") or {}).get("destination")
        args = prune(
            {
                "FunctionName": fn,
                "Qualifier": inputs.get("qualifier"),
                "MaximumRetryAttempts": as_int(inputs.get("maximumRetryAttempts")),
                "MaximumEventAgeInSeconds": as_int(inputs.get("maximumEventAgeInSeconds")),
                "DestinationConfig": prune(
                    {
                        "OnFailure": {"Destination": on_failure} if on_failure else None,
                        "OnSuccess": {"Destination": on_success} if on_success else None,
                    }
                ),
            }
        )
        ctx.client("lambda").put_function_event_invoke_config(**args)
        return fn, dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("lambda").delete_function_event_invoke_config(FunctionName=rid))
