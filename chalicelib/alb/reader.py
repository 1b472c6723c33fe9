"""Stream the lines of an ALB log object: gzip or plain, never whole in memory.

ALB writes gzip objects (possibly several gzip members back to back); people
backfilling by hand sometimes upload plain text. The first two bytes decide.
Memory stays bounded by the read chunk plus one line; a "line" longer than
``MAX_LINE_BYTES`` (binary junk with no newline) is cut into pieces so a
corrupt object cannot exhaust the Lambda's memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 8 << 20
INFLATE_BYTES = 1 << 20


@dataclass
class StreamStatus:
    """What the reader found wrong with the object itself, after the lines it could read."""

    compressed: bool = False
    error: str | None = None  # e.g. "gzip stream truncated after 1234 compressed bytes"
    bytes_read: int = 0


def _decompress(chunks: Iterator[bytes], first: bytes, status: StreamStatus) -> Iterator[bytes]:
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    data = first
    member = 0
    while True:
        while data:  # at most INFLATE_BYTES out per call: 1 MB of gzip of repetitive lines inflates a hundredfold
            try:
                out = d.decompress(data, INFLATE_BYTES)
            except zlib.error as exc:
                where = "gzip member" if member else "gzip data"
                status.error = f"corrupt {where} near compressed byte {status.bytes_read}: {exc}"
                return
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                if data:  # next gzip member
                    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
                    member += 1
            else:
                data = d.unconsumed_tail
        data = next(chunks, None)
        if data is None:
            break
        status.bytes_read += len(data)
    tail = d.flush()
    if tail:
        yield tail
    if not d.eof:
        status.error = f"gzip stream truncated after {status.bytes_read} compressed bytes"


def decoded_chunks(chunks: Iterable[bytes], status: StreamStatus) -> Iterator[bytes]:
    """Yield the object's text bytes, gunzipping when it starts with the gzip magic."""
    it = iter(chunks)
    first = b""
    for c in it:  # skip empty chunks until there is a byte to look at
        status.bytes_read += len(c)
        first += c
        if len(first) >= 2:
            break
    if first[:2] == GZIP_MAGIC:
        status.compressed = True
        yield from _decompress(it, first, status)
        return
    if first:
        yield first
    for c in it:
        status.bytes_read += len(c)
        yield c


def iter_lines(chunks: Iterable[bytes], status: StreamStatus | None = None) -> Iterator[bytes]:
    """Yield lines without their ``\\n`` or ``\\r\\n``; a final unterminated line is yielded too."""
    status = status if status is not None else StreamStatus()
    pending = b""
    for data in decoded_chunks(chunks, status):
        if pending:
            data = pending + data
        lines = data.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line[:-1] if line[-1:] == b"\r" else line
        while len(pending) > MAX_LINE_BYTES:
            yield pending[:MAX_LINE_BYTES]
            pending = pending[MAX_LINE_BYTES:]
    if pending:
        yield pending[:-1] if pending[-1:] == b"\r" else pending


def file_chunks(fh, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Read a binary file object in fixed-size chunks."""
    while True:
        b = fh.read(size)
        if not b:
            return
        yield b
