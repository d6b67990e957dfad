"""The Integration Server's documented rate limits, per ``partnerUserID``.

At most 5 requests in any 10 seconds AND at most 20 in any 60 seconds (sliding windows).
Every request counts, including the ones answered 429 (the documented limit is on
requests, and counting rejected ones is the stricter reading): a client that keeps
hammering never gets through, one that backs off for the window does.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

__all__ = ["WINDOWS", "SlidingWindowLimiter"]

#: ``(requests, window)`` pairs enforced together.
WINDOWS: Final = ((5, timedelta(seconds=10)), (20, timedelta(seconds=60)))


class SlidingWindowLimiter:
    """Sliding-window counters keyed by ``partnerUserID`` over an injected clock."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        windows: tuple[tuple[int, timedelta], ...] = WINDOWS,
    ) -> None:
        self._clock = clock
        self._windows = windows
        self._longest = max(window for _, window in windows)
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record one request; return ``None`` if allowed, else seconds until one would be.

        The returned wait is informative only (the emulator does not send ``Retry-After``
        unless a fault asks for it).
        """
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and now - seen[0] >= self._longest:
                seen.popleft()
            wait: float | None = None
            for limit, window in self._windows:
                recent = [t for t in seen if now - t < window]
                if len(recent) >= limit:
                    until = (recent[-limit] + window - now).total_seconds()
                    wait = max(wait or 0.0, until)
            seen.append(now)
            return wait

    def reset(self) -> None:
        """Forget every request."""
        with self._lock:
            self._seen.clear()
