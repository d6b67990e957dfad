"""Access to the real API artifacts in ``../shared/reference`` for tests.

The artifacts are never copied into the repository. When the folder is absent a test that
needs it is skipped with a clear reason, except under ``CI=true`` where it fails instead,
so CI can never go green without having checked against the real schemas and FreeMarker.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"

ACUMATICA_SCHEMAS = {
    "23.200.001": "acumatica/Default_23.200.001.swagger.json",
    "24.200.001": "acumatica/Default_24.200.001.openapi.json",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(path: str = "") -> Path:
    """Return ``../shared/reference/<path>``; skip (or, under CI=true, fail) when absent."""
    target = REFERENCE_DIR / path
    if not target.exists():
        reason = (
            f"{target} is absent: the real API artifacts live in ../shared/reference "
            "beside the checkout and are not copied into the repo"
        )
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return target


@functools.cache
def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def acumatica_schema_document(version: str) -> dict[str, Any]:
    """The whole published OpenAPI/Swagger document of Default/<version>."""
    return _load_json(require(ACUMATICA_SCHEMAS[version]))  # type: ignore[no-any-return]


def _definitions(doc: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if "components" in doc:
        return "#/components/schemas/", doc["components"]["schemas"]
    return "#/definitions/", doc["definitions"]


def entity_properties(version: str, entity: str) -> dict[str, Any]:
    """Declared properties of a schema type (following ``allOf``), e.g. ``Bill``."""
    doc = acumatica_schema_document(version)
    prefix, defs = _definitions(doc)
    out: dict[str, Any] = {}

    def walk(node: Mapping[str, Any]) -> None:
        if "$ref" in node:
            walk(defs[node["$ref"][len(prefix) :]])
        for sub in node.get("allOf", ()):
            walk(sub)
        out.update(node.get("properties", {}))

    walk(defs[entity])
    return out


def _type_of(version: str, prop: Mapping[str, Any]) -> str | None:
    ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def undeclared_keys(
    version: str, entity: str, body: Mapping[str, Any], path: str = ""
) -> Iterator[str]:
    """Every key in ``body`` (recursively) that the schema of ``entity`` does not declare.

    The published schemas allow extra properties, but the real server only knows the listed
    fields (a misspelt one is data silently lost), so our tests treat one as an error.
    """
    props = entity_properties(version, entity)
    for key, value in body.items():
        here = f"{path}{key}"
        if key not in props:
            if key not in {"_links", "delete"}:
                yield here
            continue
        sub = _type_of(version, props[key])
        if sub is None or key == "custom":
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from undeclared_keys(version, sub, item, f"{here}[{i}].")
        elif isinstance(value, Mapping) and not sub.endswith("Value"):
            yield from undeclared_keys(version, sub, value, f"{here}.")
        elif isinstance(value, Mapping):
            for vkey in value:
                if vkey not in {"value", "error"}:
                    yield f"{here}.{vkey}"


def validate_entity(version: str, entity: str, body: Mapping[str, Any]) -> None:
    """Assert that ``body`` is a valid ``entity`` of Default/<version>.

    Validates against the published schema with jsonschema (types, value wrapping) and
    additionally rejects any undeclared property (see :func:`undeclared_keys`).
    """
    doc = acumatica_schema_document(version)
    prefix, _ = _definitions(doc)
    registry: Registry[Any] = Registry().with_resource(
        "urn:acumatica", Resource.from_contents(doc, default_specification=DRAFT4)
    )
    schema = {"$ref": f"urn:acumatica{prefix}{entity}"}
    validator = Draft4Validator(schema, registry=registry)
    errors = sorted(
        (
            e
            for e in validator.iter_errors(body)
            # ``{"value": null}`` is how a field is cleared; the schemas omit ``nullable``.
            if not (e.instance is None and list(e.absolute_path)[-1:] == ["value"])
        ),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    extra = list(undeclared_keys(version, entity, body))
    messages += [f"{key}: not a field of {entity} in Default/{version}" for key in extra]
    assert not messages, f"{entity} body invalid for Default/{version}:\n" + "\n".join(messages)
