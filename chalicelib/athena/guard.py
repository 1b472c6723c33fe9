"""The full-scan guard of ``opswatch athena sql``: is every scan of the ALB table bounded by ``day``?

Athena bills by the bytes it reads, and ``alb_access_logs`` is partition-projected on
``day``: without a ``day`` condition the query reads every log ever written. The
decision comes from the parsed query (sqlglot, Trino dialect), never from its text,
so a ``day`` condition in a comment, in a string literal, or OR-ed away does not count.
A scan is bounded when the SELECT that reads the table has a WHERE whose top level is
a conjunction (``AND``) holding a comparison of the table's ``day`` column with a
constant (``=``, ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN``, ``IN``; a string constant must
be a partition day, ``yyyy/MM/dd``, as ``day >= ''`` bounds nothing). Anything else, a
subquery filtered from outside included, counts as unbounded: the guard would
rather ask for ``--allow-full-scan`` than let a scan through.

CLI-only (sqlglot): no Lambda imports this module.

>>> unbounded_scans("SELECT * FROM alb_access_logs WHERE day >= '2026/11/20' AND elb_status_code >= 500")
[]
>>> unbounded_scans("SELECT * FROM alb_access_logs WHERE day >= '2026/11/20' OR 1 = 1")
["alb_access_logs: its WHERE has no day condition AND-ed at the top (day >= '2026/11/20' OR 1 = 1)"]
"""

from __future__ import annotations

import re

TABLE = "alb_access_logs"
DAY = "day"


class GuardError(ValueError):
    """The query is empty or cannot be parsed, so the guard cannot decide."""


_DAY_VALUE = re.compile(r"\d{4}/\d{2}/\d{2}")  # the table's day partition, as projected


def unbounded_scans(sql: str, table: str = TABLE) -> list[str]:
    """One reason per scan of ``table`` that no top-level ``day`` condition bounds; [] when all are bounded."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    from chalicelib.athena.local import quiet_sqlglot

    quiet_sqlglot()
    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except (ParseError, TokenError) as exc:
        raise GuardError(f"the query cannot be parsed: {str(exc).splitlines()[0]}") from None
    if not statements:
        raise GuardError("the query is empty")
    reasons = []
    for statement in statements:
        for scan in statement.find_all(exp.Table):
            if scan.name.lower() != table:
                continue
            select = scan.find_ancestor(exp.Select)
            from_or_join = scan.find_ancestor(exp.From, exp.Join)
            if select is None or from_or_join is None or from_or_join.find_ancestor(exp.Select) is not select:
                reasons.append(f"{table}: read outside a SELECT's FROM or JOIN")
                continue
            where = select.args.get("where")
            if where is None:
                reasons.append(f"{table}: its SELECT has no WHERE")
            elif not any(_bounds_day(c, scan) for c in _conjuncts(where.this)):
                reasons.append(f"{table}: its WHERE has no day condition AND-ed at the top ({where.this.sql('trino')})")
    return reasons


def _conjuncts(node):
    """The terms of a top-level AND chain, parentheses removed."""
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _bounds_day(term, scan) -> bool:
    """Whether ``term`` compares the scanned table's ``day`` column with a constant."""
    from sqlglot import exp

    if isinstance(term, exp.EQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
        sides = [term.left, term.right]
    elif isinstance(term, exp.Between):
        sides = [term.this, term.args.get("low"), term.args.get("high")]
    elif isinstance(term, exp.In) and not term.args.get("query"):
        sides = [term.this, *term.expressions]
    else:
        return False
    days = [s for s in sides if _is_day(s, scan)]
    others = [s for s in sides if s is not None and not _is_day(s, scan)]
    return (
        len(days) == 1
        and bool(others)
        and not any(o.find(exp.Column, exp.Select) for o in others)
        and all(_day_like(o) for o in others)
    )


def _day_like(node) -> bool:
    """A string constant must be a partition day (``yyyy/MM/dd``): ``day >= ''`` bounds nothing."""
    from sqlglot import exp

    if isinstance(node, exp.Literal) and node.is_string:
        return _DAY_VALUE.fullmatch(node.this) is not None
    return True


def _is_day(node, scan) -> bool:
    from sqlglot import exp

    if not isinstance(node, exp.Column) or node.name.lower() != DAY:
        return False
    qualifier = node.table.lower()
    return not qualifier or qualifier in {scan.name.lower(), scan.alias_or_name.lower()}
