"""What a button carries: which incident it acts on, compact, and checked again when it comes back.

A button's ``value`` (at most 2,000 characters) and a select option's ``value`` (at most 150)
come back from the internet with the click, so they are read as hostile: every field is
checked against the shape it must have, and anything else raises ``BadValue`` naming the
field. A value names an incident, never an action to take: the action is the button's id.

- an alarm: ``a1~<time>~<partition>~<region>~<account>~<digest>~<name>``: the alarm's ARN in
  parts, and the moment of the state change (epoch ms in base 36);
- a log alert: ``l1~<first>~<last>~<account>~<digest>~<rule>~<log group>``: the rule in one log
  group of one account, and the window of the matched events.

The name (or log group) comes last, so it may hold ``~``. Where the whole value would not fit
(a Mute option's 150 characters), the name is cut and ``digest`` holds the first 12 hex digits
of the SHA-256 of the full name; the worker then lists the names with that prefix and keeps
the one whose digest matches. Mute options put the duration first: ``1h~``, ``4h~`` or ``ok~``.

>>> ref = AlarmRef("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api 5xx", 1764643200000)
>>> v = ref.encode(); v
'a1~minyzzeo~aws~eu-west-1~123456789012~~api 5xx'
>>> decode(v) == ref
True
>>> decode_mute("ok~" + v)
('ok', AlarmRef(arn='arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api 5xx', at_ms=1764643200000, digest=''))
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from chalicelib import settings

BUTTON_MAX = 2000  # Slack's limit on a button's value
OPTION_MAX = 150  # Slack's limit on a select option's value
SEP = "~"
MUTES = {"1h": 3600, "4h": 4 * 3600, "ok": None}  # None: until the alarm's next OK
LOG_MUTES = ("1h", "4h")  # a log alert has no OK
DIGEST_CHARS = 12

_B36 = re.compile(r"[0-9a-z]{1,11}")
_PARTITION = re.compile(r"aws(-[a-z]+){0,3}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ACCOUNT = settings.ACCOUNT_ID  # 12 ASCII digits: a value comes back from the internet
_DIGEST = re.compile(rf"([0-9a-f]{{{DIGEST_CHARS}}})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a log-alert rule's name (rules.py)
_LOG_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")  # CreateLogGroup's rule
_EARLIEST_MS, _LATEST_MS = 946_684_800_000, 4_102_444_800_000  # 2000-01-01 .. 2100-01-01
ALARM_NAME_MAX = 255


class BadValue(ValueError):
    """A button value that is not one opswatch made; the message names the field, never echoes the value."""


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:DIGEST_CHARS]


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _ms(text: str, what: str) -> int:
    if not _B36.fullmatch(text):
        raise BadValue(f"the button value's {what} is not a time")
    ms = int(text, 36)
    if not _EARLIEST_MS <= ms <= _LATEST_MS:
        raise BadValue(f"the button value's {what} is not between 2000 and 2100")
    return ms


def _fit(head: str, name: str, limit: int) -> tuple[str, str]:
    """(digest, name) so that ``head`` + digest + ``~`` + name fits ``limit``: the name cut, with its digest."""
    if len(head) + 1 + len(name) <= limit:
        return "", name
    room = limit - len(head) - DIGEST_CHARS - 1
    if room < 1:
        raise ValueError("no room for the name in the button value")
    return digest(name), name[:room]


@dataclass(frozen=True)
class AlarmRef:
    """One ALARM incident: the alarm's ARN and the moment it went to ALARM."""

    arn: str
    at_ms: int
    digest: str = ""  # set when ``arn`` ends in a cut name (see ``name_prefix``)

    @property
    def parts(self) -> tuple[str, str, str, str]:
        """(partition, region, account, name)."""
        p = self.arn.split(":", 6)
        return p[1], p[3], p[4], p[6]

    @property
    def name(self) -> str:
        return self.parts[3]

    def encode(self, limit: int = BUTTON_MAX) -> str:
        partition, region, account, name = self.parts
        head = SEP.join(("a1", _b36(self.at_ms), partition, region, account, ""))
        d, shown = (self.digest, name) if self.digest else _fit(head, name, limit)  # a cut name stays cut
        return head + d + SEP + shown


@dataclass(frozen=True)
class LogRef:
    """One log alert: a rule in one log group of one account, over the window of its matched events."""

    account: str
    log_group: str
    rule: str
    first_ms: int
    last_ms: int
    digest: str = ""  # set when ``log_group`` is cut

    @property
    def cooldown_key(self) -> str:
        """The key the log-alert cooldown keeps this (log group, rule) under (``Alert.key``)."""
        return f"{self.account}|{self.log_group}|{self.rule}"

    def encode(self, limit: int = BUTTON_MAX) -> str:
        head = SEP.join(("l1", _b36(self.first_ms), _b36(self.last_ms), self.account, ""))
        d, shown = (self.digest, self.log_group) if self.digest else _fit(head + SEP + self.rule, self.log_group, limit)
        return head + d + SEP + self.rule + SEP + shown


Ref = AlarmRef | LogRef


def mute_value(ref: Ref, duration: str) -> str:
    """A Mute option's value: the duration, then the incident, within an option's 150 characters."""
    return duration + SEP + ref.encode(OPTION_MAX - len(duration) - 1)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise BadValue("the button value is not text")
    if len(value) > BUTTON_MAX:
        raise BadValue(f"the button value is {len(value)} characters, over Slack's {BUTTON_MAX}")
    if _CONTROL.search(value):
        raise BadValue("the button value holds control characters")
    return value


def decode(value: object) -> Ref:
    """The incident a button names; ``BadValue`` for anything opswatch did not make."""
    text = _text(value)
    kind, _, rest = text.partition(SEP)
    if kind == "a1":
        fields = rest.split(SEP, 5)
        if len(fields) != 6:
            raise BadValue("the button value is not an alarm reference (too few fields)")
        at, partition, region, account, dig, name = fields
        if not _PARTITION.fullmatch(partition):
            raise BadValue("the button value's partition is not an AWS partition")
        if not _REGION.fullmatch(region):
            raise BadValue("the button value's Region is not a Region name")
        if not _ACCOUNT.fullmatch(account):
            raise BadValue("the button value's account is not 12 digits")
        if not _DIGEST.fullmatch(dig):
            raise BadValue("the button value's digest is not 12 hex digits")
        if not name.strip() or len(name) > ALARM_NAME_MAX:
            raise BadValue(f"the button value's alarm name is empty or over {ALARM_NAME_MAX} characters")
        arn = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"
        return AlarmRef(arn, _ms(at, "time of the change"), dig)
    if kind == "l1":
        fields = rest.split(SEP, 5)
        if len(fields) != 6:
            raise BadValue("the button value is not a log-alert reference (too few fields)")
        first, last, account, dig, rule, group = fields
        if not _ACCOUNT.fullmatch(account):
            raise BadValue("the button value's account is not 12 digits")
        if not _DIGEST.fullmatch(dig):
            raise BadValue("the button value's digest is not 12 hex digits")
        if not _RULE.fullmatch(rule):
            raise BadValue("the button value's rule is not a rule name")
        if not _LOG_GROUP.fullmatch(group):
            raise BadValue("the button value's log group is not a log group name")
        first_ms, last_ms = _ms(first, "first event"), _ms(last, "last event")
        if last_ms < first_ms:
            raise BadValue("the button value's window ends before it starts")
        return LogRef(account, group, rule, first_ms, last_ms, dig)
    raise BadValue("the button value is not one opswatch made (unknown kind)")


def decode_mute(value: object) -> tuple[str, Ref]:
    """(duration, incident) of a Mute option; ``BadValue`` for an unknown duration or a bad incident."""
    text = _text(value)
    duration, _, rest = text.partition(SEP)
    if duration not in MUTES:
        raise BadValue(f"the Mute choice is not one of {', '.join(MUTES)}")
    ref = decode(rest)
    if isinstance(ref, LogRef) and duration not in LOG_MUTES:
        raise BadValue("a log alert can be muted for 1 h or 4 h, not until OK")
    return duration, ref


def alarm_ref(arn: str | None, when: str | None) -> AlarmRef:
    """The incident of an ALARM message: its ARN and change time (ISO 8601), checked as a click's would be.

    The time in epoch ms is the one the alarm bridge keeps the incident under (``dedup.change_key``).
    """
    from datetime import datetime

    if not arn or not when:
        raise BadValue("the alarm has no ARN or no time of the change")
    try:
        at = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise BadValue("the alarm's time of the change is not an ISO 8601 time") from None
    p = arn.split(":", 6)
    if len(p) != 7 or p[0] != "arn" or p[2] != "cloudwatch" or p[5] != "alarm":
        raise BadValue("the alarm's ARN is not a CloudWatch alarm ARN")
    ref = AlarmRef(arn, at)
    try:
        ok = decode(ref.encode()) == ref
    except BadValue as exc:
        why = str(exc).replace("the button value's ", "its ")
        raise BadValue(f"the alarm's ARN cannot be acted on ({why})") from None
    if not ok:
        raise BadValue("the alarm's ARN is not a CloudWatch alarm ARN")
    return ref
