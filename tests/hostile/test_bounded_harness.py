"""The harness itself: a child's peak is its own, however large the test process has grown."""

from __future__ import annotations

from tests.bounded import run_code


def test_a_childs_peak_does_not_include_the_parents_memory():
    held = bytearray(200 * 1024 * 1024)
    held[::4096] = b"\1" * len(held[::4096])  # touched, so it is resident in this process
    got = run_code("x = bytearray(30 * 1024 * 1024); x[::4096] = b'\\1' * len(x[::4096])")
    assert got.returncode == 0, got.stderr
    assert 30 < got.peak_rss_mb < 100, got.peak_rss_mb
    del held
