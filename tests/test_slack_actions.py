"""What the Slack buttons do, through real parts: moto server, the loopback Slack (bot mode and response_url).

Each click goes to ``perform`` as the worker receives it (a ``Click``); the endpoint's signature,
authorization and once-only checks are tested with the route. moto serves DisableAlarmActions,
EnableAlarmActions and EventBridge Scheduler (schedules are recorded, not run: the test runs the
schedule's input through ``reenable`` as Scheduler would). Logs Insights filters and statistics
come from the embedded server (``chalicelib/embedded/motologs.py``).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import boto3
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from chalicelib import state
from chalicelib.alarms.handler import handle_eventbridge_event
from chalicelib.embedded.alarmnotify import eventbridge_event
from chalicelib.logalerts.handler import handle_logs_event
from chalicelib.logalerts.payload import encode
from chalicelib.logalerts.subscription import FILTER_NAME
from chalicelib.monitors.audit import audit, digest
from chalicelib.monitors.handler import slack_mute
from chalicelib.slackactions.click import ACK, LOGS, MUTE, Click
from chalicelib.slackactions.mute import schedule_name
from chalicelib.slackactions.perform import perform, reenable
from chalicelib.slackactions.value import OPTION_MAX, AlarmRef, BadValue, decode, decode_mute

TABLE = "opswatch-local-state"
NAME = "shop 5xx"
ROLE = "arn:aws:iam::123456789012:role/opswatch-local-scheduler"
GROUP = "/ecs/shop-api"
OOM = 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'


@pytest.fixture
def actions(aws, monkeypatch):
    """The buttons on, the state table, the stage's schedule group, an alarm with actions on a topic."""
    monkeypatch.setenv("OPSWATCH_SLACK_ACTIONS", "true")
    monkeypatch.setenv("OPSWATCH_SCHEDULER_ROLE_ARN", ROLE)
    monkeypatch.setenv("OPSWATCH_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("OPSWATCH_SLACK_LOG_GROUPS", "/ecs/*")  # what Recent logs may query
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "900")
    state.create_table(TABLE)
    boto3.client("scheduler").create_schedule_group(Name="opswatch-local")
    cw, sns = boto3.client("cloudwatch"), boto3.client("sns")
    topic = sns.create_topic(Name="opswatch-local-alarms")["TopicArn"]
    cw.put_metric_alarm(
        AlarmName=NAME, Namespace="shop", MetricName="Http5xx", Statistic="Sum", Period=60, EvaluationPeriods=3,
        Threshold=25, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
        AlarmActions=[topic], OKActions=[topic],
    )  # fmt: skip
    return cw


def to(cw, new: str, old: str) -> dict:
    """Set the alarm's state and deliver the change through the EventBridge function; the alarm as described."""
    cw.set_alarm_state(AlarmName=NAME, StateValue=new, StateReason=f"test: now {new}")
    a = cw.describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0]
    handle_eventbridge_event(eventbridge_event(a, old))
    return a


def actions_enabled(cw) -> bool:
    return cw.describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0]["ActionsEnabled"]


def button_values(payload: dict) -> dict:
    """action_id -> value (or the option values of the Mute select) of the message's buttons."""
    blocks = [b for a in payload.get("attachments") or [] for b in a.get("blocks") or []]
    out = {}
    for b in blocks:
        for e in b.get("elements") or [] if b.get("type") == "actions" else []:
            out[e["action_id"]] = [o["value"] for o in e["options"]] if "options" in e else e["value"]
    return out


def click(action: str, value: str, message=None, response_url: str | None = None, user: str = "U0ANA1") -> Click:
    channel = message.body.get("channel") if message is not None else None
    ts = message.body.get("ts") if message is not None else None
    return Click(action, value, user, "ana", "T0000000", channel, ts, ts, response_url, f"{time.time():.6f}")


def state_items() -> dict:
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {i["id"]["S"]: i for i in items}


def schedules() -> list[dict]:
    return boto3.client("scheduler").list_schedules()["Schedules"]


def text_of(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False)


# -- the buttons -------------------------------------------------------------------------------------------


def test_an_alarm_carries_three_actions_and_its_ok_none(actions, local_bot):
    to(actions, "ALARM", "OK")
    to(actions, "OK", "ALARM")
    alarm, ok = local_bot.messages[0], local_bot.messages[1]
    values = button_values(alarm.body)
    assert set(values) == {ACK, MUTE, LOGS}
    ref = decode(values[ACK])
    assert isinstance(ref, AlarmRef) and ref.arn.endswith(f":alarm:{NAME}") and values[LOGS] == values[ACK]
    assert [decode_mute(v)[0] for v in values[MUTE]] == ["1h", "4h", "ok"]
    assert button_values(ok.body) == {}


def test_a_long_alarm_name_still_fits_a_mute_option_and_is_found_by_its_digest(actions, local_bot):
    long_name = "checkout-" + "x" * 230 + "~|<!channel>"
    actions.put_metric_alarm(
        AlarmName=long_name, Namespace="shop", MetricName="Http5xx", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold", AlarmActions=[],
    )  # fmt: skip
    actions.set_alarm_state(AlarmName=long_name, StateValue="ALARM", StateReason="test")
    a = actions.describe_alarms(AlarmNames=[long_name])["MetricAlarms"][0]
    handle_eventbridge_event(eventbridge_event(a, "OK"))
    options = button_values(local_bot.messages[0].body)[MUTE]
    assert all(len(v) <= OPTION_MAX for v in options)
    perform(click(MUTE, options[0], local_bot.messages[0]))
    assert actions.describe_alarms(AlarmNames=[long_name])["MetricAlarms"][0]["ActionsEnabled"] is False


# -- Mute, alarm ---------------------------------------------------------------------------------------------


def test_mute_one_hour_disables_schedules_and_the_schedule_re_enables(actions, local_bot):
    to(actions, "ALARM", "OK")
    posted = local_bot.messages[0]
    before = time.time()
    perform(click(MUTE, button_values(posted.body)[MUTE][0], posted))
    assert actions_enabled(actions) is False
    [listed] = schedules()
    s = boto3.client("scheduler").get_schedule(Name=listed["Name"], GroupName="opswatch-local")
    assert s["GroupName"] == "opswatch-local" and s["Name"] == schedule_name(posted_arn(actions))
    at = datetime.strptime(re.fullmatch(r"at\((.+)\)", s["ScheduleExpression"]).group(1), "%Y-%m-%dT%H:%M:%S")
    assert abs(at.replace(tzinfo=UTC).timestamp() - (before + 3600)) < 5
    assert s["ScheduleExpressionTimezone"] == "UTC" and s["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert s["ActionAfterCompletion"] == "DELETE"
    assert s["Target"]["Arn"] == "arn:aws:lambda:us-east-1:123456789012:function:opswatch-local-slack_actions"
    assert s["Target"]["RoleArn"] == ROLE
    updated = local_bot.messages[-1]
    assert updated.kind == "chat.update" and updated.body["ts"] == posted.body["ts"]
    assert re.search(r"Muted by <@U0ANA1> until \d\d:\d\d UTC", text_of(updated.body))
    record = state_items()["mute#" + posted_arn(actions)]
    assert record["by_opswatch"]["BOOL"] is True and record["user_id"]["S"] == "U0ANA1"

    reenable(json.loads(s["Target"]["Input"]))  # what Scheduler sends the worker at that time
    assert actions_enabled(actions) is True
    reply = local_bot.messages[-1]
    assert reply.kind == "chat.postMessage" and reply.body["thread_ts"] == posted.body["ts"]
    assert f"{NAME}: actions re-enabled (muted by <@U0ANA1>" in reply.readable()
    assert "mute#" + posted_arn(actions) not in state_items()
    n = len(local_bot.messages)
    reenable(json.loads(s["Target"]["Input"]))  # a second run (a retry) changes nothing
    assert len(local_bot.messages) == n and actions_enabled(actions) is True


def posted_arn(cw) -> str:
    return cw.describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0]["AlarmArn"]


def test_an_alarm_disabled_by_hand_is_never_re_enabled(actions, local_bot):
    to(actions, "ALARM", "OK")
    actions.disable_alarm_actions(AlarmNames=[NAME])  # someone, in the console
    posted = local_bot.messages[0]
    perform(click(MUTE, button_values(posted.body)[MUTE][0], posted))
    assert schedules() == []  # nothing for opswatch to re-enable
    assert "already disabled by someone else, so opswatch will not re-enable them" in text_of(
        local_bot.messages[-1].body
    )
    findings = audit(actions, boto3.client("logs"), boto3.client("sns"), mutes=slack_mute)
    [muted] = [f for f in findings if f.kind == "muted"]
    assert muted.slack_user == "U0ANA1" and "will not re-enable" in muted.reason
    assert "(muted by <@U0ANA1>)" in text_of(digest(findings).payload())
    reenable({"opswatch": "reenable", "alarm": posted_arn(actions), "token": "0" * 32})  # a stray schedule
    assert actions_enabled(actions) is False


def test_until_ok_is_ended_by_the_ok_and_the_audit_lists_it_meanwhile(actions, local_bot):
    to(actions, "ALARM", "OK")
    posted = local_bot.messages[0]
    perform(click(MUTE, button_values(posted.body)[MUTE][2], posted))
    assert actions_enabled(actions) is False and schedules() == []
    assert "until its next OK" in text_of(local_bot.messages[-1].body)
    [muted] = [
        f for f in audit(actions, boto3.client("logs"), boto3.client("sns"), mutes=slack_mute) if f.kind == "muted"
    ]
    assert "until its next OK" in muted.reason
    to(actions, "OK", "ALARM")
    assert actions_enabled(actions) is True
    ok_reply = next(m for m in local_bot.messages if m.body.get("thread_ts") and "OK" in m.body.get("text", ""))
    assert f"{NAME}: actions re-enabled (muted by <@U0ANA1> until its next OK)" in ok_reply.readable()


# -- Acknowledge -------------------------------------------------------------------------------------------


def test_acknowledge_updates_the_message_and_the_ok_names_the_acker(actions, local_bot):
    to(actions, "ALARM", "OK")
    posted = local_bot.messages[0]
    perform(click(ACK, button_values(posted.body)[ACK], posted))
    updated = local_bot.messages[-1]
    assert updated.kind == "chat.update"
    assert re.search(r"Acknowledged by <@U0ANA1> at \d\d:\d\d UTC", text_of(updated.body))
    assert set(button_values(updated.body)) == {MUTE, LOGS}  # the ack button replaced, the others kept
    perform(click(ACK, button_values(posted.body)[ACK], posted, user="U0BEN22"))  # a second acker is told
    assert "Already acknowledged by <@U0ANA1>" in local_bot.messages[-1].body["text"]
    to(actions, "OK", "ALARM")
    ok_reply = next(m for m in local_bot.messages if m.body.get("thread_ts") and "OK" in m.body.get("text", ""))
    assert "Acknowledged by <@U0ANA1> within a minute of the alarm" in ok_reply.readable()
    resolved = local_bot.messages[-1]
    assert resolved.kind == "chat.update" and set(button_values(resolved.body)) == {LOGS}


def test_acknowledge_in_webhook_mode_replaces_the_message_through_response_url(actions, local_webhook):
    to(actions, "ALARM", "OK")
    posted = local_webhook.messages[0]
    url = local_webhook.response_url()
    perform(click(ACK, button_values(posted.body)[ACK], None, response_url=url))
    replaced = local_webhook.messages[-1]
    assert replaced.kind == "response_url" and replaced.body["replace_original"] is True
    assert "Acknowledged by <@U0ANA1>" in text_of(replaced.body) and ACK not in button_values(replaced.body)


# -- log alerts ----------------------------------------------------------------------------------------------


def logs_event(messages: list[str], start_ms: int) -> dict:
    return encode(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": GROUP,
            "logStream": "web/1",
            "subscriptionFilters": [FILTER_NAME],
            "logEvents": [{"id": str(i), "timestamp": start_ms + i * 10, "message": m} for i, m in enumerate(messages)],
        }
    )


def test_a_log_alert_muted_holds_its_alerts_back_and_counts_them(actions, local_bot):
    now = int(time.time() * 1000)
    handle_logs_event(logs_event([OOM], now - 60_000))
    posted = local_bot.messages[0]
    values = button_values(posted.body)
    assert [decode_mute(v)[0] for v in values[MUTE]] == ["1h", "4h"]  # no "until OK" for a log alert
    perform(click(MUTE, values[MUTE][1], posted))
    assert re.search(r"Muted by <@U0ANA1> until \d\d:\d\d UTC", text_of(local_bot.messages[-1].body))
    item = state_items()[f"cooldown#123456789012|{GROUP}|java-out-of-memory"]
    assert int(item["until"]["N"]) >= time.time() + 4 * 3600 - 5 and item["muted_by"]["S"] == "U0ANA1"
    n = len(local_bot.messages)
    result = handle_logs_event(logs_event([OOM, OOM, OOM], now))
    assert result["posted"] == [] and result["held_back"][0]["events"] == 3
    assert len(local_bot.messages) == n
    item = state_items()[f"cooldown#123456789012|{GROUP}|java-out-of-memory"]
    assert item["held"]["N"] == "3"  # counted, for the next alert to report


def test_recent_logs_of_a_log_alert_posts_at_most_20_escaped_lines_with_statistics(actions, local_bot):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="web/1")
    now = int(time.time() * 1000)
    lines = [f"{OOM} <!channel> ```{i}" for i in range(25)] + ["GET /health 200"] * 5
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="web/1",
        logEvents=[{"timestamp": now - 50_000 + i * 10, "message": m} for i, m in enumerate(lines)],
    )
    handle_logs_event(logs_event([OOM], now - 50_000))
    posted = local_bot.messages[0]
    perform(click(LOGS, button_values(posted.body)[LOGS], posted))
    reply = local_bot.messages[-1]
    assert reply.body["thread_ts"] == posted.body["ts"]
    shown = [ln for ln in reply.readable().splitlines() if "OutOfMemoryError" in ln]
    assert len(shown) == 20
    assert "<!channel>" not in text_of(reply.body) and "&lt;!channel&gt;" in text_of(reply.body)
    assert "GET /health" not in text_of(reply.body)  # the rule's filter, translated
    assert "25 records matched of 30 scanned" in reply.readable()


def test_recent_logs_of_an_alarm_queries_its_metric_filter(actions, local_bot):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    logs.put_metric_filter(
        logGroupName=GROUP, filterName="5xx", filterPattern='"status=5" -healthcheck',
        metricTransformations=[{"metricName": "Http5xx", "metricNamespace": "shop", "metricValue": "1"}],
    )  # fmt: skip
    now = int(time.time() * 1000)
    msgs = ["status=503 /pay", "status=200 /pay", "status=500 /healthcheck", "status=502 /cart"]
    logs.put_log_events(
        logGroupName=GROUP, logStreamName="s",
        logEvents=[{"timestamp": now - 30_000 + i, "message": m} for i, m in enumerate(msgs)],
    )  # fmt: skip
    to(actions, "ALARM", "OK")
    posted = local_bot.messages[0]
    perform(click(LOGS, button_values(posted.body)[LOGS], posted))
    text = local_bot.messages[-1].readable()
    assert "status=503 /pay" in text and "status=502 /cart" in text
    assert "status=200" not in text and "healthcheck" not in text
    assert "2 records matched of 4 scanned" in text and GROUP in text


# -- hostile clicks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, value, says",
    [
        (ACK, "garbage", "not one opswatch made"),
        (ACK, "a1~" + "z" * 5000, "over Slack's 2000"),
        (LOGS, "a1~minyzzeo~aws~us-east-1~210987654321~~shop 5xx", "account 210987654321"),
        (ACK, "a1~minyzzeo~aws~us-east-1~12345678901x~~shop 5xx", "account is not 12 digits"),
        (MUTE, "9h~a1~minyzzeo~aws~us-east-1~123456789012~~shop 5xx", "Mute choice is not one of"),
        (MUTE, "1h~a1~minyzzeo~aws~us-east-1~210987654321~~shop 5xx", "account 210987654321"),
        (MUTE, "ok~l1~minyzzeo~minyzzeo~123456789012~~java-out-of-memory~/ecs/x", "not until OK"),
        (ACK, "a1~minyzzeo~aws~us-east-1~123456789012~~shop\x005xx", "control characters"),
        (MUTE, "1h~a1~minyzzeo~aws~us-east-1~123456789012~~<!channel> no such", "no alarm"),
    ],
)
def test_a_hostile_value_is_refused_clearly_and_changes_nothing(actions, local_bot, action, value, says):
    to(actions, "ALARM", "OK")
    before_items, before_messages = state_items(), len(local_bot.messages)
    url = local_bot.response_url()
    perform(click(action, value, local_bot.messages[0], response_url=url))
    [told] = local_bot.messages[before_messages:]
    assert told.kind == "response_url" and told.body["response_type"] == "ephemeral"
    assert says in told.body["text"] and "<!channel>" not in told.body["text"]
    assert actions_enabled(actions) is True and schedules() == [] and state_items() == before_items


def test_a_response_url_that_is_not_slacks_is_never_called(actions, local_bot, monkeypatch):
    to(actions, "ALARM", "OK")
    monkeypatch.setenv("OPSWATCH_STAGE", "dev")  # off the local stage, only https://hooks.slack.com/ is Slack's
    with pytest.raises(Exception, match="not Slack's"):
        perform(click(ACK, "garbage", None, response_url=local_bot.response_url()))
    assert [m.kind for m in local_bot.messages] == ["chat.postMessage"]


def test_a_reenable_event_of_the_wrong_shape_raises():
    for event in ({}, {"opswatch": "other"}, {"opswatch": "reenable", "alarm": 5, "token": "x"}, []):
        with pytest.raises(ValueError):
            reenable(event)


def test_an_alarm_of_another_account_offers_acknowledge_only(actions):
    from chalicelib.alarms.notification import parse_alarm
    from chalicelib.alarms.render import render_alarm

    a = actions.describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0]
    event = json.loads(json.dumps(eventbridge_event({**a, "StateValue": "ALARM"}, "OK"), default=str))
    ours, theirs = (
        parse_alarm(event),
        parse_alarm(json.loads(json.dumps(event).replace("123456789012", "210987654321"))),
    )
    assert theirs.arn.split(":")[4] == "210987654321"
    assert set(button_values(render_alarm(ours).payload())) == {ACK, MUTE, LOGS}
    assert set(button_values(render_alarm(theirs).payload())) == {ACK}  # Mute and Recent logs act here only


def test_recent_logs_bounds_huge_lines_and_refuses_a_log_group_outside_its_list(actions, local_bot, monkeypatch):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="web/1")
    now = int(time.time() * 1000)
    huge = OOM + " " + "<&>" * 50_000  # 150 KB of characters that grow when escaped
    logs.put_log_events(
        logGroupName=GROUP, logStreamName="web/1", logEvents=[{"timestamp": now - 1000, "message": huge}]
    )
    handle_logs_event(logs_event([OOM], now - 1000))
    posted = local_bot.messages[0]
    perform(click(LOGS, button_values(posted.body)[LOGS], posted))
    reply = local_bot.messages[-1]
    assert reply.body["thread_ts"] == posted.body["ts"] and len(json.dumps(reply.body)) < 6000
    assert "&lt;&amp;&gt;" in text_of(reply.body) and "<&>" not in text_of(reply.body)
    monkeypatch.setenv("OPSWATCH_SLACK_LOG_GROUPS", "/opswatch/local/*")
    n = len(local_bot.messages)
    perform(click(LOGS, button_values(posted.body)[LOGS], posted, response_url=local_bot.response_url()))
    [told] = local_bot.messages[n:]
    assert (
        told.body["response_type"] == "ephemeral"
        and "OPSWATCH_SLACK_LOG_GROUPS), not /ecs/shop-api" in told.body["text"]
    )


@hyp_settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"(1h~|ok~)?(a1|l1)~[0-9a-z]{0,12}~.{0,80}", fullmatch=True))
def test_any_text_as_a_button_value_decodes_to_an_incident_or_is_refused(text):
    for read in (decode, decode_mute):
        try:
            got = read(text)
        except BadValue as exc:
            assert text not in str(exc) or len(text) < 3  # the refusal names the field, never echoes the value
            continue
        ref = got[1] if read is decode_mute else got
        assert decode(ref.encode()) == ref


def test_recent_logs_stops_a_query_still_running_at_its_deadline(actions, local_bot, monkeypatch):
    from chalicelib.aws import client
    from chalicelib.slackactions import recentlogs
    from tests.faultproxy import FaultProxy

    boto3.client("logs").create_log_group(logGroupName=GROUP)
    handle_logs_event(logs_event([OOM], int(time.time() * 1000) - 1000))
    posted = local_bot.messages[0]
    proxy = FaultProxy(client("sts").meta.endpoint_url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", proxy.endpoint)
        client.cache_clear()
        running = json.dumps({"status": "Running", "results": []}).encode()
        proxy.answer["Logs_20140328.GetQueryResults"] = lambda body: (
            200,
            {"Content-Type": "application/x-amz-json-1.1"},
            running,
        )
        monkeypatch.setattr(recentlogs, "DEADLINE_SECONDS", 1)  # the worker's bound, shortened for the test
        perform(click(LOGS, button_values(posted.body)[LOGS], posted, response_url=local_bot.response_url()))
    finally:
        proxy.close()
        client.cache_clear()
    told = local_bot.messages[-1]
    assert told.body["response_type"] == "ephemeral" and "still Running after 1 s, and was stopped" in told.body["text"]
    assert "Logs_20140328.StopQuery" in proxy.seen
