"""Post a ``SlackMessage`` through an incoming webhook or the bot token, or fail loudly.

- The webhook URL or bot token comes from Secrets Manager or an SSM
  SecureString through Powertools parameters (cached for five minutes); a plain
  value in the environment is accepted only in the ``local`` stage. A JSON secret
  gives the key of the mode (``webhook_url`` or ``bot_token``), never the other.
  Its shape is checked when it is read (``check_shape``), and a wrong one is named
  without its value: a token handed to the webhook client would otherwise come back
  in an exception, and from there in the Lambda's error log and on-failure record.
- Neither is ever logged: slack-sdk gets a logger of its own that prints nothing
  (it logs "Invalid URL detected: <the URL>" at ERROR), and every exception raised
  while sending becomes a ``SlackDeliveryError`` that names only its type.
- 429 waits for ``Retry-After``; 5xx and connection errors back off (slack-sdk
  retry handlers). When the retries are spent, ``SlackDeliveryError`` is raised
  so Lambda's retries and on-failure destination take over: a message that
  was not delivered is never reported as delivered.
- Slack refusing the payload itself (``invalid_blocks``...) is a bug in
  opswatch, not something a retry mends: the message is sent once more as
  plain text so the alert still arrives, and the refusal is logged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chalicelib import boundedjson
from chalicelib.settings import SlackSettings

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from chalicelib.slack.message import SlackMessage

_LOGGER = logging.getLogger("opswatch.slack")
# botocore logs every response body at DEBUG, GetSecretValue's included: with a
# DEBUG root logger the webhook URL would land in the logs. Keep that logger quiet.
logging.getLogger("botocore.parsers").setLevel(logging.INFO)
_PAYLOAD_ERRORS = (
    "invalid_blocks",
    "invalid_attachments",
    "invalid_payload",
    "msg_too_long",
    "msg_blocks_too_long",
    "invalid_blocks_format",
)


class SlackDeliveryError(RuntimeError):
    """The message did not reach Slack; raising lets Lambda retry the event."""


class SlackConfigError(ValueError):
    """Where to send is not configured right; the message says what to set (never the secret's value)."""


SECRET_KEYS = {"webhook": "webhook_url", "bot": "bot_token"}
_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def check_shape(value: str, mode: str, where: str) -> str:
    """``value`` if it has the shape ``mode`` needs; else ``SlackConfigError`` naming ``where``, not the value.

    >>> check_shape("xoxb-1-2", "webhook", "OPSWATCH_SLACK_WEBHOOK_URL")
    Traceback (most recent call last):
    ...
    chalicelib.slack.delivery.SlackConfigError: OPSWATCH_SLACK_WEBHOOK_URL holds a Slack token (xox…), but ...
    """
    looks_like_url = value.lower().startswith(("http://", "https://"))
    if mode == "webhook":
        if _TOKEN.match(value):
            raise SlackConfigError(
                f"{where} holds a Slack token (xox…), but OPSWATCH_SLACK_MODE is webhook: give an incoming-webhook "
                "URL, or set OPSWATCH_SLACK_MODE=bot"
            )
        try:
            ok = looks_like_url and bool(urlsplit(value).hostname)
        except ValueError:  # an unclosed [IPv6] host
            ok = False
        if not ok or _CONTROL.search(value):
            raise SlackConfigError(
                f"{where} is not a webhook URL (https://hooks.slack.com/services/…): "
                f"{len(value)} characters, {'starting with http' if looks_like_url else 'not starting with https://'}"
                f"{', with spaces or control characters' if _CONTROL.search(value) else ''}"
            )
        return value
    if looks_like_url:
        raise SlackConfigError(
            f"{where} holds a URL, but OPSWATCH_SLACK_MODE is bot: give a bot token (xoxb-…), or set "
            "OPSWATCH_SLACK_MODE=webhook"
        )
    if not _TOKEN.fullmatch(value):
        raise SlackConfigError(f"{where} is not a Slack token (xoxb-…): {len(value)} characters")
    return value


@dataclass(frozen=True)
class Destination:
    mode: str
    secret_value: str  # webhook URL or bot token
    api_url: str | None = None

    def __repr__(self) -> str:  # never print the secret, even by accident
        return f"Destination(mode={self.mode!r}, secret=<redacted>)"


def secret_text(ref: str) -> tuple[str, str]:
    """The name and text of the stage's Slack secret (``secretsmanager:NAME`` or ``ssm:/NAME``), cached 5 minutes.

    Shared by the delivery and the Slack actions endpoint, which read keys of the same secret.
    """
    from aws_lambda_powertools.utilities import parameters

    kind, _, name = ref.partition(":")
    if kind == "secretsmanager":
        value = parameters.get_secret(name, max_age=300)
    elif kind == "ssm":
        value = parameters.get_parameter(name, decrypt=True, max_age=300)
    else:
        raise SlackConfigError(f"OPSWATCH_SLACK_SECRET must start with secretsmanager: or ssm:, got {kind!r}")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return name, str(value).strip()


def _fetch_secret(ref: str, mode: str) -> str:
    name, value = secret_text(ref)
    key = SECRET_KEYS[mode]
    if value.startswith("{"):  # a JSON secret: {"webhook_url": ...} or {"bot_token": ...}, the mode's key only
        try:
            data = boundedjson.loads(value, max_chars=65_536)
        except ValueError as exc:  # JSONDecodeError's message gives the position, never the text
            raise SlackConfigError(f"the secret {name!r} is not valid JSON ({str(exc).split(':')[0]})") from None
        got = data.get(key) if isinstance(data, dict) else None
        if not isinstance(got, str) or not got.strip():
            others = sorted(k for k in data if k != key) if isinstance(data, dict) else []
            raise SlackConfigError(
                f"the secret {name!r} has no {key!r}, which OPSWATCH_SLACK_MODE={mode} reads"
                + (f" (it has {', '.join(map(repr, others))})" if others else "")
            )
        value = got.strip()
        return check_shape(value, mode, f"the secret {name!r} ({key})")
    if not value:
        raise SlackConfigError(f"the secret {name!r} holds no webhook URL or bot token")
    return check_shape(value, mode, f"the secret {name!r}")


def destination(cfg: SlackSettings, webhook_url: str | None = None) -> Destination:
    """Where messages go, from the stage settings (``webhook_url`` overrides, for trying out)."""
    if webhook_url:
        return Destination("webhook", check_shape(webhook_url, "webhook", "the webhook URL given"))
    if cfg.secret:
        return Destination(cfg.mode, _fetch_secret(cfg.secret, cfg.mode), cfg.api_url)
    plain = cfg.webhook_url if cfg.mode == "webhook" else cfg.bot_token
    if plain:
        if cfg.stage != "local":
            raise SlackConfigError(
                f"stage {cfg.stage!r}: a plain Slack {'webhook URL' if cfg.mode == 'webhook' else 'token'} in the "
                "environment is accepted only in the local stage; set OPSWATCH_SLACK_SECRET"
            )
        where = "OPSWATCH_SLACK_WEBHOOK_URL" if cfg.mode == "webhook" else "OPSWATCH_SLACK_BOT_TOKEN"
        return Destination(cfg.mode, check_shape(plain, cfg.mode, where), cfg.api_url)
    raise SlackConfigError("no Slack destination: set OPSWATCH_SLACK_SECRET (or, locally, OPSWATCH_SLACK_WEBHOOK_URL)")


def send(
    dest: Destination, message: SlackMessage, channel: str | None = None, retries: int = 3, thread_ts: str | None = None
) -> dict:
    """Deliver one message (in bot mode, as a reply when ``thread_ts`` is given); returns what Slack answered.

    Raises ``SlackDeliveryError``. The answer carries the payload sent, so a thread's parent can be updated later.
    """
    payload = message.payload(channel if dest.mode == "bot" else None)
    if dest.mode == "webhook":
        return {**_send_webhook(dest, payload, retries), "payload": payload}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return {**_send_bot(dest, payload, channel, retries), "payload": payload}


def update(dest: Destination, channel: str, ts: str, payload: dict, retries: int = 3) -> dict:
    """Replace a posted message (bot mode: ``chat.update``). Raises ``SlackDeliveryError``."""
    from chalicelib.slack.sdk import SlackApiError

    body = {k: v for k, v in payload.items() if k in ("text", "attachments", "blocks")}
    try:
        client = _web_client(dest, retries)
        resp = client.chat_update(channel=channel, ts=ts, **body)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise SlackDeliveryError(f"Slack chat.update failed: {error}") from None
    except Exception as exc:  # its text may hold the token or URL: only the type is told
        raise SlackDeliveryError(f"Slack API unreachable after retries: {type(exc).__name__}") from None
    return {"ok": True, "channel": resp.get("channel"), "ts": resp.get("ts")}


def _send_webhook(dest: Destination, payload: dict, retries: int) -> dict:
    from chalicelib.slack.sdk import webhook_client

    try:
        client = webhook_client(dest.secret_value, retries)
        resp = client.send_dict(payload)
    except Exception as exc:  # its text may hold the URL: only the type is told
        raise SlackDeliveryError(f"Slack webhook unreachable after retries: {type(exc).__name__}") from None
    if resp.status_code == 200:
        return {"ok": True, "status": 200}
    if resp.status_code == 400 and any(e in (resp.body or "") for e in _PAYLOAD_ERRORS):
        _LOGGER.error("Slack refused the message blocks (%s); sending it as plain text", resp.body)
        try:
            resp = client.send_dict({"text": payload["text"]})
        except Exception as exc:
            raise SlackDeliveryError(f"Slack webhook unreachable after retries: {type(exc).__name__}") from None
        if resp.status_code == 200:
            return {"ok": True, "status": 200, "degraded": True}
    raise SlackDeliveryError(f"Slack webhook answered {resp.status_code}: {(resp.body or '')[:200]}")


def _web_client(dest: Destination, retries: int) -> WebClient:
    """The bot-mode Web API client, with the retry handlers and the quiet logger."""
    from chalicelib.slack.sdk import web_client

    return web_client(dest.secret_value, dest.api_url, retries)


def _send_bot(dest: Destination, payload: dict, channel: str | None, retries: int) -> dict:
    if not channel:
        raise SlackConfigError("bot mode needs a channel: set OPSWATCH_SLACK_CHANNEL or a route")
    from chalicelib.slack.sdk import SlackApiError

    try:
        client = _web_client(dest, retries)
        resp = client.chat_postMessage(**payload)
        return {"ok": True, "channel": resp.get("channel"), "ts": resp.get("ts")}
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        if error in _PAYLOAD_ERRORS:
            _LOGGER.error("Slack refused the message blocks (%s); sending it as plain text", error)
            try:
                resp = client.chat_postMessage(channel=channel, text=payload["text"])
                return {"ok": True, "channel": resp.get("channel"), "ts": resp.get("ts"), "degraded": True}
            except SlackApiError as exc2:
                error = exc2.response.get("error") if exc2.response is not None else error
            except Exception as exc2:
                raise SlackDeliveryError(f"Slack API unreachable after retries: {type(exc2).__name__}") from None
        raise SlackDeliveryError(f"Slack chat.postMessage failed: {error}") from None
    except Exception as exc:  # its text may hold the token: only the type is told
        raise SlackDeliveryError(f"Slack API unreachable after retries: {type(exc).__name__}") from None


def upload_image(dest: Destination, channel: str, thread_ts: str, png: bytes, filename: str, title: str) -> dict:
    """Attach an image in a thread (bot mode, ``files_upload_v2``). Raises ``SlackDeliveryError``."""
    from chalicelib.slack.sdk import SlackApiError

    try:
        client = _web_client(dest, 1)
        resp = client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=png, filename=filename, title=title)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise SlackDeliveryError(f"Slack file upload failed: {error}") from None
    except Exception as exc:  # its text may hold the token: only the type is told
        raise SlackDeliveryError(f"Slack file upload unreachable: {type(exc).__name__}") from None
    return {"ok": True, "file": (resp.get("file") or {}).get("id")}
