"""Metric filters and alarms declared in YAML, validated against AWS's own rules before any call.

Property names follow CloudFormation's, in snake_case. Validation uses pydantic
(CLI-only: the Lambda functions never import this module); every error names the
file, the line and the reason. AWS's rules are checked here, as AWS answered
PutMetricFilter (``tests/data/filter-patterns/putmetricfilter-recorded.jsonl``)
and as its API reference states: one metric per filter; the metric value is a
number or a selector without wildcards; dimension values are selectors, at most
three (system-field dimensions count), never with a default value, and only
with JSON or space-delimited patterns; names and lengths; units; at most two
regular expressions per pattern and five regex-bearing filters per log group;
alarm periods 10, 20, 30 or a multiple of 60 seconds, period x evaluation
periods at most 7 days (1 day under an hour's period), datapoints to alarm at
most the evaluation periods, at most 5 actions per state; and a missing-data
policy on every alarm.

``${stage}`` in any value is replaced by the stage's name (``OPSWATCH_STAGE``), so
one spec serves every stage: ``/opswatch/${stage}/alb`` is the stage's ALB log
group. Nothing else is replaced (``${jndi:`` in a pattern stays as it is).

``targets`` (optional) lists ``{account, region, role_arn[, name]}``: plan, apply and
``alarms audit --all-targets`` then act in each through AssumeRole (``chalicelib/targets.py``).
Without it they act with the shell's credentials, in its account and Region.

``dashboards`` and ``insights`` entries are declared in ``chalicelib/dashboards/spec.py``; their
errors read ``FILE:LINE: dashboards.0 (shop-prod): routes: reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from chalicelib import boundedyaml, settings
from chalicelib import targets as target_rules
from chalicelib.dashboards.spec import Dashboard, InsightsQuery, SpecModel, check_log_group
from chalicelib.filters import PatternError, compile_pattern, sample_problems

DEFAULT_FILTER_PREFIX = "opswatch-"
MANAGED_TAG = "opswatch:managed"
STAGE_TAG = "opswatch:stage"  # which stage's spec made the alarm: --prune stays within its own stage
MAX_DIMENSIONS = 3
MAX_REGEX_FILTERS_PER_GROUP = 5
MAX_ACTIONS = 5
SYSTEM_FIELDS = ("@aws.region", "@aws.account", "@source.log")
UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
MISSING_DATA_CHOICES = (
    "treat_missing_data is required: choose one of\n"
    "  breaching     - a missing point counts as bad: the alarm fires when data stops\n"
    "  notBreaching  - a missing point counts as good: for counts of rare events (errors, OOM kills)\n"
    "  ignore        - the alarm keeps its state while data is missing\n"
    "  missing       - AWS's implicit default: no data leads to INSUFFICIENT_DATA; say so on purpose"
)
_NAME_BAD = re.compile(r"[:*]")
STAGE = "${stage}"
_METRIC_BAD = re.compile(r"[:*$]")
_STAT = re.compile(r"(p|tm|tc|ts|wm)\d{1,2}(\.\d+)?|IQM|(PR|TM|TC|TS|WM)\(\d*(\.\d+)?%?:\d*(\.\d+)?%?\)")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_SELECTION = re.compile(
    r'\s*(@aws\.region|@aws\.account|@source\.log)\s*(=|!=)\s*"[^"]*"\s*'
    r'((AND|OR)\s*(@aws\.region|@aws\.account|@source\.log)\s*(=|!=)\s*"[^"]*"\s*)*'
)


# Keys that say where or how, not what: a spec holding only these declares nothing (see load()).
NOT_DECLARING = frozenset({"filter_prefix", "targets"})


class SpecError(ValueError):
    """The spec is not valid; ``problems`` holds one ``FILE:LINE: reason`` per problem.

    ``whole``: the file as a whole is refused (unreadable, not YAML, empty), with one problem.
    """

    def __init__(self, problems: list[str], whole: bool = False) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.whole = whole


def _is_selector(text: str) -> bool:
    return text.startswith("$") and len(text) > 1 and "*" not in text


class FilterMetric(SpecModel):
    namespace: Annotated[str, Field(min_length=1, max_length=255)]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    value: str = "1"
    default_value: float | None = None
    unit: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)

    @field_validator("namespace", "name")
    @classmethod
    def _no_reserved(cls, v: str) -> str:
        if _METRIC_BAD.search(v):
            raise ValueError("metric names and namespaces may not contain ':', '*' or '$'")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: str) -> str:
        if not (_NUMBER.fullmatch(v) or _is_selector(v)):
            raise ValueError(
                f"Invalid metric transformation: metric value {v} must be a valid number "
                "(a number, or a selector such as $.latency or $bytes, without wildcards)"
            )
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str | None) -> str | None:
        if v is not None and v not in UNITS:
            raise ValueError(f"unit {v!r} is not a CloudWatch unit; one of {', '.join(UNITS)}")
        return v

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, v: dict[str, str]) -> dict[str, str]:
        for name, ref in v.items():
            if not isinstance(ref, str) or not _is_selector(ref):
                raise ValueError(
                    f"Invalid metric transformation: dimension value must be valid selector ({name}: {ref!r}; "
                    "a selector such as $.elb or $status, without wildcards)"
                )
        return v

    @model_validator(mode="after")
    def _default_xor_dimensions(self) -> FilterMetric:
        if self.dimensions and self.default_value is not None:
            raise ValueError(
                "Invalid metric transformation: dimensions and default value are mutually exclusive properties"
            )
        return self


class Samples(SpecModel):
    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)


class MetricFilter(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=512)]
    log_group: Annotated[str, Field(min_length=1, max_length=512)]
    pattern: Annotated[str, Field(max_length=1024)]
    metric: FilterMetric
    emit_system_field_dimensions: list[str] = Field(default_factory=list)
    field_selection_criteria: str | None = None
    samples: Samples | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if _NAME_BAD.search(v):
            raise ValueError("filter names may not contain ':' or '*'")
        return v

    @field_validator("log_group")
    @classmethod
    def _group(cls, v: str) -> str:
        return check_log_group(v)

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            compile_pattern(v)
        except PatternError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("emit_system_field_dimensions")
    @classmethod
    def _system(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in SYSTEM_FIELDS]
        if bad:
            raise ValueError(
                f"The provided system fields are invalid. The supported system fields are - "
                f"[{', '.join(SYSTEM_FIELDS)}] (got {', '.join(bad)})"
            )
        return list(dict.fromkeys(v))  # AWS accepts a field twice; it counts once

    @field_validator("field_selection_criteria")
    @classmethod
    def _selection(cls, v: str | None) -> str | None:
        if v is not None and not _SELECTION.fullmatch(v):
            raise ValueError(
                'The provided field selection criteria is invalid (e.g. @aws.account = "123456789012" '
                'AND @aws.region = "us-east-1")'
            )
        return v

    @model_validator(mode="after")
    def _rules(self) -> MetricFilter:
        kind = compile_pattern(self.pattern).kind
        dims = len(self.metric.dimensions) + len(self.emit_system_field_dimensions)
        if self.metric.dimensions and kind == "terms":
            raise ValueError("dimensions need a JSON ({ ... }) or space-delimited ([ ... ]) pattern to select from")
        if dims > MAX_DIMENSIONS:
            raise ValueError(
                "Number of dimensions exceeds the maximum number of dimensions supported per metric filter "
                f"({dims}; at most {MAX_DIMENSIONS}, system-field dimensions included)"
            )
        return self

    def regex_count(self) -> int:
        return self.pattern.count("%") // 2

    def check_samples(self) -> list[str]:
        """What is wrong with the samples, if anything ('samples.match[1] does not match: ...')."""
        if not self.samples:
            return []
        p = compile_pattern(self.pattern)
        return sample_problems(lambda s: p.match(s) is not None, self.samples.match, self.samples.no_match)


class AlarmMetric(SpecModel):
    namespace: Annotated[str, Field(min_length=1, max_length=255)]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    statistic: Literal["SampleCount", "Average", "Sum", "Minimum", "Maximum"] | None = None
    extended_statistic: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    unit: str | None = None

    @field_validator("extended_statistic")
    @classmethod
    def _extended(cls, v: str | None) -> str | None:
        if v is not None and not _STAT.fullmatch(v):
            raise ValueError(f"extended_statistic {v!r}: expected p99, tm99, tc90, ts90, wm90, IQM, PR(n:m), TM(a%:b%)")
        return v

    @model_validator(mode="after")
    def _one_statistic(self) -> AlarmMetric:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError("give exactly one of statistic and extended_statistic")
        if len(self.dimensions) > 30:
            raise ValueError("at most 30 dimensions")
        return self


class MathQuery(SpecModel):
    id: Annotated[str, Field(pattern=r"^[a-z][a-zA-Z0-9_]*$")]
    expression: str | None = None
    metric: AlarmMetric | None = None
    period: int | None = None
    label: str | None = None
    return_data: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> MathQuery:
        if (self.expression is None) == (self.metric is None):
            raise ValueError("a query has either an expression or a metric")
        return self


class Actions(SpecModel):
    alarm: list[str] = Field(default_factory=list, max_length=MAX_ACTIONS)
    ok: list[str] = Field(default_factory=list, max_length=MAX_ACTIONS)
    insufficient_data: list[str] = Field(default_factory=list, max_length=MAX_ACTIONS)


class Backtest(SpecModel):
    hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24


class Alarm(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: Annotated[str, Field(max_length=1024)] | None = None
    metric: AlarmMetric | None = None
    metrics: list[MathQuery] | None = None
    period: int | None = None
    evaluation_periods: Annotated[int, Field(ge=1)]
    datapoints_to_alarm: Annotated[int, Field(ge=1)] | None = None
    comparison: Literal[COMPARISONS]  # type: ignore[valid-type]
    threshold: float
    treat_missing_data: Literal["breaching", "notBreaching", "ignore", "missing"] | None = None
    actions: Actions = Field(default_factory=Actions)
    backtest: Backtest | None = None

    @model_validator(mode="after")
    def _rules(self) -> Alarm:
        if self.treat_missing_data is None:
            raise ValueError(MISSING_DATA_CHOICES)
        if (self.metric is None) == (self.metrics is None):
            raise ValueError("give either metric (one metric) or metrics (metric math)")
        period = self.period or next((q.period for q in self.metrics or [] if q.period), None)
        if self.metric is not None and period is None:
            raise ValueError("period is required with metric")
        if period is not None:
            if period not in (10, 20, 30) and period % 60:
                raise ValueError(f"period {period}: CloudWatch allows 10, 20, 30 or a multiple of 60 seconds")
            limit = 7 * 86400 if period >= 3600 else 86400
            if period * self.evaluation_periods > limit:
                raise ValueError(
                    f"period x evaluation_periods is {period * self.evaluation_periods} s; CloudWatch allows at most "
                    f"{limit} s ({'7 days' if limit > 86400 else '1 day when the period is under an hour'})"
                )
        if self.datapoints_to_alarm is not None and self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"datapoints_to_alarm ({self.datapoints_to_alarm}) must not exceed evaluation_periods "
                f"({self.evaluation_periods})"
            )
        if self.metrics is not None and sum(q.return_data is not False for q in self.metrics if q.expression) < 1:
            raise ValueError("metric math needs one expression that returns data")
        return self


class LogAlarm(SpecModel):
    """A log-alert rule as a metric filter plus an alarm: occurrences per period, with M out of N."""

    rule: str
    log_group: Annotated[str, Field(min_length=1, max_length=512)]
    namespace: str = "opswatch/logs"
    period: int = 60
    evaluation_periods: Annotated[int, Field(ge=1)] = 1
    datapoints_to_alarm: Annotated[int, Field(ge=1)] | None = None
    threshold: float = 1
    treat_missing_data: Literal["breaching", "notBreaching", "ignore", "missing"] | None = None
    actions: Actions = Field(default_factory=Actions)

    @field_validator("log_group")
    @classmethod
    def _group(cls, v: str) -> str:
        return check_log_group(v)

    @model_validator(mode="after")
    def _policy(self) -> LogAlarm:
        if self.treat_missing_data is None:
            raise ValueError(MISSING_DATA_CHOICES)
        return self


class Target(SpecModel):
    """An account and Region to plan, apply and audit in, through a role there (``chalicelib/targets.py``)."""

    account: str
    region: str
    role_arn: str
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: object) -> object:
        try:
            target_rules.target(data)  # the rules the Lambda's OPSWATCH_AUDIT_TARGETS follows too
        except target_rules.TargetError as exc:
            raise ValueError(str(exc)) from None
        return data

    def rules(self) -> target_rules.Target:
        return target_rules.Target(self.account, self.region, self.role_arn, self.name or "")


class Spec(SpecModel):
    filter_prefix: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_FILTER_PREFIX
    metric_filters: list[MetricFilter] = Field(default_factory=list)
    alarms: list[Alarm] = Field(default_factory=list)
    log_alarms: list[LogAlarm] = Field(default_factory=list)
    dashboards: list[Dashboard] = Field(default_factory=list)
    insights: list[InsightsQuery] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list, max_length=target_rules.MAX_TARGETS)

    @model_validator(mode="after")
    def _across(self) -> Spec:
        where = [(t.account, t.region) for t in self.targets]
        twice = next((w for i, w in enumerate(where) if w in where[:i]), None)
        if twice:
            raise ValueError(f"target account {twice[0]} in {twice[1]} is declared twice")
        for kind, items in (("dashboard", self.dashboards), ("insights query", self.insights)):
            names = [x.name for x in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} {dupes[0]!r} is declared twice")
        names = [f.name for f in self.metric_filters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric filter {dupes[0]!r} is declared twice")
        names = [a.name for a in self.alarms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alarm {dupes[0]!r} is declared twice")
        per_group: dict[str, int] = {}
        for f in self.metric_filters:
            if f.regex_count():
                per_group[f.log_group] = per_group.get(f.log_group, 0) + 1
        for group, n in per_group.items():
            if n > MAX_REGEX_FILTERS_PER_GROUP:
                raise ValueError(
                    f"log group {group}: {n} metric filters use regular expressions; AWS allows "
                    f"{MAX_REGEX_FILTERS_PER_GROUP} per log group (LimitExceededException: Resource limit exceeded.)"
                )
        return self


@dataclass
class Loaded:
    spec: Spec
    path: str
    lines: dict[tuple, int]  # YAML path -> line, for messages
    stage: str = ""  # the stage whose ${stage} was substituted; scopes what --prune may delete

    def line_of(self, *path) -> int:
        for k in range(len(path), -1, -1):
            if path[:k] in self.lines:
                return self.lines[path[:k]]
        return 1


def _node_lines(node, path: tuple, out: dict[tuple, int]) -> None:
    import yaml

    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _node_lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*path, i), out)


def _substitute(value, stage: str):
    if isinstance(value, str):
        return value.replace(STAGE, stage)
    if isinstance(value, list):
        return [_substitute(v, stage) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, stage) for k, v in value.items()}
    return value


MAX_SPEC_BYTES = 4 * 1024 * 1024  # hundreds of alarms and dashboards take well under 1 MB


def load(path: str, stage: str | None = None, declares: bool = True) -> Loaded:
    """Read, parse and validate ``path`` for ``stage`` (default: ``OPSWATCH_STAGE``).

    Raises ``SpecError`` with ``FILE:LINE: reason`` per problem.
    """
    import yaml

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)  # bounded: a huge file would be read, parsed and walked whole
        if len(raw) > MAX_SPEC_BYTES:
            raise SpecError([f"{path}: larger than {MAX_SPEC_BYTES:,} bytes, more than any monitors spec needs"], True)
        text = raw.decode("utf-8")
    except OSError as exc:
        raise SpecError([f"{path}: cannot read: {exc.strerror}"], True) from None
    except UnicodeDecodeError as exc:
        raise SpecError([f"{path}: not UTF-8 text (byte {exc.start}); is it compressed or binary?"], True) from None
    try:
        node, data = boundedyaml.load(text)
    except boundedyaml.UnsafeYAML as exc:
        raise SpecError([f"{path}: refused: {exc}"], True) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"{path}:{_yaml_line(exc, text)}: not valid YAML: {_yaml_problem(exc)}"], True) from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _node_lines(node, (), lines)
        repeated = _repeated_keys(node)
        if repeated:
            raise SpecError([f"{path}:{line}: {why}" for line, why in repeated])
    declaring = [k for k in Spec.model_fields if k not in NOT_DECLARING]  # metric_filters, alarms, ...
    if declares and (data is None or (isinstance(data, dict) and not any(k in data for k in declaring))):
        # An empty file (`{}`, `null`, only comments, only filter_prefix or targets) is a mistake, never a wish:
        # with --prune it would plan the deletion of every managed resource. Emptying a stage on purpose names
        # the lists. (``declares=False``: a reader that only wants the targets, the audit of every target.)
        raise SpecError(
            [
                f"{path}: the spec is empty: nothing to declare (to remove every managed resource on purpose, "
                "declare the lists empty, e.g. `metric_filters: []` and `alarms: []`, and pass --prune)"
            ],
            True,
        )
    if not isinstance(data, dict):
        raise SpecError(
            [
                f"{path}:1: the spec is a mapping with metric_filters, alarms, log_alarms, dashboards, insights "
                "and targets"
            ],
            True,
        )
    stage = stage or settings.stage()
    data = _substitute(data, stage)
    loaded = Loaded(Spec.model_construct(), path, lines, stage)
    declared_twice = [f"{path}:{loaded.line_of(*loc)}: {why}" for loc, why in _declared_twice(data)]
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        problems = list(declared_twice)
        for err in exc.errors():
            loc = tuple(err["loc"])
            if declared_twice and not loc and "declared twice" in err["msg"]:
                continue  # said above, at the second declaration's line
            where = ".".join(str(p) for p in loc)
            msg = err["msg"].removeprefix("Value error, ")
            name = _item_name(data, loc)
            if loc[:1] in (("dashboards",), ("insights",)) and len(loc) >= 2 and isinstance(loc[1], int):
                rest = ".".join(str(p) for p in loc[2:])  # dashboards.0 (shop-prod): routes: reason
                where, msg = f"{loc[0]}.{loc[1]}", f"{rest}: {msg}" if rest else msg
            problems.append(f"{path}:{loaded.line_of(*loc)}: {where or 'spec'}{name}: {msg}")
        raise SpecError(problems) from None
    loaded.spec = spec
    return loaded


def _yaml_line(exc, text: str) -> int:
    """The 1-based line of a YAML error: its mark, or (a reader error) the character's position."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return mark.line + 1
    position = getattr(exc, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else 1


def _yaml_problem(exc) -> str:
    """PyYAML's reason in one line: its message goes on with the position over further lines."""
    from chalicelib.printable import shown

    problem = getattr(exc, "problem", None) or str(exc)
    return shown(problem.strip().split("\n", 1)[0])[:300]


def _repeated_keys(node) -> list[tuple[int, str]]:
    """(line, reason) for every key given twice in one mapping.

    YAML forbids it, but PyYAML keeps the last value silently: ``threshold: 10`` then
    ``threshold: 99`` would pass as 99.
    """
    import yaml

    out: list[tuple[int, str]] = []
    stack = [node]
    while stack:  # iterative: a deeply nested document cannot exhaust the stack here
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in n.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else None
                line = key.start_mark.line + 1
                if k is not None and k in first:
                    out.append((line, f"key {k!r} is given twice in one mapping (first at line {first[k]})"))
                elif k is not None:
                    first[k] = line
                stack.append(value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return sorted(out)


def _declared_twice(data: dict) -> list[tuple[tuple, str]]:
    """(YAML path of the later declaration, reason) for each metric filter or alarm name used again."""
    out = []
    for section, kind in (("metric_filters", "metric filter"), ("alarms", "alarm")):
        items = data.get(section)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                why = f"{kind} {name!r} is declared twice (first: {section}.{seen[name]})"
                out.append(((section, i), f"{section}.{i} ({name}): {why}"))
            else:
                seen[name] = i
    return out


def _item_name(data: dict, loc: tuple) -> str:
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data.get(loc[0]), list):
        item = data[loc[0]][loc[1]] if loc[1] < len(data[loc[0]]) else None
        if isinstance(item, dict) and (item.get("name") or item.get("rule")):
            return f" ({item.get('name') or item.get('rule')})"
    return ""
