"""Tell ALB access-log objects from everything else in the log bucket.

ALB names its objects
``AWSLogs/ACCOUNT/elasticloadbalancing/REGION/YYYY/MM/DD/ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_ENDTIME_IP_RANDOM.log.gz``.
The same bucket often also holds the test object ALB writes when logging is
switched on, connection logs (``conn_log.``), health-check logs, and NLB or CLB
logs; those are skipped with a reason rather than parsed into thousands of
rejected lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

_ACCESS = re.compile(
    r"(?P<account>\d{12})_elasticloadbalancing_(?P<region>[a-z0-9-]+)_"
    r"app\.(?P<name>[^._][^.]*)\.(?P<id>[0-9a-f]+)_(?P<end>\d{8}T\d{4}Z)_[^_]+_[^_]+\.log(?:\.gz)?$"
)
_SKIPS = (
    (re.compile(r"(^|/)ELBAccessLogTestFile$"), "the test object ALB writes when access logging is enabled"),
    (re.compile(r"_conn_log\."), "an ALB connection log, not an access log"),
    (re.compile(r"health_?check", re.I), "an ALB health-check log, not an access log"),
    (re.compile(r"_net\.[^_]+_\d{8}T\d{4}Z_"), "a Network Load Balancer log"),
    (
        re.compile(r"_elasticloadbalancing_[a-z0-9-]+_(?!app\.)[^_]+_\d{8}T\d{4}Z_[^_]+_[^_]+\.log$"),
        "a Classic Load Balancer log",
    ),
)
_BAD_STREAM_CHARS = re.compile(r"[:*]")


@dataclass(frozen=True)
class LogObject:
    """An S3 object the ALB flow will read, with what its name tells."""

    bucket: str
    key: str
    load_balancer: str | None  # app/NAME/ID, from the name when ALB wrote it

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def stream_name(self) -> str:
        """One log stream per object: the object's file name without ``.log.gz``."""
        base = self.key.rsplit("/", 1)[-1]
        for suffix in (".gz", ".log"):
            base = base.removesuffix(suffix)
        return _BAD_STREAM_CHARS.sub("_", base or self.key)[:400] or "object"


def event_key(raw_key: str) -> str:
    """S3 event notifications URL-encode keys (``+`` for space, ``%xx``)."""
    return unquote_plus(raw_key)


def classify(bucket: str, key: str) -> tuple[LogObject | None, str | None]:
    """``(LogObject, None)`` for an ALB access log, ``(None, why)`` for anything else."""
    base = key.rsplit("/", 1)[-1]
    m = _ACCESS.search(base)
    if m:
        return LogObject(bucket, key, f"app/{m['name']}/{m['id']}"), None
    for pattern, why in _SKIPS:
        if pattern.search(key):
            return None, why
    return None, "not named like an ALB access log (ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_...log.gz)"
