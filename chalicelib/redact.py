"""Secrets out of text before it is logged or shown: shared by every flow and the CLI.

It lives below the flows because each of them (and the on-failure queue) shows
untrusted or error text, and none should import another's module to do so.
"""

from __future__ import annotations

import re

# What must never be shown: Slack webhook paths, Slack tokens, secret-looking values.
_SECRETS = re.compile(
    r"(?P<hook>hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"
    r"|(?P<tok>\bxox[abposr]-)[A-Za-z0-9-]+"
    r"|(?P<key>(?i:aws_secret_access_key|secret|token|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)


def redact(text: str) -> str:
    """Text with Slack webhook paths, Slack tokens and secret-looking values replaced by [redacted].

    >>> redact("POST https://hooks.slack.com/services/T0/B0/abc failed; token=xoxb-123-456")
    'POST https://hooks.slack.com/services/[redacted] failed; token=[redacted]'
    """
    return _SECRETS.sub(lambda m: (m.group("hook") or m.group("tok") or m.group("key")) + "[redacted]", text)
