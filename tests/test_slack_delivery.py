"""Delivery to the loopback Slack endpoint with the real slack-sdk clients, and secrets from moto."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import boto3
import pytest

from chalicelib.alarms.handler import handle_sns_event
from chalicelib.embedded.slackserver import TOKEN
from chalicelib.settings import slack as slack_settings
from chalicelib.slack.delivery import SlackConfigError, SlackDeliveryError, destination, send
from chalicelib.slack.message import SlackMessage
from tests.conftest import DATA

METRIC_EVENT = json.loads((DATA / "events" / "amzn-rheoceros__real_sns_metric_alarm_event.json").read_text())


def msg(text="hello") -> SlackMessage:
    return SlackMessage(text=text).header(text).section(text)


def test_webhook_delivery_posts_block_kit_with_fallback_text(local_webhook):
    send(destination(slack_settings()), msg("disk full"))
    [posted] = local_webhook.messages
    assert posted.kind == "webhook"
    assert posted.body["text"] == "disk full"
    assert posted.body["attachments"][0]["blocks"][0]["type"] == "header"


def test_429_honours_retry_after_then_delivers_once(local_webhook):
    local_webhook.fail(429, times=1, retry_after=1)
    t0 = time.monotonic()
    send(destination(slack_settings()), msg())
    assert time.monotonic() - t0 >= 1.0
    assert len(local_webhook.messages) == 1 and local_webhook.requests == 2


def test_5xx_forever_raises_after_the_retries(local_webhook):
    local_webhook.fail(500, times=100)
    with pytest.raises(SlackDeliveryError, match="500"):
        send(destination(slack_settings()), msg(), retries=2)
    assert local_webhook.requests == 3 and local_webhook.messages == []


def test_502_is_retried_too(local_webhook):
    local_webhook.fail(502, times=1)
    send(destination(slack_settings()), msg(), retries=2)
    assert len(local_webhook.messages) == 1


def test_unreachable_slack_raises(monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    monkeypatch.delenv("OPSWATCH_SLACK_SECRET", raising=False)
    monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/services/x")
    with pytest.raises(SlackDeliveryError, match="unreachable"):
        send(destination(slack_settings()), msg(), retries=1)


def test_blocks_slack_refuses_are_sent_again_as_text(local_webhook):
    broken = SlackMessage(text="fallback survives")
    broken.blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 4000}}]  # as a bug would
    broken.payload = lambda channel=None: {"text": "fallback survives", "attachments": [{"blocks": broken.blocks}]}
    answer = send(destination(slack_settings()), broken)
    assert answer["degraded"] is True
    assert [m.body for m in local_webhook.messages] == [{"text": "fallback survives"}]


@pytest.fixture
def state_table(aws):
    """A clean moto account holding the stage's state table.

    The alarm handler records every delivery there (deduplication). Without a reset account the
    moto server, shared by the session, kept the records of earlier tests, so these tests found
    their messages "already posted" when run after the log-alert tests; and run alone they reached
    for DynamoDB outside moto and only passed because deduplication fails open.
    """
    from chalicelib import state

    return state.create_table("opswatch-local-state")


def test_bot_mode_routes_channels_and_mentions_only_alarms(local_bot, state_table, monkeypatch):
    slack_server = local_bot
    monkeypatch.setenv(
        "OPSWATCH_SLACK_ROUTES", json.dumps([{"alarm": "if-sim-app_*", "channel": "#sim", "mention": "here"}])
    )
    ok_event = json.loads(json.dumps(METRIC_EVENT))
    inner = json.loads(ok_event["Records"][0]["Sns"]["Message"])
    inner["NewStateValue"], inner["OldStateValue"] = "OK", "ALARM"
    ok_event["Records"][0]["Sns"]["Message"] = json.dumps(inner)
    two = {"Records": METRIC_EVENT["Records"] + ok_event["Records"]}
    results = handle_sns_event(two)
    assert [r["channel"] for r in results] == ["#sim", "#sim"]
    # With the state table, the OK goes into the ALARM's thread and the ALARM is updated (chat.update).
    alarm, ok = (m.body for m in slack_server.messages if m.kind == "chat.postMessage")
    [update] = (m.body for m in slack_server.messages if m.kind == "chat.update")
    assert alarm["text"].startswith("<!here> ALARM:")
    assert ok["thread_ts"] == results[0]["ts"] == update["ts"] and update["text"].startswith("RESOLVED")
    assert "<!here>" not in json.dumps(ok) and "<!here>" not in json.dumps(update)


def test_bot_mode_with_a_bad_token_is_not_reported_as_delivered(slack_server, state_table, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "bot")
    monkeypatch.delenv("OPSWATCH_SLACK_SECRET", raising=False)
    monkeypatch.setenv("OPSWATCH_SLACK_BOT_TOKEN", "xoxb-wrong")
    monkeypatch.setenv("OPSWATCH_SLACK_API_URL", slack_server.api_url)
    monkeypatch.setenv("OPSWATCH_SLACK_CHANNEL", "#alerts")
    with pytest.raises(SlackDeliveryError, match="invalid_auth"):
        handle_sns_event(METRIC_EVENT)


def test_handler_attempts_every_record_then_fails_the_invocation(local_webhook, state_table):
    local_webhook.fail(500, times=4)  # the first record's attempts (1 + 3 retries)
    event = {"Records": METRIC_EVENT["Records"] * 2}
    with pytest.raises(SlackDeliveryError, match="1 of 2 messages not delivered"):
        handle_sns_event(event)
    assert len(local_webhook.messages) == 1  # the second record still went out


def test_plain_url_outside_local_stage_is_refused(monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "prod")
    monkeypatch.delenv("OPSWATCH_SLACK_SECRET", raising=False)
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "webhook")
    monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/secret")
    with pytest.raises(SlackConfigError, match="only in the local stage"):
        destination(slack_settings())


def test_webhook_secret_from_secrets_manager_is_used_and_never_logged(aws, slack_server, monkeypatch, caplog, capsys):
    url = slack_server.webhook_url
    boto3.client("secretsmanager").create_secret(Name="opswatch/slack", SecretString=json.dumps({"webhook_url": url}))
    monkeypatch.setenv("OPSWATCH_STAGE", "prod")
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "webhook")
    monkeypatch.delenv("OPSWATCH_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("OPSWATCH_SLACK_SECRET", "secretsmanager:opswatch/slack")
    caplog.set_level(logging.DEBUG)
    slack_server.fail(500, times=1)
    handle_sns_event(METRIC_EVENT)
    assert len(slack_server.messages) == 1
    seen = capsys.readouterr()
    blob = seen.out + seen.err + caplog.text + repr(destination(slack_settings()))
    assert "/services/" not in blob and url not in blob


def test_ssm_securestring_bot_token(aws, slack_server, monkeypatch):
    boto3.client("ssm").put_parameter(Name="/opswatch/slack-token", Value=TOKEN, Type="SecureString")
    monkeypatch.setenv("OPSWATCH_STAGE", "prod")
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "bot")
    monkeypatch.setenv("OPSWATCH_SLACK_SECRET", "ssm:/opswatch/slack-token")
    monkeypatch.setenv("OPSWATCH_SLACK_API_URL", slack_server.api_url)
    monkeypatch.setenv("OPSWATCH_SLACK_CHANNEL", "#ops")
    handle_sns_event(METRIC_EVENT)
    assert slack_server.messages[0].body["channel"] == "#ops"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "chalicelib.cli.main", *args], capture_output=True, text=True, env=env)


def test_cli_render_prints_one_payload_per_message(tmp_path):
    r = run_cli("slack", "render", str(DATA / "events" / "amzn-rheoceros__real_sns_composite_alarm_event.json"))
    assert r.returncode == 0, r.stderr
    [line] = r.stdout.splitlines()
    payload = json.loads(line)
    assert payload["text"].startswith("ALARM: if-sim-app")
    f = tmp_path / "plain.txt"
    f.write_text("just words <!channel>")
    r = run_cli("slack", "render", str(f))
    assert "&lt;!channel&gt;" in r.stdout and "<!channel>" not in r.stdout
    assert run_cli("slack", "render", str(tmp_path / "missing.json")).returncode == 2


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty: nothing to render"),
        (b" \n\n", "is empty: nothing to render"),
        (b"{}", "holds an empty JSON object: nothing to render"),
        (b"[]\n", "holds an empty JSON list: nothing to render"),
        (b"\x1f\x8b\x08\x00\xff", "not UTF-8 text (byte 1); is it compressed or binary?"),
    ],
    ids=["empty", "blank", "empty object", "empty list", "binary"],
)
def test_cli_render_warns_on_an_event_that_says_nothing(tmp_path, content, said):
    f = tmp_path / "event.json"
    f.write_bytes(content)
    for command in ("render", "send"):
        r = run_cli("slack", command, str(f), *(["--webhook-url", "http://127.0.0.1:9/x"] if command == "send" else []))
        assert r.returncode == 2 and r.stdout == "", r.stdout
        assert r.stderr.strip().startswith("opswatch: ") and said in r.stderr and str(f) in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1


def test_cli_send_with_webhook_url(slack_server):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSWATCH_SLACK")}
    env["OPSWATCH_STAGE"] = "prod"
    event = str(DATA / "events" / "awsdocs-cloudwatch-eventbridge__state_change_for_a_metric_math_alarm.json")
    r = run_cli("slack", "send", event, "--webhook-url", slack_server.webhook_url, env=env)
    assert r.returncode == 0, r.stderr
    assert "delivered: TotalNetworkTrafficTooHigh" in r.stdout
    assert len(slack_server.messages) == 1
    r = run_cli("slack", "send", event, env=env)
    assert r.returncode == 2 and "OPSWATCH_SLACK_SECRET" in r.stderr
