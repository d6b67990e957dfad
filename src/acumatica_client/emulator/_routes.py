"""``AcumaticaEmulator``: routing, auth gate, licence queue, faults, control plane."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from ._backend import KEYS, Backend
from ._control import CONTROL_PREFIX, ControlPlane
from ._errors import EmulatorError, error_object, html_404, iis_error, json_response
from ._faults import Fault, FaultPlan
from ._handlers import EntityHandlers
from ._openapi import openapi_document

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PASSWORD",
    "DEFAULT_TENANT",
    "DEFAULT_USERNAME",
    "LICENCE_DECLINED_TEXT",
    "AcumaticaEmulator",
]

#: The emulator's default sign-in (cookie login and OAuth password grant).
DEFAULT_USERNAME: Final = "admin"
DEFAULT_PASSWORD: Final = "admin-password"  # noqa: S105 - a documented test credential
#: The default tenant (login name) of the emulated instance.
DEFAULT_TENANT: Final = "Company"
#: The default OAuth client (``<name>@<tenant>``, as Acumatica forms client ids).
DEFAULT_CLIENT_ID: Final = f"expense-bridge@{DEFAULT_TENANT}"
DEFAULT_CLIENT_SECRET: Final = "client-secret"  # noqa: S105 - a documented test credential

#: The plain-text body of a request the licence queue declines (the IIS line captured
#: on a real 429, acumatica-api.md §2.4); sent without ``Retry-After``.
LICENCE_DECLINED_TEXT: Final = "The custom error module does not recognize this error."

_ENTITY_PATH = re.compile(
    r"^(?P<root>.*?)/entity/(?P<name>[^/]+)/(?P<version>[^/]+)(?P<rest>/.*)?$"
)
_MINUTE = timedelta(minutes=1)


class AcumaticaEmulator(ControlPlane):
    """A faithful fake of one Acumatica tenant (see ``COVERAGE.md``).

    Use it as an ``httpx`` transport (``emulator.transport()``) or serve it over HTTP on
    127.0.0.1 (``with emulator.serve() as server: server.url``). ``clock`` returns the
    tenant's current time (tz-aware); token expiry, ``LastModifiedDateTime``, running
    actions and the licence's per-minute window follow it, and every licence delay goes
    through ``sleep`` (pass one that advances your clock to keep tests instant).

    Default credentials: user :data:`DEFAULT_USERNAME` / :data:`DEFAULT_PASSWORD` in
    tenant :data:`DEFAULT_TENANT`; OAuth client ``expense-bridge@<tenant>`` (i.e.
    :data:`DEFAULT_CLIENT_ID`) with secret :data:`DEFAULT_CLIENT_SECRET`.

    Realistic (default) versus strict choices, each documented in ``COVERAGE.md``:

    * ``not_found_status``: a GET/DELETE/action on a missing record answers 500
      ``NoEntitySatisfiesTheConditionException`` as the real service does (``404`` to
      play the older assumption).
    * ``save_time_rejection``: errors found when the record is persisted (duplicate
      Vendor Ref. with ``reject_duplicate_vendor_ref``, :meth:`reject_saves`) answer 500
      ``OutcomeEntityHasErrorsException`` (``True``) or a 422 entity echo (``False``).
    * ``silent_unknown_fields``: an unknown field is refused with 400 (``False``, the
      emulator's value: a typo is caught) or silently dropped as the real server does.
    * ``requests_per_minute`` / ``max_concurrent``: the licence. Past half the
      per-minute limit each request is *delayed* (the guide's formula, on ``clock``
      through ``sleep``); extra concurrent requests wait for a slot; a request is
      declined (429, plain text, no ``Retry-After``) only when more than ``queue_limit``
      (20) are queued or it would wait over ``max_queue_wait`` (600 s).
    * ``action_polls`` / ``action_seconds``: a started action completes on its own after
      that many further requests or that many seconds of ``clock``.
    * ``max_query_string`` / ``max_url``: IIS request filtering (2,048 / 4,096 bytes)
      answers 404.15 / 404.14 HTML pages.
    * ``session_timeout``: a cookie session left open closes after 600 s without a
      request (on ``clock``), freeing its API seat, as the real service does.
    * ``discovery_shape`` / ``discovery_href``: ``GET /entity`` as the wrapper object or
      the bare array of older builds; endpoint ``href`` site-relative or absolute.
    * ``accounting_setup``: the tenant starts set up (``True``): the Currency list
      (``base_currency`` first), tax categories ``TAXABLE``/``EXEMPT``, and a fiscal
      calendar of monthly periods for the previous, current and next year (the previous
      one closed once the clock is past March). Documents are checked against them:
      currency, line tax category, expense item, post period open for the module.
      ``False`` starts with none of them (then only the base currency is accepted and,
      until a ``FinancialPeriod`` is seeded, periods are not checked).
    """

    def __init__(
        self,
        *,
        version: str = "24.200.001",
        clock: Callable[[], datetime] | None = None,
        users: Mapping[str, str] | None = None,
        tenant: str = DEFAULT_TENANT,
        oauth_clients: Mapping[str, str] | None = None,
        token_lifetime: float = 3600.0,
        api_seats: int = 2,
        requests_per_minute: int | None = None,
        max_concurrent: int | None = None,
        queue_limit: int = 20,
        max_queue_wait: float = 600.0,
        reject_duplicate_vendor_ref: bool = False,
        save_time_rejection: bool = True,
        not_found_status: int = 500,
        silent_unknown_fields: bool = False,
        hold_on_entry: bool = True,
        action_polls: int = 1,
        action_seconds: float = 2.0,
        custom_fields: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
        max_query_string: int = 2048,
        max_url: int = 4096,
        other_versions: Iterable[str] = (),
        session_timeout: float = 600.0,
        discovery_shape: str = "object",
        discovery_href: str = "relative",
        oauth_uses_seats: bool = False,
        accounting_setup: bool = True,
        base_currency: str = "USD",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not_found_status not in (404, 500):
            raise ValueError("not_found_status is 500 (the real service) or 404")
        if discovery_shape not in ("object", "array"):
            raise ValueError("discovery_shape is 'object' or 'array'")
        if discovery_href not in ("relative", "absolute"):
            raise ValueError("discovery_href is 'relative' or 'absolute'")
        if requests_per_minute is not None and requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.backend = Backend(
            version=version,
            clock=clock,
            reject_duplicate_vendor_ref=reject_duplicate_vendor_ref,
            hold_on_entry=hold_on_entry,
            action_polls=action_polls,
            silent_unknown_fields=silent_unknown_fields,
            session_timeout=session_timeout,
            accounting_setup=accounting_setup,
            base_currency=base_currency,
        )
        self.handlers = EntityHandlers(
            self.backend,
            users=users if users is not None else {DEFAULT_USERNAME: DEFAULT_PASSWORD},
            oauth_clients=oauth_clients
            if oauth_clients is not None
            else {f"expense-bridge@{tenant}": DEFAULT_CLIENT_SECRET},
            tenant=tenant,
            token_lifetime=token_lifetime,
            api_seats=api_seats,
            oauth_uses_seats=oauth_uses_seats,
            not_found_status=not_found_status,
            save_time_rejection=save_time_rejection,
            action_seconds=action_seconds,
            custom_fields=custom_fields,
        )
        self.other_versions = tuple(other_versions)
        self.discovery_shape = discovery_shape
        self.discovery_href = discovery_href
        self.requests_per_minute = requests_per_minute
        self.max_concurrent = max_concurrent
        self.queue_limit = queue_limit
        self.max_queue_wait = max_queue_wait
        self.max_query_string = max_query_string
        self.max_url = max_url
        self.faults = FaultPlan()
        self.request_log: list[tuple[str, str, int]] = []
        #: Licence statistics, as SM604000 shows them: ``delayed`` and ``declined``.
        self.licence_stats: dict[str, int] = {"delayed": 0, "declined": 0}
        self._sleep = sleep
        self._gate = threading.Lock()
        self._slots = threading.Condition(self._gate)
        self._in_flight = 0
        self._waiting_for_slot = 0
        self._window_start: datetime | None = None
        self._window_count = 0
        self._next_free: datetime | None = None
        self._scheduled: list[datetime] = []

    def __repr__(self) -> str:
        return f"AcumaticaEmulator(version={self.backend.version!r})"

    @property
    def version(self) -> str:
        """The endpoint version this tenant serves."""
        return self.backend.version

    # ------------------------------------------------------------------ transport

    def transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` over this emulator."""
        return httpx.MockTransport(self)

    @contextmanager
    def serve(self) -> Iterator[Any]:
        """Serve over HTTP on 127.0.0.1 (ephemeral port) until the block exits.

        The server's ``url`` (equal to ``base_url``) is the instance URL to give
        ``AcumaticaClient(base_url=…)``.
        """
        from ._server import LoopbackServer

        server = LoopbackServer(self)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Handle one request (the ``MockTransport`` handler).

        Every request except the control plane's is appended to :attr:`request_log` as
        ``(method, path, status)``; status 0 marks an answer lost by ``drop_response``.
        """
        path = request.url.path
        if path.startswith(CONTROL_PREFIX + "/"):
            return self.control(request, path[len(CONTROL_PREFIX) :])
        try:
            response = self._handle(request)
        except httpx.TimeoutException:
            self.request_log.append((request.method, path, 0))
            raise
        self.request_log.append((request.method, path, response.status_code))
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        refused = self._request_filtering(request)
        if refused is not None:
            return refused
        fault = self.faults.take(request)
        if fault is not None and fault.status is not None:
            if fault.delay:
                self._sleep(fault.delay)
            return _fault_response(fault)
        queued = not request.url.path.endswith("/entity/auth/logout")  # sign-out skips it
        if queued:
            declined = self._enter()
            if declined is not None:
                return declined
        try:
            if fault is not None and fault.delay:
                self._sleep(fault.delay)  # a slow answer holds its concurrency slot
            try:
                response = self._route(request)
            except EmulatorError as exc:
                response = exc.response()
        finally:
            if queued:
                self._leave()
        if fault is not None and fault.drop_response:
            raise httpx.ReadTimeout(
                "injected: response dropped after the server applied it", request=request
            )
        return response

    def _request_filtering(self, request: httpx.Request) -> httpx.Response | None:
        """IIS, before the application sees the request: a POST/PUT/PATCH without
        ``Content-Length`` (nor chunked encoding) answers 411 (the logout case of
        acumatica-api.md §2.3); over-long query strings and URLs answer 404.15/404.14."""
        if (
            request.method in ("POST", "PUT", "PATCH")
            and "Content-Length" not in request.headers
            and "Transfer-Encoding" not in request.headers
        ):
            return iis_error(411, "411", "Length Required", title="Length Required")
        query = request.url.query  # raw bytes, as sent (percent-encoded)
        if len(query) > self.max_query_string:
            return iis_error(
                404,
                "404.15",
                "The request filtering module is configured to deny a request where the "
                "query string is too long.",
            )
        if len(request.url.raw_path) - (len(query) + 1 if query else 0) > self.max_url:
            return iis_error(
                404,
                "404.14",
                "The request filtering module is configured to deny a request where the "
                "URL is too long.",
            )
        return None

    # ------------------------------------------------------------------ licence

    def _declined(self) -> httpx.Response:
        self.licence_stats["declined"] += 1
        return httpx.Response(
            429,
            content=LICENCE_DECLINED_TEXT.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )

    def _enter(self) -> httpx.Response | None:
        """Queue the request as the licence does: delay it, wait for a slot, or decline.

        Per-minute limit (acumatica-api.md §2.4): once the requests processed in the
        current window (one minute from its first request) reach half the limit, each
        new request starts after *time left in the window ÷ requests still allowed*.
        Requests are scheduled in order, so queued requests each add their delay.
        """
        wait = 0.0
        with self._gate:
            now = self.backend.clock()
            self._scheduled = [t for t in self._scheduled if t > now]
            rpm = self.requests_per_minute
            start = now
            window, count = self._window_start, self._window_count
            if rpm is not None:
                start = max(now, self._next_free or now)
                if window is None or start >= window + _MINUTE:
                    window, count = start, 0
                if count >= rpm / 2:
                    remaining = rpm - count
                    if remaining <= 0:
                        start = window + _MINUTE
                        window, count = start, 0
                    else:
                        start += (window + _MINUTE - start) / remaining
            wait = (start - now).total_seconds()
            if wait > 0 and (
                len(self._scheduled) >= self.queue_limit or wait > self.max_queue_wait
            ):
                return self._declined()
            if rpm is not None:
                self._window_start, self._window_count = window, count + 1
                self._next_free = start
            if wait > 0:
                self._scheduled.append(start)
                self.licence_stats["delayed"] += 1
        if wait > 0:
            self._sleep(wait)
        with self._slots:
            limit = self.max_concurrent
            if limit is not None and self._in_flight >= limit:
                if self._waiting_for_slot >= self.queue_limit:
                    return self._declined()
                self._waiting_for_slot += 1
                try:
                    got = self._slots.wait_for(
                        lambda: self._in_flight < limit, timeout=self.max_queue_wait
                    )
                finally:
                    self._waiting_for_slot -= 1
                if not got:
                    return self._declined()
            self._in_flight += 1
        return None

    def _leave(self) -> None:
        with self._slots:
            self._in_flight -= 1
            self._slots.notify()

    def _reset_licence(self) -> None:
        with self._gate:
            self._window_start, self._window_count = None, 0
            self._next_free = None
            self._scheduled.clear()
            self.licence_stats.update(delayed=0, declined=0)

    # ------------------------------------------------------------------ routing

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        h = self.handlers
        poll = None
        match = _ENTITY_PATH.match(path)
        rest = [s for s in ((match["rest"] or "") if match else "").split("/") if s]
        if method == "GET" and len(rest) == 4 and rest[2] == "status":
            poll = rest[3]
        h.settle(poll=poll)
        if path.endswith("/identity/connect/token") and method == "POST":
            return h.token(request)
        if path.endswith("/entity/auth/login") and method == "POST":
            return h.login(request)
        if path.endswith("/entity/auth/logout") and method == "POST":
            return h.logout(request)
        if path.rstrip("/").endswith("/entity") and method == "GET":
            origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
            return h.discovery(
                self.other_versions,
                root=path.rstrip("/")[: -len("/entity")],
                origin=origin,
                shape=self.discovery_shape,
                href=self.discovery_href,
            )
        if h.authorized(request) is None:
            raise EmulatorError(401, {"message": "Authorization has been denied for this request."})
        if match is None:
            return html_404(f"The resource {path} cannot be found.")
        if match["name"] != "Default" or match["version"] != self.backend.version:
            return html_404(
                f"The endpoint {match['name']}/{match['version']} is not found on this site."
            )
        base = f"{match['root']}/entity/Default/{self.backend.version}"
        if rest == ["swagger.json"] and method == "GET":
            return json_response(200, openapi_document(self.backend.version, base))
        if rest and rest[0] == "files":
            return self._files_route(request, [_unquote(s) for s in rest[1:]], base)
        if not rest or rest[0] not in KEYS:
            raise EmulatorError(404, error_object(f"Entity '{'/'.join(rest)}' is not found."))
        entity, segments = rest[0], [_unquote(s) for s in rest[1:]]
        params = dict(request.url.params)
        if poll is not None:
            return h.action_status(poll)
        if method == "GET" and segments == ["$adHocSchema"]:
            return h.adhoc_schema(entity)
        if method == "PUT" and len(segments) >= 3 and segments[-2] == "files":
            record = h._locate(entity, segments[:-2], archived=_shows_archive(request))
            return h.put_file(entity, record, segments[-1], request, base)
        if method == "GET":
            if segments:
                return h.get(entity, segments, params, request, base)
            return h.list_records(entity, params, request, base)
        if method == "PUT" and not segments:
            return h.put(entity, request, params, base)
        if method == "DELETE" and segments:
            return h.delete(entity, segments, request)
        if method == "POST" and len(segments) == 1:
            return h.action(entity, segments[0], request, base)
        raise EmulatorError(405, error_object(f"{method} is not supported on {path}."))

    def _files_route(self, request: httpx.Request, parts: list[str], base: str) -> httpx.Response:
        """``GET files/{id}`` (download) and ``PUT files/{Graph}/{View}/{noteId}/{name}``."""
        h = self.handlers
        if request.method == "GET" and len(parts) == 1:
            return h.get_file(parts[0])
        if request.method == "PUT" and len(parts) == 4:
            entity, record = h.record_by_note(parts[2])
            return h.put_file(entity, record, parts[3], request, base)
        raise EmulatorError(404, error_object("The file resource is not found."))


def _shows_archive(request: httpx.Request) -> bool:
    return str(request.headers.get("PX-ApiArchive", "")).strip().upper() == "SHOW"


def _fault_response(fault: Fault) -> httpx.Response:
    """An injected failure, in the body shape the real service uses for that status."""
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if fault.text is not None:
        kind = "text/html" if fault.text.lstrip().startswith("<") else "text/plain"
        headers["Content-Type"] = f"{kind}; charset=utf-8"
        return httpx.Response(status, content=fault.text.encode(), headers=headers)
    if fault.exception_message is not None or fault.exception_type is not None:
        body: dict[str, object] = {
            "message": "An error has occurred.",
            "exceptionMessage": fault.exception_message or "An error has occurred.",
        }
        if fault.exception_type is not None:
            body["exceptionType"] = fault.exception_type
        body["stackTrace"] = None
        return json_response(status, body, headers)
    if status == 401:
        body = {"message": "Authorization has been denied for this request."}
    elif status == 429:  # the licence queue's refusal: plain text (§2.4)
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return httpx.Response(status, content=LICENCE_DECLINED_TEXT.encode(), headers=headers)
    elif status == 404:
        return html_404("The resource cannot be found.")
    else:
        body = error_object(
            "An error has occurred.",
            f"Injected fault {status}.",
            exception_type="System.Exception",
        )
    return json_response(status, body, headers)


def _unquote(segment: str) -> str:
    from urllib.parse import unquote

    return unquote(segment)
