"""The pinned endpoint and the one function that builds every Acumatica URL."""

from __future__ import annotations

import re
from urllib.parse import quote

import attrs
import httpx

__all__ = ["Endpoint", "discovery_url", "entity_url", "instance_url"]

_VERSION = re.compile(r"\d+\.\d+\.\d+")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _check_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME.fullmatch(value):
        raise ValueError(f"Endpoint.name must look like 'Default', not {value!r}")


def _check_version(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _VERSION.fullmatch(value):
        raise ValueError(f"Endpoint.version must look like '24.200.001', not {value!r}")


@attrs.frozen
class Endpoint:
    """A contract-based endpoint pinned per customer, e.g. ``Endpoint("Default", "24.200.001")``.

    The version must match one the ERP instance serves (it follows the ERP release); the
    client never picks one automatically. :meth:`AcumaticaClient.check_endpoint` verifies it.
    """

    name: str = attrs.field(validator=_check_name)
    version: str = attrs.field(validator=_check_version)

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


def _base(base_url: str | httpx.URL) -> str:
    text = str(base_url).rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"the Acumatica base URL must be http(s)://…, not {text!r}")
    return text


def instance_url(base_url: str | httpx.URL, path: str) -> httpx.URL:
    """``{instance}/{path}`` for instance-level resources (identity, auth, discovery)."""
    return httpx.URL(f"{_base(base_url)}/{path.lstrip('/')}")


def discovery_url(base_url: str | httpx.URL) -> httpx.URL:
    """``GET {instance}/entity``: the instance version and the endpoints it serves."""
    return instance_url(base_url, "entity")


def entity_url(
    base_url: str | httpx.URL, endpoint: Endpoint, entity: str, *segments: str
) -> httpx.URL:
    """``{instance}/entity/{name}/{version}/{Entity}[/{segment}…]``.

    ``segments`` are key values (joined in key order), a record id, or an action name;
    each is percent-encoded so a key containing ``/`` or ``?`` stays one segment.
    """
    if not _NAME.fullmatch(entity):
        raise ValueError(f"not an entity name: {entity!r}")
    parts = [quote(str(s), safe="") for s in segments]
    if any(not p for p in parts):
        raise ValueError("key segments must not be empty")
    tail = "/".join([entity, *parts])
    return instance_url(base_url, f"entity/{endpoint.name}/{endpoint.version}/{tail}")
