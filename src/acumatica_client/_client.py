"""``AcumaticaClient``: typed operations on one tenant's pinned contract-based endpoint.

Every call goes through one place (:meth:`AcumaticaClient._request`): the licence
limiter, the retry policy (see :mod:`._retry` for what is retried), error mapping and
call accounting. Entities are converted with :func:`to_wire` / :func:`from_wire`; request
bodies are checked against the pinned version's schema before anything is sent.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import attrs
import httpx

from ._auth import CookieLogin
from ._converters import dumps, from_wire, loads, to_wire
from ._endpoint import Endpoint, discovery_url, entity_url, instance_url
from ._exceptions import (
    ActionTimeoutError,
    AcumaticaError,
    APIConnectionError,
    APITimeoutError,
    EndpointVersionError,
    status_error,
)
from ._filters import Field, Filter
from ._limiter import Licence, LicenceLimiter
from ._models import AcumaticaEntity, wire_name
from ._retry import RetryPolicy, make_retrying
from ._schema import ACTIONS

__all__ = ["AcumaticaClient", "ClientOptions"]

logger = logging.getLogger("acumatica_client")

E = TypeVar("E", bound=AcumaticaEntity)

#: Key fields of each top-level entity, in key order (for URLs and action bodies).
KEY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Bill": ("Type", "ReferenceNbr"),
    "JournalTransaction": ("Module", "BatchNbr"),
    "ExpenseClaim": ("RefNbr",),
    "Employee": ("EmployeeID",),
    "Vendor": ("VendorID",),
    "Account": ("AccountCD",),
    "Subaccount": ("SubaccountCD",),
    "Project": ("ProjectID",),
    "ProjectTask": ("ProjectID", "ProjectTaskID"),
}


def _uniform() -> float:
    return random.random()  # noqa: S311 - retry jitter, not a security use


@attrs.frozen(kw_only=True)
class ClientOptions:
    """Client configuration (immutable).

    ``licence``: the ceiling to stay inside (requests per minute, concurrent requests).
    ``sleep``, ``jitter`` and ``clock`` are injectable so tests assert exact schedules
    without waiting. ``poll_interval``/``max_action_polls`` govern 202 action polling.
    """

    timeout: float = 60.0
    retry: RetryPolicy = RetryPolicy()
    licence: Licence = Licence()
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = _uniform
    clock: Callable[[], float] = time.monotonic
    poll_interval: float = 1.0
    max_action_polls: int = 120
    page_size: int = 100
    user_agent: str = "acumatica-client (expense-bridge)"


class AcumaticaClient:
    """A typed client for one Acumatica tenant and one pinned endpoint.

    ``base_url`` is the instance URL (with its virtual directory, if any); ``endpoint``
    pins the endpoint name and version. ``auth`` is an :class:`httpx.Auth` (e.g.
    :class:`OAuth2`) or ``None`` for a cookie session opened with :meth:`session`.
    Construction does no I/O. Use as a context manager to close the pool it owns.
    """

    def __init__(
        self,
        *,
        base_url: str,
        endpoint: Endpoint,
        auth: httpx.Auth | None = None,
        options: ClientOptions | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = str(base_url).rstrip("/")
        instance_url(self.base_url, "")  # validates the scheme, no I/O
        self.endpoint = endpoint
        self.options = options or ClientOptions()
        self._auth = auth
        self._http = http_client
        self._owned = http_client is None
        self._transport = transport
        self._lock = threading.Lock()
        self._limiter = LicenceLimiter(
            self.options.licence, clock=self.options.clock, sleep=self.options.sleep
        )
        self.calls = 0  # HTTP requests sent (retries included), for API-budget accounting

    def __repr__(self) -> str:
        return f"AcumaticaClient(base_url={self.base_url!r}, endpoint={str(self.endpoint)!r})"

    def __enter__(self) -> AcumaticaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool this client created (not one passed in)."""
        with self._lock:
            if self._owned and self._http is not None:
                self._http.close()
                self._http = None

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    transport=self._transport,
                    headers={"User-Agent": self.options.user_agent},
                )
            return self._http

    # ------------------------------------------------------------------ sending

    def _request(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        repeatable: bool,
        check_version_on_404: bool = False,
    ) -> httpx.Response:
        content = dumps(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        describe = f"{method} {url.path}"

        def once() -> httpx.Response:
            with self._limiter.slot():
                self.calls += 1
                started = time.perf_counter()
                try:
                    response = self._client().request(
                        method,
                        url,
                        params=params,
                        content=content,
                        headers=headers,
                        auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                        timeout=self.options.timeout,
                    )
                except httpx.TimeoutException as exc:
                    raise APITimeoutError(
                        f"{describe}: timed out ({type(exc).__name__})", request=exc.request
                    ) from exc
                except httpx.TransportError as exc:
                    raise APIConnectionError(
                        f"{describe}: {type(exc).__name__}", request=exc.request
                    ) from exc
                finally:
                    logger.debug("acumatica %s %.3fs", describe, time.perf_counter() - started)
            logger.debug("acumatica %s -> %d", describe, response.status_code)
            if response.is_success:
                return response
            if response.status_code == 404 and check_version_on_404:
                self._raise_if_version_missing()
            raise status_error(response.request, response)

        retrying = make_retrying(
            self.options.retry,
            repeatable=repeatable,
            sleep=self.options.sleep,
            uniform=self.options.jitter,
            describe=describe,
        )
        return retrying(once)

    def _url(self, entity: str, *segments: str) -> httpx.URL:
        return entity_url(self.base_url, self.endpoint, entity, *segments)

    # ------------------------------------------------------------------ endpoint

    def served_endpoints(self) -> tuple[tuple[str, str], ...]:
        """``(name, version)`` pairs from the discovery resource ``GET {instance}/entity``."""
        response = self._request("GET", discovery_url(self.base_url), repeatable=True)
        data = loads(response.content)
        endpoints = data.get("endpoints", []) if isinstance(data, Mapping) else []
        return tuple(
            (str(e.get("name")), str(e.get("version"))) for e in endpoints if isinstance(e, Mapping)
        )

    def check_endpoint(self) -> None:
        """Raise :class:`EndpointVersionError` unless the pinned endpoint is served."""
        served = self.served_endpoints()
        if (self.endpoint.name, self.endpoint.version) not in served:
            offered = sorted(v for n, v in served if n == self.endpoint.name)
            raise EndpointVersionError(self.endpoint.name, self.endpoint.version, offered)

    def _raise_if_version_missing(self) -> None:
        try:
            self.check_endpoint()
        except EndpointVersionError:
            raise
        except AcumaticaError:
            logger.debug("acumatica discovery failed while explaining a 404", exc_info=True)

    # ------------------------------------------------------------------ reads

    @staticmethod
    def _params(
        *,
        filter: Filter | str | None = None,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
        custom: Sequence[str] = (),
        top: int | None = None,
        skip: int | None = None,
    ) -> dict[str, str]:
        params: dict[str, str] = {}
        if filter is not None:
            params["$filter"] = filter.to_odata() if isinstance(filter, Filter) else filter
        for name, values in (("$select", select), ("$expand", expand), ("$custom", custom)):
            if values:
                params[name] = ",".join(values)
        if top is not None:
            params["$top"] = str(top)
        if skip is not None:
            params["$skip"] = str(skip)
        return params

    def get(
        self,
        cls: type[E],
        *keys: str,
        expand: Sequence[str] = (),
        select: Sequence[str] = (),
    ) -> E:
        """One record by its key values, in key order (``get(Bill, "Bill", "000123")``)."""
        if not keys:
            raise ValueError("get() needs the key values; use get_by_id() for an id")
        response = self._request(
            "GET",
            self._url(cls.ENTITY, *keys),
            params=self._params(expand=expand, select=select),
            repeatable=True,
            check_version_on_404=True,
        )
        return from_wire(cls, loads(response.content))

    def get_by_id(
        self, cls: type[E], id: str, *, expand: Sequence[str] = (), select: Sequence[str] = ()
    ) -> E:
        """One record by its ``id`` (GUID)."""
        return self.get(cls, id, expand=expand, select=select)

    def list(
        self,
        cls: type[E],
        *,
        filter: Filter | str | None = None,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
        custom: Sequence[str] = (),
        top: int | None = None,
        skip: int | None = None,
    ) -> list[E]:
        """One ``GET`` of a list (one page when ``top`` is given)."""
        response = self._request(
            "GET",
            self._url(cls.ENTITY),
            params=self._params(
                filter=filter, select=select, expand=expand, custom=custom, top=top, skip=skip
            ),
            repeatable=True,
            check_version_on_404=True,
        )
        data = loads(response.content)
        if not isinstance(data, list):
            raise AcumaticaError(f"GET {cls.ENTITY}: expected a JSON array")
        return [from_wire(cls, row) for row in data]

    def iterate(
        self,
        cls: type[E],
        *,
        filter: Filter | str | None = None,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
        custom: Sequence[str] = (),
        page_size: int | None = None,
    ) -> Iterator[E]:
        """Every matching record, page by page (``$top``/``$skip`` until a short page)."""
        size = page_size or self.options.page_size
        skip = 0
        while True:
            page = self.list(
                cls,
                filter=filter,
                select=select,
                expand=expand,
                custom=custom,
                top=size,
                skip=skip,
            )
            yield from page
            if len(page) < size:
                return
            skip += size

    def modified_since(
        self,
        cls: type[E],
        since: datetime,
        *,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> Iterator[E]:
        """Records whose ``LastModifiedDateTime`` is after ``since`` (tz-aware)."""
        changed = Field("LastModifiedDateTime").gt(since)
        return self.iterate(cls, filter=changed if filter is None else changed & filter, **kwargs)

    # ------------------------------------------------------------------ writes

    def put(self, entity: E, *, expand: Sequence[str] = ()) -> E:
        """Create or update ``entity`` (PUT) and return it as saved.

        Never retried after a transport error, timeout or 5xx: Acumatica has no
        idempotency key, so the caller must look before creating again. Fields the
        pinned version lacks raise :class:`FieldNotInVersionError` before sending.
        """
        cls = type(entity)
        if not cls.ENTITY:
            raise TypeError(f"{cls.__name__} is not a top-level entity")
        body = to_wire(entity, version=self.endpoint.version)
        response = self._request(
            "PUT",
            self._url(cls.ENTITY),
            params=self._params(expand=expand),
            body=body,
            repeatable=False,
            check_version_on_404=True,
        )
        return from_wire(cls, loads(response.content))

    def delete(self, cls: type[AcumaticaEntity], *keys: str) -> None:
        """Delete a record by key values (or by id with one GUID segment)."""
        if not keys:
            raise ValueError("delete() needs key values or an id")
        self._request(
            "DELETE", self._url(cls.ENTITY, *keys), repeatable=True, check_version_on_404=True
        )

    def delete_by_id(self, cls: type[AcumaticaEntity], id: str) -> None:
        """Delete a record by its ``id``."""
        self.delete(cls, id)

    def invoke_action(
        self,
        cls: type[AcumaticaEntity],
        action: str,
        entity: AcumaticaEntity,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        """Run an action (e.g. ``ReleaseBill``) on ``entity`` and wait until it finishes.

        The entity is sent with its keys or id only. A 202 answer is polled at its
        ``Location`` every ``poll_interval`` seconds until 204; after
        ``max_action_polls`` polls :class:`ActionTimeoutError` is raised.
        """
        known = ACTIONS.get(self.endpoint.version, {}).get(cls.ENTITY)
        if known is not None and action not in known:
            raise ValueError(
                f"{cls.ENTITY} has no action {action!r} in endpoint {self.endpoint}; "
                f"known: {', '.join(known) or 'none'}"
            )
        body: dict[str, Any] = {"entity": self._identity(entity)}
        if parameters:
            body["parameters"] = {k: {"value": v} for k, v in parameters.items()}
        response = self._request(
            "POST",
            self._url(cls.ENTITY, action),
            body=body,
            repeatable=False,
            check_version_on_404=True,
        )
        if response.status_code == 202 and "Location" in response.headers:
            self._wait_for_action(action, response.headers["Location"])

    def _identity(self, entity: AcumaticaEntity) -> dict[str, Any]:
        wire = to_wire(entity, version=self.endpoint.version)
        keys = KEY_FIELDS.get(type(entity).ENTITY, ())
        identity = {k: v for k, v in wire.items() if k in keys}
        if "id" in wire:
            identity["id"] = wire["id"]
        if not identity:
            raise ValueError(f"{type(entity).__name__}: set its id or key fields to run an action")
        return identity

    def _wait_for_action(self, action: str, location: str) -> None:
        url = httpx.URL(location)
        if not url.is_absolute_url:
            # Location is site-absolute: it already holds the virtual directory.
            base = httpx.URL(self.base_url)
            url = base.copy_with(path=url.path, query=url.query or None)
        for _ in range(self.options.max_action_polls):
            self.options.sleep(self.options.poll_interval)
            response = self._request("GET", url, repeatable=True)
            if response.status_code == 204:
                return
            if response.status_code != 202:
                raise status_error(response.request, response)
        raise ActionTimeoutError(action, self.options.max_action_polls)

    # ------------------------------------------------------------------ cookie session

    @contextmanager
    def session(self, login: CookieLogin) -> Iterator[AcumaticaClient]:
        """Sign in with a cookie session and always sign out (an API seat is held meanwhile).

        >>> with client.session(CookieLogin(name="admin", password="…", tenant="Co")):
        ...     client.list(Account)
        """
        self._request(
            "POST",
            instance_url(self.base_url, "entity/auth/login"),
            body=login.body(),
            repeatable=False,
        )
        try:
            yield self
        finally:
            try:
                self._request(
                    "POST", instance_url(self.base_url, "entity/auth/logout"), repeatable=True
                )
            except AcumaticaError:
                logger.warning("acumatica logout failed; the API seat frees at session timeout")
            self._client().cookies.clear()


def key_values(entity: AcumaticaEntity) -> tuple[str, ...]:
    """The key values of a saved entity, in key order (for :meth:`AcumaticaClient.get`)."""
    keys = KEY_FIELDS.get(type(entity).ENTITY, ())
    by_wire = {wire_name(f): getattr(entity, f.name) for f in attrs.fields(type(entity))}
    return tuple(str(by_wire[k]) for k in keys)
