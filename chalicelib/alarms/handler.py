"""The alarm bridge Lambdas: SNS records and EventBridge alarm state changes -> Slack, once each.

Both triggers share one delivery path:

- each state change is posted once, whichever way and however often it arrives
  (``dedup``: Powertools idempotency on the state table);
- single-metric and metric-math alarms show their metric's recent shape (``shape``),
  read with a short timeout so it never holds the alert back;
- in bot mode, one thread per incident (``threads``): OK and INSUFFICIENT_DATA reply
  under the ALARM, and OK marks the parent resolved.

All records are attempted; if any could not be delivered the invocation then
fails (``SlackDeliveryError``), so Lambda retries the event and, in the end,
its on-failure destination keeps it. A failed post is never recorded as done.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.alarms import dedup
from chalicelib.alarms.accounts import Accounts, Verdict, for_lambda
from chalicelib.alarms.events import Outgoing, outgoing_for
from chalicelib.alarms.render import render_alarm
from chalicelib.alarms.shape import recent_shape
from chalicelib.slack.delivery import Destination, SlackDeliveryError, destination, send, update, upload_image
from chalicelib.slack.routing import router_from
from chalicelib.slack.text import plain

logger = Logger(service="opswatch-alarms")


def handle_sns_event(event: dict, context=None) -> list[dict]:
    return deliver(event, context)


def handle_eventbridge_event(event: dict, context=None) -> list[dict]:
    """A "CloudWatch Alarm State Change" event from EventBridge: this account's, or a member account's.

    An event of an account the stage does not take (``alarms.accounts``) is refused: logged, counted, never posted;
    so is one whose alarm ARN names another account than the event (dedup, threads and buttons act on the ARN).
    """
    accounts = for_lambda(context)
    account = event.get("account") if isinstance(event, dict) else None
    verdict = accounts.check(account)
    named = _arn_account(event)
    if verdict.accepted and named is not None and named != account:
        verdict = Verdict(False, f"the event is from account {account}, but its alarm ARN names account {named[:40]!r}")
    if not verdict.accepted:
        what = {"account": str(account)[:40], "reason": verdict.reason}
        if isinstance(event, dict) and isinstance(event.get("detail"), dict):
            what["alarm"] = str(event["detail"].get("alarmName"))[:255]
        logger.error(f"alarm event refused: {verdict.reason}", extra=what)
        _count({"AlarmEventsRefused": 1, **accounts.counts})
        return [{"refused": True, **what}]
    try:
        return deliver(event, context, accounts)
    finally:
        _count(accounts.counts)


def _arn_account(event: object) -> str | None:
    """The account of the event's alarm ARN (``resources[0]``), or None when it names none."""
    resources = event.get("resources") if isinstance(event, dict) else None
    arn = resources[0] if isinstance(resources, list) and resources else None
    if not isinstance(arn, str) or not arn.startswith("arn:") or arn.count(":") < 5:
        return None
    return arn.split(":")[4]


def _count(counts: dict[str, int]) -> None:
    if not counts:
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-alarms")
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


def deliver(event: dict, context=None, accounts: Accounts | None = None) -> list[dict]:
    cfg = settings.slack()
    items = outgoing_for(event, router_from(cfg), accounts)
    dest = destination(cfg)
    results, failures = [], []
    for item in items:
        what = {"alarm": item.alarm.name if item.alarm else None, "source": item.source, "channel": item.channel}
        key = dedup.change_key(item.alarm) if item.alarm else None
        if item.undecodable:
            what["undecodable"] = item.undecodable
            logger.warning(f"undecodable JSON message, posted as text: {item.undecodable}", extra=what)
        try:
            answer, posted = dedup.once(
                key, lambda item=item, key=key: _post(dest, item, key, cfg.graphs, accounts), context
            )
        except SlackDeliveryError as exc:
            logger.error(f"not delivered to Slack: {exc}", extra=what)
            failures.append(str(exc))
            continue
        shown = {k: v for k, v in answer.items() if k != "payload"}
        logger.info("delivered to Slack" if posted else "already delivered", extra={**what, **shown})
        results.append({**what, **shown})
    if failures:
        raise SlackDeliveryError(f"{len(failures)} of {len(items)} messages not delivered: {failures[0]}")
    return results


def _post(dest: Destination, item: Outgoing, key: dict | None, graphs: bool, accounts: Accounts | None) -> dict:
    """Post one message; in bot mode, in its incident's thread. Raises ``SlackDeliveryError``.

    Runs only for a change not posted before, so the metric's shape is read once per change, not per delivery.
    """
    alarm = item.alarm
    message = item.message
    if alarm is not None and not alarm.operation:
        shape = recent_shape(alarm, own_account=accounts.own if accounts else None)
        if shape:
            message = render_alarm(alarm, item.mention, shape)
    if key is None:
        return send(dest, message, item.channel)
    buttons = settings.slack_buttons()
    bot = dest.mode == "bot"
    if not bot and not buttons:
        return send(dest, message, item.channel)
    from chalicelib.alarms import threads  # threads (bot mode) or buttons: a plain webhook delivery never loads it

    if alarm.new_state == "ALARM":
        answer = send(dest, message, item.channel)
        # Kept in webhook mode too when the buttons are on: a click finds the message there (no channel or ts).
        threads.remember(alarm.arn, answer.get("channel") or "", answer.get("ts") or "", answer["payload"], key["at"])
        if bot and graphs:
            _attach_graph(dest, alarm, answer["channel"], answer["ts"])
        return answer
    parent = threads.recall(alarm.arn)
    if buttons and alarm.new_state == "OK":
        _ok_notes(message, alarm, parent)
    if parent is None or not bot or not parent["ts"]:
        answer = send(dest, message, item.channel)
        if parent is not None and alarm.new_state == "OK":
            threads.forget(alarm.arn)
        return answer
    answer = send(dest, message, parent["channel"], thread_ts=parent["ts"])
    if alarm.new_state == "OK":
        try:
            update(
                dest,
                parent["channel"],
                parent["ts"],
                threads.resolved(_settled(parent["payload"]), parent["since"], key["at"]),
            )
        except SlackDeliveryError as exc:  # the reply is in; the parent keeps saying ALARM
            logger.error(f"could not mark the ALARM message resolved: {exc}", extra={"alarm": alarm.name})
        threads.forget(alarm.arn)
    return {**answer, "thread_ts": parent["ts"]}


def _settled(payload: dict) -> dict:
    """A resolved ALARM keeps only its Recent logs button (nothing left to acknowledge or mute)."""
    if not settings.slack_buttons():
        return payload
    from chalicelib.slackactions.buttons import settled

    return settled(payload)


def _ok_notes(message, alarm, parent: dict | None) -> None:
    """The OK says who acknowledged the ALARM and when, and ends a mute "until OK" (same rule as its schedule)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.slackactions.ack import ok_line
    from chalicelib.slackactions.mute import on_ok

    lines = [ok_line(parent.get("acked_by"), parent.get("acked_at"), parent["since"])] if parent else []
    try:
        lines.append(on_ok(alarm.arn))
    except (ClientError, BotoCoreError) as exc:  # never at the OK's expense: the mute stays, the audit lists it
        logger.error(f"could not end the alarm's mute: {exc}", extra={"alarm": alarm.name})
        lines.append(":warning: opswatch could not re-enable the actions muted until OK: they stay disabled")
    lines = [line for line in lines if line]
    if lines:
        message.context(lines)


def _attach_graph(dest: Destination, alarm, channel: str, ts: str) -> None:
    """The metric's graph in the thread; never at the alert's expense (any failure is logged and skipped)."""
    from chalicelib.alarms.graph import graph_png  # only with OPSWATCH_SLACK_GRAPHS on, in bot mode

    png = graph_png(alarm)
    if png is None:
        return
    try:
        upload_image(dest, channel, ts, png, "metric.png", plain(f"{alarm.name}: last 3 hours"))
    except SlackDeliveryError as exc:
        logger.warning(f"graph not attached: {exc}", extra={"alarm": alarm.name})
