"""The log_alerts Lambda end to end: moto's DynamoDB for cooldowns, the loopback Slack, subscriptions on moto."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile

import boto3
import pytest

from chalicelib import state
from chalicelib.logalerts.handler import handle_logs_event
from chalicelib.logalerts.payload import encode
from chalicelib.logalerts.prefilter import derive
from chalicelib.logalerts.rules import active_rules
from chalicelib.logalerts.subscription import FILTER_NAME, statement_id
from chalicelib.slack.delivery import SlackDeliveryError
from tests.conftest import DATA

TABLE = "opswatch-local-state"


@pytest.fixture
def alerting(aws, local_webhook, monkeypatch):
    """The local stage posting to the loopback Slack, with the state table in moto."""
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "900")
    state.create_table(TABLE)
    return local_webhook


def event(messages, group="/ecs/shop-api", stream="web/1", start_ms=None) -> dict:
    start_ms = start_ms or int(time.time() * 1000) - 60_000
    return encode(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": group,
            "logStream": stream,
            "subscriptionFilters": [FILTER_NAME],
            "logEvents": [{"id": str(i), "timestamp": start_ms + i * 10, "message": m} for i, m in enumerate(messages)],
        }
    )


OOM = 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'


def test_ten_thousand_events_make_one_message_per_rule(alerting, capsys):
    lines = [OOM if i % 3 == 0 else f"GET /api/items/{i} 200" for i in range(10_000)]
    lines[5000] = "fatal error: out of memory"
    result = handle_logs_event(event(lines))
    assert (result["events"], result["matched"]) == (10_000, 3335)
    assert [(p["rule"], p["events"]) for p in result["posted"]] == [
        ("java-out-of-memory", 3334),
        ("go-out-of-memory", 1),
    ]
    assert [m.body["text"].split(",")[0] for m in alerting.messages] == [
        "CRITICAL java-out-of-memory: 3334 events in /ecs/shop-api",
        "CRITICAL go-out-of-memory: 1 event in /ecs/shop-api",
    ]
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
    metrics = {
        k: v for doc in emf for k, v in doc.items() if not k.startswith("_") and isinstance(v, list | float | int)
    }
    assert metrics["EventsReceived"] in (10_000, [10_000.0]) and metrics["AlertsPosted"] in (2, [2.0])


def test_three_rules_in_two_log_groups(alerting):
    handle_logs_event(event([OOM, "Task timed out after 3.00 seconds", "OOMKilled", OOM], group="/a"))
    handle_logs_event(event(["OOMKilled", "fine"], group="/b"))
    heads = sorted(m.body["text"].split(",")[0] for m in alerting.messages)
    assert heads == [
        "CRITICAL java-out-of-memory: 2 events in /a",
        "CRITICAL kubernetes-oom-killed: 1 event in /a",
        "CRITICAL kubernetes-oom-killed: 1 event in /b",
        "WARNING lambda-timeout: 1 event in /a",
    ]


def test_cooldown_holds_repeats_back_across_invocations_and_reports_them(alerting, monkeypatch):
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "2")
    first = handle_logs_event(event([OOM]))
    second = handle_logs_event(event([OOM, OOM, OOM]))
    assert len(first["posted"]) == 1 and second["posted"] == [] and second["held_back"][0]["events"] == 3
    assert len(alerting.messages) == 1
    time.sleep(2.1)  # the window ends
    third = handle_logs_event(event([OOM]))
    assert len(third["posted"]) == 1 and len(alerting.messages) == 2
    assert "3 events of this rule here held back by the cooldown (2 seconds) since" in json.dumps(
        alerting.messages[1].body
    )
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"id": {"S": "cooldown#123456789012|/ecs/shop-api|java-out-of-memory"}}
    )["Item"]
    assert item["held"] == {"N": "0"} and int(item["expiration"]["N"]) > time.time()  # TTL set: the item expires


def test_two_concurrent_invocations_post_once(alerting):
    results, barrier = [], threading.Barrier(4)

    def invoke():
        barrier.wait()
        results.append(handle_logs_event(event([OOM])))

    threads = [threading.Thread(target=invoke) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r["posted"]) for r in results) == 1
    assert sum(len(r["held_back"]) for r in results) == 3
    assert len(alerting.messages) == 1


def test_slack_down_releases_the_claim_and_the_retry_posts(alerting):
    alerting.fail(500, times=4)  # the first try and its three retries
    with pytest.raises(SlackDeliveryError, match="1 of 1 log alerts not delivered"):
        handle_logs_event(event([OOM]))
    assert alerting.messages == []
    retry = handle_logs_event(event([OOM]))  # Lambda's retry of the same event
    assert len(retry["posted"]) == 1 and len(alerting.messages) == 1


def test_state_table_down_still_posts_and_says_so(aws, local_webhook, monkeypatch):
    slack = local_webhook
    monkeypatch.setenv("OPSWATCH_STATE_TABLE", "no-such-table")
    result = handle_logs_event(event([OOM]))
    assert len(result["posted"]) == 1
    assert "cooldown state unavailable (ResourceNotFoundException)" in json.dumps(slack.messages[0].body)


def test_control_and_undecodable_payloads_post_nothing_and_are_counted(alerting, capsys):
    control = json.loads(
        (DATA / "events" / "thirdparty-unidentified-repo__cwl_control_message_base64gzip_and_decoded.json").read_text()
    )
    assert handle_logs_event({"awslogs": {"data": control["data"]}}) == {"status": "control"}
    result = handle_logs_event({"awslogs": {"data": "bm90IGd6aXA="}})
    assert result["status"] == "undecodable" and "not gzip" in result["reason"]
    assert alerting.messages == []
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
    assert any(doc.get("PayloadsUndecodable") in (1, [1.0], 1.0) for doc in emf)


def test_routes_and_rule_channels_in_bot_mode(aws, local_bot, monkeypatch):
    slack = local_bot
    monkeypatch.setenv(
        "OPSWATCH_SLACK_ROUTES", json.dumps([{"severity": "critical", "channel": "#oncall", "mention": "here"}])
    )
    monkeypatch.setenv(
        "OPSWATCH_LOG_ALERT_RULES",
        json.dumps([{"name": "payments", "severity": "info", "pattern": '"payment declined"', "channel": "#payments"}]),
    )
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "0")  # no state table needed
    handle_logs_event(event([OOM, "Task timed out after 3.00 seconds", "payment declined: card 4242"]))
    got = {m.body["channel"]: json.dumps(m.body) for m in slack.messages}
    assert set(got) == {"#oncall", "#alerts", "#payments"}
    assert "<!here>" in got["#oncall"] and "<!here>" not in got["#alerts"] and "<!here>" not in got["#payments"]


def _function(name="opswatch-local-log_alerts") -> str:
    iam, lam = boto3.client("iam"), boto3.client("lambda")
    role = iam.create_role(
        RoleName="opswatch-local-log_alerts",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def log_alerts(event, context):\n    return None\n")
    return lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.log_alerts", Code={"ZipFile": buf.getvalue()}
    )["FunctionArn"]


def _cli(*args):
    from click.testing import CliRunner

    from chalicelib.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_subscribe_and_unsubscribe_against_moto(aws, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    arn = _function()
    logs, lam = boto3.client("logs"), boto3.client("lambda")
    for g in ("/ecs/shop-api", "/full"):
        logs.create_log_group(logGroupName=g)

    r = _cli("logs", "subscribe", "/ecs/shop-api")
    assert r.exit_code == 0 and r.output.startswith("created: /ecs/shop-api -> opswatch-local-log_alerts"), r.output
    [f] = logs.describe_subscription_filters(logGroupName="/ecs/shop-api")["subscriptionFilters"]
    assert (f["filterName"], f["destinationArn"], f["filterPattern"]) == (
        FILTER_NAME,
        arn,
        derive(active_rules()).pattern,
    )
    policy = json.loads(lam.get_policy(FunctionName=arn)["Policy"])
    [st] = policy["Statement"]
    assert st["Sid"] == statement_id("/ecs/shop-api") and st["Principal"] == {"Service": "logs.amazonaws.com"}
    assert (
        st["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/shop-api:*"
    )

    r = _cli("logs", "subscribe", "/ecs/shop-api")  # again: nothing to do
    assert r.exit_code == 0 and r.output.startswith("unchanged: /ecs/shop-api")
    assert len(json.loads(lam.get_policy(FunctionName=arn)["Policy"])["Statement"]) == 1

    r = _cli("logs", "subscribe", "/ecs/shop-api", "--rules", "lambda-timeout")  # fewer rules: a new pattern
    assert r.exit_code == 0 and r.output.startswith("updated: /ecs/shop-api")
    assert (
        logs.describe_subscription_filters(logGroupName="/ecs/shop-api")["subscriptionFilters"][0]["filterPattern"]
        == '?"Task timed out after" ?"Status: timeout"'
    )

    for name in ("vendor-a", "vendor-b"):  # two filters of others: AWS allows no third
        logs.put_subscription_filter(logGroupName="/full", filterName=name, filterPattern="", destinationArn=arn)
    r = _cli("logs", "subscribe", "/full", "/nope")
    assert r.exit_code == 1
    assert "log group '/full' already has 2 subscription filters (vendor-a, vendor-b)" in r.output
    assert "nothing was changed" in r.output and "log group '/nope' does not exist" in r.output
    assert [
        x["filterName"] for x in logs.describe_subscription_filters(logGroupName="/full")["subscriptionFilters"]
    ] == ["vendor-a", "vendor-b"]
    assert len(json.loads(lam.get_policy(FunctionName=arn)["Policy"])["Statement"]) == 1  # no permission added

    r = _cli("logs", "unsubscribe", "/ecs/shop-api")
    assert r.exit_code == 0 and "removed subscription filter and invoke permission" in r.output
    assert logs.describe_subscription_filters(logGroupName="/ecs/shop-api")["subscriptionFilters"] == []
    r = _cli("logs", "unsubscribe", "/ecs/shop-api")
    assert "nothing to remove" in r.output


def test_subscribe_without_a_deployed_function_says_what_to_do(aws, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    boto3.client("logs").create_log_group(logGroupName="/g")
    r = _cli("logs", "subscribe", "/g")
    assert r.exit_code == 2 and "no Lambda function 'opswatch-local-log_alerts'" in r.output


def test_a_malformed_event_is_counted_and_the_others_alert(alerting, capsys):
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/ecs/shop-api",
        "logStream": "web/1",
        "subscriptionFilters": [FILTER_NAME],
        "logEvents": [{"id": "1", "timestamp": 1}, {"id": "2", "timestamp": int(time.time() * 1000), "message": OOM}],
    }
    result = handle_logs_event(encode(payload))
    assert result["malformed"] == ["logEvents[0] has no message text"]
    assert [p["rule"] for p in result["posted"]] == ["java-out-of-memory"] and len(alerting.messages) == 1
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
    assert any(doc.get("EventsMalformed") in (1, [1.0], 1.0) for doc in emf)
