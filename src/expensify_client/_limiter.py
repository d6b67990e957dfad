"""Client-side rate limiting: sliding windows per credential pair.

The Integration Server allows at most 5 requests per 10 seconds and 20 per 60 seconds
(since December 2024). :class:`RateLimiter` reserves a send time for each call that keeps
every window satisfied, then sleeps until it. Reservation happens under a lock, so threads
(and clients sharing one limiter) are serialised fairly without holding the lock while
sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["DEFAULT_WINDOWS", "RateLimiter"]

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
