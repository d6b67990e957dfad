"""Client-side licence ceiling: requests per minute and concurrent requests.

Acumatica licences cap API requests per minute and concurrent requests (License
Monitoring Console). :class:`LicenceLimiter` keeps one client (or several sharing it)
inside a configured :class:`Licence` so a well-configured client rarely sees a 429:
each call takes one of the concurrency slots, reserves a start time that keeps the
sliding 60-second window under the ceiling, sleeps until then (without holding the
lock), and keeps the slot while it runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs

__all__ = ["Licence", "LicenceLimiter"]


@attrs.frozen(kw_only=True)
class Licence:
    """The licence ceiling to stay inside; ``None`` means "no limit of that kind"."""

    requests_per_minute: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    max_concurrent: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )


class LicenceLimiter:
    """Thread-safe limiter for one :class:`Licence`; ``clock``/``sleep`` are injectable."""

    def __init__(
        self,
        licence: Licence,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        period: float = 60.0,
    ) -> None:
        self.licence = licence
        self._clock = clock
        self._sleep = sleep
        self._period = period
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()
        self._slots = (
            threading.BoundedSemaphore(licence.max_concurrent)
            if licence.max_concurrent is not None
            else None
        )

    def __repr__(self) -> str:
        return f"LicenceLimiter({self.licence!r})"

    def reserve(self) -> float:
        """Reserve the earliest start time the per-minute ceiling allows (clock seconds)."""
        rpm = self.licence.requests_per_minute
        with self._lock:
            now = self._clock()
            if rpm is None:
                return now
            while self._starts and self._starts[0] <= now - self._period:
                self._starts.popleft()
            at = now
            if len(self._starts) >= rpm:
                at = max(now, self._starts[-rpm] + self._period)
            self._starts.append(at)
            return at

    def _wait_for_window(self) -> float:
        at = self.reserve()
        delay = at - self._clock()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold a concurrency slot and wait for the rate window; yields the seconds waited.

        The slot is taken first, so the reserved start time is the real start time: a
        call that queued for a slot cannot start later than the window accounted for.
        """
        if self._slots is None:
            yield self._wait_for_window()
            return
        with self._slots:
            yield self._wait_for_window()
