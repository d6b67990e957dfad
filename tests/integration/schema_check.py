"""A transport wrapper that checks every Acumatica entity body against the real schema.

Wrap an emulator with :class:`SchemaChecked`: every PUT body the client sends and every
entity the emulator answers with (200) is validated against the published OpenAPI schema
of the pinned version (``tests.reference.validate_entity``; skipped with a reason when
``../shared`` is absent, a failure under ``CI=true``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from tests.reference import validate_entity

_NOT_ENTITIES = {"CompaniesStructure"}


class SchemaChecked:
    """``httpx.Request -> httpx.Response`` callable validating entity bodies both ways."""

    def __init__(self, app: Callable[[httpx.Request], httpx.Response], version: str) -> None:
        self.app = app
        self.version = version
        self.checked = 0

    def _entity(self, request: httpx.Request) -> str | None:
        parts = request.url.path.split("/")
        if "entity" not in parts:
            return None
        index = parts.index("entity")
        if len(parts) <= index + 3 or parts[index + 2] != self.version:
            return None
        entity = parts[index + 3]
        return None if entity in _NOT_ENTITIES else entity

    def __call__(self, request: httpx.Request) -> httpx.Response:
        entity = self._entity(request)
        is_action = entity is not None and len(request.url.path.split("/")) > 6
        if (
            entity is not None
            and request.method == "PUT"
            and request.content
            and "/files/" not in request.url.path  # a file attachment: raw bytes
        ):
            validate_entity(self.version, entity, json.loads(request.content))
            self.checked += 1
        response = self.app(request)
        if entity is not None and not is_action and response.status_code == 200:
            response.read()
            body = json.loads(response.content)
            for row in body if isinstance(body, list) else [body]:
                validate_entity(self.version, entity, row)
                self.checked += 1
        return response
