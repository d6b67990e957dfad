"""``GET {base}/swagger.json``: the endpoint's OpenAPI document, built from the schema table.

The document is generated from ``acumatica_client._schema`` (the same field, key and
action tables the emulator enforces), in the format the real service uses for that
version: Swagger 2.0 for Default/23.200.001, OpenAPI 3.0.1 from 24.200.001
(acumatica-api.md §1.2). It covers only the entities the emulator serves. Types the
table treats as opaque (``AttributeValue``…) are declared as bare entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .._schema import ACTIONS, ENTITY_FIELDS, KEY_FIELDS

__all__ = ["openapi_document"]

_VALUE_TYPES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "StringValue": {"type": "string"},
        "DecimalValue": {"type": "number", "format": "double"},
        "DoubleValue": {"type": "number", "format": "double"},
        "IntValue": {"type": "integer", "format": "int32"},
        "ShortValue": {"type": "integer", "format": "int32"},
        "ByteValue": {"type": "integer", "format": "int32"},
        "LongValue": {"type": "integer", "format": "int64"},
        "BooleanValue": {"type": "boolean"},
        "DateTimeValue": {"type": "string", "format": "date-time"},
        "GuidValue": {"type": "string", "format": "uuid"},
    }
)
_CUSTOM: Mapping[str, str] = MappingProxyType(
    {
        "CustomStringField": "StringValue",
        "CustomDecimalField": "DecimalValue",
        "CustomDoubleField": "DoubleValue",
        "CustomIntField": "IntValue",
        "CustomShortField": "ShortValue",
        "CustomByteField": "ByteValue",
        "CustomLongField": "LongValue",
        "CustomBooleanField": "BooleanValue",
        "CustomDateTimeField": "DateTimeValue",
        "CustomGuidField": "GuidValue",
    }
)


def openapi_document(version: str, base: str) -> dict[str, Any]:
    """The OpenAPI (3.0.1) or Swagger (2.0, for 23.200.001) document of ``version``.

    ``base`` is the endpoint's site-relative path (``/<vdir>/entity/Default/<ver>``).
    """
    swagger2 = version < "24.200.001"
    prefix = "#/definitions/" if swagger2 else "#/components/schemas/"

    def ref(name: str) -> dict[str, str]:
        return {"$ref": prefix + name}

    schemas: dict[str, Any] = {
        "Entity": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "rowNumber": {"type": "integer", "format": "int64"},
                "note": ref("StringValue"),
                "custom": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": ref("CustomField"),
                    },
                },
                "error": {"type": "string"},
                "files": {"type": "array", "items": ref("FileLink")},
            },
        },
        "FileLink": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "filename": {"type": "string"},
                "href": {"type": "string", "format": "uri"},
                **({} if swagger2 else {"comment": {"type": "string", "nullable": True}}),
            },
        },
        "HttpError": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "exceptionMessage": {"type": "string"},
                "exceptionType": {"type": "string"},
                "stackTrace": {"type": "string"},
                "modelState": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "messageDetail": {"type": "string"},
            },
            "additionalProperties": True,
        },
        "CustomField": {
            "required": ["type"],
            "type": "object",
            "properties": {"type": {"type": "string"}},
            "discriminator": "type" if swagger2 else {"propertyName": "type"},
        },
    }
    for name, value in _VALUE_TYPES.items():
        schemas[name] = {
            "type": "object",
            "properties": {"value": dict(value), "error": {"type": "string"}},
        }
    for name, kind in _CUSTOM.items():
        schemas[name] = {
            "allOf": [
                ref("CustomField"),
                {
                    "type": "object",
                    "properties": {
                        "value": dict(_VALUE_TYPES[kind]),
                        "error": {"type": "string"},
                    },
                },
            ]
        }
    tables = ENTITY_FIELDS[version]
    for type_name, fields in tables.items():
        properties: dict[str, Any] = {}
        for field, kind in fields.items():
            inner = kind.removesuffix("[]")
            if inner not in schemas and inner not in tables:
                schemas[inner] = {"allOf": [ref("Entity")]}  # opaque in the table
            properties[field] = (
                {"type": "array", "items": ref(inner)} if kind.endswith("[]") else ref(inner)
            )
        schemas[type_name] = {
            "allOf": [ref("Entity"), {"type": "object", "properties": properties}]
        }

    paths: dict[str, Any] = {}
    for entity in sorted(KEY_FIELDS):
        paths.update(
            _entity_paths(entity, ACTIONS[version].get(entity, ()), ref, schemas, swagger2)
        )
    info = {"title": f"Default/{version}", "version": "4"}
    if swagger2:
        return {
            "swagger": "2.0",
            "info": info,
            "basePath": base,
            "schemes": ["https"],
            "paths": paths,
            "definitions": schemas,
        }
    return {
        "openapi": "3.0.1",
        "info": info,
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _entity_paths(
    entity: str,
    actions: tuple[str, ...],
    ref: Any,
    schemas: dict[str, Any],
    swagger2: bool,
) -> dict[str, Any]:
    def body(schema: dict[str, Any]) -> dict[str, Any]:
        if swagger2:
            return {"parameters": [{"in": "body", "name": "entity", "required": True,
                                    "schema": schema}]}  # fmt: skip
        return {"requestBody": {"content": {"application/json": {"schema": schema}},
                                "required": True}}  # fmt: skip

    def answer(status: str, schema: dict[str, Any] | None, text: str) -> dict[str, Any]:
        if schema is None:
            return {status: {"description": text}}
        if swagger2:
            return {status: {"description": text, "schema": schema}}
        return {status: {"description": text, "content": {"application/json": {"schema": schema}}}}

    errors = {
        **answer("401", ref("HttpError"), "The user is not logged in to the system."),
        **answer("500", ref("HttpError"), "Internal server error."),
    }
    one = {**answer("200", ref(entity), "The record."), **errors}
    paths: dict[str, Any] = {
        f"/{entity}": {
            "get": {"operationId": f"{entity}_GetList", "tags": [entity],
                    "responses": {**answer("200", {"type": "array", "items": ref(entity)},
                                           "The records."), **errors}},
            "put": {"operationId": f"{entity}_PutEntity", "tags": [entity], **body(ref(entity)),
                    "responses": {**one,
                                  **answer("412", ref("HttpError"), "If-Match/If-None-Match."),
                                  **answer("422", ref(entity), "The entity with errors.")}},
        },
        f"/{entity}/{{ids}}": {
            "get": {"operationId": f"{entity}_GetByKeys", "tags": [entity], "responses": one},
            "delete": {"operationId": f"{entity}_DeleteByKeys", "tags": [entity],
                       "responses": {**answer("204", None, "Deleted."), **errors}},
        },
        f"/{entity}/{{id}}": {
            "get": {"operationId": f"{entity}_GetById", "tags": [entity], "responses": one},
            "delete": {"operationId": f"{entity}_DeleteById", "tags": [entity],
                       "responses": {**answer("204", None, "Deleted."), **errors}},
        },
        f"/{entity}/{{ids}}/files/{{filename}}": {
            "put": {"operationId": f"{entity}_PutFile", "tags": [entity],
                    "responses": {**answer("204", None, "The file is successfully attached."),
                                  **errors}},
        },
        f"/{entity}/$adHocSchema": {
            "get": {"operationId": f"{entity}_GetAdHocSchema", "tags": [entity],
                    "responses": one},
        },
    }  # fmt: skip
    action_answers = {
        **answer("202", None, "The operation is in progress."),
        **answer("204", None, "The operation is completed."),
        **answer("400", ref("HttpError"), "The data specified in the request is invalid."),
        **answer("422", ref(entity), "The entity with errors."),
        **errors,
    }
    for action in actions:
        schemas.setdefault(
            action,
            {"required": ["entity"], "type": "object", "properties": {"entity": ref(entity)}},
        )
        paths[f"/{entity}/{action}"] = {
            "post": {"operationId": f"{entity}_InvokeAction_{action}", "tags": [entity],
                     **body(ref(action)), "responses": action_answers},
        }  # fmt: skip
    return paths
