"""Fault injection: make the next N matching calls fail in a chosen way."""

from __future__ import annotations

import re
import threading

import attrs
import httpx

__all__ = ["Fault", "FaultPlan"]


@attrs.define(kw_only=True)
class Fault:
    """One injected fault.

    ``status`` answers with that HTTP status (``retry_after`` adds the header); ``delay``
    waits that many seconds first (through the emulator's sleep); ``drop_response`` lets
    the server apply the request and then loses the answer (a timeout in-process, a
    closed connection over HTTP) -- the case that makes blind retries create duplicates.

    The body follows the status's real shape; to play a specific answer give
    ``exception_message`` (and ``exception_type``; without it the key is absent, as in the
    captured "Optimization cannot be performed" body) for an HttpError, or ``text`` for a
    raw IIS/ASP.NET body (HTML when it starts with ``<``, else plain text). E.g.
    ``inject(status=500, exception_type="PX.Data.PXSetupNotEnteredException",
    exception_message="The required configuration data is not entered on the AP
    Preferences form.")`` or ``inject(path="/identity/connect/token", status=429,
    exception_message="API Login Limit")``.
    """

    method: str | None = None
    path: str | None = None  # a substring of the URL path, or a regular expression in it
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    drop_response: bool = False
    times: int = 1
    exception_type: str | None = None
    exception_message: str | None = None
    text: str | None = None

    def matches(self, request: httpx.Request) -> bool:
        """Whether ``request`` is one this fault is waiting for."""
        if self.method is not None and request.method.upper() != self.method.upper():
            return False
        if self.path is None or self.path in request.url.path:
            return True
        try:
            return re.search(self.path, request.url.path) is not None
        except re.error:
            return False  # not a regular expression: the substring test above decided

    def __attrs_post_init__(self) -> None:
        if self.times < 1:
            raise ValueError("a fault applies to at least one call (times >= 1)")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"an injected status is an error status, not {self.status}")
        if self.status is None and self.delay is None and not self.drop_response:
            raise ValueError("a fault needs a status, a delay or drop_response")
        shaped = (self.exception_type, self.exception_message, self.text)
        if self.status is None and any(v is not None for v in shaped):
            raise ValueError("a fault body needs a status")
        if self.text is not None and (self.exception_type or self.exception_message):
            raise ValueError("a fault body is either an HttpError or raw text, not both")


class FaultPlan:
    """The queue of pending faults (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, request: httpx.Request) -> Fault | None:
        """The first pending fault matching ``request`` (consumed once per call)."""
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(request):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @property
    def pending(self) -> int:
        """Calls still to be failed, over all pending faults."""
        with self._lock:
            return sum(f.times for f in self._faults)
