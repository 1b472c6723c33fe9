"""The restricted regular expressions CloudWatch accepts between ``%`` signs.

AWS documents the subset: letters and digits; the symbols ``: _ # = @ / ; , -``;
the operators ``^ $ ? [ ] { } | \\ * + .``. Parentheses (sub-patterns) and
multi-byte characters are not supported, and ``%something!%`` is refused because
``!`` is not in the list. CloudWatch searches for the expression anywhere in the
text, like ``re.search``.

It runs as ``linear.LinearRegex``: in time linear in the event, whatever the regex.

>>> compile_regex(r"[Ee]rror|[Ff]ail", "").search("Fail here")
True
>>> compile_regex("something!", "")
Traceback (most recent call last):
...
chalicelib.filters.errors.PatternError: invalid filter pattern at position 10: Invalid character(s) in term ...
"""

from __future__ import annotations

import re

from chalicelib.filters.errors import PatternError
from chalicelib.filters.linear import LinearRegex

_SYMBOLS = set(":_#=@/;,-")
_OPERATORS = set("^$?[]{}|\\*+.")
_ALLOWED = "letters, digits, the symbols : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + ."


def compile_regex(body: str, pattern: str, offset: int = 0) -> LinearRegex:
    """Check ``body`` (what stands between the ``%`` signs) and compile it.

    ``offset`` is where ``body`` starts in ``pattern``, so errors point at the right place.
    """
    if not body:
        raise PatternError("empty regular expression between % signs", pattern, offset)

    def term(i: int) -> str:  # how AWS names the place: the regex from its % up to the refused character
        return "%" + body[: i + 1]

    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):  # an escape takes the next character with it
            i += 2
            continue
        if ord(ch) > 127:
            raise PatternError(
                f"Invalid character(s) in term {term(i)!r} (multi-byte character {ch!r} is not supported "
                "in a filter regex)",
                pattern,
                offset + i + 1,
            )
        if ch in "()":
            raise PatternError(
                f"Invalid character(s) in term {term(i)!r} (parentheses, sub-patterns, are not supported "
                "in a filter regex)",
                pattern,
                offset + i + 1,
            )
        if not ch.isalnum() and ch not in _SYMBOLS and ch not in _OPERATORS:
            raise PatternError(
                f"Invalid character(s) in term {term(i)!r} ({ch!r} is not allowed in a filter regex; "
                f"CloudWatch accepts {_ALLOWED})",
                pattern,
                offset + i + 1,
            )
        i += 1
    try:
        return LinearRegex(body)
    except re.error as exc:
        raise PatternError(
            f"Failed to compile regular expression. ({exc.msg})", pattern, offset + (exc.pos or 0) + 1
        ) from None
