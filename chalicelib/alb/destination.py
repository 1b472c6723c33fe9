"""Which log group an ALB object ships to: one group, or a template filled from the object's key.

A central log-archive bucket holds the objects of many accounts and Regions. With
``OPSWATCH_ALB_LOG_GROUP=/opswatch/alb/{account}`` each account's lines land in a
group of their own, so each team's metric filters and retention stay its own.
The placeholders are ``{account}``, ``{region}`` and ``{elb}`` (the load balancer,
``app/NAME/ID``); their values come from the key (``keys.classify`` checked them),
and the name is checked against CreateLogGroup's rule before anything is written.

>>> check_template("/opswatch/alb/{account}/{region}")
'/opswatch/alb/{account}/{region}'
>>> from chalicelib.alb.keys import LogObject
>>> group_for("/opswatch/alb/{account}", LogObject("b", "k", "app/shop/50dc6c495c0c9188", "111122223333", "eu-west-1"))
'/opswatch/alb/111122223333'
"""

from __future__ import annotations

import re

from chalicelib.alb.keys import KeyRefused, LogObject

PLACEHOLDERS = ("account", "region", "elb")
MAX_NAME = 512
LOG_GROUP_NAME = re.compile(r"[._/#A-Za-z0-9-]{1,512}")  # CreateLogGroup's pattern
_FIELD = re.compile(r"\{([^{}]*)\}")
_NOT_IN_A_NAME = re.compile(r"[^._/#A-Za-z0-9-]")


def placeholders(template: str) -> list[str]:
    return _FIELD.findall(template)


def is_template(template: str) -> bool:
    return bool(placeholders(template))


def check_template(template: str, setting: str = "OPSWATCH_ALB_LOG_GROUP") -> str:
    """The template when every placeholder is known and the rest is a log group name's text; else ValueError."""
    unknown = [p for p in placeholders(template) if p not in PLACEHOLDERS]
    if unknown:
        raise ValueError(
            f"{setting} {template!r}: unknown placeholder {{{unknown[0]}}}; "
            f"only {', '.join('{' + p + '}' for p in PLACEHOLDERS)} are filled in (from the object's key)"
        )
    fixed = _FIELD.sub("", template)
    if "{" in fixed or "}" in fixed or (fixed and not LOG_GROUP_NAME.fullmatch(fixed)) or not template:
        raise ValueError(
            f"{setting} {template!r} is not a log group name: letters, digits and . _ - / # only, at most 512, "
            "with {account}, {region} or {elb} in braces"
        )
    if len(fixed) > MAX_NAME:
        raise ValueError(f"{setting} is {len(fixed)} characters long: a log group name has at most {MAX_NAME}")
    return template


def group_for(template: str, obj: LogObject) -> str:
    """The log group of ``obj``: the template filled from its key. Raises ``KeyRefused`` if that is no name."""
    if not is_template(template):
        return template
    values = {"account": obj.account or "", "region": obj.region or "", "elb": obj.load_balancer or ""}
    name = _FIELD.sub(lambda m: _NOT_IN_A_NAME.sub("_", values[m.group(1)]), template)
    if not LOG_GROUP_NAME.fullmatch(name):
        raise KeyRefused(f"the log group {name[:80]!r} filled in from the key is not a log group name (at most 512)")
    return name


def policy_pattern(template: str) -> str:
    """The template as an IAM resource pattern: each placeholder becomes ``*``."""
    return _FIELD.sub("*", template)
