"""Run code or an ``opswatch`` command in a fresh interpreter under hard memory and time bounds.

Hostile-input tests assert that memory and time stay bounded whatever the input holds. A
timed unit test would be flaky; instead the child gets an address-space limit
(``RLIMIT_AS``) and a wall-clock limit it cannot pass, and reports its own peak RSS, which
the test compares with a bound far below what an unbounded run reaches.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass

_MARK = "__opswatch_peak_rss_kb__"

# The peak is read from /proc/self/status (VmHWM, this process image's own high-water mark).
# getrusage's ru_maxrss would not do: Linux carries the forked parent's peak across exec into
# it, so a child of a large pytest process would report the parent's size, not its own.
_PEAK = """
def _peak_kb():
    try:
        with open("/proc/self/status") as fh:
            for ln in fh:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_WRAPPER = """
import resource, sys
{peak}
try:
    {body}
finally:
    sys.stdout.flush()
    print({mark!r}, _peak_kb(), file=sys.stderr, flush=True)
"""


@dataclass
class Bounded:
    returncode: int
    stdout: str
    stderr: str  # without the peak-RSS line
    peak_rss_mb: float


def _limits(address_space_mb: int):
    def apply() -> None:
        cap = address_space_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def run_code(
    code: str,
    *,
    seconds: float = 60,
    address_space_mb: int = 2048,
    stdin: bytes | None = None,
    env: dict | None = None,
) -> Bounded:
    """Run ``code`` (Python source) in a new interpreter; raises ``subprocess.TimeoutExpired`` past ``seconds``."""
    body = "\n    ".join(code.strip().splitlines())
    script = _WRAPPER.format(peak=_PEAK, body=body, mark=_MARK)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=stdin,
        capture_output=True,
        timeout=seconds,
        preexec_fn=_limits(address_space_mb),
        env={**os.environ, **(env or {})},
    )
    err = proc.stderr.decode("utf-8", "replace")
    peak = 0.0
    kept = []
    for ln in err.splitlines():
        if ln.startswith(_MARK):
            peak = int(ln.split()[1]) / 1024
        else:
            kept.append(ln)
    return Bounded(proc.returncode, proc.stdout.decode("utf-8", "replace"), "\n".join(kept), peak)


def run_opswatch(*args: str, seconds: float = 60, address_space_mb: int = 2048, **kw) -> Bounded:
    """The ``opswatch`` command in a new interpreter under the same bounds (exit code as the CLI gives it)."""
    code = f"""
import runpy
sys.argv = ["opswatch", *{json.dumps(list(args))}]
try:
    runpy.run_module("chalicelib.cli.main", run_name="__main__")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    print({_MARK!r}, _peak_kb(), file=sys.stderr, flush=True)
    import os
    os._exit(code)
"""
    return run_code(code, seconds=seconds, address_space_mb=address_space_mb, **kw)
