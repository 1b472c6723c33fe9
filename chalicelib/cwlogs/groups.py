"""Log group names, and the destination template the ALB flow fills from each object's key.

``OPSWATCH_ALB_LOG_GROUP`` may name one group or a template with ``{account}``,
``{region}`` and ``{elb}``. The settings check the template when the stage starts
(an unknown placeholder or a character no log group takes is a settings error);
``fill`` checks each name it makes against CreateLogGroup's rule.

>>> check_template("/opswatch/alb/{account}/{region}")
'/opswatch/alb/{account}/{region}'
>>> fill("/opswatch/alb/{elb}", {"elb": "app/shop/50dc6c495c0c9188"})
'/opswatch/alb/app/shop/50dc6c495c0c9188'
>>> policy_pattern("/opswatch/alb/{account}")
'/opswatch/alb/*'
"""

from __future__ import annotations

import re

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
    if not template or "{" in fixed or "}" in fixed or (fixed and not LOG_GROUP_NAME.fullmatch(fixed)):
        raise ValueError(
            f"{setting} {template[:600]!r} is not a log group name: letters, digits and . _ - / # only, "
            "at most 512, with {account}, {region} or {elb} in braces"
        )
    return template


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each placeholder's value (characters no log group takes become ``_``); ValueError when
    the result is no log group name (empty, or over 512 characters)."""
    name = _FIELD.sub(lambda m: _NOT_IN_A_NAME.sub("_", values.get(m.group(1)) or ""), template)
    if not LOG_GROUP_NAME.fullmatch(name):
        raise ValueError(f"the log group {name[:80]!r} filled in from the key is not a log group name (at most 512)")
    return name


def policy_pattern(template: str) -> str:
    """The template as an IAM resource pattern: each placeholder becomes ``*``."""
    return _FIELD.sub("*", template)
