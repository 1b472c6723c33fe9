"""The built-in rules: out-of-memory as each common runtime reports it, and Lambda timeouts.

Every match is a CloudWatch filter pattern, except the Lambda ``REPORT`` line
at its memory limit, which compares two fields (a check in code after the
pattern ``"Max Memory Used"``). CloudWatch terms match inside words, so no rule
uses a bare ``oom``: it would fire on ``bedroom``, ``zoom`` and ``oom_score_adj``.
Each rule carries samples (real lines, see ``tests/data/logs/``) that it must
match and near misses it must not; they are checked whenever the rules load.

Severities: a process killed or dying for memory is ``critical``; a Lambda
timeout, or a ``REPORT`` line at the limit of an invocation that may have
finished, is ``warning``.

This module is data (``SPECS``) and the checks in code; ``rules.builtin_rules``
compiles it, so the rules module imports this one and never the other way round.
"""

from __future__ import annotations

import re

_REPORT = re.compile(r"Memory Size:\s*(\d+)\s*MB\s+Max Memory Used:\s*(\d+)\s*MB")


def report_at_memory_limit(message: str) -> bool:
    """A Lambda ``REPORT`` line whose ``Max Memory Used`` reached its ``Memory Size``."""
    m = _REPORT.search(message)
    return m is not None and int(m.group(2)) >= int(m.group(1))


SPECS: list[dict] = [
    {
        "name": "linux-oom-killer",
        "severity": "critical",
        "description": "The Linux kernel (or systemd) killed a process to free memory.",
        "patterns": [
            '?"Out of memory: Kill" ?"invoked oom-killer" ?"oom-kill:constraint=" ?"Memory cgroup out of memory"'
            ' ?"killed as a result of limit of" ?"killed by the OOM killer"'
        ],
        "match": [
            "kernel: Out of memory: Killed process 15784 (python3) total-vm:11964kB, anon-rss:4288kB",
            "rsyslogd invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0",
            "Memory cgroup out of memory: Kill process 302951 (AsyncLogger-1) score 2366 or sacrifice child",
        ],
        "no_match": [
            "sysctl: cannot stat /proc/sys/vm/oom-kill: No such file or directory",
            "vm.panic_on_oom = 0",
            "setting oom_score_adj to -999 for pid 42",
            "the bedroom zoom call is at 10",
        ],
    },
    {
        "name": "java-out-of-memory",
        "severity": "critical",
        "description": "A JVM ran out of memory (java.lang.OutOfMemoryError, any kind, or the native allocator).",
        "patterns": [
            '?"java.lang.OutOfMemoryError:" ?"insufficient memory for the Java Runtime Environment"',
            r"%java[./]lang[./]OutOfMemoryError\s*$%",
        ],
        "match": [
            'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space',
            "JVMDUMP046I VM is shutting down. Reason: java/lang/OutOfMemoryError",
            "# There is insufficient memory for the Java Runtime Environment to continue.",
        ],
        "no_match": [
            "JVM arguments [-Xmx2g, -XX:+HeapDumpOnOutOfMemoryError, -XX:+ExitOnOutOfMemoryError]",
            "registered com.example.OutOfMemoryErrorHandler",
        ],
    },
    {
        "name": "python-memory-error",
        "severity": "critical",
        "description": "A Python process raised MemoryError (a traceback's last line, or a logged exception).",
        "patterns": [
            r"%^MemoryError\s*$|^MemoryError:|\sMemoryError\s*$|\sMemoryError:|[A-Za-z0-9_]\.MemoryError:"
            r"|\._ArrayMemoryError:|MemoryError\x28\x29%"
        ],
        "match": [
            "MemoryError",
            "[ERROR] MemoryError: Unable to allocate 2.00 GiB\nTraceback (most recent call last):",
            "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 58.0 GiB for an array",
            "2015-04-07 17:14:23,508 ERROR ('Exception:', MemoryError())",
        ],
        "no_match": [
            "installed MemoryErrorHandler for worker 3",
            "Exception: NoMemoryError: failed to allocate memory",
            'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space',
        ],
    },
    {
        "name": "node-heap-out-of-memory",
        "severity": "critical",
        "description": "A Node.js process ran out of JavaScript heap.",
        "patterns": ['"JavaScript heap out of memory"'],
        "match": ["FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"],
        "no_match": [
            "Mark-Compact 4086.1 (4124.5) -> 4086.0 (4139.7) MB, allocation failure; scavenge might not succeed"
        ],
    },
    {
        "name": "go-out-of-memory",
        "severity": "critical",
        "description": "A Go program (or another native process) died with a fatal out-of-memory error.",
        "patterns": [
            '?"fatal error: runtime: out of memory" ?"fatal error: out of memory" ?"runtime: out of memory:"'
            ' ?"runtime: VirtualAlloc of"'
        ],
        "match": ["fatal error: out of memory", "runtime: out of memory: cannot allocate 513668022272-byte block"],
        "no_match": ["memory usage is fine: no runtime errors"],
    },
    {
        "name": "dotnet-out-of-memory",
        "severity": "critical",
        "description": "A .NET process ran out of memory.",
        "patterns": ['?"System.OutOfMemoryException" ?"System.InsufficientMemoryException"'],
        "match": ["System.OutOfMemoryException: Insufficient memory to continue the execution of the program."],
        "no_match": ["catch (OutOfMemory ex) handler registered"],
    },
    {
        "name": "ruby-no-memory",
        "severity": "critical",
        "description": "A Ruby process ran out of memory (NoMemoryError).",
        "patterns": ['?NoMemoryError ?"failed to allocate memory"'],
        "match": ["Exception: NoMemoryError: failed to allocate memory", "[FATAL] failed to allocate memory"],
        "no_match": ["allocated memory pool of 64 MB"],
    },
    {
        "name": "php-memory-exhausted",
        "severity": "critical",
        "description": "A PHP script hit memory_limit.",
        "patterns": ['"Allowed memory size of" exhausted'],
        "match": ["PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 16384 bytes)"],
        "no_match": ["Allowed memory size of 134217728 bytes configured"],
    },
    {
        "name": "lambda-out-of-memory",
        "severity": "critical",
        "description": "Lambda killed an invocation that ran out of memory.",
        "patterns": ['?"Runtime.OutOfMemory" ?"Runtime exited with error: signal: killed"'],
        "match": [
            '{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: f9da3291 Error: Runtime exited with '
            'error: signal: killed"}',
            "RequestId: 8b4f Error: Runtime exited with error: signal: killed",
        ],
        "no_match": ["RequestId: d88fc138 Error: Runtime exited with error: exit status 137"],
    },
    {
        "name": "lambda-memory-at-limit",
        "severity": "warning",
        "description": "A Lambda invocation used all of its memory (Max Memory Used reached Memory Size).",
        "patterns": ['"Max Memory Used"'],
        "check": report_at_memory_limit,
        "check_doc": "Max Memory Used >= Memory Size",
        "match": [
            "REPORT RequestId: 3ec2886e\tDuration: 31920.84 ms\tBilled Duration: 32733 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 128 MB\tInit Duration: 811.55 ms"
        ],
        "no_match": [
            "REPORT RequestId: 160788cd\tDuration: 3071.27 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 21 MB\t"
        ],
    },
    {
        "name": "lambda-timeout",
        "severity": "warning",
        "description": "A Lambda invocation (or its init phase) ran out of time.",
        "patterns": ['"Task timed out after"', 'INIT_REPORT "Status: timeout"'],
        "match": [
            "2020-11-10T05:46:57.874Z 160788cd Task timed out after 3.07 seconds",
            "INIT_REPORT Init Duration: 180000.45 ms Phase: invoke Status: timeout",
        ],
        "no_match": ["INIT_REPORT Init Duration: 245.10 ms Phase: init Status: success"],
    },
    {
        "name": "ecs-container-oom",
        "severity": "critical",
        "description": "ECS (or the container runtime) killed a container for its memory use.",
        "patterns": ['?"OutOfMemoryError: Container killed due to memory usage" ?"died due to OOM" ?"OOM-killed"'],
        "match": [
            '"reason": "OutOfMemoryError: Container killed due to memory usage",',
            "DockerGoClient: process within container db09e088 (name: ecs-demo) died due to OOM",
        ],
        "no_match": ["stoppedReason: Essential container in task exited"],
    },
    {
        "name": "kubernetes-oom-killed",
        "severity": "critical",
        "description": "Kubernetes reports a container or node killed for memory (OOMKilled, SystemOOM).",
        "patterns": ['?OOMKilled ?"System OOM encountered" ?OOMKilling'],
        "match": [
            "tax-tribunals-application-base-74464f6b98-2kj6g      0/1     OOMKilled   4 (57s ago)   2m40s",
            "Warning  SystemOOM  17m  kubelet, node1  System OOM encountered",
        ],
        "no_match": ["      Exit Code: 137"],
    },
]
