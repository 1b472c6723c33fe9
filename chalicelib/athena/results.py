"""What an Athena query gives back, whichever client ran it: rows, bytes scanned and cost, or why it failed.

Shared by the CLI's pyathena client (``remote``) and the daily report's boto3 client (``boto``),
and the text layout of both their tables. Apart from the table's definition (``table.py``,
which reads the ALB parser's fields), so the report's function loads neither pyathena's
module nor the ALB flow. Athena bills 5 USD per TB scanned, rounded up to the MB, with a
10 MB minimum per query; failed queries and DDL cost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chalicelib.printable import shown

USD_PER_TB = 5.0
MB = 1_000_000
TB = 1_000_000_000_000
MIN_BILLED_BYTES = 10 * MB


def cost_usd(scanned_bytes: int | None) -> float:
    """What a successful query costs: 10 MB at least, rounded up to the MB."""
    billed = max(MIN_BILLED_BYTES, math.ceil((scanned_bytes or 0) / MB) * MB)
    return billed / TB * USD_PER_TB


class AthenaQueryFailed(RuntimeError):
    """The query ended FAILED or CANCELLED; the message is Athena's reason."""

    def __init__(self, state: str, reason: str | None, query_id: str) -> None:
        super().__init__(f"query {query_id} {state}: {reason or 'no reason given'}")
        self.state, self.reason, self.query_id = state, reason, query_id


@dataclass(frozen=True)
class AthenaTarget:
    database: str
    workgroup: str
    output: str  # s3://bucket/prefix/ for results


@dataclass
class AthenaResult:
    columns: list[str]
    rows: list[tuple]
    query_id: str
    scanned_bytes: int
    truncated: bool = False  # more rows exist than were read (a client's row limit)

    @property
    def cost(self) -> float:
        return cost_usd(self.scanned_bytes)


def aligned(columns: list[str], rows: list[tuple], cell=str) -> list[str]:
    """Query results as lines of left-aligned columns (the CLI's table, the daily report's block).

    Control characters in the values are shown as escapes (``shown``): the values come from log lines.

    >>> aligned(["code", "n"], [(200, 42), (502, None)])
    ['code  n', '200   42', '502']
    """
    columns = [shown(c) for c in columns]
    cells = [["" if v is None else shown(cell(v)) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(columns)]
    return ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in [columns, *cells]]
