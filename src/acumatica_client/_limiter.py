"""Client-side licence ceiling: requests per minute and concurrent requests.

Acumatica licences cap API requests per minute and concurrent requests (License
Monitoring Console). The server mostly *delays* rather than refuses: once the requests
of the past minute reach **half** the per-minute limit, each new request is held in the
licence queue for a while; only more than 20 queued requests, or one waiting over 10
minutes, get a 429 (reference §2.4). :class:`LicenceLimiter` keeps one client (or
several sharing it) inside a configured :class:`Licence`: by default at most half the
per-minute limit in any sliding 60-second window (``Licence.rate_share``), so the server
never starts delaying, and at most ``max_concurrent`` requests in flight. Each call
takes one of the concurrency slots, reserves a start time that keeps the window under
the ceiling, sleeps until then (without holding the lock), and keeps the slot while it
runs. Every request of the client goes through it, OAuth token requests included.
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
    """The licence ceiling to stay inside; ``None`` means "no limit of that kind".

    ``requests_per_minute`` and ``max_concurrent`` are the licence's own figures (from
    the License Monitoring Console, SM604000). ``rate_share`` is the share of the
    per-minute figure the client lets itself use: 0.5 (the default) keeps it below the
    point where Acumatica starts delaying requests; 1.0 uses the whole licence and
    accepts the server's delays (allow for them in the client timeout).
    """

    requests_per_minute: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    max_concurrent: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    rate_share: float = attrs.field(default=0.5)

    @rate_share.validator
    def _check_share(self, attribute: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not 0 < value <= 1:
            raise ValueError(f"Licence.rate_share must be in (0, 1], not {value!r}")

    @property
    def paced_per_minute(self) -> int | None:
        """Requests the limiter starts in any 60 s: ``requests_per_minute * rate_share``.

        Rounded down, never below one; ``None`` when there is no per-minute limit.
        """
        if self.requests_per_minute is None:
            return None
        return max(1, int(self.requests_per_minute * self.rate_share))


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

    @property
    def unlimited(self) -> bool:
        """Whether the licence sets no limit at all (then :meth:`slot` never waits)."""
        return self._slots is None and self.licence.requests_per_minute is None

    def reserve(self) -> float:
        """Reserve the earliest start time the paced per-minute ceiling allows (clock s)."""
        rpm = self.licence.paced_per_minute
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
