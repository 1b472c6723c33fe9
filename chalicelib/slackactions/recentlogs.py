"""Recent logs: the lines behind the alert, from a Logs Insights query, posted under the message.

- A log alert: its log group, from 5 minutes before its first event to a minute after its
  last, filtered by its rule's patterns (``chalicelib/insights/patterns.py``).
- An alarm: for each metric it watches, the metric filters that publish it
  (DescribeMetricFilters by metric name and namespace) give the log groups and patterns;
  the window is the alarm's evaluation range before the change, and a minute after. A
  pattern Logs Insights cannot express (JSON and space-delimited patterns) is left out, and
  the reply says so; an alarm on a metric no filter publishes has no logs to show.

The query is polled for at most ``DEADLINE_SECONDS`` (the worker has a timeout) and stopped
after that. Up to ``LINES`` lines are posted, newest first, each cut to ``LINE_MAX`` characters
and escaped, with the records matched, scanned and the bytes scanned (Logs Insights bills them).
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field

from chalicelib import settings
from chalicelib.aws import client
from chalicelib.insights.patterns import condition
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.text import escape, plain, truncate
from chalicelib.slackactions import account, alarms
from chalicelib.slackactions.click import Click
from chalicelib.slackactions.incident import ActionRefused
from chalicelib.slackactions.update import Where
from chalicelib.slackactions.value import AlarmRef, LogRef

LINES = 20
LINE_MAX = 400
DEADLINE_SECONDS = 25
BEFORE_MS = 5 * 60 * 1000
AFTER_MS = 60 * 1000
MAX_GROUPS = 50  # StartQuery's limit on log groups
SECTION_CHARS = 2800


@dataclass
class Plan:
    """What to query: the log groups, the filter condition (or None), the window and what to say about it."""

    groups: list[str]
    where: str | None
    start_ms: int
    end_ms: int
    notes: list[str] = field(default_factory=list)


def allowed(group: str) -> bool:
    """Whether Recent logs may query ``group``: ``OPSWATCH_SLACK_LOG_GROUPS`` (names, or prefixes ending in ``*``),
    the log groups the worker's policy lets it query."""
    return any(
        group == p or (p.endswith("*") and group.startswith(p[:-1])) for p in settings.slack_actions().log_groups
    )


def _refuse_outside(group: str) -> ActionRefused:
    listed = ", ".join(settings.slack_actions().log_groups)
    return ActionRefused(f"Recent logs may query {listed} (OPSWATCH_SLACK_LOG_GROUPS), not {group}")


def _patterns(texts: list[str], notes: list[str]) -> str | None:
    from chalicelib.filters import PatternError, compile_pattern

    compiled = []
    for text in texts:
        try:
            p = compile_pattern(text)
        except PatternError:
            notes.append(f"the pattern `{escape(truncate(text, 200))}` does not compile: lines are not filtered by it")
            continue
        if condition([p]) is None:
            notes.append(
                f"the pattern `{escape(truncate(text, 200))}` has no Logs Insights form: lines are not filtered by it"
            )
            return None  # one group unfiltered: the others' filters would hide its lines
        compiled.append(p)
    return condition(compiled) if compiled else None


def plan_log_alert(ref: LogRef) -> Plan:
    from chalicelib.logalerts.messages import rules_for
    from chalicelib.slackactions.logmute import resolve

    if ref.account != account.own_account():
        raise ActionRefused(f"the log group is in account {ref.account}; opswatch here queries {account.own_account()}")
    ref = resolve(ref)
    if not allowed(ref.log_group):
        raise _refuse_outside(ref.log_group)
    notes: list[str] = []
    rule = next((r for r in rules_for(settings.log_alerts()).rules if r.name == ref.rule), None)
    if rule is None:
        notes.append(f"rule `{escape(ref.rule)}` is no longer active: lines are not filtered")
        where = None
    else:
        where = condition(rule.patterns)
        if where is None:
            notes.append(f"rule `{escape(ref.rule)}` has no Logs Insights form: lines are not filtered")
    return Plan([ref.log_group], where, ref.first_ms - BEFORE_MS, ref.last_ms + AFTER_MS, notes)


def _metrics(alarm: dict) -> list[tuple[str, str]]:
    found = []
    if alarm.get("MetricName") and alarm.get("Namespace"):
        found.append((alarm["Namespace"], alarm["MetricName"]))
    for q in alarm.get("Metrics") or []:
        m = (q.get("MetricStat") or {}).get("Metric") or {}
        if m.get("MetricName") and m.get("Namespace"):
            found.append((m["Namespace"], m["MetricName"]))
    return list(dict.fromkeys(found))


def plan_alarm(ref: AlarmRef) -> Plan:
    ref, alarm = alarms.describe(ref)
    logs = client("logs")
    pairs: list[tuple[str, str]] = []  # (log group, filter pattern) of each metric filter publishing a metric
    for namespace, name in _metrics(alarm):
        answer = logs.describe_metric_filters(metricName=name, metricNamespace=namespace)
        pairs += [(f["logGroupName"], f.get("filterPattern", "")) for f in answer.get("metricFilters", [])]
    if not pairs:
        raise ActionRefused(f"{ref.name} watches no metric that a metric filter publishes: no log lines to show")
    notes: list[str] = []
    outside = list(dict.fromkeys(g for g, _ in pairs if not allowed(g)))
    if len(outside) == len({g for g, _ in pairs}):
        raise _refuse_outside(outside[0])
    if outside:
        notes.append(f"left out, outside OPSWATCH_SLACK_LOG_GROUPS: `{escape(', '.join(outside[:5]))}`")
    pairs = [(g, p) for g, p in pairs if g not in outside]
    groups = list(dict.fromkeys(g for g, _ in pairs))
    patterns = [p for _, p in pairs]
    if len(groups) > MAX_GROUPS:
        notes.append(f"{len(groups)} log groups; the first {MAX_GROUPS} are queried")
        groups = groups[:MAX_GROUPS]
    period = alarm.get("Period") or next(
        (q["MetricStat"].get("Period") for q in alarm.get("Metrics") or [] if q.get("MetricStat")), 60
    )
    evaluated = int(period or 60) * int(alarm.get("EvaluationPeriods") or 1) * 1000
    start = ref.at_ms - max(evaluated, BEFORE_MS)
    return Plan(groups, _patterns(list(dict.fromkeys(patterns)), notes), start, ref.at_ms + AFTER_MS, notes)


def query_text(plan: Plan) -> str:
    q = "fields @timestamp, @logStream, @message"
    if plan.where:
        q += f"\n| filter {plan.where}"
    return q + f"\n| sort @timestamp desc\n| limit {LINES}"


_UNSHOWN = ("Cc", "Cf")  # control and format characters: escapes, NUL, bidi overrides that turn a line around


def _shown(text: str) -> str:
    """A log's text as one line Slack may show: whitespace runs as one space, no control or format character
    (a right-to-left override would make the line read otherwise). Cut first: a line may be megabytes."""
    text = " ".join(text[: LINE_MAX * 4].split())
    return "".join(c for c in text if unicodedata.category(c) not in _UNSHOWN)


def _line(row: dict) -> str:
    stamp = str(row.get("@timestamp") or "")
    if stamp.isdigit():  # epoch ms (the embedded default) rather than CloudWatch's text
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(stamp) / 1000))
    stream = _shown(str(row.get("@logStream") or ""))
    text = _shown(str(row.get("@message") or ""))  # one line each, whatever it held
    return f"{stamp[11:19]} {stream[-28:]} {text}".replace("```", "'''")


def _size(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} bytes"


def message(plan: Plan, result) -> SlackMessage:
    """The reply: the lines in code blocks within Slack's section limit, then the statistics and notes."""
    rows = [dict(zip(result.columns, r, strict=False)) for r in result.rows][:LINES]
    t0, t1 = time.gmtime(plan.start_ms / 1000), time.gmtime(plan.end_ms / 1000)
    window = f"{time.strftime('%H:%M', t0)}–{time.strftime('%H:%M UTC', t1)}"
    groups = ", ".join(plan.groups[:3]) + (f" and {len(plan.groups) - 3} more" if len(plan.groups) > 3 else "")
    msg = SlackMessage(text=escape(f"Recent logs: {len(rows)} lines of {groups}, {window}"))
    msg.header(plain(f"Recent logs: {len(rows)} line{'s' if len(rows) != 1 else ''}, {window}"))
    chunk: list[str] = []
    for line in (truncate(escape(_line(r)), LINE_MAX) for r in rows):  # cut after escaping: never mid-entity
        if chunk and sum(len(c) + 1 for c in chunk) + len(line) > SECTION_CHARS:
            msg.section("```" + "\n".join(chunk) + "```")
            chunk = []
        chunk.append(line)
    if chunk:
        msg.section("```" + "\n".join(chunk) + "```")
    elif not rows:
        msg.section("_No lines matched in the window._")
    stats = (
        f"{result.records_matched:,.0f} records matched of {result.records_scanned:,.0f} scanned, "
        f"{_size(result.bytes_scanned)} scanned"
    )
    msg.context([stats, f"log groups: `{escape(groups)}`", *plan.notes][:10])
    return msg


def perform(click: Click, ref: AlarmRef | LogRef) -> dict:
    from chalicelib.insights.run import QueryFailed, run

    plan = plan_log_alert(ref) if isinstance(ref, LogRef) else plan_alarm(ref)
    start, end = plan.start_ms // 1000, (plan.end_ms + 999) // 1000
    try:
        result = run(client("logs"), query_text(plan), plan.groups, start, end, deadline_seconds=DEADLINE_SECONDS)
    except QueryFailed as exc:
        raise ActionRefused(f"Logs Insights: {exc}") from None
    Where(click).reply(message(plan, result))
    return {"lines": min(len(result.rows), LINES), "matched": result.records_matched, "bytes": result.bytes_scanned}
