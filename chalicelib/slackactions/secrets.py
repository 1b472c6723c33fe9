"""The Slack app's signing secret and bot token, from the stage's Slack secret (never logged, never shown).

The stage's secret (``OPSWATCH_SLACK_SECRET``: ``secretsmanager:NAME`` or ``ssm:/NAME``) is a JSON
object; the endpoint reads its ``signing_secret`` key, and its ``bot_token`` key to look user groups
up. Both are read through Powertools parameters, cached five minutes per container, as the Slack
delivery reads the same secret. A plain ``OPSWATCH_SLACK_SIGNING_SECRET`` (or bot token) in the
environment is accepted on the ``local`` stage only, like the webhook URL.

Errors name the setting or the secret and the key, never a value.
"""

from __future__ import annotations

from chalicelib import boundedjson, settings
from chalicelib.slack.delivery import SlackConfigError, check_shape, secret_text

SIGNING_KEY = "signing_secret"
BOT_KEY = "bot_token"
MAX_SECRET_CHARS = 65_536


def _secret_json(ref: str) -> tuple[str, dict]:
    name, text = secret_text(ref)
    if not text.startswith("{"):
        raise SlackConfigError(f"the secret {name!r} is not a JSON object: the Slack actions read its keys")
    try:
        data = boundedjson.loads(text, max_chars=MAX_SECRET_CHARS)
    except ValueError as exc:  # the decoder's message gives the position, never the text
        raise SlackConfigError(f"the secret {name!r} is not valid JSON ({str(exc).split(':')[0]})") from None
    if not isinstance(data, dict):
        raise SlackConfigError(f"the secret {name!r} is not a JSON object")
    return name, data


def _key(cfg: settings.SlackSettings, key: str, plain: str | None, plain_name: str) -> str:
    if cfg.secret:
        name, data = _secret_json(cfg.secret)
        got = data.get(key)
        if not isinstance(got, str) or not got.strip():
            raise SlackConfigError(f"the secret {name!r} has no {key!r}")
        return got.strip()
    if plain:
        if cfg.stage != "local":
            raise SlackConfigError(
                f"stage {cfg.stage!r}: {plain_name} is accepted only in the local stage; "
                f"put {key!r} in the stage's Slack secret (OPSWATCH_SLACK_SECRET)"
            )
        return plain
    raise SlackConfigError(
        f"no Slack {key} is set: give OPSWATCH_SLACK_SECRET a {key!r} key (or, locally, {plain_name})"
    )


def signing_secret() -> str:
    """The Slack app's signing secret; ``SlackConfigError`` naming what to set when there is none."""
    value = _key(
        settings.slack(), SIGNING_KEY, settings.slack_actions().signing_secret, "OPSWATCH_SLACK_SIGNING_SECRET"
    )
    if len(value) < 16 or any(c.isspace() for c in value):
        raise SlackConfigError(f"the Slack {SIGNING_KEY} is not a signing secret: {len(value)} characters")
    return value


def bot_token() -> str:
    """The bot token that looks user groups up (scope ``usergroups:read``)."""
    cfg = settings.slack()
    value = _key(cfg, BOT_KEY, cfg.bot_token, "OPSWATCH_SLACK_BOT_TOKEN")
    return check_shape(value, "bot", f"the Slack {BOT_KEY}")
