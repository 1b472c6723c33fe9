"""The parser's benchmark baseline (a) writes exactly the JSON ``opswatch alb parse`` writes.

The bench's figure "opswatch is Nx baseline (a)" only means something if both produce the
same output: every field, numbers typed, ``-`` as null.
"""

from __future__ import annotations

import re

import orjson

from bench import baselines, corpora
from chalicelib.alb.parser import parse_line
from chalicelib.embedded import albtraffic


def test_baseline_a_writes_the_same_json_as_opswatch():
    rx = re.compile(baselines.athena_regex())
    lines = [*corpora.doc_lines(7), *albtraffic.lines(2000, 1.7e9), *corpora.full_lines(500, 1.7e9)]
    for ln in lines:
        assert baselines.regex_doc(rx, ln) == orjson.dumps(parse_line(ln)).decode(), ln


def test_the_athena_regex_is_read_as_hive_reads_the_sql_literal():
    assert r"[^\s]" in baselines.athena_regex() and r"[^\\s]" not in baselines.athena_regex()
