"""One formatting function per kind of SNS message, all producing a ``SlackMessage``.

Every value that comes from the event is escaped (``chalicelib.slack.text``):
alarm names, descriptions, reasons, dimension values and raw messages can
hold ``<!channel>`` and must ping nobody.
"""

from __future__ import annotations

import json

from chalicelib import boundedjson, settings
from chalicelib.alarms.notification import Alarm, MetricQuery
from chalicelib.console import alarm_url
from chalicelib.slack.message import COLORS, SlackMessage
from chalicelib.slack.text import duration, escape

STATE_EMOJI = {"ALARM": ":red_circle:", "OK": ":large_green_circle:", "INSUFFICIENT_DATA": ":white_circle:"}
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
}
BAND_WORDS = {
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}
MISSING_WORDS = {
    "missing": "missing (treated as missing)",
    "ignore": "ignore (keep the current state)",
    "breaching": "breaching (treated as bad)",
    "notBreaching": "notBreaching (treated as good)",
}


def _number(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:g}"


def _metric_line(q: MetricQuery) -> str:
    if q.expression:
        label = f" ({escape(q.label)})" if q.label else ""
        return f"`{escape(q.id)}` = `{escape(q.expression)}`{label}"
    dims = ", ".join(f"{escape(k)}={escape(v)}" for k, v in q.dimensions.items())
    parts = [f"`{escape(q.namespace)}` *{escape(q.name)}*"]
    if dims:
        parts.append(f"({dims})")
    extra = ", ".join(p for p in (escape(q.stat), duration(q.period)) if p)
    if extra:
        parts.append(f"— {extra}")
    prefix = f"`{escape(q.id)}` " if q.id and len(q.id) < 20 else ""
    return prefix + " ".join(parts)


def _threshold(a: Alarm) -> str | None:
    if a.comparison in BAND_WORDS:
        band = f" `{escape(a.threshold_metric_id)}`" if a.threshold_metric_id else ""
        return f"{BAND_WORDS[a.comparison]}{band}"
    if a.comparison in COMPARISONS and a.threshold is not None:
        return f"{COMPARISONS[a.comparison]} {_number(a.threshold)}"
    if a.threshold is not None:
        return f"{escape(a.comparison) or 'threshold'} {_number(a.threshold)}"
    return None


def _title(a: Alarm) -> str:
    where = f" in {a.account_name}" if a.account_name else ""  # another account's alarm says whose it is
    if a.operation:
        return f"Alarm {a.name}{where} {a.operation}d"
    return f"{a.new_state or 'Alarm'}: {a.name}{where}"


def _account(a: Alarm) -> str:
    if a.account_name and a.account:
        return f"account {escape(a.account_name)} ({escape(a.account)})"
    return f"account {escape(a.account)}" if a.account else ""


def render_alarm(
    a: Alarm, mention: str | None = None, shape: str | None = None, buttons: bool | None = None
) -> SlackMessage:
    """The message for one alarm event; ``mention`` (``<!here>``...) and ``shape`` (the sparkline line) are ours.

    An ALARM carries the Acknowledge, Mute and Recent logs buttons when ``buttons`` (by default
    ``OPSWATCH_SLACK_ACTIONS``) is on; OK, INSUFFICIENT_DATA and configuration changes never do.
    """
    state = a.new_state or "UNKNOWN"
    url = alarm_url(a.partition, a.region, a.name)
    name = escape(a.name)
    link = f"<{url}|{name}>" if url else name
    change = f"`{escape(a.old_state)}` → `{escape(state)}`" if a.old_state else f"`{escape(state)}`"
    if a.operation:
        change = f"configuration {escape(a.operation)}d (state `{escape(state)}`)"
    text = f"{escape(_title(a))}" + (f" ({escape(a.old_state)} → {escape(state)})" if a.old_state else "")
    msg = SlackMessage(text=(f"{mention} " if mention else "") + text, color=COLORS.get(state, "#4a90d9"))
    msg.header(f"{STATE_EMOJI.get(state, ':bell:')} {_title(a)}")
    msg.section(f"{mention + ' ' if mention else ''}*{link}*  {change}")
    if a.reason:
        msg.section(f"*Why:* {escape(a.reason)}")
    if a.description:
        msg.section(f"*Description:* {escape(a.description)}")
    if a.kind == "composite":
        if a.alarm_rule:
            msg.section(f"*Rule:*\n```{escape(a.alarm_rule)}```")
        if a.triggering_children:
            kids = "\n".join(f"• {escape(c.name)} ({escape(c.state)})" for c in a.triggering_children)
            msg.section(f"*Triggered by:*\n{kids}")
    elif a.metrics:
        label = {"metric": "Metric", "math": "Metric math", "anomaly": "Anomaly detection"}.get(a.kind, "Metrics")
        msg.section(f"*{label}:*\n" + "\n".join(_metric_line(q) for q in a.metrics))
    if shape:
        msg.section(shape)
    m, n = a.datapoints_to_alarm, a.evaluation_periods
    msg.fields(
        [
            ("Threshold", _threshold(a)),
            ("Period", duration(a.period or next((q.period for q in a.metrics if q.period), None))),
            ("Datapoints to alarm", f"{m or n} out of {n}" if n else None),  # absent, AWS uses M = N
            ("Missing data", escape(MISSING_WORDS.get(a.treat_missing_data or "", a.treat_missing_data))),
            ("Actions suppressed by", escape(a.actions_suppressed_by)),
        ]
    )
    msg.context(
        [
            _account(a),
            f"region {escape(a.region)}" if a.region else "",
            escape(a.time) if a.time else "",
            "via EventBridge" if a.source == "eventbridge" else "",
        ]
    )
    if state == "ALARM" and not a.operation and (settings.slack_buttons() if buttons is None else buttons):
        _buttons(msg, a)
    return msg


def _buttons(msg: SlackMessage, a: Alarm) -> None:
    from chalicelib.slackactions.buttons import actions_block
    from chalicelib.slackactions.value import BadValue, alarm_ref

    try:
        ref = alarm_ref(a.arn, a.time)
    except BadValue as exc:
        msg.context([f"_no buttons: {escape(exc)}_"])
        return
    home = settings.account_id()
    msg.actions(actions_block(ref, acting=home is None or ref.parts[2] == home))


def render_text(subject: str | None, message: str, source: str | None = None) -> SlackMessage:
    """Any other SNS message: shown as sent, readable, escaped."""
    body = message
    try:
        decoded = boundedjson.loads(message)
        if isinstance(decoded, dict | list):
            body = "```" + json.dumps(decoded, indent=2, ensure_ascii=False) + "```"
    except ValueError:
        pass
    title = subject or "Message"
    msg = SlackMessage(text=escape(f"{title}: {message}"))
    msg.header(f":envelope: {title}")
    msg.section(escape(body) if not body.startswith("```") else "```" + escape(body[3:-3]) + "```")
    if source:
        msg.context([escape(source)])
    return msg
