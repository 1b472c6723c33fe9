"""Read every kind of CloudWatch alarm notification into one model.

Two shapes reach the alarm bridge: the classic message CloudWatch publishes to
SNS (``AlarmName``, ``Trigger``...) and the EventBridge "CloudWatch Alarm State
Change" / "Configuration Change" events some teams route through SNS. Four
kinds of alarm hide in them: single metric, metric math, anomaly detection and
composite. ``parse_alarm`` returns ``None`` for anything that is not an alarm,
so the caller can render it as a generic message instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chalicelib import boundedjson
from chalicelib.console import partition_of

# SNS alarm messages name regions in words; console links need the code.
REGION_NAMES = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Africa (Cape Town)": "af-south-1",
    "Asia Pacific (Hong Kong)": "ap-east-1",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3",
    "Asia Pacific (Melbourne)": "ap-southeast-4",
    "Canada (Central)": "ca-central-1",
    "EU (Frankfurt)": "eu-central-1",
    "EU (Zurich)": "eu-central-2",
    "EU (Ireland)": "eu-west-1",
    "EU - Ireland": "eu-west-1",
    "EU (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3",
    "EU (Milan)": "eu-south-1",
    "EU (Spain)": "eu-south-2",
    "EU (Stockholm)": "eu-north-1",
    "Middle East (Bahrain)": "me-south-1",
    "Middle East (UAE)": "me-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "AWS GovCloud (US-West)": "us-gov-west-1",
    "AWS GovCloud (US-East)": "us-gov-east-1",
    "China (Beijing)": "cn-north-1",
    "China (Ningxia)": "cn-northwest-1",
}

ANOMALY_OPERATORS = {
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
}
_M_OF_N = re.compile(r"(\d+) out of the last (\d+) datapoints")


@dataclass
class MetricQuery:
    """One metric or expression an alarm watches."""

    id: str | None = None
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    stat: str | None = None
    period: int | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True


@dataclass
class ChildAlarm:
    arn: str
    state: str | None = None
    timestamp: str | None = None

    @property
    def name(self) -> str:
        return self.arn.split(":alarm:", 1)[-1]


@dataclass
class Alarm:
    """Everything a person needs to read at 3 a.m. about one alarm event."""

    name: str
    kind: str  # metric | math | anomaly | composite | unknown
    new_state: str | None = None
    old_state: str | None = None
    reason: str | None = None
    description: str | None = None
    time: str | None = None
    account: str | None = None
    account_name: str | None = None  # ours: OPSWATCH_ACCOUNT_NAMES or AWS Organizations (``alarms.accounts``)
    region: str | None = None
    partition: str = "aws"
    arn: str | None = None
    metrics: list[MetricQuery] = field(default_factory=list)
    threshold: float | None = None
    comparison: str | None = None
    threshold_metric_id: str | None = None
    period: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None
    unit: str | None = None  # the metric's unit, where the message gives it
    alarm_rule: str | None = None
    triggering_children: list[ChildAlarm] = field(default_factory=list)
    actions_suppressed_by: str | None = None
    operation: str | None = None  # create | update | delete, for configuration changes
    source: str = "sns"  # sns | eventbridge


def _arn_parts(arn: str | None) -> tuple[str | None, str | None, str | None]:
    """(partition, region, account) of an ARN."""
    if not arn or not arn.startswith("arn:"):
        return None, None, None
    parts = arn.split(":")
    if len(parts) < 5:
        return None, None, None
    return parts[1] or None, parts[3] or None, parts[4] or None


def _missing_policy(value: object) -> str | None:
    """``"- TreatMissingData:   missing"`` (the SNS form) or ``"missing"`` -> ``missing``."""
    if not value or not isinstance(value, str):
        return None
    return value.split(":")[-1].strip() or None


def _m_of_n(reason: str | None) -> tuple[int | None, int | None]:
    m = _M_OF_N.search(reason or "")
    return (int(m[1]), int(m[2])) if m else (None, None)


def _kind(metrics: list[MetricQuery], comparison: str | None, rule: str | None) -> str:
    if rule:
        return "composite"
    if comparison in ANOMALY_OPERATORS or any(
        q.expression and "ANOMALY_DETECTION_BAND" in q.expression.upper() for q in metrics
    ):
        return "anomaly"
    if any(q.expression for q in metrics):
        return "math"
    return "metric" if metrics else "unknown"


def _num(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _int(v: object) -> int | None:
    try:
        return int(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _str(v: object) -> str | None:
    return v if isinstance(v, str) and v else (str(v) if isinstance(v, int | float) else None)


# The same metric query, spelled by SNS alarm messages and by EventBridge events.
_SNS_KEYS = (
    "Id",
    "MetricStat",
    "Metric",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Stat",
    "Period",
    "Expression",
    "Label",
    "ReturnData",
)
_EVENTBRIDGE_KEYS = (
    "id",
    "metricStat",
    "metric",
    "namespace",
    "name",
    "dimensions",
    "stat",
    "period",
    "expression",
    "label",
    "returnData",
)


def _dimensions(dims: object) -> dict[str, str]:
    """SNS lists ``[{"name": .., "value": ..}]``; EventBridge maps names to values."""
    if isinstance(dims, dict):
        return {str(k): str(v) for k, v in dims.items()}
    if isinstance(dims, list):
        return {str(d.get("name")): str(d.get("value")) for d in dims if isinstance(d, dict)}
    return {}


def _metric_query(q: dict, keys: tuple[str, ...]) -> MetricQuery:
    qid, stat_key, metric_key, ns, name, dims, stat, period, expr, label, ret = keys
    stat_obj = q.get(stat_key) if isinstance(q.get(stat_key), dict) else {}
    metric = stat_obj.get(metric_key) if isinstance(stat_obj.get(metric_key), dict) else {}
    return MetricQuery(
        id=_str(q.get(qid)),
        namespace=_str(metric.get(ns)),
        name=_str(metric.get(name)),
        dimensions=_dimensions(metric.get(dims)),
        stat=_str(stat_obj.get(stat)),
        period=_int(stat_obj.get(period)),
        expression=_str(q.get(expr)),
        label=_str(q.get(label)),
        return_data=bool(q.get(ret, True)),
    )


def from_sns_message(msg: dict) -> Alarm:
    """The classic alarm message CloudWatch publishes to SNS."""
    trigger = msg.get("Trigger") if isinstance(msg.get("Trigger"), dict) else {}
    metrics: list[MetricQuery] = []
    if trigger.get("MetricName"):
        metrics.append(
            MetricQuery(
                namespace=_str(trigger.get("Namespace")),
                name=_str(trigger.get("MetricName")),
                dimensions=_dimensions(trigger.get("Dimensions")),
                stat=_str(trigger.get("Statistic") or trigger.get("ExtendedStatistic")),
                period=_int(trigger.get("Period")),
            )
        )
    metrics += [_metric_query(q, _SNS_KEYS) for q in trigger.get("Metrics") or [] if isinstance(q, dict)]
    arn = _str(msg.get("AlarmArn"))
    partition, region, account = _arn_parts(arn)
    region = region or REGION_NAMES.get(str(msg.get("Region")))
    reason = _str(msg.get("NewStateReason"))
    m, n = _m_of_n(reason)
    comparison = _str(trigger.get("ComparisonOperator"))
    rule = _str(msg.get("AlarmRule"))
    children = [
        ChildAlarm(str(c.get("Arn")), (c.get("State") or {}).get("Value"), (c.get("State") or {}).get("Timestamp"))
        for c in msg.get("TriggeringChildren") or []
        if isinstance(c, dict) and c.get("Arn")
    ]
    return Alarm(
        name=str(msg.get("AlarmName")),
        kind=_kind(metrics, comparison, rule),
        new_state=_str(msg.get("NewStateValue")),
        old_state=_str(msg.get("OldStateValue")),
        reason=reason,
        description=_str(msg.get("AlarmDescription")),
        time=_str(msg.get("StateChangeTime")),
        account=_str(msg.get("AWSAccountId")) or account,
        region=region,
        partition=partition or partition_of(region),
        arn=arn,
        metrics=metrics,
        threshold=_num(trigger.get("Threshold")),
        comparison=comparison,
        threshold_metric_id=_str(trigger.get("ThresholdMetricId")),
        period=_int(trigger.get("Period")),
        evaluation_periods=_int(trigger.get("EvaluationPeriods")) or n,
        datapoints_to_alarm=_int(trigger.get("DatapointsToAlarm")) or m,
        treat_missing_data=_missing_policy(trigger.get("TreatMissingData")),
        unit=_str(trigger.get("Unit")),
        alarm_rule=rule,
        triggering_children=children,
    )


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def from_eventbridge(event: dict) -> Alarm:
    """A "CloudWatch Alarm State Change" or "Configuration Change" event."""
    detail = _mapping(event.get("detail"))
    config = _mapping(detail.get("configuration"))  # a part of another shape is taken as absent, not a crash
    state = _mapping(detail.get("state"))
    previous = _mapping(detail.get("previousState"))
    metrics = [_metric_query(q, _EVENTBRIDGE_KEYS) for q in config.get("metrics") or [] if isinstance(q, dict)]
    children = []
    data: dict = {}
    try:
        data = boundedjson.loads(state.get("reasonData") or "{}")
        for c in data.get("triggeringAlarms") or []:
            children.append(
                ChildAlarm(
                    str(c.get("arn")), (c.get("state") or {}).get("value"), (c.get("state") or {}).get("timestamp")
                )
            )
    except (ValueError, TypeError, AttributeError):
        pass
    region = _str(event.get("region"))
    arns = event.get("resources") or []
    arn = arns[0] if arns and isinstance(arns[0], str) else None
    reason = _str(state.get("reason"))
    m, n = _m_of_n(reason)
    comparison = _str(config.get("comparisonOperator"))
    rule = _str(config.get("alarmRule"))
    return Alarm(
        name=str(detail.get("alarmName")),
        kind=_kind(metrics, comparison, rule),
        new_state=_str(state.get("value")),
        old_state=_str(previous.get("value")),
        reason=reason,
        description=_str(config.get("description")),
        time=_str(state.get("timestamp")) or _str(event.get("time")),
        account=_str(event.get("account")),
        region=region,
        partition=_arn_parts(arn)[0] or partition_of(region),
        arn=arn,
        metrics=metrics,
        threshold=_num(config.get("threshold", data.get("threshold") if isinstance(data, dict) else None)),
        comparison=comparison,
        evaluation_periods=_int(config.get("evaluationPeriods")) or n,
        datapoints_to_alarm=_int(config.get("datapointsToAlarm")) or m,
        treat_missing_data=_missing_policy(config.get("treatMissingData")),
        alarm_rule=rule,
        triggering_children=children,
        actions_suppressed_by=_str(state.get("actionsSuppressedBy")),
        operation=_str(detail.get("operation")),
        source="eventbridge",
    )


def parse_alarm(message: object) -> Alarm | None:
    """An ``Alarm`` from a decoded SNS message or EventBridge event, else ``None``."""
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("AlarmName"), str):
        return from_sns_message(message)
    if str(message.get("detail-type", "")).startswith("CloudWatch Alarm") and isinstance(message.get("detail"), dict):
        return from_eventbridge(message)
    return None
