"""Cold start of each Lambda function, as whole processes: ``import app`` and that function's handler path.

A cold start loads ``app`` (the triggers) and, on the first event, the one handler module
the function's body imports. Each is a fresh interpreter, its CPU time from exec to exit, against
``python -c "import boto3"`` on the same interpreter (the floor any function that calls AWS
pays). Runs are interleaved (boto3, then each function, again and again) so a noisy
neighbour slows them alike; the figure is the median of each.

``FUNCTIONS`` is the one list of what each function imports on its path; the test over
``sys.modules`` (tests/test_cold_start.py) uses it too.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3  # at most 1.3x ``import boto3``
BASELINE = "import boto3"

# Function name (app.py) -> the module its body imports on the first event.
FUNCTIONS = {
    "alb_logs": "chalicelib.alb.handler",
    "alarm_bridge": "chalicelib.alarms.handler",
    "alarm_events": "chalicelib.alarms.handler",
    "log_alerts": "chalicelib.logalerts.handler",
    "monitors_audit": "chalicelib.monitors.handler",
    "athena_report": "chalicelib.athena.report",
}


def statement(function: str) -> str:
    return f"import app, chalicelib.kinds, {FUNCTIONS[function]}"  # app.py's body: the registry, then the handler


def environment() -> dict[str, str]:
    """What app.py reads at import (the triggers' bucket and topic), as a deployed stage sets it."""
    return dict(os.environ, OPSWATCH_ALB_BUCKET="bench", OPSWATCH_ALARM_TOPIC="bench", PYTHONDONTWRITEBYTECODE="")


def process_seconds(stmt: str) -> float:
    """CPU seconds (user + system) of ``python -c stmt``, the whole process from exec to exit.

    CPU time rather than wall time: on a shared machine the wall clock mostly measures the
    neighbours; a cold start's imports wait on nothing (the files are cached) but the CPU.
    """
    proc = subprocess.Popen([sys.executable, "-c", stmt], cwd=ROOT, env=environment())
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, stmt)
    return usage.ru_utime + usage.ru_stime


def measure(runs: int = 11) -> tuple[float, dict[str, float]]:
    """(median seconds of ``import boto3``, {function: median seconds of its cold start})."""
    for stmt in [BASELINE, *map(statement, FUNCTIONS)]:
        process_seconds(stmt)  # warm the file cache and write the bytecode first
    base: list[float] = []
    samples: dict[str, list[float]] = {f: [] for f in FUNCTIONS}
    for _ in range(runs):
        base.append(process_seconds(BASELINE))
        for f in FUNCTIONS:
            samples[f].append(process_seconds(statement(f)))
    return statistics.median(base), {f: statistics.median(s) for f, s in samples.items()}


def report(runs: int = 11) -> bool:
    """Print each function's figure; True when every one meets the target."""
    base, figures = measure(runs)
    print(f"  python -c 'import boto3' {base * 1000:.0f} ms (median of {runs} processes)")
    ok = True
    for f, seconds in figures.items():
        ratio = seconds / base
        ok &= ratio <= TARGET
        mark = "" if ratio <= TARGET else "  OVER"
        print(f"  {f:<15} import app, {FUNCTIONS[f]:<28} {seconds * 1000:5.0f} ms {ratio:5.2f}x{mark}")
    print(f"  target <= {TARGET}x for every function: " + ("met" if ok else "MISSED"))
    return ok


if __name__ == "__main__":
    sys.exit(0 if report(int(os.environ.get("BENCH_COLD_RUNS", "11"))) else 1)
