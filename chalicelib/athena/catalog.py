"""The named queries in ``chalicelib/athena/sql/queries/``, their parameters, and binding values to them safely.

Each query file starts with a header::

    -- top_5xx_paths: The URL paths (no query string) with the most 5xx answers.
    -- param limit integer 20: how many paths

Every query also takes ``start`` and ``end`` (ISO-8601, default the last 24 hours),
``elb`` (default: every load balancer), ``account`` and ``region`` (default: every
account and Region of a central bucket's table) and ``by_account`` (``true``: the
figures per account, with an ``account`` column). A query file marks where
these go with SQL comments, so the file as written is the plain query:
``/*origin*/`` after its WHERE's conditions becomes ``AND account = :account`` (and
``region``) when given; when ``by_account`` is true, ``/*account,*/`` becomes ``account,``
and ``/*,account*/`` becomes ``, account`` in the SELECT, GROUP BY and ORDER BY lists (the
latter after ordinals such as ``GROUP BY 1``, which it must not shift), and ``/*per_account*/``
becomes ``PARTITION BY account`` in a ranking window (the top N of each account). The SQL names parameters as
``:name``; ``bind`` checks each value's type before anything is sent and turns
the names into positional ``?`` markers with the values in order, plus the
derived ``start_day``/``end_day`` that select the ``day`` partitions, so Athena
reads only the days asked for. Values never enter the SQL text: a value like
``x' OR '1'='1`` is data and matches nothing.

>>> q = load_catalog()["top_5xx_paths"]
>>> [p.name for p in q.params], q.param("limit").default
(['start', 'end', 'elb', 'account', 'region', 'by_account', 'limit'], '20')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chalicelib import settings

SQL_DIR = Path(__file__).resolve().parent / "sql"  # inside chalicelib: the scheduled report runs them in Lambda
QUERIES_DIR = SQL_DIR / "queries"
TYPES = ("timestamp", "string", "integer", "boolean")
_HEADER = re.compile(r"--\s*([a-z0-9_]+):\s*(.+)")
_PARAM = re.compile(r"--\s*param\s+([a-z_][a-z0-9_]*)\s+(timestamp|string|integer|boolean)\s+(\S+)(?::\s*(.*))?")
_MARK = re.compile(r"'(?:[^']|'')*'|:([a-z_][a-z0-9_]*)")


class QueryError(ValueError):
    """An unknown query, an unknown or mistyped parameter: nothing was sent."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    help: str = ""


COMMON = (
    Param("start", "timestamp", None, "ISO-8601; default 24 hours before end"),
    Param("end", "timestamp", None, "ISO-8601; default now"),
    Param("elb", "string", "", "one load balancer (its elb field, e.g. app/shop/50dc6c495c0c9188); default all"),
    Param("account", "string", "", "one account (12 digits) of a central bucket; default all"),
    Param("region", "string", "", "one Region (e.g. eu-west-1); default all"),
    Param("by_account", "boolean", "false", "true: the figures per account, with an account column"),
)
_ACCOUNT = settings.ACCOUNT_ID
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    params: tuple[Param, ...]
    sql: str  # Athena's (Trino) dialect, with :name parameters
    path: Path

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise QueryError(f"query {self.name} has no parameter {name!r}; it takes {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]


def parse_query(path: Path) -> NamedQuery:
    lines = path.read_text(encoding="utf-8").splitlines()
    m = _HEADER.fullmatch(lines[0].strip()) if lines else None
    if m is None or m.group(1) != path.stem:
        raise QueryError(f"{path}: the first line must be '-- {path.stem}: what it answers'")
    params = list(COMMON)
    body_start = 1
    for line in lines[1:]:
        pm = _PARAM.fullmatch(line.strip())
        if pm is None:
            break
        params.append(Param(pm.group(1), pm.group(2), pm.group(3), pm.group(4) or ""))
        body_start += 1
    return NamedQuery(path.stem, m.group(2).strip(), tuple(params), "\n".join(lines[body_start:]).strip(), path)


def load_catalog(directory: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    return {p.stem: parse_query(p) for p in sorted(directory.glob("*.sql"))}


def _timestamp(value: str, name: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"parameter {name}: {value!r} is not an ISO-8601 time (e.g. 2026-11-26T14:00:00Z)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


MAX_INTEGER = 2**63 - 1  # BIGINT, the widest integer Athena (and DuckDB) compares with


def typed_values(query: NamedQuery, given: dict[str, str], now: datetime | None = None) -> dict[str, object]:
    """Every parameter's value, checked against its type; defaults filled in. Raises ``QueryError``."""
    unknown = sorted(set(given) - set(query.names))
    if unknown:
        raise QueryError(f"query {query.name} has no parameter {unknown[0]!r}; it takes {', '.join(query.names)}")
    now = now or datetime.now(UTC)
    out: dict[str, object] = {}
    for p in query.params:
        raw = given.get(p.name, p.default)
        if p.type == "timestamp":
            continue
        if p.type == "boolean":
            text = str(raw).strip().lower()
            if text not in _TRUE + _FALSE:
                raise QueryError(f"parameter {p.name}: {raw!r} is not true or false")
            out[p.name] = text in _TRUE
            continue
        if p.type == "integer":
            try:
                value = int(str(raw))
            except ValueError:
                raise QueryError(f"parameter {p.name}: {raw!r} is not a whole number") from None
            if value < 0:
                raise QueryError(f"parameter {p.name}: must be 0 or more, got {value}")
            if value > MAX_INTEGER:  # Athena's and DuckDB's BIGINT: past it Athena fails, DuckDB overflows
                raise QueryError(f"parameter {p.name}: must be at most {MAX_INTEGER:,} (a 64-bit integer), got {raw}")
            out[p.name] = value
        else:
            if len(str(raw)) > 1024:
                raise QueryError(f"parameter {p.name}: longer than 1024 characters")
            out[p.name] = str(raw)
    if out.get("account") and not _ACCOUNT.fullmatch(str(out["account"])):
        raise QueryError(f"parameter account: {str(out['account'])[:40]!r} is not a 12-digit AWS account id")
    if out.get("region") and not _REGION.fullmatch(str(out["region"])):
        raise QueryError(f"parameter region: {str(out['region'])[:40]!r} is not a Region name (e.g. eu-west-1)")
    end = _timestamp(given["end"], "end") if given.get("end") else now
    start = _timestamp(given["start"], "start") if given.get("start") else end - timedelta(hours=24)
    if start >= end:
        raise QueryError(f"start ({_iso(start)}) must be before end ({_iso(end)})")
    out.update(start=_iso(start), end=_iso(end), start_day=start.strftime("%Y/%m/%d"), end_day=end.strftime("%Y/%m/%d"))
    return out


def expand(sql: str, values: dict[str, object]) -> str:
    """The query's comment marks filled in from ``account``, ``region`` and ``by_account`` (fixed text only).

    Nothing from a value enters the SQL: a given account or Region adds the condition with its
    ``:name`` parameter, bound like every other value.
    """
    origin = "".join(f" AND {k} = :{k}" for k in ("account", "region") if values.get(k))
    per = values.get("by_account") is True
    return (
        sql.replace("/*origin*/", origin)
        .replace("/*account,*/", "account," if per else "")
        .replace("/*,account*/", ", account" if per else "")
        .replace("/*per_account*/", "PARTITION BY account" if per else "")
    )


def needs_origin(values: dict[str, object], projection: str) -> str | None:
    """Why Athena would refuse the query (``injected`` projection: account and Region must be given), or None."""
    if projection != "injected":
        return None
    missing = [k for k in ("account", "region") if not values.get(k)]
    if not missing:
        return None
    return (
        f"the table projects account and Region as injected: every query must name both; "
        f"pass --param {missing[0]}=..." + (f" and --param {missing[1]}=..." if len(missing) > 1 else "")
    )


def bind(sql: str, values: dict[str, object]) -> tuple[str, list[object]]:
    """``:name`` markers (outside string literals) become ``?``; returns the SQL and the values in order.

    The comment marks of ``expand`` are filled in first.
    """
    sql = expand(sql, values)
    ordered: list[object] = []

    def mark(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)  # a string literal: left as written
        if m.group(1) not in values:
            raise QueryError(f"the query uses :{m.group(1)}, which is not a parameter")
        ordered.append(values[m.group(1)])
        return "?"

    return _MARK.sub(mark, sql), ordered


def athena_literal(value: object) -> str:
    """A value as the SQL literal text Athena's ExecutionParameters take (a string carries its own quotes)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise QueryError(f"cannot send {value!r} as a parameter")
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"
