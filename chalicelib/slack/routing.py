"""Which channel an alarm or a log alert goes to, and whom it pings.

``OPSWATCH_SLACK_ROUTES`` is a JSON list tried in order. For an alarm, the first
route whose ``alarm`` glob matches the alarm name wins; for a log alert, the
first route whose ``rule`` glob and ``severity`` (each where given) match::

    [{"alarm": "prod-*", "channel": "#prod-alerts", "mention": "here"},
     {"alarm": "*-payments-*", "channel": "#payments"},
     {"account": "shop-*", "channel": "#shop"},
     {"severity": "critical", "channel": "#oncall", "mention": "here"},
     {"rule": "lambda-*", "channel": "#serverless"}]

A route's ``account`` glob matches the alarm's (or the log alert's) account id
or its name (``OPSWATCH_ACCOUNT_NAMES`` or AWS Organizations); a route with an
``account`` and nothing else applies to alarms and log alerts alike, and one
with ``alarm`` or ``rule`` too needs both to match.

Mentions go with ALARM only (an OK or INSUFFICIENT_DATA message never pings)
and, for log alerts, with ``critical`` only.

>>> r = Router('[{"alarm": "prod-*", "channel": "#prod", "mention": "here"}]', "#alerts", None)
>>> r.route("prod-api-5xx", "ALARM"), r.route("prod-api-5xx", "OK"), r.route("dev-x", "ALARM")
(('#prod', '<!here>'), ('#prod', None), ('#alerts', None))
>>> r = Router('[{"account": "shop-*", "channel": "#shop"}]', "#alerts", None)
>>> r.route("cpu", "ALARM", ("111122223333", "shop-prod")), r.route("cpu", "ALARM", ("444455556666", None))
(('#shop', None), ('#alerts', None))
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
        self.routes: list[tuple[str, str | None, str | None, str | None]] = []  # alarm, account, channel, mention
        self.rule_routes: list[tuple[str, str | None, str | None, str | None, str | None]] = []
        if routes_json:
            try:
                routes = boundedjson.loads(routes_json)
            except ValueError as exc:
                raise RoutesError(f"OPSWATCH_SLACK_ROUTES is not JSON: {exc}") from None
            if not isinstance(routes, list):
                raise RoutesError("OPSWATCH_SLACK_ROUTES must be a JSON list of routes")
            for i, r in enumerate(routes):
                keys = ("alarm", "rule", "severity", "account")
                if not isinstance(r, dict) or not any(isinstance(r.get(k), str) for k in keys):
                    raise RoutesError(
                        f'route {i + 1}: needs an "alarm" or "rule" name pattern, a "severity" or an "account"'
                    )
                mention = mention_markup(r.get("mention"))
                account = r.get("account") if isinstance(r.get("account"), str) else None
                for_alarms = isinstance(r.get("alarm"), str)
                for_rules = isinstance(r.get("rule"), str) or isinstance(r.get("severity"), str)
                if for_alarms or (account and not for_rules):
                    self.routes.append((r.get("alarm") or "*", account, r.get("channel"), mention))
                if for_rules or (account and not for_alarms):
                    self.rule_routes.append(
                        (r.get("rule") or "*", r.get("severity"), account, r.get("channel"), mention)
                    )

    def route(
        self, alarm_name: str | None, state: str | None, account: tuple[str | None, str | None] = (None, None)
    ) -> tuple[str | None, str | None]:
        """(channel, mention markup or None); ``account`` is the alarm's (id, name)."""
        channel, mention = self.default_channel, self.default_mention
        for pattern, acct, ch, men in self.routes:
            if alarm_name is not None and fnmatchcase(alarm_name, pattern) and _account_matches(acct, account):
                channel, mention = ch or channel, men
                break
        return channel, (mention if state == "ALARM" else None)

    def route_rule(
        self, rule_name: str, severity: str, account: tuple[str | None, str | None] = (None, None)
    ) -> tuple[str | None, str | None]:
        """(channel, mention markup or None) for a log alert; mentions go with ``critical`` only."""
        channel, mention = self.default_channel, self.default_mention
        for pattern, sev, acct, ch, men in self.rule_routes:
            if fnmatchcase(rule_name, pattern) and sev in (None, severity) and _account_matches(acct, account):
                channel, mention = ch or channel, men
                break
        return channel, (mention if severity == "critical" else None)


def _account_matches(pattern: str | None, account: tuple[str | None, str | None]) -> bool:
    """No pattern matches every account; a pattern matches the account's id or its name."""
    if pattern is None:
        return True
    return any(v is not None and fnmatchcase(v, pattern) for v in account)


def router_from(cfg: SlackSettings) -> Router:
    """The stage's router: ``OPSWATCH_SLACK_ROUTES`` with its default channel and mention."""
    return Router(cfg.routes, cfg.channel, cfg.mention)
