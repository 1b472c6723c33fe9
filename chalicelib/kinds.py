"""The one registry of event kinds: which function handles each kind, and which renderer shows it in Slack.

Entry-point layer. ``app.py`` runs each Lambda function's handler through it,
``opswatch failed replay`` sends a kept event back through the handler of the
function that failed it, and ``opswatch slack render|send`` renders an event
file with its kind's renderer. So no flow imports another flow's handler, and
a new kind is wired in one place.

Handlers and renderers are named ``"module:function"`` and imported on first
use: this module imports nothing of the flows, and a Lambda loads only its own
function's path (cold start is a cost).

>>> kind_of({"Records": [{"s3": {}}]}), kind_of({"awslogs": {"data": ""}}), kind_of("text")
('s3', 'awslogs', 'message')
>>> kind_of({"Records": [{"kinesis": {"data": ""}}]})
'kinesis-awslogs'
>>> [f.name for f in FUNCTIONS if f.kind == "schedule"]
['monitors_audit', 'athena_report']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.slack.outgoing import Outgoing
    from chalicelib.slack.routing import Router

# The alarm flow's renderer: an alarm, or a readable generic message for anything else. S3 and
# schedule events post nothing themselves; `slack render` shows them as that generic message.
_ALARM_RENDERER = "chalicelib.alarms.events:outgoing_for"


@dataclass(frozen=True)
class Kind:
    """An event kind and the renderer that turns one into Slack messages (``(event, router) -> [Outgoing]``)."""

    name: str
    about: str
    renderer: str


@dataclass(frozen=True)
class Function:
    """A Lambda function of ``app.py``: the kind of event it is triggered by and its handler."""

    name: str
    kind: str
    handler: str
    takes_context: bool  # the handler uses the Lambda context (time left, its own ARN)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("s3", "S3 event notification: ALB access-log objects", _ALARM_RENDERER),
        Kind("sns", "SNS notification: CloudWatch alarm actions, or any message", _ALARM_RENDERER),
        Kind("eventbridge-alarm", "EventBridge CloudWatch Alarm State Change", _ALARM_RENDERER),
        Kind(
            "awslogs",
            "CloudWatch Logs subscription (or its decoded payload)",
            "chalicelib.logalerts.messages:outgoing_for",
        ),
        Kind(
            "kinesis-awslogs",
            "Kinesis records from a CloudWatch Logs destination (member accounts' subscriptions)",
            "chalicelib.logalerts.messages:outgoing_for_stream",
        ),
        Kind("schedule", "EventBridge Scheduled Event", _ALARM_RENDERER),
        Kind(
            "slack-action", "a Slack button click (from POST /slack/actions) or a Mute's re-enabling", _ALARM_RENDERER
        ),
        Kind("message", "anything else: a bare alarm message, SQS records, text", _ALARM_RENDERER),
    )
}

FUNCTIONS: tuple[Function, ...] = (
    Function("alb_logs", "s3", "chalicelib.alb.handler:handle_s3_event", takes_context=True),
    Function("alarm_bridge", "sns", "chalicelib.alarms.handler:handle_sns_event", takes_context=True),
    Function("alarm_events", "eventbridge-alarm", "chalicelib.alarms.handler:handle_eventbridge_event", True),
    Function("log_alerts", "awslogs", "chalicelib.logalerts.handler:handle_logs_event", takes_context=False),
    Function("log_alerts_stream", "kinesis-awslogs", "chalicelib.logalerts.stream:handle_kinesis_event", True),
    Function("monitors_audit", "schedule", "chalicelib.monitors.handler:handle_schedule", takes_context=False),
    Function("athena_report", "schedule", "chalicelib.athena.report:handle_schedule", takes_context=False),
    Function("slack_actions", "slack-action", "chalicelib.slackactions.worker:handle_event", takes_context=False),
)
_BY_NAME = {f.name: f for f in FUNCTIONS}


def _resolve(target: str) -> Callable:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def handler(function: str) -> Callable[..., object] | None:
    """The handler of ``function``, called as ``handler(event, context=None)``; None for an unknown function.

    Without a context (``opswatch failed replay``) a handler has no deadline and no continuation.
    """
    entry = _BY_NAME.get(function)
    if entry is None:
        return None
    run = _resolve(entry.handler)
    if entry.takes_context:
        return run
    return lambda event, context=None: run(event)


def handle(function: str, event: object, context: object = None) -> object:
    """Run ``function``'s handler on ``event``: what each Lambda function of ``app.py`` does."""
    run = handler(function)
    if run is None:
        raise KeyError(f"no function named {function!r} in the registry")
    return run(event, context)


def _is_awslogs(event: dict) -> bool:
    return isinstance(event.get("awslogs"), dict) or (
        isinstance(event.get("logEvents"), list) and "messageType" in event
    )


def kind_of(event: object) -> str:
    """The kind of ``event``, by its shape (``message`` when it is none of the triggers' kinds)."""
    if not isinstance(event, dict):
        return "message"
    records = event.get("Records")
    if isinstance(records, list):
        first = next((r for r in records if isinstance(r, dict)), {})
        if isinstance(first.get("s3"), dict):
            return "s3"
        if isinstance(first.get("kinesis"), dict):
            return "kinesis-awslogs"
        return "sns" if isinstance(first.get("Sns"), dict) else "message"
    if _is_awslogs(event):
        return "awslogs"
    if event.get("opswatch") == "reenable" or ("action_id" in event and "user_id" in event and "action_ts" in event):
        return "slack-action"
    detail_type = event.get("detail-type")
    if event.get("source") == "aws.cloudwatch" and isinstance(detail_type, str) and "Alarm" in detail_type:
        return "eventbridge-alarm"
    if detail_type == "Scheduled Event":
        return "schedule"
    return "message"


def render(event: object, router: Router) -> list[Outgoing]:
    """Every Slack message ``event`` calls for, in order, from its kind's renderer (nothing is posted)."""
    return _resolve(KINDS[kind_of(event)].renderer)(event, router)
