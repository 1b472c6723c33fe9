"""PutLogEvents rules: 10,000 events, 1,048,576 bytes with 26 per event, order, 24-hour span."""

from __future__ import annotations

import pytest

from chalicelib.cwlogs.batches import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    MAX_EVENTS,
    MAX_SPAN_MS,
    Batcher,
    split_message,
)
from chalicelib.cwlogs.writer import refused_slices


def run(events):
    b = Batcher()
    calls = []
    for ts, msg in events:
        calls += b.add(ts, msg, len(msg.encode()))
    return calls + b.flush()


def test_count_limit():
    calls = run((i, "m") for i in range(MAX_EVENTS * 2 + 5))
    assert [len(c) for c in calls] == [MAX_EVENTS, MAX_EVENTS, 5]


def test_byte_limit_counts_26_bytes_per_event():
    size = 1000
    per_call = MAX_BATCH_BYTES // (size + EVENT_OVERHEAD)
    calls = run((i, "x" * size) for i in range(per_call + 1))
    assert [len(c) for c in calls] == [per_call, 1]
    assert sum(len(m) + EVENT_OVERHEAD for _, m, _, _ in calls[0]) <= MAX_BATCH_BYTES


def test_multibyte_messages_count_utf8_bytes():
    msg = "é" * 1000  # 2000 bytes
    calls = run((i, msg) for i in range(600))
    assert all(sum(s + EVENT_OVERHEAD for _, _, s, _ in c) <= MAX_BATCH_BYTES for c in calls)
    assert len(calls) == 2


def test_events_in_a_call_are_sorted():
    calls = run([(3, "c"), (1, "a"), (2, "b")])
    assert [ts for ts, *_ in calls[0]] == [1, 2, 3]


def test_no_call_spans_more_than_24_hours():
    day = MAX_SPAN_MS
    calls = run([(0, "a"), (day, "b"), (day + 1, "c"), (3 * day, "d")])
    assert [[m for _, m, *_ in c] for c in calls] == [["a", "b"], ["c"], ["d"]]
    assert all(c[-1][0] - c[0][0] <= MAX_SPAN_MS for c in calls)


def test_oversized_event_is_refused_by_the_batcher():
    with pytest.raises(ValueError, match="limit"):
        Batcher().add(0, "x", MAX_EVENT_BYTES + 1)


def test_split_message_never_cuts_a_character():
    text = "aé€😀" * 1000
    parts = split_message(text, 1001)
    assert "".join(parts) == text
    assert all(len(p.encode()) <= 1001 for p in parts)


def test_refused_slices_follow_the_documented_indexes():
    now = 100 * 24 * 3600 * 1000
    old = now - 15 * 24 * 3600 * 1000
    events = [(old, "a", 1), (old, "b", 1), (now, "c", 1), (now + 3 * 3600 * 1000, "d", 1)]
    # Documented: tooOldLogEventEndIndex is exclusive -> events 0 and 1 are too old.
    assert refused_slices({"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}, events, now) == {
        "older than 14 days": 2,
        "more than 2 hours in the future": 1,
    }
    # Some implementations give the index of the last too-old event: still 2, not 1.
    assert refused_slices({"tooOldLogEventEndIndex": 1}, events, now) == {"older than 14 days": 2}
    assert refused_slices({"expiredLogEventEndIndex": 3}, events, now) == {"older than the log group's retention": 3}
    assert refused_slices({}, events, now) == {}
