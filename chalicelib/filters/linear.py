"""Matching in time linear in the event: ``*`` wildcards and CloudWatch's regex subset.

The rule is ours, the log text is the attacker's. Python's ``re`` backtracks:
``{ $.path = "*/a*/b*/c" }`` as ``.*/a.*/b.*/c`` took 24 s on an 8 KB value, and
``%a*a*a*a*b%`` ran past a minute on 2,000 characters. So:

- a wildcard value is split on ``*`` and each piece found in turn (``Wildcard``);
- a ``%regex%`` is run as an automaton (``LinearRegex``): CloudWatch's subset has no
  groups, so a regex is alternatives of single-character atoms, each with a quantifier.
  Its states are built as the text asks for them and cached, so each character of the
  event costs a dictionary look-up or two, whatever the regex.

Both agree with ``re`` on what matches (tests compare them over generated regexes and texts).

>>> Wildcard.of("*/a*/b*/c").fullmatch("x/a1/b2/c")
True
>>> LinearRegex(r"a*a*a*a*b").search("a" * 5000)
False
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_MAX_NODES = 2000  # a regex asking for more (``x{5000}``) runs on ``re``: rules are ours, not the attacker's
_MAX_CACHE = 20_000  # cached states and transitions per regex; past it the cache starts again


@dataclass(frozen=True)
class Wildcard:
    """A string value with ``*`` wildcards, matched against the whole of a field.

    Greedy leftmost search is exact for ``*`` alone: once the first piece is placed as
    early as it can be, placing it later never lets the remaining pieces fit where they
    could not before.
    """

    parts: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Wildcard:
        return cls(tuple(text.split("*")))

    def fullmatch(self, s: str) -> bool:
        first, *middle, last = self.parts
        if len(s) < len(first) + len(last) or not s.startswith(first) or not s.endswith(last):
            return False
        pos, end = len(first), len(s) - len(last)
        for piece in middle:
            if not piece:
                continue
            at = s.find(piece, pos, end)
            if at < 0:
                return False
            pos = at + len(piece)
        return True


class _Unsupported(Exception):
    """A construct the automaton leaves to ``re`` (possessive quantifiers, word boundaries...)."""


# node kinds
_ONE, _OPT, _STAR, _BOL, _EOL, _ACCEPT = range(6)
_QUANT = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")


def _escape_end(body: str, i: int) -> int:
    """Where the escape starting at ``body[i] == '\\'`` ends (exclusive)."""
    if i + 1 >= len(body):
        raise _Unsupported("trailing backslash")
    c = body[i + 1]
    if c == "x":
        return i + 4
    if c == "u":
        return i + 6
    if c == "U":
        return i + 10
    if c == "0":
        j = i + 2
        while j < i + 4 and j < len(body) and body[j] in "01234567":
            j += 1
        return j
    if c.isdigit() or c in "bBAZN":
        raise _Unsupported(f"\\{c}")  # back-references, assertions, named characters: left to re
    return i + 2


def _class_end(body: str, i: int) -> int:
    """Where the character class starting at ``body[i] == '['`` ends (exclusive), as ``re`` reads it."""
    j = i + 1
    if j < len(body) and body[j] == "^":
        j += 1
    if j < len(body) and body[j] == "]":
        j += 1
    while j < len(body):
        if body[j] == "\\":
            j += 2
            continue
        if body[j] == "]":
            return j + 1
        j += 1
    raise _Unsupported("unclosed class")


def _matcher(atom: str):
    if atom == ".":
        return lambda ch: ch != "\n"
    if len(atom) == 1:
        return atom.__eq__
    compiled = re.compile(atom)
    return lambda ch: compiled.fullmatch(ch) is not None


def _parse(body: str) -> list[list[tuple]]:
    """Alternatives, each a list of ``("atom", text, min, max|None)`` or ``("bol"|"eol",)``."""
    alternatives: list[list[tuple]] = [[]]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "|":
            alternatives.append([])
            i += 1
            continue
        if c in "()":
            raise _Unsupported("groups")  # CloudWatch refuses them; a log-alert rule's Python regex may have them
        if c in "^$":
            alternatives[-1].append(("bol" if c == "^" else "eol",))
            i += 1
            if i < len(body) and body[i] in "*+?{" and (body[i] != "{" or _QUANT.match(body, i)):
                raise _Unsupported("quantified assertion")
            continue
        if c == "\\":
            end = _escape_end(body, i)
        elif c == "[":
            end = _class_end(body, i)
        else:
            end = i + 1
        atom, i = body[i:end], end
        lo, hi = 1, 1
        if i < len(body) and body[i] in "*+?":
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[body[i]]
            i += 1
        elif i < len(body) and body[i] == "{" and body[i + 1 : i + 2] != "}" and (m := _QUANT.match(body, i)):
            low, comma, high = m.groups()
            lo = int(low) if low else 0
            hi = (int(high) if high else None) if comma else lo
            i = m.end()
        else:
            alternatives[-1].append(("atom", atom, 1, 1))
            continue
        if i < len(body) and body[i] == "+":
            raise _Unsupported("possessive quantifier")
        if i < len(body) and body[i] == "?":
            i += 1  # lazy: the same for whether a match exists
        alternatives[-1].append(("atom", atom, lo, hi))
    return alternatives


class LinearRegex:
    """``re.search(body, text) is not None`` for CloudWatch's regex subset, in time linear in ``text``.

    ``pattern`` is the regex's text, as on ``re.Pattern``. ``search`` answers a bool. What the
    automaton does not cover (groups, possessive quantifiers, ``\b``, back-references) runs on ``re``.
    """

    def __init__(self, body: str):
        self.pattern = body
        self._re = re.compile(body)  # the reference, and what runs what the automaton leaves
        try:
            alternatives = _parse(body)
        except _Unsupported:
            self._nodes = None
            return
        nodes: list[tuple] = []  # (kind, matcher)
        starts = []
        accepts = []
        for alt in alternatives:
            starts.append(len(nodes))
            for item in alt:
                if item[0] != "atom":
                    nodes.append((_BOL if item[0] == "bol" else _EOL, None))
                    continue
                _, atom, lo, hi = item
                match = _matcher(atom)
                nodes.extend((_ONE, match) for _ in range(lo))
                if hi is None:
                    nodes.append((_STAR, match))
                else:
                    nodes.extend((_OPT, match) for _ in range(hi - lo))
                if len(nodes) > _MAX_NODES:
                    self._nodes = None
                    return
            accepts.append(len(nodes))
            nodes.append((_ACCEPT, None))
        self._nodes = nodes
        self._starts = frozenset(starts)
        self._needles = self._literals(alternatives)
        self._lock = threading.RLock()  # new states are made under it (the CLI and tests match from threads)
        self._reset()

    @staticmethod
    def _literals(alternatives) -> tuple[str, ...] | None:
        """The longest literal run of each alternative: a text holding none of them cannot match."""
        needles = []
        for alt in alternatives:
            best = run = ""
            for item in alt:
                if item[0] == "atom" and len(item[1]) == 1 and item[1] != "." and item[2] >= 1:
                    _, ch, lo, hi = item
                    run += ch * lo
                    best = max(best, run, key=len)
                    if hi != lo:  # only its last repetition is next to what follows
                        run = ch
                else:
                    run = ""
            if not best:
                return None
            needles.append(best)
        return tuple(needles)

    def _reset(self) -> None:
        self._ids: dict[frozenset, int] = {}
        self._sets: list[frozenset] = []
        self._accepting: list[bool] = []
        self._closed: dict[tuple[int, bool, bool], int] = {}
        self._step: dict[tuple[int, str], int] = {}

    def _id(self, nodes: frozenset) -> int:
        got = self._ids.get(nodes)
        if got is None:
            got = self._ids[nodes] = len(self._sets)
            self._sets.append(nodes)
            self._accepting.append(any(self._nodes[n][0] == _ACCEPT for n in nodes))
        return got

    def _close(self, kernel: int, at_start: bool, at_end: bool) -> int:
        key = (kernel, at_start, at_end)
        got = self._closed.get(key)
        if got is not None:
            return got
        with self._lock:
            return self._close_locked(kernel, at_start, at_end, key)

    def _close_locked(self, kernel: int, at_start: bool, at_end: bool, key: tuple) -> int:
        seen = set(self._sets[kernel])
        todo = list(seen)
        while todo:
            n = todo.pop()
            kind = self._nodes[n][0]
            if (kind in (_OPT, _STAR) or (kind == _BOL and at_start) or (kind == _EOL and at_end)) and (
                n + 1 not in seen
            ):
                seen.add(n + 1)
                todo.append(n + 1)
        got = self._closed[key] = self._id(frozenset(seen))
        return got

    def _advance(self, closed: int, ch: str) -> int:
        with self._lock:
            return self._advance_locked(closed, ch)

    def _advance_locked(self, closed: int, ch: str) -> int:
        nxt = set(self._starts)
        for n in self._sets[closed]:
            kind, match = self._nodes[n]
            if kind in (_ONE, _OPT, _STAR) and match(ch):
                nxt.add(n if kind == _STAR else n + 1)
        got = self._step[(closed, ch)] = self._id(frozenset(nxt))
        return got

    def search(self, text: str) -> bool:
        if self._nodes is None:
            return self._re.search(text) is not None
        if self._needles is not None and not any(n in text for n in self._needles):
            return False
        if len(self._sets) > _MAX_CACHE or len(self._step) > _MAX_CACHE:
            with self._lock:
                self._reset()
        n = len(text)
        eol_from = n - 1 if n and text[-1] == "\n" else n
        close, step, accepting = self._close, self._step, self._accepting
        with self._lock:
            kernel = self._id(self._starts)
        for p in range(n + 1):
            state = close(kernel, p == 0, p >= eol_from)
            if accepting[state]:
                return True
            if p == n:
                return False
            ch = text[p]
            kernel = step.get((state, ch))
            if kernel is None:
                kernel = self._advance(state, ch)
        return False
