"""The ALB flow for one object: read, parse, filter, render, batch, forward.

The Lambda handler and ``opswatch alb ship`` both call ``ship_object``, so a
backfill does exactly what the Lambda does. Every line ends in exactly one of
four counts, and ``ObjectReport.balanced`` checks they add up:

- ``shipped``: accepted by CloudWatch Logs;
- ``filtered``: left out on purpose: by the stage's ship filter, or because the
  ``metrics`` format ships route metrics instead of lines;
- ``rejected``: not an ALB entry (or too large for one CloudWatch event); the
  line is still shipped, with the reason, to the ``rejected/...`` stream;
- ``refused``: sent, but refused by CloudWatch (too old, too new, past retention).
"""

from __future__ import annotations

import time as _time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import orjson

from chalicelib.alb.keys import LogObject
from chalicelib.alb.parser import ParseError, parse_line, quick_time, time_ms
from chalicelib.alb.reader import StreamStatus, iter_lines
from chalicelib.alb.routemetrics import RouteMetrics
from chalicelib.alb.shipfilter import Predicate
from chalicelib.cwlogs.batches import MAX_EVENT_BYTES, split_message
from chalicelib.cwlogs.writer import StreamWriter

FORMATS = ("json", "alb", "metrics")
REJECTED_PREFIX = "rejected/"
METRICS_PREFIX = "metrics/"


@dataclass
class LineCounts:
    lines: int = 0
    accepted: int = 0
    filtered: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)


def render_lines(
    lines: Iterable[bytes],
    fmt: str,
    ship_filter: Predicate | None,
    emit: Callable[[int, str, int], None],
    reject: Callable[[int, str, str], None],
    counts: LineCounts,
    encoded: bool = False,
    metrics: RouteMetrics | None = None,
) -> LineCounts:
    """Turn raw lines into CloudWatch events: ``emit(ts_ms, message, size)`` or ``reject(lineno, text, reason)``.

    ``json`` renders each record as one JSON object named after ``fields.FIELDS``;
    ``alb`` keeps the line as written and only checks its leading fields (a
    ship filter still parses the whole line); ``metrics`` ships no line unless a
    ship filter selects it (then as JSON). Every parsed line, shipped or not,
    is added to ``metrics`` when given. ``encoded`` hands ``emit`` the
    message as UTF-8 bytes, for writers to a byte stream (the CLI's standard
    output), which saves decoding and re-encoding every line.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    json_mode = fmt != "alb"  # metrics mode ships the lines its ship filter selects as JSON
    lines_off = fmt == "metrics" and ship_filter is None
    full_parse = json_mode or ship_filter is not None or metrics is not None
    add_metric = metrics.add if metrics is not None else None
    dumps = orjson.dumps
    lineno = counts.lines
    for raw in lines:
        lineno += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text: byte {exc.start + 1} is 0x{raw[exc.start]:02x}"
            counts.rejected += 1
            counts.reasons["not UTF-8 text"] += 1
            reject(lineno, raw.decode("utf-8", "backslashreplace"), reason)
            continue
        try:
            if full_parse:
                rec = parse_line(text)
                ts = time_ms(rec["time"])
            else:
                ts = quick_time(text)
                rec = None
        except ParseError as exc:
            counts.rejected += 1
            counts.reasons[exc.reason.split(":", 1)[0]] += 1
            reject(lineno, text, exc.reason)
            continue
        if add_metric is not None:
            add_metric(rec)
        if lines_off:
            counts.filtered += 1
            continue
        if ship_filter is not None and not ship_filter(rec):
            counts.filtered += 1
            continue
        if json_mode:
            body = dumps(rec)
            size = len(body)
            message = body if encoded else body.decode("utf-8")
        else:
            size = len(raw)
            message = raw if encoded else text
        if size > MAX_EVENT_BYTES:
            counts.rejected += 1
            counts.reasons["too large for one CloudWatch event"] += 1
            reject(lineno, text, f"event of {size} bytes is over CloudWatch's {MAX_EVENT_BYTES}-byte limit")
            continue
        counts.accepted += 1
        emit(ts, message, size)
    counts.lines = lineno
    return counts


@dataclass
class ObjectReport:
    """What became of every line of one object."""

    source: str
    load_balancer: str | None
    log_group: str
    log_stream: str
    format: str
    lines: int = 0
    shipped: int = 0
    filtered: int = 0
    rejected: int = 0
    refused: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    refused_reasons: dict[str, int] = field(default_factory=dict)
    rejects_not_stored: int = 0
    object_error: str | None = None
    compressed: bool = False
    # Route metrics (when on): lines counted in them, EMF documents written to the
    # metrics/... stream, distinct metrics they publish, and documents CloudWatch refused.
    aggregated: int = 0
    metric_documents: int = 0
    metrics_published: int = 0
    metric_documents_refused: int = 0
    routes_overflowed: int = 0

    @property
    def balanced(self) -> bool:
        return self.lines == self.shipped + self.filtered + self.rejected + self.refused

    def as_dict(self) -> dict:
        d = asdict(self)
        d["balanced"] = self.balanced
        return d


def reject_messages(source: str, lineno: int, text: str, reason: str) -> Iterator[str]:
    """The ``rejected/...`` stream's events for one line: JSON, split when the line is huge."""
    head = {"source": source, "line": lineno, "reason": reason}
    budget = MAX_EVENT_BYTES - len(orjson.dumps(head)) - 200  # room for keys, part numbers, escaping
    whole = orjson.dumps({**head, "raw": text})
    if len(whole) <= MAX_EVENT_BYTES:
        yield whole.decode("utf-8")
        return
    # JSON escaping can grow text up to 6x: cut raw so each escaped piece fits.
    pieces = split_message(text, max(1024, budget // 6))
    for i, piece in enumerate(pieces, 1):
        yield orjson.dumps({**head, "part": i, "parts": len(pieces), "raw": piece}).decode("utf-8")


def ship_object(
    obj: LogObject,
    chunks: Iterable[bytes],
    logs,
    log_group: str,
    fmt: str = "json",
    ship_filter: Predicate | None = None,
    now_ms: Callable[[], int] = lambda: int(_time.time() * 1000),
    metrics: RouteMetrics | None = None,
) -> ObjectReport:
    """Ship one object's lines to ``log_group`` and return the full account of them.

    With ``metrics``, the object's route metrics are written as EMF documents to
    the ``metrics/...`` stream of the same group once every line is read.

    Raises when CloudWatch cannot be reached after retries (Lambda retries the
    object); a corrupt or truncated object is reported in ``object_error`` after
    the lines that could be read were shipped, since a retry cannot mend it.
    """
    events = StreamWriter(logs, log_group, obj.stream_name, now_ms)
    rejects = StreamWriter(logs, log_group, REJECTED_PREFIX + obj.stream_name, now_ms)
    source = obj.uri

    def reject(lineno: int, text: str, reason: str) -> None:
        ts = now_ms()
        for msg in reject_messages(source, lineno, text, reason):
            rejects.add(ts, msg, len(msg.encode("utf-8")))

    status = StreamStatus()
    counts = render_lines(
        iter_lines(chunks, status), fmt, ship_filter, events.add, reject, LineCounts(), metrics=metrics
    )
    ev = events.close()
    rj = rejects.close()
    docs = None
    if metrics is not None and metrics.lines:
        docs = StreamWriter(logs, log_group, METRICS_PREFIX + obj.stream_name, now_ms, emf=True)
        for ts, doc in metrics.documents():
            body = orjson.dumps(doc)
            docs.add(ts, body.decode("utf-8"), len(body))
        docs.close()
    return ObjectReport(
        source=source,
        load_balancer=obj.load_balancer,
        log_group=log_group,
        log_stream=obj.stream_name,
        format=fmt,
        lines=counts.lines,
        shipped=ev.shipped,
        filtered=counts.filtered,
        rejected=counts.rejected,
        refused=ev.refused,
        reject_reasons=dict(counts.reasons.most_common(10)),
        refused_reasons=ev.refused_reasons,
        rejects_not_stored=rj.refused,
        object_error=status.error,
        compressed=status.compressed,
        aggregated=metrics.lines if metrics is not None else 0,
        metric_documents=docs.counts.shipped if docs else 0,
        metrics_published=metrics.metric_count() if docs else 0,
        metric_documents_refused=docs.counts.refused if docs else 0,
        routes_overflowed=metrics.overflowed if metrics is not None else 0,
    )
