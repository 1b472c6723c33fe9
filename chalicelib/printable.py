"""Text from outside opswatch, made safe to print on a terminal.

A log line, user agent or URL is someone else's text. Printed raw, its control characters act
instead of being shown: ``ESC ] 0;...BEL`` sets the window title, ``ESC [ 2J`` clears the screen,
a lone CR overwrites the line, a newline breaks a table. (click strips only ``ESC [`` sequences, and
only when the output is not a terminal.)
"""

from __future__ import annotations

import re

# C0, DEL and C1 control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    r"""``text`` with its control characters written as escapes, so it prints as one inert line.

    >>> shown("a\x1b]0;title\x07\r\nb")
    'a\\x1b]0;title\\x07\\r\\nb'
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
