"""Client-side rate limiting: sliding windows per credential pair, with a safety margin.

The Integration Server allows at most 5 requests per 10 seconds and 20 per 60 seconds
(since December 2024), counted when requests *arrive*. :class:`RateLimiter` reserves a send
time for each call that keeps every window satisfied, then sleeps until it. Reservation
happens under a lock, so threads (and clients sharing one limiter) are serialised fairly
without holding the lock while sleeping.

Safety margin. A client only knows when it starts sending; the server counts arrivals,
which come later by a variable delay (connection set-up, TLS, network, queueing). If the
first call of a window arrived late and a later one arrives quickly, spacing the *sends* by
exactly the period puts two arrivals less than a period apart, and the server answers 429.
So:

* after each call the client reports its completion (:meth:`RateLimiter.finished`), and the
  call's recorded time moves from "send started" to "answer received", an upper bound of
  its arrival: later sends are spaced from that;
* every window is lengthened by ``margin`` seconds (default :data:`DEFAULT_MARGIN`) for what
  no completion time covers (the server's clock granularity, the edges of its window, drift
  between two clocks, limiters that cannot report completion).

:attr:`RateLimiter.windows` are the windows actually enforced (periods plus the margin);
:attr:`RateLimiter.server_windows` the server's.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["DEFAULT_MARGIN", "DEFAULT_WINDOWS", "RateLimiter", "SharedRateLimiter"]

#: ``(max_calls, period_seconds)`` pairs documented by Expensify.
DEFAULT_WINDOWS: tuple[tuple[int, float], ...] = ((5, 10.0), (20, 60.0))
#: Seconds added to every window's period (see the module documentation).
DEFAULT_MARGIN: float = 1.0


class RateLimiter:
    """Sliding-window limiter, one set of windows per key (the ``partnerUserID``).

    ``windows`` are the server's ``(max_calls, period_seconds)`` pairs; each period is
    lengthened by ``margin`` seconds and all are enforced at once: in any half-open interval
    of ``period + margin`` seconds at most ``max_calls`` calls are recorded, a call counting
    from its send time and, once :meth:`finished` is reported, from its completion time.
    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests never wait.
    """

    def __init__(
        self,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        server = tuple((int(n), float(p)) for n, p in windows)
        if not server or any(n < 1 or p <= 0 for n, p in server):
            raise ValueError("windows must be non-empty (max_calls >= 1, period > 0) pairs")
        if margin < 0:
            raise ValueError("margin must be >= 0 seconds")
        self._server_windows = server
        self._margin = float(margin)
        self._windows = tuple((n, p + self._margin) for n, p in server)
        self._depth = max(n for n, _ in self._windows)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The enforced ``(max_calls, period_seconds)`` windows (server period + margin)."""
        return self._windows

    @property
    def server_windows(self) -> tuple[tuple[int, float], ...]:
        """The server's ``(max_calls, period_seconds)`` windows, as given."""
        return self._server_windows

    @property
    def margin(self) -> float:
        """Seconds added to every period."""
        return self._margin

    def __repr__(self) -> str:
        return f"RateLimiter(windows={self._server_windows!r}, margin={self._margin!r})"

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

    def wait(self, key: str) -> float:
        """Reserve a send time for ``key``, sleep until it and return it (clock seconds).

        Pass the returned value to :meth:`finished` once the call's answer has arrived.
        """
        at = self.reserve(key)
        delay = at - self._clock()
        if delay > 0:
            self._sleep(delay)
        return at

    def acquire(self, key: str) -> float:
        """Wait until a call for ``key`` may be sent; return the seconds waited."""
        at = self.reserve(key)
        delay = at - self._clock()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    def finished(self, key: str, reserved: float) -> None:
        """Record that the call reserved at ``reserved`` has completed (answer received).

        Its recorded time moves to now (if later): the server saw it arrive no later than
        that, so later calls are spaced from it. Limiters that keep their history elsewhere
        (and do not override this) keep the send time; the margin then covers the delay.
        """
        with self._lock:
            sent = self._sent.get(key)
            if not sent:
                return
            now = self._clock()
            for i in range(len(sent) - 1, -1, -1):
                if sent[i] == reserved:
                    if now > reserved:
                        sent[i] = now
                        # Keep the history sorted (later reservations may precede now).
                        ordered = sorted(sent)
                        sent.clear()
                        sent.extend(ordered)
                    return


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
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(windows, margin=margin, clock=clock, sleep=sleep)
        self.path = Path(path)
        self._horizon = max(p for _, p in self.windows)

    def __repr__(self) -> str:
        return (
            f"SharedRateLimiter({str(self.path)!r}, windows={self.server_windows!r}, "
            f"margin={self.margin!r})"
        )

    def finished(self, key: str, reserved: float) -> None:
        """Move the call reserved at ``reserved`` to its completion time (see the base)."""
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS sends (key TEXT NOT NULL, at REAL NOT NULL)")
            db.execute("BEGIN IMMEDIATE")
            now = self._clock()
            db.execute(
                "UPDATE sends SET at = ? WHERE rowid = (SELECT rowid FROM sends "
                "WHERE key = ? AND at = ? LIMIT 1) AND at < ?",
                (now, key, reserved, now),
            )
            db.execute("COMMIT")
        finally:
            db.close()

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
