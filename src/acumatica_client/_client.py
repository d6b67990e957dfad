"""``AcumaticaClient``: typed operations on one tenant's pinned contract-based endpoint.

Every call goes through one place (:meth:`AcumaticaClient._request`): the licence
limiter, the retry policy (see :mod:`._retry` for what is retried), error mapping and
call accounting. Entities are converted with :func:`to_wire` / :func:`from_wire`; request
bodies are checked against the pinned version's schema before anything is sent.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import attrs
import httpx

from ._auth import CookieLogin, OAuth2, Token
from ._converters import _dumps_plain, date_only, dumps, from_wire, loads, to_wire
from ._endpoint import (
    Endpoint,
    discovery_url,
    entity_url_text,
    instance_url,
    location_url,
    login_url,
    logout_url,
)
from ._exceptions import (
    ActionTimeoutError,
    AcumaticaError,
    APIConnectionError,
    APITimeoutError,
    EndpointVersionError,
    status_error,
)
from ._filters import Field, Filter, expand_param, select_param
from ._limiter import Licence, LicenceLimiter
from ._links import RecordLinks, files_put_url
from ._models import AcumaticaEntity, Branch, wire_name
from ._retry import GRANT_FAILURE, RetryPolicy, call_with_retry
from ._schema import ACTIONS, KEY_FIELDS

__all__ = ["AcumaticaClient", "ClientOptions", "RequestLimiter", "key_values"]

logger = logging.getLogger("acumatica_client")

E = TypeVar("E", bound=AcumaticaEntity)

#: Header telling the server (or the emulator) how many times this call was retried.
RETRY_COUNT_HEADER: Final = "x-acumatica-client-retry-count"


_ACTION = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CUSTOM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")


def _uniform() -> float:
    return random.random()  # noqa: S311 - retry jitter, not a security use


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"ClientOptions.{attribute.name} must be > 0, not {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"ClientOptions.{attribute.name} must be >= 0, not {value!r}")


@attrs.frozen(kw_only=True)
class ClientOptions:
    """Client configuration (immutable).

    ``licence``: the ceiling to stay inside (requests per minute, concurrent requests).
    ``sleep``, ``jitter`` and ``clock`` are injectable so tests assert exact schedules
    without waiting. ``poll_interval``/``max_action_polls`` govern 202 action polling.
    """

    timeout: float = attrs.field(default=60.0, validator=_positive)
    retry: RetryPolicy = RetryPolicy()
    licence: Licence = Licence()
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = _uniform
    clock: Callable[[], float] = time.monotonic
    poll_interval: float = attrs.field(default=1.0, validator=_non_negative)
    max_action_polls: int = attrs.field(default=120, validator=attrs.validators.ge(1))
    page_size: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    user_agent: str = "acumatica-client (expense-bridge)"


class _Connection:
    """The httpx client, created lazily (no I/O in constructors) and shared by clones."""

    def __init__(
        self, http_client: httpx.Client | None, transport: httpx.BaseTransport | None
    ) -> None:
        self._client = http_client
        self._owned = http_client is None
        self._transport = transport
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> httpx.Client:
        with self._lock:
            if self._closed:
                raise RuntimeError("the AcumaticaClient is closed")
            if self._client is None:
                self._client = httpx.Client(transport=self._transport)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._owned and self._client is not None:
                self._client.close()
                self._client = None
            self._closed = self._owned


@runtime_checkable
class RequestLimiter(Protocol):
    """What :class:`AcumaticaClient` needs of a licence limiter (``limiter=``).

    :class:`LicenceLimiter` is the in-process one; a limiter shared by several processes
    (e.g. one keeping its window in a database or Redis) only has to offer the same two
    members.
    """

    @property
    def unlimited(self) -> bool:
        """Whether :meth:`slot` never waits (the client then skips it)."""
        ...

    def slot(self) -> AbstractContextManager[float]:
        """Hold a concurrency slot and wait for the rate window while the request runs;
        the context value is the seconds waited."""
        ...


class _Counter:
    """A thread-safe count of HTTP requests, shared by a client and its clones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


class AcumaticaClient:
    """A typed client for one Acumatica tenant and one pinned endpoint.

    ``base_url`` is the instance URL (with its virtual directory, if any); ``endpoint``
    pins the endpoint name and version (never chosen automatically). ``auth`` is an
    :class:`httpx.Auth` (e.g. :class:`OAuth2`) or ``None`` for a cookie session opened
    with :meth:`session`. ``http_client`` (kept open on :meth:`close`) or ``transport``
    (e.g. an emulator's :class:`httpx.MockTransport`) replace the default connection.
    Construction does no I/O. Use as a context manager to close the pool it owns.

    ``limiter`` replaces the :class:`LicenceLimiter` built from ``options.licence``: pass
    one :class:`RequestLimiter` to several clients (or one shared between processes) so
    that together they keep inside one licence. It is kept by :meth:`with_options`.

    ``calls`` counts every HTTP request sent through the client (retries and action
    polls included, OAuth token requests not), for API-budget accounting.
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
        limiter: RequestLimiter | None = None,
    ) -> None:
        if not isinstance(endpoint, Endpoint):
            raise TypeError("endpoint must be an Endpoint, e.g. Endpoint('Default', '24.200.001')")
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self.base_url = str(base_url).rstrip("/")
        instance_url(self.base_url, "")  # validates the scheme, no I/O
        self.endpoint = endpoint
        self.options = options or ClientOptions()
        self._auth = auth
        self._connection = _Connection(http_client, transport)
        if limiter is not None and not isinstance(limiter, RequestLimiter):
            raise TypeError("limiter must offer unlimited and slot() (a RequestLimiter)")
        self._own_limiter = limiter is None
        self._limiter: RequestLimiter = (
            limiter
            if limiter is not None
            else LicenceLimiter(
                self.options.licence, clock=self.options.clock, sleep=self.options.sleep
            )
        )
        self._counter = _Counter()
        self._endpoint_confirmed = False
        # Immutable values built once and shared with clones (keyed by what they depend on).
        self._headers: dict[tuple[str, bool], httpx.Headers] = {}
        self._collections: dict[str, httpx.URL] = {}

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries and polls included; token grants excluded)."""
        return self._counter.value

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
        self._connection.close()

    def with_options(self, **changes: Any) -> AcumaticaClient:
        """A copy with some :class:`ClientOptions` changed (``timeout=5``, ``retry=…``).

        The copy shares this client's connection pool, cookies, auth, call counter and,
        unless ``licence``, ``clock`` or ``sleep`` change, its licence limiter (a
        ``limiter`` passed to the constructor is always kept).
        """
        options = attrs.evolve(self.options, **changes)
        clone = object.__new__(AcumaticaClient)
        clone.__dict__.update(self.__dict__)
        clone.options = options
        if self._own_limiter and {"licence", "clock", "sleep"} & changes.keys():
            clone._limiter = LicenceLimiter(
                options.licence, clock=options.clock, sleep=options.sleep
            )
        return clone

    # ------------------------------------------------------------------ sending

    def _request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        repeatable: bool,
        check_version_on_404: bool = False,
    ) -> httpx.Response:
        """Send one logical request: limiter, retry policy, error mapping, accounting.

        ``body`` is encoded once (``content`` passes bytes already encoded); every retry
        re-sends the same bytes. With :class:`OAuth2` the bearer token is obtained
        through :meth:`_send_grant` (paced, bounded, retried) before the request takes
        its limiter slot, and a 401 renews the token once and replays the request.
        """
        if body is not None:
            content = dumps(body)
        headers = self._fixed_headers(bool(content))
        if extra_headers:
            headers = httpx.Headers(headers)  # a copy: the fixed headers are shared
            headers.update(extra_headers)  # case-insensitive: replaces a fixed header
        describe = f"{method} {url.path if isinstance(url, httpx.URL) else urlsplit(url).path}"
        oauth = self._auth if isinstance(self._auth, OAuth2) else None
        auth: httpx.Auth | httpx._client.UseClientDefault | None
        if oauth is not None:
            auth = None  # the client attaches the bearer token itself
        else:
            auth = self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT
        attempt = 0
        limiter = self._limiter
        free = limiter.unlimited
        http = self._connection.get()
        timeout = self.options.timeout
        debug = logger.isEnabledFor(logging.DEBUG)

        def send(sent: httpx.Headers) -> httpx.Response:
            if free:
                return exchange(sent)
            with limiter.slot():
                return exchange(sent)

        def exchange(sent: httpx.Headers) -> httpx.Response:
            self._counter.add()
            started = time.perf_counter() if debug else 0.0
            try:
                response = http.request(
                    method,
                    url,
                    params=params or None,
                    content=content,
                    headers=sent,
                    auth=auth,
                    timeout=timeout,
                )
            except httpx.TimeoutException as exc:
                logger.debug("acumatica %s timed out", describe)
                raise APITimeoutError(
                    f"{describe}: timed out ({type(exc).__name__})", request=exc.request
                ) from exc
            except httpx.TransportError as exc:
                logger.debug("acumatica %s: %s", describe, type(exc).__name__)
                raise APIConnectionError(
                    f"{describe}: {type(exc).__name__}", request=exc.request
                ) from exc
            if debug:
                logger.debug(
                    "acumatica %s -> %d (%.3fs)",
                    describe,
                    response.status_code,
                    time.perf_counter() - started,
                )
            return response

        def once() -> httpx.Response:
            nonlocal attempt
            sent = headers
            if attempt or oauth is not None:
                own = sent = httpx.Headers(headers)  # the shared fixed headers never change
                if attempt:
                    own[RETRY_COUNT_HEADER] = str(attempt)
            attempt += 1
            token: Token | None = None
            if oauth is not None:
                token = self._token(oauth, None)
                own["Authorization"] = f"Bearer {token.access_token}"
            response = send(sent)
            if oauth is not None and response.status_code == 401:
                logger.info("acumatica oauth: 401 on %s; renewing the token once", describe)
                token = self._token(oauth, token)
                own["Authorization"] = f"Bearer {token.access_token}"
                response = send(sent)
            if response.is_success:
                return response
            if response.status_code == 404 and check_version_on_404:
                self._raise_if_version_missing()
            raise status_error(response.request, response)

        return call_with_retry(
            self.options.retry,
            once,
            repeatable=repeatable,
            sleep=self.options.sleep,
            uniform=self.options.jitter,
            describe=describe,
        )

    def _fixed_headers(self, with_body: bool) -> httpx.Headers:
        """The headers every request sends (built once per user agent; never mutated)."""
        key = (self.options.user_agent, with_body)
        headers = self._headers.get(key)
        if headers is None:
            fields = {"Accept": "application/json", "User-Agent": self.options.user_agent}
            if with_body:
                fields["Content-Type"] = "application/json"
            headers = self._headers[key] = httpx.Headers(fields)
        return headers

    def _token(self, oauth: OAuth2, stale: Token | None) -> Token:
        """A bearer token; a grant failure is final for this call (already retried)."""
        try:
            return oauth.token_for(self._send_grant, stale=stale)
        except AcumaticaError as exc:
            setattr(exc, GRANT_FAILURE, True)  # read by the retry predicate
            raise

    def _send_grant(self, request: httpx.Request) -> httpx.Response:
        """Send an OAuth token/refresh request like every other request of this client.

        It takes a licence-limiter slot, carries the client's timeout, and a 429, 5xx,
        timeout or connection error is retried by the client's retry policy (a grant
        changes nothing that a repeat could duplicate). Other answers are returned for
        :class:`OAuth2` to read. Not counted in :attr:`calls` (see
        ``OAuth2.token_requests``).
        """
        request.extensions["timeout"] = httpx.Timeout(self.options.timeout).as_dict()
        describe = f"{request.method} {request.url.path}"

        def once() -> httpx.Response:
            with self._limiter.slot():
                try:
                    response = self._connection.get().send(request, auth=None)
                except httpx.TimeoutException as exc:
                    raise APITimeoutError(
                        f"{describe}: timed out ({type(exc).__name__})", request=request
                    ) from exc
                except httpx.TransportError as exc:
                    raise APIConnectionError(
                        f"{describe}: {type(exc).__name__}", request=request
                    ) from exc
            logger.debug("acumatica %s -> %d", describe, response.status_code)
            if response.status_code == 429 or response.status_code >= 500:
                error = status_error(request, response)
                if error.retryable:
                    raise error
            return response

        return call_with_retry(
            self.options.retry,
            once,
            repeatable=True,
            sleep=self.options.sleep,
            uniform=self.options.jitter,
            describe=describe,
        )

    def _url(self, entity: str, *segments: str) -> str:
        """The entity URL as text (httpx parses it once, when the request is built)."""
        return entity_url_text(self.base_url, self.endpoint, entity, *segments)

    def _collection_url(self, entity: str) -> httpx.URL:
        """An entity's collection URL (PUT, list), parsed once per client and entity."""
        url = self._collections.get(entity)
        if url is None:
            url = self._collections[entity] = httpx.URL(self._url(entity))
        return url

    # ------------------------------------------------------------------ endpoint

    def served_endpoints(self) -> tuple[tuple[str, str], ...]:
        """``(name, version)`` pairs from the discovery resource ``GET {instance}/entity``.

        Accepts both shapes Acumatica sends: the document
        ``{"version": {…}, "endpoints": [{"name": …, "version": …}, …]}`` and the bare
        array of endpoint rows of older builds. Raises :class:`AcumaticaError` otherwise.
        """
        response = self._request("GET", discovery_url(self.base_url), repeatable=True)
        try:
            data = loads(response.content)
        except ValueError as exc:
            raise AcumaticaError("GET /entity: the discovery answer is not JSON") from exc
        endpoints = data if isinstance(data, list) and data else None  # older builds
        if isinstance(data, Mapping):
            endpoints = data.get("endpoints")
        if not isinstance(endpoints, list) or not all(
            isinstance(e, Mapping)
            and isinstance(e.get("name"), str)
            and isinstance(e.get("version"), str)
            for e in endpoints
        ):
            raise AcumaticaError(
                "GET /entity: the discovery answer has no endpoints[] list of name/version"
            )
        return tuple((str(e["name"]), str(e["version"])) for e in endpoints)

    def check_endpoint(self) -> None:
        """Raise :class:`EndpointVersionError` unless the pinned endpoint is served.

        The error names the pinned version and the versions of the same endpoint the
        instance offers. The client never switches version by itself.
        """
        served = self.served_endpoints()
        if (self.endpoint.name, self.endpoint.version) not in served:
            offered = sorted({v for n, v in served if n == self.endpoint.name})
            raise EndpointVersionError(self.endpoint.name, self.endpoint.version, offered)
        self._endpoint_confirmed = True

    def _raise_if_version_missing(self) -> None:
        """After a 404 on an entity URL: raise :class:`EndpointVersionError` if that is why.

        One discovery call per 404 until the pinned version has been confirmed; after
        that a 404 means "no such record" without asking again.
        """
        if self._endpoint_confirmed:
            return
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
            text = filter.to_odata() if isinstance(filter, Filter) else filter
            if not text.strip():
                raise ValueError("filter must be a Filter or a non-empty OData string")
            params["$filter"] = text
        if select:
            params["$select"] = select_param(select)
        if expand:
            params["$expand"] = expand_param(expand)
        if custom:
            names = [custom] if isinstance(custom, str) else list(custom)
            bad = [n for n in names if not _CUSTOM.fullmatch(n)]
            if bad:
                raise ValueError(f"$custom names look like 'View.Field', not {bad!r}")
            params["$custom"] = ",".join(dict.fromkeys(names))
        for name, value in (("$top", top), ("$skip", skip)):
            if value is None:
                continue
            if not _is_count(value, minimum=0):
                raise ValueError(f"{name} must be a non-negative int, not {value!r}")
            params[name] = str(value)
        return params

    def get(
        self,
        cls: type[E],
        *keys: str,
        expand: Sequence[str] = (),
        select: Sequence[str] = (),
        include_archived: bool = False,
    ) -> E:
        """One record by its key values, in key order (``get(Bill, "Bill", "000123")``).

        Raises :class:`NotFoundError` when there is no such record (Acumatica answers
        a 500 ``NoEntitySatisfiesTheConditionException``; a 404 is read the same way),
        or :class:`EndpointVersionError` when a 404 is because the pinned endpoint
        version is not served. ``include_archived=True`` sends ``PX-ApiArchive: SHOW``
        so an archived record is found too (without it, it is invisible).
        """
        if not keys:
            raise ValueError("get() needs the key values; use get_by_id() for an id")
        response = self._request(
            "GET",
            self._url(_top_level(cls), *(_segment(k) for k in keys)),
            params=self._params(expand=expand, select=select),
            extra_headers=_archive_header(include_archived),
            repeatable=True,
            check_version_on_404=True,
        )
        return from_wire(cls, loads(response.content))

    def get_by_id(
        self,
        cls: type[E],
        id: str,
        *,
        expand: Sequence[str] = (),
        select: Sequence[str] = (),
        include_archived: bool = False,
    ) -> E:
        """One record by its ``id`` (a GUID; anything else raises ``ValueError``)."""
        return self.get(
            cls, _guid(id), expand=expand, select=select, include_archived=include_archived
        )

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
        include_archived: bool = False,
    ) -> list[E]:
        """One ``GET`` of a list (one page when ``top`` is given).

        ``filter`` is a :class:`Filter` (``Field("Status").eq("Open")``) or raw OData
        text; ``select``/``expand`` name fields and detail/linked entities; ``custom``
        names custom fields as ``View.Field``. ``include_archived=True`` sends
        ``PX-ApiArchive: SHOW``: archived records are listed too (use it for every
        existence check before a create, or an archived document is created again).
        """
        response = self._request(
            "GET",
            self._collection_url(_top_level(cls)),
            params=self._params(
                filter=filter, select=select, expand=expand, custom=custom, top=top, skip=skip
            ),
            extra_headers=_archive_header(include_archived),
            repeatable=True,
            check_version_on_404=True,
        )
        data = loads(response.content)
        if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
            raise AcumaticaError(f"GET {cls.ENTITY}: expected a JSON array of entities")
        return [from_wire(cls, row) for row in data]

    def branches(self) -> tuple[Branch, ...]:
        """The tenant's branches, from the ``CompaniesStructure`` inquiry.

        The Default endpoint has no Branch entity; the inquiry is a PUT with
        ``$expand=Results`` that changes nothing, so it is retried like a read.
        """
        response = self._request(
            "PUT",
            self._url(Branch.ENTITY),
            params={"$expand": "Results"},
            body={},
            repeatable=True,
            check_version_on_404=True,
        )
        data = loads(response.content)
        rows = data.get("Results", []) if isinstance(data, Mapping) else []
        return tuple(from_wire(Branch, row) for row in rows if isinstance(row, Mapping))

    def iterate(
        self,
        cls: type[E],
        *,
        filter: Filter | str | None = None,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
        custom: Sequence[str] = (),
        page_size: int | None = None,
        include_archived: bool = False,
    ) -> Iterator[E]:
        """Every matching record, page by page (``$top``/``$skip`` until a short page).

        Lazy: each page is fetched when the previous one has been consumed.
        ``include_archived=True`` sends ``PX-ApiArchive: SHOW`` on every page.
        """
        size = self.options.page_size if page_size is None else page_size
        if not _is_count(size, minimum=1):
            raise ValueError(f"page_size must be a positive int, not {size!r}")
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
                include_archived=include_archived,
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
        """Records whose ``LastModifiedDateTime`` is after ``since`` (tz-aware), paged.

        ``filter`` narrows further (combined with ``and``); other keywords go to
        :meth:`iterate` (``include_archived=True`` included).
        """
        if since.tzinfo is None or since.utcoffset() is None:
            raise ValueError("modified_since() needs a tz-aware datetime, e.g. in UTC")
        changed = Field("LastModifiedDateTime").gt(since)
        return self.iterate(cls, filter=changed if filter is None else changed & filter, **kwargs)

    # ------------------------------------------------------------------ writes

    def put(
        self,
        entity: E,
        *,
        expand: Sequence[str] = (),
        on_body: Callable[[bytes], object] | None = None,
    ) -> E:
        """Create or update ``entity`` (PUT) and return it as saved.

        Never retried after a transport error, timeout or 5xx: Acumatica has no
        idempotency key, so the caller must look before creating again. A save-time
        refusal (422, or 500 ``OutcomeEntityHasErrorsException``) raises
        :class:`UnprocessableEntityError` with its ``messages``. Fields the pinned
        version lacks raise :class:`FieldNotInVersionError` before sending.

        ``on_body`` is called once with the exact request body bytes, after encoding
        and before sending (so also when the PUT then fails): hash them for an audit
        digest (``hashlib.sha256(body)``) instead of encoding the document a second
        time. The body is encoded once per call.
        """
        return from_wire(type(entity), self._put_raw(entity, expand, on_body))

    def _put_raw(
        self,
        entity: AcumaticaEntity,
        expand: Sequence[str],
        on_body: Callable[[bytes], object] | None,
    ) -> Mapping[str, Any]:
        """The PUT of :meth:`put` (encoded once, never retried); the answer's JSON object."""
        name = _top_level(type(entity))
        content = _dumps_plain(to_wire(entity, version=self.endpoint.version))
        if on_body is not None:
            on_body(content)
        response = self._request(
            "PUT",
            self._collection_url(name),
            params=self._params(expand=expand),
            content=content,
            repeatable=False,
            check_version_on_404=True,
        )
        data = loads(response.content)
        if not isinstance(data, Mapping):
            raise AcumaticaError(f"PUT {name}: expected the saved entity as a JSON object")
        return data

    def delete(self, cls: type[AcumaticaEntity], *keys: str) -> None:
        """Delete a record by key values (or by id with one GUID segment)."""
        if not keys:
            raise ValueError("delete() needs key values or an id")
        self._request(
            "DELETE",
            self._url(_top_level(cls), *(_segment(k) for k in keys)),
            repeatable=True,
            check_version_on_404=True,
        )

    def delete_by_id(self, cls: type[AcumaticaEntity], id: str) -> None:
        """Delete a record by its ``id`` (a GUID)."""
        self.delete(cls, _guid(id))

    def invoke_action(
        self,
        cls: type[AcumaticaEntity],
        action: str,
        entity: AcumaticaEntity,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        """Run an action (e.g. ``ReleaseBill``) on ``entity`` and wait until it finishes.

        ``action`` must be one of the pinned version's actions of ``cls``. The entity is
        sent with its keys or id only; ``parameters`` values are wrapped as
        ``{"value": …}``. A 204 means done; a 202 is polled at its ``Location`` every
        ``poll_interval`` seconds until 204, and after ``max_action_polls`` polls
        :class:`ActionTimeoutError` is raised. Never re-sent after a transport error or
        5xx: the action may have run.
        """
        name = _top_level(cls)
        if not isinstance(entity, cls):
            raise TypeError(f"invoke_action({cls.__name__}, …) needs a {cls.__name__} entity")
        if not _ACTION.fullmatch(action):
            raise ValueError(f"not an action name: {action!r}")
        known = ACTIONS.get(self.endpoint.version, {}).get(name)
        if known is not None and action not in known:
            raise ValueError(
                f"{name} has no action {action!r} in endpoint {self.endpoint}; "
                f"known: {', '.join(known) or 'none'}"
            )
        body: dict[str, Any] = {"entity": self._identity(entity)}
        if parameters:
            body["parameters"] = {
                str(k): {"value": _parameter_value(k, v)} for k, v in parameters.items()
            }
        response = self._request(
            "POST",
            self._url(name, action),
            body=body,
            repeatable=False,
            check_version_on_404=True,
        )
        if response.status_code != 202:
            return  # 204 (or 200): finished
        location = response.headers.get("Location")
        if not location:
            raise AcumaticaError(
                f"POST {name}/{action}: 202 Accepted without a Location to poll; "
                "look the record up before running the action again"
            )
        self._wait_for_action(action, location)

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
        try:
            url = location_url(self.base_url, location)
        except ValueError as exc:
            raise AcumaticaError(f"action {action}: {exc}") from exc
        for _ in range(self.options.max_action_polls):
            self.options.sleep(self.options.poll_interval)
            response = self._request("GET", url, repeatable=True)
            if response.status_code == 204:
                return
            if response.status_code != 202:
                raise AcumaticaError(
                    f"action {action}: unexpected status {response.status_code} while polling"
                )
        raise ActionTimeoutError(action, self.options.max_action_polls)

    # ------------------------------------------------------------------ cookie session

    @contextmanager
    def session(self, login: CookieLogin) -> Iterator[AcumaticaClient]:
        """Sign in with a cookie session and always sign out (an API seat is held meanwhile).

        The sign-out is sent even when the ``with`` body raises; a failed sign-out is
        logged (the seat then frees at the server's session timeout) and never hides
        the body's own exception.

        >>> with client.session(CookieLogin(name="admin", password="…", tenant="Co")):
        ...     client.list(Account)
        """
        if self._auth is not None:
            raise ValueError("session() is for cookie sign-in; this client already has auth")
        if not isinstance(login, CookieLogin):
            raise TypeError("session() needs a CookieLogin")
        self._request("POST", login_url(self.base_url), body=login.body(), repeatable=False)
        try:
            yield self
        finally:
            try:
                # IIS answers 411 to a bodiless POST without Content-Length (reference §2.3).
                self._request(
                    "POST",
                    logout_url(self.base_url),
                    content=b"",
                    extra_headers={"Content-Length": "0"},
                    repeatable=True,
                )
            except AcumaticaError as exc:
                logger.warning(
                    "acumatica logout failed (%s); the API seat frees at session timeout",
                    type(exc).__name__,
                )
            finally:
                self._connection.get().cookies.clear()

    # ------------------------------------------------------------------ files

    def attach_file(
        self,
        cls: type[AcumaticaEntity],
        keys: str | Sequence[str],
        name: str,
        content: bytes,
        *,
        content_type: str | None = None,
        comment: str | None = None,
    ) -> str | None:
        """Attach ``content`` as file ``name`` to one record; returns the file's ``Location``.

        ``PUT {base}/{Entity}/{keys…}/files/{name}`` (acumatica-api.md §3.8) with the raw
        bytes. ``keys`` is the record's ``id`` (a GUID) or its key values in key order
        (``("Bill", "000123")``; one key may be a bare string). ``content_type`` defaults
        to ``application/octet-stream``; ``comment`` is sent as ``PX-CbFileComment``
        (ASCII, at most 500 characters).

        Attaching the same ``name`` to the same record again *replaces* that file (one
        file per name), so the PUT is retried like a read after a timeout, connection
        error or 5xx: a lost answer followed by a second attempt still leaves one file.
        Use a deterministic name per file (``receipt-<transaction>.pdf``) to keep
        attachments exactly-once. Goes through the licence limiter and retry policy like
        every other request. A missing record raises :class:`NotFoundError`.

        A name with a character ASP.NET refuses in a URL path (``< > * % & : \\ ? / "``),
        a control character, or ``.``/``..`` raises ``ValueError`` before sending.

        >>> client.attach_file(Bill, ("Bill", "000123"), "receipt-T1.pdf", pdf,
        ...                    content_type="application/pdf")
        """
        entity = _top_level(cls)
        segments = (keys,) if isinstance(keys, str) else tuple(keys)
        if not segments:
            raise ValueError("attach_file() needs the record's id or key values")
        _check_file_name(name)
        if not isinstance(content, bytes | bytearray | memoryview):
            raise TypeError(f"attach_file() content must be bytes, not {type(content).__name__}")
        headers = {"Content-Type": content_type or "application/octet-stream"}
        if comment is not None:
            if (
                len(comment) > 500
                or not comment.isascii()
                or any(ord(c) < 32 or ord(c) == 127 for c in comment)
            ):
                raise ValueError("a file comment is printable ASCII of at most 500 characters")
            headers["PX-CbFileComment"] = comment
        response = self._request(
            "PUT",
            self._url(entity, *(_segment(k) for k in segments), "files", name),
            content=bytes(content),
            extra_headers=headers,
            repeatable=True,  # same name replaces the file: a repeat leaves one file
            check_version_on_404=True,
        )
        location = response.headers.get("Location")
        return str(location) if location else None

    def attach_file_at(
        self,
        link: str,
        name: str,
        content: bytes,
        *,
        content_type: str | None = None,
    ) -> str | None:
        """Attach ``content`` as file ``name`` through a record's or a detail line's
        ``files:put`` link (:class:`RecordLinks`, acumatica-api.md §1.2, §3.8).

        The link is site-relative and holds the virtual directory; ``{filename}`` is
        replaced by the URL-quoted ``name``. Same rules as :meth:`attach_file`: the same
        name replaces the file, so the PUT is repeated after a lost answer (one file per
        name); a link outside the instance or without the placeholder raises
        ``ValueError`` before sending. Returns the file's ``Location``.
        """
        _check_file_name(name)
        if not isinstance(content, bytes | bytearray | memoryview):
            raise TypeError(f"attach_file_at() content must be bytes, not {type(content).__name__}")
        response = self._request(
            "PUT",
            files_put_url(self.base_url, link, name),
            content=bytes(content),
            extra_headers={"Content-Type": content_type or "application/octet-stream"},
            repeatable=True,  # same name replaces the file: a repeat leaves one file
        )
        location = response.headers.get("Location")
        return str(location) if location else None

    def get_with_links(
        self,
        cls: type[E],
        *keys: str,
        expand: Sequence[str] = (),
        include_archived: bool = False,
    ) -> tuple[E, RecordLinks]:
        """:meth:`get` that also returns the answer's ``_links`` (one GET): the record's
        and, for each expanded detail collection, each line's ``files:put``."""
        if not keys:
            raise ValueError("get_with_links() needs the key values")
        response = self._request(
            "GET",
            self._url(_top_level(cls), *(_segment(k) for k in keys)),
            params=self._params(expand=expand),
            extra_headers=_archive_header(include_archived),
            repeatable=True,
            check_version_on_404=True,
        )
        data = loads(response.content)
        if not isinstance(data, Mapping):
            raise AcumaticaError(f"GET {cls.__name__}: expected the record as a JSON object")
        return from_wire(cls, data), RecordLinks.of(data)

    def put_with_links(
        self,
        entity: E,
        *,
        expand: Sequence[str] = (),
        on_body: Callable[[bytes], object] | None = None,
    ) -> tuple[E, RecordLinks]:
        """:meth:`put` (same rules: never retried) that also returns the answer's
        ``_links``; ``expand=("Details",)`` brings the saved lines with their links."""
        data = self._put_raw(entity, expand, on_body)
        return from_wire(type(entity), data), RecordLinks.of(data)


#: Characters ASP.NET refuses in a request path (``requestPathInvalidCharacters``) plus
#: the path separator; a file name carrying one cannot be addressed by ``…/files/{name}``.
_BAD_FILE_CHARS: Final = frozenset('<>*%&:\\?/"')


def _check_file_name(name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a file name is a non-empty string, not {name!r}")
    if name in (".", "..") or any(c in _BAD_FILE_CHARS or ord(c) < 32 for c in name):
        raise ValueError(f"file name {name!r} cannot be sent in a URL path")


#: Header that makes archived records visible to the contract-based API (reference §2.3).
ARCHIVE_HEADER: Final = "PX-ApiArchive"
_SHOW_ARCHIVED: Final[Mapping[str, str]] = {ARCHIVE_HEADER: "SHOW"}


def _archive_header(include_archived: bool) -> Mapping[str, str] | None:
    if not isinstance(include_archived, bool):
        raise TypeError(f"include_archived must be a bool, not {include_archived!r}")
    return _SHOW_ARCHIVED if include_archived else None


def _top_level(cls: type[AcumaticaEntity]) -> str:
    name = getattr(cls, "ENTITY", "")
    if not _is_entity_class(cls) or not name:
        raise TypeError(f"{getattr(cls, '__name__', cls)!r} is not a top-level Acumatica entity")
    return str(name)


def _is_count(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_entity_class(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, AcumaticaEntity)


def _segment(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key values are non-empty strings, not {key!r}")
    return key


def _guid(value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ValueError(f"an id is a GUID, not {value!r}; use get() with key values") from exc


def _parameter_value(name: object, value: Any) -> Any:
    """An action parameter's value as JSON (dates without offset; tz-aware date-times)."""
    if value is None or isinstance(value, bool | int | str | Decimal):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"action parameter {name}: date-times need a time zone")
        return value.isoformat()
    if isinstance(value, date):
        return date_only(value)
    raise TypeError(f"action parameter {name}: cannot send {type(value).__name__}")


def key_values(entity: AcumaticaEntity) -> tuple[str, ...]:
    """The key values of a saved entity, in key order (for :meth:`AcumaticaClient.get`)."""
    keys = KEY_FIELDS.get(type(entity).ENTITY, ())
    by_wire = {wire_name(f): getattr(entity, f.name) for f in attrs.fields(type(entity))}
    return tuple(str(by_wire[k]) for k in keys)
