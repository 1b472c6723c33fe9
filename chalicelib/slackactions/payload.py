"""A verified request's body -> one ``Click``, or ``BadPayload`` saying what is wrong with it.

Slack posts ``application/x-www-form-urlencoded`` with one field, ``payload``: the interaction
as JSON. Only that field is read, decoded within bounds (``boundedjson``), and only a
``block_actions`` payload with exactly one action of opswatch's (``click.ACTION_IDS``) is
taken. Every identifier is checked against the shape Slack gives it and every text is bounded,
so what the worker receives is small and plain. ``response_url`` is kept only when it points
at Slack (``https://hooks.slack.com/``) or, on the local stage, at the configured Slack API
base (the loopback Slack): the endpoint and the worker post to it, and must never post
anywhere a payload names.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qs, urlsplit

from chalicelib import boundedjson, settings
from chalicelib.slackactions.click import ACTION_IDS, Click

MAX_PAYLOAD_CHARS = 60_000
MAX_VALUES = 5_000  # a message of 50 blocks with their elements stays far below
MAX_VALUE_CHARS = 2_000  # Slack's limit on a button's value
MAX_NAME_CHARS = 100
MAX_URL_CHARS = 2_048
SLACK_HOOKS = "https://hooks.slack.com/"
_USER = re.compile(r"[UW][A-Z0-9]{2,30}")
_TEAM = re.compile(r"[TE][A-Z0-9]{2,30}")
_CHANNEL = re.compile(r"[CDG][A-Z0-9]{2,30}")
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadPayload(ValueError):
    """The body is not a Slack ``block_actions`` click on an opswatch button; the message says why."""


def _form_payload(body: bytes, content_type: str | None) -> str:
    if not (content_type or "").lower().split(";")[0].strip() == "application/x-www-form-urlencoded":
        raise BadPayload(f"Content-Type is {(content_type or 'missing')[:60]!r}, not application/x-www-form-urlencoded")
    try:
        text = body.decode("ascii")  # Slack percent-encodes the form; anything else is not Slack's
    except UnicodeDecodeError:
        raise BadPayload("the form body is not ASCII") from None
    try:
        fields = parse_qs(text, strict_parsing=True, max_num_fields=20, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(f"the body is not a form ({type(exc).__name__})") from None
    got = fields.get("payload")
    if not got:
        raise BadPayload(f"the form has no payload field (fields: {', '.join(sorted(fields))[:100] or 'none'})")
    if len(got) != 1:
        raise BadPayload(f"the form has {len(got)} payload fields, not one")
    return got[0]


def _string(d: object, key: str, where: str, pattern: re.Pattern | None = None, limit: int = 100) -> str:
    value = d.get(key) if isinstance(d, dict) else None
    if not isinstance(value, str) or not value:
        raise BadPayload(f"{where}.{key} is missing or not a string")
    if len(value) > limit:
        raise BadPayload(f"{where}.{key} is {len(value)} characters, over {limit}")
    if pattern is not None and not pattern.fullmatch(value):
        raise BadPayload(f"{where}.{key} does not look like a Slack {key}")
    return value


def _optional(d: object, key: str, where: str, pattern: re.Pattern) -> str | None:
    if not isinstance(d, dict) or d.get(key) is None:
        return None
    return _string(d, key, where, pattern)


def response_url_allowed(url: str) -> bool:
    """Is ``url`` one opswatch may post to: Slack's hooks host, or (local stage) the configured Slack API base?"""
    if len(url) > MAX_URL_CHARS or _CONTROL.search(url) or any(c.isspace() for c in url):
        return False
    if url.startswith(SLACK_HOOKS):
        return True
    cfg = settings.slack()
    if cfg.stage != "local" or not cfg.api_url:
        return False
    try:
        mine, theirs = urlsplit(cfg.api_url), urlsplit(url)
    except ValueError:
        return False
    return (theirs.scheme, theirs.netloc) == (mine.scheme, mine.netloc)


def _action(payload: dict) -> tuple[dict, str, str]:
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1:
        count = len(actions) if isinstance(actions, list) else "no list of"
        raise BadPayload(f"a click carries one action, this payload {count} actions")
    action = actions[0]
    if not isinstance(action, dict):
        raise BadPayload("actions[0] is not an object")
    action_id = action.get("action_id")
    if action_id not in ACTION_IDS:
        shown = action_id[:40] if isinstance(action_id, str) else type(action_id).__name__
        raise BadPayload(f"actions[0].action_id {shown!r} is not one of opswatch's ({', '.join(ACTION_IDS)})")
    if action.get("type") == "static_select" or "selected_option" in action:
        value = _string(action.get("selected_option"), "value", "actions[0].selected_option", limit=MAX_VALUE_CHARS)
    else:
        value = _string(action, "value", "actions[0]", limit=MAX_VALUE_CHARS)
    if _CONTROL.search(value):
        raise BadPayload("actions[0]'s value holds control characters")
    return action, action_id, value


def click_from(body: bytes, content_type: str | None) -> Click:
    """The click in a verified request; ``BadPayload`` naming the field and the reason otherwise."""
    text = _form_payload(body, content_type)
    try:
        payload = boundedjson.loads(text, max_chars=MAX_PAYLOAD_CHARS, max_values=MAX_VALUES)
    except ValueError as exc:
        raise BadPayload(f"the payload is not JSON within bounds: {str(exc)[:120]}") from None
    if not isinstance(payload, dict):
        raise BadPayload(f"the payload is a JSON {type(payload).__name__}, not an object")
    kind = payload.get("type")
    if kind != "block_actions":
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
        raise BadPayload(f"payload type {shown!r} is not block_actions")
    action, action_id, value = _action(payload)
    user = payload.get("user")
    user_id = _string(user, "id", "user", _USER)
    name = user.get("username") or user.get("name") or user_id
    if not isinstance(name, str):
        raise BadPayload("user.username is not a string")
    # display only: no control or format characters (a right-to-left override would turn the line around)
    name = "".join(c for c in name[: MAX_NAME_CHARS * 4] if unicodedata.category(c) not in ("Cc", "Cf"))
    name = name[:MAX_NAME_CHARS] or user_id
    team = payload.get("team")
    team_id = _optional(team, "id", "team", _TEAM) or _string(user, "team_id", "user", _TEAM)
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    channel_id = _optional(payload.get("channel"), "id", "channel", _CHANNEL) or _optional(
        container, "channel_id", "container", _CHANNEL
    )
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    message_ts = _optional(container, "message_ts", "container", _TS) or _optional(message, "ts", "message", _TS)
    thread_ts = _optional(message, "thread_ts", "message", _TS) or message_ts
    response_url = payload.get("response_url")
    if response_url is not None and (not isinstance(response_url, str) or not response_url_allowed(response_url)):
        raise BadPayload("response_url is not a Slack hooks URL (https://hooks.slack.com/…)")
    if (channel_id is None or message_ts is None) and response_url is None:
        raise BadPayload("the payload names neither the message (channel and ts) nor a response_url")
    action_ts = _string(action, "action_ts", "actions[0]", _TS)
    return Click(
        action_id=action_id,
        value=value,
        user_id=user_id,
        user_name=name,
        team_id=team_id,
        channel_id=channel_id,
        message_ts=message_ts,
        thread_ts=thread_ts,
        response_url=response_url,
        action_ts=action_ts,
    )
