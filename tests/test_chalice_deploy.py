"""``chalice deploy --stage local`` with the real Chalice deployer, against the moto server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "opswatch-local-alb-logs"  # .chalice/config.json, stage local
TOPIC = "opswatch-local-alarms"
STREAM = "opswatch-local-logs"  # the Logs destination's stream (infra template), read by log_alerts_stream
PLACE = "us-east-1:123456789012"  # moto's Region and account: the local stage's OPSWATCH_REGION, OPSWATCH_ACCOUNT_ID


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "opswatch"
    proj.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, proj / name)
    shutil.copytree(ROOT / "chalicelib", proj / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".chalice", proj / ".chalice", ignore=shutil.ignore_patterns("deployed", "deployments"))
    return proj


def _deploy(proj: Path, stage: str) -> subprocess.CompletedProcess:
    chalice = Path(sys.executable).parent / "chalice"
    return subprocess.run(
        [str(chalice), "deploy", "--stage", stage],
        cwd=proj,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )


def test_a_stage_without_account_and_region_is_not_deployed(aws, tmp_path):
    """dev names no account yet: its policy files do not exist, and chalice refuses before creating anything."""
    r = _deploy(_project(tmp_path), "dev")
    assert r.returncode != 0
    assert "Unable to load IAM policy file" in r.stderr and "policy-dev-" in r.stderr, r.stdout + r.stderr
    assert boto3.client("lambda").list_functions()["Functions"] == []
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_chalice_deploy_creates_function_notification_and_permission(aws, tmp_path):
    proj = _project(tmp_path)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    topic_arn = boto3.client("sns").create_topic(Name=TOPIC)["TopicArn"]
    boto3.client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)  # the infra stack's, before deploy

    r = _deploy(proj, "local")
    assert r.returncode == 0, r.stdout + r.stderr

    lam = boto3.client("lambda")
    fn = lam.get_function(FunctionName="opswatch-local-alb_logs")["Configuration"]
    assert fn["Handler"] == "app.alb_logs"
    assert fn["Environment"]["Variables"]["OPSWATCH_ALB_BUCKET"] == BUCKET

    notif = boto3.client("s3").get_bucket_notification_configuration(Bucket=BUCKET)
    [cfg] = notif["LambdaFunctionConfigurations"]
    assert cfg["LambdaFunctionArn"] == fn["FunctionArn"]
    assert cfg["Events"] == ["s3:ObjectCreated:*"]

    policy = json.loads(lam.get_policy(FunctionName="opswatch-local-alb_logs")["Policy"])
    [stmt] = policy["Statement"]
    assert stmt["Action"] == "lambda:InvokeFunction"
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}

    assert _actions(fn["Role"]) == {
        "s3:GetObject",
        "dynamodb:GetItem",  # shipping progress per object, in the stage's state table only
        "dynamodb:UpdateItem",
        "lambda:InvokeFunction",  # itself, to hand on the rest of a large object
        "sqs:SendMessage",  # the on-failure destination, opswatch-local-failed
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:TagResource",  # a log group created on first use carries the stage's tag
    }
    alb_resources = _resources(fn["Role"])
    assert alb_resources["dynamodb:UpdateItem"] == {f"arn:aws:dynamodb:{PLACE}:table/opswatch-local-state"}
    assert alb_resources["lambda:InvokeFunction"] == {f"arn:aws:lambda:{PLACE}:function:opswatch-local-alb_logs"}
    assert alb_resources["logs:PutLogEvents"] >= {f"arn:aws:logs:{PLACE}:log-group:/opswatch/local/alb:*"}
    assert _conditions(fn["Role"])["dynamodb:UpdateItem"]["ForAllValues:StringLike"] == {
        "dynamodb:LeadingKeys": ["alb#*"]  # its checkpoints only, not the alarm functions' keys
    }

    bridge = lam.get_function(FunctionName="opswatch-local-alarm_bridge")["Configuration"]
    assert bridge["Handler"] == "app.alarm_bridge"
    subs = boto3.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(x["Protocol"], x["Endpoint"]) for x in subs] == [("lambda", bridge["FunctionArn"])]
    bridge_actions = {
        "dynamodb:GetItem",  # deduplication records and incident threads, in the stage's state table only
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "cloudwatch:GetMetricData",  # the metric's recent shape
        "cloudwatch:GetMetricWidgetImage",  # its graph, when OPSWATCH_SLACK_GRAPHS is on
        "oam:ListSinks",  # whether another account's metric can be read here (OPSWATCH_OBSERVABILITY_SINK unset)
        "cloudwatch:DescribeAlarms",  # the OK of an alarm muted "until OK" from Slack re-enables its actions
        "cloudwatch:EnableAlarmActions",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert _actions(bridge["Role"]) == bridge_actions
    assert _resources(bridge["Role"])["dynamodb:PutItem"] == {f"arn:aws:dynamodb:{PLACE}:table/opswatch-local-state"}
    assert _conditions(bridge["Role"])["dynamodb:PutItem"]["ForAllValues:StringLike"] == {
        "dynamodb:LeadingKeys": ["alarm-change#*", "thread#*", "account#*", "mute#*"]  # never an ALB checkpoint
    }

    events_fn = lam.get_function(FunctionName="opswatch-local-alarm_events")["Configuration"]
    assert events_fn["Handler"] == "app.alarm_events" and _actions(events_fn["Role"]) == bridge_actions
    [rule] = [
        r for r in boto3.client("events").list_rules()["Rules"] if r["Name"] == "opswatch-local-alarm_events-event"
    ]
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
    }
    [target] = boto3.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == events_fn["FunctionArn"]

    alerts = lam.get_function(FunctionName="opswatch-local-log_alerts")["Configuration"]
    assert alerts["Handler"] == "app.log_alerts" and alerts["Timeout"] == 60
    assert _actions(alerts["Role"]) == {
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    resources = _resources(alerts["Role"])  # only its own table, its Slack secret and its own logs
    assert resources["dynamodb:UpdateItem"] == {f"arn:aws:dynamodb:{PLACE}:table/opswatch-local-state"}
    assert resources["secretsmanager:GetSecretValue"] == {
        f"arn:aws:secretsmanager:{PLACE}:secret:opswatch/local/slack-??????"  # the secret's six-character suffix
    }
    assert all("opswatch-local" in r for r in resources["logs:PutLogEvents"])

    # The Slack actions route: a REST API whose /slack/actions runs the API's function (api_handler).
    apigw = boto3.client("apigateway")
    [api] = [a for a in apigw.get_rest_apis()["items"] if a["name"] == "opswatch"]
    by_path = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    route = by_path["/slack/actions"]
    assert set(route["resourceMethods"]) == {"POST", "GET", "PUT", "PATCH", "DELETE"}  # each refusal is opswatch's
    api_fn = lam.get_function(FunctionName="opswatch-local")["Configuration"]
    assert api_fn["Handler"] == "app.app" and api_fn["Timeout"] == 10
    integration = apigw.get_integration(restApiId=api["id"], resourceId=route["id"], httpMethod="POST")
    assert integration["type"].upper() == "AWS_PROXY" and api_fn["FunctionArn"] in integration["uri"]
    assert api_fn["Environment"]["Variables"]["OPSWATCH_SLACK_ACTIONS_DISPATCH"] == "inline"  # the local stage
    assert _actions(api_fn["Role"]) == {
        "secretsmanager:GetSecretValue",  # the signing secret (and the bot token, for user groups)
        "ssm:GetParameter",
        "dynamodb:PutItem",  # the clicks' once-records, and only those
        "dynamodb:UpdateItem",
        "lambda:InvokeFunction",  # the worker, and only it
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    api_resources = _resources(api_fn["Role"])
    assert api_resources["lambda:InvokeFunction"] == {f"arn:aws:lambda:{PLACE}:function:opswatch-local-slack_actions"}
    assert _conditions(api_fn["Role"])["dynamodb:PutItem"]["ForAllValues:StringLike"] == {
        "dynamodb:LeadingKeys": ["slackaction#*"]
    }

    worker = lam.get_function(FunctionName="opswatch-local-slack_actions")["Configuration"]
    assert worker["Handler"] == "app.slack_actions" and worker["Timeout"] == 120
    assert _actions(worker["Role"]) == {
        "cloudwatch:DisableAlarmActions",  # Mute, and its re-enabling
        "cloudwatch:EnableAlarmActions",
        "cloudwatch:DescribeAlarms",
        "scheduler:CreateSchedule",  # the one-time re-enabling schedule, in the stage's group
        "scheduler:UpdateSchedule",  # a new mute of the same alarm moves it
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
        "iam:PassRole",  # the scheduler's role, to the scheduler only
        "logs:StartQuery",  # Recent logs, on the stage's log groups
        "logs:GetQueryResults",
        "logs:StopQuery",
        "logs:DescribeMetricFilters",  # an alarm's metric filter, to query its log group
        "logs:DescribeLogGroups",  # a log group whose name a button had to cut, found by its prefix
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "sqs:SendMessage",  # its on-failure destination
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    worker_resources = _resources(worker["Role"])
    assert worker_resources["scheduler:CreateSchedule"] == {f"arn:aws:scheduler:{PLACE}:schedule/opswatch-local/*"}
    assert worker_resources["iam:PassRole"] == {"arn:aws:iam::123456789012:role/opswatch-local-scheduler"}
    assert worker_resources["logs:StartQuery"] == {f"arn:aws:logs:{PLACE}:log-group:/opswatch/local/*"}
    assert _conditions(worker["Role"])["iam:PassRole"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }

    stream = lam.get_function(FunctionName="opswatch-local-log_alerts_stream")["Configuration"]
    assert stream["Handler"] == "app.log_alerts_stream" and stream["Timeout"] == 60
    [mapping] = lam.list_event_source_mappings(FunctionName=stream["FunctionArn"])["EventSourceMappings"]
    assert mapping["EventSourceArn"] == f"arn:aws:kinesis:{PLACE}:stream/{STREAM}"
    assert mapping["StartingPosition"] == "TRIM_HORIZON" and mapping["BatchSize"] == 100
    assert not mapping.get("FunctionResponseTypes")  # Chalice cannot set it: `opswatch failed setup` does
    assert _actions(stream["Role"]) == {
        "kinesis:DescribeStream",  # what the event source mapping reads with the function's role
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:SubscribeToShard",
        "kinesis:ListStreams",
        "dynamodb:GetItem",  # cooldowns and what each shard handled, in the stage's state table only
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "sqs:SendMessage",  # the mapping's on-failure destination
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    stream_resources = _resources(stream["Role"])
    assert stream_resources["kinesis:GetRecords"] == {f"arn:aws:kinesis:{PLACE}:stream/{STREAM}"}
    assert _conditions(stream["Role"])["dynamodb:PutItem"]["ForAllValues:StringLike"] == {
        "dynamodb:LeadingKeys": ["cooldown#*", "shard#*"]
    }
    assert all("log_alerts_stream" in r for r in stream_resources["logs:PutLogEvents"])

    audit = lam.get_function(FunctionName="opswatch-local-monitors_audit")["Configuration"]
    assert audit["Handler"] == "app.monitors_audit"
    events = boto3.client("events")
    [rule] = [r for r in events.list_rules()["Rules"] if r["Name"] == "opswatch-local-monitors_audit-event"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == audit["FunctionArn"]
    assert _actions(audit["Role"]) == {
        "dynamodb:GetItem",  # who muted an alarm from Slack, and until when (its mute# item only)
        "cloudwatch:DescribeAlarms",  # read-only; these calls take no resource-level permissions
        "cloudwatch:GetMetricData",
        "logs:DescribeMetricFilters",
        "sns:ListTopics",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }

    report = lam.get_function(FunctionName="opswatch-local-athena_report")["Configuration"]
    assert report["Handler"] == "app.athena_report"
    assert any(r["Name"] == "opswatch-local-athena_report-event" for r in events.list_rules()["Rules"])
    resources = _resources(report["Role"])  # its workgroup, the results bucket, the Glue table, the log bucket
    assert resources["athena:StartQueryExecution"] == {f"arn:aws:athena:{PLACE}:workgroup/opswatch-local"}
    assert f"arn:aws:glue:{PLACE}:table/opswatch_local/alb_access_logs" in resources["glue:GetTable"]
    assert resources["s3:PutObject"] == {
        "arn:aws:s3:::opswatch-local-athena-results/*",
        "arn:aws:s3:::opswatch-local-athena-results",
    }
    assert "arn:aws:s3:::opswatch-local-alb-logs/*" in resources["s3:GetObject"]


def _statements(role_arn: str) -> list[dict]:
    iam = boto3.client("iam")
    role = role_arn.rsplit("/", 1)[-1]
    return [
        st
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        for st in iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]["Statement"]
    ]


def _conditions(role_arn: str) -> dict[str, dict]:
    return {action: st.get("Condition", {}) for st in _statements(role_arn) for action in st["Action"]}


def _resources(role_arn: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for st in _statements(role_arn):
        for action in st["Action"]:
            out.setdefault(action, set()).update(
                [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
            )
    return out


def _actions(role_arn: str) -> set[str]:
    """Every action the role's inline policies allow: each function gets only what it uses."""
    iam = boto3.client("iam")
    role = role_arn.rsplit("/", 1)[-1]
    out = set()
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        out |= {a for st in doc["Statement"] for a in st["Action"]}
    return out
