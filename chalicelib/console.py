"""Links into the AWS console, for each partition: alarms, log streams, Logs Insights.

The CloudWatch console keeps its state in the URL fragment, encoded twice over
with ``$`` in place of ``%``; Logs Insights wraps its query in ``~(...)`` with
``*XX`` escapes. Both encodings are reproduced here so a Slack message can
open the exact place.

>>> alarm_url("aws", "us-east-1", "High 5xx")
'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/High%205xx'
>>> alarm_url("aws-cn", "cn-north-1", "x")
'https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/x'
>>> log_stream_url("eu-west-1", "/aws/lambda/api", "2026/11/27/[$LATEST]ab", 1764201600000).split("#")[1]
'logsV2:log-groups/log-group/$252Faws$252Flambda$252Fapi/log-events/2026$252F11$252F27$252F$255B$2524LATEST$255Dab$3Fstart$3D1764201600000'
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote, quote_plus

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")

_HOSTS = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
    "aws-cn": "https://console.amazonaws.cn",
}


def partition_of(region: str | None) -> str:
    """The partition a region belongs to (``cn-north-1`` -> ``aws-cn``)."""
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _home(partition: str, region: str | None) -> str | None:
    if not region or not _REGION.fullmatch(region):
        return None
    host = _HOSTS.get(partition, _HOSTS["aws"]).format(region=region)
    return f"{host}/cloudwatch/home?region={region}"


def alarm_url(partition: str, region: str | None, name: str) -> str | None:
    """The console page of one alarm; ``None`` when the region is unknown."""
    home = _home(partition, region)
    return f"{home}#alarmsV2:alarm/{quote(name, safe='')}" if home else None


def _fragment(text: str) -> str:
    """The console's fragment encoding: URL-encoded twice, then ``%`` written as ``$``."""
    return quote_plus(quote_plus(text, safe=""), safe="").replace("%", "$")


def log_stream_url(region: str | None, group: str, stream: str, start_ms: int | None = None) -> str | None:
    """A log stream's events, opened at ``start_ms`` (epoch milliseconds)."""
    home = _home(partition_of(region), region)
    if not home:
        return None
    url = f"{home}#logsV2:log-groups/log-group/{_fragment(group)}/log-events/{_fragment(stream)}"
    return url + (f"$3Fstart$3D{int(start_ms)}" if start_ms is not None else "")


def _star(text: str) -> str:
    """Logs Insights' value escape: every character but letters, digits, ``-``, ``.`` and ``_`` as ``*XX``."""
    return "".join(
        c if c.isascii() and (c.isalnum() or c in "-._") else "".join(f"*{b:02x}" for b in c.encode()) for c in text
    )


def insights_url(region: str | None, groups: list[str], query: str, start_ms: int, end_ms: int) -> str | None:
    """Logs Insights with ``query`` over ``groups`` between two epoch-millisecond times (UTC)."""
    home = _home(partition_of(region), region)
    if not home:
        return None

    def iso(ms: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms) % 1000:03d}Z"

    sources = "".join(f"~'{_star(g)}" for g in groups)
    detail = (
        f"~(end~'{_star(iso(end_ms))}~start~'{_star(iso(start_ms))}~timeType~'ABSOLUTE~tz~'UTC"
        f"~editorString~'{_star(query)}~source~({sources}))"
    )
    return f"{home}#logsV2:logs-insights$3FqueryDetail$3D{detail}"


def dashboard_url(partition: str, region: str | None, name: str) -> str | None:
    """A CloudWatch dashboard (dashboards are global; the region only picks the console's home)."""
    home = _home(partition, region)
    return f"{home}#dashboards/dashboard/{quote(name, safe='')}" if home else None


def alarms_url(partition: str, region: str | None) -> str | None:
    """The alarms list of a region."""
    home = _home(partition, region)
    return f"{home}#alarmsV2:" if home else None


def log_group_url(partition: str, region: str | None, group: str) -> str | None:
    """A log group's page: its streams, metric filters and subscriptions."""
    home = _home(partition, region)
    return f"{home}#logsV2:log-groups/log-group/{_fragment(group)}" if home else None


def athena_workgroup_url(partition: str, region: str | None, workgroup: str) -> str | None:
    """An Athena workgroup's details (its query history and settings)."""
    home = _home(partition, region)
    if not home:
        return None
    athena = home.replace("/cloudwatch/home?", "/athena/home?")
    return f"{athena}#/workgroups/details/{quote(workgroup, safe='')}"
