"""Which channel an alarm goes to, and whom it pings.

``OPSWATCH_SLACK_ROUTES`` is a JSON list tried in order; the first route whose
``alarm`` glob matches the alarm name wins::

    [{"alarm": "prod-*", "channel": "#prod-alerts", "mention": "here"},
     {"alarm": "*-payments-*", "channel": "#payments"}]

Mentions are for ALARM only: an OK or INSUFFICIENT_DATA message never pings.

>>> r = Router('[{"alarm": "prod-*", "channel": "#prod", "mention": "here"}]', "#alerts", None)
>>> r.route("prod-api-5xx", "ALARM"), r.route("prod-api-5xx", "OK"), r.route("dev-x", "ALARM")
(('#prod', '<!here>'), ('#prod', None), ('#alerts', None))
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase


class RoutesError(ValueError):
    """OPSWATCH_SLACK_ROUTES is not what it should be; the message says what."""


def mention_markup(mention: str | None) -> str | None:
    if not mention:
        return None
    if mention in ("here", "channel", "everyone"):
        return f"<!{mention}>"
    if re.fullmatch(r"S[A-Z0-9]+", mention):
        return f"<!subteam^{mention}>"
    if re.fullmatch(r"[UW][A-Z0-9]+", mention):
        return f"<@{mention}>"
    raise RoutesError(f"mention {mention!r}: expected here, channel, a user id (U...) or a user-group id (S...)")


class Router:
    def __init__(self, routes_json: str | None, default_channel: str | None, default_mention: str | None) -> None:
        self.default_channel = default_channel
        self.default_mention = mention_markup(default_mention)
        self.routes: list[tuple[str, str | None, str | None]] = []
        if routes_json:
            try:
                routes = json.loads(routes_json)
            except ValueError as exc:
                raise RoutesError(f"OPSWATCH_SLACK_ROUTES is not JSON: {exc}") from None
            if not isinstance(routes, list):
                raise RoutesError("OPSWATCH_SLACK_ROUTES must be a JSON list of routes")
            for i, r in enumerate(routes):
                if not isinstance(r, dict) or not isinstance(r.get("alarm"), str):
                    raise RoutesError(f'route {i + 1}: needs an "alarm" name pattern')
                self.routes.append((r["alarm"], r.get("channel"), mention_markup(r.get("mention"))))

    def route(self, alarm_name: str | None, state: str | None) -> tuple[str | None, str | None]:
        """(channel, mention markup or None)."""
        channel, mention = self.default_channel, self.default_mention
        for pattern, ch, men in self.routes:
            if alarm_name is not None and fnmatchcase(alarm_name, pattern):
                channel, mention = ch or channel, men
                break
        return channel, (mention if state == "ALARM" else None)
