"""SQS: queues (the function's dead-letter queue) and queue policies."""

from __future__ import annotations

from typing import Any, ClassVar

from localaws.resources import Context, autoname, ignore_missing, prune, register

_ATTRS = {
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "redrivePolicy": "RedrivePolicy",
    "policy": "Policy",
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
}


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@register("aws:sqs/queue:Queue")
class Queue:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        queue = autoname(inputs, name, max_len=80)
        if inputs.get("fifoQueue") and not queue.endswith(".fifo"):
            queue += ".fifo"
        attrs = {out: _attr(inputs[k]) for k, out in _ATTRS.items() if inputs.get(k) not in (None, "")}
        if attrs.get("FifoQueue") == "false":
            del attrs["FifoQueue"]
        sqs = ctx.client("sqs")
        url = sqs.create_queue(
            **prune({"QueueName": queue, "Attributes": attrs, "tags": inputs.get("tags")})
        )["QueueUrl"]
        return url, {**inputs, "name": queue, "url": url, "arn": ctx.arn("sqs", queue)}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("sqs").delete_queue(QueueUrl=rid), "AWS.SimpleQueueService.NonExistentQueue"
        )


class _QueueAttribute:
    """A queue-level setting resource: one queue attribute set from one input (id = queue URL)."""

    attribute: ClassVar[str]
    input: ClassVar[str]

    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ctx.client("sqs").set_queue_attributes(
            QueueUrl=inputs["queueUrl"], Attributes={self.attribute: inputs[self.input]}
        )
        return inputs["queueUrl"], dict(inputs)


@register("aws:sqs/queuePolicy:QueuePolicy")
class QueuePolicy(_QueueAttribute):
    attribute, input = "Policy", "policy"

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(
            lambda: ctx.client("sqs").set_queue_attributes(QueueUrl=rid, Attributes={"Policy": ""}),
            "AWS.SimpleQueueService.NonExistentQueue",
        )


@register("aws:sqs/redrivePolicy:RedrivePolicy")
class RedrivePolicy(_QueueAttribute):
    attribute, input = "RedrivePolicy", "redrivePolicy"

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        return None  # goes with the queue
