"""An alarm changes state in moto, its SNS message reaches the alarm bridge, Slack (loopback) gets it."""

from __future__ import annotations

import json

import boto3

from chalicelib.alarms.handler import handle_sns_event
from chalicelib.embedded.alarmnotify import publish_state_change, subscribe_inbox
from chalicelib.embedded.slackserver import SlackServer


def test_state_change_through_sns_to_slack(aws, monkeypatch):
    slack = SlackServer()
    try:
        monkeypatch.setenv("OPSWATCH_STAGE", "local")
        monkeypatch.setenv("OPSWATCH_SLACK_MODE", "webhook")
        monkeypatch.delenv("OPSWATCH_SLACK_SECRET", raising=False)
        monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", slack.webhook_url)
        cw, sns, sqs = boto3.client("cloudwatch"), boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="alarms")["TopicArn"]
        inbox = subscribe_inbox(sns, sqs, topic, "inbox")
        cw.put_metric_alarm(
            AlarmName="api latency",
            Namespace="AWS/ApplicationELB",
            MetricName="TargetResponseTime",
            ExtendedStatistic="p99",
            Period=300,
            EvaluationPeriods=3,
            Threshold=1.5,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="ignore",
            AlarmActions=[topic],
            Dimensions=[{"Name": "LoadBalancer", "Value": "app/api/1"}],
        )
        cw.set_alarm_state(
            AlarmName="api latency",
            StateValue="ALARM",
            StateReason="Threshold Crossed: 2 out of the last 3 datapoints were greater than the threshold",
        )
        assert publish_state_change(cw, sns, "api latency", "OK", "EU (Ireland)")
        event = inbox.next_lambda_event()
        [record] = event["Records"]
        assert record["EventSource"] == "aws:sns" and record["Sns"]["TopicArn"] == topic
        assert record["Sns"]["Type"] == "Notification"
        assert json.loads(record["Sns"]["Message"])["AlarmName"] == "api latency"

        [result] = handle_sns_event(event)
        assert result["ok"] and result["alarm"] == "api latency"
        [posted] = slack.messages
        text = posted.readable()
        assert "ALARM: api latency" in text
        assert "*TargetResponseTime*" in text and "LoadBalancer=app/api/1" in text
        assert "> 1.5" in text and "2 out of 3" in text and "ignore" in text
        assert "region=us-east-1" in text  # from the alarm's ARN
    finally:
        slack.close()
