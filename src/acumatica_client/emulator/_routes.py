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

from .._converters import loads
from ._backend import KEYS, Backend
from ._errors import EmulatorError, error_object, html_404, json_response
from ._faults import Fault, FaultPlan
from ._handlers import EntityHandlers

__all__ = ["CONTROL_PREFIX", "AcumaticaEmulator"]

#: Reserved path prefix of the HTTP control plane.
CONTROL_PREFIX = "/_emulator"

_ENTITY_PATH = re.compile(
    r"^(?P<root>.*?)/entity/(?P<name>[^/]+)/(?P<version>[^/]+)(?P<rest>/.*)?$"
)


class AcumaticaEmulator:
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
        """Handle one request (the ``MockTransport`` handler)."""
        try:
            response = self._handle(request)
        except httpx.TimeoutException:
            self.request_log.append((request.method, request.url.path, 0))  # 0: no answer
            raise
        self.request_log.append((request.method, request.url.path, response.status_code))
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(CONTROL_PREFIX + "/"):
            return self._control(request, path[len(CONTROL_PREFIX) :])
        fault = self.faults.take(request)
        if fault is not None and fault.delay:
            self._sleep(fault.delay)
        if fault is not None and fault.status is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            body = error_object(f"Injected fault {fault.status}.")
            return json_response(fault.status, body, headers)
        throttled = self._enter()
        if throttled is not None:
            return throttled
        try:
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

    # ------------------------------------------------------------------ control plane

    def reset(self) -> None:
        """Forget all records, tokens, sessions, faults and the request log."""
        self.backend.reset()
        self.faults.clear()
        self.request_log.clear()
        with self._gate:
            self._window.clear()

    def seed(self, entity: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert reference records (plain dicts with wire names, unwrapped values)."""
        if entity not in KEYS:
            raise ValueError(f"cannot seed unknown entity {entity!r}")
        return len(self.backend.seed(entity, rows))

    def seed_branches(self, branches: Iterable[Mapping[str, Any]]) -> int:
        """Branches live in the ``CompaniesStructure`` inquiry's ``Results``."""
        rows = [dict(b) for b in branches]
        self.backend.seed("CompaniesStructure", [{"Results": rows}])
        return len(rows)

    def records(self, entity: str) -> list[dict[str, Any]]:
        """Stored records of ``entity`` (copies; plain values)."""
        with self.backend.lock:
            return [dict(r) for r in self.backend.records[entity]]

    def inject(self, **kwargs: Any) -> None:
        """Queue a :class:`Fault` (``method``, ``path``, ``status``, ``retry_after``,
        ``delay``, ``drop_response``, ``times``)."""
        self.faults.add(Fault(**kwargs))

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    def _control(self, request: httpx.Request, path: str) -> httpx.Response:
        try:
            body = loads(request.content) if request.content else None
        except ValueError:
            return json_response(400, {"error": "control bodies are JSON"})
        parts = [p for p in path.split("/") if p]
        try:
            if parts == ["reset"] and request.method == "POST":
                self.reset()
                return json_response(200, {"ok": True})
            if len(parts) == 2 and parts[0] == "seed" and request.method == "POST":
                if parts[1] == "Branch":
                    return json_response(200, {"seeded": self.seed_branches(body or [])})
                return json_response(200, {"seeded": self.seed(parts[1], _revive(body or []))})
            if len(parts) == 2 and parts[0] == "records" and request.method == "GET":
                return json_response(200, _plain(self.records(parts[1])))
            if parts == ["faults"] and request.method == "POST":
                self.inject(**(body or {}))
                return json_response(200, {"pending": self.faults.pending})
            if parts == ["faults"] and request.method == "DELETE":
                self.clear_faults()
                return json_response(200, {"pending": 0})
            if parts == ["log"] and request.method == "GET":
                return json_response(200, [list(entry) for entry in self.request_log])
        except (TypeError, ValueError, KeyError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(404, {"error": f"no control resource {path}"})


def _plain(value: Any) -> Any:
    """Stored records as JSON-ready values (date-times as ISO 8601 strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _revive(rows: Any) -> list[dict[str, Any]]:
    """Control-plane seeds over HTTP: ISO strings in *DateTime fields become datetimes."""
    out = []
    for row in rows:
        record = dict(row)
        for key, value in row.items():
            if key.endswith("DateTime") and isinstance(value, str):
                record[key] = datetime.fromisoformat(value)
        out.append(record)
    return out


def _unquote(segment: str) -> str:
    from urllib.parse import unquote

    return unquote(segment)
