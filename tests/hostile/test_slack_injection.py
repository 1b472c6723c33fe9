"""Slack markup in every field an event, a log line or an account can fill: it pings nobody, links nowhere.

Slack reads ``<!channel>``, ``<!here>``, ``<@U…>`` and ``<https://evil|click>`` as markup in mrkdwn
and in a message's ``text``. Before the fix, an alarm's ``Trigger.Unit`` reached the metric-shape line
unescaped and posted a live ``@channel``. Every renderer is checked here, on what it actually sends.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import state
from chalicelib.alarms.events import outgoing_for
from chalicelib.alarms.handler import handle_sns_event
from chalicelib.athena.report import _table
from chalicelib.logalerts.alerts import collect
from chalicelib.logalerts.payload import LogBatch, LogEvent
from chalicelib.logalerts.render import render_alert
from chalicelib.logalerts.rules import active_rules
from chalicelib.monitors.audit import Finding, digest
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.routing import Router
from tests.bounded import run_opswatch
from tests.conftest import DATA

HOSTILE = "<!channel> <https://evil|click> & @here <@U123> <!subteam^S1>"
MARKUP = ("<!channel>", "<https://evil", "evil|click>", "<@U123>", "<!subteam")
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


@pytest.fixture(autouse=True)
def _moto_left_clean(request):
    """Later tests that do not reset moto expect no state table: leave the account as found."""
    yield
    if "aws" in request.fixturenames:
        request.getfixturevalue("moto_server").reset()


def _texts(node, kind: str = "mrkdwn"):
    """Every (kind, text) a Slack payload shows: the fallback text, mrkdwn and plain_text objects."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node["type"], node["text"]
        for k, v in node.items():
            if k == "text" and isinstance(v, str) and "type" not in node:
                yield "mrkdwn", v  # the top-level text, which Slack also parses
            elif isinstance(v, dict | list):
                yield from _texts(v, kind)
    elif isinstance(node, list):
        for v in node:
            yield from _texts(v, kind)


def assert_inert(payload: dict) -> None:
    assert "link_names" not in json.dumps(payload)  # a plain "@here" stays text only without it
    seen = 0
    for kind, text in _texts(payload):
        for bad in MARKUP:
            assert bad not in text, (kind, text)
        if kind == "mrkdwn":
            assert not _ENTITY.search(text), text  # every & is an escape
        else:
            assert "<" not in text and ">" not in text, text
        seen += "&lt;!channel&gt;" in text or "‹!channel›" in text
    assert seen, "the hostile text should be shown, escaped"


def _sns_alarm() -> dict:
    msg = json.loads(
        (DATA / "events" / "aws-lambda-go__cloudwatch-alarm-sns-payload-single-metric.Message.DECODED.json").read_text()
    )
    msg.update(
        AlarmName="shop 5xx " + HOSTILE,
        AlarmDescription=HOSTILE,
        NewStateReason=HOSTILE,
        OldStateValue=HOSTILE,
        StateChangeTime=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        Region="US East (N. Virginia)",
        AWSAccountId=HOSTILE,
        AlarmArn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop",
    )
    msg["Trigger"].update(
        MetricName="Http5xx",
        Namespace="shop",
        Statistic="SUM",
        Unit=HOSTILE,
        Dimensions=[{"name": "LoadBalancer", "value": HOSTILE}],
        Period=300,
        TreatMissingData=HOSTILE,
        ComparisonOperator=HOSTILE,
        Threshold=25.0,
    )
    return msg


def test_an_alarm_with_markup_in_every_field_and_its_unit_in_the_shape_line(aws, local_webhook):
    state.create_table("opswatch-local-state")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    boto3.client("cloudwatch").put_metric_data(
        Namespace="shop",
        MetricData=[
            {"MetricName": "Http5xx", "Dimensions": [{"Name": "LoadBalancer", "Value": HOSTILE}],
             "Timestamp": now - timedelta(minutes=m), "Value": v}
            for m, v in ((20, 3), (10, 40), (5, 44))
        ],
    )  # fmt: skip
    event = {"Records": [{"Sns": {"Subject": HOSTILE, "Message": json.dumps(_sns_alarm()), "TopicArn": "t"}}]}
    [result] = handle_sns_event(event)
    assert result["ok"]
    [posted] = local_webhook.messages
    assert "Recent shape" in posted.readable()  # the line the unit goes into
    assert "last 44 &lt;!channel&gt;" in json.dumps(posted.body)
    assert_inert(posted.body)


@pytest.mark.parametrize(
    "name",
    [
        "awsdocs-cloudwatch-eventbridge__state_change_for_a_single_metric_alarm.json",
        "awsdocs-cloudwatch-eventbridge__state_change_for_a_metric_math_alarm.json",
        "awsdocs-cloudwatch-eventbridge__state_change_for_a_composite_alarm_with_a_suppressor_alarm.json",
        "awsdocs-cloudwatch-eventbridge__update_of_a_metric_alarm.json",
        "amzn-rheoceros__real_sns_composite_alarm_message.DECODED.json",
        "thirdparty-unidentified-repo__real_sns_anomaly_detection_alarm_event.json",
    ],
)
def test_every_string_of_every_alarm_kind(name):
    """Each string value of the event, one at a time, set to markup (except those that decide its kind)."""
    event = json.loads((DATA / "events" / name).read_text())
    keep = {"source", "detail-type", "NewStateValue", "value", "Type", "EventSource", "messageType"}

    def paths(node, at=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from paths(v, (*at, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from paths(v, (*at, i))
        elif isinstance(node, str) and at and at[-1] not in keep:
            yield at

    router = Router(None, "#alerts", None)
    for path in list(paths(event)):
        ev = copy.deepcopy(event)
        holder = ev
        for k in path[:-1]:
            holder = holder[k]
        holder[path[-1]] = HOSTILE if not str(path[-1]).endswith(("Arn", "arn")) else holder[path[-1]] + HOSTILE
        for item in outgoing_for(ev, router):
            blob = item.message.payload(item.channel)
            for kind, text in _texts(blob):
                for bad in MARKUP:
                    assert bad not in text, (path, kind, text)
                if kind == "mrkdwn":
                    assert not _ENTITY.search(text), (path, text)


def test_a_log_alert_from_hostile_log_text():
    batch = LogBatch(
        owner=HOSTILE,
        log_group="/ecs/" + HOSTILE,
        log_stream=HOSTILE,
        subscription_filters=(),
        events=(LogEvent("1", 1_700_000_000_000, "java.lang.OutOfMemoryError: " + HOSTILE),),
        control=False,
    )
    [alert] = collect([batch], active_rules(None, None, ())).alerts
    payload = render_alert(alert, "us-east-1", None, state_error=HOSTILE).payload("#alerts")
    assert_inert(payload)


def test_the_audit_digest_and_the_athena_report():
    msg = digest([Finding("no-data", HOSTILE, HOSTILE, "fix it")], account=HOSTILE, region=HOSTILE)
    assert_inert(msg.payload())
    report = SlackMessage(text="report")
    report.section(_table(["path", "n"], [(HOSTILE, 1)]))
    assert_inert(report.payload())


def test_slack_render_of_a_hostile_event_file_within_bounds(tmp_path):
    """Markup everywhere, and a 5 MB description: escaped, cut to Slack's limits, memory and time bounded."""
    alarm = _sns_alarm()
    alarm["AlarmDescription"] = HOSTILE * (5_000_000 // len(HOSTILE))
    path = tmp_path / "alarm.json"
    path.write_text(json.dumps(alarm))
    got = run_opswatch("slack", "render", str(path), seconds=60, address_space_mb=1024, env={"OPSWATCH_STAGE": "local"})
    assert got.returncode == 0, got.stderr[-2000:]
    [line] = got.stdout.splitlines()
    payload = json.loads(line)
    assert_inert(payload)
    assert len(line) < 40_000  # Slack's limits, whatever came in
    assert got.peak_rss_mb < 300, got.peak_rss_mb
