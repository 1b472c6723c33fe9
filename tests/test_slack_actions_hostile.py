"""Slack actions under a hostile or failing world: what an attacker or a bad day can do to a click.

Through the real parts (Chalice's test client, moto server, the loopback Slack); the fixtures
and helpers are those of ``test_slack_actions_endpoint``.
"""

from __future__ import annotations

import time

from chalicelib import state
from chalicelib.slackactions.click import LOGS
from tests.test_slack_actions_endpoint import alarm_message, client, form, payload, post, signed, slack, snapshot

__all__ = ["alarm_message", "client", "slack"]  # the fixtures, shared


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
