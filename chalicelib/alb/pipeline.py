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

``ship_object`` runs named steps that share one ``Shipment`` (writers, counts, saved
progress) and one ``Pace`` (when to save, when to hand on):

1. ``open_shipment``: the writers and counts where the last sync point left them;
2. ``ship_lines``: ``render_lines`` turns each line into an event (``Shipment.emit``) or a
   rejected line (``Shipment.reject``); between lines ``tick`` decides on a ``sync_point``
   (flush the streams, ``write_route_metrics``, save the progress) or a hand-on;
   at the end the checkpoint is finished or released;
3. ``object_report``: the account of every line.
"""

from __future__ import annotations

import time as _time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial

import orjson

from chalicelib.alb.checkpoint import Checkpoint, Progress
from chalicelib.alb.keys import LogObject
from chalicelib.alb.parser import ParseError, parse_line, quick_time, time_ms
from chalicelib.alb.reader import (
    MAX_LINE_BYTES,
    BlankLines,
    CutLine,
    LongLine,
    StreamStatus,
    iter_lines,
    skip_lines,
)
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
TRUNCATED = "truncated"
TRUNCATED_REASON = f"{TRUNCATED}: the object's data ends inside this line (a damaged stream); never shipped as whole"


@dataclass
class LineCounts:
    lines: int = 0
    accepted: int = 0
    filtered: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)


def _mode(fmt: str, ship_filter: Predicate | None, metrics: RouteMetrics | None) -> tuple[bool, bool, bool]:
    """``(json_mode, lines_off, full_parse)`` for a format, decided once so the line loop only tests flags.

    ``json`` renders each record as one JSON object named after ``fields.FIELDS``; ``alb``
    keeps the line as written and only checks its leading fields, unless a ship filter or
    route metrics need the whole record; ``metrics`` ships no line unless a ship filter
    selects it (then as JSON).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    json_mode = fmt != "alb"  # metrics mode ships the lines its ship filter selects as JSON
    lines_off = fmt == "metrics" and ship_filter is None
    full_parse = json_mode or ship_filter is not None or metrics is not None
    return json_mode, lines_off, full_parse


@dataclass(slots=True)
class _Rejects:
    """Every rejected line is counted under its reason; only the first ``limit`` are handed to ``report``.

    One place for the cap: a corrupt object is counted in full, but only its first lines
    reach ``report``, and callers build a reason's text only when ``take`` says so.
    """

    counts: LineCounts
    report: Callable[[int, str, str], None]
    limit: int

    def take(self, key: str) -> bool:
        """Count one rejected line under ``key``; True when it is still to be reported."""
        counts = self.counts
        counts.rejected += 1
        counts.reasons[key] += 1
        return counts.rejected <= self.limit


def _long_reason(raw: LongLine) -> str:
    """Why a line over the reader's length limit is rejected, and how much of it is kept."""
    return f"{LONG_LINE}: {raw.length} bytes, over {MAX_LINE_BYTES}; only the first {len(raw)} are kept"


def _fragment(raw: bytes, lineno: int, rejects: _Rejects) -> bool:
    """Reject (and count) a line the reader could not read whole: a ``LongLine`` or a ``CutLine``."""
    if raw.__class__ is LongLine:
        key, why = LONG_LINE, _long_reason
    elif raw.__class__ is CutLine:
        key, why = TRUNCATED, lambda _: TRUNCATED_REASON
    else:
        return False
    if rejects.take(key):
        rejects.report(lineno, raw.decode("utf-8", "backslashreplace"), why(raw))
    return True


def _undecodable_reason(raw: bytes, exc: UnicodeDecodeError) -> str:
    """Why a line that is not UTF-8 is rejected: the first bad byte and where it is."""
    return f"not UTF-8 text: byte {exc.start + 1} is 0x{raw[exc.start]:02x}"


def _empty_lines(
    raw: bytes, lineno: int, next_tick: int, tick: Callable[[int], int] | None, rejects: _Rejects
) -> tuple[int, int]:
    """An empty line, or a ``BlankLines`` run of them, rejected in steps: ``(lineno, next_tick)`` after it.

    A run of millions of empty lines (a padded or corrupt object) costs one step per tick
    and one call per reported line, not a loop turn per line; ticks fall on the same lines
    as line by line, so sync points and hand-ons do not move.
    """
    counts = rejects.counts
    if rejects.take("empty line"):
        rejects.report(lineno, "", "empty line")
    left = raw.count - 1 if raw.__class__ is BlankLines else 0
    while left:  # the rest of a run, in steps that stop at each tick
        if lineno == next_tick:  # never without a tick: next_tick is then -1
            next_tick = tick(lineno)
        step = min(left, next_tick - lineno) if next_tick > lineno else left
        calls = max(0, min(step, rejects.limit - counts.rejected))  # lines still under the limit
        for i in range(calls):
            counts.rejected += 1
            rejects.report(lineno + 1 + i, "", "empty line")
        counts.rejected += step - calls
        counts.reasons["empty line"] += step
        lineno += step
        counts.lines = lineno
        left -= step
    return lineno, next_tick


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

    Formats as in ``_mode``. Every parsed line, shipped or not, is added to ``metrics`` when
    given. ``encoded`` hands ``emit`` UTF-8 bytes, for writers to a byte stream (the CLI's
    standard output): no decoding and re-encoding of every line. ``tick(done)`` is called
    between lines (``done`` lines handled) and returns the line count at which to call it
    again; ``counts.lines`` is the current line while ``emit`` runs. ``reject`` is called
    for the first ``reject_limit`` rejected lines (those in ``counts`` included); the rest
    are only counted. The loop keeps the path of a good line inline (it runs for every
    line); a bad line costs one call to ``take`` (which counts it) while it is not reported.
    """
    json_mode, lines_off, full_parse = _mode(fmt, ship_filter, metrics)
    rejects = _Rejects(counts, reject, reject_limit if reject_limit is not None else 1 << 62)
    take = rejects.take
    add_metric = metrics.add if metrics is not None else None
    dumps = orjson.dumps
    lineno = counts.lines
    next_tick = tick(lineno) if tick is not None else -1
    for raw in lines:
        if lineno == next_tick:
            counts.lines = lineno
            next_tick = tick(lineno)
        lineno += 1
        counts.lines = lineno
        if not raw:
            lineno, next_tick = _empty_lines(raw, lineno, next_tick, tick, rejects)
            continue
        if raw.__class__ is not bytes and _fragment(raw, lineno, rejects):  # one check on a good line's path
            continue
        try:
            text = raw.decode("utf-8")
            if full_parse:
                rec = parse_line(text)
                ts = time_ms(rec["time"])
            else:
                ts = quick_time(text)
                rec = None
        except UnicodeDecodeError as exc:  # only the decoding raises it: the parser reads text
            if take("not UTF-8 text"):
                reject(lineno, raw.decode("utf-8", "backslashreplace"), _undecodable_reason(raw, exc))
            continue
        except ParseError as exc:
            if take(exc.reason.split(":", 1)[0]):  # counted by kind, not by the field's value
                reject(lineno, text, exc.reason)
            continue
        if add_metric is not None:
            add_metric(rec)
        if lines_off or (ship_filter is not None and not ship_filter(rec)):
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
            if take("too large for one CloudWatch event"):
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
    # Whose load balancer wrote the object (from its key): a central bucket holds many accounts' objects.
    account: str | None = None
    region: str | None = None

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


@dataclass(slots=True)
class Shipment:
    """What the steps of shipping one object share: its writers, its counts and its saved progress.

    One value passed from step to step, so each step reads on its own and says what it changes.
    ``progress`` is what the state table holds (or will at the next sync point): a retry
    starts from it.
    """

    obj: LogObject
    now_ms: Callable[[], int]
    progress: Progress
    counts: LineCounts
    events: StreamWriter
    rejects: StreamWriter
    docs: StreamWriter | None  # the metrics/... stream, when route metrics are on
    metrics: RouteMetrics | None
    checkpoint: Checkpoint | None
    start_line: int  # where this invocation started
    aggregated: int  # lines counted in route-metric documents already written
    metric_keys: set = field(default_factory=set)  # distinct metrics the documents publish
    status: StreamStatus = field(default_factory=StreamStatus)

    def emit(self, ts: int, message: str, size: int) -> None:
        """A rendered line to the events stream, marked with its line so a retry can skip it."""
        self.events.add(ts, message, size, self.counts.lines)

    def reject(self, lineno: int, text: str, reason: str) -> None:
        """A rejected line, with its reason, to the rejected/... stream (in parts when huge)."""
        ts = self.now_ms()
        for msg in reject_messages(self.obj.uri, lineno, text, reason):
            self.rejects.add(ts, msg, len(msg.encode("utf-8")), lineno)

    def streams(self) -> dict:
        """What each stream holds now: saved with the progress, so a retry sends none of it again."""
        out = {"events": self.events.counts, "rejected": self.rejects.counts}
        if self.docs is not None:
            out["metrics"] = self.docs.counts
        return out


def open_shipment(
    obj: LogObject,
    logs,
    log_group: str,
    now_ms: Callable[[], int],
    metrics: RouteMetrics | None,
    checkpoint: Checkpoint | None,
    resume: Progress | None,
) -> Shipment:
    """The writers and counts as the last sync point left them (``resume``), or fresh.

    Each writer resumes from its stream's saved counts, so events CloudWatch already holds
    are not sent again; the counts go on from the saved ones, so a report covers the whole
    object however many invocations shipped it.
    """
    progress = resume or Progress()
    streams = progress.streams
    name = obj.stream_name
    c = progress.counts
    return Shipment(
        obj=obj,
        now_ms=now_ms,
        progress=progress,
        counts=LineCounts(
            lines=progress.line,
            accepted=int(c.get("accepted", 0)),
            filtered=int(c.get("filtered", 0)),
            rejected=int(c.get("rejected", 0)),
            reasons=Counter({k: int(v) for k, v in (c.get("reasons") or {}).items()}),
        ),
        events=StreamWriter(logs, log_group, name, now_ms, resume=streams.get("events")),
        rejects=StreamWriter(logs, log_group, REJECTED_PREFIX + name, now_ms, resume=streams.get("rejected")),
        docs=(
            StreamWriter(logs, log_group, METRICS_PREFIX + name, now_ms, emf=True, resume=streams.get("metrics"))
            if metrics is not None
            else None
        ),
        metrics=metrics,
        checkpoint=checkpoint,
        start_line=progress.line,
        aggregated=int(c.get("aggregated", 0)),
    )


def write_route_metrics(s: Shipment, done: int) -> None:
    """The route metrics of the lines since the last sync point, as EMF documents marked with line ``done``.

    Written only at sync points, so the documents of a range and the progress that closes
    it go together: a retry resumes after the range and never counts its lines twice.
    """
    docs, metrics = s.docs, s.metrics
    if docs is None or metrics is None or not metrics.lines:
        return
    for ts, doc in metrics.documents():
        body = orjson.dumps(doc)
        docs.add(ts, body.decode("utf-8"), len(body), done)
        s.metric_keys.add((doc["LoadBalancer"], doc["Route"], "TargetLatency" in doc))
    docs.flush()
    s.aggregated += metrics.lines
    metrics.reset()


def sync_point(s: Shipment, done: int) -> None:
    """Everything up to line ``done`` into CloudWatch, then the progress into the state table.

    In that order: the saved progress never claims a line CloudWatch does not hold, so a
    process killed between the two sends again, at most, what came after the last sync.
    """
    s.events.flush()
    s.rejects.flush()
    write_route_metrics(s, done)
    s.progress.line = done
    s.progress.counts = _snapshot(s.counts, s.aggregated)
    s.progress.streams = s.streams()
    if s.checkpoint is not None:
        s.checkpoint.save(s.progress)


@dataclass(slots=True)
class Pace:
    """When a shipment saves its progress and when it stops to hand the rest on."""

    sync_seconds: float
    remaining_ms: Callable[[], int] | None  # the Lambda context's clock
    reserve_ms: int
    stop: Callable[[], bool] | None  # the CLI's Ctrl-C
    forced: int  # a line a sync point must fall on (``forced_sync_line``), 0 for none
    last_sync: float = field(default_factory=_time.monotonic)


def forced_sync_line(s: Shipment) -> int:
    """Where an earlier invocation's metric documents end, when past the saved progress (else 0).

    Metric documents of a range are written at its end: a retry must close the same range,
    or the documents already written would count its lines twice. A range whose documents
    were only partly written ends at that open line.
    """
    docs_mark = (s.docs.counts.open_line or s.docs.counts.through) if s.docs is not None else 0
    return docs_mark if docs_mark > s.progress.line else 0


def tick(s: Shipment, pace: Pace, done: int) -> int:
    """Between lines: a sync point when one is due, ``Continue`` when out of time; returns the next line to look.

    The clock is read every ``CHECK_EVERY`` lines, not every line, and on the forced line.
    """
    # Hand on only after some progress: an invocation that starts short of time still
    # ships a batch of lines, so continuations can never chase each other forever.
    out_of_time = done > s.start_line and (
        (pace.remaining_ms is not None and pace.remaining_ms() < pace.reserve_ms)
        or (pace.stop is not None and pace.stop())
    )
    if done == pace.forced or out_of_time or _time.monotonic() - pace.last_sync >= pace.sync_seconds:
        sync_point(s, done)
        pace.last_sync = _time.monotonic()
        if out_of_time:
            raise Continue(done)
    nxt = done + CHECK_EVERY
    return min(nxt, pace.forced) if done < pace.forced else nxt


def ship_lines(s: Shipment, chunks: Iterable[bytes], fmt: str, ship_filter: Predicate | None, pace: Pace) -> int | None:
    """Render and write every line not yet accounted for, then settle the checkpoint; the hand-on line, if any.

    At the end, a last sync point and the object marked shipped. Handed on, the claim is
    released at the progress just saved. On any error, the claim is released with what
    each stream already holds past the last sync point, so the retry (Lambda's, or the
    user's re-run) resumes there and sends none of it again; the error goes on.
    """
    lines = iter_lines(chunks, s.status, runs=True)
    if s.progress.line:
        lines = skip_lines(lines, s.progress.line)  # accounted for by an earlier invocation
    try:
        render_lines(
            lines,
            fmt,
            ship_filter,
            s.emit,
            s.reject,
            s.counts,
            metrics=s.metrics,
            tick=partial(tick, s, pace),
            reject_limit=MAX_REJECTS_SHIPPED,
        )
        sync_point(s, s.counts.lines)
    except Continue as handed_on:
        if s.checkpoint is not None:
            s.checkpoint.save(s.progress, release=True)
        return handed_on.line
    except BaseException:
        s.progress.streams = s.streams()
        if s.checkpoint is not None:
            s.checkpoint.save(s.progress, release=True)
        raise
    if s.checkpoint is not None:
        s.checkpoint.finish(s.progress)
    return None


def _published(s: Shipment) -> int:
    """Distinct metrics the documents publish; the account's totals too when they carry the account dimension."""
    n = metric_count(s.metric_keys)
    if s.metrics is not None and s.metrics.account_dimension and s.metric_keys:
        n += 3 + any(has_latency for _, _, has_latency in s.metric_keys)
    return n


def object_report(s: Shipment, log_group: str, fmt: str, continue_from: int | None) -> ObjectReport:
    """The account of every line: what the streams hold, what was counted, what went wrong with the object."""
    ev, rj, docs, counts = s.events.counts, s.rejects.counts, s.docs, s.counts
    return ObjectReport(
        source=s.obj.uri,
        load_balancer=s.obj.load_balancer,
        log_group=log_group,
        log_stream=s.obj.stream_name,
        format=fmt,
        lines=continue_from if continue_from is not None else counts.lines,
        shipped=ev.shipped,
        filtered=counts.filtered,
        rejected=counts.rejected,
        refused=ev.refused,
        reject_reasons=dict(counts.reasons.most_common(10)),
        refused_reasons=ev.refused_reasons,
        rejects_not_stored=rj.refused,
        rejects_over_cap=max(0, counts.rejected - MAX_REJECTS_SHIPPED),
        object_error=s.status.error,
        compressed=s.status.compressed,
        aggregated=s.aggregated,
        metric_documents=docs.counts.shipped if docs else 0,
        metrics_published=_published(s) if docs else 0,
        metric_documents_refused=docs.counts.refused if docs else 0,
        routes_overflowed=s.metrics.overflowed if s.metrics is not None else 0,
        resumed_from=s.start_line or None,
        continue_from=continue_from,
        invocation=s.progress.invocations or 1,
        checkpoint_error=s.checkpoint.error if s.checkpoint is not None else None,
        account=s.obj.account,
        region=s.obj.region,
    )


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
    s = open_shipment(obj, logs, log_group, now_ms, metrics, checkpoint, resume)
    sync_every = SYNC_SECONDS if sync_seconds is None else sync_seconds
    pace = Pace(sync_every, remaining_ms, reserve_ms, stop, forced=forced_sync_line(s))
    continue_from = ship_lines(s, chunks, fmt, ship_filter, pace)
    return object_report(s, log_group, fmt, continue_from)
