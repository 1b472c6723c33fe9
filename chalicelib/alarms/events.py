"""Turn whatever arrived (SNS event, bare alarm message, EventBridge event...) into Slack messages.

Used by the Lambda (SNS events) and by ``opswatch slack render|send``, which
also accept the other event files people have at hand. Nothing raises on odd
input: what is not an alarm becomes a readable generic message.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass

from chalicelib.alarms.notification import Alarm, parse_alarm
from chalicelib.alarms.render import render_alarm, render_text
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.routing import Router
from chalicelib.slack.text import escape

MAX_LOG_LINES = 20


@dataclass
class Outgoing:
    """One message to post, with where it goes."""

    message: SlackMessage
    channel: str | None
    alarm: Alarm | None
    source: str


def _decode(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _from_sns(sns: dict, router: Router) -> Outgoing:
    raw = sns.get("Message")
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    source = f"SNS {sns.get('TopicArn') or ''}".strip()
    return _from_message(_decode(raw), raw, sns.get("Subject"), source, router)


def _from_message(decoded: object, raw: str, subject: str | None, source: str, router: Router) -> Outgoing:
    alarm = parse_alarm(decoded)
    if alarm is not None:  # a configuration change is news, not an emergency: it pings nobody
        channel, mention = router.route(alarm.name, None if alarm.operation else alarm.new_state)
        return Outgoing(render_alarm(alarm, mention), channel, alarm, source)
    channel, _ = router.route(None, None)
    return Outgoing(render_text(subject, raw, source), channel, None, source)


def _from_awslogs(data: str, router: Router) -> Outgoing:
    try:
        payload = json.loads(gzip.decompress(base64.b64decode(data)))
    except (ValueError, OSError) as exc:
        return _from_message(None, f"undecodable CloudWatch Logs payload: {exc}", "CloudWatch Logs", "awslogs", router)
    return _from_logs_payload(payload, router)


def _from_logs_payload(payload: dict, router: Router) -> Outgoing:
    group, stream = payload.get("logGroup"), payload.get("logStream")
    events = payload.get("logEvents") or []
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return _from_message(
            None, "CloudWatch Logs checked the subscription (control message).", "CloudWatch Logs", f"{group}", router
        )
    lines = [str(e.get("message", "")) for e in events[:MAX_LOG_LINES]]
    more = f"\n… and {len(events) - MAX_LOG_LINES} more" if len(events) > MAX_LOG_LINES else ""
    msg = SlackMessage(text=escape(f"{len(events)} log events from {group}"))
    msg.header(f":scroll: {len(events)} log events from {group}")
    msg.section("```" + escape("\n".join(lines)) + "```" + escape(more))
    msg.context(
        [f"log stream {escape(stream)}", f"filters {escape(', '.join(payload.get('subscriptionFilters') or []))}"]
    )
    channel, _ = router.route(None, None)
    return Outgoing(msg, channel, None, f"CloudWatch Logs {group}")


def outgoing_for(event: object, router: Router) -> list[Outgoing]:
    """Every message an event calls for, in order."""
    if not isinstance(event, dict):
        raw = event if isinstance(event, str) else json.dumps(event)
        return [_from_message(_decode(raw) if isinstance(event, str) else event, raw, None, "message", router)]
    if isinstance(event.get("Records"), list):
        out = []
        for rec in event["Records"]:
            if not isinstance(rec, dict):  # shown as it came, never dropped
                out.append(_from_message(None, json.dumps(rec), "Unreadable record", "event", router))
                continue
            if isinstance(rec.get("Sns"), dict):
                out.append(_from_sns(rec["Sns"], router))
            elif "body" in rec:  # SQS; the body may be an SNS notification
                body = _decode(rec["body"])
                if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
                    out.append(_from_sns(body, router))
                else:
                    out.append(_from_message(body, str(rec["body"]), "SQS message", "SQS", router))
            else:
                out.append(
                    _from_message(
                        rec,
                        json.dumps(rec),
                        rec.get("eventName") or "Event record",
                        rec.get("eventSource") or "event",
                        router,
                    )
                )
        return out
    if isinstance(event.get("awslogs"), dict):
        return [_from_awslogs(str(event["awslogs"].get("data", "")), router)]
    if isinstance(event.get("logEvents"), list) and "messageType" in event:  # an already decoded payload
        return [_from_logs_payload(event, router)]
    subject = event.get("detail-type") if isinstance(event.get("detail-type"), str) else None
    return [_from_message(event, json.dumps(event), subject, "message", router)]
