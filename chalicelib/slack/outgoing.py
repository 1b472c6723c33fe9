"""One message a flow wants posted, with where it goes: what every renderer returns.

It lives in ``slack/`` (below the flows) so each flow's renderer returns the same
thing, and ``opswatch slack render|send`` and the handlers treat them alike,
without one flow importing another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.slack.message import SlackMessage

if TYPE_CHECKING:  # annotation only: slack/ never imports a flow at run time
    from chalicelib.alarms.notification import Alarm


@dataclass
class Outgoing:
    """One message to post, with where it goes."""

    message: SlackMessage
    channel: str | None
    alarm: Alarm | None  # the alarm it tells of, for the alarm bridge's once-only delivery and threads
    source: str
    mention: str | None = None  # for an alarm message rendered again (with the metric's shape)
    undecodable: str | None = None  # why JSON that came was refused (too deep, too big): shown as text, counted
