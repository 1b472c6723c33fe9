"""Group matching events into alerts: one per (log group, rule) per invocation.

Two hundred OOM lines in a minute are one message saying 200, with the first
and last time, three samples and the streams they came from; not 200 messages.

>>> from chalicelib.logalerts.payload import LogBatch, LogEvent
>>> from chalicelib.logalerts.rules import active_rules
>>> b = LogBatch("1", "/app", "s1", (), (LogEvent("a", 1000, "fatal error: out of memory"),
...     LogEvent("b", 2000, "fatal error: out of memory"), LogEvent("c", 3000, "fine")), False)
>>> [(a.rule.name, a.count, a.first_ms, a.last_ms) for a in collect([b], active_rules()).alerts]
[('go-out-of-memory', 2, 1000, 2000)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chalicelib.logalerts.payload import LogBatch
from chalicelib.logalerts.rules import Rule, RuleSet

MAX_SAMPLES = 3


@dataclass
class Alert:
    owner: str
    log_group: str
    rule: Rule
    count: int = 0
    first_ms: int = 0
    last_ms: int = 0
    first_stream: str = ""
    samples: list[str] = field(default_factory=list)
    streams: dict[str, int] = field(default_factory=dict)  # stream -> events in it

    @property
    def key(self) -> str:
        """What the cooldown is kept per: the rule in one log group of one account."""
        return f"{self.owner}|{self.log_group}|{self.rule.name}"

    def add(self, stream: str, timestamp: int, message: str) -> None:
        if self.count == 0 or timestamp < self.first_ms:
            self.first_ms, self.first_stream = timestamp, stream
        self.last_ms = max(self.last_ms, timestamp) if self.count else timestamp
        self.count += 1
        self.streams[stream] = self.streams.get(stream, 0) + 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(message)


@dataclass
class Collected:
    alerts: list[Alert]
    events: int  # events looked at
    matched: int  # events that matched at least one rule


def collect(
    batches: Iterable[LogBatch], rules: RuleSet, keep: Callable[[LogBatch, Rule], bool] | None = None
) -> Collected:
    """Every rule's matches across ``batches`` (read once, in turn), grouped per (log group, rule), in rule order.

    ``keep``: whether a batch's match of a rule makes an alert (a retried record: only the alerts Slack refused).
    """
    found: dict[tuple[str, str, str], Alert] = {}
    events = matched = 0
    for batch in batches:
        if batch.control:
            continue
        for ev in batch.events:
            events += 1
            hits = rules.matching(ev.message)
            matched += bool(hits)
            for rule in hits:
                if keep is not None and not keep(batch, rule):
                    continue
                key = (batch.owner, batch.log_group, rule.name)
                if key not in found:
                    found[key] = Alert(batch.owner, batch.log_group, rule)
                found[key].add(batch.log_stream, ev.timestamp, ev.message)
    order = {r.name: i for i, r in enumerate(rules.rules)}
    alerts = sorted(found.values(), key=lambda a: (a.log_group, order[a.rule.name]))
    return Collected(alerts, events, matched)
