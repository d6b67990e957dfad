"""The pinned endpoint and the one function that builds every Acumatica URL."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

import attrs
import httpx

__all__ = [
    "DEFAULT_ENDPOINT",
    "Endpoint",
    "discovery_url",
    "entity_url",
    "instance_url",
    "location_url",
    "login_url",
    "logout_url",
    "token_url",
]

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


#: The endpoint this package's models are written against; pin yours explicitly (it must
#: be one the customer's instance serves, see :meth:`AcumaticaClient.check_endpoint`).
DEFAULT_ENDPOINT: Final = Endpoint("Default", "24.200.001")


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


def token_url(base_url: str | httpx.URL) -> httpx.URL:
    """``POST {instance}/identity/connect/token``: the OAuth 2.0 token endpoint."""
    return instance_url(base_url, "identity/connect/token")


def login_url(base_url: str | httpx.URL) -> httpx.URL:
    """``POST {instance}/entity/auth/login``: opens a cookie session (holds an API seat)."""
    return instance_url(base_url, "entity/auth/login")


def logout_url(base_url: str | httpx.URL) -> httpx.URL:
    """``POST {instance}/entity/auth/logout``: closes the session and frees its API seat."""
    return instance_url(base_url, "entity/auth/logout")


def location_url(base_url: str | httpx.URL, location: str) -> httpx.URL:
    """The URL a ``Location`` header (e.g. an action's status) points at.

    Acumatica's locations are site-absolute (``/AcumaticaDB/entity/…``): they already hold
    the instance's virtual directory, so only the scheme and host of ``base_url`` are
    used. An absolute location must be on the instance's own origin (the request that
    follows carries the credentials); anything else raises ``ValueError``.
    """
    base = httpx.URL(_base(base_url))
    target = httpx.URL(location)
    if target.is_absolute_url:
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise ValueError("the Location header points outside the Acumatica instance")
        return target
    if not location.startswith("/"):
        raise ValueError(f"not a site-absolute Location: {location!r}")
    return base.copy_with(path=target.path, query=target.query or None, fragment=None)


def _segment(value: str) -> str:
    """One percent-encoded path segment; ``.``/``..`` are encoded too, or URL
    normalisation would remove them and address another resource."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def entity_url(
    base_url: str | httpx.URL, endpoint: Endpoint, entity: str, *segments: str
) -> httpx.URL:
    """``{instance}/entity/{name}/{version}/{Entity}[/{segment}…]``.

    ``segments`` are key values (joined in key order), a record id, or an action name;
    each is percent-encoded so a key containing ``/``, ``?`` or ``..`` stays one segment.
    """
    return httpx.URL(entity_url_text(base_url, endpoint, entity, *segments))


def entity_url_text(
    base_url: str | httpx.URL, endpoint: Endpoint, entity: str, *segments: str
) -> str:
    """:func:`entity_url` as text, for a client that lets httpx parse it once."""
    if not _NAME.fullmatch(entity):
        raise ValueError(f"not an entity name: {entity!r}")
    parts = [_segment(s) for s in segments]
    if any(not p for p in parts):
        raise ValueError("key segments must not be empty")
    tail = "/".join([entity, *parts])
    return f"{_base(base_url)}/entity/{endpoint.name}/{endpoint.version}/{tail}"
