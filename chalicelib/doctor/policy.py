"""The read-only IAM policy that lets ``opswatch doctor`` run every check (``opswatch policies --doctor``).

A test runs doctor on a healthy stage, records the action of every call it made, and
checks each is here: the list cannot fall behind the checks.
"""

from __future__ import annotations

import json

# Read-only: Describe/Get/List calls only. The one write doctor can make, --send-test, goes to Slack, not AWS.
ACTIONS = (
    "athena:GetWorkGroup",
    "cloudformation:DescribeStackResources",
    "cloudformation:DescribeStacks",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "events:DescribeRule",
    "events:ListTargetsByRule",
    "glue:GetDatabase",
    "glue:GetTable",
    "lambda:GetFunction",
    "lambda:GetFunctionEventInvokeConfig",
    "lambda:GetPolicy",
    "lambda:ListEventSourceMappings",
    "logs:DescribeLogGroups",
    "logs:DescribeMetricFilters",
    "logs:DescribeSubscriptionFilters",
    "s3:GetBucketNotification",
    "s3:GetBucketPolicy",
    "s3:ListBucket",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTopics",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sts:GetCallerIdentity",
)


def document(stage: str) -> dict:
    """The policy for ``stage`` (its environment set): every read on ``*``, and the stage's Slack secret only."""
    from chalicelib import policies

    w = policies.where(stage)
    if w is None:  # not placed yet: any account and Region, the stage's own secret name
        w = policies.Where("*", "*", "aws")
    secret = [
        {**st, "Sid": "Doctor" + st["Sid"]}
        for st in policies._slack_statements(w, stage)  # the same secret the functions read
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DoctorReadsTheStage", "Effect": "Allow", "Action": list(ACTIONS), "Resource": "*"},
            *secret,
        ],
    }


def text(stage: str) -> str:
    return json.dumps(document(stage), indent=2)
