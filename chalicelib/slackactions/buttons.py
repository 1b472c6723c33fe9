"""The buttons under an ALARM or a log alert, and the changes a click makes to the message.

One ``actions`` block (``block_id`` ``opswatch_actions``) with the three fixed action ids:
``opswatch_ack`` (a button), ``opswatch_mute`` (a static select: 1 h, 4 h and, for an alarm,
until OK) and ``opswatch_logs`` (a button). Built with slack-sdk's Block Kit models, which check
Slack's limits (a button's value 2,000 characters, an option's 150, a label 75).

What a click leaves on the message is one ``context`` block (``opswatch_status``) under the
buttons: "Acknowledged by @ana at 10:42 UTC", "Muted by @ana until 11:42 UTC". The functions
below change a posted payload (the dict Slack was sent) and return the new one; they never
touch anything else of it.
"""

from __future__ import annotations

import copy
import re

from chalicelib.slackactions.click import ACK, LOGS, MUTE
from chalicelib.slackactions.value import LOG_MUTES, MUTES, AlarmRef, Ref, mute_value

ACTIONS_BLOCK = "opswatch_actions"
STATUS_BLOCK = "opswatch_status"
MUTE_LABELS = {"1h": "1 hour", "4h": "4 hours", "ok": "until OK"}
BLOCKS_MAX = 50
_USER = re.compile(r"[UW][A-Z0-9]{2,30}")


def actions_block(ref: Ref, acting: bool = True):
    """The block of buttons for one incident (a slack-sdk ``ActionsBlock``).

    ``acting`` False (an alarm of another account): Acknowledge only, since Mute and Recent logs act in
    this account and Region.
    """
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement, Option, PlainTextObject, StaticSelectElement

    mutes = MUTES if isinstance(ref, AlarmRef) else LOG_MUTES
    value = ref.encode()
    elements = [ButtonElement(text="Acknowledge", action_id=ACK, value=value, style="primary")]
    if acting:
        elements += [
            StaticSelectElement(
                action_id=MUTE,
                placeholder=PlainTextObject(text="Mute…"),
                options=[Option(text=MUTE_LABELS[d], value=mute_value(ref, d)) for d in mutes],
            ),
            ButtonElement(text="Recent logs", action_id=LOGS, value=value),
        ]
    return ActionsBlock(block_id=ACTIONS_BLOCK, elements=elements)


def mention(user_id: str) -> str:
    """``<@U…>`` for a Slack user id, or the escaped text when it is not one (it came with the click)."""
    if _USER.fullmatch(user_id):
        return f"<@{user_id}>"
    from chalicelib.slack.text import escape

    return escape(user_id[:40])


def _blocks(payload: dict) -> list[dict]:
    """The block list holding the buttons: the first attachment's (opswatch's messages), else the top level."""
    for att in payload.get("attachments") or []:
        if any(b.get("block_id") == ACTIONS_BLOCK for b in att.get("blocks") or []):
            return att["blocks"]
    return payload.setdefault("blocks", [])


def has_buttons(payload: dict) -> bool:
    return any(b.get("block_id") == ACTIONS_BLOCK for b in _blocks(payload))


def _set_status(blocks: list[dict], key: str, line: str) -> None:
    """Put ``line`` in the status block, replacing an earlier line of the same ``key`` (ack, mute)."""
    status = next((b for b in blocks if b.get("block_id") == STATUS_BLOCK), None)
    if status is None:
        at = next((i + 1 for i, b in enumerate(blocks) if b.get("block_id") == ACTIONS_BLOCK), len(blocks))
        status = {"type": "context", "block_id": STATUS_BLOCK, "elements": []}
        blocks.insert(at, status)
        while len(blocks) > BLOCKS_MAX:  # a message already at Slack's limit gives up its last plain block
            drop = max(i for i, b in enumerate(blocks) if b.get("block_id") not in (ACTIONS_BLOCK, STATUS_BLOCK))
            del blocks[drop]
    elements = [e for e in status["elements"] if not e.get("text", "").startswith(key)]
    elements.append({"type": "mrkdwn", "text": line})
    status["elements"] = elements[-10:]


def _drop_elements(blocks: list[dict], action_ids: tuple[str, ...]) -> None:
    for b in list(blocks):
        if b.get("block_id") != ACTIONS_BLOCK:
            continue
        kept = [e for e in b.get("elements") or [] if e.get("action_id") not in action_ids]
        if kept:
            b["elements"] = kept
        else:
            blocks.remove(b)


def acknowledged(payload: dict, user_id: str, at: str) -> dict:
    """The message with the Acknowledge button replaced by "Acknowledged by @x at 10:42 UTC"."""
    new = copy.deepcopy(payload)
    blocks = _blocks(new)
    _set_status(blocks, ":eyes:", f":eyes: Acknowledged by {mention(user_id)} at {at}")
    _drop_elements(blocks, (ACK,))
    return new


def muted(payload: dict, line: str) -> dict:
    """The message saying who muted it and until when (the Mute choice stays, to change it)."""
    new = copy.deepcopy(payload)
    _set_status(_blocks(new), ":no_bell:", f":no_bell: {line}")
    return new


def settled(payload: dict) -> dict:
    """A resolved incident's message: Acknowledge and Mute go (nothing left to act on); Recent logs stays."""
    new = copy.deepcopy(payload)
    _drop_elements(_blocks(new), (ACK, MUTE))
    return new
