"""Which log group an ALB object ships to: one group, or a template filled from the object's key.

A central log-archive bucket holds the objects of many accounts and Regions. With
``OPSWATCH_ALB_LOG_GROUP=/opswatch/alb/{account}`` each account's lines land in a
group of their own, so each team's metric filters and retention stay its own.
The placeholders are ``{account}``, ``{region}`` and ``{elb}`` (the load balancer,
``app/NAME/ID``); their values come from the key (``keys.classify`` checked them).
The template's rules are in ``settings.py``, which checks the setting at start.

>>> from chalicelib.alb.keys import LogObject
>>> group_for("/opswatch/alb/{account}", LogObject("b", "k", "app/shop/50dc6c495c0c9188", "111122223333", "eu-west-1"))
'/opswatch/alb/111122223333'
"""

from __future__ import annotations

from chalicelib.alb.keys import KeyRefused, LogObject
from chalicelib.settings import check_template, fill, is_template, policy_pattern

__all__ = ["check_template", "group_for", "is_template", "policy_pattern"]


def group_for(template: str, obj: LogObject) -> str:
    """The log group of ``obj``: the template filled from its key. Raises ``KeyRefused`` if that is no name."""
    if not is_template(template):
        return template
    values = {"account": obj.account or "", "region": obj.region or "", "elb": obj.load_balancer or ""}
    try:
        return fill(template, values)
    except ValueError as exc:
        raise KeyRefused(str(exc)) from None
