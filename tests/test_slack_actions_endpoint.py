"""``POST /slack/actions`` through Chalice's test client: signed as Slack signs, against moto and the loopback Slack.

Payloads start from a ``block_actions`` body as Slack's own framework tests it
(tests/data/slack/bolt-python__block_actions_button.json), with opswatch's action ids.
Every refused request must leave alarms, schedules, Slack messages and the state table
as they were: ``snapshot`` reads all four, before and after.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import state
from chalicelib.slackactions import once, responders
from chalicelib.slackactions.click import ACK, LOGS, MUTE
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret of Slack's own documentation example
SAMPLE = json.loads((DATA / "slack" / "bolt-python__block_actions_button.json").read_text())
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ALARM = "opswatch-test-5xx"


def payload(action_id: str = ACK, value: str = f"alarm:{ALARM}", user: str = "W111", **extra) -> dict:
    body = copy.deepcopy(SAMPLE)
    body["actions"][0].update(action_id=action_id, value=value)
    body["user"]["id"] = user
    body["message"] = {"type": "message", "ts": "111.222", "text": "ALARM"}
    body.update(extra)
    return body


def form(p: dict) -> bytes:
    return f"payload={quote(json.dumps(p))}".encode()


def signed(body: bytes, ts: int | None = None, secret: str = SECRET, **headers: str) -> dict:
    ts = int(time.time()) if ts is None else ts
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {**FORM, "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig, **headers}


@pytest.fixture
def slack(aws, local_bot, monkeypatch):
    """The local stage in bot mode, a state table and one alarm on moto; the loopback Slack."""
    monkeypatch.setenv("OPSWATCH_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("OPSWATCH_SLACK_ACTIONS_DISPATCH", "inline")
    monkeypatch.delenv("OPSWATCH_SLACK_RESPONDERS", raising=False)
    state.create_table()
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=ALARM,
        MetricName="HTTPCode_ELB_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:opswatch-local-alarms"],
    )
    responders.clear_cache()
    yield local_bot
    responders.clear_cache()
    aws.reset()  # later tests that do not reset moto expect no state table


@pytest.fixture
def client(slack):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local", project_dir=str(ROOT)) as c:
        yield c


def post(client, body: bytes, headers: dict):
    return client.http.post("/slack/actions", body=body, headers=headers)


def snapshot(slack) -> dict:
    """What a refused request must not change: alarms' actions, schedules, Slack messages, the state table."""
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    schedules = boto3.client("scheduler").list_schedules()["Schedules"]
    items = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    return {
        "alarms": sorted((a["AlarmName"], a["ActionsEnabled"]) for a in alarms),
        "schedules": sorted(s["Name"] for s in schedules),
        "messages": [(m.kind, json.dumps(m.body, sort_keys=True)) for m in slack.messages],
        "state": sorted(json.dumps(i, sort_keys=True) for i in items),
    }


def outcomes(out: str) -> list[str]:
    """The ``outcome`` of each request, from the EMF lines the endpoint printed (its counts)."""
    got = []
    for line in out.splitlines():
        if line.startswith("{") and '"SlackRequests"' in line:
            got.append(json.loads(line)["outcome"])
    return got


# --- verification: nothing is read before the signature is checked ----------------------------------


def test_a_good_signature_is_taken_and_handed_to_the_worker(client, slack, capsys):
    body = form(payload(LOGS, response_url=slack.response_url()))
    r = post(client, body, signed(body))
    assert r.status_code == 200 and r.body == b""
    assert outcomes(capsys.readouterr().out) == ["accepted"]
    [item] = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert item["id"]["S"] == f"slackaction#T111#C111#111.222#{LOGS}#alarm:{ALARM}"
    assert item["status"]["S"] == once.DONE  # the worker ran before the answer (inline): a value it refused


@pytest.mark.parametrize(
    "why, headers",
    [
        ("wrong secret", lambda b: signed(b, secret="another-signing-secret-0000")),
        ("stale", lambda b: signed(b, ts=int(time.time()) - 301)),
        ("future", lambda b: signed(b, ts=int(time.time()) + 301)),
        ("no timestamp", lambda b: {k: v for k, v in signed(b).items() if k != "X-Slack-Request-Timestamp"}),
        ("no signature", lambda b: {k: v for k, v in signed(b).items() if k != "X-Slack-Signature"}),
        ("no headers", lambda b: dict(FORM)),
        ("timestamp not a number", lambda b: {**signed(b), "X-Slack-Request-Timestamp": "1e9"}),
        ("signature of another body", lambda b: signed(b + b"&x=1")),
        ("v1 signature", lambda b: {**signed(b), "X-Slack-Signature": "v1=" + "0" * 64}),
        ("signature not hex", lambda b: {**signed(b), "X-Slack-Signature": "v0=" + "z" * 64}),
    ],
)
def test_an_unsigned_or_stale_request_is_401_with_no_detail_and_changes_nothing(client, slack, capsys, why, headers):
    body = form(payload(MUTE, value="1h", response_url=slack.response_url()))
    before = snapshot(slack)
    r = post(client, body, headers(body))
    assert r.status_code == 401, why
    assert r.body == b"Unauthorized"  # nothing about why
    assert snapshot(slack) == before
    out = capsys.readouterr().out
    assert outcomes(out) == ["unsigned"]
    assert SECRET not in out and "payload=" not in out  # the reason is logged, never the body or secret


def test_the_window_is_five_minutes_either_way(client, slack):
    now = int(time.time())
    for ts, value in ((now - 290, "alarm:a"), (now + 290, "alarm:b")):  # two clicks: two records
        body = form(payload(LOGS, value=value, response_url=slack.response_url()))
        assert post(client, body, signed(body, ts=ts)).status_code == 200


def test_a_replayed_request_is_refused_once_its_timestamp_is_old(client, slack):
    """A captured request played again later: the same body and headers, past the window."""
    body = form(payload(LOGS, response_url=slack.response_url()))
    headers = signed(body, ts=int(time.time()) - 6 * 60)
    before = snapshot(slack)
    assert post(client, body, headers).status_code == 401
    assert snapshot(slack) == before


def test_a_body_over_64_kb_is_413_by_its_length_and_by_its_header(client, slack):
    big = form(payload(response_url=slack.response_url())) + b"&pad=" + b"a" * (64 * 1024)
    before = snapshot(slack)
    assert post(client, big, signed(big)).status_code == 413
    small = form(payload(response_url=slack.response_url()))
    assert post(client, small, {**signed(small), "Content-Length": str(10**9)}).status_code == 413
    assert post(client, small, {**signed(small), "Content-Length": "9" * 5000}).status_code == 413
    assert post(client, small, {**signed(small), "Content-Length": "-1"}).status_code == 400
    assert snapshot(slack) == before


def test_other_methods_are_405_and_other_paths_404_never_500(client, slack, capsys):
    before = snapshot(slack)
    for method in ("get", "put", "patch", "delete"):
        r = getattr(client.http, method)("/slack/actions", headers=FORM, body=b"")
        assert r.status_code == 405 and r.headers.get("Allow") == "POST", method
    assert outcomes(capsys.readouterr().out) == ["method_not_allowed"] * 4
    for path in ("/", "/slack", "/slack/actions/x", "/slack/events"):
        assert client.http.post(path, headers=FORM, body=b"payload=x").status_code in (403, 404), path
    assert snapshot(slack) == before


# --- reading: a signed body that is not an opswatch click is 400 --------------------------------------


def _signed_400(client, slack, body: bytes, **headers) -> None:
    before = snapshot(slack)
    r = post(client, body, signed(body, **headers))
    assert r.status_code == 400, body[:200]
    assert r.body == b"Bad Request"
    assert snapshot(slack) == before


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not a form",
        b"payload=",
        b"other=1",
        b"payload=%7B%7D&payload=%7B%7D",
        b"payload=not%20json",
        b"payload=" + quote("[" * 5000 + "]" * 5000).encode(),  # deeper than the JSON bound
        b"payload=%5B%5D",
        b"payload=%FF%FE",  # not UTF-8 once decoded
        "payload=é".encode(),  # not ASCII: Slack percent-encodes
        form({"type": "view_submission", "actions": []}),
        form({**payload(), "type": "interactive_message"}),
        form({**payload(), "type": ["block_actions"]}),
        form(payload(action_id="delete_everything")),
        form(payload(action_id=None)),
        form({**payload(), "actions": []}),
        form({**payload(), "actions": [payload()["actions"][0]] * 2}),
        form({**payload(), "actions": "opswatch_ack"}),
        form({**payload(), "user": "W111"}),
        form({**payload(), "user": {"id": 7}}),
        form({**payload(), "user": {"id": "<!channel>"}}),
        form({**payload(), "team": {"id": "T1\n"}}),
        form({**payload(), "container": {"message_ts": "soon", "channel_id": "C111"}}),
        form(payload(value="x" * 2001)),
        form(payload(value="a\x00b")),
        form(payload(response_url="https://evil.example/steal")),
        form(payload(response_url="http://hooks.slack.com/actions/T/1/x")),
        form({k: v for k, v in payload().items() if k not in ("channel", "container", "message", "response_url")}),
    ],
)
def test_malformed_payloads_are_400_and_change_nothing(client, slack, body):
    _signed_400(client, slack, body)


def test_a_body_that_is_not_a_form_is_400(client, slack):
    body = json.dumps(payload()).encode()
    _signed_400(client, slack, body, **{"Content-Type": "application/json"})


def test_binary_bodies_are_refused_before_the_signature(client, slack):
    body = bytes(range(256)) * 4
    before = snapshot(slack)
    assert post(client, body, signed(body)).status_code == 401  # not UTF-8: cannot be Slack's
    assert snapshot(slack) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=3000).map(lambda t: ("payload=" + quote(t)).encode()),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=50),
            lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
            max_leaves=200,
        ).map(lambda v: form({**payload(), "actions": v}) if isinstance(v, list) else form(v)),
        st.integers(min_value=60 * 1024, max_value=200 * 1024).map(lambda n: b"payload=" + b"%5B" * (n // 3)),
    )
)
def test_hostile_signed_bodies_are_400_or_413_never_500_and_change_nothing(client, slack, junk):
    before = snapshot(slack)
    r = post(client, junk, signed(junk))
    assert r.status_code in (400, 401, 413), (r.status_code, junk[:100])
    assert snapshot(slack) == before


# --- who may act --------------------------------------------------------------------------------------


def test_a_user_not_listed_gets_an_ephemeral_not_allowed_and_nothing_changes(client, slack, monkeypatch, capsys):
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "U0ONCALL,S0SRE")
    slack.usergroups["S0SRE"] = ["U0OTHER"]
    body = form(payload(MUTE, value="1h", user="W111", response_url=slack.response_url()))
    before = snapshot(slack)
    r = post(client, body, signed(body))
    assert r.status_code == 200
    assert r.json_body["response_type"] == "ephemeral" and "not allowed" in r.json_body["text"]
    after = snapshot(slack)
    [reply] = [m for m in slack.messages if m.kind == "response_url"]
    assert reply.body["response_type"] == "ephemeral" and "not allowed" in reply.body["text"]
    assert {**after, "messages": after["messages"][:-1]} == before  # the reply is all that happened
    assert outcomes(capsys.readouterr().out) == ["not_allowed"]


def test_a_member_of_a_listed_user_group_may_act_and_the_group_is_looked_up_once(client, slack, monkeypatch):
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "U0ONCALL,S0SRE")
    slack.usergroups["S0SRE"] = ["W111"]
    calls, posted = slack.requests, len(slack.messages)
    for value in ("alarm:a", "alarm:b"):
        body = form(payload(LOGS, value=value, response_url=slack.response_url()))
        assert post(client, body, signed(body)).status_code == 200
    items = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert len(items) == 2  # both clicks were taken
    assert slack.requests - calls - (len(slack.messages) - posted) == 1  # one usergroups.users.list for both
    slack.usergroups["S0SRE"] = []  # removed from the group: the cache still says member for 5 minutes
    body = form(payload(LOGS, value="alarm:c", response_url=slack.response_url()))
    assert post(client, body, signed(body)).status_code == 200
    assert responders.members("S0SRE") == frozenset({"W111"})


def test_a_user_group_that_cannot_be_looked_up_refuses(client, slack, monkeypatch):
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "S0GONE")
    body = form(payload(LOGS, response_url=slack.response_url()))
    before = snapshot(slack)
    r = post(client, body, signed(body))
    assert r.status_code == 200 and "try again" in r.json_body["text"]
    assert snapshot(slack)["state"] == before["state"]


def test_without_a_list_anyone_may_acknowledge_but_mute_is_refused(client, slack, capsys):
    body = form(payload(MUTE, value="1h", response_url=slack.response_url()))
    before = snapshot(slack)
    r = post(client, body, signed(body))
    assert r.status_code == 200 and "OPSWATCH_SLACK_RESPONDERS" in r.json_body["text"]
    after = snapshot(slack)
    assert after["alarms"] == before["alarms"] and after["schedules"] == before["schedules"]
    assert after["state"] == before["state"]
    body = form(payload(ACK, response_url=slack.response_url()))
    assert post(client, body, signed(body)).status_code == 200
    assert outcomes(capsys.readouterr().out) == ["not_allowed", "accepted"]


# --- once ---------------------------------------------------------------------------------------------


@pytest.fixture
def worker_on_moto(slack, monkeypatch):
    """The lambda dispatch against moto: a slack_actions function exists (moto queues, and runs nothing)."""
    import io
    import zipfile

    monkeypatch.setenv("OPSWATCH_SLACK_ACTIONS_DISPATCH", "lambda")
    role = boto3.client("iam").create_role(RoleName="w", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def slack_actions(event, context):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName="opswatch-local-slack_actions",
        Runtime="python3.12",
        Role=role,
        Handler="app.slack_actions",
        Code={"ZipFile": buf.getvalue()},
    )


def test_a_double_click_and_a_slack_retry_are_enqueued_once(slack, worker_on_moto, monkeypatch, capsys):
    from chalicelib.slackactions.endpoint import answer

    body = form(payload(ACK, response_url=slack.response_url()))
    first = answer("POST", signed(body), lambda: body)
    again = answer("POST", signed(body), lambda: body)
    retry = answer(
        "POST", signed(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}), lambda: body
    )
    assert [a.outcome for a in (first, again, retry)] == ["accepted", "repeated", "repeated"]
    assert [a.status for a in (first, again, retry)] == [200, 200, 200]
    [item] = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert item["status"]["S"] == once.CLAIMED  # the worker has it (asynchronously)


def test_a_click_that_cannot_be_enqueued_says_try_again_and_may_be_clicked_again(slack, monkeypatch):
    from chalicelib.slackactions.endpoint import answer

    monkeypatch.setenv("OPSWATCH_SLACK_ACTIONS_DISPATCH", "lambda")  # no worker function on moto
    body = form(payload(ACK, response_url=slack.response_url()))
    got = answer("POST", signed(body), lambda: body)
    assert got.status == 200 and got.outcome == "not_enqueued" and "try again" in got.body["text"]
    [item] = boto3.client("dynamodb").scan(TableName=state.table_name())["Items"]
    assert item["status"]["S"] == once.FAILED
    assert answer("POST", signed(body), lambda: body).outcome == "not_enqueued"  # claimed again, not "repeated"


def test_a_click_seen_before_its_window_ran_out_acts_again_after(slack, worker_on_moto):
    from chalicelib.slackactions.payload import click_from

    body = form(payload(MUTE, value="1h", response_url=slack.response_url()))
    click = click_from(body, FORM["Content-Type"])
    now = time.time()
    assert once.claim(click, now) is True
    assert once.claim(click, now + 60) is False
    assert once.claim(click, now + once.ONCE_SECONDS + 1) is True  # a new decision, an hour later


def test_a_long_key_is_hashed_within_dynamodb_limits(slack):
    from chalicelib.slackactions.payload import click_from

    body = form(payload(LOGS, value="v" * 2000, response_url=slack.response_url()))
    key = once.key(click_from(body, FORM["Content-Type"]))
    assert key.startswith("slackaction#sha256#") and len(key) < 100


# --- the worker ---------------------------------------------------------------------------------------


def test_the_worker_refuses_a_malformed_event_without_retry(slack, capsys):
    from chalicelib.kinds import handle

    assert handle("slack_actions", {"action_id": "opswatch_ack"})["status"] == "undecodable"
    assert handle("slack_actions", ["not", "a", "click"])["status"] == "undecodable"
    assert '"SlackActionEventsUndecodable"' in capsys.readouterr().out


def test_a_failed_action_is_told_in_the_thread_and_raised_for_lambdas_retry(slack, monkeypatch):
    """A click on a message opswatch cannot find: the action fails, the user is told in the thread."""
    from chalicelib.kinds import handle
    from chalicelib.slackactions.payload import click_from

    body = form(payload(ACK, value="alarm:<!channel>-nope", response_url=slack.response_url()))
    click = click_from(body, FORM["Content-Type"])
    assert once.claim(click)
    monkeypatch.setattr("chalicelib.slackactions.worker.PERFORM", "chalicelib.slackactions.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        handle("slack_actions", click.to_dict())
    [told] = [m for m in slack.messages if m.kind == "chat.postMessage"]
    assert told.body["thread_ts"] == "111.222" and told.body["channel"] == "C111"
    assert "could not acknowledge" in told.body["text"] and "<@W111>" in told.body["text"]
    assert "<!channel>" not in told.body["text"]
    assert once.status(click) == once.FAILED
    assert once.claim(click)  # the user may click again


# --- configuration ------------------------------------------------------------------------------------


def test_without_a_signing_secret_nothing_is_verified_and_nothing_acts(client, slack, monkeypatch, caplog):
    monkeypatch.delenv("OPSWATCH_SLACK_SIGNING_SECRET")
    body = form(payload(response_url=slack.response_url()))
    before = snapshot(slack)
    r = post(client, body, signed(body))
    assert r.status_code == 500 and r.body == b"Internal Server Error"
    assert snapshot(slack) == before
    assert "OPSWATCH_SLACK_SIGNING_SECRET" in caplog.text and "[redacted]" not in caplog.text  # what to set


def test_the_signing_secret_comes_from_the_stage_secret_and_never_from_plain_env_outside_local(slack, monkeypatch):
    from chalicelib.slack.delivery import SlackConfigError
    from chalicelib.slackactions.secrets import signing_secret

    monkeypatch.setenv("OPSWATCH_STAGE", "prod")
    with pytest.raises(SlackConfigError, match="accepted only in the local stage") as exc:
        signing_secret()
    assert SECRET not in str(exc.value)
    boto3.client("secretsmanager").create_secret(
        Name="opswatch/prod/slack", SecretString=json.dumps({"bot_token": "xoxb-1-2", "signing_secret": "s" * 32})
    )
    monkeypatch.setenv("OPSWATCH_SLACK_SECRET", "secretsmanager:opswatch/prod/slack")
    assert signing_secret() == "s" * 32


def test_responders_must_be_slack_ids(monkeypatch):
    from chalicelib import settings as s

    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "U123, @alice")
    with pytest.raises(ValueError, match="'@alice' is neither"):
        s.slack_actions()
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", " U123 ,S0SRE,W9X ")
    assert s.slack_actions().responders == ("U123", "S0SRE", "W9X")


# --- chalice local ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chalice_local_answers_401_to_an_unsigned_post(tmp_path):
    port = _free_port()
    chalice = Path(sys.executable).parent / "chalice"
    env = {**os.environ, "OPSWATCH_SLACK_SIGNING_SECRET": SECRET}
    proc = subprocess.Popen(
        [str(chalice), "local", "--stage", "local", "--port", str(port), "--host", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # chalice local says "Serving on ..." once it listens; EOF means it died
        for line in proc.stdout:
            if "Serving on" in line:
                break
        else:
            pytest.fail("chalice local stopped: " + proc.stderr.read()[-2000:])
        url = f"http://127.0.0.1:{port}/slack/actions"
        request = urllib.request.Request(url, data=urlencode({"payload": "{}"}).encode(), headers=FORM, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401 and refused.value.read() == b"Unauthorized"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_a_unicode_name_is_taken_plain_and_short(slack):
    from chalicelib.slackactions.payload import click_from

    p = payload(LOGS, response_url=slack.response_url())
    p["user"]["username"] = "zoë 🚀\u202e<!channel>\x07" + "x" * 500
    click = click_from(form(p), FORM["Content-Type"])
    assert click.user_name.startswith("zoë 🚀<!channel>") and len(click.user_name) <= 100  # escaped where shown
    assert "\x07" not in click.user_name and "\u202e" not in click.user_name


# --- end to end: an ALARM posted with its buttons, clicked through the route, twice -----------------------


@pytest.fixture
def alarm_message(slack, monkeypatch):
    """An ALARM posted in bot mode with its buttons (channel C0ALERTS); the stage ready for Mute."""
    from chalicelib.alarms.handler import handle_eventbridge_event
    from chalicelib.embedded.alarmnotify import eventbridge_event

    monkeypatch.setenv("OPSWATCH_SLACK_ACTIONS", "true")
    monkeypatch.setenv("OPSWATCH_SLACK_CHANNEL", "C0ALERTS")
    monkeypatch.setenv("OPSWATCH_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("OPSWATCH_SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/opswatch-local-scheduler")
    monkeypatch.setenv("OPSWATCH_SLACK_RESPONDERS", "W111")
    boto3.client("scheduler").create_schedule_group(Name="opswatch-local")
    cw = boto3.client("cloudwatch")
    cw.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test")
    handle_eventbridge_event(eventbridge_event(cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0], "OK"))
    [posted] = [m for m in slack.messages if m.kind == "chat.postMessage"]
    blocks = [b for a in posted.body.get("attachments") or [] for b in a.get("blocks") or []]
    buttons = {
        e["action_id"]: [o["value"] for o in e["options"]] if "options" in e else e["value"]
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements") or []
    }
    assert set(buttons) == {ACK, MUTE, LOGS}
    return posted, buttons


def _click_on(slack, posted, action: dict) -> bytes:
    p = payload(response_url=slack.response_url())
    p["actions"] = [{"block_id": "b", "action_ts": f"{time.time():.6f}", **action}]
    p["channel"] = {"id": posted.body["channel"], "name": "alerts"}
    p["container"] = {"type": "message", "message_ts": posted.body["ts"], "channel_id": posted.body["channel"]}
    p["message"] = {"type": "message", "ts": posted.body["ts"], "text": "ALARM"}
    return form(p)


def test_a_double_click_on_acknowledge_updates_the_message_once(client, slack, alarm_message, capsys):
    posted, buttons = alarm_message
    body = _click_on(slack, posted, {"action_id": ACK, "type": "button", "value": buttons[ACK]})
    capsys.readouterr()
    assert post(client, body, signed(body)).status_code == 200
    retry = signed(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert post(client, body, retry).status_code == 200
    updates = [m for m in slack.messages if m.kind == "chat.update" and m.body.get("ts") == posted.body["ts"]]
    assert len(updates) == 1 and "Acknowledged by" in json.dumps(updates[0].body)
    assert outcomes(capsys.readouterr().out) == ["accepted", "repeated"]


def test_a_double_click_on_mute_disables_and_schedules_once(client, slack, alarm_message, capsys):
    posted, buttons = alarm_message
    capsys.readouterr()
    [hour] = [v for v in buttons[MUTE] if v.startswith("1h~")]
    action = {"action_id": MUTE, "type": "static_select", "selected_option": {"value": hour}}
    body = _click_on(slack, posted, action)
    for _ in range(2):
        assert post(client, body, signed(body)).status_code == 200
    [alarm] = boto3.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["ActionsEnabled"] is False
    [schedule] = boto3.client("scheduler").list_schedules(GroupName="opswatch-local")["Schedules"]
    assert schedule["GroupName"] == "opswatch-local"
    updates = [m for m in slack.messages if m.kind == "chat.update" and m.body.get("ts") == posted.body["ts"]]
    assert len(updates) == 1  # "muted by" once: the second click did nothing
    assert outcomes(capsys.readouterr().out) == ["accepted", "repeated"]
