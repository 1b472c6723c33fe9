"""Decode what a CloudWatch Logs subscription delivers: ``{"awslogs": {"data": base64(gzip(JSON))}}``.

Plain dict access, as in the S3 handler: Powertools' event data classes cost
about 60 ms of cold start on top of Powertools itself. A payload that does not
decode raises ``PayloadError`` with the step that failed; a retry cannot mend
it, so the handler reports it and returns.

>>> import base64, gzip, json
>>> doc = {"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
...        "subscriptionFilters": ["f"], "logEvents": [{"id": "1", "timestamp": 5, "message": "hi"}]}
>>> b = decode({"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()}})
>>> b.log_group, b.events[0].message, b.control
('g', 'hi', False)
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass

from chalicelib import boundedjson

# Bounds that keep a payload's decoding far below the log_alerts function's 128 MB (its Python, boto3 and
# Powertools take about 70 MB). CloudWatch delivers at most one PutLogEvents batch's worth per payload: 1 MB of
# messages and 10,000 events, a few MB once wrapped as JSON. A decoded value costs at most ~100 bytes of memory,
# so MAX_VALUES bounds the decoded document at ~20 MB whatever its shape; MAX_EVENTS bounds the matching time.
MAX_DECODED_BYTES = 8 * 1024 * 1024  # gunzip stops here: a larger payload is refused
MAX_VALUES = 200_000  # JSON values in the decoded text: more is refused before decoding
MAX_EVENTS = 20_000  # events looked at; the rest are counted as left out (``LogBatch.over_limit``)


class PayloadError(ValueError):
    """The event is not a CloudWatch Logs subscription payload; the message says which step failed."""


@dataclass(frozen=True)
class LogEvent:
    id: str
    timestamp: int  # epoch milliseconds
    message: str


@dataclass(frozen=True)
class LogBatch:
    owner: str  # the account the log group belongs to
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    events: tuple[LogEvent, ...]
    control: bool  # CONTROL_MESSAGE: CloudWatch checking that the destination is reachable
    malformed: tuple[str, ...] = ()  # why each event left out was (the others still count)
    over_limit: int = 0  # events past MAX_EVENTS, left out and counted


def _gunzip(raw: bytes) -> bytes:
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(raw, MAX_DECODED_BYTES)
    if d.unconsumed_tail:
        raise PayloadError(f"awslogs.data decompresses to more than {MAX_DECODED_BYTES} bytes")
    if not d.eof:
        raise PayloadError("awslogs.data is truncated gzip")
    return out


def decode(event: object) -> LogBatch:
    if not isinstance(event, dict) or not isinstance(event.get("awslogs"), dict):
        raise PayloadError('not a CloudWatch Logs subscription event: expected {"awslogs": {"data": ...}}')
    data = event["awslogs"].get("data")
    if not isinstance(data, str) or not data:
        raise PayloadError("awslogs.data is missing or not text")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"awslogs.data is not base64: {exc}") from None
    try:
        text = _gunzip(raw)
    except zlib.error as exc:
        raise PayloadError(f"awslogs.data is not gzip: {exc}") from None
    try:
        doc = boundedjson.loads(text, max_values=MAX_VALUES)
    except boundedjson.UndecodableJSON as exc:
        raise PayloadError(f"awslogs.data is refused after gunzip: {exc}") from None
    except ValueError as exc:
        raise PayloadError(f"awslogs.data is not JSON after gunzip: {exc}") from None
    return batch_from(doc)


def batch_from(doc: object) -> LogBatch:
    """A decoded payload (the JSON CloudWatch gzips) as a typed batch."""
    if not isinstance(doc, dict) or doc.get("messageType") not in ("DATA_MESSAGE", "CONTROL_MESSAGE"):
        raise PayloadError("the payload has no messageType DATA_MESSAGE or CONTROL_MESSAGE")
    raw_events = doc.get("logEvents")
    if not isinstance(raw_events, list):
        raise PayloadError("the payload's logEvents is not a list")
    events, malformed = [], []
    over_limit = max(0, len(raw_events) - MAX_EVENTS)
    if over_limit:
        malformed.append(f"{over_limit} events past the limit of {MAX_EVENTS} per payload left out")
    for i, e in enumerate(raw_events[:MAX_EVENTS]):  # one bad event is left out and said why; the rest still count
        if not isinstance(e, dict) or not isinstance(e.get("message"), str):
            malformed.append(f"logEvents[{i}] has no message text")
            continue
        ts = e.get("timestamp")
        if isinstance(ts, bool) or not isinstance(ts, int):
            malformed.append(f"logEvents[{i}] has no integer timestamp")
            continue
        events.append(LogEvent(str(e.get("id", "")), ts, e["message"]))
    filters = doc.get("subscriptionFilters") or []
    return LogBatch(
        owner=str(doc.get("owner") or ""),
        log_group=str(doc.get("logGroup") or ""),
        log_stream=str(doc.get("logStream") or ""),
        subscription_filters=tuple(str(f) for f in filters) if isinstance(filters, list) else (),
        events=tuple(events),
        control=doc["messageType"] == "CONTROL_MESSAGE",
        malformed=tuple(malformed),
        over_limit=over_limit,
    )


def encode(doc: dict) -> dict:
    """The event CloudWatch Logs would deliver for ``doc`` (the demo and tests deliver with it)."""
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()}}
