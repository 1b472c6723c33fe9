"""Turn a request URL into a route: the path with its variable parts replaced.

Route metrics are published per route, and every distinct route is a metric
that costs money, so ``/api/users/42`` and ``/api/users/43`` must be one route,
``/api/users/{id}``. A segment becomes a placeholder when it is a number
(``{id}``), a UUID (``{uuid}``), a long hexadecimal string (``{hex}``), a
token-like string of letters and digits (``{token}``), or holds encoded or
non-ASCII characters (``{value}``). Route templates from the stage's settings
(``/api/orders/{order}/items``, ``/static/*``) take precedence over the rules.

>>> route("https://shop.example.com:443/api/users/42?tab=orders")
'/api/users/{id}'
>>> route("https://h:443/v2/orders/7f9c0a4e-8e1b-4b5f-9d36-0c2a1e9b7d11/items/3")
'/v2/orders/{uuid}/items/{id}'
>>> route(None)
'(malformed)'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MALFORMED = "(malformed)"
MAX_SEGMENTS = 8  # deeper paths end in "/…": a route is a name, not a copy of the URL
MAX_SEGMENT_CHARS = 64

_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]{16,}")
_NUMBER = re.compile(r"[0-9]+(?:[.,_-][0-9]+)*")
# Letters and digits mixed, 16 characters or more (API keys, session ids, base64 ids).
_TOKEN = re.compile(r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_\-=+.~]{16,}")
_WORDISH = re.compile(r"[A-Za-z0-9_.~@:!$&'()*+,;=-]*")


def path_of(url: str) -> str:
    """The path of a request URL, without scheme, host, port, query string or fragment."""
    if url.startswith("/"):
        path = url
    else:
        scheme_end = url.find("://")
        if scheme_end < 0:
            return ""
        slash = url.find("/", scheme_end + 3)
        path = url[slash:] if slash >= 0 else "/"
    for sep in ("?", "#"):
        cut = path.find(sep)
        if cut >= 0:
            path = path[:cut]
    return path or "/"


def segment(seg: str) -> str:
    """One path segment as it appears in a route: itself, or its placeholder."""
    if _NUMBER.fullmatch(seg):
        return "{id}"
    if _UUID.fullmatch(seg):
        return "{uuid}"
    if _HEX.fullmatch(seg):
        return "{hex}"
    if "%" in seg or not seg.isascii():
        return "{value}"
    if _TOKEN.fullmatch(seg):
        return "{token}"
    if len(seg) > MAX_SEGMENT_CHARS or not _WORDISH.fullmatch(seg):
        return "{value}"
    return seg


class Templates:
    """Route templates from settings: ``{name}`` matches one segment, a final ``*`` the rest."""

    def __init__(self, templates: Sequence[str] = ()) -> None:
        self.templates: list[tuple[str, list[str], bool]] = []
        for t in templates:
            t = t.strip()
            if not t:
                continue
            if not t.startswith("/"):
                raise ValueError(f"route template {t!r} must start with /")
            parts = t.strip("/").split("/") if t != "/" else []
            rest = bool(parts) and parts[-1] == "*"
            if rest:
                parts = parts[:-1]
            if "*" in parts:
                raise ValueError(f"route template {t!r}: * may only end a template")
            self.templates.append((t, parts, rest))

    def match(self, segments: list[str]) -> str | None:
        for name, parts, rest in self.templates:
            if len(segments) < len(parts) or (not rest and len(segments) != len(parts)):
                continue
            if all(p == s or (p.startswith("{") and p.endswith("}")) for p, s in zip(parts, segments, strict=False)):
                return name
        return None


_NO_TEMPLATES = Templates()


def route(url: str | None, templates: Templates = _NO_TEMPLATES) -> str:
    """The route of a request URL (``request_url``), ``(malformed)`` when there is none."""
    if not url:
        return MALFORMED
    path = path_of(url)
    if not path.startswith("/"):
        return MALFORMED
    segments = [s for s in path.split("/") if s]
    if templates.templates:
        named = templates.match(segments)
        if named is not None:
            return named
    out = [segment(s) for s in segments[:MAX_SEGMENTS]]
    tail = "/…" if len(segments) > MAX_SEGMENTS else ""
    return "/" + "/".join(out) + tail
