"""Play CloudWatch's part for the embedded default: publish an alarm's state change to SNS.

moto records alarm states but does not run their actions, so the demo (and
tests) publish what CloudWatch would: the classic alarm message, built from
DescribeAlarms, to every SNS topic among the alarm's actions. Subscribers (an
SQS queue standing in for the Lambda subscription) then receive the genuine
SNS envelope, which ``sns_lambda_event`` wraps the way Lambda's SNS trigger does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


def _trigger(alarm: dict) -> dict:
    trigger = {
        "Period": alarm.get("Period"),
        "EvaluationPeriods": alarm.get("EvaluationPeriods"),
        "DatapointsToAlarm": alarm.get("DatapointsToAlarm"),  # real messages carry it whenever it is set
        "ComparisonOperator": alarm.get("ComparisonOperator"),
        "Threshold": alarm.get("Threshold"),
        "TreatMissingData": f"- TreatMissingData:                    {alarm.get('TreatMissingData', 'missing')}",
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.get("MetricName"):
        trigger.update(
            MetricName=alarm["MetricName"],
            Namespace=alarm.get("Namespace"),
            StatisticType="Statistic",
            Statistic=str(alarm.get("Statistic", "")).upper(),
            Unit=None,
            Dimensions=[{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])],
        )
    return {k: v for k, v in trigger.items() if v is not None}


def alarm_message(alarm: dict, old_state: str, region_name: str) -> dict:
    """The JSON CloudWatch publishes to SNS for one alarm state change."""
    changed = alarm.get("StateUpdatedTimestamp")
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": alarm["AlarmArn"].split(":")[4],
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm.get("StateReason"),
        "StateChangeTime": changed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000" if changed else None,
        "Region": region_name,
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "Trigger": _trigger(alarm),
    }


def eventbridge_event(alarm: dict, old_state: str) -> dict:
    """The "CloudWatch Alarm State Change" event EventBridge delivers for the alarm's current state."""
    changed = alarm.get("StateUpdatedTimestamp")
    at = changed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000" if changed else None
    metrics = []
    if alarm.get("MetricName"):
        metrics = [
            {
                "id": "m1",
                "metricStat": {
                    "metric": {
                        "namespace": alarm.get("Namespace"),
                        "name": alarm["MetricName"],
                        "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                    },
                    "period": alarm.get("Period"),
                    "stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
                },
                "returnData": True,
            }
        ]
    arn = alarm["AlarmArn"]
    return {
        "version": "0",
        "id": f"{arn}-{at}",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": arn.split(":")[4],
        "time": changed.strftime("%Y-%m-%dT%H:%M:%SZ") if changed else None,
        "region": arn.split(":")[3],
        "resources": [arn],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "state": {"value": alarm["StateValue"], "reason": alarm.get("StateReason"), "timestamp": at},
            "previousState": {"value": old_state},
            "configuration": {
                "description": alarm.get("AlarmDescription"),
                "metrics": metrics,
                "threshold": alarm.get("Threshold"),
                "comparisonOperator": alarm.get("ComparisonOperator"),
                "evaluationPeriods": alarm.get("EvaluationPeriods"),
                "datapointsToAlarm": alarm.get("DatapointsToAlarm"),
                "treatMissingData": alarm.get("TreatMissingData"),
            },
        },
    }


def publish_state_change(cloudwatch, sns, alarm_name: str, old_state: str, region_name: str) -> list[str]:
    """Publish the alarm's current state to the SNS topics among its actions; returns message ids."""
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    actions = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
    message = alarm_message(alarm, old_state, region_name)
    subject = f'{alarm["StateValue"]}: "{alarm_name}" in {region_name}'[:100]
    ids = []
    for arn in alarm.get(actions[alarm["StateValue"]], []):
        if ":sns:" in arn:
            ids.append(sns.publish(TopicArn=arn, Subject=subject, Message=json.dumps(message))["MessageId"])
    return ids


def sns_lambda_event(envelope: dict, subscription_arn: str) -> dict:
    """Wrap an SNS notification (as an SQS subscriber receives it) the way Lambda's SNS trigger does."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    k: envelope.get(k)
                    for k in (
                        "Type",
                        "MessageId",
                        "TopicArn",
                        "Subject",
                        "Message",
                        "Timestamp",
                        "SignatureVersion",
                        "Signature",
                        "SigningCertURL",
                        "UnsubscribeURL",
                        "MessageAttributes",
                    )
                },
            }
        ]
    }


@dataclass
class SnsInbox:
    """An SQS queue subscribed to a topic: it stands in for the alarm bridge's Lambda subscription."""

    sqs: object
    queue_url: str
    subscription_arn: str

    def next_lambda_event(self, wait_seconds: int = 2) -> dict:
        """The next notification, wrapped as Lambda's SNS trigger delivers it."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        if not messages:
            raise TimeoutError(f"no SNS notification arrived within {wait_seconds} s")
        [m] = messages
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return sns_lambda_event(json.loads(m["Body"]), self.subscription_arn)


def subscribe_inbox(sns, sqs, topic_arn: str, name: str) -> SnsInbox:
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    return SnsInbox(sqs, queue, sub)
