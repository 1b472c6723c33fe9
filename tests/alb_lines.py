"""Helpers to build ALB lines and keys for tests (not fixtures: plain functions)."""

from __future__ import annotations

import time

LB = "app/my-loadbalancer/50dc6c495c0c9188"

TEMPLATE = (
    "{type} {time} {elb} 192.168.131.39:2817 10.0.0.1:80 0.000 {tpt} 0.000 {status} 200 34 366 "
    '"GET http://www.example.com:80/{path} HTTP/1.1" "curl/7.46.0" - - '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 {time} "forward" "-" "-" '
    '"10.0.0.1:80" "200" "-" "-" TID_dc57cebed65b444ebc8177bb698fe166 "-" "-" "-"'
)


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1e6) % 1_000_000:06d}Z"


def line(ts: float | None = None, status: int = 200, tpt: str = "0.001", path: str = "", typ: str = "http") -> str:
    return TEMPLATE.format(
        type=typ, time=iso(time.time() if ts is None else ts), elb=LB, status=status, tpt=tpt, path=path
    )


def key(name: str = "abc", day: str = "2026/11/26", lb: str = "my-loadbalancer.50dc6c495c0c9188") -> str:
    compact = day.replace("/", "")
    return (
        f"AWSLogs/123456789012/elasticloadbalancing/us-east-2/{day}/"
        f"123456789012_elasticloadbalancing_us-east-2_app.{lb}_{compact}T1850Z_10.0.0.1_{name}.log.gz"
    )


def cut_gzip(whole: list[str], cut: str) -> bytes:
    """A gzip stream that ends, damaged, right after ``cut`` (the start of one more line): no trailer, no newline.

    The sync flush makes the decompressor give out every byte before the damage, as it does for an
    object truncated in transit, so the fragment reaches the reader.
    """
    import zlib

    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    text = "".join(f"{x}\n" for x in whole) + cut
    return packer.compress(text.encode()) + packer.flush(zlib.Z_SYNC_FLUSH)


# A line cut after its trace_id still parses (an older line generation ends there): only the reader knows.
CUT_AT = 340
