"""The one error a malformed filter pattern raises: it says where and why."""

from __future__ import annotations


class PatternError(ValueError):
    """A filter pattern CloudWatch would refuse; ``position`` is 1-based in the pattern text."""

    def __init__(self, message: str, pattern: str = "", position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        shown = f": {pattern!r}" if pattern else ""
        super().__init__(f"invalid filter pattern{where}: {message}{shown}")
        self.reason = message
        self.position = position
