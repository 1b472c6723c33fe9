"""A graph of the alarm's metric (GetMetricWidgetImage), for bot mode to attach in the incident's thread.

Optional (``OPSWATCH_SLACK_GRAPHS=true``): the sparkline already says the shape
in every mode. Like the sparkline, the graph never holds the alert back: one
attempt, a short timeout, and on any error nothing is attached (the logs say why).
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from chalicelib.alarms.notification import Alarm
from chalicelib.alarms.shape import statistic

logger = Logger(service="opswatch-alarms")
TIMEOUT_SECONDS = 3


def widget(alarm: Alarm) -> dict | None:
    """The metric widget CloudWatch draws: the alarm's metric over 3 hours, with its threshold."""
    if alarm.kind != "metric" or not alarm.metrics:
        return None
    q = alarm.metrics[0]
    if not (q.namespace and q.name):
        return None
    metric: list = [q.namespace, q.name]
    for k, v in q.dimensions.items():
        metric += [k, v]
    out: dict = {
        "metrics": [[*metric, {"stat": statistic(q.stat or "Average")}]],
        "period": alarm.period or q.period or 60,
        "start": "-PT3H",
        "end": "P0D",
        "title": alarm.name[:100],
        "width": 600,
        "height": 250,
    }
    if alarm.threshold is not None:
        out["annotations"] = {"horizontal": [{"value": alarm.threshold, "label": "threshold"}]}
    return out


def graph_png(alarm: Alarm) -> bytes | None:
    w = widget(alarm)
    if w is None:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    try:
        cw = client("cloudwatch", attempts=1, timeout=TIMEOUT_SECONDS)
        return cw.get_metric_widget_image(MetricWidget=json.dumps(w), OutputFormat="png")["MetricWidgetImage"]
    except (ClientError, BotoCoreError) as exc:
        logger.warning(f"graph left out: {exc}", extra={"alarm": alarm.name})
        return None
