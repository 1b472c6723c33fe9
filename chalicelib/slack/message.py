"""A Slack message opswatch can post anywhere: Block Kit in a coloured attachment.

Built with slack-sdk's Block Kit models, within Slack's limits so Slack never
answers ``invalid_blocks``: 150 characters for a header, 3,000 for a section's
text, 10 fields of 2,000 each, 10 context elements, 50 blocks, and about 12,000
characters of block text in all. Longer content is cut with a visible marker.
The top-level ``text`` is the fallback Slack shows in notifications and reads
to screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.slack.text import plain, truncate

if TYPE_CHECKING:
    from slack_sdk.models.blocks import Block

# slack-sdk's Block Kit models are imported where a block is made, not here: any part of slack-sdk
# loads its Web API client and asyncio, which a function that ends up sending nothing never needs.

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_MAX = 10
BLOCKS_MAX = 50
TOTAL_TEXT_MAX = 12_000
FALLBACK_MAX = 3000

COLORS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#8c8c8c"}
NEUTRAL = "#4a90d9"


@dataclass
class SlackMessage:
    """What to post: fallback text, a colour bar and blocks. Add parts in reading order."""

    text: str
    color: str = NEUTRAL
    blocks: list[Block] = field(default_factory=list)
    _chars: int = 0
    _dropped: int = 0

    def _room(self, want: int) -> int:
        return max(0, min(want, TOTAL_TEXT_MAX - self._chars))

    def _add(self, block: Block, chars: int) -> None:
        if len(self.blocks) >= BLOCKS_MAX - 1 or chars == 0:
            self._dropped += 1
            return
        self.blocks.append(block)
        self._chars += chars

    def header(self, text: str) -> SlackMessage:
        """A plain-text title. Slack does not parse plain text for mentions; angle
        brackets are swapped for look-alikes all the same, so no reader of the
        payload (or future Slack client) can take them for markup."""
        from slack_sdk.models.blocks import HeaderBlock, PlainTextObject

        t = truncate(plain(text), HEADER_MAX)
        self._add(HeaderBlock(text=PlainTextObject(text=t, emoji=True)), len(t))
        return self

    def section(self, mrkdwn: str) -> SlackMessage:
        """A section of mrkdwn; the caller has escaped every untrusted part."""
        from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

        if not mrkdwn.strip():
            return self
        t = truncate(mrkdwn, self._room(SECTION_MAX))
        if t.count("```") % 2:  # a cut code block must still close
            t = truncate(mrkdwn, self._room(SECTION_MAX) - 4).rstrip() + "\n```"
        self._add(SectionBlock(text=MarkdownTextObject(text=t)), len(t))
        return self

    def fields(self, pairs: list[tuple[str, str]]) -> SlackMessage:
        """Label/value pairs shown two per row; values are mrkdwn, already escaped."""
        from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

        pairs = [(k, v) for k, v in pairs if v not in (None, "")]
        for start in range(0, len(pairs), FIELDS_MAX):
            objs, chars = [], 0
            for k, v in pairs[start : start + FIELDS_MAX]:
                t = truncate(f"*{k}*\n{v}", self._room(FIELD_MAX))
                if t:
                    objs.append(MarkdownTextObject(text=t))
                    chars += len(t)
            if objs:
                self._add(SectionBlock(fields=objs), chars)
        return self

    def context(self, parts: list[str]) -> SlackMessage:
        from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

        parts = [p for p in parts if p][:CONTEXT_MAX]
        objs = [MarkdownTextObject(text=truncate(p, self._room(FIELD_MAX))) for p in parts]
        self._add(ContextBlock(elements=objs), sum(len(o.text) for o in objs))
        return self

    def actions(self, block: Block) -> SlackMessage:
        """An ``actions`` block (buttons, selects), built by the caller with slack-sdk's models."""
        if len(self.blocks) >= BLOCKS_MAX - 1:
            self._dropped += 1
        else:
            self.blocks.append(block)
        return self

    def payload(self, channel: str | None = None) -> dict:
        """The JSON body for an incoming webhook or ``chat.postMessage``."""
        from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

        blocks = [b.to_dict() for b in self.blocks]  # slack-sdk validates every limit here
        if self._dropped:
            blocks.append(
                ContextBlock(
                    elements=[MarkdownTextObject(text=f"_{self._dropped} more part(s) left out: Slack's size limits_")]
                ).to_dict()
            )
        body: dict = {
            "text": truncate(self.text, FALLBACK_MAX),
            "attachments": [{"color": self.color, "blocks": blocks}],
        }
        if channel:
            body["channel"] = channel
        return body
