"""One button click, as the endpoint hands it to the worker: the small contract between the two.

The endpoint verifies, authorizes and de-duplicates a Slack ``block_actions`` payload, then
turns it into a ``Click``; the worker (an asynchronous Lambda invocation, or the same process
with ``OPSWATCH_SLACK_ACTIONS_DISPATCH=inline``) receives ``Click.to_dict()`` as its event.

>>> c = Click("opswatch_ack", "alarm:x", "U1", "ana", "T1", "C1", "1.2", "1.2", None, "3.4")
>>> Click.from_dict(c.to_dict()) == c
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

ACK, MUTE, LOGS = "opswatch_ack", "opswatch_mute", "opswatch_logs"
ACTION_IDS = (ACK, MUTE, LOGS)


@dataclass(frozen=True)
class Click:
    """One verified, authorized button click, as the worker receives it (JSON-serializable)."""

    action_id: str  # one of ACTION_IDS
    value: str  # the button's `value`, or the `selected_option.value` of a static_select (Mute)
    user_id: str
    user_name: str  # Slack username as sent in the payload (display only; mention with <@user_id>)
    team_id: str
    channel_id: str | None
    message_ts: str | None  # container.message_ts: the message the button sits on
    thread_ts: str | None  # message.thread_ts if the message is in a thread, else message_ts
    response_url: str | None  # for webhook-mode messages (and ephemeral replies)
    action_ts: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Click:
        """The click in a worker's event; ``ValueError`` naming the field when one is missing or not a string."""
        if not isinstance(d, dict):
            raise ValueError(f"a click event must be a JSON object, not {type(d).__name__}")
        values = {}
        for f in fields(cls):
            v = d.get(f.name)
            optional = "None" in str(f.type)
            if v is None and optional:
                values[f.name] = None
            elif isinstance(v, str):
                values[f.name] = v
            else:
                raise ValueError(f"a click event's {f.name!r} must be a string, not {type(v).__name__}")
        if values["action_id"] not in ACTION_IDS:
            raise ValueError(f"a click event's action_id must be one of {', '.join(ACTION_IDS)}")
        return cls(**values)
