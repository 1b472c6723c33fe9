"""The ``dashboards:`` and ``insights:`` entries of the monitors spec, checked before any call.

A dashboard entry names what to look at (load balancers, routes, sections); the body
itself is built by ``body.py`` and checked against CloudWatch's documented structure by
``check.py``. An ``insights:`` entry is a saved Logs Insights query (PutQueryDefinition).

>>> Dashboard(name="shop-prod", load_balancers=["app/shop-prod/50dc6c495c0c9188"]).sections[0]
'traffic'
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SECTIONS = ("traffic", "alarms", "log_alerts", "pipeline", "functions", "logs")
Section = Literal["traffic", "alarms", "log_alerts", "pipeline", "functions", "logs"]
# PutDashboard: "The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_"."
_DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# An ALB's LoadBalancer dimension (and the ALB log's elb field): app/<name>/<id>.
_LOAD_BALANCER = re.compile(r"app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}")
_LOG_GROUP = re.compile(r"[._/#A-Za-z0-9-]{1,512}")  # CreateLogGroup's pattern
# A route as routes.route writes it: a path template; quotes and backslashes would break the SEARCH string.
_ROUTE = re.compile(r"[^\"'\\\x00-\x1f]{1,256}")
MAX_ROUTES = 100  # the SORT(..., N) limit kept well inside a widget's 500 metrics
# Logs Insights commands (the query syntax reference); the first word of every piped stage must be one.
INSIGHTS_COMMANDS = frozenset(
    {"fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "unmask", "pattern", "diff"}
    | {"anomaly", "unnest", "filterIndex", "SOURCE", "lookup"}
)
MAX_QUERY_CHARS = 10_000  # PutQueryDefinition / StartQuery: queryString length 0..10000
MAX_QUERY_LOG_GROUPS = 50  # StartQuery: at most 50 log group names


def no_bool_for_a_number(model: type[BaseModel], v, info):
    """Refuse ``true``/``false`` (and YAML 1.1's ``yes``/``on``...) where a number is declared.

    pydantic's lax mode takes a bool as 1 or 0, so ``threshold: true`` or ``routes: yes`` would pass as valid.
    """
    if isinstance(v, bool):
        annotation = str(model.model_fields[info.field_name].annotation)
        if "bool" not in annotation and ("int" in annotation or "float" in annotation):
            raise ValueError(f"expected a number, not {str(v).lower()}")
    return v


class SpecModel(BaseModel):
    """Every model of the monitors spec: unknown keys refused, frozen, no true/false where a number goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, v, info):
        return no_bool_for_a_number(cls, v, info)


def check_log_group(v: str) -> str:
    """CreateLogGroup's name rule, for every log group the monitors spec names."""
    if not _LOG_GROUP.fullmatch(v):
        hint = " (only ${stage} is replaced)" if "${" in v else ""
        raise ValueError(f"{v!r} is not a log group name: letters, digits and . _ - / # only, at most 512{hint}")
    return v


class Dashboard(SpecModel):
    name: str
    load_balancers: Annotated[list[str], Field(min_length=1, max_length=10)]
    routes: int | list[str] = 10
    period: int = 60
    sections: list[Section] = Field(default_factory=lambda: list(SECTIONS))
    log_groups: list[str] | None = None  # the logs section's groups; default: the stage's ALB log group
    route_namespace: str = "opswatch/alb-routes"  # OPSWATCH_ALB_METRICS_NAMESPACE
    metrics_namespace: str = "opswatch"  # POWERTOOLS_METRICS_NAMESPACE: the pipeline's and log alerts' counts
    alarm_graphs: Annotated[int, Field(ge=0, le=8)] = 2  # the first alarms drawn with their threshold

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _DASHBOARD_NAME.fullmatch(v):
            raise ValueError(
                f"dashboard name {v!r}: PutDashboard allows 1 to 255 characters among A-Z, a-z, 0-9, '-' and '_'"
            )
        return v

    @field_validator("load_balancers")
    @classmethod
    def _load_balancers(cls, v: list[str]) -> list[str]:
        for lb in v:
            if not _LOAD_BALANCER.fullmatch(lb):
                raise ValueError(
                    f"load balancer {lb!r}: expected its LoadBalancer dimension, app/<name>/<16 hex digits> "
                    "(the elb field of its access log lines)"
                )
        if len(set(v)) != len(v):
            raise ValueError("a load balancer is listed twice")
        return v

    @field_validator("routes")
    @classmethod
    def _routes(cls, v: int | list[str]) -> int | list[str]:
        if isinstance(v, int):
            if not 1 <= v <= MAX_ROUTES:
                raise ValueError(f"routes: the busiest N routes, N between 1 and {MAX_ROUTES} (not {v})")
            return v
        if not 1 <= len(v) <= MAX_ROUTES:
            raise ValueError(f"routes: between 1 and {MAX_ROUTES} route names")
        for r in v:
            if not _ROUTE.fullmatch(r):
                raise ValueError(f"route {r!r}: 1 to 256 characters, no quote, backslash or control character")
        if len(set(v)) != len(v):
            raise ValueError("a route is listed twice")
        return v

    @field_validator("period")
    @classmethod
    def _period(cls, v: int) -> int:
        # Dashboard Body Structure and Syntax, metric widget "period": 1, 5, 10, 30 or a multiple of 60.
        if v not in (1, 5, 10, 30) and (v <= 0 or v % 60):
            raise ValueError(f"period {v}: CloudWatch graphs take 1, 5, 10, 30 or a multiple of 60 seconds")
        return v

    @field_validator("sections")
    @classmethod
    def _sections(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"sections: at least one of {', '.join(SECTIONS)}")
        if len(set(v)) != len(v):
            raise ValueError("a section is listed twice")
        return v

    @field_validator("log_groups")
    @classmethod
    def _groups(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not 1 <= len(v) <= MAX_QUERY_LOG_GROUPS:
                raise ValueError(f"log_groups: 1 to {MAX_QUERY_LOG_GROUPS} log groups (a Logs Insights query's limit)")
            for g in v:
                check_log_group(g)
        return v


def query_problem(query: str) -> str | None:
    """What is wrong with a Logs Insights query string, if anything (``None``: it looks like a query).

    Checks what can be checked without CloudWatch: length, and that every piped stage starts
    with a command of the query language (a pipe inside quotes or a /regex/ does not split).
    """
    if not query.strip():
        return "the query is empty"
    if len(query) > MAX_QUERY_CHARS:
        return f"the query has {len(query)} characters; Logs Insights takes at most {MAX_QUERY_CHARS}"
    for i, stage in enumerate(split_stages(query)):
        words = stage.split(None, 1)
        if not words:
            return f"stage {i + 1} of the query is empty (two pipes in a row, or a trailing pipe)"
        if words[0] not in INSIGHTS_COMMANDS:
            return (
                f"stage {i + 1} starts with {words[0][:40]!r}, not a Logs Insights command "
                f"({', '.join(sorted(INSIGHTS_COMMANDS, key=str.lower))})"
            )
    return None


def split_stages(query: str) -> list[str]:
    """The query's piped stages; ``|`` inside '...', "...", `...` or /.../ does not split."""
    stages, buf, quote = [], [], None
    prev = ""
    for ch in query:
        if quote:
            buf.append(ch)
            if ch == quote and prev != "\\":
                quote = None
        elif ch in "'\"`":
            quote = ch
            buf.append(ch)
        elif ch == "/" and _regex_may_start("".join(buf)):
            quote = "/"
            buf.append(ch)
        elif ch == "|":
            stages.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        prev = ch if prev != "\\" else ""
    stages.append("".join(buf).strip())
    return stages


def _regex_may_start(before: str) -> bool:
    """A ``/`` opens a regex after ``like``, ``=~``, ``parse FIELD``, ``(`` or ``,`` (not after a value: division)."""
    tail = before.rstrip()
    if not tail:
        return False
    return tail.endswith(("=~", "(", ",", " like", " not like")) or bool(re.search(r"(^|\s)parse\s+\S+$", tail))


class InsightsQuery(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    log_groups: Annotated[list[str], Field(min_length=1, max_length=MAX_QUERY_LOG_GROUPS)]
    query: str
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", v) or v.startswith("/") or "//" in v:
            raise ValueError(
                f"query name {v!r}: letters, digits, '_', '.', '-' and '/' (folders), not starting with '/'"
            )
        return v

    @field_validator("log_groups")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        for g in v:
            check_log_group(g)
        return v

    @model_validator(mode="after")
    def _query(self) -> InsightsQuery:
        why = query_problem(self.query)
        if why:
            raise ValueError(why)
        if self.query.lstrip().startswith("SOURCE"):
            raise ValueError("a saved query names its groups in log_groups, not with SOURCE")
        return self
