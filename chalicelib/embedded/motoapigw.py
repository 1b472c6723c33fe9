"""API Gateway's ImportRestApi and PutRestApi in the embedded moto server, taking the document Chalice sends.

Chalice deploys a REST API by importing a Swagger 2.0 document (``info`` with a title and a
version, no description). API Gateway takes Swagger 2.0 and OpenAPI 3; moto takes OpenAPI 3 only
and reads ``info["description"]`` unconditionally, so ``chalice deploy`` of opswatch's
``/slack/actions`` route failed against the embedded server alone. The parts moto reads (paths,
methods, their responses and ``x-amazon-apigateway-integration``) are the same in both versions:
a Swagger 2.0 document is handed to moto as the OpenAPI 3 document it reads, with an empty
description when it has none.
"""

from __future__ import annotations

import functools


def _as_moto_reads(api_doc):
    if not isinstance(api_doc, dict):
        return api_doc
    doc = dict(api_doc)
    if str(doc.get("swagger", "")).startswith("2."):
        del doc["swagger"]
        doc["openapi"] = "3.0.1"
    if isinstance(doc.get("info"), dict) and "description" not in doc["info"]:
        doc["info"] = {**doc["info"], "description": ""}
    return doc


def install() -> None:
    from moto.apigateway.models import APIGatewayBackend

    imported, put = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api

    @functools.wraps(imported)
    def import_rest_api(self, api_doc, *args, **kwargs):
        return imported(self, _as_moto_reads(api_doc), *args, **kwargs)

    @functools.wraps(put)
    def put_rest_api(self, function_id, api_doc, *args, **kwargs):
        return put(self, function_id, _as_moto_reads(api_doc), *args, **kwargs)

    APIGatewayBackend.import_rest_api = import_rest_api
    APIGatewayBackend.put_rest_api = put_rest_api
