"""The infra template creates what the Lambdas expect, under the names .chalice/config.json uses."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_stack_creates_bucket_group_topic_and_state_table(aws):
    cfn = boto3.client("cloudformation")
    body = (ROOT / "infra" / "opswatch-resources.yaml").read_text()
    cfn.create_stack(
        StackName="opswatch-local-resources",
        TemplateBody=body,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "local"}],
    )
    stack = cfn.describe_stacks(StackName="opswatch-local-resources")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {**config["environment_variables"], **config["stages"]["local"]["environment_variables"]}
    boto3.client("s3").head_bucket(Bucket=env["OPSWATCH_ALB_BUCKET"])
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=env["OPSWATCH_ALB_LOG_GROUP"])["logGroups"]
    assert groups[0]["retentionInDays"] == 30
    topics = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    assert any(t.endswith(":" + env["OPSWATCH_ALARM_TOPIC"]) for t in topics)
    # moto creates no bucket or topic policies from a template: check what the template asks for instead.
    resources = {
        r["LogicalResourceId"]: r["ResourceType"]
        for r in cfn.list_stack_resources(StackName="opswatch-local-resources")["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }
    assert resources == {
        "AlbLogBucket": "AWS::S3::Bucket",
        "AlbLogGroup": "AWS::Logs::LogGroup",
        "AlarmTopic": "AWS::SNS::Topic",
        "StateTable": "AWS::DynamoDB::Table",
    }
    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName="opswatch-local-state")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    # moto's CloudFormation does not apply TimeToLiveSpecification: check the template asks for it (below).
    template = yaml.load(body, Loader=_CfnLoader)  # a SafeLoader plus CloudFormation tags
    bucket_stmt = template["Resources"]["AlbLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert bucket_stmt["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert bucket_stmt["Action"] == "s3:PutObject"
    topic_stmt = template["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert topic_stmt["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and topic_stmt["Action"] == "sns:Publish"
    ttl = template["Resources"]["StateTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expiration", "Enabled": True}  # the attribute chalicelib.state writes


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub) as plain values."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)
    ),
)
