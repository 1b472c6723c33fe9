"""The full-scan guard of ``opswatch athena sql`` decides from the parsed query, not from its text.

A day predicate in a comment, in a string literal or OR-ed away must not let a full scan through;
a real one AND-ed at the top of the WHERE must pass, however it is written.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from chalicelib.athena.guard import GuardError, unbounded_scans
from chalicelib.cli.main import cli

BYPASSES = {
    "line comment": "SELECT * FROM alb_access_logs -- day >= '2018/07/01'",
    "block comment": "SELECT * FROM alb_access_logs /* WHERE day >= '2018/07/01' */ LIMIT 10",
    "comment inside WHERE": "SELECT * FROM alb_access_logs WHERE elb_status_code >= 500 /* AND day >= '2018/07/01' */",
    "string literal": "SELECT * FROM alb_access_logs WHERE request_url = 'day >= x'",
    "string literal with IN": "SELECT * FROM alb_access_logs WHERE user_agent IN ('day = 1')",
    "OR 1=1": "SELECT * FROM alb_access_logs WHERE day >= '2018/07/01' OR 1=1",
    "OR in parentheses": "SELECT * FROM alb_access_logs WHERE (day >= '2018/07/01' OR elb_status_code > 0) AND 1 = 1",
    "NOT": "SELECT * FROM alb_access_logs WHERE NOT day < '2018/07/01'",
    "day against itself": "SELECT * FROM alb_access_logs WHERE day = day",
    "another table's day": "SELECT * FROM alb_access_logs a JOIN other b ON a.x = b.x WHERE b.day = '2026/11/01'",
    "bounded outer, unbounded inner": (
        "SELECT * FROM alb_access_logs WHERE day = '2026/11/01' AND client_ip IN "
        "(SELECT client_ip FROM alb_access_logs WHERE elb_status_code = 500)"
    ),
    "unbounded CTE": "WITH x AS (SELECT * FROM alb_access_logs) SELECT * FROM x WHERE day = '2026/11/01'",
    "quoted table name": 'SELECT * FROM "alb_access_logs"',
    "day in a column alias only": "SELECT day FROM alb_access_logs",
    "empty day": "SELECT * FROM alb_access_logs WHERE day >= ''",
    "not a day": "SELECT * FROM alb_access_logs WHERE day < 'z'",
}
BOUNDED = {
    "lower bound": "SELECT * FROM alb_access_logs WHERE day >= '2026/11/20'",
    "AND-ed": "SELECT count(*) FROM alb_access_logs WHERE elb_status_code >= 500 AND day >= '2026/11/20'",
    "BETWEEN": "SELECT * FROM alb_access_logs WHERE day BETWEEN '2026/11/01' AND '2026/11/02' AND 1 = 1",
    "IN": "SELECT * FROM alb_access_logs WHERE day IN ('2026/11/01', '2026/11/02')",
    "parenthesised": "SELECT * FROM alb_access_logs WHERE ((day = '2026/11/01') AND (elb_status_code > 0))",
    "constant first": "SELECT * FROM alb_access_logs WHERE '2026/11/01' <= day",
    "alias": "SELECT * FROM alb_access_logs AS l WHERE l.day = '2026/11/01'",
    "comment beside": "SELECT * FROM alb_access_logs -- the busy day\nWHERE day = '2026/11/01'",
    "CTE bounded inside": (
        "WITH x AS (SELECT * FROM alb_access_logs WHERE day >= '2026/11/01') SELECT elb, count(*) FROM x GROUP BY 1"
    ),
    "other tables only": "SELECT * FROM some_other_table",
    "the table's name in a string": "SELECT 'alb_access_logs' AS name",
}


@pytest.mark.parametrize("sql", BYPASSES.values(), ids=BYPASSES.keys())
def test_a_day_predicate_that_does_not_bound_the_scan_is_refused(sql):
    assert unbounded_scans(sql)


@pytest.mark.parametrize("sql", BOUNDED.values(), ids=BOUNDED.keys())
def test_a_day_condition_anded_at_the_top_passes(sql):
    assert unbounded_scans(sql) == []


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment", "SELECT * FROM alb_access_logs WHERE ("])
def test_empty_or_unparsable_queries_are_refused_clearly(sql):
    with pytest.raises(GuardError):
        unbounded_scans(sql)


def run(*args: str):
    return CliRunner().invoke(cli, ["athena", "sql", *args])


@pytest.mark.parametrize("sql", BYPASSES.values(), ids=BYPASSES.keys())
def test_the_cli_sends_nothing_for_a_bypass(sql):
    r = run(sql)  # on Athena; nothing is sent (the test endpoint is closed: sending would fail with 1)
    assert r.exit_code == 2, r.output
    assert "without a day predicate" in r.stderr and "--allow-full-scan" in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


@pytest.mark.parametrize("sql", ["", "  \n ", "SELECT * FROM alb_access_logs WHERE ("])
def test_the_cli_refuses_an_empty_or_unparsable_query_with_one_line(sql):
    r = run(sql)
    assert r.exit_code == 2 and r.stderr.startswith("opswatch: athena sql: the query ")
    assert len(r.stderr.splitlines()) == 1 and isinstance(r.exception, SystemExit)
