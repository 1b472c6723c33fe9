"""The lines of a local file, numbered as the file numbers them: gzip or plain, ``-`` for stdin, bounded.

``logs test-rules`` and ``filters test`` report ``FILE:LINE`` so that a user can open
the file at that line. Text-mode reading would split at a lone ``\\r`` (a universal
newline) and shift every later number; here only ``\\n`` ends a line, and a ``\\r``
before it (CRLF) is dropped. A line longer than :data:`MAX_LINE` bytes (CloudWatch
Logs' largest event) is cut there, with a warning, so one huge line cannot fill the
memory. A file that cannot be read whole (missing, truncated gzip) or that is not
UTF-8 text where text is required ends the command with exit 2 and one line naming
the file and the line.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator

import click

from chalicelib.cli.errors import fail, not_text

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE = 262_144  # bytes: CloudWatch Logs' largest event (256 KB)
_CHUNK = 65_536


def numbered_lines(path: str, *, strict: bool = False) -> Iterator[tuple[int, str]]:
    """(line number in the file, text without its line ending) for every line, blank ones included.

    ``strict``: bytes that are not UTF-8 end the command (``FILE:LINE: not UTF-8 text``);
    otherwise they are replaced, as a log file can hold stray bytes, but a file that is
    not text at all (a NUL byte, a head that is not UTF-8: see ``textsniff``) ends it.
    """
    from chalicelib.textsniff import Sniffer

    sniffer = Sniffer(head=not strict)
    label = "<stdin>" if path == "-" else path
    try:
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        fail(f"cannot read {label}: {exc.strerror}")
    number = 0
    try:
        stream = io.BufferedReader(raw) if path == "-" else raw
        if stream.peek(2)[:2] == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=stream)
        while line := stream.readline(MAX_LINE + 1):
            number += 1
            long = len(line) > MAX_LINE and not line.endswith(b"\n")
            line = line[:MAX_LINE] if long else line.removesuffix(b"\n").removesuffix(b"\r")
            if reason := sniffer.reason(line):  # before the rest of a long line: /dev/zero has no end to drain
                fail(f"{label}: {reason}")
            if long:
                while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # the rest of an over-long line, read in bounded steps and dropped
                click.echo(f"opswatch: {label}:{number}: longer than {MAX_LINE:,} bytes, cut there", err=True)
            try:
                yield number, line.decode("utf-8", errors="strict" if strict else "replace")
            except UnicodeDecodeError as exc:
                fail(not_text(f"{label}:{number}", exc))
    except (OSError, EOFError, zlib.error) as exc:
        fail(f"{label}: unreadable after line {number}: {exc}")
    finally:
        if path != "-":
            raw.close()
