"""Turn whatever arrived (SNS event, bare alarm message, EventBridge event...) into Slack messages.

The alarm flow's renderer: used by its Lambdas and, through the registry of
event kinds (``chalicelib.kinds``), by ``opswatch slack render|send`` for every
event that is not a CloudWatch Logs subscription event. Nothing raises on odd
input: what is not an alarm becomes a readable generic message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chalicelib import boundedjson
from chalicelib.alarms.notification import parse_alarm
from chalicelib.alarms.render import render_alarm, render_text
from chalicelib.slack.outgoing import Outgoing
from chalicelib.slack.routing import Router

if TYPE_CHECKING:
    from chalicelib.alarms.accounts import Accounts


@dataclass(frozen=True)
class _Undecodable:
    reason: str


def _decode(text: str) -> object:
    """The JSON in ``text``; ``None`` for plain text; ``_Undecodable`` for JSON refused by its bounds."""
    try:
        return boundedjson.loads(text)
    except boundedjson.UndecodableJSON as exc:
        return _Undecodable(str(exc))
    except (ValueError, TypeError):
        return None


def _from_sns(sns: dict, router: Router, accounts: Accounts | None) -> Outgoing:
    raw = sns.get("Message")
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    source = f"SNS {sns.get('TopicArn') or ''}".strip()
    return _from_message(_decode(raw), raw, sns.get("Subject"), source, router, accounts)


def _from_message(
    decoded: object, raw: str, subject: str | None, source: str, router: Router, accounts: Accounts | None = None
) -> Outgoing:
    if isinstance(decoded, _Undecodable):  # shown as the text it is, never parsed further
        channel, _ = router.route(None, None)
        title = f"{subject or 'Message'} (undecodable: {decoded.reason})"
        return Outgoing(render_text(title, raw, source), channel, None, source, undecodable=decoded.reason)
    alarm = parse_alarm(decoded)
    if alarm is not None:  # a configuration change is news, not an emergency: it pings nobody
        if accounts is not None and alarm.account:
            alarm = replace(alarm, account_name=accounts.name(alarm.account))
        state = None if alarm.operation else alarm.new_state
        channel, mention = router.route(alarm.name, state, (alarm.account, alarm.account_name))
        return Outgoing(render_alarm(alarm, mention), channel, alarm, source, mention)
    channel, _ = router.route(None, None)
    return Outgoing(render_text(subject, raw, source), channel, None, source)


def outgoing_for(event: object, router: Router, accounts: Accounts | None = None) -> list[Outgoing]:
    """Every message an event calls for, in order; ``accounts`` names each alarm's account.

    Without ``accounts`` (``opswatch slack render``), names come from ``OPSWATCH_ACCOUNT_NAMES`` only.
    """
    if accounts is None:
        from chalicelib.alarms.accounts import static

        accounts = static()
    if not isinstance(event, dict):
        raw = event if isinstance(event, str) else json.dumps(event)
        decoded = _decode(raw) if isinstance(event, str) else event
        return [_from_message(decoded, raw, None, "message", router, accounts)]
    if isinstance(event.get("Records"), list):
        out = []
        for rec in event["Records"]:
            if not isinstance(rec, dict):  # shown as it came, never dropped
                out.append(_from_message(None, json.dumps(rec), "Unreadable record", "event", router))
                continue
            if isinstance(rec.get("Sns"), dict):
                out.append(_from_sns(rec["Sns"], router, accounts))
            elif "body" in rec:  # SQS; the body may be an SNS notification
                body = _decode(rec["body"])
                if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
                    out.append(_from_sns(body, router, accounts))
                else:
                    out.append(_from_message(body, str(rec["body"]), "SQS message", "SQS", router, accounts))
            else:
                out.append(
                    _from_message(
                        rec,
                        json.dumps(rec),
                        rec.get("eventName") or "Event record",
                        rec.get("eventSource") or "event",
                        router,
                        accounts,
                    )
                )
        return out
    subject = event.get("detail-type") if isinstance(event.get("detail-type"), str) else None
    source = "EventBridge" if event.get("source") == "aws.cloudwatch" else "message"
    return [_from_message(event, json.dumps(event), subject, source, router, accounts)]
