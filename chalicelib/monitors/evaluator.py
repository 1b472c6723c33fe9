"""Decide an alarm's state from its recent data points, as CloudWatch documents it.

CloudWatch fetches an *evaluation range* longer than the N evaluation periods
(5 points for N = 3). With N real points or more, the N most recent real points
decide and the missing-data policy is not used. With fewer, every real point in
the range takes part and only N minus that many points are filled in with the
policy; ``missing`` and ``ignore`` fill with non-breaching points, except that
a breaching point followed only by missing slots alarms once it is at least M
slots old (CloudWatch's rule against premature alarms on intermittent data),
which ``ignore`` turns into keeping the current state. No real point at all:
``missing`` gives INSUFFICIENT_DATA, ``ignore`` keeps the state, ``breaching``
ALARM and ``notBreaching`` OK.

Points are given oldest first, newest last: ``True`` breaching, ``False`` not,
``None`` missing.

>>> evaluate(parse_points("- - X - -"), n=3, m=3, policy="missing", current="OK")
'ALARM'
>>> evaluate(parse_points("- - X - -"), n=3, m=3, policy="ignore", current="OK")
'OK'
"""

from __future__ import annotations

import operator

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
            out.append(float(tok))
        except ValueError:
            raise EvaluationError(f"value {i}: {tok!r} is not a number or - (missing)") from None
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


def evaluate(points: list[Point], n: int, m: int, policy: str = "missing", current: str = INSUFFICIENT) -> str:
    """The state after one evaluation of ``points`` (the evaluation range, newest last)."""
    _check(n, m, policy, current)
    real = [p for p in points if p is not None]
    if len(real) >= n:
        return ALARM if sum(real[-n:]) >= m else OK
    if not real:
        return {"missing": INSUFFICIENT, "ignore": current, "breaching": ALARM, "notBreaching": OK}[policy]
    fill = n - len(real)
    if policy == "breaching":
        return ALARM if sum(real) + fill >= m else OK
    if policy in ("missing", "ignore") and len(real) < m and _premature_alarm(points, n, m):
        return ALARM if policy == "missing" else current
    return ALARM if sum(real) >= m else OK


def _premature_alarm(points: list[Point], n: int, m: int) -> bool:
    """Among the N most recent slots, the oldest breaching point is at least M slots old
    and every more recent slot is breaching or missing."""
    window = points[-n:]
    for age_index, p in enumerate(window):  # oldest first
        if p is True:
            age = len(window) - age_index  # the newest slot is 1 slot old
            return age >= m and all(q is not False for q in window[age_index + 1 :])
        if p is False:
            return False
    return False


def evaluation_range(n: int) -> int:
    """How many recent periods CloudWatch looks at for N evaluation periods (5 for 3)."""
    return n + 2
