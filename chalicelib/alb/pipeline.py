"""The ALB flow for one object: read, parse, filter, render, batch, forward.

The Lambda handler and ``opswatch alb ship`` both call ``ship_object``, so a
backfill does exactly what the Lambda does. Every line ends in exactly one of
four counts, and ``ObjectReport.balanced`` checks they add up:

- ``shipped``: accepted by CloudWatch Logs;
- ``filtered``: left out on purpose: by the stage's ship filter, or because the
  ``metrics`` format ships route metrics instead of lines;
- ``rejected``: not an ALB entry (or too large for one CloudWatch event, or
  longer than ``MAX_LINE_BYTES``); the line is still shipped, with the reason,
  to the ``rejected/...`` stream, up to ``MAX_REJECTS_SHIPPED`` lines an object
  (the rest are counted in ``rejects_over_cap``), so that junk cannot run up a
  CloudWatch ingestion bill;
- ``refused``: sent, but refused by CloudWatch (too old, too new, past retention).
"""

from __future__ import annotations

import time as _time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import orjson

from chalicelib.alb.checkpoint import Checkpoint, Progress
from chalicelib.alb.keys import LogObject
from chalicelib.alb.parser import ParseError, parse_line, quick_time, time_ms
from chalicelib.alb.reader import MAX_LINE_BYTES, BlankLines, LongLine, StreamStatus, iter_lines, skip_lines
from chalicelib.alb.routemetrics import RouteMetrics, metric_count
from chalicelib.alb.shipfilter import Predicate
from chalicelib.cwlogs.batches import MAX_EVENT_BYTES, split_message
from chalicelib.cwlogs.writer import StreamWriter

FORMATS = ("json", "alb", "metrics")
REJECTED_PREFIX = "rejected/"
METRICS_PREFIX = "metrics/"
# Rejected lines an object ships to its rejected/ stream; past it they are only counted. A
# format change that rejects every line shows in the first ones; a corrupt object cannot
# turn into gigabytes of ingestion (at most this many lines of at most MAX_LINE_BYTES each).
MAX_REJECTS_SHIPPED = 1000
LONG_LINE = "line over the length limit"


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
    tick: Callable[[int], int] | None = None,
    reject_limit: int | None = None,
) -> LineCounts:
    """Turn raw lines into CloudWatch events: ``emit(ts_ms, message, size)`` or ``reject(lineno, text, reason)``.

    ``json`` renders each record as one JSON object named after ``fields.FIELDS``;
    ``alb`` keeps the line as written and only checks its leading fields (a
    ship filter still parses the whole line); ``metrics`` ships no line unless a
    ship filter selects it (then as JSON). Every parsed line, shipped or not,
    is added to ``metrics`` when given. ``encoded`` hands ``emit`` the
    message as UTF-8 bytes, for writers to a byte stream (the CLI's standard
    output), which saves decoding and re-encoding every line. ``tick(done)`` is
    called between lines (``done`` lines handled) and returns the line count at
    which to call it again; ``counts.lines`` is the current line while ``emit``
    runs. ``reject`` is called for the first ``reject_limit`` rejected lines
    (counting those in ``counts`` already); the rest are only counted.

    A ``LongLine`` (over the reader's length limit) is rejected with its first bytes;
    a ``BlankLines`` run is counted in one step, however many lines it holds.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    json_mode = fmt != "alb"  # metrics mode ships the lines its ship filter selects as JSON
    lines_off = fmt == "metrics" and ship_filter is None
    full_parse = json_mode or ship_filter is not None or metrics is not None
    add_metric = metrics.add if metrics is not None else None
    dumps = orjson.dumps
    lineno = counts.lines
    next_tick = tick(lineno) if tick is not None else -1
    limit = reject_limit if reject_limit is not None else 1 << 62
    for raw in lines:
        if lineno == next_tick:
            counts.lines = lineno
            next_tick = tick(lineno)
        lineno += 1
        counts.lines = lineno
        if not raw:
            counts.rejected += 1
            counts.reasons["empty line"] += 1
            if counts.rejected <= limit:
                reject(lineno, "", "empty line")
            left = raw.count - 1 if raw.__class__ is BlankLines else 0
            while left:  # the rest of a run, in steps that stop at each tick
                if lineno == next_tick:
                    next_tick = tick(lineno)
                step = min(left, next_tick - lineno) if next_tick > lineno else left
                calls = max(0, min(step, limit - counts.rejected))  # lines still under the limit
                for i in range(calls):
                    counts.rejected += 1
                    reject(lineno + 1 + i, "", "empty line")
                counts.rejected += step - calls
                counts.reasons["empty line"] += step
                lineno += step
                counts.lines = lineno
                left -= step
            continue
        if raw.__class__ is LongLine:
            counts.rejected += 1
            counts.reasons[LONG_LINE] += 1
            if counts.rejected <= limit:
                reason = f"{LONG_LINE}: {raw.length} bytes, over {MAX_LINE_BYTES}; only the first {len(raw)} are kept"
                reject(lineno, raw.decode("utf-8", "backslashreplace"), reason)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            counts.rejected += 1
            counts.reasons["not UTF-8 text"] += 1
            if counts.rejected <= limit:
                reason = f"not UTF-8 text: byte {exc.start + 1} is 0x{raw[exc.start]:02x}"
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
            if counts.rejected <= limit:
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
            if counts.rejected <= limit:
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
    # Rejected lines past the cap: counted in ``rejected``, not shipped to the rejected/ stream.
    rejects_over_cap: int = 0
    rejects_cap: int = MAX_REJECTS_SHIPPED
    object_error: str | None = None
    compressed: bool = False
    # Route metrics (when on): lines counted in them, EMF documents written to the
    # metrics/... stream, distinct metrics they publish, and documents CloudWatch refused.
    aggregated: int = 0
    metric_documents: int = 0
    metrics_published: int = 0
    metric_documents_refused: int = 0
    routes_overflowed: int = 0
    # Exactly-once shipping: where this invocation started and stopped, and whether the
    # state table could be used (when not, a retry ships the object again from its start).
    resumed_from: int | None = None
    continue_from: int | None = None
    invocation: int = 1
    checkpoint_error: str | None = None

    @property
    def balanced(self) -> bool:
        return self.lines == self.shipped + self.filtered + self.rejected + self.refused

    def as_dict(self) -> dict:
        d = asdict(self)
        d["balanced"] = self.balanced
        return d


def reject_messages(source: str, lineno: int, text: str, reason: str) -> Iterator[str]:
    """The ``rejected/...`` stream's events for one line: JSON, split when the line is huge.

    At most ``MAX_LINE_BYTES`` of the text (UTF-8) are shipped: a binary line comes as
    ``\\xNN`` escapes, four characters a byte, and would otherwise ship several times its size.
    """
    head: dict = {"source": source, "line": lineno, "reason": reason}
    if len(text) > MAX_LINE_BYTES // 4:  # at most 4 bytes a character: shorter text always fits
        data = text.encode("utf-8")
        if len(data) > MAX_LINE_BYTES:
            text = data[:MAX_LINE_BYTES].decode("utf-8", "ignore")
            head["truncated"] = True
    budget = MAX_EVENT_BYTES - len(orjson.dumps(head)) - 200  # room for keys, part numbers, escaping
    whole = orjson.dumps({**head, "raw": text})
    if len(whole) <= MAX_EVENT_BYTES:
        yield whole.decode("utf-8")
        return
    # JSON escaping can grow text up to 6x: cut raw so each escaped piece fits.
    pieces = split_message(text, max(1024, budget // 6))
    for i, piece in enumerate(pieces, 1):
        yield orjson.dumps({**head, "part": i, "parts": len(pieces), "raw": piece}).decode("utf-8")


class Continue(Exception):
    """The invocation is running out of time: the rest of the object goes to a new one."""

    def __init__(self, line: int) -> None:
        super().__init__(f"continue after line {line}")
        self.line = line


SYNC_SECONDS = 5.0  # how often progress is saved: what a process killed outright ships twice at most
RESERVE_MS = 60_000  # at most this much of an invocation is kept for saving and handing on
CHECK_EVERY = 1000  # lines between looks at the clock


def _snapshot(counts: LineCounts, aggregated: int) -> dict:
    return {
        "accepted": counts.accepted,
        "filtered": counts.filtered,
        "rejected": counts.rejected,
        "aggregated": aggregated,
        "reasons": dict(counts.reasons),
    }


def ship_object(
    obj: LogObject,
    chunks: Iterable[bytes],
    logs,
    log_group: str,
    fmt: str = "json",
    ship_filter: Predicate | None = None,
    now_ms: Callable[[], int] = lambda: int(_time.time() * 1000),
    metrics: RouteMetrics | None = None,
    checkpoint: Checkpoint | None = None,
    remaining_ms: Callable[[], int] | None = None,
    reserve_ms: int = RESERVE_MS,
    resume: Progress | None = None,
    sync_seconds: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> ObjectReport:
    """Ship one object's lines to ``log_group`` and return the full account of them.

    With ``metrics``, route metrics are written as EMF documents to the
    ``metrics/...`` stream of the same group at each sync point.

    With ``checkpoint`` (claimed by the caller, its progress in ``resume``), the
    lines already accounted for are skipped and events CloudWatch already holds
    are not sent again; progress is saved every ``sync_seconds`` and before the
    function returns or raises. With ``remaining_ms``, when less than
    ``reserve_ms`` is left the function saves, stops and returns a report whose
    ``continue_from`` says where the next invocation starts; ``stop`` returning
    True (the CLI's Ctrl-C) stops the same way, at a line boundary, after a sync.

    Raises when CloudWatch cannot be reached after retries (Lambda retries the
    object); a corrupt or truncated object is reported in ``object_error`` after
    the lines that could be read were shipped, since a retry cannot mend it.
    """
    sync_seconds = SYNC_SECONDS if sync_seconds is None else sync_seconds
    progress = resume or Progress()
    start_line = progress.line
    streams = progress.streams
    events = StreamWriter(logs, log_group, obj.stream_name, now_ms, resume=streams.get("events"))
    rejects = StreamWriter(logs, log_group, REJECTED_PREFIX + obj.stream_name, now_ms, resume=streams.get("rejected"))
    docs = (
        StreamWriter(logs, log_group, METRICS_PREFIX + obj.stream_name, now_ms, emf=True, resume=streams.get("metrics"))
        if metrics is not None
        else None
    )
    source = obj.uri
    c = progress.counts
    counts = LineCounts(
        lines=progress.line,
        accepted=int(c.get("accepted", 0)),
        filtered=int(c.get("filtered", 0)),
        rejected=int(c.get("rejected", 0)),
        reasons=Counter({k: int(v) for k, v in (c.get("reasons") or {}).items()}),
    )
    aggregated_before = int(c.get("aggregated", 0))
    metric_keys: set = set()

    def emit(ts: int, message: str, size: int) -> None:
        events.add(ts, message, size, counts.lines)

    def reject(lineno: int, text: str, reason: str) -> None:
        ts = now_ms()
        for msg in reject_messages(source, lineno, text, reason):
            rejects.add(ts, msg, len(msg.encode("utf-8")), lineno)

    def sync(done: int) -> None:
        """Everything up to line ``done`` into CloudWatch, then the progress into the state table."""
        nonlocal aggregated_before
        events.flush()
        rejects.flush()
        if docs is not None and metrics is not None and metrics.lines:
            for ts, doc in metrics.documents():
                body = orjson.dumps(doc)
                docs.add(ts, body.decode("utf-8"), len(body), done)
                metric_keys.add((doc["LoadBalancer"], doc["Route"], "TargetLatency" in doc))
            docs.flush()
            aggregated_before += metrics.lines
            metrics.reset()
        progress.line = done
        progress.counts = _snapshot(counts, aggregated_before)
        progress.streams = current_streams()
        if checkpoint is not None:
            checkpoint.save(progress)

    def current_streams() -> dict:
        out = {"events": events.counts, "rejected": rejects.counts}
        if docs is not None:
            out["metrics"] = docs.counts
        return out

    # Metric documents of a range are written at its end: a retry must close the same range,
    # or the documents already written would count its lines twice.
    # A range whose documents were only partly written ends at that open line.
    docs_mark = (docs.counts.open_line or docs.counts.through) if docs is not None else 0
    forced = docs_mark if docs_mark > progress.line else 0
    last_sync = _time.monotonic()

    def tick(done: int) -> int:
        nonlocal last_sync
        # Hand on only after some progress: an invocation that starts short of time still
        # ships a batch of lines, so continuations can never chase each other forever.
        out_of_time = done > start_line and (
            (remaining_ms is not None and remaining_ms() < reserve_ms) or (stop is not None and stop())
        )
        if done == forced or out_of_time or _time.monotonic() - last_sync >= sync_seconds:
            sync(done)
            last_sync = _time.monotonic()
            if out_of_time:
                raise Continue(done)
        nxt = done + CHECK_EVERY
        return min(nxt, forced) if done < forced else nxt

    status = StreamStatus()
    lines = iter_lines(chunks, status, runs=True)
    if progress.line:
        lines = skip_lines(lines, progress.line)  # accounted for by an earlier invocation
    continue_from = None
    try:
        counts = render_lines(
            lines, fmt, ship_filter, emit, reject, counts, metrics=metrics, tick=tick, reject_limit=MAX_REJECTS_SHIPPED
        )
        sync(counts.lines)
    except Continue as handed_on:
        continue_from = handed_on.line
        if checkpoint is not None:
            checkpoint.save(progress, release=True)
    except BaseException:
        # Lambda retries (or the user re-runs) from the last sync point; what each stream
        # already holds past it is in progress.streams and is not sent again.
        progress.streams = current_streams()
        if checkpoint is not None:
            checkpoint.save(progress, release=True)
        raise
    else:
        if checkpoint is not None:
            checkpoint.finish(progress)
    ev, rj = events.counts, rejects.counts
    accounted_lines = continue_from if continue_from is not None else counts.lines
    return ObjectReport(
        source=source,
        load_balancer=obj.load_balancer,
        log_group=log_group,
        log_stream=obj.stream_name,
        format=fmt,
        lines=accounted_lines,
        shipped=ev.shipped,
        filtered=counts.filtered,
        rejected=counts.rejected,
        refused=ev.refused,
        reject_reasons=dict(counts.reasons.most_common(10)),
        refused_reasons=ev.refused_reasons,
        rejects_not_stored=rj.refused,
        rejects_over_cap=max(0, counts.rejected - MAX_REJECTS_SHIPPED),
        object_error=status.error,
        compressed=status.compressed,
        aggregated=aggregated_before,
        metric_documents=docs.counts.shipped if docs else 0,
        metrics_published=metric_count(metric_keys) if docs else 0,
        metric_documents_refused=docs.counts.refused if docs else 0,
        routes_overflowed=metrics.overflowed if metrics is not None else 0,
        resumed_from=start_line or None,
        continue_from=continue_from,
        invocation=progress.invocations or 1,
        checkpoint_error=checkpoint.error if checkpoint is not None else None,
    )
