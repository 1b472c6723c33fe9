"""The CloudWatch Logs calls moto 5 does not serve, added to the embedded moto server.

moto answers PutQueryDefinition, DescribeQueryDefinitions, DeleteQueryDefinition and
StopQuery with a 500. The embedded server (``motoserver``) installs these handlers in its
own process, so ``opswatch monitors apply`` and ``opswatch insights`` run end to end on
the embedded default. They keep the definitions in the Logs backend of the account and
Region (moto's reset forgets them) and follow the API reference: a new definition gets an
id, PutQueryDefinition with an id changes that definition (ResourceNotFoundException if
there is none), DescribeQueryDefinitions filters by name prefix and pages with
``maxResults``/``nextToken``, StopQuery answers ``success`` false unless the query was
running. Nothing else of moto is changed; AWS itself is never affected.

moto 5 runs only ``fields``, ``sort`` and ``limit`` of a Logs Insights query and reports no
statistics. ``install`` also runs the ``filter`` commands opswatch writes (``@message like
"text"``, ``@message like /regex/``, with ``not``, ``and``, ``or`` and parentheses: what
``chalicelib/insights/patterns.py`` produces) before the limit, and answers GetQueryResults
with ``statistics`` as CloudWatch does: records scanned (events in the window), records
matched (after the filters) and bytes scanned (the events' UTF-8 size). A filter outside that
subset is left unapplied, as moto does.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid

_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/|[A-Za-z@][\w@.]*)')
MAX_DEPTH = 50


class _Unsupported(ValueError):
    """A filter outside the subset: the query runs without it, as moto runs it."""


def _tokens(text: str) -> list[str]:
    out, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = _TOKEN.match(text, at)
        if not m:
            raise _Unsupported(text)
        out.append(m.group(1))
        at = m.end()
    return out


def _condition(tokens: list[str]):
    """A predicate on a message, from ``@message like …`` terms with not/and/or/parentheses."""
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise _Unsupported("unexpected end")
        pos += 1
        return tokens[pos - 1]

    def term(depth: int):
        if depth > MAX_DEPTH:
            raise _Unsupported("too deep")
        tok = take()
        if tok.lower() == "not":
            inner = term(depth + 1)
            return lambda m: not inner(m)
        if tok == "(":
            inner = either(depth + 1)
            if take() != ")":
                raise _Unsupported("no )")
            return inner
        if tok != "@message" or take().lower() != "like":
            raise _Unsupported(tok)
        operand = take()
        if operand.startswith('"'):
            needle = re.sub(r"\\(.)", r"\1", operand[1:-1])
            return lambda m: needle in m
        if operand.startswith("/"):
            pattern = re.compile(operand[1:-1].replace("\\/", "/"))
            return lambda m: pattern.search(m) is not None
        raise _Unsupported(operand)

    def both(depth: int):
        parts = [term(depth)]
        while (peek() or "").lower() == "and":
            take()
            parts.append(term(depth))
        return lambda m: all(p(m) for p in parts)

    def either(depth: int):
        parts = [both(depth)]
        while (peek() or "").lower() == "or":
            take()
            parts.append(both(depth))
        return lambda m: any(p(m) for p in parts)

    found = either(0)
    if pos != len(tokens):
        raise _Unsupported("trailing")
    return found


def _filters(query: str) -> list:
    out = []
    for command in query.split("|"):
        head, _, rest = command.strip().partition(" ")
        if head.lower() == "filter":
            with contextlib.suppress(_Unsupported, re.error):
                out.append(_condition(_tokens(rest)))
    return out


def _run_query(self, query_id, start_time, end_time, query, log_groups) -> None:
    """moto's LogQuery, with the filters applied before the limit and CloudWatch's statistics."""
    from moto.core.utils import utcnow
    from moto.logs.logs_query import _create_parsed_events, parse_query

    self.query_id, self.start_time, self.end_time, self.query = query_id, start_time, end_time, query
    self.log_group_names = [lg.name for lg in log_groups]
    self.create_time = utcnow()
    parsed = parse_query(query)
    scanned = _create_parsed_events(log_groups, parsed, start_time, end_time)
    tests = _filters(query)
    matched = [e for e in scanned if all(t(e.event.message) for t in tests)]
    rows = [e.fields for e in sorted(matched, reverse=parsed.sort_reversed())]
    self.results = rows[: parsed.limit] if parsed.limit else rows
    self.statistics = {
        "recordsScanned": float(len(scanned)),
        "recordsMatched": float(len(matched)),
        "bytesScanned": float(sum(len(e.event.message.encode()) for e in scanned)),
    }
    self.status = "Complete"


def _result_json(self) -> dict:
    return {
        "results": [[{"field": k, "value": str(v)} for k, v in r.items()] for r in self.results],
        "status": self.status,
        "statistics": getattr(self, "statistics", {}),
    }


def install() -> None:
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.models import LogQuery
    from moto.logs.responses import LogsResponse

    LogQuery.__init__ = _run_query
    LogQuery.to_result_json = _result_json

    def store(self) -> dict:
        backend = self.logs_backend
        if not hasattr(backend, "opswatch_query_definitions"):
            backend.opswatch_query_definitions = {}
        return backend.opswatch_query_definitions

    def put_query_definition(self) -> str:
        name = self._get_param("name")
        query = self._get_param("queryString")
        if not name or not query:
            raise InvalidParameterException("name and queryString are required")
        defs = store(self)
        qid = self._get_param("queryDefinitionId")
        if qid and qid not in defs:
            raise ResourceNotFoundException("The query definition does not exist")
        qid = qid or str(uuid.uuid4())
        defs[qid] = {
            "queryDefinitionId": qid,
            "name": name,
            "queryString": query,
            "lastModified": int(time.time() * 1000),
            "logGroupNames": list(self._get_param("logGroupNames") or []),
        }
        return json.dumps({"queryDefinitionId": qid})

    def describe_query_definitions(self) -> str:
        prefix = self._get_param("queryDefinitionNamePrefix") or ""
        limit = int(self._get_param("maxResults") or 1000)
        start = int(self._get_param("nextToken") or 0)
        found = sorted((d for d in store(self).values() if d["name"].startswith(prefix)), key=lambda d: d["name"])
        page = found[start : start + limit]
        answer: dict = {"queryDefinitions": page}
        if start + limit < len(found):
            answer["nextToken"] = str(start + limit)
        return json.dumps(answer)

    def delete_query_definition(self) -> str:
        return json.dumps({"success": store(self).pop(self._get_param("queryDefinitionId"), None) is not None})

    def stop_query(self) -> str:
        query = self.logs_backend.queries.get(self._get_param("queryId"))
        if query is None:
            raise ResourceNotFoundException("The query does not exist")
        running = query.status in ("Scheduled", "Running")
        if running:
            query.status = "Cancelled"
        return json.dumps({"success": running})

    for name, handler in (
        ("put_query_definition", put_query_definition),
        ("describe_query_definitions", describe_query_definitions),
        ("delete_query_definition", delete_query_definition),
        ("stop_query", stop_query),
    ):
        if not hasattr(LogsResponse, name):  # a moto that serves the call itself keeps its own
            setattr(LogsResponse, name, handler)
