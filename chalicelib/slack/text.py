"""Make untrusted text safe and short enough for Slack.

Slack parses ``<...>`` in message text as links and mentions, so an alarm
description holding ``<!channel>`` would ping a whole channel. Escaping ``&``,
``<`` and ``>`` (Slack's documented control characters) makes it plain text.

>>> escape("<!channel> & <http://evil|click>")
'&lt;!channel&gt; &amp; &lt;http://evil|click&gt;'
>>> truncate("abcdefghij", 8)
'abcdef …'
>>> duration(900), duration(2)
('15 minutes', '2 seconds')
"""

from __future__ import annotations

MARKER = " …"


def escape(text: object) -> str:
    """Escape Slack's control characters in any value (``None`` becomes '')."""
    if text is None:
        return ""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: object) -> str:
    """Text for Slack's plain-text places (headers, file titles): Slack parses no markup there, but angle
    brackets are swapped for look-alikes all the same, so no reader of the payload takes them for markup.

    >>> plain("<!channel>")
    '‹!channel›'
    """
    if text is None:
        return ""
    return str(text).replace("<", "‹").replace(">", "›")


def truncate(text: str, limit: int, marker: str = MARKER) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with a visible marker.

    Never cuts inside an escape such as ``&amp;`` (Slack would show the broken entity).
    """
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(marker))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + marker


def duration(seconds: int | None) -> str | None:
    """300 -> '5 minutes'."""
    if not seconds:
        return None
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"
