"""``opswatch doctor`` against a stage built for real on the moto server, then broken one piece at a time.

The stage is built once per module, the way the README's deploy path builds it: the
resources stack from the template, ``chalice deploy --stage local``, ``opswatch failed
setup``, a subscribed log group, the Slack secret, Athena's table, a load balancer that
logs to the bucket. Each later test breaks one piece, checks doctor names it with its fix,
and mends it again (in ``finally``), so the next test starts from a healthy stage.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from chalicelib.aws import client
from chalicelib.embedded.slackserver import TOKEN, WEBHOOK_PATH
from tests.conftest import opswatch
from tests.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET = "opswatch-local-alb-logs"
TOPIC = "opswatch-local-alarms"
SECRET = "opswatch/local/slack"
APP_GROUP = "/app/orders"
TABLE = "opswatch-local-state"
QUEUE = "opswatch-local-failed"
RULE = "opswatch-local-alarm_events-event"
LB = "shop-alb"


def _config_env() -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {**config["environment_variables"], **config["stages"][STAGE]["environment_variables"]}


@pytest.fixture(scope="module")
def stage(moto_server, tmp_path_factory, slack_server_module):
    """A fully wired local stage on the moto server; yields the environment doctor runs with."""
    moto_server.reset()
    client.cache_clear()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPSWATCH_")},
        **_config_env(),
        "OPSWATCH_SLACK_SECRET": f"secretsmanager:{SECRET}",
    }
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="opswatch-local-resources",
        TemplateBody=(ROOT / "infra" / "opswatch-resources.yaml").read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
    )
    # What moto's CloudFormation skips, made as the template asks: the bucket policy, TTL, the workgroup, Glue.
    boto3.client("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(_bucket_policy()))
    boto3.client("dynamodb").update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    boto3.client("athena").create_work_group(
        Name="opswatch-local",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://opswatch-local-athena-results/"}},
    )
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": "opswatch_local"})
    glue.create_table(DatabaseName="opswatch_local", TableInput=_table("2024/01/01,NOW"))

    proj = tmp_path_factory.mktemp("doctor") / "opswatch"
    proj.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, proj / name)
    shutil.copytree(ROOT / "chalicelib", proj / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".chalice", proj / ".chalice", ignore=shutil.ignore_patterns("deployed", "deployments"))
    r = subprocess.run(
        [str(Path(sys.executable).parent / "chalice"), "deploy", "--stage", STAGE],
        cwd=proj,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr

    r = opswatch("failed", "setup", env=env)
    assert r.returncode == 0, r.stderr
    boto3.client("logs").create_log_group(logGroupName=APP_GROUP)
    r = opswatch("logs", "subscribe", APP_GROUP, env=env)
    assert r.returncode == 0, r.stderr

    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name=SECRET, SecretString=json.dumps({"webhook_url": slack_server_module.webhook_url}))

    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
    cw = boto3.client("cloudwatch")
    cw.put_metric_data(Namespace="shop", MetricData=[{"MetricName": "Errors", "Value": 0}])
    cw.put_metric_alarm(
        AlarmName="shop-errors",
        Namespace="shop",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
        OKActions=[topic_arn],
    )
    _load_balancer_logging_to_the_bucket()
    yield env
    moto_server.reset()
    client.cache_clear()


@pytest.fixture(scope="module")
def slack_server_module():
    from chalicelib.embedded.slackserver import SlackServer

    s = SlackServer()
    yield s
    s.close()


def _bucket_policy() -> dict:
    resource = f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ElbLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": resource,
            },
            {
                "Sid": "ElbRegionAccountLogDelivery",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::127311923021:root"},
                "Action": "s3:PutObject",
                "Resource": resource,
            },
        ],
    }


def _table(day_range: str) -> dict:
    """The Glue table as ``opswatch athena setup``'s DDL makes it (moto runs no DDL), with its projection."""
    return {
        "Name": "alb_access_logs",
        "PartitionKeys": [{"Name": "day", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": "type", "Type": "string"}],
            "Location": f"s3://{BUCKET}/AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/",
        },
        "Parameters": {
            "projection.enabled": "true",
            "projection.day.type": "date",
            "projection.day.range": day_range,
            "projection.day.format": "yyyy/MM/dd",
        },
    }


def _load_balancer_logging_to_the_bucket() -> str:
    ec2, elbv2 = boto3.client("ec2"), boto3.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(Name=LB, Subnets=subnets, Type="application")["LoadBalancers"][0]
    _log_to(lb["LoadBalancerArn"], BUCKET)
    _, _, rest = lb["LoadBalancerArn"].partition(":loadbalancer/")
    now = datetime.now(UTC)
    key = (
        f"AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/{now:%Y/%m/%d}/"
        f"{ACCOUNT}_elasticloadbalancing_{REGION}_{rest.replace('/', '.')}_{now:%Y%m%dT%H%MZ}_10.0.0.1_abc.log.gz"
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b""))
    return lb["LoadBalancerArn"]


def _log_to(arn: str, bucket: str, enabled: str = "true") -> None:
    boto3.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": enabled},
            {"Key": "access_logs.s3.bucket", "Value": bucket},
        ],
    )


def _invoke(env: dict, *args: str, **extra: str):
    from click.testing import CliRunner

    from chalicelib.cli.main import cli

    want = {**env, **extra}
    scoped = {k: v for k, v in want.items() if k.startswith(("OPSWATCH_", "AWS_"))}
    cleared = {k: None for k in os.environ if k.startswith("OPSWATCH_") and k not in scoped}
    r = CliRunner().invoke(cli, ["doctor", *args], env={**cleared, **scoped})
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


def doctor(env: dict, *args: str, **extra: str) -> tuple[int, dict[str, dict], str]:
    """``opswatch doctor --format json`` in this process (the command's own code, without a fresh interpreter
    per run): (exit code, results by check name, stderr). No secret may show."""
    r = _invoke(env, "--format", "json", *args, **extra)
    out = r.stdout + r.stderr
    assert WEBHOOK_PATH not in out and "SECRETPART" not in out and TOKEN not in out, out
    results = {}
    for line in r.stdout.splitlines():
        item = json.loads(line)
        results[item["check"]] = item
    return r.exit_code, results, r.stderr


def _healthy(results: dict[str, dict], *but: str) -> None:
    """Every check other than ``but`` is ok (access-logs, monitors: an honest skip is allowed where noted)."""
    for name, item in results.items():
        if name in but:
            continue
        if name == "monitors":
            assert item["status"] == "skip" and "--spec" in item["found"], item
        else:
            assert item["status"] == "ok", item


def test_a_healthy_stage_passes_every_check(stage):
    """As a user runs it: a fresh process."""
    from chalicelib.doctor.runner import NAMES

    r = opswatch("doctor", "--format", "json", env=stage)
    results = {item["check"]: item for item in map(json.loads, r.stdout.splitlines())}
    assert list(results) == NAMES  # every check, in the report's order, once
    _healthy(results)
    assert r.returncode == 0, r.stderr
    assert WEBHOOK_PATH not in r.stdout + r.stderr
    assert "1 alarm use it" in results["alarm-topic"]["found"]
    assert "1 log groups subscribed" in results["log-subscriptions"]["found"]
    assert results["identity"]["found"].startswith(f"account {ACCOUNT}, Region {REGION}")


def test_the_text_form_groups_by_flow_and_gives_each_fix(stage):
    r = _invoke(stage, OPSWATCH_ALARM_TOPIC="nobody-alarms")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f"opswatch doctor: stage {STAGE}, account {ACCOUNT}, Region {REGION}"
    for flow in ("setup", "ALB access logs", "Slack", "alarms", "log alerts", "state and failures", "Athena"):
        assert flow in lines
    [i] = [n for n, line in enumerate(lines) if line.strip().startswith("FAIL alarm-topic:")]
    assert "no topic nobody-alarms" in lines[i] and lines[i + 1].strip().startswith("fix: ")
    assert lines[-1].startswith("16 checks: ")


def test_json_is_one_stable_object_per_check(stage):
    r = _invoke(stage, "--format", "json", OPSWATCH_ALARM_TOPIC="nobody-alarms")
    assert r.exit_code == 1 and len(r.stdout.splitlines()) == 16
    for line in r.stdout.splitlines():
        item = json.loads(line)
        assert list(item) == ["check", "status", "found", "fix"]
        assert item["status"] in ("ok", "warn", "fail", "skip")


def test_stage_reads_the_settings_of_config_json(stage):
    """--stage local: .chalice/config.json's settings, not the shell's: its local stage names no Slack secret."""
    code, results, _ = doctor(stage, "--stage", STAGE, OPSWATCH_ALB_BUCKET="not-this-one")
    assert results["bucket-policy"]["status"] == "ok"  # the config's bucket, not the shell's
    item = results["slack-secret"]
    assert code == 1 and item["status"] == "fail", item
    assert item["found"] == "stage local has no Slack destination (OPSWATCH_SLACK_SECRET is not set)"
    assert "OPSWATCH_SLACK_SECRET=secretsmanager:opswatch/local/slack" in item["fix"]
    _healthy(results, "slack-secret")


def test_identity_fails_when_the_credentials_reach_another_account(stage):
    code, results, _ = doctor(stage, OPSWATCH_ACCOUNT_ID="111122223333")
    assert code == 1 and results["identity"]["status"] == "fail"
    assert "placed in account 111122223333" in results["identity"]["found"]
    assert "opswatch policies --write --stage local" in results["identity"]["fix"]


def test_stack_fails_when_its_names_differ_from_the_settings(stage):
    code, results, _ = doctor(stage, OPSWATCH_STATE_TABLE="opswatch-local-other")
    assert code == 1 and results["stack"]["status"] == "fail"
    assert "StateTable is 'opswatch-local-state', settings say 'opswatch-local-other'" in results["stack"]["found"]
    assert results["state-table"]["status"] == "fail"


def test_stack_fails_when_there_is_none(stage):
    _, results, _ = doctor(stage, OPSWATCH_STAGE="dev")
    assert results["stack"]["status"] == "fail"
    assert "no stack opswatch-dev-resources" in results["stack"]["found"]
    assert results["stack"]["fix"].startswith("aws cloudformation deploy --template-file infra/opswatch-resources.yaml")


def test_bucket_notification_lost_to_another_function(stage):
    s3 = boto3.client("s3")
    saved = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    saved.pop("ResponseMetadata")
    other = boto3.client("lambda").get_function(FunctionName="opswatch-local-log_alerts")["Configuration"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": other["FunctionArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    try:
        code, results, _ = doctor(stage)
        item = results["bucket-notification"]
        assert code == 1 and item["status"] == "fail", item
        assert "sends no ObjectCreated event to opswatch-local-alb_logs" in item["found"]
        assert "opswatch-local-log_alerts" in item["found"] and item["fix"].startswith("chalice deploy --stage local")
        _healthy(results, "bucket-notification")
    finally:
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=saved)


def test_bucket_notification_without_the_configured_suffix(stage):
    """OPSWATCH_ALB_KEY_SUFFIX set after the deploy: the live notification has no such filter (S3 would send every
    object, the ELB test file included, or none of the new ones)."""
    code, results, _ = doctor(stage, OPSWATCH_ALB_KEY_SUFFIX=".log.gz")
    item = results["bucket-notification"]
    assert code == 1 and item["status"] == "fail", item
    assert item["found"] == "the notification has no suffix filter '.log.gz' (OPSWATCH_ALB_KEY_SUFFIX)"
    assert item["fix"] == "chalice deploy --stage local"


def test_a_malformed_notification_configuration_is_a_fail_with_its_reason(stage, aws_proxy):
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration><CloudFunctionConfiguration>'
        b"<Id>x</Id></CloudFunctionConfiguration><LambdaFunctionConfiguration><Event>s3:ObjectCreated:*</Event>"
        b"</LambdaFunctionConfiguration></NotificationConfiguration>"
    )
    aws_proxy.answer_path["?notification"] = lambda _body: (200, {"Content-Type": "application/xml"}, body)
    code, results, err = doctor(stage, AWS_ENDPOINT_URL=aws_proxy.endpoint)
    item = results["bucket-notification"]
    assert code == 1 and item["status"] == "fail", item
    assert "notification configuration is not what S3 returns: entry 1" in item["found"]
    assert "Traceback" not in err
    _healthy(results, "bucket-notification")


def test_bucket_policy_that_lets_no_elb_write(stage):
    s3 = boto3.client("s3")
    s3.delete_bucket_policy(Bucket=BUCKET)
    try:
        _, results, _ = doctor(stage)
        assert results["bucket-policy"]["status"] == "fail"
        assert "no bucket policy" in results["bucket-policy"]["found"]
        s3.put_bucket_policy(
            Bucket=BUCKET,
            Policy=json.dumps(
                {**_bucket_policy(), "Statement": [{**_bucket_policy()["Statement"][0], "Resource": "x"}]}
            ),
        )
        _, results, _ = doctor(stage)
        item = results["bucket-policy"]
        assert item["status"] == "fail" and "lets neither logdelivery" in item["found"], item
        assert f"AWSLogs/{ACCOUNT}/*" in item["fix"]
    finally:
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(_bucket_policy()))


def test_access_logs_sent_to_another_bucket(stage):
    elbv2 = boto3.client("elbv2")
    [lb] = elbv2.describe_load_balancers(Names=[LB])["LoadBalancers"]
    boto3.client("s3").create_bucket(Bucket="someone-elses-logs")
    _log_to(lb["LoadBalancerArn"], "someone-elses-logs")
    try:
        code, results, _ = doctor(stage, "--load-balancer", LB)
        item = results["access-logs"]
        assert code == 1 and item["status"] == "fail", item
        assert "logs go to 'someone-elses-logs', not opswatch-local-alb-logs" in item["found"]
        assert item["fix"].startswith(
            f"aws elbv2 modify-load-balancer-attributes --load-balancer-arn {lb['LoadBalancerArn']}"
        )
        assert f"Key=access_logs.s3.bucket,Value={BUCKET}" in item["fix"]
    finally:
        _log_to(lb["LoadBalancerArn"], BUCKET)


def test_access_logs_warn_when_the_newest_object_is_old(stage):
    elbv2 = boto3.client("elbv2")
    ec2 = boto3.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["CidrBlock"].startswith("10.0.")]
    quiet = elbv2.create_load_balancer(Name="quiet-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    _log_to(quiet["LoadBalancerArn"], BUCKET)
    try:
        code, results, _ = doctor(stage, "--load-balancer", quiet["LoadBalancerArn"])
        item = results["access-logs"]
        assert code == 0 and item["status"] == "warn", item
        assert "quiet-alb: no log object today or yesterday" in item["found"]
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=quiet["LoadBalancerArn"])


def test_an_unknown_load_balancer_is_a_usage_error_naming_it(stage):
    r = opswatch("doctor", "--load-balancer", "no-such-alb", env=stage)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == "opswatch: --load-balancer 'no-such-alb': no such load balancer in us-east-1"


def test_log_group_that_never_expires_warns(stage):
    logs = boto3.client("logs")
    logs.delete_retention_policy(logGroupName="/opswatch/local/alb")
    try:
        code, results, _ = doctor(stage)
        item = results["log-group"]
        assert code == 0 and item["status"] == "warn", item
        assert "never expires" in item["found"] and "put-retention-policy" in item["fix"]
    finally:
        logs.put_retention_policy(logGroupName="/opswatch/local/alb", retentionInDays=30)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"webhookUrl": "https://hooks.slack.com/services/T0/B0/SECRETPART"}, "holds 'webhookUrl', not 'webhook_url'"),
        ("this is not json", "is not JSON"),
        ({"webhook_url": "xoxb-1-SECRETPART"}, "holds a Slack token (xox…), but OPSWATCH_SLACK_MODE is webhook"),
        ('{"webhook_url": "https://hooks.slack.com/services/T0/B0/SECRETPART"', "is not valid JSON"),
    ],
)
def test_slack_secret_with_the_wrong_key_or_no_json(stage, slack_server_module, value, reason):
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=SECRET, SecretString=value if isinstance(value, str) else json.dumps(value))
    try:
        code, results, _ = doctor(stage)
        item = results["slack-secret"]
        assert code == 1 and item["status"] == "fail", item
        assert reason in item["found"] and "SECRETPART" not in json.dumps(item)
        assert item["fix"].startswith(f"aws secretsmanager put-secret-value --secret-id {SECRET}")
    finally:
        secrets.put_secret_value(
            SecretId=SECRET, SecretString=json.dumps({"webhook_url": slack_server_module.webhook_url})
        )


def test_a_secret_whose_key_is_not_text_says_so():
    from chalicelib.doctor.slackflow import _judge

    for value, kind in (['["https://hooks.slack.com/services/T0/B0/SECRETPART"]', "list"], ["5", "int"]):
        said = _judge('{"webhook_url": ' + value + "}", "webhook", "opswatch/prod/slack")
        assert (
            said == f"the secret opswatch/prod/slack holds 'webhook_url', but as JSON {kind}, not text (webhook mode)"
        )


def test_send_test_goes_through_the_real_delivery_to_slack(stage, slack_server_module):
    before = len(slack_server_module.messages)
    code, results, _ = doctor(stage, "--send-test")
    item = results["slack-secret"]
    assert code == 0 and item["status"] == "ok", item
    assert 'test message sent, Slack answered {"ok": true, "status": 200}' in item["found"]
    [posted] = slack_server_module.messages[before:]
    assert "test message from stage local" in posted.body["text"]


def test_send_test_in_bot_mode_posts_to_the_channel(stage, slack_server_module):
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps({"bot_token": TOKEN}))
    bot = {
        "OPSWATCH_SLACK_MODE": "bot",
        "OPSWATCH_SLACK_API_URL": slack_server_module.api_url,
        "OPSWATCH_SLACK_CHANNEL": "#alerts",
    }
    before = len(slack_server_module.messages)
    try:
        # A fresh process, as a user runs it: this one's delivery code keeps the webhook secret cached for 5 minutes.
        r = opswatch("doctor", "--send-test", "--format", "json", env={**stage, **bot})
        assert TOKEN not in r.stdout + r.stderr
        item = next(i for i in map(json.loads, r.stdout.splitlines()) if i["check"] == "slack-secret")
        assert r.returncode == 0 and item["status"] == "ok", item
        assert item["found"].startswith("secretsmanager:opswatch/local/slack holds the bot_token bot mode needs")
        assert '"channel": "#alerts"' in item["found"] or '"channel": "C' in item["found"]
        [posted] = slack_server_module.messages[before:]
        assert posted.kind == "chat.postMessage" and posted.body["channel"] == "#alerts"
    finally:
        secrets.put_secret_value(
            SecretId=SECRET, SecretString=json.dumps({"webhook_url": slack_server_module.webhook_url})
        )


def test_send_test_reports_slack_refusing(stage, slack_server_module):
    slack_server_module.fail(500, times=2)  # the first try and its one retry
    try:
        code, results, _ = doctor(stage, "--send-test")
        item = results["slack-secret"]
        assert code == 1 and item["status"] == "fail" and "not delivered" in item["found"], item
    finally:
        slack_server_module._faults.clear()


def test_alarm_topic_without_its_subscription(stage):
    sns = boto3.client("sns")
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    try:
        code, results, _ = doctor(stage)
        item = results["alarm-topic"]
        assert code == 1 and item["status"] == "fail", item
        assert "has no subscription to opswatch-local-alarm_bridge" in item["found"]
        assert item["fix"].startswith("chalice deploy --stage local")
    finally:
        sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=sub["Endpoint"])


def test_alarm_rule_disabled(stage):
    events = boto3.client("events")
    events.disable_rule(Name=RULE)
    try:
        code, results, _ = doctor(stage)
        item = results["alarm-rule"]
        assert code == 1 and item["status"] == "fail", item
        assert item["found"] == f"{RULE} is DISABLED" and item["fix"] == f"aws events enable-rule --name {RULE}"
    finally:
        events.enable_rule(Name=RULE)


def test_alarm_rule_pattern_older_than_the_settings_warns(stage):
    code, results, _ = doctor(stage, OPSWATCH_ALARM_NAME_PREFIXES="shop-")
    item = results["alarm-rule"]
    assert code == 0 and item["status"] == "warn" and "pattern" in item["found"], item


def test_alarms_audit_summarises_its_findings(stage):
    cw = boto3.client("cloudwatch")
    cw.put_metric_data(Namespace="shop", MetricData=[{"MetricName": "Latency", "Value": 1}])
    cw.put_metric_alarm(
        AlarmName="by-hand",
        Namespace="shop",
        MetricName="Latency",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    try:
        code, results, _ = doctor(stage)
        item = results["alarms-audit"]
        assert code == 0 and item["status"] == "warn", item
        assert "1 x implicit-missing" in item["found"] and "1 x no-actions" in item["found"]
        assert item["fix"].startswith("opswatch alarms audit")
    finally:
        cw.delete_alarms(AlarmNames=["by-hand"])


def test_log_subscriptions_to_another_function_fail_and_an_old_pattern_warns(stage):
    logs, lam = boto3.client("logs"), boto3.client("lambda")
    [ours] = logs.describe_subscription_filters(logGroupName=APP_GROUP)["subscriptionFilters"]
    other = lam.get_function(FunctionName="opswatch-local-alarm_bridge")["Configuration"]["FunctionArn"]
    try:
        logs.put_subscription_filter(
            logGroupName=APP_GROUP, filterName="opswatch-log-alerts", filterPattern="", destinationArn=other
        )
        code, results, _ = doctor(stage)
        item = results["log-subscriptions"]
        assert code == 1 and item["status"] == "fail", item
        assert f"{APP_GROUP} -> opswatch-local-alarm_bridge" in item["found"]
        assert item["fix"] == f"OPSWATCH_STAGE=local opswatch logs subscribe {APP_GROUP}"

        logs.put_subscription_filter(
            logGroupName=APP_GROUP, filterName="opswatch-log-alerts", filterPattern='?"OOM"', destinationArn=ours[
                "destinationArn"]
        )  # fmt: skip
        code, results, _ = doctor(stage)
        item = results["log-subscriptions"]
        assert code == 0 and item["status"] == "warn", item
        assert "the rules no longer derive" in item["found"] and APP_GROUP in item["fix"]
    finally:
        logs.put_subscription_filter(
            logGroupName=APP_GROUP,
            filterName="opswatch-log-alerts",
            filterPattern=ours["filterPattern"],
            destinationArn=ours["destinationArn"],
        )


def test_log_subscriptions_follow_the_configured_function(stage):
    """OPSWATCH_LOG_ALERT_FUNCTION names the function `logs subscribe` points at: doctor checks that one."""
    code, results, _ = doctor(stage, OPSWATCH_LOG_ALERT_FUNCTION="opswatch-local-alarm_bridge")
    item = results["log-subscriptions"]
    assert code == 1 and item["status"] == "fail", item
    assert "1 of 1 subscriptions do not reach opswatch-local-alarm_bridge" in item["found"]
    assert f"{APP_GROUP} -> opswatch-local-log_alerts" in item["found"]


def test_state_table_without_ttl(stage):
    ddb = boto3.client("dynamodb")
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiration"})
    try:
        code, results, _ = doctor(stage)
        item = results["state-table"]
        assert code == 1 and item["status"] == "fail", item
        assert "items never expire" in item["found"]
        assert "update-time-to-live" in item["fix"] and "AttributeName=expiration" in item["fix"]
    finally:
        ddb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )


def test_failed_queue_not_a_destination_then_not_empty(stage):
    lam, sqs = boto3.client("lambda"), boto3.client("sqs")
    lam.delete_function_event_invoke_config(FunctionName="opswatch-local-alarm_events")
    try:
        code, results, _ = doctor(stage)
        item = results["failed-queue"]
        assert code == 1 and item["status"] == "fail", item
        assert "not the on-failure destination of alarm_events" in item["found"]
        assert item["fix"] == "OPSWATCH_STAGE=local opswatch failed setup"
    finally:
        assert opswatch("failed", "setup", env=stage).returncode == 0
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    try:
        code, results, _ = doctor(stage)
        item = results["failed-queue"]
        assert code == 0 and item["status"] == "warn", item
        assert "1 failed event waiting" in item["found"] and "opswatch failed list" in item["fix"]
    finally:
        sqs.purge_queue(QueueUrl=url)


def test_a_stream_mapping_left_as_chalice_made_it_fails_the_failed_queue_check(stage):
    # Chalice cannot set partial batch responses: without `failed setup`, Lambda ignores the stream
    # function's batchItemFailures and retries whole batches until the records expire.
    lam = boto3.client("lambda")
    arn = lam.get_function(FunctionName="opswatch-local-log_alerts_stream")["Configuration"]["FunctionArn"]
    [mapping] = lam.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # failed setup, in the fixture
    lam.update_event_source_mapping(UUID=mapping["UUID"], FunctionResponseTypes=[])
    try:
        code, results, _ = doctor(stage)
        item = results["failed-queue"]
        assert code == 1 and item["status"] == "fail", item
        assert "log_alerts_stream's stream mapping" in item["found"]
        assert item["fix"] == "OPSWATCH_STAGE=local opswatch failed setup"
    finally:
        assert opswatch("failed", "setup", env=stage).returncode == 0
    assert doctor(stage)[1]["failed-queue"]["status"] == "ok"


def test_athena_projection_that_ended_last_month(stage):
    glue = boto3.client("glue")
    last_month = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y/%m/%d")
    glue.update_table(DatabaseName="opswatch_local", TableInput=_table(f"2024/01/01,{last_month}"))
    try:
        code, results, _ = doctor(stage)
        item = results["athena"]
        assert code == 1 and item["status"] == "fail", item
        assert f"projection.day.range ended {last_month}" in item["found"]
        assert "SET TBLPROPERTIES ('projection.day.range'='2024/01/01,NOW')" in item["fix"]
    finally:
        glue.update_table(DatabaseName="opswatch_local", TableInput=_table("2024/01/01,NOW"))


def test_monitors_shows_the_drift_of_the_spec(stage, tmp_path):
    spec = tmp_path / "monitors.yaml"
    shutil.copy(ROOT / "infra" / "monitors.yaml", spec)
    code, results, _ = doctor(stage, "--spec", str(spec))
    item = results["monitors"]
    assert code == 0 and item["status"] == "warn", item
    assert re.search(r": \d+ to create, 0 to change \(metric filter opswatch-alb-", item["found"]), item
    assert item["fix"] == f"OPSWATCH_STAGE=local opswatch monitors plan --spec {spec}, then the same with apply"


def test_monitors_leaves_a_spec_with_targets_to_plan(stage, tmp_path):
    """Its filters and alarms live in the target accounts: the stage's own account would show them all missing."""
    spec = tmp_path / "monitors.yaml"
    shutil.copy(ROOT / "infra" / "monitors-targets.yaml", spec)
    _, results, _ = doctor(stage, "--spec", str(spec))
    item = results["monitors"]
    assert item["status"] == "skip" and "applies to 2 target accounts through their roles" in item["found"], item


def test_an_unknown_stage_or_spec_is_a_usage_error_naming_it(stage, tmp_path):
    r = _invoke(stage, "--stage", "nope")
    assert r.exit_code == 2 and "--stage 'nope'" in r.stderr and "Traceback" not in r.stderr
    r = _invoke(stage, "--spec", str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "missing.yaml" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("alarms: [{name: x}]\n")
    r = _invoke(stage, "--spec", str(bad))
    assert r.exit_code == 2 and f"--spec {bad}: not a valid monitors spec" in r.stderr


def test_access_denied_is_a_skip_naming_the_action_and_the_rest_go_on(stage, aws_proxy):
    aws_proxy.fail_target = "Logs_20140328.DescribeLogGroups"
    aws_proxy.fail_times = -1
    aws_proxy.error_type = "AccessDeniedException"
    code, results, _ = doctor(stage, AWS_ENDPOINT_URL=aws_proxy.endpoint)
    for name in ("log-group", "log-subscriptions"):
        assert results[name]["status"] == "skip", results[name]
        assert results[name]["found"] == "cannot check, needs logs:DescribeLogGroups"
        assert "opswatch policies --doctor" in results[name]["fix"]
    _healthy(results, "log-group", "log-subscriptions")
    assert code == 0


def test_no_region_or_no_credentials_is_one_clear_line(stage, tmp_path):
    bare = {k: v for k, v in stage.items() if not k.startswith("AWS_")}
    bare.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    r = opswatch("doctor", env=bare)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("opswatch: ") and "doctor: no AWS Region:" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    r = opswatch("doctor", env={**bare, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("opswatch: ") and "doctor: no AWS credentials:" in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_every_call_doctor_makes_is_in_its_read_only_policy(stage):
    """The healthy run, in process, recording the IAM action of each call: all are in `policies --doctor`."""
    from chalicelib import policies
    from chalicelib.doctor import policy, runner
    from chalicelib.doctor.check import Context

    env = {k: v for k, v in stage.items() if k.startswith("OPSWATCH_")}
    with policies.stage_environment(STAGE, **env):
        ctx = Context(STAGE, ACCOUNT, REGION, "aws", "arn:aws:iam::123456789012:user/moto", spec=None)
        results = runner.run(ctx)
    assert all(r.status in ("ok", "skip") for r in results), [r for r in results if r.status not in ("ok", "skip")]
    print({name: round(s, 2) for name, s in ctx.timings.items()})
    r = opswatch("policies", "--doctor", "--stage", STAGE, env=stage)
    doc = json.loads(r.stdout)
    granted = {a for st in doc["Statement"] for a in st["Action"]}
    assert ctx.actions and ctx.actions <= granted, ctx.actions - granted
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in policy.ACTIONS)
    assert set(doc["Statement"][0]["Action"]) == set(policy.ACTIONS)
    assert doc["Statement"][1]["Resource"] == [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SECRET}-??????"]


def test_function_errors_are_shown(stage):
    """Last: moto keeps metric data until the stage is torn down."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "opswatch-local-alb_logs"}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
                "Value": 3,
            }
        ],
    )
    code, results, _ = doctor(stage)
    item = results["function-errors"]
    assert code == 0 and item["status"] == "warn", item
    assert item["found"] == "last 24 hours: alb_logs Errors 3"
    assert item["fix"].startswith("aws logs tail /aws/lambda/opswatch-local-alb_logs --since 24h")


def test_elb_accounts_match_the_infra_template():
    from chalicelib.doctor.albflow import ELB_ACCOUNTS
    from tests.test_infra_template import template

    mapping = template()["Mappings"]["ElbLogDeliveryAccount"]
    assert {region: v["Account"] for region, v in mapping.items()} == ELB_ACCOUNTS


@pytest.fixture
def aws_proxy(moto_server):
    proxy = FaultProxy(moto_server.endpoint)
    yield proxy
    proxy.close()


def test_a_templated_log_group_is_checked_group_by_group(stage):
    template = {"OPSWATCH_ALB_LOG_GROUP": "/opswatch/alb/{account}"}
    _, results, _ = doctor(stage, **template)
    item = results["log-group"]
    assert item["status"] == "warn" and "no log group matches /opswatch/alb/{account} yet" in item["found"], item
    assert results["stack"]["status"] == "ok", results["stack"]  # the stack's group is not where the lines go
    logs = boto3.client("logs")
    for account in ("111122223333", "444455556666"):
        logs.create_log_group(logGroupName=f"/opswatch/alb/{account}")
    logs.put_retention_policy(logGroupName="/opswatch/alb/111122223333", retentionInDays=30)
    try:
        _, results, _ = doctor(stage, **template)
        item = results["log-group"]
        assert item["status"] == "warn" and "1 of 2 groups" in item["found"] and "444455556666" in item["found"]
        logs.put_retention_policy(logGroupName="/opswatch/alb/444455556666", retentionInDays=30)
        _, results, _ = doctor(stage, **template)
        assert (
            results["log-group"]["status"] == "ok"
            and "2 groups of /opswatch/alb/{account}" in (results["log-group"]["found"])
        )
    finally:
        for account in ("111122223333", "444455556666"):
            logs.delete_log_group(logGroupName=f"/opswatch/alb/{account}")


def test_doctor_checks_every_function_of_the_registry():
    # The list had six functions after the stream and Slack actions functions joined the registry: their
    # errors and throttles went unseen, and a stage without them passed.
    from chalicelib import kinds
    from chalicelib.doctor import storage

    assert sorted(storage.FUNCTIONS) == sorted(f.name for f in kinds.FUNCTIONS)
