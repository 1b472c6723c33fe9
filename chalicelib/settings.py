"""Per-stage settings, read from the environment Chalice sets from ``.chalice/config.json``.

Chalice also sets a stage's environment variables while it loads ``app.py``
for ``chalice deploy``, so trigger settings (the bucket) are known at deploy time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class AlbSettings:
    bucket: str
    log_group: str
    format: str
    ship_filter: str | None
    key_suffix: str | None


def alb() -> AlbSettings:
    fmt = os.environ.get("OPSWATCH_ALB_FORMAT", "json")
    if fmt not in ("json", "alb"):
        raise ValueError(f"OPSWATCH_ALB_FORMAT must be json or alb, not {fmt!r}")
    return AlbSettings(
        bucket=os.environ.get("OPSWATCH_ALB_BUCKET", "opswatch-alb-logs"),
        log_group=os.environ.get("OPSWATCH_ALB_LOG_GROUP", "/opswatch/alb"),
        format=fmt,
        ship_filter=os.environ.get("OPSWATCH_ALB_SHIP_FILTER") or None,
        key_suffix=os.environ.get("OPSWATCH_ALB_KEY_SUFFIX") or None,
    )


def metrics_namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "opswatch")
