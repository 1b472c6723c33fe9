"""Generate realistic ALB access-log traffic for the demo and the benchmarks.

A mix a busy load balancer writes: mostly 2xx, some redirects, 4xx and 5xx,
requests that never reached a target (``-1`` timings), Lambda targets, IPv6
clients, WebSockets, TLS and plain HTTP, long query strings and user agents.
Deterministic for a given seed, so benchmark runs compare like with like.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "ELB-HealthChecker/2.0",
    "python-requests/2.32.3",
    "-",
)
_PATHS = ("/", "/api/orders", "/api/orders/8812/items", "/login", "/static/app.js", "/search?q=red+shoes&page=2")
_TG = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/web/73e2d6bc24d8a067"
_CERT = "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1e6) % 1_000_000:06d}Z"


def lines(
    count: int, start: float, elb: str = "app/shop-prod/50dc6c495c0c9188", seed: int = 7, spread_seconds: float = 300.0
) -> Iterator[str]:
    """``count`` lines whose times run from ``start`` over ``spread_seconds``."""
    rnd = random.Random(seed)
    step = spread_seconds / max(count, 1)
    for i in range(count):
        ts = start + i * step
        kind = rnd.random()
        typ = rnd.choice(("https", "https", "h2", "http", "wss"))
        tls = typ in ("https", "h2", "wss")
        if rnd.random() < 0.1:
            client = f"2001:db8:{rnd.randrange(65536):x}::{rnd.randrange(65536):x}:{rnd.randrange(1024, 65535)}"
        else:
            client = f"203.0.113.{rnd.randrange(1, 255)}:{rnd.randrange(1024, 65535)}"
        target_ip = f"10.0.{rnd.randrange(4)}.{rnd.randrange(1, 255)}"
        target = f"{target_ip}:8080"
        verb = rnd.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE"))
        scheme, port = ("https", 443) if tls else ("http", 80)
        url = f"{scheme}://shop.example.com:{port}{rnd.choice(_PATHS)}"
        agent = rnd.choice(_AGENTS)
        tpt = f"{rnd.expovariate(20):.3f}"
        if kind < 0.85:
            code, tcode = rnd.choice((200, 200, 200, 201, 204, 301, 304)), None
        elif kind < 0.95:
            code, tcode = rnd.choice((400, 403, 404, 404, 429)), None
        elif kind < 0.98:
            code, tcode = rnd.choice((500, 502, 503)), None
        else:
            code, tcode = 504, "-"
        tcode = str(code) if tcode is None else tcode
        timings = f"0.000 {tpt} 0.000"
        actions, tlist, tclist = "forward", f'"{target}"', f'"{tcode}"'
        if code == 504:
            timings = "0.001 -1 -1"
        if kind > 0.995:  # never reached a target
            target, timings, tcode, tlist, tclist, code = "-", "-1 -1 -1", "-", '"-"', '"-"', 400
            verb_part = f"- {url}- -"
        else:
            verb_part = f"{verb} {url} HTTP/{'2.0' if typ == 'h2' else '1.1'}"
        yield (
            f"{typ} {_iso(ts)} {elb} {client} {target} {timings} {code} {tcode} "
            f"{rnd.randrange(100, 2000)} {rnd.randrange(100, 200000)} "
            f'"{verb_part}" "{agent}" '
            f"{'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2' if tls else '- -'} {_TG} "
            f'"Root=1-{int(ts):08x}-{rnd.getrandbits(96):024x}" "{"shop.example.com" if tls else "-"}" '
            f'"{_CERT if tls else "-"}" {rnd.choice((0, 1, 2, 10))} {_iso(ts - 0.01)} "{actions}" "-" "-" '
            f'{tlist} {tclist} "-" "-" TID_{rnd.getrandbits(128):032x} "-" "-" "-"'
        )
