"""Client-side rate limiting: sliding windows per credential pair.

The Integration Server allows at most 5 requests per 10 seconds and 20 per 60 seconds
(since December 2024). :class:`RateLimiter` reserves a send time for each call that keeps
every window satisfied, then sleeps until it. Reservation happens under a lock, so threads
(and clients sharing one limiter) are serialised fairly without holding the lock while
sleeping.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["DEFAULT_WINDOWS", "RateLimiter", "SharedRateLimiter"]

#: ``(max_calls, period_seconds)`` pairs documented by Expensify.
DEFAULT_WINDOWS: tuple[tuple[int, float], ...] = ((5, 10.0), (20, 60.0))


class RateLimiter:
    """Sliding-window limiter, one set of windows per key (the ``partnerUserID``).

    ``windows`` are ``(max_calls, period_seconds)`` pairs, all enforced at once: in any
    half-open interval of ``period`` seconds at most ``max_calls`` sends start. ``clock``
    (monotonic seconds) and ``sleep`` are injectable so tests never wait.
    """

    def __init__(
        self,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._windows = tuple((int(n), float(p)) for n, p in windows)
        if not self._windows or any(n < 1 or p <= 0 for n, p in self._windows):
            raise ValueError("windows must be non-empty (max_calls >= 1, period > 0) pairs")
        self._depth = max(n for n, _ in self._windows)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The enforced ``(max_calls, period_seconds)`` windows."""
        return self._windows

    def __repr__(self) -> str:
        return f"RateLimiter(windows={self._windows!r})"

    def reserve(self, key: str) -> float:
        """Reserve the earliest send time allowed for ``key`` and return it (clock seconds)."""
        with self._lock:
            now = self._clock()
            sent = self._sent.setdefault(key, deque(maxlen=self._depth))
            at = now
            for max_calls, period in self._windows:
                if len(sent) >= max_calls:
                    at = max(at, sent[-max_calls] + period)
            sent.append(at)
            return at

    def acquire(self, key: str) -> float:
        """Wait until a call for ``key`` may be sent; return the seconds waited."""
        at = self.reserve(key)
        delay = at - self._clock()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0


class SharedRateLimiter(RateLimiter):
    """A :class:`RateLimiter` whose send times live in a SQLite file, shared by processes.

    Scheduled jobs that use the same partner credentials (a sync and a provisioning run, or
    two CLI invocations in a row) then stay inside the windows together instead of each
    believing it is alone. Reservations are made under ``BEGIN IMMEDIATE``; ``clock`` must
    be wall-clock seconds (``time.time``) so that processes agree.
    """

    def __init__(
        self,
        path: str | Path,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(windows, clock=clock, sleep=sleep)
        self.path = Path(path)
        self._horizon = max(p for _, p in self.windows)

    def __repr__(self) -> str:
        return f"SharedRateLimiter({str(self.path)!r}, windows={self.windows!r})"

    def reserve(self, key: str) -> float:
        """Reserve the earliest send time every process's history allows for ``key``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS sends (key TEXT NOT NULL, at REAL NOT NULL)")
            db.execute("BEGIN IMMEDIATE")
            now = self._clock()
            db.execute("DELETE FROM sends WHERE at < ?", (now - self._horizon,))
            sent = [
                row[0]
                for row in db.execute(
                    "SELECT at FROM sends WHERE key = ? ORDER BY at DESC LIMIT ?",
                    (key, max(n for n, _ in self.windows)),
                )
            ]
            sent.reverse()
            at = now
            for max_calls, period in self.windows:
                if len(sent) >= max_calls:
                    at = max(at, sent[-max_calls] + period)
            db.execute("INSERT INTO sends (key, at) VALUES (?, ?)", (key, at))
            db.execute("COMMIT")
            return at
        finally:
            db.close()
