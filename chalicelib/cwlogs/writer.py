"""Ship batches of events to one CloudWatch Logs stream and account for each event.

Throttling and 5xx answers are retried by botocore (see ``chalicelib.aws``);
an error left after that propagates, so the Lambda invocation fails and is
retried. Events CloudWatch refuses (too old, too new, older than the group's
retention) come back in ``rejectedLogEventsInfo``: they are counted as
``refused`` with the reason, never reported as shipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.cwlogs.batches import Batcher, Event
from chalicelib.settings import stage

FOURTEEN_DAYS_MS = 14 * 24 * 3600 * 1000
STAGE_TAG = "opswatch:stage"


@dataclass
class StreamCounts:
    shipped: int = 0
    refused: int = 0
    calls: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)
    # The highest source line whose events CloudWatch has all answered for: with the events
    # handed over in line order, every event of a line up to it is accounted for.
    through: int = 0
    # How many events of line ``through + 1`` CloudWatch has answered for already. One line can
    # become several events (the parts of a huge rejected line, the metric documents of one
    # sync) and a full batch can be cut between them: the line is not passed until its last
    # event is answered, and a retry skips only the events of it counted here.
    partial: int = 0

    def as_dict(self) -> dict:
        return {
            "shipped": self.shipped,
            "refused": self.refused,
            "through": self.through,
            "partial": self.partial,
            "refused_reasons": dict(self.refused_reasons),
        }

    @property
    def open_line(self) -> int:
        """The line whose events were only partly answered (0 when none): a retry must end its range there."""
        return self.through + 1 if self.partial else 0

    @classmethod
    def from_dict(cls, d: dict | None) -> StreamCounts:
        d = d or {}
        return cls(
            shipped=int(d.get("shipped", 0)),
            refused=int(d.get("refused", 0)),
            through=int(d.get("through", 0)),
            partial=int(d.get("partial", 0)),
            refused_reasons={k: int(v) for k, v in (d.get("refused_reasons") or {}).items()},
        )


def refused_slices(info: dict, events: list[Event], now_ms: int) -> dict[str, int]:
    """How many events of one call CloudWatch refused, by reason.

    The API reference calls ``tooOldLogEventEndIndex`` exclusive, while some
    implementations report the index of the last too-old event. The events of a
    call are sorted, so the too-old ones are a prefix: the event at the index is
    counted in when it is itself older than fourteen days.
    """
    out: dict[str, int] = {}
    n = len(events)

    def prefix(index: int, cutoff_ms: int | None) -> int:
        index = max(0, min(index, n))
        if index < n and cutoff_ms is not None and events[index][0] < cutoff_ms:
            return index + 1
        return index

    old = prefix(info["tooOldLogEventEndIndex"], now_ms - FOURTEEN_DAYS_MS) if "tooOldLogEventEndIndex" in info else 0
    expired = prefix(info["expiredLogEventEndIndex"], None) if "expiredLogEventEndIndex" in info else 0
    new_start = info.get("tooNewLogEventStartIndex")
    new = n - max(0, min(new_start, n)) if new_start is not None else 0
    if old:
        out["older than 14 days"] = old
    if expired > old:
        out["older than the log group's retention"] = expired - old
    if new:
        out["more than 2 hours in the future"] = new
    return out


def _emf_header(request, **_) -> None:
    request.headers["x-amzn-logs-format"] = "json/emf"


class StreamWriter:
    """Batch events for one log stream and put them, creating the stream when missing.

    ``resume`` carries the counts of an earlier invocation for the same object:
    events of lines up to its ``through``, and the first ``partial`` events of the
    line after it, are already in CloudWatch and are not sent again, which is what
    makes a retry ship each line once. Events must be added in line order, and the
    events of one line in the same order on a retry.
    """

    def __init__(
        self, logs, group: str, stream: str, now_ms, emf: bool = False, resume: StreamCounts | None = None
    ) -> None:
        self._logs = logs
        self._emf = emf
        self.group = group
        self.stream = stream
        self._now_ms = now_ms
        self._batcher = Batcher()
        self._ready = False
        self.counts = resume or StreamCounts()
        self._skip_through = self.counts.through
        self._skip_partial = self.counts.partial  # events of line _skip_through + 1 already stored
        self._line = 0  # the line of the last event added, and how many events it has had
        self._line_events = 0

    def add(self, ts: int, message: str, size: int, line: int = 0) -> None:
        if line != self._line:
            self._line, self._line_events = line, 0
        self._line_events += 1
        if line and line <= self._skip_through:
            return  # already in CloudWatch from an earlier invocation
        if line and line == self._skip_through + 1 and self._line_events <= self._skip_partial:
            return  # this part of the line is already in CloudWatch
        calls = self._batcher.add(ts, message, size, line)
        if calls:
            # The event just added waits in the next batch: its line stays open, with the
            # events of it added before this one (all answered now) counted as done.
            self._put_all(calls, open_line=line, open_done=self._line_events - 1)

    def flush(self) -> StreamCounts:
        """Put everything pending: afterwards ``counts.through`` covers every event added."""
        calls = self._batcher.flush()
        if calls:
            self._put_all(calls)
        return self.counts

    close = flush

    def _put_all(self, calls: list[list[Event]], open_line: int = 0, open_done: int = 0) -> None:
        # One flush's calls together: sorting by time may have spread a line range over
        # them, so the progress mark moves only once all of them are answered. (Several
        # calls come only from events over 24 hours apart; a failure between them can
        # repeat the first ones on a retry, as a lost answer can.)
        for call in calls:
            self._put(call)
        done = max(e[3] for call in calls for e in call)
        c = self.counts
        if open_line and done >= open_line:
            # Part of the open line is answered, the rest still waits: stop just before it.
            if open_line - 1 >= c.through:
                c.through, c.partial = open_line - 1, open_done
        elif done > c.through:
            c.through, c.partial = done, 0

    def _ensure_stream(self) -> None:
        from botocore.exceptions import ClientError  # AWS path only: `alb parse` stays light

        try:
            self._logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ResourceAlreadyExistsException":
                pass
            elif code == "ResourceNotFoundException":  # the group itself is missing
                try:
                    # Tagged with the stage that made it: with a templated group name (one per account),
                    # groups appear on first use, and the tag says which stage's they are.
                    self._logs.create_log_group(logGroupName=self.group, tags={STAGE_TAG: stage()})
                except ClientError as exc2:
                    if exc2.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                        raise
                self._logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
            else:
                raise
        self._ready = True

    def _put_events(self, payload: list[dict]) -> dict:
        kwargs = {"logGroupName": self.group, "logStreamName": self.stream, "logEvents": payload}
        if not self._emf:
            return self._logs.put_log_events(**kwargs)
        # Embedded metric format: CloudWatch extracts metrics from the events either way; the
        # header says so explicitly, as AWS's EMF guide for PutLogEvents describes.
        events = self._logs.meta.events
        handler = _emf_header
        events.register_first("before-sign.cloudwatch-logs.PutLogEvents", handler)
        try:
            return self._logs.put_log_events(**kwargs)
        finally:
            events.unregister("before-sign.cloudwatch-logs.PutLogEvents", handler)

    def _put(self, events: list[Event]) -> None:
        from botocore.exceptions import ClientError  # AWS path only: `alb parse` stays light

        if not events:
            return
        if not self._ready:
            self._ensure_stream()
        payload = [{"timestamp": e[0], "message": e[1]} for e in events]
        try:
            resp = self._put_events(payload)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            self._ensure_stream()  # deleted under us: create and try once more
            resp = self._put_events(payload)
        self.counts.calls += 1
        refused = refused_slices(resp.get("rejectedLogEventsInfo") or {}, events, self._now_ms())
        n_refused = sum(refused.values())
        for reason, k in refused.items():
            self.counts.refused_reasons[reason] = self.counts.refused_reasons.get(reason, 0) + k
        self.counts.refused += n_refused
        self.counts.shipped += len(events) - n_refused
