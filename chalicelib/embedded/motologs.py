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
"""

from __future__ import annotations

import json
import time
import uuid


def install() -> None:
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.responses import LogsResponse

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
