"""Cut a stream of log events into PutLogEvents calls CloudWatch accepts.

The rules (CloudWatch Logs API reference, PutLogEvents): at most 10,000 events
and 1,048,576 bytes per call, counting each message's UTF-8 bytes plus 26; the
events of a call in chronological order; no call spanning more than 24 hours.
A single event may be at most 256 KB (the limit every region documents).
Pure: no I/O, so the rules are tested alone.
"""

from __future__ import annotations

from collections.abc import Iterator

MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD  # largest message one event may carry
MAX_SPAN_MS = 24 * 3600 * 1000

# One event: (timestamp ms, message, UTF-8 size of the message, the source line it came from).
Event = tuple[int, str, int, int]


class Batcher:
    """Accumulate events; ``add`` returns the calls that became full, ``flush`` the rest.

    Events within one call are sorted by time (ALB writes entries roughly, not
    strictly, in order) and a call is split where it would span over 24 hours.
    """

    def __init__(self, max_events: int = MAX_EVENTS, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._events: list[Event] = []
        self._bytes = 0

    def add(self, ts: int, message: str, size: int, line: int = 0) -> list[list[Event]]:
        if size > MAX_EVENT_BYTES:
            raise ValueError(f"event of {size} bytes exceeds the {MAX_EVENT_BYTES}-byte limit")
        cost = size + EVENT_OVERHEAD
        out: list[list[Event]] = []
        if len(self._events) >= self.max_events or self._bytes + cost > self.max_bytes:
            out = self.flush()
        self._events.append((ts, message, size, line))
        self._bytes += cost
        return out

    def flush(self) -> list[list[Event]]:
        events, self._events, self._bytes = self._events, [], 0
        return list(split_by_span(events))


def split_by_span(events: list[Event]) -> Iterator[list[Event]]:
    """Sort one call's events by time and cut it wherever it would span over 24 hours."""
    if not events:
        return
    events.sort(key=lambda e: e[0])
    start = 0
    first_ts = events[0][0]
    for i, (ts, *_) in enumerate(events):
        if ts - first_ts > MAX_SPAN_MS:
            yield events[start:i]
            start, first_ts = i, ts
    yield events[start:]


def split_message(text: str, limit: int = MAX_EVENT_BYTES) -> list[str]:
    """Cut text into pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return [text]
    parts = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # continuation byte
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts
