"""CloudWatch: log groups, dashboards, metric alarms."""

from __future__ import annotations

from typing import Any

from localaws.resources import Context, as_int, autoname, ignore_missing, prune, register, tags_list


@register("aws:cloudwatch/logGroup:LogGroup")
class LogGroup:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group = autoname(inputs, name, max_len=512)
        logs = ctx.client("logs")
        logs.create_log_group(
            **prune({"logGroupName": group, "kmsKeyId": inputs.get("kmsKeyId"), "tags": inputs.get("tags")})
        )
        days = as_int(inputs.get("retentionInDays"))
        if days:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        return group, {**inputs, "name": group, "arn": ctx.arn("logs", f"log-group:{group}")}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("logs").delete_log_group(logGroupName=rid))


@register("aws:cloudwatch/dashboard:Dashboard")
class Dashboard:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        dash = inputs.get("dashboardName") or name
        ctx.client("cloudwatch").put_dashboard(DashboardName=dash, DashboardBody=inputs["dashboardBody"])
        return dash, {
            **inputs,
            "dashboardName": dash,
            "dashboardArn": ctx.arn("cloudwatch", f"dashboard/{dash}", region=False),
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("cloudwatch").delete_dashboards(DashboardNames=[rid]))


def _metric_query(q: dict[str, Any]) -> dict[str, Any]:
    stat = q.get("metric")
    out = prune(
        {
            "Id": q["id"],
            "Expression": q.get("expression"),
            "Label": q.get("label"),
            "ReturnData": q.get("returnData"),
            "Period": as_int(q.get("period")),
        }
    )
    if stat:
        out["MetricStat"] = prune(
            {
                "Metric": prune(
                    {
                        "Namespace": stat.get("namespace"),
                        "MetricName": stat["metricName"],
                        "Dimensions": [
                            {"Name": k, "Value": v} for k, v in (stat.get("dimensions") or {}).items()
                        ],
                    }
                ),
                "Period": as_int(stat.get("period")),
                "Stat": stat.get("stat"),
                "Unit": stat.get("unit"),
            }
        )
    return out


@register("aws:cloudwatch/metricAlarm:MetricAlarm")
class MetricAlarm:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        alarm = autoname(inputs, name, max_len=255)
        args = prune(
            {
                "AlarmName": alarm,
                "AlarmDescription": inputs.get("alarmDescription"),
                "ActionsEnabled": inputs.get("actionsEnabled", True),
                "AlarmActions": inputs.get("alarmActions"),
                "OKActions": inputs.get("okActions"),
                "InsufficientDataActions": inputs.get("insufficientDataActions"),
                "MetricName": inputs.get("metricName"),
                "Namespace": inputs.get("namespace"),
                "Statistic": inputs.get("statistic"),
                "ExtendedStatistic": inputs.get("extendedStatistic"),
                "Dimensions": [{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()],
                "Period": as_int(inputs.get("period")),
                "Unit": inputs.get("unit"),
                "EvaluationPeriods": as_int(inputs.get("evaluationPeriods")),
                "DatapointsToAlarm": as_int(inputs.get("datapointsToAlarm")),
                "Threshold": inputs.get("threshold"),
                "ComparisonOperator": inputs.get("comparisonOperator"),
                "TreatMissingData": inputs.get("treatMissingData"),
                "Metrics": [_metric_query(q) for q in inputs.get("metricQueries") or []],
                "Tags": tags_list(inputs.get("tags")),
            }
        )
        ctx.client("cloudwatch").put_metric_alarm(**args)
        return alarm, {**inputs, "name": alarm, "arn": ctx.arn("cloudwatch", f"alarm:{alarm}")}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        ignore_missing(lambda: ctx.client("cloudwatch").delete_alarms(AlarmNames=[rid]))
