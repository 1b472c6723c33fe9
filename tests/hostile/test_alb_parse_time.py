"""Lines whose fields are nearly all ``-`` keep the parser linear in time.

Every optional field of an ALB line may be ``-``. The fast path's regular expression
once gave each such field two ways to match (``-``, or any token), so a line that
failed to match further on was retried both ways at every one of them: 2^n attempts.
A valid line of two dozen ``-`` fields followed by a field AWS may add later took 10
to 75 ms to parse (1,000x a normal line); 2,000 of them, which anyone who sends
requests cannot write but a broken or hostile producer of log files can, took minutes.
"""

from __future__ import annotations

from tests.bounded import run_opswatch

# Valid: the transform fields (three "-") and a field AWS may append later.
DASHES = (
    'http 2018-07-02T22:23:00.186641Z app/lb/50dc 10.0.0.1:2817 - -1 -1 -1 - - - - "- - -" "-" - - - "-" "-" "-" - - '
    '"-" "-" "-" "-" "-" "-" "-" - "-" "-" "-" "later"'
)
# The same with its last field cut: refused, after the fast path fails as late as it can.
BROKEN = DASHES[: -len('later"')]


def test_two_thousand_lines_of_dashes_parse_in_linear_time(tmp_path):
    f = tmp_path / "dashes.log"
    f.write_text((DASHES + "\n" + BROKEN + "\n") * 1000)
    r = run_opswatch("alb", "parse", str(f), seconds=60, address_space_mb=1024)
    assert r.returncode == 1  # the broken lines are rejected, each with its reason
    assert len(r.stdout.splitlines()) == 1000
    assert '"extra_fields":["later"]' in r.stdout.splitlines()[0]
    rejected = r.stderr.splitlines()
    assert len(rejected) == 1000 and rejected[0] == f"{f}:2: unbalanced double quote: a quoted field is not closed"
