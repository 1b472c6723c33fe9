"""Decide an alarm's state from its recent data points, as CloudWatch documents it.

CloudWatch fetches an *evaluation range* longer than the N evaluation periods
(5 points for N = 3). With N real points or more, the N most recent real points
decide and the missing-data policy is not used. No real point at all:
``missing`` gives INSUFFICIENT_DATA, ``ignore`` keeps the state, ``breaching``
ALARM and ``notBreaching`` OK. With some but fewer than N, every real point in
the range takes part and N minus that many points are filled in: ``breaching``
fills breaching points, ``notBreaching`` non-breaching ones. ``missing`` and
``ignore`` fill non-breaching points as soon as one real point does not breach;
when every real point breaches, ``missing`` gives ALARM if the oldest of them is
at least M slots old (CloudWatch's rule against premature alarms on
intermittent data) and INSUFFICIENT_DATA if not, and ``ignore`` keeps the
current state in both cases.

That last rule is where AWS's current "alarms and missing data" page is silent.
It agrees with every row of the current page's tables and with the rows of the
page's 2018-06 to 2019-05 versions for those ranges (``- - - - X`` gives
INSUFFICIENT_DATA under ``missing`` and keeps the state under ``ignore``;
``X - - - -`` with 3 of 3 gives ALARM), so a breaching point in place of a
missing one never turns ALARM into OK. ``explain`` says which rule decided and
whether the range is one the current page covers.

Points are given oldest first, newest last: ``True`` breaching, ``False`` not,
``None`` missing.

>>> evaluate(parse_points("- - X - -"), n=3, m=3, policy="missing", current="OK")
'ALARM'
>>> evaluate(parse_points("- - X - -"), n=3, m=3, policy="ignore", current="OK")
'OK'
>>> d = explain(parse_points("- - - - X"), n=3, m=3, policy="missing", current="ALARM")
>>> d.state, d.documented
('INSUFFICIENT_DATA', False)
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT)
POLICIES = ("missing", "ignore", "breaching", "notBreaching")
COMPARISONS = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}

Point = bool | None


class EvaluationError(ValueError):
    """Settings or points that do not describe an alarm; the message says which."""


def parse_points(text: str) -> list[Point]:
    """``"0 - X"`` -> ``[False, None, True]`` (also accepts ``O`` for 0)."""
    out: list[Point] = []
    for i, tok in enumerate(text.split(), 1):
        if tok in ("X", "x"):
            out.append(True)
        elif tok in ("0", "O", "o"):
            out.append(False)
        elif tok == "-":
            out.append(None)
        else:
            raise EvaluationError(f"point {i}: {tok!r} is not 0 (not breaching), X (breaching) or - (missing)")
    return out


def breaching(values: list[float | None], threshold: float, comparison: str) -> list[Point]:
    """Turn metric values into points with the alarm's threshold and comparison operator."""
    if comparison not in COMPARISONS:
        raise EvaluationError(
            f"comparison {comparison!r}: expected one of {', '.join(COMPARISONS)} "
            "(anomaly-detection bands need the band's values, not a threshold)"
        )
    op = COMPARISONS[comparison]
    return [None if v is None else op(v, threshold) for v in values]


def parse_values(text: str) -> list[float | None]:
    out: list[float | None] = []
    for i, tok in enumerate(text.split(), 1):
        if tok == "-":
            out.append(None)
            continue
        try:
            value = float(tok)
        except ValueError:
            raise EvaluationError(f"value {i}: {tok!r} is not a number or - (missing)") from None
        if not math.isfinite(value):  # nan compares false with everything: it would count as not breaching
            raise EvaluationError(f"value {i}: {tok!r} is not a finite number (use - for a missing point)")
        out.append(value)
    return out


def _check(n: int, m: int, policy: str, current: str) -> None:
    if n < 1:
        raise EvaluationError("evaluation periods must be at least 1")
    if not 1 <= m <= n:
        raise EvaluationError(f"datapoints to alarm must be between 1 and evaluation periods ({n}), got {m}")
    if policy not in POLICIES:
        raise EvaluationError(f"treat-missing-data {policy!r}: expected one of {', '.join(POLICIES)}")
    if current not in STATES:
        raise EvaluationError(f"state {current!r}: expected one of {', '.join(STATES)}")


def _shown(points: list[Point]) -> str:
    return " ".join("-" if p is None else ("X" if p else "0") for p in points)


# The ranges AWS's current "alarms and missing data" page answers in its tables (N = 3; M = 3 or 2).
# Ranges with N real points or none, and the breaching and notBreaching policies, it covers in general.
DOCUMENTED_RANGES = {
    (3, 3): {"0 - X - X", "0 - - - -", "- - - - -", "0 X X - X", "- - X - -"},
    (3, 2): {"0 - X - X", "0 0 X 0 X", "0 - X - -", "- - - - 0", "- - - X -"},
}


@dataclass(frozen=True)
class Decision:
    state: str
    rule: str  # enough-points | no-data | filled | premature-alarm | too-recent
    why: str  # the rule in words, for --explain
    documented: bool  # False: AWS's current documentation does not cover this range; the answer is ours


def explain(points: list[Point], n: int, m: int, policy: str = "missing", current: str = INSUFFICIENT) -> Decision:
    """The state after one evaluation of ``points`` (the evaluation range, newest last), and why."""
    _check(n, m, policy, current)
    real = [p for p in points if p is not None]
    oldest = next((i for i, p in enumerate(points) if p is True), None)
    window = _Window(len(real), sum(real), sum(real[-n:]), None if oldest is None else len(points) - oldest)
    return _decide(window, lambda: _shown(points), n, m, policy, current)


@dataclass(frozen=True)
class _Window:
    """What the rules read of one evaluation range: counts, not the points themselves."""

    real: int  # real (not missing) points
    breaching: int  # breaching points among the real ones
    last_n_breaching: int  # breaching points among the N most recent real ones
    oldest_breach_age: int | None  # how many slots old the oldest breaching point is (the newest slot is 1)


def _decide(w: _Window, shown, n: int, m: int, policy: str, current: str) -> Decision:
    """The rules of the module's docstring; ``shown()`` draws the range (only asked for ranges AWS may document)."""
    if w.real >= n:
        why = (
            f"{w.real} real points: the {n} most recent decide ({w.last_n_breaching} breaching, {m} needed); "
            "policy unused"
        )
        return Decision(ALARM if w.last_n_breaching >= m else OK, "enough-points", why, True)
    if not w.real:
        state = {"missing": INSUFFICIENT, "ignore": current, "breaching": ALARM, "notBreaching": OK}[policy]
        return Decision(state, "no-data", f"no real point in the range: {policy} gives {state}", True)
    fill = n - w.real
    documented = policy in ("breaching", "notBreaching") or (
        (n, m) in DOCUMENTED_RANGES and shown() in DOCUMENTED_RANGES[(n, m)]
    )
    if policy == "breaching" or (policy != "notBreaching" and w.breaching < w.real):
        as_breaching = policy == "breaching"
        breaches = w.breaching + (fill if as_breaching else 0)
        why = (
            f"{w.real} real point(s), {fill} filled as {'breaching' if as_breaching else 'not breaching'} "
            f"by {policy}: {breaches} breaching, {m} needed"
        )
        return Decision(ALARM if breaches >= m else OK, "filled", why, documented)
    if policy == "notBreaching":
        why = f"{w.real} real point(s), {fill} filled as not breaching: {w.breaching} breaching, {m} needed"
        return Decision(ALARM if w.breaching >= m else OK, "filled", why, True)
    # missing or ignore, and every real point breaches
    age = w.oldest_breach_age or 0
    if age >= m:
        state = ALARM if policy == "missing" else current
        why = (
            f"{w.real} real point(s), all breaching, the oldest {age} slots old (at least {m}): "
            f"{'ALARM' if policy == 'missing' else 'ignore keeps ' + current} (CloudWatch's rule against "
            "premature alarms)"
        )
        return Decision(state, "premature-alarm", why, documented)
    state = INSUFFICIENT if policy == "missing" else current
    why = (
        f"{w.real} real point(s), all breaching, the oldest only {age} slot(s) old (fewer than {m}): "
        f"{'INSUFFICIENT_DATA' if policy == 'missing' else 'ignore keeps ' + current} (AWS's 2018-2019 page)"
    )
    return Decision(state, "too-recent", why, documented)


def evaluate(points: list[Point], n: int, m: int, policy: str = "missing", current: str = INSUFFICIENT) -> str:
    """The state after one evaluation of ``points`` (the evaluation range, newest last)."""
    return explain(points, n, m, policy, current).state


def replay(
    points: list[Point], n: int, m: int, policy: str = "missing", initial: str = INSUFFICIENT
) -> list[tuple[int, Decision]]:
    """Evaluate period by period as CloudWatch does: one decision per period from the first full range on.

    ``points`` may be longer than one evaluation range; each evaluation sees the N + 2 slots ending at
    that period. Returns (index of the range's newest point, decision) for every period.

    Linear in the number of points whatever N: the range slides one slot at a time, and what the rules
    read of it (real and breaching counts, the N most recent real points' breaches, the oldest breach)
    is updated from prefix sums over the real points, never recounted (evaluating each range afresh
    took minutes for 20,000 points with N = 8,640).
    """
    _check(n, m, policy, initial)
    r = evaluation_range(n)
    if len(points) < r:
        points = [None] * (r - len(points)) + list(points)
    real_at: list[int] = []  # the index of every real point, in order
    breached: list[int] = [0]  # breached[k]: breaching points among the first k real ones
    breaches_at: list[int] = []  # the index of every breaching point, in order
    for i, p in enumerate(points):
        if p is not None:
            real_at.append(i)
            breached.append(breached[-1] + p)
            if p:
                breaches_at.append(i)
    state, out = initial, []
    lo = hi = b = 0  # real points before the range, real points up to its end, breaches before the range
    for end in range(r, len(points) + 1):
        start = end - r
        while lo < len(real_at) and real_at[lo] < start:
            lo += 1
        while hi < len(real_at) and real_at[hi] < end:
            hi += 1
        while b < len(breaches_at) and breaches_at[b] < start:
            b += 1
        real = hi - lo
        oldest = breaches_at[b] if b < len(breaches_at) and breaches_at[b] < end else None
        window = _Window(
            real,
            breached[hi] - breached[lo],
            breached[hi] - breached[max(lo, hi - n)],
            None if oldest is None else end - oldest,
        )
        decision = _decide(window, lambda s=start, e=end: _shown(points[s:e]), n, m, policy, state)
        out.append((end - 1, decision))
        state = decision.state
    return out


def evaluation_range(n: int) -> int:
    """How many recent periods CloudWatch looks at for N evaluation periods (5 for 3)."""
    return n + 2
