"""``POST /slack/actions``: a Slack click, verified, read, authorized, claimed once, enqueued; all within 3 s.

The route's function (the API's ``api_handler``) does only this, in this order, so that a
refused request has read nothing and changed nothing:

1. method: only POST (405, with ``Allow``);
2. ``verify``: size (413), headers, timestamp window, signature (401): nothing is read before;
3. ``payload``: the form's ``payload`` field, a ``block_actions`` click on an opswatch button (400);
4. ``responders``: may this user do this? If not, an ephemeral "not allowed" and a 200;
5. ``once``: a repeat (double click, Slack's retry) is answered 200 and not acted on;
6. ``dispatch``: the worker starts (asynchronously on Lambda), and the answer is an empty 200.

Every outcome is logged with its reason (never the body, a header's value or a secret) and
counted in EMF (``SlackRequests`` with an ``outcome`` dimension). Answers to refused requests
carry no detail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import settings
from chalicelib.slackactions import verify

logger = Logger(service="opswatch-slackactions")
_PLAIN = {"Content-Type": "text/plain; charset=utf-8"}
_REASONS = {400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed", 413: "Payload Too Large"}
TRY_AGAIN = "opswatch could not take this click just now; try again in a minute."


@dataclass(frozen=True)
class Answer:
    status: int
    body: str | dict = ""
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str = "accepted"  # the metric's dimension and the log's word


def _refusal(status: int, outcome: str, **headers: str) -> Answer:
    return Answer(status, _REASONS.get(status, "Error"), {**_PLAIN, **headers}, outcome)


def _ephemeral(text: str, outcome: str, response_url: str | None, click=None) -> Answer:
    """A 200 whose body, and a post to the click's ``response_url``, show ``text`` to the user alone."""
    from chalicelib.slackactions.replies import ephemeral

    ephemeral(click, response_url, text)
    return Answer(200, {"response_type": "ephemeral", "replace_original": False, "text": text}, {}, outcome)


def answer(
    method: str, headers: Mapping[str, str], read_body: Callable[[], bytes | str | None], now: float | None = None
) -> Answer:
    """What to answer the request (and what was done on the way); see the module's steps.

    ``read_body`` is called once the method and the declared length are found acceptable.
    """
    if method.upper() != "POST":
        logger.warning(f"{method[:10]!r} is not POST")
        return _refusal(405, "method_not_allowed", Allow="POST")
    now = time.time() if now is None else now
    try:
        verify.check_size(headers, b"")  # the declared length, before the body is read
        try:
            raw = read_body() or b""
        except ValueError as exc:  # a base64 body that does not decode
            raise verify.Refused(400, f"body unreadable: {type(exc).__name__}") from None
        body = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        from chalicelib.slackactions.secrets import signing_secret

        verify.check(headers, body, signing_secret, now)
    except verify.Refused as refused:
        logger.warning(f"refused ({refused.status}): {refused.reason}")
        return _refusal(refused.status, {401: "unsigned", 413: "too_large"}.get(refused.status, "bad_request"))
    except Exception as exc:  # no signing secret, or it cannot be read: nothing can be verified
        from chalicelib.redact import redact

        logger.error(f"requests cannot be verified: {redact(str(exc))[:300]}")
        return Answer(500, "Internal Server Error", _PLAIN, "not_configured")
    retry = verify.header(headers, "x-slack-retry-num")
    return _signed(headers, body, retry, now)


def _signed(headers: Mapping[str, str], body: bytes, retry: str | None, now: float) -> Answer:
    from chalicelib.slackactions import dispatch, once, responders
    from chalicelib.slackactions.payload import BadPayload, click_from

    try:
        click = click_from(body, verify.header(headers, "content-type"))
    except BadPayload as exc:
        logger.warning(f"refused (400): {exc}")
        return _refusal(400, "bad_payload")
    what = {
        "action": click.action_id,
        "user": click.user_id,
        "channel": click.channel_id,
        "ts": click.message_ts,
        "slack_retry": (retry or "")[:8] or None,
    }
    try:
        cfg = settings.slack_actions()
    except ValueError as exc:
        logger.error(f"Slack actions not configured right: {exc}")
        return Answer(500, "Internal Server Error", _PLAIN, "not_configured")
    decision = responders.decide(click, cfg.responders)
    if not decision.allowed:
        logger.warning("click refused: not allowed", extra=what)
        return _ephemeral(decision.message, "not_allowed", click.response_url)
    try:
        new = once.claim(click, now)
    except Exception as exc:
        logger.error(f"once-record not written ({type(exc).__name__}); nothing done", extra=what)
        return _ephemeral(TRY_AGAIN, "state_error", click.response_url)
    if not new:
        logger.info("click seen already (double click or Slack retry); nothing done again", extra=what)
        return Answer(200, "", {}, "repeated")
    try:
        how = dispatch.enqueue(click, cfg)
    except dispatch.NotEnqueued as exc:
        logger.error(f"click not enqueued: {exc}", extra=what)
        try:
            once.settle(click, once.FAILED)  # so that the user's next click acts
        except Exception as state_exc:
            logger.error(f"once-record not marked failed: {type(state_exc).__name__}", extra=what)
        return _ephemeral(TRY_AGAIN, "not_enqueued", click.response_url)
    logger.info(f"click enqueued ({how})", extra=what)
    return Answer(200, "", {}, "accepted")


def respond(request):
    """The Chalice route's answer to ``app.current_request``, counted."""
    from chalice import Response

    started = time.monotonic()
    try:
        got = answer(request.method, request.headers, lambda: request.raw_body)
    except Exception:  # a bug: logged with its stack (no request data in it), answered without detail, counted
        logger.exception("the Slack actions endpoint failed")
        got = Answer(500, "Internal Server Error", _PLAIN, "error")
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-slackactions")
    metrics.add_dimension(name="outcome", value=got.outcome)
    metrics.add_metric(name="SlackRequests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="SlackRequestMilliseconds", unit=MetricUnit.Milliseconds, value=_ms(started))
    metrics.flush_metrics()
    return Response(body=got.body, status_code=got.status, headers=got.headers)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
