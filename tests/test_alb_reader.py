"""Reading objects: gzip or plain, multi-member, truncated, corrupt, CRLF, huge lines."""

from __future__ import annotations

import gzip
import os
import zlib

from chalicelib.alb.reader import MAX_LINE_BYTES, StreamStatus, iter_lines


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


def test_endless_line_is_cut_so_memory_stays_bounded():
    data = b"y" * (MAX_LINE_BYTES * 2 + 10)
    lines, _ = read(data, 1 << 20)
    assert [len(x) for x in lines] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 10]


def test_zlib_not_gzip_header_is_plain():
    data = zlib.compress(b"hello\n")
    lines, status = read(data)
    assert not status.compressed and b"".join(lines) in data
