"""Slack actions under a hostile or failing world: what an attacker or a bad day can do to a click.

Through the real parts (Chalice's test client, moto server, the loopback Slack); the fixtures and
helpers are those of ``test_slack_actions_endpoint`` and ``test_slack_actions``. Failures are
injected at the AWS client (a botocore event hook, the fault proxy) and in the loopback Slack,
never in opswatch's code.
"""

from __future__ import annotations

import time

from chalicelib import state
from chalicelib.slackactions.click import LOGS
from tests.test_slack_actions import actions
from tests.test_slack_actions_endpoint import alarm_message, client, form, payload, post, signed, slack, snapshot

__all__ = ["actions", "alarm_message", "client", "slack"]  # the fixtures, shared


# --- the endpoint answers within Slack's three seconds, whatever Slack's own API does ---------------------


def test_a_rate_limited_group_lookup_is_refused_at_once_not_slept_through(client, slack, monkeypatch):
    """usergroups.users.list answering 429 with a long Retry-After: the click is refused in time, not held."""
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "U0ONCALL,S0SRE")
    slack.usergroups["S0SRE"] = ["W111"]
    slack.fail(429, times=1, retry_after=6)
    body = form(payload(LOGS, response_url=slack.response_url()))
    before = snapshot(slack)
    started = time.monotonic()
    r = post(client, body, signed(body))
    assert time.monotonic() - started < 3
    assert r.status_code == 200 and "try again" in r.json_body["text"]
    assert snapshot(slack)["state"] == before["state"]  # nothing claimed: the next click acts


def test_a_rate_limited_response_url_does_not_hold_the_not_allowed_answer(client, slack, monkeypatch):
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "U0ONCALL")
    slack.fail(429, times=1, retry_after=6)
    body = form(payload(LOGS, response_url=slack.response_url()))
    started = time.monotonic()
    r = post(client, body, signed(body))
    assert time.monotonic() - started < 3
    assert r.status_code == 200 and "not allowed" in r.json_body["text"]  # the answer itself tells the user


# --- Mute: two choices at once ------------------------------------------------------------------------------


def test_two_mutes_at_once_leave_the_schedule_of_the_mute_that_stands(slack, alarm_message):
    """1 h and 4 h picked together (two workers): the 4 h mute runs while the 1 h one is between its record and
    its schedule. The schedule left must be the standing record's, and its run must re-enable the actions."""
    import json

    import boto3

    from chalicelib.aws import client as aws_client
    from chalicelib.kinds import handle
    from chalicelib.slackactions import mute
    from chalicelib.slackactions.click import MUTE
    from chalicelib.slackactions.endpoint import answer
    from tests.test_slack_actions_endpoint import ALARM, _click_on

    posted, buttons = alarm_message
    one, four = (
        _click_on(slack, posted, {"action_id": MUTE, "type": "static_select", "selected_option": {"value": v}})
        for v in (next(v for v in buttons[MUTE] if v.startswith(d)) for d in ("1h~", "4h~"))
    )
    scheduler = aws_client("scheduler")  # the worker's own client: the other click runs just before its call
    others: list = []

    def the_other_click(**_):
        if not others:  # once: the other click's own CreateSchedule passes
            others.append(None)
            others[0] = answer("POST", signed(four), lambda: four)

    scheduler.meta.events.register("before-call.scheduler.CreateSchedule", the_other_click, unique_id="other-mute")
    try:
        assert answer("POST", signed(one), lambda: one).outcome == "accepted"
    finally:
        scheduler.meta.events.unregister("before-call.scheduler.CreateSchedule", unique_id="other-mute")
    assert [a.outcome for a in others] == ["accepted"]
    arn = boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["AlarmArn"]
    standing = mute.record(arn)
    got = boto3.client("scheduler").get_schedule(GroupName="opswatch-local", Name=mute.schedule_name(arn))
    run = json.loads(got["Target"]["Input"])
    assert run["token"] == standing.token
    assert got["ScheduleExpression"] == f"at({time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(standing.until))})"
    assert handle("slack_actions", run)["status"] == "reenabled"
    assert boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["ActionsEnabled"]


def test_a_mute_whose_schedule_cannot_be_made_for_any_reason_is_undone(slack, alarm_message):
    """Not only an AWS error answer: a failure before any answer (credentials, network) must undo the mute too,
    or the actions stay disabled with no schedule to re-enable them."""
    import boto3
    from botocore.exceptions import NoCredentialsError

    from chalicelib.aws import client as aws_client
    from chalicelib.slackactions.click import MUTE
    from chalicelib.slackactions.endpoint import answer
    from tests.test_slack_actions_endpoint import ALARM, _click_on

    posted, buttons = alarm_message
    hour = next(v for v in buttons[MUTE] if v.startswith("1h~"))
    body = _click_on(slack, posted, {"action_id": MUTE, "type": "static_select", "selected_option": {"value": hour}})
    scheduler = aws_client("scheduler")

    def no_credentials(**_):
        raise NoCredentialsError()

    scheduler.meta.events.register("before-call.scheduler.CreateSchedule", no_credentials, unique_id="no-creds")
    try:
        assert answer("POST", signed(body), lambda: body).status == 200
    finally:
        scheduler.meta.events.unregister("before-call.scheduler.CreateSchedule", unique_id="no-creds")
    [alarm] = boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["ActionsEnabled"] is True  # undone
    items = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert not [i for i in items if i["id"]["S"].startswith("mute#")]
    told = [m for m in slack.messages if m.kind == "chat.postMessage" and "could not mute" in m.body.get("text", "")]
    assert told  # the user is told in the thread


# --- Recent logs: the lines are the attacker's text ----------------------------------------------------------


def test_recent_logs_drop_control_and_bidi_characters_from_log_lines(actions, local_bot):
    """A log line with a right-to-left override (which turns the rest of the line around in Slack), an escape
    sequence and a NUL: the lines posted hold none of them, and the line's own text stays."""
    import boto3

    from chalicelib.logalerts.handler import handle_logs_event
    from chalicelib.slackactions.perform import perform
    from tests.test_slack_actions import GROUP, OOM, button_values, click, logs_event

    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="web/1")
    now = int(time.time() * 1000)
    hostile = f"{OOM} user=\u202enimda\u202c \x1b[2Jcleared\x00 \u200bzero-width"
    logs.put_log_events(
        logGroupName=GROUP, logStreamName="web/1", logEvents=[{"timestamp": now - 1000, "message": hostile}]
    )
    handle_logs_event(logs_event([OOM], now - 1000))
    posted = local_bot.messages[0]
    perform(click(LOGS, button_values(posted.body)[LOGS], posted))
    shown = "\n".join(texts(local_bot.messages[-1].body))
    assert "OutOfMemoryError" in shown and "nimda" in shown and "zero-width" in shown
    for bad in ("\u202e", "\u202c", "\x1b", "\x00", "\u200b"):
        assert bad not in shown


def texts(node: object) -> list[str]:
    """Every text in a Slack payload, as Slack receives it (decoded, not JSON-escaped)."""
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in ([v] if k == "text" and isinstance(v, str) else texts(v))]
    if isinstance(node, list):
        return [t for v in node for t in texts(v)]
    return []


def test_an_alarm_outside_the_name_prefixes_is_refused_by_name_not_left_to_an_access_denied(
    slack, alarm_message, monkeypatch, capsys
):
    """The worker's policy names only OPSWATCH_ALARM_NAME_PREFIXES' alarms (and the EventBridge rule sees only
    their OK): a click on another alarm (posted by SNS) is told why, changes nothing, and is not retried."""
    import boto3

    from chalicelib.kinds import handle
    from chalicelib.slackactions.click import MUTE
    from chalicelib.slackactions.payload import click_from
    from tests.test_slack_actions_endpoint import ALARM, FORM, _click_on

    posted, buttons = alarm_message
    until_ok = next(v for v in buttons[MUTE] if v.startswith("ok~"))
    body = _click_on(
        slack, posted, {"action_id": MUTE, "type": "static_select", "selected_option": {"value": until_ok}}
    )
    before = snapshot(slack)
    monkeypatch.setenv("OPSWATCH_ALARM_NAME_PREFIXES", "prod-,shop-")
    capsys.readouterr()
    assert handle("slack_actions", click_from(body, FORM["Content-Type"]).to_dict())["status"] == "refused"
    out = capsys.readouterr().out  # counted as refused, not as done
    assert '"SlackActionsRefused"' in out and '"SlackActionsDone"' not in out
    [told] = [m for m in slack.messages if m.kind == "response_url"]
    assert "OPSWATCH_ALARM_NAME_PREFIXES" in told.body["text"] and told.body["response_type"] == "ephemeral"
    after = snapshot(slack)
    assert {k: after[k] for k in ("alarms", "schedules")} == {k: before[k] for k in ("alarms", "schedules")}
    assert boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["ActionsEnabled"]


def test_a_mute_that_stands_is_never_told_as_failed_when_only_the_message_update_fails(slack, alarm_message):
    """chat.update refused (Slack 500s) after the actions were disabled and the schedule made: the user must not
    read "could not mute" while the alarm is silenced; the mute line goes in the thread instead."""
    import boto3

    from chalicelib.slackactions.click import MUTE
    from chalicelib.slackactions.endpoint import answer
    from tests.test_slack_actions_endpoint import ALARM, _click_on

    posted, buttons = alarm_message
    hour = next(v for v in buttons[MUTE] if v.startswith("1h~"))
    body = _click_on(slack, posted, {"action_id": MUTE, "type": "static_select", "selected_option": {"value": hour}})
    slack.fail(500, times=4)  # chat.update and its three retries
    assert answer("POST", signed(body), lambda: body).status == 200
    assert not boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["ActionsEnabled"]
    said = [" ".join(texts(m.body)) for m in slack.messages if m.kind in ("chat.postMessage", "response_url")]
    assert not [s for s in said if "could not mute" in s]
    assert [s for s in said if "Muted by <@W111> until" in s]
    items = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert [i["status"]["S"] for i in items if i["id"]["S"].startswith("slackaction#")] == ["done"]


# --- Once: a claim whose answer was lost is still the click's own --------------------------------------------


def test_a_claim_written_but_whose_answer_was_lost_still_acts(slack, monkeypatch):
    """The once-record's PutItem lands, then the connection drops before its answer: botocore retries, and the
    retry finds the record. That record is this request's own claim: the click must act, not be taken for a
    repeat (and every click on it for 15 minutes with it)."""
    import boto3

    from chalicelib.aws import client as aws_client
    from chalicelib.slackactions import once
    from chalicelib.slackactions.endpoint import answer
    from tests.faultproxy import FaultProxy

    body = form(payload(LOGS, response_url=slack.response_url()))
    proxy = FaultProxy(aws_client("sts").meta.endpoint_url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        aws_client.cache_clear()
        proxy.drop_target, proxy.drop_times = "DynamoDB_20120810.PutItem", 1
        got = answer("POST", signed(body), lambda: body)
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
        proxy.close()
        aws_client.cache_clear()
    assert proxy.seen.count("DynamoDB_20120810.PutItem") == 2  # the call, and botocore's retry of it
    assert got.outcome == "accepted"
    [item] = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert item["status"]["S"] == once.DONE  # the worker ran (inline)


def test_an_acknowledgement_written_but_whose_answer_was_lost_is_shown(slack, alarm_message, monkeypatch):
    """The acknowledgement's conditional UpdateItem lands, its answer is lost, botocore's retry fails the
    condition on it: the user's own acknowledgement must be shown, not "someone acknowledged it a moment ago"."""
    from chalicelib.aws import client as aws_client
    from chalicelib.slackactions.click import ACK
    from chalicelib.slackactions.endpoint import answer
    from tests.faultproxy import FaultProxy
    from tests.test_slack_actions_endpoint import _click_on

    posted, buttons = alarm_message
    body = _click_on(slack, posted, {"action_id": ACK, "type": "button", "value": buttons[ACK]})
    proxy = FaultProxy(aws_client("sts").meta.endpoint_url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        aws_client.cache_clear()
        proxy.drop_target, proxy.drop_times = "DynamoDB_20120810.UpdateItem", 1
        assert answer("POST", signed(body), lambda: body).outcome == "accepted"
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
        proxy.close()
        aws_client.cache_clear()
    assert proxy.drop_times == 0  # the acknowledgement's answer was lost
    updates = [m for m in slack.messages if m.kind == "chat.update" and m.body.get("ts") == posted.body["ts"]]
    assert len(updates) == 1 and "Acknowledged by <@W111>" in " ".join(texts(updates[0].body))
    said = [" ".join(texts(m.body)) for m in slack.messages if m.kind in ("chat.postMessage", "response_url")]
    assert not [s for s in said if "a moment ago" in s or "could not" in s]


def test_a_mute_from_an_older_message_stands_even_when_slack_is_down(slack, alarm_message):
    """Mute on an older ALARM message of the alarm: the mute acts on the alarm now and its line goes in the
    thread; Slack refusing that line must not turn the standing mute into "could not mute" (and a retry)."""
    import boto3

    from chalicelib.slackactions.click import MUTE
    from chalicelib.slackactions.endpoint import answer
    from chalicelib.slackactions.value import AlarmRef, decode_mute, mute_value
    from tests.test_slack_actions_endpoint import ALARM, _click_on

    posted, buttons = alarm_message
    _, now = decode_mute(next(v for v in buttons[MUTE] if v.startswith("1h~")))
    older = mute_value(AlarmRef(now.arn, now.at_ms - 3_600_000), "1h")  # the same alarm's ALARM an hour before
    body = _click_on(slack, posted, {"action_id": MUTE, "type": "static_select", "selected_option": {"value": older}})
    slack.fail(500, times=4)  # the thread reply and its three retries
    assert answer("POST", signed(body), lambda: body).status == 200
    assert not boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["ActionsEnabled"]
    items = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert [i["status"]["S"] for i in items if i["id"]["S"].startswith("slackaction#")] == ["done"]
    said = [" ".join(texts(m.body)) for m in slack.messages if m.kind in ("chat.postMessage", "response_url")]
    assert not [s for s in said if "could not mute" in s]
