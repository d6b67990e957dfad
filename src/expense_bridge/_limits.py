"""Rate limits shared by every process and machine that uses the same credentials.

Expensify allows 5 requests per 10 s and 20 per 60 s per partner user; an Acumatica
tenant's licence caps requests per minute and concurrent requests. A worker alone keeps
inside them with the clients' in-process limiters; many workers on many machines need the
windows in one shared place:

* :class:`DatabaseRateLimiter` / :class:`DatabaseLicenceLimiter` -- the state database
  (``rate_sends`` for send times, serialised per key by SQLite's write lock or a PostgreSQL
  advisory lock; the ``leases`` table for concurrency slots). With ``state.url`` on
  PostgreSQL this is the default: nothing else to run. On PostgreSQL the windows are
  measured on the server's clock, so machines need not agree on the time.
* :class:`RedisRateLimiter` / :class:`RedisLicenceLimiter` -- one Lua script per
  reservation (atomic on the server, server clock), for users who prefer Redis.
* The SQLite file limiter of :mod:`expensify_client` (``SharedRateLimiter``) stays the
  embedded default for one machine.

Why not pyrate-limiter: it is not among the project's dependencies; its bucket model
(leaky/fixed buckets) does not reserve a future send time, which is what keeps a burst of
workers from all waking at once, and the reservation here is ten lines over primitives
both backends already provide (an advisory lock / a Lua script). Every reservation is
the same sliding-window rule as the in-process limiters: a call may start at the earliest
time at which every window holds fewer than its maximum.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from acumatica_client import Licence
from acumatica_client._limiter import LicenceLimiter
from expensify_client import RateLimiter
from expensify_client._limiter import DEFAULT_WINDOWS

from ._store import DatabaseStore

__all__ = [
    "DatabaseLicenceLimiter",
    "DatabaseRateLimiter",
    "RedisLicenceLimiter",
    "RedisRateLimiter",
    "acumatica_limit_key",
    "expensify_limit_key",
]

#: Seconds a concurrency slot is kept when its holder dies without giving it back.
_SLOT_LEASE = 120.0

#: Seconds added to every shared window, on top of the client's own margin: a send starts
#: after the moment booked for it (the booking's round trip, a busy machine waking the
#: worker late), and the vendor counts arrivals, so two sends booked a period apart must
#: not arrive closer than that. Completion times (``finished``) cover what happens after
#: the send; this covers a late start. Measured: 8 workers on 2 loaded cores needed > 1 s.
MARGIN = 2.0


def _padded(windows: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    return tuple((n, p + MARGIN) for n, p in windows)


def expensify_limit_key(partner_user_id: str) -> str:
    """The shared key of one Expensify partner user's windows."""
    return f"expensify:{partner_user_id}"


def acumatica_limit_key(base_url: str, tenant: str | None) -> str:
    """The shared key of one Acumatica tenant's licence (instance URL + tenant)."""
    return f"acumatica:{base_url.rstrip('/')}#{tenant or ''}"


class DatabaseRateLimiter(RateLimiter):
    """A :class:`~expensify_client.RateLimiter` whose windows live in the state database.

    ``prefix`` namespaces the keys (default: Expensify's). Pass it to
    ``expensify_client.ClientOptions(limits=...)``.
    """

    def __init__(
        self,
        store: DatabaseStore,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        prefix: str = "expensify:",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(windows, clock=clock, sleep=sleep)
        self._store = store
        self._prefix = prefix
        self._rows: dict[tuple[str, float], int] = {}
        self._rows_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DatabaseRateLimiter({self._store!r}, windows={self.windows!r})"

    def reserve(self, key: str) -> float:
        """Reserve the earliest send time every process's history allows (clock seconds)."""
        delay, row = self._store.reserve_send_row(
            self._prefix + key, _padded(self.windows), self._clock
        )
        at = self._clock() + delay  # measured after the booking: never earlier than it
        if row is not None:
            with self._rows_lock:
                self._rows[(key, at)] = row
        return at

    def finished(self, key: str, reserved: float) -> None:
        """Move the shared booking to the call's completion time (see the base class)."""
        with self._rows_lock:
            row = self._rows.pop((key, reserved), None)
        if row is not None:
            self._store.finish_send(row, self._clock)


_RESERVE_LUA = """
local key = KEYS[1]
local horizon = tonumber(ARGV[1])
local depth = tonumber(ARGV[2])
local member = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - horizon)
local sent = redis.call('ZREVRANGE', key, 0, depth - 1, 'WITHSCORES')
local at = now
local i = 4
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local period = tonumber(ARGV[i + 1])
  if #sent / 2 >= n then
    local nth = tonumber(sent[2 * n])
    if nth + period > at then at = nth + period end
  end
  i = i + 2
end
redis.call('ZADD', key, at, member)
redis.call('PEXPIRE', key, math.ceil((at - now + horizon) * 1000))
return tostring(at - now)
"""

_SLOT_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local member = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now + lease, member)
  redis.call('PEXPIRE', key, math.ceil(lease * 1000))
  return 1
end
return 0
"""


_FINISH_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
"""


def _reserve_redis(
    client: Any, script: Any, key: str, windows: Sequence[tuple[int, float]], member: str = ""
) -> float:
    member = member or uuid.uuid4().hex
    args: list[Any] = [max(p for _, p in windows), max(n for n, _ in windows), member]
    for max_calls, period in windows:
        args += [max_calls, period]
    return float(script(keys=[key], args=args, client=client))


class RedisRateLimiter(RateLimiter):
    """A :class:`~expensify_client.RateLimiter` whose windows live in Redis (server clock).

    ``url``: ``redis://host:6379/0``. The connection is opened on first use.
    """

    def __init__(
        self,
        url: str,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        prefix: str = "expense-bridge:expensify:",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(windows, clock=clock, sleep=sleep)
        self._url = url
        self._prefix = prefix
        self._client: Any = None
        self._script: Any = None
        self._open_lock = threading.Lock()
        self._members: dict[tuple[str, float], str] = {}

    def __repr__(self) -> str:
        return f"RedisRateLimiter(windows={self.windows!r})"

    def _redis(self) -> tuple[Any, Any]:
        with self._open_lock:
            if self._client is None:
                import redis

                self._client = redis.Redis.from_url(self._url)
                self._script = self._client.register_script(_RESERVE_LUA)
            return self._client, self._script

    def reserve(self, key: str) -> float:
        """Reserve the earliest send time the shared windows allow (clock seconds)."""
        client, script = self._redis()
        member = uuid.uuid4().hex
        delay = _reserve_redis(client, script, self._prefix + key, _padded(self.windows), member)
        at = self._clock() + delay
        with self._open_lock:
            self._members[(key, at)] = member
        return at

    def finished(self, key: str, reserved: float) -> None:
        """Move the shared booking to the call's completion time (Redis server clock)."""
        with self._open_lock:
            member = self._members.pop((key, reserved), None)
        if member is not None:
            client, _ = self._redis()
            client.eval(_FINISH_LUA, 1, self._prefix + key, member)

    def close(self) -> None:
        """Close the Redis connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None


class _SharedLicence(LicenceLimiter):
    """A :class:`LicenceLimiter` whose window and slots are shared (see subclasses)."""

    def __init__(
        self,
        licence: Licence,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.05,
    ) -> None:
        super().__init__(licence, clock=clock, sleep=sleep)
        self.key = key
        self._poll = poll

    def _shared_delay(self, windows: Sequence[tuple[int, float]]) -> float:
        raise NotImplementedError

    def _take_slot(self, token: str, limit: int) -> bool:
        raise NotImplementedError

    def _give_slot(self, token: str) -> None:
        raise NotImplementedError

    def reserve(self) -> float:
        """Reserve the earliest start the shared, paced per-minute ceiling allows (clock
        seconds): ``Licence.paced_per_minute`` (half the licence by default, below the
        point where Acumatica starts delaying requests), as the in-process limiter."""
        rpm = self.licence.paced_per_minute
        if rpm is None:
            return self._clock()
        delay = self._shared_delay(_padded(((rpm, self._period),)))
        return self._clock() + delay

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one of the licence's concurrent-request slots (shared), then wait for the
        per-minute window; yields the seconds waited."""
        limit = self.licence.max_concurrent
        if limit is None:
            yield self._wait_for_window()
            return
        token = uuid.uuid4().hex
        waited = 0.0
        while not self._take_slot(token, limit):
            self._sleep(self._poll)
            waited += self._poll
        try:
            yield waited + self._wait_for_window()
        finally:
            self._give_slot(token)


class DatabaseLicenceLimiter(_SharedLicence):
    """An Acumatica licence ceiling shared through the state database.

    Concurrency slots are named leases (``slot-<n>`` under the licence key) that lapse
    after two minutes if their holder dies.
    """

    def __init__(
        self,
        store: DatabaseStore,
        licence: Licence,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.05,
    ) -> None:
        super().__init__(licence, key, clock=clock, sleep=sleep, poll=poll)
        self._store = store
        self._held: dict[str, str] = {}
        self._held_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DatabaseLicenceLimiter({self._store!r}, {self.licence!r})"

    def _shared_delay(self, windows: Sequence[tuple[int, float]]) -> float:
        return self._store.reserve_send(self.key, windows, self._clock)

    def _take_slot(self, token: str, limit: int) -> bool:
        now = datetime.fromtimestamp(self._clock(), UTC)
        for n in range(limit):
            name = f"slot-{n}"
            if self._store.acquire_lease(self.key, name, token, now, _SLOT_LEASE):
                with self._held_lock:
                    self._held[token] = name
                return True
        return False

    def _give_slot(self, token: str) -> None:
        with self._held_lock:
            name = self._held.pop(token, None)
        if name is not None:
            self._store.release_lease(self.key, name, token)


class RedisLicenceLimiter(_SharedLicence):
    """An Acumatica licence ceiling shared through Redis (server clock, Lua scripts)."""

    def __init__(
        self,
        url: str,
        licence: Licence,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.05,
    ) -> None:
        super().__init__(licence, f"expense-bridge:{key}", clock=clock, sleep=sleep, poll=poll)
        self._url = url
        self._client: Any = None
        self._scripts: tuple[Any, Any] | None = None
        self._open_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisLicenceLimiter({self.licence!r})"

    def _redis(self) -> tuple[Any, Any, Any]:
        with self._open_lock:
            if self._client is None or self._scripts is None:
                import redis

                self._client = redis.Redis.from_url(self._url)
                self._scripts = (
                    self._client.register_script(_RESERVE_LUA),
                    self._client.register_script(_SLOT_LUA),
                )
            return self._client, self._scripts[0], self._scripts[1]

    def _shared_delay(self, windows: Sequence[tuple[int, float]]) -> float:
        client, reserve, _ = self._redis()
        return _reserve_redis(client, reserve, self.key + ":sends", windows)

    def _take_slot(self, token: str, limit: int) -> bool:
        _, _, take = self._redis()
        return bool(take(keys=[self.key + ":slots"], args=[limit, _SLOT_LEASE, token]))

    def _give_slot(self, token: str) -> None:
        client, _, _ = self._redis()
        client.zrem(self.key + ":slots", token)

    def close(self) -> None:
        """Close the Redis connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
