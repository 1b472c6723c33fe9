"""``opswatch slack``: preview and send the Slack messages the Lambdas would post."""

from __future__ import annotations

import json
import sys

import click

from chalicelib import boundedjson, settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_NOTHING = (
    "opswatch: nothing to post: a CloudWatch Logs control message, an undecodable payload, or events no "
    "log-alert rule matches (`opswatch logs test-rules` shows what each rule matches)"
)


@click.group()
def slack() -> None:
    """Slack messages: render events without sending, or send them."""


def _load(path: str) -> object:
    try:
        with sys.stdin if path == "-" else open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        click.echo(f"opswatch: cannot read {path}: {exc.strerror}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        return boundedjson.loads(text)
    except ValueError:  # refused JSON (too deep) is shown as the text it is, with the reason
        return text  # a plain-text message is a message too


def _outgoing(path: str):
    from chalicelib.alarms.events import outgoing_for
    from chalicelib.alarms.handler import router_from
    from chalicelib.logalerts.rules import RuleError
    from chalicelib.slack.routing import RoutesError

    try:
        return outgoing_for(_load(path), router_from(settings.slack()))
    except (RoutesError, RuleError) as exc:
        click.echo(f"opswatch: {exc}", err=True)
        sys.exit(EXIT_USAGE)


@slack.command()
@click.argument("event_file")
def render(event_file: str) -> None:
    """Print the Slack payload(s) for EVENT_FILE, one JSON object per message, without sending.

    EVENT_FILE is an SNS event, a bare alarm message, an EventBridge alarm event,
    a CloudWatch Logs subscription event (rendered with the stage's log-alert
    rules, without cooldown state) or any text (- for stdin).
    """
    items = _outgoing(event_file)
    for item in items:
        click.echo(json.dumps(item.message.payload(item.channel), ensure_ascii=False))
    if not items:
        click.echo(_NOTHING, err=True)


@slack.command()
@click.argument("event_file")
@click.option("--webhook-url", help="Send to this incoming webhook instead of the stage's destination.")
def send(event_file: str, webhook_url: str | None) -> None:
    """Render EVENT_FILE and send the message(s) to Slack.

    Exit status: 0 all delivered, 1 some not delivered, 2 usage or configuration error.
    """
    from chalicelib.slack.delivery import SlackConfigError, SlackDeliveryError, destination
    from chalicelib.slack.delivery import send as deliver

    items = _outgoing(event_file)
    try:
        dest = destination(settings.slack(), webhook_url)
    except SlackConfigError as exc:
        click.echo(f"opswatch: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    failed = 0
    for item in items:
        label = item.alarm.name if item.alarm else item.source
        try:
            deliver(dest, item.message, item.channel)
            click.echo(f"delivered: {label}")
        except (SlackDeliveryError, SlackConfigError) as exc:
            failed += 1
            click.echo(f"NOT delivered: {label}: {exc}", err=True)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)
