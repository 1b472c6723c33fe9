"""Find the alarm a button names (DescribeAlarms), by its name or, when the name was cut, its prefix and digest."""

from __future__ import annotations

from chalicelib import settings
from chalicelib.aws import client
from chalicelib.slackactions import account
from chalicelib.slackactions.incident import ActionRefused
from chalicelib.slackactions.value import AlarmRef, digest

TYPES = ["MetricAlarm", "CompositeAlarm"]
MAX_PAGES = 10  # a cut name's prefix is at least 80 characters: few alarms share it


def _all(page: dict) -> list[dict]:
    return page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])


def check_prefix(ref: AlarmRef) -> None:
    """``ActionRefused`` for an alarm outside ``OPSWATCH_ALARM_NAME_PREFIXES``: the worker's policy names only
    those (an AccessDenied would be retried for nothing), and the EventBridge rule sees only their OK."""
    prefixes = settings.alarm_event_pattern().get("detail", {}).get("alarmName") or []
    if prefixes and not any(ref.name.startswith(p["prefix"]) for p in prefixes):
        shown = ", ".join(p["prefix"] for p in prefixes)[:200]
        raise ActionRefused(
            f"opswatch acts on the alarms named {shown}… (OPSWATCH_ALARM_NAME_PREFIXES) only: nothing changed"
        )


def describe(ref: AlarmRef) -> tuple[AlarmRef, dict]:
    """(the incident with the alarm's full ARN, the alarm as DescribeAlarms gives it); ``ActionRefused`` if none."""
    account.check_alarm(ref)
    check_prefix(ref)
    cw = client("cloudwatch")
    if not ref.digest:
        found = _all(cw.describe_alarms(AlarmNames=[ref.name], AlarmTypes=TYPES))
    else:
        found = []
        pages = cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=ref.name, AlarmTypes=TYPES)
        for n, page in enumerate(pages):
            found += [a for a in _all(page) if digest(a["AlarmName"]) == ref.digest]
            if found or n + 1 >= MAX_PAGES:
                break
    if not found:
        raise ActionRefused(f"no alarm {ref.name!r}{'…' if ref.digest else ''} in this account and Region")
    alarm = found[0]
    return AlarmRef(alarm["AlarmArn"], ref.at_ms), alarm
