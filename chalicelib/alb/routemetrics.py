"""Route-level metrics from ALB lines: per minute, load balancer and route, in embedded metric format.

Shipping every line to CloudWatch Logs costs about 1.3 KB of ingestion per
request as JSON; most teams only want error counts and latency per route. This
module counts requests, 4xx and 5xx, and keeps the distribution of
``target_processing_time`` (undispatched ``-1`` left out), then publishes one
EMF document per (minute, load balancer, route). Latency goes out as an EMF
histogram (``Values``/``Counts``, at most 100 bins, with exact ``Min``,
``Max``, ``Sum`` and ``Count``), so CloudWatch computes p50/p90/p99 across
objects and Lambda invocations instead of averaging averages.

Every distinct route is a metric billed each month, so routes are normalised
(``routes.route``) and capped per load balancer: the ``limit`` routes with the
most requests in the object keep their name, the rest are counted under
``other``. Each document carries two dimension sets, (LoadBalancer, Route) and
(LoadBalancer), so the load balancer's totals and percentiles come for free.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from chalicelib.alb.parser import time_ms
from chalicelib.alb.routes import MALFORMED, Templates, path_of, route

OTHER = "other"
MAX_BINS = 100  # EMF: a histogram of more than 100 values is dropped
MAX_METRICS_PER_DOCUMENT = 100
MAX_DIMENSIONS = 30
METRIC_NAMES = ("Requests", "Status4xx", "Status5xx", "TargetLatency")
DIMENSION_SETS = [["LoadBalancer", "Route"], ["LoadBalancer"]]
# With the account known (a central bucket), one more set: the account's totals. A load balancer
# lives in one account, so the account adds no metric to the sets above; this set adds one
# metric per name and account (3 or 4 per account).
ACCOUNT_DIMENSION_SETS = [*DIMENSION_SETS, ["account"]]
_PATH_CACHE_SIZE = 50_000
# Bin widths tried in turn until a distribution fits in MAX_BINS: 1% first (exact enough for any
# percentile), coarser only for a minute whose latencies span many orders of magnitude.
_BIN_RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 3.0)


@dataclass
class Cell:
    """One (minute, route)'s counts and its exact latency values with their counts."""

    requests: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    latency: Counter = field(default_factory=Counter)

    def merge(self, other: Cell) -> None:
        self.requests += other.requests
        self.status_4xx += other.status_4xx
        self.status_5xx += other.status_5xx
        self.latency.update(other.latency)


def histogram(values: Counter) -> tuple[list[float], list[int]]:
    """Values and counts for EMF: exact when there are at most 100 distinct values, else binned.

    A bin's value is the mean of what fell in it, so the sum stays exact and a
    percentile is off by at most half the bin's width (0.5% at the finest).
    """
    if len(values) <= MAX_BINS:
        items = sorted(values.items())
        return [v for v, _ in items], [c for _, c in items]
    for ratio in _BIN_RATIOS:
        width = math.log1p(ratio)
        bins: dict[int, list[float]] = {}
        for v, c in values.items():
            key = -(10**9) if v <= 0 else math.floor(math.log(v) / width)
            b = bins.get(key)
            if b is None:
                bins[key] = [v * c, c]
            else:
                b[0] += v * c
                b[1] += c
        if len(bins) <= MAX_BINS:
            break
    out = sorted((total / n, n) for total, n in bins.values())
    return [round(v, 6) for v, _ in out], [n for _, n in out]


def percentile(values: list[float], counts: list[int], p: float) -> float | None:
    """Nearest-rank percentile of a (sorted) histogram: what CloudWatch estimates from it."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for v, c in zip(values, counts, strict=True):
        seen += c
        if seen >= rank:
            return v
    return values[-1]


@dataclass
class Aggregate:
    """One published (minute, load balancer, route): what ``alb parse --format metrics`` prints."""

    minute: str  # 2026-11-27T14:05
    elb: str
    route: str
    cell: Cell

    @cached_property
    def bins(self) -> tuple[list[float], list[int]]:
        """The latency histogram as published (computed once for the document and the summary)."""
        return histogram(self.cell.latency)

    def summary(self) -> dict:
        values, counts = self.bins
        return {
            "minute": self.minute,
            "elb": self.elb,
            "route": self.route,
            "requests": self.cell.requests,
            "status_4xx": self.cell.status_4xx,
            "status_5xx": self.cell.status_5xx,
            "latency_count": sum(counts),
            "p50": percentile(values, counts, 50),
            "p90": percentile(values, counts, 90),
            "p99": percentile(values, counts, 99),
        }


def for_stage(cfg, fmt: str | None = None, account: str | None = None) -> RouteMetrics | None:
    """A fresh aggregator for one object from the stage's settings (``settings.alb()``), or None when off.

    ``account`` (from the object's key) is published as the ``account`` dimension when the
    stage ships a central bucket (its log group is a template naming ``{account}``), and
    always kept in the documents as a property (searchable in Logs Insights, no metric).
    """
    if not (cfg.route_metrics or fmt == "metrics"):
        return None
    dimension = "{account}" in cfg.log_group
    return RouteMetrics(
        cfg.metrics_namespace,
        cfg.route_limit,
        Templates(cfg.route_templates),
        account=account,
        account_dimension=dimension,
    )


class RouteMetrics:
    """Aggregate parsed records, then cap routes and render EMF documents.

    Memory is bounded: at most ``max_tracked`` routes per load balancer are
    kept apart while reading (past that, the quieter half is folded into
    ``other``), and latency values are kept at ALB's millisecond resolution.
    """

    def __init__(
        self,
        namespace: str,
        limit: int = 50,
        templates: Templates | None = None,
        max_tracked: int = 2000,
        account: str | None = None,
        account_dimension: bool = False,
    ) -> None:
        if limit < 1:
            raise ValueError(f"the route limit must be 1 or more, not {limit}")
        self.namespace = namespace
        self.account = account
        self.account_dimension = account_dimension and account is not None
        self.limit = limit
        self.templates = templates or Templates()
        self.max_tracked = max(max_tracked, limit)
        self.lines = 0
        self.overflowed = 0  # routes folded into "other" while reading, because too many were seen
        self._cells: dict[str, dict[str, dict[str, Cell]]] = {}  # elb -> route -> minute -> cell
        self._routes: dict[str, str] = {}  # path -> route

    def _route(self, url: str | None) -> str:
        if not url:
            return MALFORMED
        path = path_of(url)
        r = self._routes.get(path)
        if r is None:
            r = route(path, self.templates) if path.startswith("/") else MALFORMED
            if len(self._routes) >= _PATH_CACHE_SIZE:
                self._routes.clear()
            self._routes[path] = r
        return r

    def add(self, rec: dict) -> None:
        self.lines += 1
        elb = rec["elb"]
        by_route = self._cells.get(elb)
        if by_route is None:
            by_route = self._cells[elb] = {}
        # ALB logs a request it could not parse as "- http://host:80- -": no verb, a mangled URL.
        r = self._route(rec["request_url"]) if rec["request_verb"] else MALFORMED
        by_minute = by_route.get(r)
        if by_minute is None:
            if len(by_route) >= self.max_tracked:
                self._fold(by_route)
            by_minute = by_route[r] = {}
        minute = rec["time"][:16]
        cell = by_minute.get(minute)
        if cell is None:
            cell = by_minute[minute] = Cell()
        cell.requests += 1
        status = rec["elb_status_code"]
        if status is not None:
            if status >= 500:
                cell.status_5xx += 1
            elif status >= 400:
                cell.status_4xx += 1
        latency = rec["target_processing_time"]
        if latency is not None and latency >= 0:
            cell.latency[latency] += 1

    def _fold(self, by_route: dict[str, dict[str, Cell]]) -> None:
        """Too many routes: keep the busier half apart and fold the rest into ``other``.

        Sums stay exact; only a route whose traffic starts late can lose its early
        requests to ``other`` when it was folded before it became busy.
        """
        totals = sorted(
            ((sum(c.requests for c in by_route[r].values()), r) for r in by_route if r != OTHER), reverse=True
        )
        other = by_route.setdefault(OTHER, {})
        for _, r in totals[self.max_tracked // 2 :]:
            for minute, cell in by_route.pop(r).items():
                other.setdefault(minute, Cell()).merge(cell)
            self.overflowed += 1

    def aggregates(self) -> Iterator[Aggregate]:
        """Every (minute, load balancer, route) to publish, routes capped per load balancer."""
        for elb, by_route in sorted(self._cells.items()):
            ranked = sorted(
                (r for r in by_route if r != OTHER),
                key=lambda r: (-sum(c.requests for c in by_route[r].values()), r),
            )
            kept = ranked[: self.limit]
            merged: dict[str, dict[str, Cell]] = {r: by_route[r] for r in kept}
            rest = ranked[self.limit :]
            if rest or OTHER in by_route:
                other: dict[str, Cell] = {}
                for r in [*rest, OTHER]:
                    for minute, cell in by_route.get(r, {}).items():
                        other.setdefault(minute, Cell()).merge(cell)
                merged[OTHER] = other
            for r in sorted(merged):
                for minute in sorted(merged[r]):
                    yield Aggregate(minute, elb, r, merged[r][minute])

    def documents(self) -> Iterator[tuple[int, dict]]:
        """(timestamp ms, EMF document) per aggregate: the minute's start is the metrics' time."""
        for agg in self.aggregates():
            yield emf_document(self.namespace, agg, self.account, self.account_dimension)

    def metric_keys(self) -> set[tuple[str, str, bool]]:
        """(load balancer, route, has latency) of every aggregate: what ``metric_count`` counts."""
        return {(a.elb, a.route, bool(a.cell.latency)) for a in self.aggregates()}

    def metric_count(self) -> int:
        """Distinct metrics the documents publish: what CloudWatch bills each month."""
        return metric_count(self.metric_keys())

    def reset(self) -> None:
        """Forget the aggregates once published (the route names cache stays)."""
        self._cells.clear()
        self.lines = 0


def metric_count(keys: set[tuple[str, str, bool]]) -> int:
    """Metrics published for these (load balancer, route, has latency): 3 or 4 per route and per load balancer."""
    routes = {(e, r) for e, r, _ in keys}
    latency = {(e, r) for e, r, has in keys if has}
    return 3 * (len(routes) + len({e for e, _ in routes})) + len(latency) + len({e for e, _ in latency})


def emf_document(
    namespace: str, agg: Aggregate, account: str | None = None, account_dimension: bool = False
) -> tuple[int, dict]:
    ts = time_ms(agg.minute + ":00.000000Z")
    metrics = [
        {"Name": "Requests", "Unit": "Count"},
        {"Name": "Status4xx", "Unit": "Count"},
        {"Name": "Status5xx", "Unit": "Count"},
    ]
    doc: dict = {
        "LoadBalancer": agg.elb,
        "Route": agg.route,
        "Requests": agg.cell.requests,
        "Status4xx": agg.cell.status_4xx,
        "Status5xx": agg.cell.status_5xx,
    }
    if agg.cell.latency:
        values, counts = agg.bins
        lat = agg.cell.latency
        metrics.append({"Name": "TargetLatency", "Unit": "Seconds"})
        doc["TargetLatency"] = {
            "Values": values,
            "Counts": counts,
            "Min": min(lat),
            "Max": max(lat),
            "Sum": round(sum(v * c for v, c in lat.items()), 6),
            "Count": sum(counts),
        }
    if account is not None:
        doc["account"] = account
    dimensions = ACCOUNT_DIMENSION_SETS if account_dimension and account is not None else DIMENSION_SETS
    doc["_aws"] = {
        "Timestamp": ts,
        "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": dimensions, "Metrics": metrics}],
    }
    return ts, doc
