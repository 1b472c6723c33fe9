"""The alarm bridge's second step: EventBridge, once per change, one thread per incident, the metric's shape."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import state
from chalicelib.alarms.handler import handle_eventbridge_event, handle_sns_event
from chalicelib.aws import client
from chalicelib.embedded.alarmnotify import eventbridge_event, publish_state_change, subscribe_inbox
from chalicelib.slack.delivery import SlackDeliveryError
from tests.faultproxy import FaultProxy

NAME = "shop 5xx"


@pytest.fixture
def alarm(aws):
    """An alarm on a metric with recent data (and gaps), its topic, an inbox standing in for the Lambda."""
    state.create_table("opswatch-local-state")
    cw, sns, sqs = boto3.client("cloudwatch"), boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="opswatch-local-alarms")["TopicArn"]
    inbox = subscribe_inbox(sns, sqs, topic, "bridge-inbox")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    data = [
        {"MetricName": "Http5xx", "Timestamp": now - timedelta(minutes=m), "Value": v, "Unit": "Count"}
        for m, v in ((50, 1), (40, 2), (30, 30), (20, 44), (10, 41), (5, 12))  # gaps between
    ]
    cw.put_metric_data(Namespace="shop", MetricData=data)
    cw.put_metric_alarm(
        AlarmName=NAME, Namespace="shop", MetricName="Http5xx", Statistic="Sum", Period=300, EvaluationPeriods=3,
        DatapointsToAlarm=2, Threshold=25, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic],
    )  # fmt: skip
    return cw, sns, inbox


def change(cw, new: str) -> dict:
    cw.set_alarm_state(AlarmName=NAME, StateValue=new, StateReason=f"test: now {new}")
    time.sleep(0.002)  # distinct state-change times
    return cw.describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0]


def test_eventbridge_event_is_posted_with_the_metrics_shape(alarm, local_webhook):
    cw, _, _ = alarm
    a = change(cw, "ALARM")
    [result] = handle_eventbridge_event(eventbridge_event(a, "OK"))
    assert result["source"] == "EventBridge" and result["ok"]
    text = local_webhook.messages[0].readable()
    assert "ALARM: shop 5xx" in text and "via EventBridge" in text
    line = next(ln for ln in text.splitlines() if "Recent shape" in ln)
    assert "(last 3 hours, 5 minutes periods)" in line and "last 12" in line and "threshold 25" in line
    spark = line.split("`")[1]
    assert len(spark) == 36 and spark.count(" ") >= 30 and "█" in spark  # 36 periods, most of them empty


def test_the_same_change_by_sns_and_eventbridge_and_redelivered_is_posted_once(alarm, local_webhook):
    cw, sns, inbox = alarm
    a = change(cw, "ALARM")
    publish_state_change(cw, sns, NAME, "OK", "US East (N. Virginia)")
    by_sns = inbox.next_lambda_event()
    assert handle_sns_event(by_sns)[0]["ok"]
    assert handle_eventbridge_event(eventbridge_event(a, "OK"))[0]["duplicate"]
    assert handle_sns_event(by_sns)[0]["duplicate"]  # redelivered
    assert len(local_webhook.messages) == 1
    change(cw, "OK")  # a new change is news again
    publish_state_change(cw, sns, NAME, "ALARM", "US East (N. Virginia)")
    handle_sns_event(inbox.next_lambda_event())
    assert len(local_webhook.messages) == 2


def test_a_failed_post_is_not_recorded_and_the_retry_posts_once(alarm, local_webhook):
    cw, _, _ = alarm
    event = eventbridge_event(change(cw, "ALARM"), "OK")
    local_webhook.fail(500, times=4)
    with pytest.raises(SlackDeliveryError):
        handle_eventbridge_event(event)
    assert local_webhook.messages == []
    assert handle_eventbridge_event(event)[0]["ok"]  # Lambda's retry
    assert handle_eventbridge_event(event)[0]["duplicate"]
    assert len(local_webhook.messages) == 1


def test_bot_mode_threads_ok_under_alarm_and_marks_it_resolved(alarm, local_bot, monkeypatch):
    monkeypatch.setenv("OPSWATCH_SLACK_MENTION", "here")
    cw, _, _ = alarm
    handle_eventbridge_event(eventbridge_event(change(cw, "ALARM"), "OK"))
    handle_eventbridge_event(eventbridge_event(change(cw, "INSUFFICIENT_DATA"), "ALARM"))
    handle_eventbridge_event(eventbridge_event(change(cw, "OK"), "INSUFFICIENT_DATA"))
    parent, insufficient, ok, updated = local_bot.messages
    assert parent.kind == "chat.postMessage" and "thread_ts" not in parent.body
    assert (
        insufficient.body["thread_ts"] == parent.body["ts"] and "INSUFFICIENT_DATA: shop 5xx" in insufficient.readable()
    )
    assert ok.body["thread_ts"] == parent.body["ts"] and "OK: shop 5xx" in ok.readable()
    assert updated.kind == "chat.update" and updated.body["ts"] == parent.body["ts"]
    assert "Resolved after less than a minute" in updated.readable() and updated.body["text"].startswith("RESOLVED")
    assert updated.body["attachments"][0]["color"] == "#2ca02c"
    assert "<!here>" in json.dumps(parent.body) and "<!here>" not in json.dumps(updated.body)  # resolved pings nobody
    handle_eventbridge_event(eventbridge_event(change(cw, "ALARM"), "OK"))  # a new incident, a new thread
    assert "thread_ts" not in local_bot.messages[-1].body


def test_without_a_kept_thread_ok_is_a_normal_message(alarm, local_bot):
    cw, _, _ = alarm
    handle_eventbridge_event(eventbridge_event(change(cw, "OK"), "ALARM"))
    [msg] = local_bot.messages
    assert msg.kind == "chat.postMessage" and "thread_ts" not in msg.body


@pytest.mark.parametrize("fault", ["error", "slow"])
def test_the_metric_read_failing_or_slow_does_not_hold_the_alert(alarm, local_webhook, monkeypatch, fault):
    cw, _, _ = alarm
    event = eventbridge_event(change(cw, "ALARM"), "OK")
    proxy = FaultProxy(client("cloudwatch").meta.endpoint_url)
    try:
        if fault == "error":
            proxy.fail_target, proxy.fail_times, proxy.status = "GraniteServiceVersion20100801.GetMetricData", -1, 500
            proxy.error_type = "InternalServiceError"
        else:
            proxy.delay["GraniteServiceVersion20100801.GetMetricData"] = 4
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", proxy.endpoint)
        client.cache_clear()
        started = time.monotonic()
        [result] = handle_eventbridge_event(event)
        assert result["ok"] and time.monotonic() - started < 4  # the 2 s timeout, once
        text = local_webhook.messages[0].readable()
        assert "ALARM: shop 5xx" in text and "Recent shape" not in text
        assert proxy.seen.count("GraniteServiceVersion20100801.GetMetricData") == 1
    finally:
        proxy.close()
        client.cache_clear()


def test_a_metric_without_data_says_so(aws, local_webhook):
    state.create_table("opswatch-local-state")
    cw = boto3.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="quiet", Namespace="shop", MetricName="Nothing", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip
    cw.set_alarm_state(AlarmName="quiet", StateValue="ALARM", StateReason="test")
    a = cw.describe_alarms(AlarmNames=["quiet"])["MetricAlarms"][0]
    handle_eventbridge_event(eventbridge_event(a, "OK"))
    assert "Recent shape:* no data in the last 1 hour" in json.dumps(local_webhook.messages[0].body)


def test_the_eventbridge_rule_can_be_narrowed_to_alarm_name_prefixes(monkeypatch):
    from chalicelib import settings

    monkeypatch.delenv("OPSWATCH_ALARM_NAME_PREFIXES", raising=False)
    assert "detail" not in settings.alarm_event_pattern()
    monkeypatch.setenv("OPSWATCH_ALARM_NAME_PREFIXES", "prod-, shop-")
    assert settings.alarm_event_pattern()["detail"] == {"alarmName": [{"prefix": "prod-"}, {"prefix": "shop-"}]}


PNG = b"\x89PNG\r\n\x1a\n" + b"opswatch graph stand-in" * 20


@pytest.mark.parametrize("stand_in", [True, False])
def test_bot_mode_attaches_the_metric_graph_in_the_thread(alarm, local_bot, monkeypatch, stand_in):
    cw, _, _ = alarm
    event = eventbridge_event(change(cw, "ALARM"), "OK")
    proxy = FaultProxy(client("cloudwatch").meta.endpoint_url)  # moto has no GetMetricWidgetImage: a stand-in
    requests: list[bytes] = []
    if stand_in:

        def widget_image(body: bytes):
            requests.append(body)
            answer = json.dumps({"MetricWidgetImage": base64.b64encode(PNG).decode()}).encode()
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, answer

        proxy.answer["GraniteServiceVersion20100801.GetMetricWidgetImage"] = widget_image
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", proxy.endpoint)
        monkeypatch.setenv("OPSWATCH_SLACK_GRAPHS", "true")
        client.cache_clear()
        [result] = handle_eventbridge_event(event)
    finally:
        proxy.close()
        client.cache_clear()
    assert result["ok"]
    if not stand_in:  # the graph failed: the alert went out all the same, without it
        assert [m.kind for m in local_bot.messages] == ["chat.postMessage"]
        return
    parent, graph = local_bot.messages
    assert graph.kind == "file" and graph.body["thread_ts"] == parent.body["ts"]
    assert graph.body["bytes"] == PNG and graph.body["filename"] == "metric.png"
    assert b"Http5xx" in requests[0] and b"threshold" in requests[0]


def test_a_duplicate_delivery_does_not_read_the_metric_again(alarm, local_webhook, monkeypatch):
    cw, sns, inbox = alarm
    a = change(cw, "ALARM")
    publish_state_change(cw, sns, NAME, "OK", "US East (N. Virginia)")
    by_sns = inbox.next_lambda_event()
    proxy = FaultProxy(client("cloudwatch").meta.endpoint_url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", proxy.endpoint)
        client.cache_clear()
        handle_sns_event(by_sns)
        handle_eventbridge_event(eventbridge_event(a, "OK"))
        handle_sns_event(by_sns)
    finally:
        proxy.close()
        client.cache_clear()
    assert len(local_webhook.messages) == 1 and "Recent shape" in local_webhook.messages[0].readable()
    assert proxy.seen.count("GraniteServiceVersion20100801.GetMetricData") == 1  # once per change, not per delivery
