"""How fast local ``opswatch`` commands start: whole processes against ``python -c pass``.

A script that checks a few thousand ranges with ``opswatch alarms simulate`` pays
the start of the process each time, so that start is what counts. Each round runs
``python -c pass`` and each command once, in turn, on the same interpreter (the
``opswatch`` console script of this environment); the ratio is the median of the
rounds' ratios, so a load spike on the machine hits both sides of a pair.

Run alone with ``python -m bench.clistart`` (``BENCH_CLI_ROUNDS``, default 9).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_CLI_ROUNDS", "9"))
TARGET = 4.0  # at most this many times `python -c pass`
OPSWATCH = [sys.executable, str(Path(sys.executable).with_name("opswatch"))]
EVENTS = '{"elb_status_code": 502}\n{"elb_status_code": 200}\n127.0.0.1 - - "GET / HTTP/1.1" 500 12\n'

COMMANDS: dict[str, tuple[list[str], str | None]] = {
    "opswatch alarms simulate": (
        ["alarms", "simulate", "--points", "0 X X - X", "--evaluation-periods", "3", "--datapoints-to-alarm", "2"],
        None,
    ),
    "opswatch filters test": (
        ["filters", "test", "--pattern", "{ $.elb_status_code >= 500 }", "--events", "-"],
        EVENTS,
    ),
}


# The stage's settings play no part in a local command's start.
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("OPSWATCH_")}


def _seconds(argv: list[str], stdin: str | None) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        argv, input=stdin, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=_ENV
    )
    return time.perf_counter() - t0


def measure(rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """For each command: median seconds, the baseline's median seconds, and the median paired ratio."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, (args, stdin) in COMMANDS.items():
            base = _seconds([sys.executable, "-c", "pass"], None)
            ours = _seconds([*OPSWATCH, *args], stdin)
            samples[name].append((ours, base))
    return {
        name: {
            "seconds": statistics.median(o for o, _ in pairs),
            "baseline_seconds": statistics.median(b for _, b in pairs),
            "ratio": statistics.median(o / b for o, b in pairs),
        }
        for name, pairs in samples.items()
    }


def report(rounds: int = ROUNDS) -> bool:
    """Print each command's figure; True when every one meets the target."""
    ok = True
    for name, m in measure(rounds).items():
        ok &= m["ratio"] <= TARGET
        print(
            f"  {name:<26} {m['seconds'] * 1000:5.0f} ms, python -c pass {m['baseline_seconds'] * 1000:4.0f} ms: "
            f"{m['ratio']:.2f}x (target <= {TARGET:g})"
        )
    return ok


if __name__ == "__main__":
    print(f"CLI start, whole processes (median of {ROUNDS} paired rounds)")
    sys.exit(0 if report() else 1)
