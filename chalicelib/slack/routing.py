"""Which channel an alarm or a log alert goes to, and whom it pings.

``OPSWATCH_SLACK_ROUTES`` is a JSON list tried in order. For an alarm, the first
route whose ``alarm`` glob matches the alarm name wins; for a log alert, the
first route whose ``rule`` glob and ``severity`` (each where given) match::

    [{"alarm": "prod-*", "channel": "#prod-alerts", "mention": "here"},
     {"alarm": "*-payments-*", "channel": "#payments"},
     {"severity": "critical", "channel": "#oncall", "mention": "here"},
     {"rule": "lambda-*", "channel": "#serverless"}]

Mentions go with ALARM only (an OK or INSUFFICIENT_DATA message never pings)
and, for log alerts, with ``critical`` only.

>>> r = Router('[{"alarm": "prod-*", "channel": "#prod", "mention": "here"}]', "#alerts", None)
>>> r.route("prod-api-5xx", "ALARM"), r.route("prod-api-5xx", "OK"), r.route("dev-x", "ALARM")
(('#prod', '<!here>'), ('#prod', None), ('#alerts', None))
>>> r = Router('[{"severity": "critical", "channel": "#oncall", "mention": "here"}]', "#alerts", None)
>>> r.route_rule("java-out-of-memory", "critical"), r.route_rule("lambda-timeout", "warning")
(('#oncall', '<!here>'), ('#alerts', None))
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from chalicelib import boundedjson
from chalicelib.settings import SlackSettings


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
        self.rule_routes: list[tuple[str, str | None, str | None, str | None]] = []
        if routes_json:
            try:
                routes = boundedjson.loads(routes_json)
            except ValueError as exc:
                raise RoutesError(f"OPSWATCH_SLACK_ROUTES is not JSON: {exc}") from None
            if not isinstance(routes, list):
                raise RoutesError("OPSWATCH_SLACK_ROUTES must be a JSON list of routes")
            for i, r in enumerate(routes):
                if not isinstance(r, dict) or not any(isinstance(r.get(k), str) for k in ("alarm", "rule", "severity")):
                    raise RoutesError(f'route {i + 1}: needs an "alarm" or "rule" name pattern, or a "severity"')
                mention = mention_markup(r.get("mention"))
                if isinstance(r.get("alarm"), str):
                    self.routes.append((r["alarm"], r.get("channel"), mention))
                if isinstance(r.get("rule"), str) or isinstance(r.get("severity"), str):
                    self.rule_routes.append((r.get("rule") or "*", r.get("severity"), r.get("channel"), mention))

    def route(self, alarm_name: str | None, state: str | None) -> tuple[str | None, str | None]:
        """(channel, mention markup or None)."""
        channel, mention = self.default_channel, self.default_mention
        for pattern, ch, men in self.routes:
            if alarm_name is not None and fnmatchcase(alarm_name, pattern):
                channel, mention = ch or channel, men
                break
        return channel, (mention if state == "ALARM" else None)

    def route_rule(self, rule_name: str, severity: str) -> tuple[str | None, str | None]:
        """(channel, mention markup or None) for a log alert; mentions go with ``critical`` only."""
        channel, mention = self.default_channel, self.default_mention
        for pattern, sev, ch, men in self.rule_routes:
            if fnmatchcase(rule_name, pattern) and sev in (None, severity):
                channel, mention = ch or channel, men
                break
        return channel, (mention if severity == "critical" else None)


def router_from(cfg: SlackSettings) -> Router:
    """The stage's router: ``OPSWATCH_SLACK_ROUTES`` with its default channel and mention."""
    return Router(cfg.routes, cfg.channel, cfg.mention)
