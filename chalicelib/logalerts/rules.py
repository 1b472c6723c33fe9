"""Log-alert rules: a name, a severity, a description and a match, checked at load.

A rule matches an event when any of its CloudWatch filter patterns matches it
(the project's own engine, so users learn one syntax) and, where the syntax
cannot say it, a check in code also holds (a user's full regular expression,
or a built-in comparison such as a Lambda ``REPORT`` line at its memory limit).

Users add rules in the stage config (``OPSWATCH_LOG_ALERT_RULES``, a JSON list)
or a rules file (``OPSWATCH_LOG_ALERT_RULES_FILE``, YAML or JSON)::

    - name: payments-deadlock
      severity: critical              # critical | warning | info
      description: Postgres gave up on a transaction
      pattern: '"deadlock detected"'  # or a list of patterns, any of which matches
      regex: 'deadlock detected.*payments'   # optional: a Python regex that must also match
      channel: '#payments'            # optional: overrides the routes
      mention: here                   # optional: here, channel, U..., S...
      samples: {match: ['ERROR: deadlock detected'], no_match: ['no deadlock']}

A malformed rule is refused at load with its name and what is wrong (for a
pattern, the engine's position); so is a rule whose samples do not hold.
A user rule with a built-in rule's name replaces it.

>>> r = rule_from_dict({"name": "deadlock", "severity": "warning", "pattern": '"deadlock detected"'}, "test")
>>> r.matches("ERROR: deadlock detected"), r.matches("all good")
(True, False)
>>> rule_from_dict({"name": "bad", "severity": "warning", "pattern": '{ $.x = }'}, "test")
Traceback (most recent call last):
...
chalicelib.logalerts.rules.RuleError: test: rule 'bad': invalid filter pattern at position 9: ...
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from chalicelib import boundedjson
from chalicelib.filters import FilterPattern, PatternError, compile_pattern, sample_problems
from chalicelib.filters.linear import LinearRegex, repeats
from chalicelib.logalerts.builtin import SPECS
from chalicelib.slack.routing import RoutesError, mention_markup

SEVERITIES = ("critical", "warning", "info")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEYS = {"name", "severity", "description", "pattern", "regex", "channel", "mention", "samples"}
MAX_RULES_FILE_CHARS = 1024 * 1024  # hundreds of rules take well under 100 KB; a device or a huge file is refused


class RuleError(ValueError):
    """A rule that cannot be used; the message names where it came from, the rule and why."""


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    description: str
    patterns: tuple[FilterPattern, ...]  # any of them matches; also what CloudWatch prefilters on
    check: Callable[[str], bool] | None = None  # must hold too, where a pattern cannot say it
    check_doc: str | None = None  # the check in words, for `opswatch logs rules`
    channel: str | None = None
    mention: str | None = None
    sample_matches: tuple[str, ...] = ()
    sample_misses: tuple[str, ...] = ()
    builtin: bool = False
    source: str = "built-in"

    def matches(self, message: str) -> bool:
        if not any(p.match(message) is not None for p in self.patterns):
            return False
        return self.check is None or self.check(message)

    def verify_samples(self) -> None:
        """Raise ``RuleError`` naming the first sample that does not behave as declared."""
        problems = sample_problems(self.matches, self.sample_matches, self.sample_misses)
        if problems:
            raise RuleError(f"{self.source}: rule {self.name!r}: {problems[0]}")

    def as_dict(self) -> dict:
        out = {
            "name": self.name,
            "severity": self.severity,
            "description": self.description,
            "patterns": [p.text for p in self.patterns],
            "source": self.source,
        }
        if self.check_doc:
            out["check"] = self.check_doc
        if self.channel:
            out["channel"] = self.channel
        if self.mention:
            out["mention"] = self.mention
        return out


@dataclass
class _Where:
    source: str
    name: str = "?"

    def error(self, why: str) -> RuleError:
        return RuleError(f"{self.source}: rule {self.name!r}: {why}")


def _short(value: object) -> str:
    """A bounded repr for messages: a rules file can hold a huge value where a rule belongs."""
    import reprlib

    return reprlib.repr(value)


def _text(value: object, what: str, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"{what} must be non-empty text, got {_short(value)}")
    return value


def _samples(value: object, where: _Where) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if value is None:
        return (), ()
    if not isinstance(value, dict) or set(value) - {"match", "no_match"}:
        raise where.error("samples must be a mapping with match and/or no_match lists")
    out = []
    for key in ("match", "no_match"):
        items = value.get(key) or []
        if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
            raise where.error(f"samples.{key} must be a list of log lines")
        out.append(tuple(items))
    return out[0], out[1]


def rule_from_dict(data: object, source: str) -> Rule:
    """One user rule, validated; ``source`` names where it came from in errors."""
    where = _Where(source)
    if not isinstance(data, dict):
        raise RuleError(f"{source}: a rule must be a mapping with name, severity and pattern, got {_short(data)}")
    if isinstance(data.get("name"), str):
        where.name = data["name"]
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise where.error(f"unknown key(s) {', '.join(unknown)}; a rule takes {', '.join(sorted(_KEYS))}")
    name = _text(data.get("name"), "name", where)
    if not _NAME.fullmatch(name):
        raise where.error("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    severity = data.get("severity")
    if severity not in SEVERITIES:
        raise where.error(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise where.error("description must be text")
    texts = data.get("pattern")
    texts = [texts] if isinstance(texts, str) else texts
    if texts is not None and (not isinstance(texts, list) or not texts):
        raise where.error("pattern must be a filter pattern or a non-empty list of them")
    patterns = []
    for i, text in enumerate(texts or [], 1):
        text = _text(text, f"pattern {i}", where)
        try:
            patterns.append(compile_pattern(text))
        except PatternError as exc:
            raise where.error(str(exc)) from None
    check = check_doc = None
    if data.get("regex") is not None:
        body = _text(data["regex"], "regex", where)
        try:
            compiled = LinearRegex(body)  # an automaton, linear in the event; groups are written out first
        except re.error as exc:
            raise where.error(f"regex does not compile at position {(exc.pos or 0) + 1}: {exc.msg}") from None
        if compiled.unsupported and repeats(body):
            # Left to Python's re, which backtracks: with a repetition, an event an attacker writes can hold
            # it for minutes ("(a+)+b", ".*(x|y).*z" on 256 KB). Without one, re tries each start once.
            raise where.error(
                f"regex {body!r} cannot run in linear time ({compiled.unsupported}) and repeats (*, +, ?, "
                "{m,n}): a crafted event could stall the alerts. Write a repeated group out (x(a|b)*y as "
                "x[ab]*y, (ab){1,3} is fine) or drop the \\b, look-around or back-reference"
            )
        check, check_doc = compiled.search, f"regex {body}"
        if not patterns:
            from chalicelib.logalerts.prefilter import anchors_of_regex, terms_pattern

            anchors = anchors_of_regex(body)
            if not anchors:
                raise where.error(
                    "no literal text in the regex for CloudWatch to prefilter on: add a pattern that every match "
                    "contains, such as pattern: '\"connection reset\"'"
                )
            patterns.append(compile_pattern(terms_pattern(anchors)))
    if not patterns:
        raise where.error("needs a pattern (a CloudWatch filter pattern) or a regex")
    for key in ("channel", "mention"):
        if data.get(key) is not None:
            _text(data[key], key, where)
    try:
        mention_markup(data.get("mention"))
    except RoutesError as exc:
        raise where.error(str(exc)) from None
    matches, misses = _samples(data.get("samples"), where)
    rule = Rule(
        name=name,
        severity=severity,
        description=description,
        patterns=tuple(patterns),
        check=check,
        check_doc=check_doc,
        channel=data.get("channel"),
        mention=data.get("mention"),
        sample_matches=matches,
        sample_misses=misses,
        source=source,
    )
    rule.verify_samples()
    return rule


def rules_from_list(items: object, source: str) -> list[Rule]:
    if isinstance(items, dict) and "rules" in items:  # a file may hold {rules: [...]}
        items = items["rules"]
    if not isinstance(items, list):
        raise RuleError(f"{source}: expected a list of rules")
    rules = [rule_from_dict(item, f"{source} #{i}") for i, item in enumerate(items, 1)]
    seen: dict[str, str] = {}
    for r in rules:
        if r.name in seen:
            raise RuleError(f"{r.source}: rule {r.name!r} is already defined at {seen[r.name]}")
        seen[r.name] = r.source
    return rules


def load_file(path: str) -> list[Rule]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_RULES_FILE_CHARS + 1)  # bounded: /dev/zero or a huge file would be read whole
    except OSError as exc:
        raise RuleError(f"{path}: cannot read the rules file: {exc.strerror}") from None
    if len(text) > MAX_RULES_FILE_CHARS:
        raise RuleError(f"{path}: larger than {MAX_RULES_FILE_CHARS:,} characters, more than any rules file needs")
    if path.endswith((".yaml", ".yml")):
        import yaml  # only where a YAML rules file is configured

        from chalicelib import boundedyaml

        try:
            data = boundedyaml.load(text)[1]
        except boundedyaml.UnsafeYAML as exc:
            raise RuleError(f"{path}: refused: {exc}") from None
        except yaml.YAMLError as exc:
            raise RuleError(f"{path}: not valid YAML: {exc}") from None
    else:
        try:
            data = boundedjson.loads(text)
        except ValueError as exc:
            raise RuleError(f"{path}: not valid JSON: {exc}") from None
    return rules_from_list(data, path)


@cache
def _compiled() -> tuple[Rule, ...]:
    rules = []
    for spec in SPECS:
        rule = Rule(
            name=spec["name"],
            severity=spec["severity"],
            description=spec["description"],
            patterns=tuple(compile_pattern(p) for p in spec["patterns"]),
            check=spec.get("check"),
            check_doc=spec.get("check_doc"),
            sample_matches=tuple(spec["match"]),
            sample_misses=tuple(spec["no_match"]),
            builtin=True,
        )
        rule.verify_samples()
        rules.append(rule)
    return tuple(rules)


def builtin_rules() -> list[Rule]:
    """The built-in rules (``builtin.SPECS``), compiled once per process and checked against their samples."""
    return list(_compiled())


@dataclass
class RuleSet:
    """The active rules: the built-in ones (less the disabled) and the user's, in that order."""

    rules: list[Rule] = field(default_factory=list)

    def by_names(self, names: list[str]) -> RuleSet:
        known = {r.name: r for r in self.rules}
        missing = [n for n in names if n not in known]
        if missing:
            raise RuleError(f"no rule named {', '.join(missing)}; known: {', '.join(known)}")
        return RuleSet([known[n] for n in names])

    def matching(self, message: str) -> list[Rule]:
        return [r for r in self.rules if r.matches(message)]


def active_rules(
    rules_json: str | None = None,
    rules_file: str | None = None,
    disabled: tuple[str, ...] = (),
) -> RuleSet:
    """Built-in rules, less ``disabled``, then the user's (a user rule replaces a built-in of its name)."""
    builtins = builtin_rules()
    unknown = [n for n in disabled if n not in {r.name for r in builtins}]
    if unknown:
        raise RuleError(f"OPSWATCH_LOG_ALERT_DISABLE: no built-in rule named {', '.join(unknown)}")
    user: list[Rule] = []
    if rules_json:
        try:
            data = boundedjson.loads(rules_json)
        except ValueError as exc:
            raise RuleError(f"OPSWATCH_LOG_ALERT_RULES is not JSON: {exc}") from None
        user += rules_from_list(data, "OPSWATCH_LOG_ALERT_RULES")
    if rules_file:
        user += load_file(rules_file)
    names = [r.name for r in user]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleError(f"rule {dupes[0]!r} is defined both in OPSWATCH_LOG_ALERT_RULES and in {rules_file}")
    replaced = set(names)
    kept = [r for r in builtins if r.name not in disabled and r.name not in replaced]
    return RuleSet(kept + user)
