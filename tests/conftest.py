"""Shared fixtures: one moto server per test session, reset between tests.

moto runs in its own process and every AWS call goes to it over real HTTP
(``AWS_ENDPOINT_URL``), exactly as the Lambdas and the CLI run against AWS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from chalicelib.aws import client
from chalicelib.embedded import motoserver
from chalicelib.embedded.slackserver import SlackServer

# No test may reach a real AWS endpoint: outside the moto fixtures, every client points at a closed
# loopback port, so a call that should not happen fails at once instead of leaving the machine.
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

DATA = Path(__file__).parent / "data"
ALB_DATA = DATA / "alb"


def opswatch(*args: str, stdin: str | None = None, env: dict | None = None, **extra_env: str):
    """The ``opswatch`` command in a fresh process, as a user runs it (this test's environment by default)."""
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**(env if env is not None else os.environ), **extra_env},
    )


@pytest.fixture(scope="session")
def moto_server():
    server = motoserver.start()
    saved = {k: os.environ.get(k) for k in server.environment()}
    os.environ.update(server.environment())
    client.cache_clear()
    yield server
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    client.cache_clear()


@pytest.fixture
def aws(moto_server):
    """A clean moto account for one test, with boto3 pointed at it (and left clean: a later test without this
    fixture still reaches the same server, and must not find this one's state table)."""
    moto_server.reset()
    client.cache_clear()
    yield moto_server
    moto_server.reset()
    client.cache_clear()


@pytest.fixture
def s3(aws):
    return boto3.client("s3")


@pytest.fixture
def logs(aws):
    return boto3.client("logs")


@pytest.fixture
def slack_server():
    """A loopback Slack endpoint for one test."""
    s = SlackServer()
    yield s
    s.close()


@pytest.fixture
def local_webhook(slack_server, monkeypatch):
    """The local stage posting to the loopback Slack's webhook, with no routes or mentions."""
    for k in ("OPSWATCH_SLACK_SECRET", "OPSWATCH_SLACK_ROUTES", "OPSWATCH_SLACK_MENTION", "OPSWATCH_SLACK_CHANNEL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "webhook")
    monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", slack_server.webhook_url)
    return slack_server


@pytest.fixture
def local_bot(slack_server, monkeypatch):
    """The local stage posting with the bot token to the loopback Slack's API, default channel #alerts."""
    from chalicelib.embedded.slackserver import TOKEN

    for k in ("OPSWATCH_SLACK_SECRET", "OPSWATCH_SLACK_ROUTES", "OPSWATCH_SLACK_MENTION"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    monkeypatch.setenv("OPSWATCH_SLACK_MODE", "bot")
    monkeypatch.setenv("OPSWATCH_SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("OPSWATCH_SLACK_API_URL", slack_server.api_url)
    monkeypatch.setenv("OPSWATCH_SLACK_CHANNEL", "#alerts")
    return slack_server


def opswatch_here(*args: str):
    """The ``opswatch`` command run in this process (click's runner): the same code, without a new interpreter.

    Answers like ``opswatch`` (returncode, stdout, stderr); an exception the command did not handle is raised.
    """
    from types import SimpleNamespace

    from click.testing import CliRunner

    from chalicelib.cli.main import cli

    client.cache_clear()  # clients follow this test's endpoints (a proxy set after the fixture)
    r = CliRunner().invoke(cli, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)
