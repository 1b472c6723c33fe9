"""Slack actions under a hostile or failing world: what an attacker or a bad day can do to a click.

Through the real parts (Chalice's test client, moto server, the loopback Slack); the fixtures
and helpers are those of ``test_slack_actions_endpoint``.
"""

from __future__ import annotations

import time

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
