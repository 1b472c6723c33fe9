"""Optional ship filter: ship only the records that matter, count all of them.

CloudWatch Logs bills ingestion by the byte, and most ALB traffic is healthy.
A stage may set ``OPSWATCH_ALB_SHIP_FILTER`` to an expression such as
``elb_status_code >= 500 || target_processing_time > 1``; records that do not
match are counted as ``filtered`` and not shipped.

Grammar: conditions ``FIELD OP VALUE`` (OP one of ``= != < <= > >=``; VALUE a
number, ``null`` or a double-quoted string) joined by ``&&`` (binds tighter)
and ``||``. Field names are the record's (see ``fields.FIELDS``).

>>> f = compile_filter("elb_status_code >= 500 || target_processing_time > 1")
>>> f({"elb_status_code": 502, "target_processing_time": 0.1})
True
>>> f({"elb_status_code": 200, "target_processing_time": None})
False
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from chalicelib.alb.fields import FIELDS

Record = dict
Predicate = Callable[[Record], bool]

_COND = re.compile(r'\s*([a-z_]+)\s*(>=|<=|!=|=|<|>)\s*("(?:[^"\\]|\\.)*"|null|-?\d+(?:\.\d+)?)\s*$')
_OPS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class FilterError(ValueError):
    """The ship-filter expression does not parse; the message says which part."""


def _condition(text: str) -> Predicate:
    m = _COND.match(text)
    if m is None:
        raise FilterError(
            f"cannot read condition {text.strip()!r}: expected FIELD OP VALUE, e.g. elb_status_code >= 500"
        )
    name, op, raw = m.groups()
    if name not in FIELDS:
        raise FilterError(f"unknown field {name!r} in {text.strip()!r}")
    fn = _OPS[op]
    if raw == "null":
        if op not in ("=", "!="):
            raise FilterError(f"null can only be compared with = or != in {text.strip()!r}")
        want_null = op == "="
        return lambda rec: (rec.get(name) is None) == want_null
    value: object = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else float(raw)
    if isinstance(value, str) and op not in ("=", "!="):
        raise FilterError(f"strings can only be compared with = or != in {text.strip()!r}")

    def pred(rec: Record) -> bool:
        v = rec.get(name)
        if v is None:
            return op == "!="
        if isinstance(value, float) and not isinstance(v, (int, float)):
            return False
        return fn(v, value)

    return pred


def compile_filter(expr: str | None) -> Predicate | None:
    """Compile an expression into a predicate; ``None`` or blank means ship everything."""
    if expr is None or not expr.strip():
        return None
    alternatives = []
    for alt in expr.split("||"):
        conds = [_condition(c) for c in alt.split("&&")]
        alternatives.append(conds)
    return lambda rec: any(all(c(rec) for c in conds) for conds in alternatives)
