"""Is a file text? The look opswatch takes at a log file before reading it line by line.

A log file is text, but a stray byte that is not UTF-8 is no reason to refuse one: such a line
is replaced or counted where it is read. A file that holds a NUL byte anywhere, or whose
first :data:`SNIFF_BYTES` are not UTF-8, is not a log file at all (an image, an archive, a
compressed file under another name): reading it as lines would only report noise, so
the commands that take log files refuse it, naming the file. ALB logs are judged by NUL
bytes alone (``head=False``): a request's stray byte must not cost the file.
"""

from __future__ import annotations

SNIFF_BYTES = 8192  # the head of a file judged whole: text editors and git look at as much


class Sniffer:
    """Fed a file's lines in order (without their line ends); says why the file is not text, or None."""

    def __init__(self, head: bool = True) -> None:
        """``head``: judge the first bytes' encoding too (a reader decoding strictly says more itself)."""
        self.seen = 0 if head else SNIFF_BYTES
        self.number = 0

    def reason(self, line: bytes, lines: int = 1) -> str | None:
        """``lines``: how many lines ``line`` stands for (a run of blank lines read as one)."""
        self.number += lines
        if b"\0" in line:
            return f"binary data (a NUL byte in line {self.number:,}); is it a log file?"
        if self.seen < SNIFF_BYTES:
            head = line[: SNIFF_BYTES - self.seen]
            self.seen += len(line) + 1
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                cut = exc.reason == "unexpected end of data" and len(head) < len(line)  # a character cut by the limit
                if not cut:
                    return f"not UTF-8 text (line {self.number:,}); is it compressed or binary?"
        return None
