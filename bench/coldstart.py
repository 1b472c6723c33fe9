"""Cold start of each Lambda function, as whole processes: ``import app`` and that function's handler path.

A cold start loads ``app`` (the triggers) and, on the first event, the one handler module
the function's body imports. Each is a fresh interpreter, its CPU time from exec to exit, against
``python -c "import boto3"`` on the same interpreter (the floor any function that calls AWS
pays). Runs are interleaved (boto3, then each function, again and again) so a noisy
neighbour slows them alike; each function's figure is the median of its ratios to the
``import boto3`` run of the same round (paired medians).

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
    "log_alerts_stream": "chalicelib.logalerts.stream",
    "monitors_audit": "chalicelib.monitors.handler",
    "athena_report": "chalicelib.athena.report",
    "slack_actions": "chalicelib.slackactions.worker",
}


# What the first event then loads on top (boto3 for its AWS calls, slack-sdk for its message): shown
# beside the target figure, so that figure is not read as the whole first invocation.
FIRST_EVENT = {f: "import boto3, slack_sdk" for f in FUNCTIONS} | {"alb_logs": "import boto3"}


def statement(function: str) -> str:
    return f"import app, chalicelib.kinds, {FUNCTIONS[function]}"  # app.py's body: the registry, then the handler


def first_event_statement(function: str) -> str:
    return f"{statement(function)}; {FIRST_EVENT[function]}"


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


def measure(runs: int = 11) -> tuple[float, dict[str, float], dict[str, float], dict[str, float]]:
    """Paired medians over ``runs`` rounds, each round ``import boto3`` then every variant once.

    Returns the median CPU seconds of ``import boto3``, of each function's cold start, and, for
    each function, the median of its per-round ratios to that round's ``import boto3`` (the
    target figure) and the same for its cold start plus ``FIRST_EVENT``. Pairing each run
    with the baseline run next to it cancels the slow and fast spells of a shared machine.
    """
    stmts = {"boto3": BASELINE}
    for f in FUNCTIONS:
        stmts[f] = statement(f)
        stmts[f + "+"] = first_event_statement(f)
    for stmt in stmts.values():
        process_seconds(stmt)  # warm the file cache and write the bytecode first
    samples: dict[str, list[float]] = {k: [] for k in stmts}
    for _ in range(runs):
        for key, stmt in stmts.items():
            samples[key].append(process_seconds(stmt))

    def paired(key: str) -> float:
        return statistics.median(x / b for x, b in zip(samples[key], samples["boto3"], strict=True))

    return (
        statistics.median(samples["boto3"]),
        {f: statistics.median(samples[f]) for f in FUNCTIONS},
        {f: paired(f) for f in FUNCTIONS},
        {f: paired(f + "+") for f in FUNCTIONS},
    )


def report(runs: int = 11) -> bool:
    """Print each function's figure; True when every one meets the target."""
    base, seconds, ratios, first = measure(runs)
    print(f"  python -c 'import boto3' {base * 1000:.0f} ms CPU (median of {runs} processes)")
    print(f"  {'function':<15} {'imports on its path':<42} {'CPU ms':>6} {'vs boto3':>8}   + first event's")
    ok = True
    for f, ratio in ratios.items():
        ok &= ratio <= TARGET
        mark = "" if ratio <= TARGET else " OVER"
        path = f"import app, {FUNCTIONS[f]}"
        print(
            f"  {f:<15} {path:<42} {seconds[f] * 1000:6.0f} {ratio:7.2f}x{mark:<5} {first[f]:5.2f}x ({FIRST_EVENT[f]})"
        )
    print(f"  target <= {TARGET}x for every function (paired medians): " + ("met" if ok else "MISSED"))
    return ok


if __name__ == "__main__":
    sys.exit(0 if report(int(os.environ.get("BENCH_COLD_RUNS", "11"))) else 1)
