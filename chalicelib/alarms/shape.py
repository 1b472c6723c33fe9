"""The metric's recent shape, as a text sparkline: ``▁▂▂▃▇█▆``, with threshold, last value and unit.

Read with GetMetricData at the alarm's period and statistic over the last few
hours. It works in webhook mode and costs no image hosting. Reading the metric
must never hold the alert back: one attempt, a two-second timeout, and on any
error the message goes out without it (the logs say why).

>>> sparkline([0, 2, None, 4, 8])
'▁▂ ▄█'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from aws_lambda_powertools import Logger

from chalicelib.alarms.notification import Alarm
from chalicelib.slack.text import duration, escape

logger = Logger(service="opswatch-alarms")
BARS = "▁▂▃▄▅▆▇█"
HOURS = 3
MAX_POINTS = 60
TIMEOUT_SECONDS = 2
_STATS = {"SUM": "Sum", "AVERAGE": "Average", "MINIMUM": "Minimum", "MAXIMUM": "Maximum", "SAMPLECOUNT": "SampleCount"}


def statistic(stat: str) -> str:
    """A statistic as GetMetricData names it (SNS alarm messages write SUM, AVERAGE...); p99 and kin as they are."""
    return _STATS.get(stat.upper(), stat)


def sparkline(values: list[float | None], low: float | None = None, high: float | None = None) -> str:
    """One bar per value, scaled between ``low`` and ``high`` (default: the values' range); a gap for None."""
    real = [v for v in values if v is not None]
    if not real:
        return ""
    lo = min(real) if low is None else low
    hi = max(real) if high is None else high
    span = hi - lo or 1.0
    return "".join(" " if v is None else BARS[min(7, max(0, int((v - lo) / span * 7.999)))] for v in values)


def _queries(alarm: Alarm, period: int, account: str | None = None) -> list[dict] | None:
    """GetMetricData's queries for the alarm's metrics; ``account``: read them in that (source) account."""
    out = []
    for i, q in enumerate(alarm.metrics):
        qid = q.id or f"m{i}"
        if q.expression:
            out.append({"Id": qid, "Expression": q.expression, "ReturnData": q.return_data})
        elif q.name and q.namespace and q.stat:
            metric = {"Namespace": q.namespace, "MetricName": q.name}
            if q.dimensions:
                metric["Dimensions"] = [{"Name": k, "Value": v} for k, v in q.dimensions.items()]
            stat = statistic(q.stat)
            out.append({"Id": qid, "MetricStat": {"Metric": metric, "Period": q.period or period, "Stat": stat},
                        "ReturnData": q.return_data if alarm.kind == "math" else True})  # fmt: skip
        else:
            return None
    if account:  # CloudWatch cross-account observability: the monitoring account reads the source account's data
        out = [{**q, "AccountId": account} for q in out]
    return out or None


def is_sink() -> tuple[bool, str]:
    """(whether this account is a cross-account observability sink, why we think so), asked once per process."""
    from chalicelib import settings

    told = settings.org().observability_sink
    if told is not None:
        return told, "OPSWATCH_OBSERVABILITY_SINK"
    return _oam_sink()


@cache
def _oam_sink() -> tuple[bool, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    try:
        sinks = client("oam", attempts=1, timeout=TIMEOUT_SECONDS).list_sinks(MaxResults=1).get("Items") or []
    except (ClientError, BotoCoreError) as exc:
        logger.warning(f"could not ask OAM whether this account is a sink: {exc}")
        return False, "OAM ListSinks failed"
    return bool(sinks), "OAM ListSinks"


def not_shared(account: str) -> str:
    """The line an alarm of another account shows instead of its shape, when its metrics cannot be read here."""
    return (
        f"*Recent shape:* not shown: account {escape(account)}'s metrics need CloudWatch cross-account "
        "observability, and this account is not its monitoring sink"
    )


def recent_shape(alarm: Alarm, now: datetime | None = None, own_account: str | None = None) -> str | None:
    """The sparkline line for a metric or metric-math alarm, or ``None`` (other kinds, or any error).

    Another account's alarm (``own_account`` known and not the alarm's) is read with ``AccountId`` when this
    account is an observability sink; otherwise the line says why there is no shape.
    """
    if alarm.kind not in ("metric", "math") or alarm.new_state is None:
        return None
    source = alarm.account if own_account and alarm.account and alarm.account != own_account else None
    if source:
        sink, why = is_sink()
        if not sink:
            logger.info(f"metric shape left out: not a monitoring sink ({why})", extra={"alarm": alarm.name})
            return not_shared(source)
    period = alarm.period or next((q.period for q in alarm.metrics if q.period), None) or 60
    queries = _queries(alarm, period, source)
    if not queries:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    now = (now or datetime.now(UTC)).replace(microsecond=0)
    points = min(MAX_POINTS, max(1, HOURS * 3600 // period))
    start = now - timedelta(seconds=period * points)
    try:
        cw = client("cloudwatch", attempts=1, timeout=TIMEOUT_SECONDS)
        resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=now, ScanBy="TimestampAscending")
    except (ClientError, BotoCoreError) as exc:
        logger.warning(f"metric shape left out: {exc}", extra={"alarm": alarm.name})
        return None
    results = [r for r in resp.get("MetricDataResults", []) if r.get("Values")]
    window = f"last {duration(period * points)}"
    if not results:
        return f"*Recent shape:* no data in the {window}"
    series = results[0]
    by_time = dict(zip(series["Timestamps"], series["Values"], strict=False))
    slots = [start + timedelta(seconds=period * (i + 1)) for i in range(points)]
    values = []
    for t in slots:  # a missing period shows as a gap
        got = [v for ts, v in by_time.items() if t - timedelta(seconds=period) < ts.astimezone(UTC) <= t]
        values.append(got[-1] if got else None)
    real = [v for v in values if v is not None]
    if not real:
        return f"*Recent shape:* no data in the {window}"
    line = sparkline(
        values, low=min([*real, alarm.threshold or real[0]]), high=max([*real, alarm.threshold or real[0]])
    )
    unit = f" {escape(alarm.unit)}" if alarm.unit and alarm.unit != "None" else ""  # the event's text: escaped
    thr = f", threshold {alarm.threshold:g}{unit}" if alarm.threshold is not None else ""
    return f"*Recent shape* ({window}, {duration(period)} periods): `{line}` last {real[-1]:g}{unit}{thr}"
