"""SNS: the alarm topic and its subscriptions."""

from __future__ import annotations

from typing import Any

from localaws.resources import Context, autoname, ignore_missing, prune, register, tags_list


@register("aws:sns/topic:Topic")
class Topic:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        topic = autoname(inputs, name, max_len=256)
        attrs = prune(
            {"KmsMasterKeyId": inputs.get("kmsMasterKeyId"), "DisplayName": inputs.get("displayName")}
        )
        if inputs.get("fifoTopic"):
            attrs["FifoTopic"] = "true"
        arn = ctx.client("sns").create_topic(
            **prune({"Name": topic, "Attributes": attrs, "Tags": tags_list(inputs.get("tags"))})
        )["TopicArn"]
        return arn, {**inputs, "name": topic, "arn": arn}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("sns").delete_topic(TopicArn=rid))


@register("aws:sns/topicSubscription:TopicSubscription")
class TopicSubscription:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = ctx.client("sns").subscribe(
            TopicArn=inputs["topic"],
            Protocol=inputs["protocol"],
            Endpoint=inputs["endpoint"],
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {**inputs, "arn": arn}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        if rid.startswith("arn:"):
            ignore_missing(lambda: ctx.client("sns").unsubscribe(SubscriptionArn=rid))


@register("aws:sns/topicPolicy:TopicPolicy")
class TopicPolicy:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ctx.client("sns").set_topic_attributes(
            TopicArn=inputs["arn"], AttributeName="Policy", AttributeValue=inputs["policy"]
        )
        return inputs["arn"], dict(inputs)

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        return None  # goes with the topic
