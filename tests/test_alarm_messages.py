"""Every alarm and event file renders into a readable, valid, safe Slack message."""

from __future__ import annotations

import copy
import json

import pytest

from chalicelib.alarms.events import outgoing_for
from chalicelib.alarms.notification import parse_alarm
from chalicelib.alarms.render import render_alarm
from chalicelib.slack.routing import Router, RoutesError
from tests.conftest import DATA

EVENTS = sorted((DATA / "events").glob("*.json"))
ROUTER = Router(None, "#alerts", None)


def load(name: str) -> dict:
    return json.loads((DATA / "events" / name).read_text())


def texts(payload: dict) -> list[str]:
    """Every piece of text a payload shows."""
    out = [payload["text"]]
    for att in payload.get("attachments", []):
        for b in att["blocks"]:
            if "text" in b:
                out.append(b["text"]["text"])
            out += [f["text"] for f in b.get("fields", [])]
            out += [e["text"] for e in b.get("elements", [])]
    return out


def one(name: str, router: Router = ROUTER) -> tuple[dict, str]:
    [item] = outgoing_for(load(name), router)
    payload = item.message.payload(item.channel)
    return payload, "\n".join(texts(payload))


@pytest.mark.parametrize("path", EVENTS, ids=[p.name for p in EVENTS])
def test_every_event_file_renders_to_a_valid_message(path):
    items = outgoing_for(json.loads(path.read_text()), ROUTER)
    # CloudWatch Logs events post only what a log-alert rule matches (tests/test_log_alerts.py).
    assert items or "cloudwatch-logs" in path.name or "cloudwatch_logs" in path.name or "cwl_control" in path.name
    for item in items:
        payload = item.message.payload(item.channel)
        json.dumps(payload)
        assert payload["text"].strip()
        blocks = payload["attachments"][0]["blocks"]
        assert blocks[0]["type"] == "header" and len(blocks) <= 50


def test_single_metric_alarm_shows_what_is_measured():
    payload, text = one("amzn-rheoceros__real_sns_metric_alarm_event.json")
    assert payload["attachments"][0]["color"] == "#d62728"
    assert "`INSUFFICIENT_DATA` → `ALARM`" in text
    assert "*IExecutionFailureHook*" in text and "`sim-app_427809481713_us-east-1`" in text
    assert "MetricGroupId=routing_table.receive.hook" in text and "RouteID=metric_emitting_node" in text
    assert "SUM, 5 minutes" in text
    assert "*Threshold*\n≥ 1" in text
    assert "*Datapoints to alarm*\n1 out of 1" in text
    assert "*Missing data*\nmissing" in text
    assert "account 427809481713" in text and "region us-east-1" in text and "2021-11-10T02:45:55.640+0000" in text
    assert (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#alarmsV2:alarm/if-sim-app_427809481713_us-east-1-metric_emitting_node_failure|"
    ) in text


def test_metric_math_alarm_shows_expressions():
    _, text = one("aws-lambda-go__cloudwatch-alarm-sns-payload-multiple-metrics.json")
    assert "*Metric math:*" in text
    assert "`e1` = `m1*1` (Expression1)" in text
    assert "`m1` `AWS/EC2` *NetworkOut* (InstanceId=TestInstance) — Average, 1 minute" in text
    assert "*Threshold*\n> 0" in text


def test_anomaly_detection_alarm_shows_the_band():
    payload, text = one("thirdparty-unidentified-repo__real_sns_anomaly_detection_alarm_event.json")
    assert payload["attachments"][0]["color"] == "#2ca02c"
    assert "*Anomaly detection:*" in text
    assert "`ad1` = `ANOMALY_DETECTION_BAND(m1, 2)`" in text
    assert "*Threshold*\nabove the band `ad1`" in text
    assert "*Datapoints to alarm*\n1 out of 2" in text
    assert "ignore (keep the current state)" in text
    assert "region=us-east-2" in text


def test_eventbridge_anomaly_alarm():
    _, text = one("awsdocs-cloudwatch-eventbridge__state_change_for_an_anomaly_detection_alarm.json")
    assert "ANOMALY_DETECTION_BAND(m1, 0.8)" in text and "via EventBridge" in text


def test_composite_alarm_shows_rule_and_children():
    _, text = one("amzn-rheoceros__real_sns_composite_alarm_event.json")
    assert "*Rule:*\n```ALARM(arn:aws:cloudwatch:us-east-1:427809481713:alarm:if-sim-app" in text
    assert "• if-sim-app_427809481713_us-east-1-metric_emitting_node_failure (ALARM)" in text


def test_eventbridge_composite_with_suppressor():
    _, text = one("awsdocs-cloudwatch-eventbridge__state_change_for_a_composite_alarm_with_a_suppressor_alarm.json")
    assert "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)" in text
    assert "• ServerCpuTooHigh (ALARM)" in text
    assert "*Actions suppressed by*\nWaitPeriod" in text


def test_eventbridge_single_metric_threshold_from_reason_data():
    _, text = one("awsdocs-cloudwatch-eventbridge__state_change_for_a_single_metric_alarm.json")
    assert "*CPUUtilization*" in text and "InstanceId=i-12345678901234567" in text
    assert "50" in text.split("*Threshold*", 1)[1][:30]


def test_configuration_change_pings_nobody():
    router = Router(None, "#alerts", "here")
    [item] = outgoing_for(
        load("awsdocs-cloudwatch-eventbridge__deletion_of_a_composite_alarm_with_a_suppressor_alarm.json"), router
    )
    assert "<!here>" not in json.dumps(item.message.payload())
    assert "deleted" in item.message.text


def test_generic_messages_are_readable():
    _, text = one("terraform-aws-notify-slack__messages__text_message.json")
    assert "All Fine" in text and "Have a ~good~ amazing day!" in text


@pytest.mark.parametrize(
    ("partition_region", "host"),
    [
        ("aws-us-gov:us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
        ("aws-cn:cn-north-1", "https://console.amazonaws.cn/"),
    ],
)
def test_console_links_follow_the_partition(partition_region, host):
    msg = load("amzn-rheoceros__real_sns_metric_alarm_message.DECODED.json")
    partition, region = partition_region.split(":")
    msg["AlarmArn"] = f"arn:{partition}:cloudwatch:{region}:123456789012:alarm:x y"
    msg["AlarmName"] = "x y"
    text = "\n".join(texts(render_alarm(parse_alarm(msg)).payload()))
    assert f"<{host}cloudwatch/home?region={region}#alarmsV2:alarm/x%20y|x y>" in text


HOSTILE = "<!channel> <@U123> <http://evil.example|click> & <!here>"


def test_hostile_strings_in_every_field_ping_nobody():
    msg = load("aws-lambda-go__cloudwatch-alarm-sns-payload-multiple-metrics.Message.DECODED.json")
    msg = copy.deepcopy(msg)
    msg["AlarmName"] = HOSTILE
    msg["AlarmDescription"] = HOSTILE
    msg["NewStateReason"] = HOSTILE
    msg["OldStateValue"] = HOSTILE
    msg["Trigger"]["Metrics"][0]["Expression"] = HOSTILE
    msg["Trigger"]["Metrics"][0]["Label"] = HOSTILE
    msg["Trigger"]["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"][0]["value"] = HOSTILE
    msg["Trigger"]["Metrics"][1]["MetricStat"]["Metric"]["MetricName"] = HOSTILE
    composite = load("amzn-rheoceros__real_sns_composite_alarm_message.DECODED.json")
    composite["AlarmRule"] = HOSTILE
    composite["TriggeringChildren"][0]["Arn"] = "arn:aws:cloudwatch:us-east-1:1:alarm:" + HOSTILE
    sns_text = {"Records": [{"Sns": {"Subject": HOSTILE, "Message": HOSTILE, "TopicArn": HOSTILE}}]}
    for event in (msg, composite, sns_text):
        for item in outgoing_for(event, ROUTER):
            blob = json.dumps(item.message.payload())
            for bad in ("<!channel>", "<@U123>", "<http://evil.example|click>", "<!here>"):
                assert bad not in blob
            assert "&lt;!channel&gt;" in blob


def test_long_content_is_cut_with_a_marker_within_slack_limits():
    msg = load("amzn-rheoceros__real_sns_composite_alarm_message.DECODED.json")
    msg["AlarmDescription"] = "x" * 100_000
    msg["AlarmName"] = "n" * 500
    msg["TriggeringChildren"] = [
        {"Arn": f"arn:aws:cloudwatch:us-east-1:1:alarm:child-{i}-" + "y" * 200, "State": {"Value": "ALARM"}}
        for i in range(200)
    ]
    payload = render_alarm(parse_alarm(msg)).payload()
    blocks = payload["attachments"][0]["blocks"]
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)
    assert sum(len(t) for t in texts(payload)) <= 12_000 + 3000 + 200
    assert any(t.endswith("…") or t.endswith("…\n```") for t in texts(payload))


def test_routes():
    r = Router('[{"alarm": "prod-*", "channel": "#prod", "mention": "S0PAGER"}]', "#alerts", "here")
    assert r.route("prod-db", "ALARM") == ("#prod", "<!subteam^S0PAGER>")
    assert r.route("dev-db", "ALARM") == ("#alerts", "<!here>")
    assert r.route("dev-db", "INSUFFICIENT_DATA") == ("#alerts", None)
    with pytest.raises(RoutesError, match="route 1"):
        Router('[{"channel": "#x"}]', None, None)
    with pytest.raises(RoutesError, match="not JSON"):
        Router("[", None, None)
    with pytest.raises(RoutesError, match="mention"):
        Router(None, None, "everybody!")


def test_unreadable_records_are_shown_not_dropped():
    items = outgoing_for({"Records": ["junk", 5, {"Sns": {"Message": "hello", "Subject": "s"}}]}, ROUTER)
    assert len(items) == 3
    assert "junk" in items[0].message.text and "5" in items[1].message.text and "hello" in items[2].message.text


def test_datapoints_to_alarm_absent_means_all_of_the_evaluation_periods():
    msg = json.loads(
        (DATA / "events" / "aws-lambda-go__cloudwatch-alarm-sns-payload-single-metric.Message.DECODED.json").read_text()
    )
    msg["Trigger"].pop("DatapointsToAlarm", None)
    msg["Trigger"]["EvaluationPeriods"] = 5
    msg["NewStateReason"] = "Threshold Crossed: no datapoints were received"
    [item] = outgoing_for(msg, ROUTER)
    assert "*Datapoints to alarm*\n5 out of 5" in "\n".join(texts(item.message.payload()))
