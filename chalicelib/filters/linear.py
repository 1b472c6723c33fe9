"""Matching in time linear in the event: ``*`` wildcards and CloudWatch's regex subset.

The rule is ours, the log text is the attacker's. Python's ``re`` backtracks:
``{ $.path = "*/a*/b*/c" }`` as ``.*/a.*/b.*/c`` took 24 s on an 8 KB value, and
``%a*a*a*a*b%`` ran past a minute on 2,000 characters. So:

- a wildcard value is split on ``*`` and each piece found in turn (``Wildcard``);
- a ``%regex%`` is run as an automaton (``LinearRegex``): CloudWatch's subset has no
  groups, so a regex is alternatives of single-character atoms, each with a quantifier.
  A log-alert rule's regex may have groups: a search only asks whether a match exists, so
  each group is written out as the alternatives it offers (``x(a|b)?y`` is ``xy|xay|xby``,
  a bounded ``{m,n}`` too), up to 256 alternatives; a group repeated without bound, a
  back-reference, ``\\b`` or a look-around stays on ``re`` (``unsupported`` says which).
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
    if c.isdigit() or c in "bBAZN":  # back-references, assertions, named characters: left to re
        kind = "back-reference" if c.isdigit() else "named character" if c == "N" else "assertion"
        raise _Unsupported(f"{kind} \\{c}")
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


_MAX_DEPTH = 50  # nested groups: writing them out recurses once per level
_MAX_ALTERNATIVES = 256  # a regex whose groups expand to more alternatives runs on ``re`` (and a rule refuses it)


def _quantifier_end(body: str, i: int) -> int:
    """Where the quantifier starting at ``body[i]`` ends (``i`` when there is none), its lazy ``?`` included."""
    if i < len(body) and body[i] in "*+?":
        j = i + 1
    elif i < len(body) and body[i] == "{" and body[i + 1 : i + 2] != "}" and (m := _QUANT.match(body, i)):
        j = m.end()
    else:
        return i
    return j + 1 if j < len(body) and body[j] in "?+" else j  # lazy; possessive is caught by _parse


def _depth(body: str) -> int:
    """How deep the regex's groups nest (``body`` compiles: its escapes and classes are whole)."""
    depth = deepest = i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(body, i)
            continue
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest


def _without_groups(body: str) -> list[str]:
    """The regex as alternatives with no group in them: ``x(a|b)?y`` -> ``xay``, ``xby``, ``xy``.

    A search only asks whether the text holds a match, so a group is nothing but the choice it
    offers: written out, the automaton takes it. A group repeated without bound (``(ab)+``), a
    back-reference, a look-around or inline flags cannot be written out: ``_Unsupported``.
    """
    alternatives, i = _expand(body, 0)
    if i != len(body):
        raise _Unsupported("unbalanced parenthesis")
    return alternatives


def _expand(body: str, i: int) -> tuple[list[str], int]:
    """Expand from ``body[i]`` to the ``)`` closing the group (or the end); returns (alternatives, where it stopped)."""
    out: list[str] = []
    sequence = [""]  # the alternatives of the branch being read, expanded so far
    while i < len(body) and body[i] != ")":
        c = body[i]
        if c == "|":
            out += sequence
            sequence, i = [""], i + 1
            continue
        if c == "(":
            if body.startswith("(?:", i):
                start = i + 3
            elif body.startswith("(?P<", i):
                start = body.index(">", i) + 1
            elif body.startswith("(?", i):
                raise _Unsupported("look-around, inline flags or back-reference")
            else:
                start = i + 1
            inner, j = _expand(body, start)
            if j >= len(body):
                raise _Unsupported("unbalanced parenthesis")
            i = j + 1
            end = _quantifier_end(body, i)
            quantifier, i = body[i:end], end
            if len(quantifier) > 1 and quantifier[-1] == "?":
                quantifier = quantifier[:-1]  # lazy: the same for whether a match exists
            choices = _repeated(inner, quantifier)
        else:
            if c == "\\":
                end = _escape_end(body, i)
            elif c == "[":
                end = _class_end(body, i)
            else:
                end = i + 1
            end = _quantifier_end(body, end)
            choices, i = [body[i:end]], end
        sequence = [a + b for a in sequence for b in choices]
        if len(sequence) + len(out) > _MAX_ALTERNATIVES:
            raise _Unsupported("too many alternatives once its groups are written out")
    return out + sequence, i


def _repeated(inner: list[str], quantifier: str) -> list[str]:
    """A group's alternatives under its quantifier: none, ``?`` or a bounded ``{m,n}``; unbounded is unsupported."""
    if not quantifier:
        return inner
    if quantifier.endswith("+") and len(quantifier) > 1:
        raise _Unsupported("possessive quantifier")
    if quantifier == "?":
        return ["", *inner]
    m = _QUANT.fullmatch(quantifier)
    if m is None:
        raise _Unsupported("a group repeated without bound")
    low, comma, high = m.groups()
    lo = int(low) if low else 0
    if comma and not high:
        raise _Unsupported("a group repeated without bound")
    hi = int(high) if comma else lo
    out: set[str] = set()
    current = [""]
    for n in range(hi + 1):
        if n >= lo:
            out.update(current)
        if n < hi:
            current = [a + b for a in current for b in inner]
            if len(current) + len(out) > _MAX_ALTERNATIVES:
                raise _Unsupported("too many alternatives once its groups are written out")
    return sorted(out)


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
            raise _Unsupported("groups")  # written out by _without_groups before this reads the regex
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


class _States:
    """The automaton's states built so far (sets of nodes, as numbers) and the moves between them."""

    def __init__(self, nodes: list[tuple]):
        self.nodes = nodes
        self.ids: dict[frozenset, int] = {}
        self.sets: list[frozenset] = []
        self.accepting: list[bool] = []
        self.closed: dict[tuple[int, bool, bool], int] = {}
        self.step: dict[tuple[int, str], int] = {}
        self.lock = threading.Lock()  # new states are made under it (the CLI and tests match from threads)

    def id(self, nodes: frozenset) -> int:
        got = self.ids.get(nodes)
        if got is None:
            got = self.ids[nodes] = len(self.sets)
            self.sets.append(nodes)
            self.accepting.append(any(self.nodes[n][0] == _ACCEPT for n in nodes))
        return got

    def close(self, kernel: int, at_start: bool, at_end: bool) -> int:
        """The state after the moves that read nothing (optional atoms, ``^`` at the start, ``$`` at the end)."""
        key = (kernel, at_start, at_end)
        got = self.closed.get(key)
        if got is not None:
            return got
        with self.lock:
            seen = set(self.sets[kernel])
            todo = list(seen)
            while todo:
                n = todo.pop()
                kind = self.nodes[n][0]
                follows = kind in (_OPT, _STAR) or (kind == _BOL and at_start) or (kind == _EOL and at_end)
                if follows and n + 1 not in seen:
                    seen.add(n + 1)
                    todo.append(n + 1)
            got = self.closed[key] = self.id(frozenset(seen))
        return got

    def advance(self, closed: int, ch: str, starts: frozenset) -> int:
        """The state after reading ``ch`` (a new match may start at every character: ``starts``)."""
        with self.lock:
            nxt = set(starts)
            for n in self.sets[closed]:
                kind, match = self.nodes[n]
                if kind in (_ONE, _OPT, _STAR) and match(ch):
                    nxt.add(n if kind == _STAR else n + 1)
            got = self.step[(closed, ch)] = self.id(frozenset(nxt))
        return got


def repeats(body: str) -> bool:
    """Whether the regex repeats anything (``*``, ``+``, ``?``, ``{m,n}``): without, ``re`` tries each start once.

    Read from ``re``'s own parse of it, so an escaped or bracketed ``*`` is not taken for one.
    """
    from re import _parser  # the parser re.compile uses: the same reading of the regex

    todo = [_parser.parse(body)]
    while todo:
        for op, arg in todo.pop():
            if op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT):
                return True
            for part in arg if isinstance(arg, tuple | list) else ():
                if isinstance(part, _parser.SubPattern):
                    todo.append(part)
                elif isinstance(part, list | tuple):
                    todo.extend(x for x in part if isinstance(x, _parser.SubPattern))
    return False


class LinearRegex:
    """``re.search(body, text) is not None`` for CloudWatch's regex subset, in time linear in ``text``.

    ``pattern`` is the regex's text, as on ``re.Pattern``. ``search`` answers a bool. What the
    automaton does not cover (groups repeated without bound, possessive quantifiers, ``\\b``,
    back-references) runs on ``re``; ``unsupported`` says why.
    """

    def __init__(self, body: str):
        self.pattern = body
        try:
            self._re = re.compile(body)  # the reference, and what runs what the automaton leaves
        except RecursionError:  # re parses groups recursively: a few hundred nested ones exhaust the stack
            raise re.error(f"groups nested deeper than {_MAX_DEPTH} levels", body, 0) from None
        if _depth(body) > _MAX_DEPTH:
            raise re.error(f"groups nested deeper than {_MAX_DEPTH} levels", body, 0)
        self._nodes: list[tuple] | None = None
        self.unsupported: str | None = None  # why the automaton does not run it (then ``re`` does)
        try:
            alternatives = _parse("|".join(_without_groups(body)) if "(" in body else body)
        except _Unsupported as exc:
            self.unsupported = str(exc)
            return
        nodes: list[tuple] = []  # (kind, matcher); each alternative ends in an _ACCEPT node
        starts = []
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
                    self.unsupported = f"more than {_MAX_NODES:,} steps for the automaton"
                    return
            nodes.append((_ACCEPT, None))
        self._nodes = nodes
        self._starts = frozenset(starts)
        self._needles = self._literals(alternatives)
        self._states = _States(nodes)

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

    def search(self, text: str) -> bool:
        if self._nodes is None:
            return self._re.search(text) is not None
        if self._needles is not None and not any(n in text for n in self._needles):
            return False
        states = self._states
        if len(states.sets) > _MAX_CACHE or len(states.step) > _MAX_CACHE:
            states = self._states = _States(self._nodes)  # a search still running keeps the one it has
        n = len(text)
        eol_from = n - 1 if n and text[-1] == "\n" else n
        close, step, accepting, starts = states.close, states.step, states.accepting, self._starts
        with states.lock:
            kernel = states.id(starts)
        for p in range(n + 1):
            state = close(kernel, p == 0, p >= eol_from)
            if accepting[state]:
                return True
            if p == n:
                return False
            ch = text[p]
            kernel = step.get((state, ch))
            if kernel is None:
                kernel = states.advance(state, ch, starts)
        return False
