"""The organization's infrastructure: member accounts forward alarms to the monitoring bus and subscribe their log
groups to the monitoring account's Logs destination. Templates rendered and linted, deployed on moto in two accounts
(AssumeRole credentials act in the role's account), and `opswatch logs subscribe` run with a member's credentials."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from tests.conftest import opswatch
from tests.test_infra_template import _CfnLoader, render, template

ROOT = Path(__file__).resolve().parent.parent
MEMBER = ROOT / "infra" / "member-account.yaml"
MONITORING, SHOP, PAY = "123456789012", "111122223333", "444455556666"
ORG = "o-a1b2c3d4e5"
DESTINATION = f"arn:aws:logs:us-east-1:{MONITORING}:destination:opswatch-local-logs"


def member_template() -> dict:
    return yaml.load(MEMBER.read_text(), Loader=_CfnLoader)


def as_account(account: str) -> dict[str, str]:
    """Credentials acting in ``account`` (moto: those AssumeRole issues act in the role's account)."""
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="opswatch-test"
    )
    c = creds["Credentials"]
    return {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
            "AWS_SESSION_TOKEN": c["SessionToken"]}  # fmt: skip


def session(account: str) -> boto3.Session:
    env = as_account(account)
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name="us-east-1",
    )


def _doc(doc: dict | str) -> dict:
    """A policy document as IAM gives it back (moto keeps one made by CloudFormation as Python's repr of it)."""
    return ast.literal_eval(doc) if isinstance(doc, str) else doc


def test_cfn_lint_finds_nothing_in_the_member_template():
    r = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(MEMBER)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_member_template_names_nothing_so_stack_instances_never_collide():
    for name, res in member_template()["Resources"].items():
        props = res.get("Properties", {})
        assert not {"RoleName", "Name"} & set(props), name


@pytest.mark.parametrize(
    ("org", "members", "principals"),
    [
        (ORG, "", [("*", ORG), ({"AWS": [MONITORING]}, None)]),
        ("", f"{SHOP},{PAY}", [({"AWS": [MONITORING, SHOP, PAY]}, None)]),
        ("", "", [({"AWS": [MONITORING]}, None)]),  # neither: this account alone
    ],
)
def test_the_destination_policy_takes_the_organization_or_the_listed_accounts(org, members, principals):
    tpl = template()
    raw = tpl["Resources"]["LogDestination"]["Properties"]["DestinationPolicy"]
    policy = json.loads(render(raw, tpl, "us-east-1", "local", MONITORING, members, OrganizationId=org))
    got = [
        (s["Principal"], s.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID"))
        for s in policy["Statement"]
    ]
    assert got == principals
    assert {s["Action"] for s in policy["Statement"]} == {"logs:PutSubscriptionFilter"}
    assert {s["Resource"] for s in policy["Statement"]} == {DESTINATION}


def test_the_default_bus_takes_the_organization_and_the_listed_accounts():
    tpl = template()
    res = tpl["Resources"]
    for name, condition in (("DefaultBusFromOrganization", "HasOrganization"), ("DefaultBusFromMemberAccounts",
                                                                                 "HasMemberAccountList")):  # fmt: skip
        assert res[name]["Condition"] == condition
        assert res[name]["Properties"]["EventBusName"] == "default"
    org = render(res["DefaultBusFromOrganization"]["Properties"]["Statement"], tpl, "eu-west-1", "prod",
                 MONITORING, OrganizationId=ORG)  # fmt: skip
    assert org["Principal"] == "*" and org["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert org["Action"] == "events:PutEvents"
    assert org["Resource"] == f"arn:aws:events:eu-west-1:{MONITORING}:event-bus/default"
    listed = render(res["DefaultBusFromMemberAccounts"]["Properties"]["Statement"], tpl, "eu-west-1", "prod",
                    MONITORING, f"{SHOP},{PAY}")  # fmt: skip
    assert listed["Principal"] == {"AWS": [SHOP, PAY]} and "Condition" not in listed


def test_monitoring_and_member_stacks_on_moto(aws):
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="opswatch-local-resources",
        TemplateBody=(ROOT / "infra" / "opswatch-resources.yaml").read_text(),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": "local"},
            {"ParameterKey": "OrganizationId", "ParameterValue": ORG},
            {"ParameterKey": "MemberAccounts", "ParameterValue": f"{SHOP},{PAY}"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    assert cfn.describe_stacks(StackName="opswatch-local-resources")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    stream = boto3.client("kinesis").describe_stream_summary(StreamName="opswatch-local-logs")
    assert stream["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24
    stack = cfn.describe_stacks(StackName="opswatch-local-resources")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["LogDestinationArn"] == DESTINATION  # what member accounts subscribe to
    assert outputs["LogStreamArn"] == stream["StreamDescriptionSummary"]["StreamARN"]
    # moto's CloudFormation skips the destination and the bus policy: rendered and checked above.

    # The member account's stack (as a StackSet instance would be): its rule forwards to the monitoring bus.
    member = session(SHOP)
    member.client("cloudformation").create_stack(
        StackName="opswatch-member",
        TemplateBody=MEMBER.read_text(),
        Parameters=[{"ParameterKey": "MonitoringAccountId", "ParameterValue": MONITORING}],
        Capabilities=["CAPABILITY_IAM"],
    )
    events = member.client("events")
    [rule] = [r for r in events.list_rules()["Rules"] if "ForwardAlarms" in r["Name"]]
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
    }  # what alarm_events' own rule matches: settings.alarm_event_pattern()
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == f"arn:aws:events:us-east-1:{MONITORING}:event-bus/default"
    role = target["RoleArn"].rsplit("/", 1)[-1]
    iam = member.client("iam")
    trust = _doc(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    doc = _doc(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    assert doc["Statement"][0]["Action"] == "events:PutEvents" and doc["Statement"][0]["Resource"] == target["Arn"]

    # In the monitoring account itself the member stack creates nothing (no loop onto its own bus).
    cfn.create_stack(
        StackName="opswatch-member",
        TemplateBody=MEMBER.read_text(),
        Parameters=[{"ParameterKey": "MonitoringAccountId", "ParameterValue": MONITORING}],
        Capabilities=["CAPABILITY_IAM"],
    )
    assert [r for r in boto3.client("events").list_rules()["Rules"] if "ForwardAlarms" in r["Name"]] == []
    assert cfn.describe_stacks(StackName="opswatch-member")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_the_member_template_creates_a_resource_in_the_monitoring_account_and_in_a_member():
    """CloudFormation refuses a stack whose conditions leave no resource to create: the StackSet's instance in
    the monitoring account (in the organizational unit it targets) must still hold one."""
    tpl = member_template()
    conditions = {name: r.get("Condition") for name, r in tpl["Resources"].items()}
    monitoring = [n for n, c in conditions.items() if c in (None, "IsMonitoringAccount")]
    member = [n for n, c in conditions.items() if c in (None, "IsMemberAccount")]
    assert monitoring and member, conditions
    assert tpl["Conditions"]["IsMemberAccount"] == {"Fn::Not": [tpl["Conditions"]["IsMonitoringAccount"]]}


@pytest.fixture
def member_groups(aws):
    """The monitoring account's destination, and a member account's log groups."""
    logs = boto3.client("logs")  # as the template makes it (moto's CloudFormation skips it)
    logs.put_destination(
        destinationName="opswatch-local-logs",
        targetArn=f"arn:aws:kinesis:us-east-1:{MONITORING}:stream/opswatch-local-logs",
        roleArn=f"arn:aws:iam::{MONITORING}:role/logs-to-kinesis",
    )
    tpl = template()
    policy = tpl["Resources"]["LogDestination"]["Properties"]["DestinationPolicy"]
    logs.put_destination_policy(
        destinationName="opswatch-local-logs",
        accessPolicy=render(policy, tpl, "us-east-1", "local", MONITORING, SHOP, OrganizationId=""),
    )
    # moto checks a logs destinationArn as a log group of that name in the destination's account.
    logs.create_log_group(logGroupName="opswatch-local-logs")
    member = session(SHOP).client("logs")
    for group in ("/ecs/shop-api", "/ecs/shop-worker", "/other/app"):
        member.create_log_group(logGroupName=group)
    return member


def test_logs_subscribe_puts_the_member_accounts_filters_on_the_destination_once(member_groups):
    env = as_account(SHOP)
    r = opswatch("logs", "subscribe", "--destination-arn", DESTINATION, "--log-group-prefix", "/ecs/", **env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("created: /ecs/") == 2 and "/other/app" not in r.stdout
    [f] = member_groups.describe_subscription_filters(logGroupName="/ecs/shop-api")["subscriptionFilters"]
    assert f["destinationArn"] == DESTINATION and f["filterName"] == "opswatch-log-alerts" and f["filterPattern"]
    again = opswatch("logs", "subscribe", "--destination-arn", DESTINATION, "--log-group-prefix", "/ecs/", **env)
    assert again.returncode == 0 and again.stdout.count("unchanged: /ecs/") == 2, again.stderr
    # And off again, in the member account: only where it delivers to that destination.
    off = opswatch("logs", "unsubscribe", "--destination-arn", DESTINATION, "/ecs/shop-api", "/other/app", **env)
    assert off.returncode == 0, off.stderr
    assert "/ecs/shop-api: removed subscription filter" in off.stdout and "/other/app: nothing to remove" in off.stdout
    assert member_groups.describe_subscription_filters(logGroupName="/ecs/shop-api")["subscriptionFilters"] == []
    # Nothing in the monitoring account's own log groups.
    assert (
        boto3.client("logs").describe_subscription_filters(logGroupName="opswatch-local-logs")["subscriptionFilters"]
        == []
    )


@pytest.mark.parametrize(
    ("args", "code", "why"),
    [
        (["--destination-arn", "arn:aws:lambda:us-east-1:123456789012:function:x", "/ecs/shop-api"], 2,
         "is not a CloudWatch Logs destination ARN"),
        (["--destination-arn", DESTINATION.replace("us-east-1", "eu-west-1"), "/ecs/shop-api"], 2,
         "the destination is in eu-west-1 and these log groups in us-east-1"),
        (["--destination-arn", DESTINATION], 2, "name the log groups to subscribe, or give --log-group-prefix"),
        (["--destination-arn", DESTINATION, "--role-arn", "role/x", "/ecs/shop-api"], 2, "is not an IAM role ARN"),
        (["--role-arn", "arn:aws:iam::111122223333:role/x", "/ecs/shop-api"], 2, "--role-arn goes with"),
        (["--destination-arn", DESTINATION, "/ecs/missing", "/ecs/shop-api"], 1, "log group '/ecs/missing' does not"),
        (["--destination-arn", DESTINATION, "--log-group-prefix", "/nothing/"], 0, "no log group starts with"),
    ],
)  # fmt: skip
def test_logs_subscribe_to_a_destination_says_what_is_wrong(member_groups, args, code, why):
    r = opswatch("logs", "subscribe", *args, **as_account(SHOP))
    assert r.returncode == code, r.stdout + r.stderr
    assert why in r.stderr and "Traceback" not in r.stderr
