"""Monitoring: the operator's view of the pipeline — one dashboard, alarms, an SNS topic.

Its own component rather than part of ImageProcessor because it watches *several* components
(the function, its dead-letter queue and the UploadApi's stage): inside ImageProcessor it would
have to know about the API, and the processor would stop being reusable without it. Here the
wiring is explicit in ``__main__.py`` and an operator finds every alarm under one node.

Custom metrics come from the handler through Powertools Metrics (EMF log lines, no API calls):
namespace ``imgpipe``, dimension ``service=imgpipe``: ``ImagesProcessed``, ``ImagesFailed``
(Count), ``ProcessingDuration`` (Milliseconds), ``SourceBytes`` (Bytes).
"""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi import Input, Output, ResourceOptions

from components.encryption_key import customer_key
from components.iam import policy_document
from components.naming import physical_base
from components.package import component_type, from_inputs, package_options

METRICS_NAMESPACE = "imgpipe"
SERVICE = "imgpipe"
CUSTOM_METRICS = ("ImagesProcessed", "ImagesFailed", "ProcessingDuration", "SourceBytes")


def dashboard_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}"


@dataclass
class MonitoringArgs:
    """What to watch and whom to tell."""

    function_name: Input[str]
    """The image function (AWS/Lambda ``FunctionName``)."""
    dlq_name: Input[str]
    """Its dead-letter queue (AWS/SQS ``QueueName``)."""
    api_name: Input[str]
    """The REST API's name (AWS/ApiGateway ``ApiName``)."""
    api_stage: Input[str]
    """The API stage (AWS/ApiGateway ``Stage``)."""
    alarm_email: str | None = None
    """Subscribe this address to the alarm topic (it must confirm the subscription mail)."""
    period_seconds: int = 300
    """Alarm evaluation period for Lambda and API metrics."""


class Monitoring(pulumi.ComponentResource):
    """SNS alarm topic (own CMK CloudWatch may use), alarms, CloudWatch dashboard.

    Attributes: ``topic_arn``, ``dashboard_name``, ``dashboard_url`` (``Output[str]``) and
    ``alarms`` (name → ``aws.cloudwatch.MetricAlarm``).
    """

    topic_arn: Output[str]
    """The SNS topic the alarms notify."""
    dashboard_name: Output[str]
    """The CloudWatch dashboard name."""
    dashboard_url: Output[str]
    """Console URL of the dashboard."""

    def __init__(self, name: str, args: MonitoringArgs, opts: ResourceOptions | None = None) -> None:
        args = from_inputs(MonitoringArgs, args)  # a dict when constructed through the package
        super().__init__(
            component_type("Monitoring"), name, None, package_options("imgpipe:ops:Monitoring", opts)
        )
        child = ResourceOptions(parent=self)
        account = aws.get_caller_identity_output().account_id
        region = aws.get_region_output().region
        # Alarm and dashboard names are unique per account and region (components/naming.py):
        # both carry this suffix, so a second deployment of the same stack name cannot take them.
        self.suffix = random.RandomId(f"{name}-suffix", byte_length=3, opts=child)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        base = self.suffix.hex.apply(lambda hex_: physical_base(project, stack, hex_))

        # The AWS managed SNS key does not let CloudWatch encrypt: alarms would never arrive.
        # The CloudWatch statement is AWS's documented one for alarms publishing to an encrypted
        # topic, without conditions: CloudWatch's KMS calls do not carry aws:SourceAccount or
        # aws:SourceArn, and such a condition silently drops every alarm notification.
        # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
        # https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
        # Confused-deputy protection lives on the topic policy below, where AWS documents it.
        cloudwatch_publishes = {
            "sid": "CloudWatchAlarmsPublish",
            "actions": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "resources": ["*"],  # in a key policy: this key
            "principals": [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}],
        }
        # Administration and use through SNS come from customer_key's explicit policy (no root kms:*).
        self.key = customer_key(
            name, self, encrypts="alarm topic", service="sns", statements=[cloudwatch_publishes]
        )
        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=self.key.arn, opts=child)
        # Only this stack's alarms (by name prefix) in this account may publish: aws:SourceArn and
        # aws:SourceAccount are what CloudWatch's sns:Publish carries.
        # https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
        topic_policy = policy_document(
            [
                {
                    "sid": "CloudWatchAlarmsPublish",
                    "actions": ["sns:Publish"],
                    "resources": [self.topic.arn],
                    "principals": [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}],
                    "conditions": [
                        {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [account]},
                        {
                            "test": "ArnLike",
                            "variable": "aws:SourceArn",
                            "values": [
                                Output.concat(
                                    "arn:aws:cloudwatch:", region, ":", account, ":alarm:", base, "-*"
                                )
                            ],
                        },
                    ],
                }
            ]
        )
        aws.sns.TopicPolicy(f"{name}-alarms-policy", arn=self.topic.arn, policy=topic_policy, opts=child)
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )

        actions = [self.topic.arn]

        def alarm(
            suffix: str,
            description: str,
            namespace: str,
            metric: str,
            dimensions: dict[str, Input[str]],
            statistic: str = "Sum",
            period: int = args.period_seconds,
        ) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{suffix}",
                name=Output.concat(base, "-", suffix),
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=period,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                # no traffic is not a problem
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
            )

        fn = {"FunctionName": args.function_name}
        api = {"ApiName": args.api_name, "Stage": args.api_stage}
        self.alarms = {
            "function-errors": alarm(
                "function-errors",
                "imgpipe function runs failed (each is retried, then dead-lettered)",
                "AWS/Lambda",
                "Errors",
                fn,
            ),
            "function-throttles": alarm(
                "function-throttles",
                "imgpipe function throttled: raise reservedConcurrency or the quota",
                "AWS/Lambda",
                "Throttles",
                fn,
            ),
            "dlq-not-empty": alarm(
                "dlq-not-empty",
                "uploads gave up after retries: inspect the DLQ, fix, then `make redrive`",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": args.dlq_name},
                statistic="Maximum",
                period=60,
            ),
            "api-5xx": alarm(
                "api-5xx",
                "the upload/metadata API answered 5xx",
                "AWS/ApiGateway",
                "5XXError",
                api,
            ),
            "images-failed": alarm(
                "images-failed",
                "uploads recorded as failed (bad input: see the item's error)",
                METRICS_NAMESPACE,
                "ImagesFailed",
                {"service": SERVICE},
            ),
        }

        body = Output.all(args.function_name, args.dlq_name, args.api_name, args.api_stage, region).apply(
            lambda v: json.dumps(dashboard_body(*v))
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=Output.concat(base, "-pipeline"),
            dashboard_body=body,
            opts=child,
        )
        self.dashboard_name = self.dashboard.dashboard_name
        self.topic_arn = self.topic.arn
        self.dashboard_url = Output.all(region, self.dashboard.dashboard_name).apply(
            lambda v: dashboard_url(v[0], v[1])
        )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "dashboard_name": self.dashboard_name,
                "dashboard_url": self.dashboard_url,
            }
        )


def dashboard_body(
    function_name: str, dlq_name: str, api_name: str, stage: str, region: str
) -> dict[str, Any]:
    """The CloudWatch dashboard JSON: function health, DLQ, API, and the handler's own metrics."""
    fn = ["FunctionName", function_name]

    def widget(x: int, y: int, title: str, metrics: list[list[Any]], stat: str = "Sum", **extra: Any) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stacked": False,
                "stat": stat,
                "period": 300,
                "metrics": metrics,
                **extra,
            },
        }

    def sums(namespace: str, metrics: tuple[str, ...], dims: list[Any]) -> list[list[Any]]:
        return [[namespace, metric, *dims] for metric in metrics]

    def p50_p99(namespace: str, metric: str, dims: list[Any]) -> list[list[Any]]:
        return [[namespace, metric, *dims, {"stat": p, "label": p}] for p in ("p50", "p99")]

    api = ["ApiName", api_name, "Stage", stage]
    custom = ["service", SERVICE]
    return {
        "widgets": [
            widget(
                0,
                0,
                "Lambda invocations, errors, throttles",
                sums("AWS/Lambda", ("Invocations", "Errors", "Throttles"), fn),
            ),
            widget(
                12,
                0,
                "Lambda duration p50 / p99 (ms)",
                p50_p99("AWS/Lambda", "Duration", fn),
                stat="p50",
            ),
            widget(
                0,
                6,
                "Concurrent executions",
                [
                    ["AWS/Lambda", "ConcurrentExecutions", *fn, {"stat": "Maximum"}],
                ],
                stat="Maximum",
            ),
            widget(
                12,
                6,
                "Dead-letter queue depth",
                [
                    [
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        dlq_name,
                        {"stat": "Maximum"},
                    ],
                ],
                stat="Maximum",
            ),
            widget(
                0,
                12,
                "API requests, 4XX, 5XX",
                sums("AWS/ApiGateway", ("Count", "4XXError", "5XXError"), api),
            ),
            widget(
                12,
                12,
                "API latency p50 / p99 (ms)",
                p50_p99("AWS/ApiGateway", "Latency", api),
                stat="p50",
            ),
            widget(
                0,
                18,
                "Images processed / failed",
                sums(METRICS_NAMESPACE, ("ImagesProcessed", "ImagesFailed"), custom),
            ),
            widget(
                12,
                18,
                "Processing duration p50 / p99 (ms) and source size",
                [
                    *p50_p99(METRICS_NAMESPACE, "ProcessingDuration", custom),
                    [METRICS_NAMESPACE, "SourceBytes", *custom, {"stat": "Average", "yAxis": "right"}],
                ],
                stat="p50",
            ),
        ]
    }
