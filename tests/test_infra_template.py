"""The infra template creates what the Lambdas expect, under the names .chalice/config.json uses."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import boto3
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


TEMPLATE = ROOT / "infra" / "opswatch-resources.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !If ...) as their long forms."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)
NO_VALUE = object()


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)


def render(
    node,
    tpl: dict,
    region: str,
    stage: str = "prod",
    account: str = "111122223333",
    members: str = "",
    **params: str,
):
    """Resolve the intrinsic functions this template uses, as CloudFormation would in ``region``."""
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "Stage": stage,
        "MemberAccounts": members,
        **params,
    }

    def cond(name: str) -> bool:
        return bool(r(tpl["Conditions"][name]))

    def r(n):
        if isinstance(n, list):
            return [x for x in (r(i) for i in n) if x is not NO_VALUE]
        if not isinstance(n, dict):
            return n
        if len(n) == 1:
            ((k, v),) = n.items()
            if k == "Ref":
                if v == "AWS::NoValue":
                    return NO_VALUE
                return pseudo.get(v, n)  # a resource's id stays a Ref: known only once created
            if k == "Condition":
                return cond(v)
            if k == "Fn::Equals":
                return r(v[0]) == r(v[1])
            if k == "Fn::Or":
                return any(r(x) for x in v)
            if k == "Fn::Not":
                return not r(v[0])
            if k == "Fn::And":
                return all(r(x) for x in v)
            if k == "Fn::Split":
                return r(v[1]).split(v[0])
            if k == "Fn::Join":
                return v[0].join(r(v[1]))
            if k == "Fn::If":
                return r(v[1]) if cond(v[0]) else r(v[2])  # the other branch is never resolved
            if k == "Fn::FindInMap":
                return tpl["Mappings"][v[0]][r(v[1])][v[2]]
            if k == "Fn::GetAtt":
                return n
            if k == "Fn::Sub":
                text, extra = (v, {}) if isinstance(v, str) else (v[0], {a: r(b) for a, b in v[1].items()})
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra.get(m.group(1)) or pseudo[m.group(1)]), text)
        return {k: r(v) for k, v in n.items() if r(v) is not NO_VALUE}

    return r(node)


def bucket_policy(region: str, members: str = "", stage: str = "prod") -> list[dict]:
    tpl = template()
    document = tpl["Resources"]["AlbLogBucketPolicy"]["Properties"]["PolicyDocument"]
    return render(document, tpl, region, stage=stage, members=members)["Statement"]


@pytest.mark.parametrize(
    ("region", "elb_account"),
    [
        ("us-east-1", "127311923021"),  # older Regions: the Region's Elastic Load Balancing account too
        ("eu-west-1", "156460612806"),
        ("ap-southeast-3", None),  # opened since: the service principal alone
    ],
)
def test_the_log_bucket_policy_grants_the_service_principal_and_the_regions_elb_account(region, elb_account):
    statements = bucket_policy(region)
    resource = "arn:aws:s3:::opswatch-prod-alb-logs/AWSLogs/111122223333/*"
    principals = {json.dumps(s["Principal"], sort_keys=True) for s in statements}
    assert {s["Action"] for s in statements} == {"s3:PutObject"}
    assert {s["Resource"] for s in statements} == {resource}
    assert json.dumps({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}) in principals
    if elb_account:
        assert json.dumps({"AWS": f"arn:aws:iam::{elb_account}:root"}) in principals and len(statements) == 2
    else:
        assert len(statements) == 1


def test_every_mapped_region_is_in_the_condition():
    tpl = template()
    for region in tpl["Mappings"]["ElbLogDeliveryAccount"]:
        assert len(bucket_policy(region)) == 2, region


def test_cfn_lint_finds_nothing():
    import subprocess
    import sys
    from pathlib import Path as P

    cfn_lint = P(sys.executable).parent / "cfn-lint"
    r = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stack_creates_what_the_stage_needs(aws):
    cfn = boto3.client("cloudformation")
    body = TEMPLATE.read_text()
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
    boto3.client("s3").head_bucket(Bucket="opswatch-local-athena-results")
    from chalicelib import policies, settings

    with policies.stage_environment("local"):
        group = settings.alb().log_group
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/opswatch/")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(group, 30)]
    topics = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    assert any(t.endswith(":" + env["OPSWATCH_ALARM_TOPIC"]) for t in topics)
    queue = boto3.client("sqs").get_queue_url(QueueName="opswatch-local-failed")["QueueUrl"]
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["MessageRetentionPeriod"])
    assert attrs["Attributes"]["MessageRetentionPeriod"] == "1209600"
    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName="opswatch-local-state")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    # The scheduler's role: assumed by EventBridge Scheduler alone, and it may only invoke the worker.
    iam = boto3.client("iam")
    role = iam.get_role(RoleName="opswatch-local-scheduler")["Role"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    [name] = iam.list_role_policies(RoleName="opswatch-local-scheduler")["PolicyNames"]
    doc = iam.get_role_policy(RoleName="opswatch-local-scheduler", PolicyName=name)["PolicyDocument"]
    # moto keeps a stack's inline policy as the Python text of the template's mapping
    [stmt] = (ast.literal_eval(doc) if isinstance(doc, str) else doc)["Statement"]
    assert stmt["Action"] == "lambda:InvokeFunction"
    assert stmt["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:opswatch-local-slack_actions"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["SchedulerRoleArn"] == role["Arn"]

    # moto's CloudFormation skips alarms, Athena workgroups, Glue databases, bucket and topic
    # policies, TTL and lifecycle rules (cfn-lint checks them against AWS's schemas above):
    # what the template asks for is checked as rendered for the stage.
    tpl = template()
    res = tpl["Resources"]
    alarm = render(res["FailedQueueAlarm"]["Properties"], tpl, "us-east-1", "local")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Threshold"] == 1
    assert (
        alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["TreatMissingData"] == "notBreaching"
    )
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedQueue", "QueueName"]}}]
    wg = render(res["AthenaWorkGroup"]["Properties"], tpl, "us-east-1", "local")
    assert wg["Name"] == "opswatch-local"
    assert (
        wg["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"] == "s3://opswatch-local-athena-results/"
    )
    topic_stmt = res["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert topic_stmt["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and topic_stmt["Action"] == "sns:Publish"
    ttl = res["StateTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expiration", "Enabled": True}  # the attribute chalicelib.state writes
    rules = res["AthenaResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules[0]["ExpirationInDays"] == {"Ref": "AthenaResultsExpirationDays"}
    assert res["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]["EnforceWorkGroupConfiguration"] is True


def test_names_match_what_the_code_uses():
    """The template's names are the ones chalicelib.settings derives for the stage."""
    from chalicelib import policies, settings

    tpl = template()
    for stage in ("local", "dev", "prod"):
        with policies.stage_environment(stage):
            names = {
                "AlbLogBucket": settings.alb().bucket,
                "AlbLogGroup": settings.alb().log_group,
                "StateTable": settings.state_table(),
                "FailedQueue": settings.failed_queue(),
                "AthenaWorkGroup": settings.athena().workgroup,
                "AlarmTopic": settings.slack().alarm_topic,
            }
            props = {
                "AlbLogBucket": "BucketName",
                "AlbLogGroup": "LogGroupName",
                "StateTable": "TableName",
                "FailedQueue": "QueueName",
                "AthenaWorkGroup": "Name",
                "AlarmTopic": "TopicName",
            }
            for resource, prop in props.items():
                assert (
                    render(tpl["Resources"][resource]["Properties"][prop], tpl, "us-east-1", stage) == names[resource]
                )
            db = tpl["Resources"]["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"]
            assert render(db, tpl, "us-east-1", stage) == settings.athena().database
            actions = settings.slack_actions()
            group = tpl["Resources"]["ScheduleGroup"]["Properties"]["Name"]
            assert render(group, tpl, "us-east-1", stage) == actions.schedule_group
            role = tpl["Resources"]["SchedulerRole"]["Properties"]
            assert render(role["RoleName"], tpl, "us-east-1", stage) == policies.scheduler_role_name(stage)
            [stmt] = role["Policies"][0]["PolicyDocument"]["Statement"]
            invoked = render(stmt["Resource"], tpl, "us-east-1", stage)
            assert invoked.endswith(":function:" + actions.worker_function), invoked


def test_the_readme_lists_the_parameters_as_they_are():
    readme = (ROOT / "infra" / "README.md").read_text()
    listed = re.findall(r"^\| `(\w+)` \|", readme, re.M)
    params = template()["Parameters"]
    assert listed == list(params)
    stage_row = next(ln for ln in readme.splitlines() if ln.startswith("| `Stage`"))
    assert all(f"`{v}`" in stage_row for v in params["Stage"]["AllowedValues"])
    retention = next(ln for ln in readme.splitlines() if ln.startswith("| `LogRetentionDays`"))
    assert "`/opswatch/<stage>/alb`" in retention  # the group is the stage's


@pytest.mark.parametrize("stage", ["prod", "dev", "local"])
@pytest.mark.parametrize(("region", "statements"), [("eu-west-1", 4), ("ap-southeast-3", 2)])
def test_member_accounts_may_each_write_only_under_their_own_prefix(stage, region, statements):
    members = "444455556666,777788889999"
    policy = bucket_policy(region, members, stage)
    assert len(policy) == statements  # the service principal, and the Region's ELB account where it has one
    bucket = f"arn:aws:s3:::opswatch-{stage}-alb-logs"
    own = [s for s in policy if s["Sid"] in ("ElbLogDelivery", "ElbRegionAccountLogDelivery")]
    assert {s["Resource"] for s in own} == {f"{bucket}/AWSLogs/111122223333/*"}
    for s in policy:
        if s["Sid"].endswith("MemberAccounts"):
            assert s["Resource"] == [f"{bucket}/AWSLogs/444455556666/*", f"{bucket}/AWSLogs/777788889999/*"]
            assert s["Action"] == "s3:PutObject" and "Condition" not in s
    assert not any(
        r.endswith("/AWSLogs/*")
        for s in policy
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    )


def test_the_stack_takes_member_accounts_and_s3_takes_the_rendered_policy(aws):
    cfn = boto3.client("cloudformation")
    for name, members in (("single", ""), ("central", "444455556666,777788889999")):
        cfn.create_stack(
            StackName=f"opswatch-local-{name}",
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[
                {"ParameterKey": "Stage", "ParameterValue": "local"},
                {"ParameterKey": "MemberAccounts", "ParameterValue": members},
            ],
        )
        stack = cfn.describe_stacks(StackName=f"opswatch-local-{name}")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        # moto's CloudFormation skips bucket policies: the policy as rendered goes to S3 itself.
        policy = {"Version": "2012-10-17", "Statement": bucket_policy("us-east-1", members, "local")}
        s3 = boto3.client("s3")
        s3.put_bucket_policy(Bucket="opswatch-local-alb-logs", Policy=json.dumps(policy))
        stored = json.loads(s3.get_bucket_policy(Bucket="opswatch-local-alb-logs")["Policy"])
        assert len(stored["Statement"]) == (4 if members else 2)
        cfn.delete_stack(StackName=f"opswatch-local-{name}")  # the same names for the next form


def test_a_malformed_member_account_list_is_refused_by_the_parameter():
    pattern = re.compile(template()["Parameters"]["MemberAccounts"]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("444455556666,777788889999")
    for bad in ("4444", "444455556666,", "444455556666, 777788889999", "*", "444455556666/../x"):
        assert not pattern.fullmatch(bad), bad
