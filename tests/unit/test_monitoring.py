"""Monitoring: alarm topic CloudWatch can use, the four (+1) alarms on the right metrics and
dimensions, the dashboard's widgets, the dashboard URL output."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from components.monitoring import CUSTOM_METRICS, dashboard_url
from tests.unit.mocks import Graph, Recorded, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def ops(graph: Graph, resource_type: str) -> list[Recorded]:
    component = graph.one("imgpipe:index:Monitoring")
    return [r for r in graph.children(component) if r.type == resource_type]


def watched(graph: Graph) -> dict[str, Any]:
    fn = graph.one("aws:lambda/function:Function", "process")
    dlq = graph.one("aws:sqs/queue:Queue", "process")
    api = graph.one("aws:apigateway/restApi:RestApi")
    stage = graph.one("aws:apigateway/stage:Stage")
    return {
        "function": fn.state["name"],
        "dlq": dlq.state["name"],
        "api": api.state["name"],
        "stage": stage.inputs["stageName"],
    }


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(dev: Graph) -> None:
    [topic] = ops(dev, "aws:sns/topic:Topic")
    [key] = ops(dev, "aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    # AWS's documented statement for alarms → encrypted topic: no condition. CloudWatch's KMS calls
    # carry no aws:SourceAccount/aws:SourceArn, so a condition on them drops every notification.
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "Condition" not in cloudwatch
    # the explicit policy of every customer key (components/encryption_key.py): the account
    # administers it, and uses it only through SNS (no root kms:*)
    admin = statements["KeyAdministration"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "kms:Decrypt" not in admin["Action"] and "kms:*" not in admin["Action"]
    use = statements["UseThroughOwningService"]
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == "sns.us-east-1.amazonaws.com"
    [policy] = ops(dev, "aws:sns/topicPolicy:TopicPolicy")
    [publish] = json.loads(policy.inputs["policy"])["Statement"]
    assert (publish["Action"], publish["Resource"]) == ("sns:Publish", topic.state["arn"])
    # confused-deputy protection where AWS documents it: the topic policy, this stack's alarms only
    [suffix] = ops(dev, "random:index/randomId:RandomId")
    alarm_arns = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:imgpipe-dev-{suffix.state['hex']}-*"
    assert publish["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": alarm_arns},
    }
    for alarm in ops(dev, ALARM):
        assert fnmatch.fnmatchcase(alarm.state["arn"], alarm_arns), alarm.state["arn"]


def test_alarms_watch_the_right_metrics_and_notify_the_topic(dev: Graph) -> None:
    names = watched(dev)
    [topic] = ops(dev, "aws:sns/topic:Topic")
    alarms = {(a.inputs["namespace"], a.inputs["metricName"]): a for a in ops(dev, ALARM)}
    assert alarms.keys() == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/ApiGateway", "5XXError"),
        ("imgpipe", "ImagesFailed"),
    }
    assert alarms["AWS/Lambda", "Errors"].inputs["dimensions"] == {"FunctionName": names["function"]}
    assert alarms["AWS/Lambda", "Throttles"].inputs["dimensions"] == {"FunctionName": names["function"]}
    dlq_alarm = alarms["AWS/SQS", "ApproximateNumberOfMessagesVisible"]
    assert dlq_alarm.inputs["dimensions"] == {"QueueName": names["dlq"]}
    assert dlq_alarm.inputs["statistic"] == "Maximum"
    assert alarms["AWS/ApiGateway", "5XXError"].inputs["dimensions"] == {
        "ApiName": names["api"],
        "Stage": names["stage"],
    }
    assert alarms["imgpipe", "ImagesFailed"].inputs["dimensions"] == {"service": "imgpipe"}
    for alarm in alarms.values():
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm.inputs["threshold"] == 0
        assert alarm.inputs["alarmActions"] == [topic.state["arn"]]
        assert alarm.inputs["treatMissingData"] == "notBreaching"


def test_email_subscription_only_when_configured(dev: Graph, prod: Graph) -> None:
    assert ops(dev, "aws:sns/topicSubscription:TopicSubscription") == []
    [subscription] = ops(prod, "aws:sns/topicSubscription:TopicSubscription")
    [topic] = ops(prod, "aws:sns/topic:Topic")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "ops@example.com"
    assert subscription.inputs["topic"] == topic.state["arn"]


def _metrics(body: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str | None]]:
    """(namespace, metric, dimensions, stat) of every metric line of every widget."""
    found = []
    for widget in body["widgets"]:
        props = widget["properties"]
        for line in props["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            plain = line[:-1] if options else line
            namespace, metric, *dims = plain
            found.append(
                (
                    namespace,
                    metric,
                    dict(zip(dims[::2], dims[1::2], strict=True)),
                    options.get("stat", props.get("stat")),
                )
            )
    return found


def test_dashboard_shows_function_dlq_api_and_custom_metrics(dev: Graph) -> None:
    names = watched(dev)
    [dashboard] = ops(dev, "aws:cloudwatch/dashboard:Dashboard")
    [suffix] = ops(dev, "random:index/randomId:RandomId")
    assert dashboard.inputs["dashboardName"] == f"imgpipe-dev-{suffix.state['hex']}-pipeline"
    body = json.loads(dashboard.inputs["dashboardBody"])
    assert all(w["properties"]["region"] == dev.region for w in body["widgets"])
    metrics = _metrics(body)
    fn = {"FunctionName": names["function"]}
    api = {"ApiName": names["api"], "Stage": names["stage"]}
    custom = {"service": "imgpipe"}
    expected = [
        ("AWS/Lambda", "Invocations", fn, "Sum"),
        ("AWS/Lambda", "Errors", fn, "Sum"),
        ("AWS/Lambda", "Throttles", fn, "Sum"),
        ("AWS/Lambda", "Duration", fn, "p50"),
        ("AWS/Lambda", "Duration", fn, "p99"),
        ("AWS/Lambda", "ConcurrentExecutions", fn, "Maximum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": names["dlq"]}, "Maximum"),
        ("AWS/ApiGateway", "Count", api, "Sum"),
        ("AWS/ApiGateway", "4XXError", api, "Sum"),
        ("AWS/ApiGateway", "5XXError", api, "Sum"),
        ("AWS/ApiGateway", "Latency", api, "p50"),
        ("AWS/ApiGateway", "Latency", api, "p99"),
        ("imgpipe", "ImagesProcessed", custom, "Sum"),
        ("imgpipe", "ImagesFailed", custom, "Sum"),
        ("imgpipe", "ProcessingDuration", custom, "p50"),
        ("imgpipe", "ProcessingDuration", custom, "p99"),
    ]
    for line in expected:
        assert line in metrics, line
    assert {m for ns, m, _, _ in metrics if ns == "imgpipe"} == set(CUSTOM_METRICS)


def test_dashboard_url_output(dev: Graph) -> None:
    [dashboard] = ops(dev, "aws:cloudwatch/dashboard:Dashboard")
    assert dev.outputs["dashboard_url"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#dashboards:name={dashboard.inputs['dashboardName']}"
    )
    assert dashboard_url("eu-west-1", "x") == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=x"
    )


def test_monitoring_follows_the_region() -> None:
    graph = run_program({"aws:region": "eu-central-1"})
    assert graph.outputs["dashboard_url"].startswith("https://eu-central-1.console.aws.amazon.com/")
    [dashboard] = ops(graph, "aws:cloudwatch/dashboard:Dashboard")
    assert {w["properties"]["region"] for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]} == {
        "eu-central-1"
    }
