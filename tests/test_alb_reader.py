"""Reading objects: gzip or plain, multi-member, truncated, corrupt, CRLF, huge lines."""

from __future__ import annotations

import gzip
import os
import random
import zlib

import pytest

from chalicelib.alb.reader import (
    MAX_LINE_BYTES,
    RUN_MIN,
    BlankLines,
    CutLine,
    LongLine,
    StreamStatus,
    decoded_chunks,
    iter_lines,
    skip_lines,
)


def chunked(data: bytes, size: int = 7):
    return (data[i : i + size] for i in range(0, len(data), size))


def read(data: bytes, size: int = 7):
    status = StreamStatus()
    return list(iter_lines(chunked(data, size), status)), status


def test_plain_and_gzip_give_the_same_lines():
    text = b"one\ntwo\nthree\n"
    assert read(text)[0] == read(gzip.compress(text))[0] == [b"one", b"two", b"three"]
    assert read(gzip.compress(text))[1].compressed


def test_last_line_without_newline_and_crlf():
    assert read(b"a\r\nb\r\nc")[0] == [b"a", b"b", b"c"]


def test_multi_member_gzip():
    data = gzip.compress(b"a\nb\n") + gzip.compress(b"c\n")
    lines, status = read(data, 5)
    assert lines == [b"a", b"b", b"c"] and status.error is None


def test_empty_object():
    assert read(b"") == ([], StreamStatus())


def test_truncated_gzip_keeps_what_was_read_and_says_so():
    body = "".join(f"line {i}\n" for i in range(20000)).encode()
    data = gzip.compress(body)
    lines, status = read(data[: len(data) // 2], 4096)
    assert 0 < len(lines) < 20000
    assert lines[0] == b"line 0"
    assert status.error and "truncated" in status.error


def test_the_line_a_damaged_stream_cuts_is_a_cut_line():
    from tests.alb_lines import cut_gzip

    lines, status = read(cut_gzip(["one", "two"], "thr"), 5)
    assert lines == [b"one", b"two", b"thr"] and "truncated" in status.error
    assert [x.__class__ for x in lines] == [bytes, bytes, CutLine]  # the fragment is marked, the whole lines not
    lines, status = read(cut_gzip(["one", "two"], ""), 5)  # cut at a line end: nothing is a fragment
    assert lines == [b"one", b"two"] and [x.__class__ for x in lines] == [bytes, bytes] and status.error
    lines, status = read(gzip.compress(b"one\ntwo"), 5)  # a whole stream's unterminated last line is whole
    assert lines == [b"one", b"two"] and lines[1].__class__ is bytes and status.error is None


def test_corrupt_gzip_is_reported():
    data = bytearray(gzip.compress(os.urandom(5000)))
    data[40:60] = b"\x00" * 20
    _, status = read(bytes(data), 64)
    assert status.error and ("corrupt" in status.error or "truncated" in status.error)


def test_not_gzip_binary_is_read_as_lines():
    data = os.urandom(10000).replace(b"\r", b"x").replace(b"\x1f\x8b", b"xx")
    lines, status = read(data, 333)
    assert not status.compressed and status.error is None
    assert b"\n".join(lines) + (b"\n" if data.endswith(b"\n") else b"") == data


def test_one_megabyte_line_is_one_line():
    big = b"x" * (1 << 20)
    lines, _ = read(gzip.compress(big + b"\nafter\n"), 65536)
    assert lines == [big, b"after"]


def test_endless_line_is_one_long_line_holding_only_its_first_bytes():
    data = b"y" * (MAX_LINE_BYTES * 2 + 10) + b"\nafter"
    lines, _ = read(data, 1 << 20)
    assert [len(x) for x in lines] == [MAX_LINE_BYTES, 5]
    assert isinstance(lines[0], LongLine) and lines[0].length == MAX_LINE_BYTES * 2 + 10
    assert not isinstance(lines[1], LongLine)


def test_a_line_of_exactly_the_limit_is_whole_and_one_byte_more_is_long():
    exact, over = b"e" * MAX_LINE_BYTES, b"o" * (MAX_LINE_BYTES + 1)
    lines, _ = read(gzip.compress(exact + b"\r\n" + over + b"\n"), 1000)
    assert lines[0] == exact and not isinstance(lines[0], LongLine)
    assert isinstance(lines[1], LongLine) and lines[1] == over[:MAX_LINE_BYTES] and lines[1].length == len(over)


def expected(data: bytes, max_line: int) -> list[tuple[bytes, int | None]]:
    """The reader's contract, the obvious way: split, drop the CR, keep a long line's head and length."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    out = []
    for p in parts:
        p = p.removesuffix(b"\r")
        out.append((p[:max_line], len(p)) if len(p) > max_line else (p, None))
    return out


def test_random_lines_and_chunkings_match_the_contract():
    rng = random.Random(17)
    for _ in range(300):
        max_line = rng.choice([1, 3, 8, 50])
        data = bytes(rng.choice(b"ab\r\n\n") for _ in range(rng.randrange(0, 400)))
        for body in (data.replace(b"\x1f", b"x"), gzip.compress(data)):
            status = StreamStatus()
            got = [
                (bytes(x), x.length if isinstance(x, LongLine) else None)
                for x in iter_lines(chunked(body, rng.randrange(1, 64)), status, max_line=max_line)
            ]
            assert got == expected(data, max_line), (data, max_line)
            assert status.error is None


def test_decompression_comes_in_bounded_steps():
    # 10 MB of newlines in a few kilobytes of gzip: no block of text is larger than one step.
    bomb = gzip.compress(b"\n" * (10 << 20), 9)
    assert len(bomb) < 20_000
    status = StreamStatus()
    sizes = [len(b) for b in decoded_chunks(chunked(bomb, 4096), status, step=1 << 16)]
    assert max(sizes) <= 1 << 16 and sum(sizes) == 10 << 20 and status.error is None


def test_steps_cross_gzip_members_and_chunk_boundaries():
    members = [gzip.compress(b"%d\n" % i * 5000) for i in range(5)]
    data = b"".join(members)
    for size in (1, 7, 100, len(data)):
        status = StreamStatus()
        out = b"".join(decoded_chunks(chunked(data, size), status, step=1000))
        assert out == b"".join(b"%d\n" % i * 5000 for i in range(5)) and status.error is None


def test_zlib_not_gzip_header_is_plain():
    data = zlib.compress(b"hello\n")
    lines, status = read(data)
    assert not status.compressed and b"".join(lines) in data


def expand(items) -> list[bytes]:
    out: list[bytes] = []
    for x in items:
        out += [b""] * x.count if isinstance(x, BlankLines) else [bytes(x)]
    return out


def test_runs_of_empty_lines_come_as_one_item_and_stand_for_every_line():
    rng = random.Random(64)
    for _ in range(200):
        pieces = [
            b"ab",
            b"\r",
            b"\n",
            b"\n" * rng.randrange(RUN_MIN - 2, 300),
            b"\r\n" * rng.randrange(RUN_MIN - 2, 100),
            b"c" * rng.randrange(1, 90),
        ]
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
        body = rng.choice([data, gzip.compress(data)])
        size = rng.randrange(1, 200)
        plain = list(iter_lines(chunked(body, size), max_line=64))
        runs = list(iter_lines(chunked(body, size), max_line=64, runs=True))
        assert expand(runs) == [bytes(x) for x in plain]
        assert all(x.count >= 1 for x in runs if isinstance(x, BlankLines))
        n = rng.randrange(0, len(plain) + 2)
        assert expand(skip_lines(runs, n)) == [bytes(x) for x in plain[n:]]


@pytest.mark.parametrize("end", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_newline_bomb_is_a_handful_of_items(end):
    bomb = gzip.compress(end * (10 << 20), 9)
    items = list(iter_lines(chunked(bomb, 4096), runs=True))
    assert sum(x.count if isinstance(x, BlankLines) else 1 for x in items) == 10 << 20
    assert len(items) < 200
