"""The Slack secret never shows: not in logs, errors, the on-failure record, nor ``opswatch failed list``.

Before the fix, webhook mode took ``bot_token`` from a JSON secret holding no ``webhook_url`` and
handed it to slack-sdk's WebhookClient, whose error ("Invalid URL detected: xoxb-…") reached the
Lambda's error log and the raw on-failure record; a URL without its scheme was logged by slack-sdk
at ERROR. Each case runs the real handler against moto (Secrets Manager, SQS) and the loopback
Slack, and every text it leaves behind is searched for the secret.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from chalicelib.alarms.handler import handle_sns_event
from chalicelib.logalerts.handler import handle_logs_event
from chalicelib.slack.delivery import SlackDeliveryError
from tests.conftest import opswatch
from tests.faults.test_dead_letters import SNS_EVENT, lambda_async, stage  # noqa: F401 (fixture)
from tests.test_log_alerts_e2e import OOM
from tests.test_log_alerts_e2e import event as awslogs_event

TOKEN = "xoxb-1111-2222-SeCrEtToKeN"
HOOK_PATH = "T0000/B0000/SeCrEtHoOkPaTh"
SECRET_BITS = ("SeCrEtToKeN", "SeCrEtHoOkPaTh")


@pytest.fixture(autouse=True)
def _moto_left_clean(request):
    """Later tests that do not reset moto expect no state table: leave the account as found."""
    yield
    if "aws" in request.fixturenames:
        request.getfixturevalue("moto_server").reset()


@pytest.fixture
def secret(stage, monkeypatch, caplog):  # noqa: F811
    """Point the stage at a Secrets Manager secret; returns a setter for its value and mode."""
    caplog.set_level(logging.DEBUG)
    for k in ("OPSWATCH_SLACK_WEBHOOK_URL", "OPSWATCH_SLACK_BOT_TOKEN", "OPSWATCH_SLACK_ROUTES"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPSWATCH_SLACK_SECRET", "secretsmanager:opswatch/local/slack")
    monkeypatch.setenv("OPSWATCH_SLACK_CHANNEL", "#alerts")
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "0")
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="opswatch/local/slack", SecretString="{}")

    def set_secret(value: str, mode: str) -> None:
        sm.put_secret_value(SecretId="opswatch/local/slack", SecretString=value)
        monkeypatch.setenv("OPSWATCH_SLACK_MODE", mode)
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        caplog.clear()  # the test's own PutSecretValue is logged by botocore at DEBUG; opswatch's reading starts here

    return set_secret


def _everything_left_behind(queue_url: str, capsys, caplog, errors: list[str]) -> str:
    sqs = boto3.client("sqs")
    bodies = []
    for _ in range(3):
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        bodies += [m["Body"] for m in msgs]
    listed = opswatch("failed", "list", "--format", "json")
    seen = capsys.readouterr()
    return "\n".join([*errors, *bodies, listed.stdout, listed.stderr, seen.out, seen.err, caplog.text])


def _assert_no_secret(blob: str) -> None:
    for bit in SECRET_BITS:
        assert bit not in blob


@pytest.mark.parametrize(
    ("value", "mode", "said"),
    [
        # the reported case: webhook mode, a JSON secret with only a bot token
        (json.dumps({"bot_token": TOKEN}), "webhook", "has no 'webhook_url', which OPSWATCH_SLACK_MODE=webhook reads"),
        # both keys, bot mode: the token is used, never the URL (and the reverse below)
        (TOKEN, "webhook", "holds a Slack token (xox…), but OPSWATCH_SLACK_MODE is webhook"),
        (f"hooks.slack.com/services/{HOOK_PATH}", "webhook", "is not a webhook URL"),
        (f"https://hooks.slack.com/services/{HOOK_PATH}", "bot", "holds a URL, but OPSWATCH_SLACK_MODE is bot"),
        (json.dumps({"webhook_url": f"https://hooks.slack.com/services/{HOOK_PATH}"}), "bot", "has no 'bot_token'"),
        ('{"webhook_url": "https://hooks.slack.com/services/' + HOOK_PATH, "webhook", "is not valid JSON"),
    ],
)
def test_a_wrong_secret_is_named_and_never_shown(secret, stage, capsys, caplog, value, mode, said):  # noqa: F811
    secret(value, mode)
    errors = []
    for function, handler, event in (
        ("alarm_bridge", handle_sns_event, SNS_EVENT),
        ("log_alerts", handle_logs_event, awslogs_event([OOM])),
    ):
        try:
            handler(event)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        assert not lambda_async(function, handler, event, stage)  # Lambda keeps the failed event
    assert len(errors) == 2 and all(said in e for e in errors), errors
    blob = _everything_left_behind(stage, capsys, caplog, errors)
    assert said in blob
    _assert_no_secret(blob)


def test_each_mode_reads_its_own_key_from_a_json_secret(secret, local_webhook, stage, slack_server):  # noqa: F811
    secret(json.dumps({"bot_token": TOKEN, "webhook_url": slack_server.webhook_url}), "webhook")
    [result] = handle_sns_event(SNS_EVENT)
    assert result["ok"] and len(slack_server.messages) == 1


@pytest.fixture
def odd_slack():
    """A loopback endpoint whose answer declares a charset no codec has: reading it raises LookupError."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=no-such-charset")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/{HOOK_PATH}"
    server.shutdown()
    server.server_close()


def test_an_exception_while_sending_names_its_type_only(stage, odd_slack, monkeypatch, capsys, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("OPSWATCH_SLACK_SECRET", raising=False)
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "webhook")
    monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", odd_slack)  # the local stage takes a plain URL
    with pytest.raises(SlackDeliveryError, match="Slack webhook unreachable after retries: LookupError") as caught:
        handle_sns_event(SNS_EVENT)
    assert caught.value.__cause__ is None
    assert not lambda_async("alarm_bridge", handle_sns_event, SNS_EVENT, stage)
    _assert_no_secret(_everything_left_behind(stage, capsys, caplog, [str(caught.value)]))
