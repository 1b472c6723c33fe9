"""A log-alert rule's filter patterns as a Logs Insights ``filter`` condition, to list the lines it matched.

Term patterns translate exactly: a required term is ``@message like "term"`` (a substring,
case-sensitive, like the filter pattern), ``?a ?b`` alone is ``a or b``, ``-term`` is
``not @message like "term"``, and ``%regex%`` is ``@message like /regex/``. AWS's recorded
behaviour is kept: ``?`` alternatives next to a required or excluded term are ignored (see
``chalicelib/filters/unstructured.py``). JSON and space-delimited patterns have no such
translation and are left out; a rule with none left gives ``None``.

>>> from chalicelib.filters import compile_pattern
>>> condition([compile_pattern('?OOMKilled ?"OOM hit"'), compile_pattern('ERROR -DEBUG')])
'(@message like "OOMKilled" or @message like "OOM hit") or (@message like "ERROR" and not @message like "DEBUG")'
"""

from __future__ import annotations

import re


def _string(term: str) -> str:
    return '"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one(pattern) -> str | None:
    if pattern.kind != "terms":
        return None
    p = pattern.impl
    if p.regex is not None:
        return "@message like /" + re.sub(r"(?<!\\)/", r"\/", p.regex.pattern) + "/"  # an unescaped / ends it
    parts = [f"@message like {_string(t)}" for t in p.required]
    parts += [f"not @message like {_string(t)}" for t in p.excluded]
    if p.any_of and not parts:
        alternatives = " or ".join(f"@message like {_string(t)}" for t in p.any_of)
        return f"({alternatives})" if len(p.any_of) > 1 else alternatives
    if not parts:
        return None  # the empty pattern matches everything: no use in a list of matched lines
    return " and ".join(parts) if len(parts) == 1 else "(" + " and ".join(parts) + ")"


def condition(patterns) -> str | None:
    """Any of ``patterns`` as one condition; ``None`` when none translates."""
    parts = [c for c in (_one(p) for p in patterns) if c]
    return " or ".join(parts) if parts else None
