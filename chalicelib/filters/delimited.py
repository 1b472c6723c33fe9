"""Space-delimited filter patterns: ``[ip, user, ..., status_code = 4* || status_code = 5*, bytes > 1000]``.

The event is split at runs of white space; text in double quotes or square
brackets is one field (without its quotes or brackets). Each pattern field names
an event field and may hold conditions (``= != < > <= >=`` with numbers, ``*``
wildcards or ``%regex%``, joined by ``&&`` and ``||``). ``...`` stands for any
number of fields, once per pattern. A condition may name another field of the
pattern; one naming no field never holds (AWS's own example
``[..., status_code = 4* && bytes > 1000]`` is accepted).

As AWS's recorded answers show (TestMetricFilter, us-east-1, 2026-09), where the
documentation is silent or says otherwise:

- the last field takes the rest of the line when the event has more fields than
  the pattern: ``[w1=ERROR, w2]`` matches ``ERROR request failed`` with ``$w2`` =
  ``request failed``, and a seven-field pattern matches an eight-field line, its
  last field holding ``1534 extra``; an event with fewer fields never matches;
- ``[]`` matches every event and extracts ``$1`` .. ``$n``;
- a second ``...`` is refused (``Duplicate field '...'``), and so is the bare
  value ``SPACE`` (``[kind = SPACE, value]``; quoted, ``"SPACE"`` is accepted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.filters.errors import PatternError
from chalicelib.filters.json_pattern import MAX_REGEX
from chalicelib.filters.lexer import Token, tokenize
from chalicelib.filters.values import Value, compare, value_from

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*$")
_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
ELLIPSIS = "..."
_REFUSED_BARE = ("SPACE",)  # recorded: AWS refuses these unquoted values ("Invalid metric filter pattern")


def _spans(message: str) -> list[tuple[str, int]]:
    """Each field's text and where it starts in the event."""
    out = []
    for m in _FIELD.finditer(message):
        quoted, bracketed, bare = m.groups()
        out.append((quoted if quoted is not None else bracketed if bracketed is not None else bare, m.start()))
    return out


@dataclass(frozen=True)
class Cond:
    name: str
    op: str
    value: Value

    def holds(self, bound: dict[str, str]) -> bool:
        return self.name in bound and compare(self.op, self.value, bound[self.name], strings_are_numbers=True)


@dataclass(frozen=True)
class FieldSpec:
    name: str | None  # None for ..., "" for an unnamed field
    alternatives: tuple[tuple[Cond, ...], ...] = ()  # OR of ANDs; empty: no condition

    def holds(self, bound: dict[str, str]) -> bool:
        return not self.alternatives or any(all(c.holds(bound) for c in alt) for alt in self.alternatives)


def _field(tokens: list[Token], pattern: str, counter: list[int]) -> FieldSpec:
    if not tokens:  # [a, , b] or a trailing comma: one field, unnamed
        return FieldSpec("", ())
    first = tokens[0]
    if len(tokens) == 1 and first.kind == "WORD" and first.text == ELLIPSIS:
        return FieldSpec(None)
    alternatives: list[tuple[Cond, ...]] = []
    current: list[Cond] = []
    i = 0
    while i < len(tokens):
        name = tokens[i]
        if name.kind != "WORD" or not _NAME.match(name.text):
            raise PatternError(f"expected a field name, found {name.text!r}", pattern, name.pos)
        if i + 1 == len(tokens):
            if current or alternatives:
                raise PatternError(f"expected an operator after {name.text!r}", pattern, name.pos)
            return FieldSpec(name.text)
        op = tokens[i + 1]
        if op.kind != "OP":
            raise PatternError(f"expected an operator after {name.text!r}, found {op.text!r}", pattern, op.pos)
        if i + 2 >= len(tokens):
            raise PatternError(f"expected a value after {op.text}", pattern, op.pos)
        if tokens[i + 2].kind == "WORD" and tokens[i + 2].text in _REFUSED_BARE:
            raise PatternError(
                f'Invalid metric filter pattern (quote the value: {name.text} {op.text} "{tokens[i + 2].text}")',
                pattern,
                tokens[i + 2].pos,
            )
        value = value_from(tokens[i + 2], pattern, op.text)
        if value.kind == "regex":
            counter[0] += 1
            if counter[0] > MAX_REGEX:
                raise PatternError(
                    f"Your input has exceeded the maximum of {MAX_REGEX} regular expressions per filter pattern.",
                    pattern,
                    tokens[i + 2].pos,
                )
        current.append(Cond(name.text, op.text, value))
        i += 3
        if i < len(tokens):
            joiner = tokens[i]
            if joiner.kind not in ("AND", "OR"):
                raise PatternError(f"expected && or || or a comma, found {joiner.text!r}", pattern, joiner.pos)
            if joiner.kind == "OR":
                alternatives.append(tuple(current))
                current = []
            i += 1
            if i == len(tokens):
                raise PatternError(f"expected a condition after {joiner.text}", pattern, joiner.pos)
    alternatives.append(tuple(current))
    return FieldSpec(alternatives[0][0].name, tuple(alternatives))


@dataclass(frozen=True)
class DelimitedPattern:
    text: str
    fields: tuple[FieldSpec, ...]  # empty for [], which matches every event

    def match(self, message: str) -> dict[str, str] | None:
        spans = _spans(message)
        values = [text for text, _ in spans]
        if not self.fields:
            return {f"${i + 1}": v for i, v in enumerate(values)}
        specs = self.fields
        if len(values) > len(specs) and all(s.name is not None for s in specs):
            # More fields than the pattern (which has no ...): the last one takes the rest, as written.
            last = len(specs) - 1
            values = [*values[:last], message[spans[last][1] :].rstrip()]

        def align(pi: int, ei: int, named: dict[str, int]) -> dict[str, int] | None:
            if pi == len(specs):
                if ei != len(values):
                    return None
                bound = {name: values[i] for name, i in named.items()}
                return named if all(s.holds(bound) for s in specs) else None
            spec = specs[pi]
            if spec.name is None:
                for k in range(ei, len(values) + 1):
                    got = align(pi + 1, k, named)
                    if got is not None:
                        return got
                return None
            if ei >= len(values):
                return None
            return align(pi + 1, ei + 1, {**named, spec.name: ei} if spec.name else named)

        named = align(0, 0, {})
        if named is None:
            return None
        # Named fields by name; the others (under ... or unnamed) by position, as CloudWatch reports them.
        by_index = {i: name for name, i in named.items()}
        return {f"${by_index.get(i, i + 1)}": v for i, v in enumerate(values)}


def parse_delimited_pattern(text: str) -> DelimitedPattern:
    tokens = tokenize(text)
    if not tokens or tokens[0].kind != "LBRACKET":
        raise PatternError("a space-delimited pattern starts with [", text, 1)
    if tokens[-1].kind != "RBRACKET":
        raise PatternError("a space-delimited pattern ends with ]", text, len(text))
    fields: list[FieldSpec] = []
    group: list[Token] = []
    counter = [0]
    for tok in tokens[1:-1]:
        if tok.kind == "COMMA":
            fields.append(_field(group, text, counter))
            group = []
        elif tok.kind in ("LBRACKET", "RBRACKET", "LBRACE", "RBRACE", "LPAREN", "RPAREN", "SELECTOR"):
            raise PatternError(f"{tok.text!r} is not allowed inside a space-delimited pattern", text, tok.pos)
        else:
            group.append(tok)
    if group or fields:
        fields.append(_field(group, text, counter))
    ellipses = [t.pos for t in tokens if t.kind == "WORD" and t.text == ELLIPSIS]
    if len(ellipses) > 1:
        raise PatternError("Duplicate field '...'", text, ellipses[1])
    names = [f.name for f in fields if f.name]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise PatternError(f"Duplicate field {sorted(dupes)[0]!r} (a field name is used twice)", text, None)
    return DelimitedPattern(text, tuple(fields))
