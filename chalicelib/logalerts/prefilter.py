"""The subscription filter's own pattern, derived from the active rules.

CloudWatch Logs invokes the Lambda only for events the subscription's pattern
selects, and every invocation costs. The derived pattern is a coarse superset
of the rules: one ``?"anchor"`` alternative per rule pattern, where an anchor
is text that every event the pattern matches must contain (a required term,
each ``?`` alternative, or the literal text every branch of a regex needs).
The Lambda then applies the exact rules. An anchor that contains another is
dropped (the shorter one already selects its events).

A rule pattern with no anchor (JSON, space-delimited, exclusions only) makes
the subscription select every event, and ``derive`` says which rule did it.

>>> anchors_of_regex(r"java[./]lang[./]OutOfMemoryError\\s*$")
['OutOfMemoryError']
>>> anchors_of_regex(r"^MemoryError:|\\sMemoryError\\x28")
['MemoryError:', 'MemoryError(']
>>> terms_pattern(["Out of memory: Kill", "OOMKilled"])
'?"Out of memory: Kill" ?"OOMKilled"'
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.filters import FilterPattern
from chalicelib.filters.pattern import MAX_PATTERN_LENGTH


class PrefilterError(ValueError):
    """The rules' anchors do not fit in one subscription filter pattern."""


def _split_top(body: str) -> list[str]:
    """Split at ``|`` outside brackets and parentheses."""
    out, depth, cls, cur, i = [], 0, False, [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            cur.append(body[i : i + 2])
            i += 2
            continue
        if cls:
            cls = c != "]" or (cur and cur[-1] == "[")
        elif c == "[":
            cls = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _atom(branch: str, i: int) -> tuple[str | None, int]:
    """The literal character at ``i`` (``None`` for classes, dots, anchors, groups) and where the atom ends."""
    c = branch[i]
    if c == "\\" and i + 1 < len(branch):
        n = branch[i + 1]
        if n == "x" and i + 3 < len(branch) and all(h in "0123456789abcdefABCDEF" for h in branch[i + 2 : i + 4]):
            return chr(int(branch[i + 2 : i + 4], 16)), i + 4
        if n.isalnum():  # \s \d \w \b ...: a class or an assertion
            return None, i + 2
        return n, i + 2
    if c == "[":
        j = i + 1
        if j < len(branch) and branch[j] == "^":
            j += 1
        if j < len(branch) and branch[j] == "]":
            j += 1
        while j < len(branch) and branch[j] != "]":
            j += 2 if branch[j] == "\\" else 1
        return None, j + 1
    if c == "(":
        depth, j = 0, i
        while j < len(branch):
            if branch[j] == "\\":
                j += 2
                continue
            depth += {"(": 1, ")": -1}.get(branch[j], 0)
            j += 1
            if depth == 0:
                break
        return None, j
    if c in ".^$":
        return None, i + 1
    return c, i + 1


def _quantifier(branch: str, i: int) -> tuple[str, int]:
    """('' | 'optional' | 'repeat', end) for the quantifier at ``i``."""
    if i >= len(branch):
        return "", i
    c = branch[i]
    kind, j = "", i
    if c in "?*":
        kind, j = "optional", i + 1
    elif c == "+":
        kind, j = "repeat", i + 1
    elif c == "{":
        end = branch.find("}", i)
        if end != -1:
            low = branch[i + 1 : end].split(",")[0].strip()
            kind, j = ("optional" if low in ("", "0") else "repeat"), end + 1
    if kind and j < len(branch) and branch[j] in "?+":  # lazy or possessive
        j += 1
    return kind, j


def _branch_anchor(branch: str) -> str | None:
    runs, cur, i = [], "", 0
    while i < len(branch):
        lit, i = _atom(branch, i)
        kind, i = _quantifier(branch, i)
        if kind == "optional" or lit is None:
            runs.append(cur)
            cur = ""
        elif kind == "repeat":  # x+: the text before and one x are certain, and the last x adjoins what follows
            runs.append(cur + lit)
            cur = lit
        else:
            cur += lit
    runs.append(cur)
    best = max(runs, key=len)
    return best or None


def anchors_of_regex(body: str) -> list[str] | None:
    """Text every match must contain, one per top-level branch; ``None`` when a branch has none."""
    if "(?" in body.replace("\\(", ""):  # inline flags (case-insensitive...) and look-arounds: no safe anchor
        return None
    anchors = []
    for branch in _split_top(body):
        a = _branch_anchor(branch)
        if a is None:
            return None
        anchors.append(a)
    return anchors


def anchors_of(pattern: FilterPattern) -> list[str] | None:
    """Text every event ``pattern`` matches contains (any one of the list), or ``None``."""
    if pattern.kind != "terms":
        return None
    impl = pattern.impl
    if impl.regex is not None:
        return anchors_of_regex(impl.regex.pattern)
    if impl.required:
        return [max(impl.required, key=len)]
    if impl.any_of:
        return list(impl.any_of)
    return None


def _quotable(anchor: str) -> str:
    """The longest piece of ``anchor`` that a quoted term can hold as it is."""
    pieces = anchor.replace("\\", '"').split('"')
    return max(pieces, key=len)


def minimal(anchors: list[str]) -> list[str]:
    """Drop duplicates and every anchor that contains another; keep the first-seen order."""
    unique = list(dict.fromkeys(_quotable(a) for a in anchors))
    unique = [a for a in unique if a]
    return [a for a in unique if not any(b != a and b in a for b in unique)]


def terms_pattern(anchors: list[str]) -> str:
    kept = minimal(anchors)
    if len(kept) == 1:
        return f'"{kept[0]}"'
    return " ".join(f'?"{a}"' for a in kept)


@dataclass(frozen=True)
class Derived:
    pattern: str  # the subscription filter pattern; "" selects every event
    broad_rules: tuple[str, ...]  # rules that forced "every event"


def derive(rules) -> Derived:
    """The subscription pattern for ``rules`` (a ``RuleSet`` or a list of ``Rule``)."""
    rules = getattr(rules, "rules", rules)
    anchors: list[str] = []
    broad = []
    for rule in rules:
        for p in rule.patterns:
            found = anchors_of(p)
            if found is None:
                broad.append(rule.name)
                break
            anchors += found
    if broad:
        return Derived("", tuple(dict.fromkeys(broad)))
    pattern = terms_pattern(anchors)
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PrefilterError(
            f"the rules' anchors make a pattern of {len(pattern)} characters; CloudWatch allows "
            f"{MAX_PATTERN_LENGTH}. Subscribe with fewer rules (--rules), or give long rules shorter patterns"
        )
    return Derived(pattern, ())
