"""Who may act: ``OPSWATCH_SLACK_RESPONDERS``, user ids and user groups, groups resolved through Slack.

- With a list: the clicking user must be in it, or in one of its user groups
  (``usergroups.users.list``, bot scope ``usergroups:read``). A group's members are cached for
  ``CACHE_SECONDS`` in the container, so a burst of clicks costs one Slack call per group.
  When a group cannot be looked up, the click is refused (fail closed) and the reason logged.
  The lookups run on the endpoint's clock (Slack waits three seconds): all of them together get
  ``LOOKUP_BUDGET_SECONDS``, with no retry, and a rate-limited answer is a failure, not a wait
  (slack-sdk's retry handler would sleep the whole ``Retry-After``).
- Without a list: anyone in the workspace may acknowledge and see recent logs; Mute is refused
  until a list is set, as muting silences an alarm for everyone.

The decision carries the sentence to show the user (ephemeral), never a secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from chalicelib.redact import redact
from chalicelib.slackactions.click import MUTE, Click

logger = Logger(service="opswatch-slackactions")
CACHE_SECONDS = 300
LOOKUP_BUDGET_SECONDS = 2.0  # all of a click's group lookups: inside Slack's three seconds for the answer
MIN_LOOKUP_SECONDS = 0.2  # less left than this: the next group is not asked
_groups: dict[str, tuple[float, frozenset[str]]] = {}  # group id -> (fetched at, member user ids)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    message: str = ""  # shown to the user (ephemeral) when not allowed


def clear_cache() -> None:
    _groups.clear()


def slack_members(group: str, timeout: float = LOOKUP_BUDGET_SECONDS) -> frozenset[str]:
    """The user ids of a Slack user group (``usergroups.users.list``); raises when Slack does not answer them.

    One attempt within ``timeout`` seconds: no retry, so a 429 is not slept through on the endpoint's clock.
    """
    from chalicelib.settings import slack
    from chalicelib.slack.sdk import SlackApiError, web_client
    from chalicelib.slackactions.secrets import bot_token

    try:
        client = web_client(bot_token(), slack().api_url, retries=0)
        client.timeout = max(MIN_LOOKUP_SECONDS, timeout)
        resp = client.usergroups_users_list(usergroup=group)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise LookupError(f"Slack usergroups.users.list for {group} failed: {error}") from None
    users = resp.get("users")
    if not isinstance(users, list):
        raise LookupError(f"Slack usergroups.users.list for {group} answered no list of users")
    return frozenset(u for u in users if isinstance(u, str))


def members(
    group: str,
    fetch: Callable[[str, float], frozenset[str]] = slack_members,
    now: float | None = None,
    timeout: float = LOOKUP_BUDGET_SECONDS,
) -> frozenset[str]:
    """A user group's members, from the cache when fetched less than ``CACHE_SECONDS`` ago."""
    now = time.monotonic() if now is None else now
    hit = _groups.get(group)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    got = fetch(group, timeout)
    _groups[group] = (now, got)
    return got


NOT_ALLOWED = "You are not allowed to act on opswatch alerts: ask to be added to OPSWATCH_SLACK_RESPONDERS."
MUTE_NEEDS_LIST = (
    "Muting is off until responders are set: list the Slack users or user groups who may mute "
    "in OPSWATCH_SLACK_RESPONDERS."
)
LOOKUP_FAILED = "opswatch could not check your user groups with Slack just now; try again in a minute."


def decide(
    click: Click, responders: tuple[str, ...], fetch: Callable[[str, float], frozenset[str]] = slack_members
) -> Decision:
    """May ``click.user_id`` do ``click.action_id``?"""
    if not responders:
        if click.action_id == MUTE:
            return Decision(False, MUTE_NEEDS_LIST)
        return Decision(True)
    if click.user_id in responders:
        return Decision(True)
    failures = 0
    deadline = time.monotonic() + LOOKUP_BUDGET_SECONDS
    for group in (r for r in responders if r.startswith("S")):
        left = deadline - time.monotonic()
        cached = group in _groups and time.monotonic() - _groups[group][0] < CACHE_SECONDS
        if left < MIN_LOOKUP_SECONDS and not cached:  # out of time: the rest are not asked, the click refused
            failures += 1
            logger.error(f"user group {group} not looked up: the lookups ran out of time", extra={"group": group})
            continue
        try:
            if click.user_id in members(group, fetch, timeout=left):
                return Decision(True)
        except Exception as exc:  # a Slack or configuration error: refuse, and say why in the log
            failures += 1
            logger.error(f"user group {group} not looked up: {redact(str(exc))[:300]}", extra={"group": group})
    return Decision(False, LOOKUP_FAILED if failures else NOT_ALLOWED)
