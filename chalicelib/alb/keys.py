"""Tell ALB access-log objects from everything else in the log bucket.

ALB names its objects
``AWSLogs/ACCOUNT/elasticloadbalancing/REGION/YYYY/MM/DD/ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_ENDTIME_IP_RANDOM.log.gz``.
The same bucket often also holds the test object ALB writes when logging is
switched on, connection logs (``conn_log.``), health-check logs, and NLB or CLB
logs; those are skipped with a reason rather than parsed into thousands of
rejected lines.

A central log-archive bucket holds every account's and Region's objects side by
side: the account and Region come from the key, and a key whose account is not
12 digits, whose Region is not one AWS knows, or whose folders name another
account or Region than its file name, is refused with the reason
(``KeyRefused``): it is counted, never shipped to a wrong account's log group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_plus

from chalicelib import settings

# The account and Region are taken loosely here and checked after, so a key that names a
# bad one is refused with that reason rather than skipped as "not an ALB log". Bounded, as
# the key is: an unbounded run before a literal is quadratic for search().
_ACCESS = re.compile(
    r"(?P<account>[^_/]{0,64})_elasticloadbalancing_(?P<region>[^_/]{0,64})_"
    r"app\.(?P<name>[^._][^.]*)\.(?P<id>[0-9a-f]+)_(?P<end>\d{8}T\d{4}Z)_[^_]+_[^_]+\.log(?:\.gz)?$"
)
# The folders ELB writes under: AWSLogs/ACCOUNT/elasticloadbalancing/REGION/ (after an optional prefix).
_FOLDERS = re.compile(r"(?:^|/)AWSLogs/(?P<account>[^/]*)/elasticloadbalancing/(?P<region>[^/]*)/")
ACCOUNT_ID = settings.ACCOUNT_ID  # ASCII only: \d takes any script's digits
REGION_NAME = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
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
MAX_KEY = 1024  # S3's limit on a key, in bytes (so at most as many characters)


@dataclass(frozen=True)
class LogObject:
    """An S3 object the ALB flow will read, with what its name tells."""

    bucket: str
    key: str
    load_balancer: str | None  # app/NAME/ID, from the name when ALB wrote it
    account: str | None = None  # the load balancer's account, from the key
    region: str | None = None  # the load balancer's Region, from the key

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


class KeyRefused(ValueError):
    """An ALB access log's key names an account or Region that cannot be: the object is refused, not shipped."""


@lru_cache(maxsize=64)
def known_region(region: str) -> bool:
    """Whether ``region`` is shaped like a Region and falls in a partition botocore knows."""
    if not REGION_NAME.fullmatch(region):
        return False
    from botocore.exceptions import UnknownRegionError
    from botocore.session import get_session

    try:
        get_session().get_partition_for_region(region)
    except UnknownRegionError:
        return False
    return True


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def check_origin(account: str, region: str, key: str) -> None:
    """Raise ``KeyRefused`` when the account or Region is malformed, or the key's folders disagree with them."""
    if not ACCOUNT_ID.fullmatch(account):
        raise KeyRefused(f"the key's account {_shown(account)} is not a 12-digit AWS account id")
    if not known_region(region):
        raise KeyRefused(f"the key's Region {_shown(region)} is not an AWS Region")
    folders = _FOLDERS.search(key)
    if folders and (folders["account"], folders["region"]) != (account, region):
        raise KeyRefused(
            f"the key's folders name account {_shown(folders['account'])} and Region {_shown(folders['region'])}, "
            f"its file name {account} and {region}"
        )


def classify(bucket: str, key: str) -> tuple[LogObject | None, str | None]:
    """``(LogObject, None)`` for an ALB access log, ``(None, why)`` for anything else.

    Raises ``KeyRefused`` for an ALB access log whose key names a malformed account or Region.
    """
    if len(key) > MAX_KEY:
        return None, f"a key of {len(key):,} characters is no S3 object key (at most {MAX_KEY:,} bytes)"
    base = key.rsplit("/", 1)[-1]
    m = _ACCESS.search(base)
    if m:
        check_origin(m["account"], m["region"], key)
        return LogObject(bucket, key, f"app/{m['name']}/{m['id']}", m["account"], m["region"]), None
    for pattern, why in _SKIPS:
        if pattern.search(key):
            return None, why
    return None, "not named like an ALB access log (ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_...log.gz)"
