"""Is this request Slack's? Size, headers, timestamp window and signature, before anything is read from it.

Slack signs every request with the app's signing secret: ``X-Slack-Signature`` is ``v0=`` and
the hex HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}``. slack-sdk's
``SignatureVerifier`` computes and compares it in constant time. Checked here first, in this
order, so that a request refused early costs nothing more:

1. the body is at most ``MAX_BODY`` bytes (the ``Content-Length`` header, then the body itself): 413;
2. both headers are there and well formed (the timestamp a number, the signature ``v0=`` and 64 hex): 401;
3. the timestamp is within ``MAX_SKEW_SECONDS`` of now, either way (a replayed or a forged one): 401;
4. the signature matches: 401.

A refusal carries the reason for the log (never the body, the signature or the secret) and the
status to answer; the answer itself says nothing more than the status.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_BODY = 64 * 1024  # Slack's interactivity payloads are a few KB; a message with 50 blocks stays below
MAX_SKEW_SECONDS = 5 * 60  # Slack's advice: older than five minutes may be a replay
TIMESTAMP = "x-slack-request-timestamp"
SIGNATURE = "x-slack-signature"
_DIGITS = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True)
class Refused(Exception):
    """The request is refused: ``status`` to answer, ``reason`` for the log only."""

    status: int
    reason: str

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (lower case), whatever case the request gave it."""
    value = headers.get(name)
    if value is None:  # a plain dict (tests, the worker's own calls) may keep the sender's case
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def check_size(headers: Mapping[str, str], body: bytes) -> None:
    """``Refused(413)`` when the declared or the actual body is over ``MAX_BODY``; 400 for a bad length."""
    declared = header(headers, "content-length")
    if declared is not None:
        declared = declared.strip()
        if not (declared.isascii() and declared.isdigit()):
            raise Refused(400, "Content-Length is not a number")
        if len(declared) > 9 or int(declared) > MAX_BODY:
            raise Refused(413, f"Content-Length {declared[:12]} is over {MAX_BODY} bytes")
    if len(body) > MAX_BODY:
        raise Refused(413, f"body of {len(body)} bytes is over {MAX_BODY} bytes")


def check_headers(headers: Mapping[str, str], now: float) -> tuple[str, str]:
    """The timestamp and signature headers, present, well formed and in the window; else ``Refused(401)``."""
    timestamp, signature = header(headers, TIMESTAMP), header(headers, SIGNATURE)
    if timestamp is None:
        raise Refused(401, "no X-Slack-Request-Timestamp header")
    if signature is None:
        raise Refused(401, "no X-Slack-Signature header")
    timestamp, signature = timestamp.strip(), signature.strip()
    if not _DIGITS.fullmatch(timestamp):
        raise Refused(401, f"X-Slack-Request-Timestamp is not a number of seconds ({len(timestamp)} characters)")
    if not _SIGNATURE.fullmatch(signature):
        raise Refused(401, f"X-Slack-Signature is not v0= and 64 hex digits ({len(signature)} characters)")
    skew = now - int(timestamp)
    if skew > MAX_SKEW_SECONDS:
        raise Refused(401, f"X-Slack-Request-Timestamp is {int(skew)} seconds old (a replay?)")
    if skew < -MAX_SKEW_SECONDS:
        raise Refused(401, f"X-Slack-Request-Timestamp is {int(-skew)} seconds in the future")
    return timestamp, signature


def check(headers: Mapping[str, str], body: bytes, secret: Callable[[], str], now: float | None = None) -> None:
    """Raise ``Refused`` unless the request is Slack's, signed within the window; ``secret()`` is read last."""
    from slack_sdk.signature import SignatureVerifier

    now = time.time() if now is None else now
    check_size(headers, body)
    timestamp, signature = check_headers(headers, now)

    class _At:  # the verifier asks its clock; give it the same "now" the window was checked with
        def now(self) -> float:
            return now

    try:  # the verifier decodes the body as UTF-8 and would raise on anything else; Slack sends ASCII
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(401, "body is not UTF-8, so not Slack's") from None
    if not SignatureVerifier(secret(), clock=_At()).is_valid(body=text, timestamp=timestamp, signature=signature):
        raise Refused(401, "X-Slack-Signature does not match the body")
