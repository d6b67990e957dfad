"""Fault injection: make the next N matching jobs fail in a chosen way."""

from __future__ import annotations

import threading

import attrs

__all__ = ["Fault", "FaultPlan"]


@attrs.define(kw_only=True)
class Fault:
    """One injected fault, consumed by the next ``times`` matching jobs.

    ``job_type`` matches the job's ``type`` (``"file"``) or ``type/inputSettings.type``
    (``"get/policy"``); ``None`` matches every job. ``status`` answers with that HTTP
    status (and the same code in a JSON envelope); ``response_code`` answers HTTP 200 with
    that code in the body (the Integration Server's usual way); ``retry_after`` adds the
    header; ``delay`` sleeps that many seconds first (through the emulator's sleep);
    ``drop_response`` runs the job and then loses the answer (a read timeout in-process, a
    closed connection over HTTP) -- the case where a blind retry repeats side effects.
    """

    job_type: str | None = None
    status: int | None = None
    response_code: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    drop_response: bool = False
    times: int = 1

    def matches(self, kind: str) -> bool:
        """Whether the fault applies to a job of ``kind`` (``type`` or ``type/sub``)."""
        if self.job_type is None:
            return True
        return kind == self.job_type or kind.split("/", 1)[0] == self.job_type


class FaultPlan:
    """The queue of pending faults (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` after the ones already pending."""
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def take(self, kind: str) -> Fault | None:
        """The first pending fault matching ``kind`` (one use consumed)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(kind):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @property
    def pending(self) -> int:
        """Uses left across all pending faults."""
        with self._lock:
            return sum(f.times for f in self._faults)
