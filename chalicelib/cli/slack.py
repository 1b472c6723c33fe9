"""``opswatch slack``: preview and send the Slack messages the Lambdas would post."""

from __future__ import annotations

import json
import sys

import click

from chalicelib import boundedjson, settings
from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_FAILED
from chalicelib.cli.errors import EXIT_OK, EXIT_USAGE, OpswatchGroup, fail, not_text

_NOTHING = (
    "opswatch: nothing to post: a CloudWatch Logs control message, an undecodable payload, or events no "
    "log-alert rule matches (`opswatch logs test-rules` shows what each rule matches)"
)


@click.group(cls=OpswatchGroup)
def slack() -> None:
    """Slack messages: render events without sending, or send them."""


MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's largest synchronous payload: no event the functions get is larger


def _load(path: str) -> object:
    """The event in ``path``: JSON, or any text (a plain-text message is a message too).

    An empty file, an empty JSON object or list, a binary file or one larger than any
    event a function receives is refused (exit 2): rendering it would show a generic
    message that says nothing about the input.
    """
    label = "<stdin>" if path == "-" else path
    try:
        with sys.stdin.buffer if path == "-" else open(path, "rb") as fh:
            data = fh.read(MAX_EVENT_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {label}: {exc.strerror}")
    if len(data) > MAX_EVENT_BYTES:
        fail(f"{label}: larger than {MAX_EVENT_BYTES:,} bytes, more than any event a function receives")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(not_text(label, exc))
    if not text.strip():
        fail(f"{label} is empty: nothing to render")
    try:
        event = boundedjson.loads(text)
    except ValueError:  # not JSON, or JSON refused by its bounds (too deep): shown as the text it is, with the reason
        return text
    if event in ({}, []):
        fail(f"{label} holds an empty JSON {'object' if event == {} else 'list'}: nothing to render")
    return event


def _outgoing(path: str):
    from chalicelib import kinds
    from chalicelib.logalerts.rules import RuleError
    from chalicelib.slack.routing import RoutesError, router_from

    try:
        return kinds.render(_load(path), router_from(settings.slack()))
    except (RoutesError, RuleError, ValueError) as exc:  # ValueError: a malformed stage setting, named
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
