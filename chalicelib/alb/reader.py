"""Stream the lines of an ALB log object: gzip or plain, in flat memory whatever it holds.

ALB writes gzip objects (possibly several gzip members back to back); people
backfilling by hand sometimes upload plain text. The first two bytes decide.

The object is untrusted: a few kilobytes of gzip can expand to gigabytes (a
"gzip bomb"), and whoever sends requests to the load balancer chooses the URLs
ALB writes. So text is produced in steps of at most ``STEP_BYTES`` (zlib's
``max_length``, then the ``unconsumed_tail``), and a line is held up to
``MAX_LINE_BYTES``: a longer one is read to its end without being kept, and
comes out as a ``LongLine`` holding only its first ``MAX_LINE_BYTES`` and its
full length, for the caller to reject. Memory stays bounded by one step plus
one line, whatever the object holds. ``opswatch alb ship`` (and the Lambda),
``opswatch alb parse`` and ``opswatch athena --engine local`` all read here.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 20  # compressed bytes read at a time
STEP_BYTES = 1 << 20  # most text one decompression step produces
# Longest line read whole. ALB's own limits (16 KB request line, 64 KB of headers) keep real
# entries far below it; anything longer is junk or an attack, and is rejected.
MAX_LINE_BYTES = 1 << 20
_GZIP_WBITS = zlib.MAX_WBITS | 16


class LongLine(bytes):
    """The first ``MAX_LINE_BYTES`` of a line that was longer; ``length`` is the whole line's size."""

    length: int


class CutLine(bytes):
    """The unterminated last line of a damaged stream (truncated or corrupt gzip): the damage cut it.

    Never a whole line, even when what is left parses (an ALB line cut after an early field
    still reads as an older line generation): the caller rejects it as ``truncated``.
    """


class BlankLines(bytes):
    """``count`` empty lines in a row, as one item: a run of newlines costs one step, not one per line.

    Only ``iter_lines(..., runs=True)`` hands these over (for runs of at least ``RUN_MIN``).
    It is an empty ``bytes``, so code that treats an empty line as such still does.
    """

    count: int


RUN_MIN = 64
# LF or CRLF line ends. Possessive: a plain repeat of the group keeps a backtracking
# point per repetition, over 100 MB for a block of newlines.
_RUN = re.compile(rb"((?:\r?\n){%d,}+)" % RUN_MIN)


def _may_hold_a_run(block: bytes) -> bool:
    """A cheap look before the regular expression: ALB's own text never has two line ends in a row."""
    return b"\n\n\n\n" in block or b"\n\r\n\r\n" in block


def blank_lines(count: int) -> BlankLines:
    out = BlankLines()
    out.count = count
    return out


def skip_lines(lines: Iterable[bytes], n: int) -> Iterator[bytes]:
    """The lines after the first ``n`` (a ``BlankLines`` counts as its ``count`` lines)."""
    it = iter(lines)
    while n > 0:
        raw = next(it, None)
        if raw is None:
            return
        k = raw.count if raw.__class__ is BlankLines else 1
        if k > n:
            yield blank_lines(k - n)
        n -= k
    yield from it


@dataclass
class StreamStatus:
    """What the reader found wrong with the object itself, after the lines it could read."""

    compressed: bool = False
    error: str | None = None  # e.g. "gzip stream truncated after 1234 compressed bytes"
    bytes_read: int = 0


def _gunzip(chunks: Iterator[bytes], first: bytes, status: StreamStatus, step: int) -> Iterator[bytes]:
    """Gzip members back to back, as text blocks of at most ``step`` bytes each."""
    d = zlib.decompressobj(_GZIP_WBITS)
    data = first
    member = 0
    while True:
        while True:  # everything this input gives, one bounded step at a time
            try:
                out = d.decompress(data, step)
            except zlib.error as exc:
                where = "gzip member" if member else "gzip data"
                status.error = f"corrupt {where} near compressed byte {status.bytes_read}: {exc}"
                return
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                if not data:
                    break
                d = zlib.decompressobj(_GZIP_WBITS)  # the next gzip member
                member += 1
                continue
            data = d.unconsumed_tail
            if not data and len(out) < step:  # input used up and no output left waiting
                break
        nxt = next(chunks, None)
        if nxt is None:
            break
        status.bytes_read += len(nxt)
        data = nxt
    if not d.eof:
        status.error = f"gzip stream truncated after {status.bytes_read} compressed bytes"


def _blocks(data: bytes, step: int) -> Iterator[bytes]:
    if len(data) <= step:
        yield data
        return
    for i in range(0, len(data), step):
        yield data[i : i + step]


def decoded_chunks(chunks: Iterable[bytes], status: StreamStatus, step: int = STEP_BYTES) -> Iterator[bytes]:
    """Yield the object's text in blocks of at most ``step`` bytes, gunzipping when it starts with the gzip magic."""
    it = iter(chunks)
    first = b""
    for c in it:  # skip empty chunks until there is a byte to look at
        status.bytes_read += len(c)
        first += c
        if len(first) >= 2:
            break
    if first[:2] == GZIP_MAGIC:
        status.compressed = True
        yield from _gunzip(it, first, status, step)
        return
    if first:
        yield from _blocks(first, step)
    for c in it:
        status.bytes_read += len(c)
        yield from _blocks(c, step)


def iter_lines(
    chunks: Iterable[bytes], status: StreamStatus | None = None, max_line: int = MAX_LINE_BYTES, runs: bool = False
) -> Iterator[bytes]:
    """Yield lines without their ``\\n`` or ``\\r\\n``; a final unterminated line is yielded too.

    A line over ``max_line`` bytes comes out as a ``LongLine`` (its first ``max_line``
    bytes, and its full ``length``): never whole in memory. With ``runs``, a run of
    ``RUN_MIN`` or more empty lines comes out as one ``BlankLines``.
    """
    status = status if status is not None else StreamStatus()
    # A block holds no line longer than itself, so only a line spanning blocks can be too
    # long: that one is gathered in ``held`` (at most max_line bytes) while ``size`` counts it all.
    held: list[bytes] = []
    kept = size = 0
    cr = False  # whether the line so far ends with "\r", which is not part of it

    def gathered() -> bytes:
        nonlocal kept, size
        data = b"".join(held)
        held.clear()
        length = size - 1 if cr else size
        if length > max_line:
            out = LongLine(data)
            out.length = length
        else:
            out = data[:length]
        kept = size = 0
        return out

    def take(data: bytes) -> Iterator[bytes]:
        nonlocal kept, size, cr
        lines = data.split(b"\n")
        tail = lines.pop()
        size_was = size
        if size:  # the first piece ends a line begun in earlier blocks
            first = tail if not lines else lines[0]
            if first:
                size += len(first)
                cr = first[-1] == 13
            if kept < max_line:
                piece = first[: max_line - kept]
                held.append(piece)
                kept += len(piece)
            if not lines:
                return
            yield gathered()
        rest = islice(lines, 1, None) if size_was else lines
        if b"\r" in data:
            for line in rest:
                yield line[:-1] if line[-1:] == b"\r" else line
        else:  # the usual case: no line to mend, and C-speed for millions of short ones
            yield from rest
        if tail:
            held.append(tail)
            kept = size = len(tail)
            cr = tail[-1] == 13

    for block in decoded_chunks(chunks, status, min(STEP_BYTES, max_line)):
        if runs and _may_hold_a_run(block):
            # Text and runs of line ends alternate: a run's first line end ends the line in
            # progress (perhaps an empty one), the others are empty lines.
            for j, part in enumerate(_RUN.split(block)):
                if j % 2:
                    yield from take(part[: part.index(b"\n") + 1])
                    yield blank_lines(part.count(b"\n") - 1)
                elif part:
                    yield from take(part)
        else:
            yield from take(block)
    if size:
        last = gathered()
        yield CutLine(last) if status.error else last  # after damage, the line in progress is a fragment


def file_chunks(fh, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Read a binary file object in fixed-size chunks."""
    while True:
        b = fh.read(size)
        if not b:
            return
        yield b
