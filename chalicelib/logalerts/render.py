"""One Slack message per alert, readable at 3 a.m.

The header says what and where (rule, count, log group); then when (first and
last event, UTC), the log streams, up to three sample lines (escaped and cut),
and links to the log stream at the first event and to Logs Insights over the
window. Every value from the logs or the rules is escaped: a log line holding
``<!channel>`` pings nobody.
"""

from __future__ import annotations

import re
import time

from chalicelib import settings
from chalicelib.console import insights_url, log_stream_url
from chalicelib.logalerts.alerts import Alert
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.text import duration, escape, truncate

SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#4a90d9"}
SAMPLE_MAX = 600
STREAMS_SHOWN = 5
INSIGHTS_BEFORE_MS = 5 * 60 * 1000  # the minutes before the first event explain it
INSIGHTS_AFTER_MS = 60 * 1000
_REGEX_SPECIAL = re.compile(r"[.^$*+?()\[\]{}|\\/]")  # what a Logs Insights /regex/ needs escaped


def clock(ms: int) -> str:
    """Epoch milliseconds as ``2026-11-27 03:12:09 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _window(alert: Alert) -> str:
    if alert.count == 1 or alert.first_ms == alert.last_ms:
        return clock(alert.first_ms)
    last = clock(alert.last_ms)
    if last[:10] == clock(alert.first_ms)[:10]:
        last = last[11:]
    return f"{clock(alert.first_ms)} → {last}"


def _events(n: int) -> str:
    return f"{n} event{'s' if n != 1 else ''}"


def insights_query(alert: Alert) -> str:
    """Logs Insights query for the rule's events (its anchors), newest first."""
    from chalicelib.logalerts.prefilter import anchors_of, minimal

    anchors: list[str] = []
    for p in alert.rule.patterns:
        anchors += anchors_of(p) or []
    query = "fields @timestamp, @logStream, @message"
    if anchors:
        regex = "|".join(_REGEX_SPECIAL.sub(r"\\\g<0>", a) for a in minimal(anchors))
        query += f"\n| filter @message like /{regex}/"
    return query + "\n| sort @timestamp desc\n| limit 200"


def render_alert(
    alert: Alert,
    region: str | None,
    mention: str | None = None,
    held: int = 0,
    held_since: int | None = None,
    cooldown_seconds: int | None = None,
    state_error: str | None = None,
    muted_by: str | None = None,
) -> SlackMessage:
    rule = alert.rule
    what = f"{rule.name}: {_events(alert.count)} in {alert.log_group}"
    msg = SlackMessage(
        text=escape(f"{rule.severity.upper()} {what}, {_window(alert)}"),
        color=SEVERITY_COLORS.get(rule.severity, SEVERITY_COLORS["info"]),
    )
    msg.header(f"{SEVERITY_EMOJI.get(rule.severity, '')} {what}".strip())
    lead = f"*{rule.severity.upper()}* · {escape(rule.description)}" if rule.description else f"*{rule.severity}*"
    msg.section(f"{mention} {lead}" if mention else lead)
    streams = sorted(alert.streams.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"`{escape(s)}` ({n})" for s, n in streams[:STREAMS_SHOWN])
    if len(streams) > STREAMS_SHOWN:
        shown += f" and {len(streams) - STREAMS_SHOWN} more"
    msg.fields(
        [
            ("When", escape(_window(alert))),
            ("Log group", f"`{escape(alert.log_group)}`"),
            ("Log streams", shown),
            ("Account", escape(alert.owner)),
        ]
    )
    samples = [truncate(s.replace("```", "'''"), SAMPLE_MAX) for s in alert.samples]
    label = "Sample" if len(samples) == 1 else f"First {len(samples)} of {alert.count}"
    msg.section(f"{label}:\n```" + escape("\n".join(samples)) + "```")
    links = []
    stream_link = log_stream_url(region, alert.log_group, alert.first_stream, alert.first_ms)
    if stream_link:
        links.append(f"<{stream_link}|Log stream at the first event>")
    query_link = insights_url(
        region,
        [alert.log_group],
        insights_query(alert),
        alert.first_ms - INSIGHTS_BEFORE_MS,
        alert.last_ms + INSIGHTS_AFTER_MS,
    )
    if query_link:
        links.append(f"<{query_link}|Logs Insights over the window>")
    notes = [" · ".join(links)] if links else []
    if held:
        since = f" since {clock(held_since)}" if held_since else ""
        window = f" by the cooldown ({duration(cooldown_seconds)})" if cooldown_seconds else ""
        if muted_by:
            from chalicelib.slackactions.buttons import mention

            window = f" while muted by {mention(muted_by)}"
        notes.append(f":hourglass: {_events(held)} of this rule here held back{window}{since}")
    if state_error:
        notes.append(f":warning: cooldown state unavailable ({escape(state_error)}): repeats may be posted again")
    notes.append(f"rule `{escape(rule.name)}` ({escape(rule.source)})")
    msg.context(notes)
    if settings.slack_buttons():
        _buttons(msg, alert)
    return msg


def _buttons(msg: SlackMessage, alert: Alert) -> None:
    """Acknowledge, Mute (1 h, 4 h) and Recent logs, for this rule in this log group over this window."""
    from chalicelib.slackactions.buttons import actions_block
    from chalicelib.slackactions.value import BadValue, LogRef, decode

    ref = LogRef(alert.owner, alert.log_group, alert.rule.name, alert.first_ms, alert.last_ms)
    try:
        ok = decode(ref.encode()) == ref
    except BadValue:
        ok = False
    if not ok:
        msg.context([f"_no buttons: account {escape(alert.owner)} or log group is not one AWS names_"])
        return
    home = settings.account_id()
    msg.actions(actions_block(ref, acting=home is None or alert.owner == home))
