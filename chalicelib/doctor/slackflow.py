"""The Slack secret: it exists, parses, holds the key its mode needs; ``--send-test`` posts through delivery.

Nothing here ever shows a secret's value: only where it is kept, and the names of its keys.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, ok, warn

NAME = "slack-secret"
KEY_OF = {"webhook": "webhook_url", "bot": "bot_token"}


def _create_fix(ctx: Context, mode: str, name: str) -> str:
    value = '{"bot_token": "xoxb-..."}' if mode == "bot" else '{"webhook_url": "https://hooks.slack.com/services/..."}'
    return f"aws secretsmanager put-secret-value --secret-id {name} --secret-string '{value}'"


def _read(ctx: Context, ref: str) -> tuple[str | None, str | None]:
    """(value, None), or (None, what is wrong)."""
    kind, _, name = ref.partition(":")
    if kind == "secretsmanager":
        try:
            value = ctx.client("secretsmanager").get_secret_value(SecretId=name).get("SecretString")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None, f"no secret {name} in Secrets Manager ({ctx.region})"
            raise
        return (value, None) if value is not None else (None, f"the secret {name} holds binary, not text")
    if kind == "ssm":
        try:
            value = ctx.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None, f"no SSM parameter {name} ({ctx.region})"
            raise
        return value, None
    return None, f"OPSWATCH_SLACK_SECRET must start with secretsmanager: or ssm:, not {kind!r}"


def _judge(value: str, mode: str, name: str) -> str | None:
    """What is wrong with the secret's text for ``mode``, or None. The value's shape is judged by delivery's own
    ``check_shape``, so doctor passes exactly what the functions accept."""
    from chalicelib.slack.delivery import SlackConfigError, check_shape

    want = KEY_OF[mode]
    text = value.strip()
    try:
        if not text.startswith(("{", "[")):
            if text.lower().startswith(("http", "xox")):  # a plain value: delivery takes it as it is
                check_shape(text, mode, f"the secret {name}")
                return None
            return f'the secret {name} is not JSON (expected {{"{want}": ...}})'
        problem = _parse(text, want, mode, name)
        if isinstance(problem, str):
            return problem
        check_shape(problem[want].strip(), mode, f"the secret {name} ({want})")
    except SlackConfigError as exc:
        return str(exc)
    return None


def _parse(text: str, want: str, mode: str, name: str) -> dict | str:
    """The secret's JSON object holding ``want``, or what is wrong with it."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"the secret {name} is not valid JSON ({type(exc).__name__} at char {getattr(exc, 'pos', '?')})"
    except RecursionError:
        return f"the secret {name} is JSON nested too deeply to read"
    if not isinstance(data, dict):
        return f'the secret {name} is JSON but not an object (expected {{"{want}": ...}})'
    if want in data and not isinstance(data[want], str):
        return f"the secret {name} holds {want!r}, but as JSON {type(data[want]).__name__}, not text ({mode} mode)"
    if not isinstance(data.get(want), str) or not data[want].strip():
        keys = ", ".join(sorted(repr(str(k)[:40]) for k in data)[:10]) or "no key"
        return f"the secret {name} holds {keys}, not {want!r} ({mode} mode)"
    return data


def slack_secret(ctx: Context) -> Check:
    cfg = settings.slack()
    if cfg.secret:
        kind, _, name = cfg.secret.partition(":")
        value, problem = _read(ctx, cfg.secret)
        if problem is None:
            problem = _judge(value, cfg.mode, name)
        if problem:
            fix = (
                _create_fix(ctx, cfg.mode, name)
                if kind == "secretsmanager"
                else f"aws ssm put-parameter --type SecureString --overwrite --name {name} --value '...'"
            )
            return fail(NAME, problem, fix)
        found = f"{cfg.secret} holds the {KEY_OF[cfg.mode]} {cfg.mode} mode needs"
    elif (cfg.webhook_url if cfg.mode == "webhook" else cfg.bot_token) and cfg.stage == "local":
        found = f"a plain {cfg.mode} value in the environment (accepted in the local stage only)"
    else:
        return fail(
            NAME,
            f"stage {cfg.stage} has no Slack destination (OPSWATCH_SLACK_SECRET is not set)",
            f"set OPSWATCH_SLACK_SECRET=secretsmanager:opswatch/{cfg.stage}/slack in .chalice/config.json, then "
            + _create_fix(ctx, cfg.mode, f"opswatch/{cfg.stage}/slack")
            .replace("put-secret-value", "create-secret")
            .replace("--secret-id", "--name"),
        )
    if cfg.mode == "bot" and not cfg.channel and not cfg.routes:
        return warn(NAME, found + "; bot mode but no channel", "set OPSWATCH_SLACK_CHANNEL (or OPSWATCH_SLACK_ROUTES)")
    if ctx.send_test:
        return _send_test(ctx, cfg, found)
    return ok(NAME, found)


def _send_test(ctx: Context, cfg, found: str) -> Check:
    """One message through the real delivery code: the same destination, retries and errors as the functions."""
    from chalicelib.redact import redact
    from chalicelib.slack import delivery
    from chalicelib.slack.message import SlackMessage
    from chalicelib.slack.text import escape

    msg = SlackMessage(text=f"opswatch doctor: a test message from stage {cfg.stage}").header("opswatch doctor")
    msg.section(escape(f"A test message from stage {cfg.stage} ({ctx.account}, {ctx.region}): alerts arrive here."))
    try:
        answer = delivery.send(delivery.destination(cfg), msg, cfg.channel, retries=1)
    except (delivery.SlackDeliveryError, delivery.SlackConfigError) as exc:
        return fail(NAME, found + f"; test message not delivered: {redact(str(exc))}", "check the secret's value")
    shown = {k: v for k, v in answer.items() if k in ("ok", "status", "channel", "ts", "degraded")}
    return ok(NAME, found + f"; test message sent, Slack answered {json.dumps(shown, sort_keys=True)}")
