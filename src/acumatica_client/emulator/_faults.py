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
    """

    method: str | None = None
    path: str | None = None  # a regular expression searched in the URL path
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    drop_response: bool = False
    times: int = 1

    def matches(self, request: httpx.Request) -> bool:
        if self.method is not None and request.method.upper() != self.method.upper():
            return False
        return self.path is None or re.search(self.path, request.url.path) is not None


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
        with self._lock:
            return sum(f.times for f in self._faults)
