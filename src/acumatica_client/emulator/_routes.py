"""``AcumaticaEmulator``: routing, auth gate, licence ceiling, faults, control plane."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx

from ._backend import KEYS, Backend
from ._control import CONTROL_PREFIX, ControlPlane
from ._errors import EmulatorError, error_object, html_404, json_response
from ._faults import Fault, FaultPlan
from ._handlers import EntityHandlers

__all__ = ["CONTROL_PREFIX", "AcumaticaEmulator"]

_ENTITY_PATH = re.compile(
    r"^(?P<root>.*?)/entity/(?P<name>[^/]+)/(?P<version>[^/]+)(?P<rest>/.*)?$"
)


class AcumaticaEmulator(ControlPlane):
    """A strict fake of one Acumatica tenant (see ``COVERAGE.md``).

    Use it as an ``httpx`` transport (``emulator.transport()``) or serve it over HTTP on
    127.0.0.1 (``with emulator.serve() as server: server.base_url``). ``clock`` returns
    the tenant's current time (tz-aware); token expiry, ``LastModifiedDateTime`` and the
    per-minute licence window follow it.
    """

    def __init__(
        self,
        *,
        version: str = "24.200.001",
        clock: Callable[[], datetime] | None = None,
        users: Mapping[str, str] | None = None,
        tenant: str = "Company",
        oauth_clients: Mapping[str, str] | None = None,
        token_lifetime: float = 3600.0,
        api_seats: int = 2,
        requests_per_minute: int | None = None,
        max_concurrent: int | None = None,
        reject_duplicate_vendor_ref: bool = False,
        hold_on_entry: bool = True,
        action_polls: int = 1,
        other_versions: Iterable[str] = (),
        oauth_uses_seats: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = Backend(
            version=version,
            clock=clock,
            reject_duplicate_vendor_ref=reject_duplicate_vendor_ref,
            hold_on_entry=hold_on_entry,
            action_polls=action_polls,
        )
        self.handlers = EntityHandlers(
            self.backend,
            users=users if users is not None else {"admin": "admin-password"},
            oauth_clients=oauth_clients
            if oauth_clients is not None
            else {f"expense-bridge@{tenant}": "client-secret"},
            tenant=tenant,
            token_lifetime=token_lifetime,
            api_seats=api_seats,
            oauth_uses_seats=oauth_uses_seats,
        )
        self.other_versions = tuple(other_versions)
        self.requests_per_minute = requests_per_minute
        self.max_concurrent = max_concurrent
        self.faults = FaultPlan()
        self.request_log: list[tuple[str, str, int]] = []
        self._sleep = sleep
        self._window: deque[datetime] = deque()
        self._in_flight = 0
        self._gate = threading.Lock()

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
        """Serve over HTTP on 127.0.0.1 (ephemeral port) until the block exits."""
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
        fault = self.faults.take(request)
        if fault is not None and fault.status is not None:
            if fault.delay:
                self._sleep(fault.delay)
            return _fault_response(fault)
        throttled = self._enter()
        if throttled is not None:
            return throttled
        try:
            if fault is not None and fault.delay:
                self._sleep(fault.delay)  # a slow answer holds its concurrency slot
            try:
                response = self._route(request)
            except EmulatorError as exc:
                response = exc.response()
        finally:
            with self._gate:
                self._in_flight -= 1
        if fault is not None and fault.drop_response:
            raise httpx.ReadTimeout(
                "injected: response dropped after the server applied it", request=request
            )
        return response

    def _enter(self) -> httpx.Response | None:
        with self._gate:
            now = self.backend.clock()
            while self._window and self._window[0] <= now - timedelta(minutes=1):
                self._window.popleft()
            rpm = self.requests_per_minute
            if rpm is not None and len(self._window) >= rpm:
                wait = (self._window[0] + timedelta(minutes=1) - now).total_seconds()
                return json_response(
                    429,
                    error_object("The number of requests per minute exceeds the license limit."),
                    {"Retry-After": str(max(1, int(wait + 0.999)))},
                )
            if self.max_concurrent is not None and self._in_flight >= self.max_concurrent:
                return json_response(
                    429,
                    error_object("The number of concurrent requests exceeds the license limit."),
                    {"Retry-After": "1"},
                )
            self._window.append(now)
            self._in_flight += 1
        return None

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        h = self.handlers
        if path.endswith("/identity/connect/token") and method == "POST":
            return h.token(request)
        if path.endswith("/entity/auth/login") and method == "POST":
            return h.login(request)
        if path.endswith("/entity/auth/logout") and method == "POST":
            return h.logout(request)
        if h.authorized(request) is None:
            raise EmulatorError(401, {"message": "Authorization has been denied for this request."})
        if path.rstrip("/").endswith("/entity") and method == "GET":
            return h.discovery(self.other_versions)
        match = _ENTITY_PATH.match(path)
        if match is None:
            return html_404(f"The resource {path} cannot be found.")
        if match["name"] != "Default" or match["version"] != self.backend.version:
            return html_404(
                f"The endpoint {match['name']}/{match['version']} is not found on this site."
            )
        rest = [s for s in (match["rest"] or "").split("/") if s]
        if not rest or rest[0] not in KEYS:
            raise EmulatorError(404, error_object(f"Entity '{'/'.join(rest)}' is not found."))
        entity, segments = rest[0], [_unquote(s) for s in rest[1:]]
        params = dict(request.url.params)
        base = f"{match['root']}/entity/Default/{self.backend.version}"
        if method == "GET" and len(segments) == 3 and segments[1] == "status":
            return h.action_status(segments[2])
        if method == "GET":
            return h.get(entity, segments, params) if segments else h.list_records(entity, params)
        if method == "PUT" and not segments:
            return h.put(entity, request, params)
        if method == "DELETE" and segments:
            return h.delete(entity, segments)
        if method == "POST" and len(segments) == 1:
            return h.action(entity, segments[0], request, base)
        raise EmulatorError(405, error_object(f"{method} is not supported on {path}."))


def _fault_response(fault: Fault) -> httpx.Response:
    """An injected failure, in the body shape the real service uses for that status."""
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if status == 401:
        body: dict[str, object] = {"message": "Authorization has been denied for this request."}
    elif status == 429:
        body = error_object("The number of requests per minute exceeds the license limit.")
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
