"""The three kinds of traffic the parser is measured on, besides ``make bench``'s generated mix.

- ``full_lines``: every field carries a value (long browser user agents, TLS cipher and
  protocol, certificate ARN, domain, trace id, classification, ``TID_`` connection trace id
  and the transform fields): the longest lines a load balancer writes, the worst case
  for a parser whose cost grows with the bytes it looks at.
- ``doc_lines``: AWS's own documented example lines (the seven entries of "Access logs
  for your Application Load Balancer"), repeated; read from ``tests/data/alb``, a copy of
  ``../shared/reference/alb``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from itertools import cycle, islice
from pathlib import Path

DOC_EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "alb" / "aws_doc_examples_2023-04.log"

_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.127 "
    "Safari/537.36 Edg/126.0.2592.87",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1 [FBAN/FBIOS;FBAV/471.0.0.35.105;FBBV/612345678;FBDV/iPhone15,3]",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/126.0.6478.122 Mobile Safari/537.36",
)
_CIPHERS = ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384")
_PROTOCOLS = ("TLSv1.2", "TLSv1.3")
_PATHS = (
    "/api/v2/orders/88123/items?expand=product,price&currency=EUR&locale=de-DE",
    "/search?q=red+running+shoes&size=42&sort=price_asc&page=3&utm_source=newsletter&utm_medium=email",
    "/static/js/app.5f3c2a9e.chunk.js",
    "/",
)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1e6) % 1_000_000:06d}Z"


def full_lines(count: int, start: float, seed: int = 11, spread_seconds: float = 3000.0) -> Iterator[str]:
    """``count`` lines whose every field holds a value."""
    rnd = random.Random(seed)
    step = spread_seconds / max(count, 1)
    tg = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/shop-web-prod/73e2d6bc24d8a067"
    cert = "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    for i in range(count):
        ts = start + i * step
        typ = rnd.choice(("https", "h2"))
        target = f"10.0.{rnd.randrange(4)}.{rnd.randrange(1, 255)}:8080"
        code = rnd.choice((200, 200, 200, 201, 302, 404, 500))
        path = rnd.choice(_PATHS)
        yield (
            f"{typ} {_iso(ts)} app/shop-prod/50dc6c495c0c9188 203.0.113.{rnd.randrange(1, 255)}:"
            f"{rnd.randrange(1024, 65535)} {target} 0.001 {rnd.expovariate(20):.3f} 0.000 {code} {code} "
            f"{rnd.randrange(100, 4000)} {rnd.randrange(100, 200000)} "
            f'"{rnd.choice(("GET", "POST"))} https://shop.example.com:443{path} '
            f'{"HTTP/2.0" if typ == "h2" else "HTTP/1.1"}" "{rnd.choice(_AGENTS)}" '
            f"{rnd.choice(_CIPHERS)} {rnd.choice(_PROTOCOLS)} {tg} "
            f'"Self=1-{int(ts):08x}-{rnd.getrandbits(96):024x};Root=1-{int(ts):08x}-{rnd.getrandbits(96):024x}" '
            f'"shop.example.com" "{cert}" {rnd.randrange(1, 50)} {_iso(ts - 0.002)} '
            f'"waf,authenticate,forward" "-" "-" "{target}" "{code}" "Acceptable" "-" '
            f'TID_{rnd.getrandbits(128):032x} "shop.example.com" "{path}" "TransformSuccess"'
        )


def doc_lines(count: int) -> Iterator[str]:
    """AWS's documented example lines, in turn, ``count`` in all."""
    examples = [ln for ln in DOC_EXAMPLES.read_text().splitlines() if ln]
    return islice(cycle(examples), count)
