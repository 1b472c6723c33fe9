"""Replay an alarm over its metric's recent history under each missing-data policy.

A team choosing between ``missing``, ``ignore``, ``breaching`` and
``notBreaching`` wants to see, on their own data, when each would have paged
them. This fetches the alarm's configuration (DescribeAlarms) and its metric's
data (GetMetricData), then evaluates the alarm once per period with the
evaluator CloudWatch's documentation describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalicelib.monitors.evaluator import (
    INSUFFICIENT,
    POLICIES,
    EvaluationError,
    breaching,
    evaluation_range,
    replay,
)


@dataclass
class Timeline:
    policy: str
    transitions: list[tuple[datetime, str]] = field(default_factory=list)
    alarm_periods: int = 0


@dataclass
class Backtest:
    alarm: dict
    period: int
    times: list[datetime]
    values: list[float | None]
    timelines: list[Timeline]

    @property
    def missing(self) -> int:
        return sum(v is None for v in self.values)


def metric_queries(alarm: dict) -> list[dict]:
    """GetMetricData queries for what a DescribeAlarms entry watches (one metric, or its metric math)."""
    if alarm.get("MetricName"):
        stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
        metric = {
            "Namespace": alarm.get("Namespace"),
            "MetricName": alarm["MetricName"],
            "Dimensions": alarm.get("Dimensions", []),
        }
        return [
            {"Id": "m1", "MetricStat": {"Metric": metric, "Period": alarm["Period"], "Stat": stat}, "ReturnData": True}
        ]
    if alarm.get("Metrics"):
        keys = ("Id", "Expression", "MetricStat", "Label", "ReturnData", "Period")
        return [{k: v for k, v in q.items() if k in keys} for q in alarm["Metrics"]]
    raise EvaluationError(f"alarm {alarm.get('AlarmName')!r} watches no metric")


def _query(alarm: dict) -> list[dict]:
    if alarm.get("ThresholdMetricId"):
        raise EvaluationError("anomaly-detection alarms compare with a band, not a threshold: not backtested")
    return metric_queries(alarm)


def fetch_alarm(cloudwatch, name: str) -> dict:
    found = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    if not found:
        raise EvaluationError(f"no metric alarm named {name!r} in this account and region")
    return found[0]


def run(cloudwatch, alarm: dict, hours: float, now: datetime | None = None) -> Backtest:
    """Evaluate ``alarm`` once per period over the last ``hours`` under every policy."""
    queries = _query(alarm)
    period = int(alarm.get("Period") or next((q["MetricStat"]["Period"] for q in queries if q.get("MetricStat")), 60))
    n = int(alarm["EvaluationPeriods"])
    m = int(alarm.get("DatapointsToAlarm") or n)
    r = evaluation_range(n)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    end = now - timedelta(seconds=now.timestamp() % period)
    steps = max(1, int(hours * 3600 // period))
    start = end - timedelta(seconds=period * (steps + r))
    series: dict[datetime, float] = {}
    kwargs: dict = {}
    while True:
        resp = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end, **kwargs)
        for res in resp["MetricDataResults"]:
            for t, v in zip(res.get("Timestamps", []), res.get("Values", []), strict=False):
                series[t.astimezone(UTC).replace(microsecond=0)] = v
        if not resp.get("NextToken"):
            break
        kwargs = {"NextToken": resp["NextToken"]}
    times = [start + timedelta(seconds=period * i) for i in range(steps + r)]
    values = [series.get(t) for t in times]
    points = breaching(values, float(alarm["Threshold"]), alarm["ComparisonOperator"])
    timelines = []
    for policy in POLICIES:
        tl = Timeline(policy)
        state = INSUFFICIENT
        for i, decision in replay(points, n, m, policy, state):
            if decision.state != state:
                tl.transitions.append((times[i] + timedelta(seconds=period), decision.state))
                state = decision.state
            tl.alarm_periods += state == "ALARM"
        timelines.append(tl)
    return Backtest(alarm, period, times[r - 1 :], values[r - 1 :], timelines)
