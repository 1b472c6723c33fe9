"""render_lines over runs of empty lines: one step for a run, and the same counts, rejects and ticks as line by line."""

from __future__ import annotations

import gzip
import random

from chalicelib.alb.pipeline import LineCounts, render_lines
from chalicelib.alb.reader import iter_lines, skip_lines
from tests.alb_lines import line


def run(data: bytes, runs: bool, limit: int | None, skip: int = 0, every: int = 37):
    rejected: list[tuple[int, str]] = []
    ticks: list[int] = []
    shipped: list[int] = []
    counts = LineCounts(lines=skip)

    def tick(done: int) -> int:
        ticks.append(done)
        return done + every

    lines = iter_lines([data], runs=runs)
    lines = skip_lines(lines, skip) if skip else lines
    render_lines(
        lines,
        "json",
        None,
        lambda _ts, _m, _s: shipped.append(counts.lines),
        lambda n, _t, reason: rejected.append((n, reason)),
        counts,
        tick=tick,
        reject_limit=limit,
    )
    return counts, rejected, ticks, shipped


def test_runs_give_the_same_account_as_line_by_line():
    rng = random.Random(5)
    for _ in range(40):
        parts = [line(path=f"p/{i}") + "\n" for i in range(5)] + ["\n" * rng.randrange(60, 400), "junk\n"]
        data = gzip.compress("".join(rng.choice(parts) for _ in range(rng.randrange(1, 25))).encode())
        limit = rng.choice([None, 0, 3, 100])
        skip = rng.randrange(0, 50)
        a = run(data, runs=False, limit=limit, skip=skip)
        b = run(data, runs=True, limit=limit, skip=skip)
        assert a[0] == b[0]  # lines, accepted, rejected and reasons
        assert a[1:] == b[1:]  # the same rejects reported, ticks at the same lines, events at the same lines
        assert limit is None or len(b[1]) <= limit


def test_a_run_of_a_million_empty_lines_reports_the_first_ones_only():
    counts, rejected, ticks, _ = run(gzip.compress(b"\n" * 1_000_000), runs=True, limit=1000, every=100_000)
    assert counts.lines == counts.rejected == 1_000_000 and counts.reasons == {"empty line": 1_000_000}
    assert rejected == [(n, "empty line") for n in range(1, 1001)]
    assert ticks == list(range(0, 1_000_000, 100_000))
