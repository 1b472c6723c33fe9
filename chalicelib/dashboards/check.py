"""A dashboard body checked against CloudWatch's documented structure, before PutDashboard.

The rules come from AWS's "Dashboard Body Structure and Syntax" page (CloudWatch API
Reference) unless said otherwise:

- the body is a JSON object with a ``widgets`` array of 0 to 500 widget objects, and
  optionally ``start``, ``end``, ``periodOverride`` (``auto`` | ``inherit``) and ``variables``;
- a widget has ``type`` (metric, text, log, alarm, explorer, custom), ``x`` (0-23),
  ``y`` (0 or more), ``width`` (1-24, default 6), ``height`` (1-1000, default 6) and
  ``properties``; the grid is 24 columns wide (x + width at most 24);
- a metric widget names its ``region``; its ``metrics`` array holds 0-500 entries, each
  an array ``[Namespace, MetricName, DimName, DimValue, ..., {rendering properties}]``
  (``"."`` or ``"..."`` repeat the previous entry) or ``[{"expression": ...}]``; ids start
  with a lower-case letter; ``period`` is 1, 5, 10, 30 or a multiple of 60; ``view`` is
  timeSeries, singleValue, gauge, bar, pie or table; a widget carries at most one alarm in
  ``annotations.alarms``, and needs it when it has no ``metrics``;
- an alarm status widget lists 1-100 alarm ARNs in ``alarms``; ``sortBy`` is default,
  stateUpdatedTimestamp or timestamp; ``states`` among ALARM, INSUFFICIENT_DATA, OK;
- a text widget has ``markdown``; ``background`` is solid or transparent;
- a log widget has ``query`` (``SOURCE 'group' | ...``) and ``region``; ``view`` is table,
  timeSeries, bar or pie.

From "CloudWatch service quotas": up to 500 metrics per widget and 2,500 per dashboard,
across all widgets. From GetMetricData, which draws the graphs: an expression has at most
2,048 characters. AWS documents no size for ``DashboardBody``; opswatch refuses a body
over 1 MB (its own guard; a spec's dashboard is a few tens of KB). Widgets must not
overlap: CloudWatch would move them, and the next plan would differ from the spec.
"""

from __future__ import annotations

import json
import re

from chalicelib.dashboards.spec import query_problem

MAX_WIDGETS = 500
MAX_METRICS_PER_WIDGET = 500
MAX_METRICS_PER_DASHBOARD = 2500
MAX_ALARMS_PER_WIDGET = 100
MAX_BODY_BYTES = 1_000_000
MAX_EXPRESSION_CHARS = 2048  # GetMetricData (which draws the graphs): MetricDataQuery Expression, 1 to 2048
GRID = 24
WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
TOP_KEYS = ("widgets", "start", "end", "periodOverride", "variables")
WIDGET_KEYS = ("type", "x", "y", "width", "height", "properties")
METRIC_VIEWS = ("timeSeries", "singleValue", "gauge", "bar", "pie", "table")
LOG_VIEWS = ("table", "timeSeries", "bar", "pie")
_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")
_STAT = re.compile(
    r"SampleCount|Average|Sum|Minimum|Maximum|IQM"
    r"|(p|tm|tc|ts|wm)\d{1,2}(\.\d+)?|p100|(PR|TM|TC|TS|WM)\(\d*(\.\d+)?%?:\d*(\.\d+)?%?\)"
)


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _label(i: int, w: object) -> str:
    title = (w.get("properties") or {}).get("title") if isinstance(w, dict) else None
    title = title if isinstance(title, str) else None
    return f"widget {i}" + (f" ({title})" if title else "")


def problems(body: object) -> list[str]:
    """Every way ``body`` breaks the documented structure and limits (empty: PutDashboard may take it)."""
    if not isinstance(body, dict):
        return ["the body must be a JSON object with a widgets array"]
    out: list[str] = []
    size = len(json.dumps(body, separators=(",", ":")).encode())
    if size > MAX_BODY_BYTES:
        out.append(f"the body is {size} bytes; opswatch keeps a dashboard under {MAX_BODY_BYTES} bytes")
    out += [f"unknown top-level key {k!r} (one of {', '.join(TOP_KEYS)})" for k in body if k not in TOP_KEYS]
    if body.get("periodOverride") not in (None, "auto", "inherit"):
        out.append(f"periodOverride {body['periodOverride']!r}: auto or inherit")
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return [*out, "the body must include a widgets array (it may be empty)"]
    if len(widgets) > MAX_WIDGETS:
        out.append(f"{len(widgets)} widgets; a dashboard holds at most {MAX_WIDGETS}")
    total = 0
    placed: list[tuple[int, int, int, int, str]] = []
    for i, w in enumerate(widgets):
        label = _label(i, w)
        if not isinstance(w, dict):
            out.append(f"{label}: a widget is a JSON object")
            continue
        out += [f"{label}: unknown key {k!r} (one of {', '.join(WIDGET_KEYS)})" for k in w if k not in WIDGET_KEYS]
        box = _place(w, label, out)
        if box:
            for other in placed:
                if _overlap(box, other):
                    out.append(f"{label}: overlaps {other[4]} at x={box[0]}, y={box[1]}")
                    break
            placed.append((*box, label))
        kind = w.get("type")
        props = w.get("properties")
        if kind not in WIDGET_TYPES:
            out.append(f"{label}: type {kind!r} is not a widget type ({', '.join(WIDGET_TYPES)})")
            continue
        if not isinstance(props, dict):
            out.append(f"{label}: properties (an object) is required")
            continue
        if kind == "metric":
            total += _metric(props, label, out)
        elif kind == "alarm":
            _alarm(props, label, out)
        elif kind == "text":
            _text(props, label, out)
        elif kind == "log":
            _log(props, label, out)
    if total > MAX_METRICS_PER_DASHBOARD:
        out.append(f"{total} metrics across the widgets; a dashboard holds at most {MAX_METRICS_PER_DASHBOARD}")
    return out


def _place(w: dict, label: str, out: list[str]) -> tuple[int, int, int, int] | None:
    x, y, width, height = w.get("x"), w.get("y"), w.get("width", 6), w.get("height", 6)
    bad = len(out)
    if x is not None and (not _int(x) or not 0 <= x < GRID):
        out.append(f"{label}: x {x!r}: a whole number from 0 to 23")
    if y is not None and (not _int(y) or y < 0):
        out.append(f"{label}: y {y!r}: a whole number, 0 or more")
    if not _int(width) or not 1 <= width <= GRID:
        out.append(f"{label}: width {width!r}: a whole number from 1 to 24")
    if not _int(height) or not 1 <= height <= 1000:
        out.append(f"{label}: height {height!r}: a whole number from 1 to 1000")
    if len(out) > bad or x is None or y is None:
        return None
    if x + width > GRID:
        out.append(f"{label}: x {x} + width {width} passes the 24-column grid")
        return None
    return x, y, width, height


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _period(props: dict, label: str, out: list[str]) -> None:
    p = props.get("period")
    if p is not None and (not _int(p) or (p not in (1, 5, 10, 30) and (p <= 0 or p % 60))):
        out.append(f"{label}: period {p!r}: 1, 5, 10, 30 or a multiple of 60 seconds")


def _metric(props: dict, label: str, out: list[str]) -> int:
    if not isinstance(props.get("region"), str) or not props["region"]:
        out.append(f"{label}: a metric widget names its region")
    _period(props, label, out)
    if props.get("view") not in (None, *METRIC_VIEWS):
        out.append(f"{label}: view {props['view']!r}: one of {', '.join(METRIC_VIEWS)}")
    if props.get("stat") is not None and not (isinstance(props["stat"], str) and _STAT.fullmatch(props["stat"])):
        out.append(f"{label}: stat {props['stat']!r} is not a CloudWatch statistic")
    alarms = (props.get("annotations") or {}).get("alarms") if isinstance(props.get("annotations"), dict) else None
    if alarms is not None and (not isinstance(alarms, list) or len(alarms) > 1):
        out.append(f"{label}: annotations.alarms holds at most one alarm ARN per widget")
    metrics = props.get("metrics")
    if metrics is None:
        if not alarms:
            out.append(f"{label}: a metric widget needs metrics, or an alarm in annotations.alarms")
        return 0
    if not isinstance(metrics, list):
        out.append(f"{label}: metrics is an array of arrays")
        return 0
    if len(metrics) > MAX_METRICS_PER_WIDGET:
        out.append(f"{label}: {len(metrics)} metrics; a widget holds at most {MAX_METRICS_PER_WIDGET}")
    ids: set[str] = set()
    for j, m in enumerate(metrics):
        why = _metric_entry(m, j, ids)
        if why:
            out.append(f"{label}: metrics[{j}]: {why}")
    return len(metrics)


def _metric_entry(m: object, j: int, ids: set[str]) -> str | None:
    if not isinstance(m, list) or not m:
        return "each metric is a non-empty array"
    opts = m[-1] if isinstance(m[-1], dict) else None
    names = m[:-1] if opts is not None else m
    if opts is not None:
        mid = opts.get("id")
        if mid is not None:
            if not isinstance(mid, str) or not _ID.fullmatch(mid):
                return f"id {mid!r} must start with a lower-case letter (letters, digits, _)"
            if mid in ids:
                return f"id {mid!r} is used twice in the widget"
            ids.add(mid)
        if "stat" in opts and not (isinstance(opts["stat"], str) and _STAT.fullmatch(opts["stat"])):
            return f"stat {opts['stat']!r} is not a CloudWatch statistic"
        if "expression" in opts:
            if names:
                return "an expression entry is [{expression, id, label}] alone"
            if not isinstance(opts["expression"], str) or not opts["expression"].strip():
                return "expression is a non-empty string"
            if len(opts["expression"]) > MAX_EXPRESSION_CHARS:
                return f"the expression has {len(opts['expression'])} characters; at most {MAX_EXPRESSION_CHARS}"
            if opts["expression"].count("(") != opts["expression"].count(")"):
                return "the expression's parentheses do not balance"
            return None
    if not names:
        return "a metric entry names Namespace and MetricName (or is an expression)"
    if any(not isinstance(n, str) for n in names):
        return "namespace, metric name and dimensions are strings; rendering properties go last, as an object"
    if names[0] in (".", "..."):
        return None if j > 0 else f"{names[0]!r} repeats the previous metric, and there is none"
    if len(names) < 2:
        return "a metric entry names Namespace and MetricName"
    if (len(names) - 2) % 2:
        return "dimensions come in name, value pairs"
    if (len(names) - 2) // 2 > 30:
        return "at most 30 dimensions"
    return None


def _alarm(props: dict, label: str, out: list[str]) -> None:
    alarms = props.get("alarms")
    if not isinstance(alarms, list) or not 1 <= len(alarms) <= MAX_ALARMS_PER_WIDGET:
        out.append(f"{label}: an alarm status widget lists 1 to {MAX_ALARMS_PER_WIDGET} alarm ARNs")
    elif not all(isinstance(a, str) and a.startswith("arn:") and ":alarm:" in a for a in alarms):
        out.append(f"{label}: alarms are alarm ARNs (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)")
    if props.get("sortBy") not in (None, "default", "stateUpdatedTimestamp", "timestamp"):
        out.append(f"{label}: sortBy {props['sortBy']!r}: default, stateUpdatedTimestamp or timestamp")
    states = props.get("states")
    if states is not None and (
        not isinstance(states, list) or any(s not in ("ALARM", "INSUFFICIENT_DATA", "OK") for s in states)
    ):
        out.append(f"{label}: states among ALARM, INSUFFICIENT_DATA and OK")


def _text(props: dict, label: str, out: list[str]) -> None:
    if not isinstance(props.get("markdown"), str):
        out.append(f"{label}: a text widget has markdown")
    if props.get("background") not in (None, "solid", "transparent"):
        out.append(f"{label}: background {props['background']!r}: solid or transparent")


def _log(props: dict, label: str, out: list[str]) -> None:
    if not isinstance(props.get("region"), str) or not props["region"]:
        out.append(f"{label}: a log widget names its region")
    if props.get("view") not in (None, *LOG_VIEWS):
        out.append(f"{label}: view {props['view']!r}: one of {', '.join(LOG_VIEWS)}")
    query = props.get("query")
    if not isinstance(query, str) or not query.lstrip().startswith("SOURCE '"):
        out.append(f"{label}: a log widget's query starts with SOURCE 'log-group' | ...")
        return
    why = query_problem(query)
    if why:
        out.append(f"{label}: {why}")
