"""Rate limits shared across processes: the state database (SQLite, PostgreSQL) and Redis.

Reservations are checked directly: every window of every process's reserved send times
together holds at most its maximum. Processes reserve without sleeping (reserve() only
books a time), so the tests do not wait for the windows to pass.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from acumatica_client import Licence
from expense_bridge._limits import (
    DatabaseLicenceLimiter,
    DatabaseRateLimiter,
    RedisLicenceLimiter,
    RedisRateLimiter,
)
from expense_bridge._store import DatabaseStore
from expensify_client._limiter import DEFAULT_WINDOWS

from .services import REDIS_URL, postgres_database, redis_prefix

WORKERS = 4
PER_WORKER = 8


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield "database", f"sqlite:///{tmp_path / 'state.sqlite3'}"
    elif request.param == "postgresql":
        with postgres_database() as url:
            yield "database", url
    else:
        with redis_prefix() as prefix:
            yield "redis", prefix


_OPEN: list[DatabaseStore | RedisRateLimiter | RedisLicenceLimiter] = []


@pytest.fixture(autouse=True)
def _close_everything() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _limiter(kind: str, where: str) -> DatabaseRateLimiter | RedisRateLimiter:
    if kind == "database":
        store = DatabaseStore(where)
        _OPEN.append(store)
        return DatabaseRateLimiter(store)
    limiter = RedisRateLimiter(REDIS_URL, prefix=where + ":")
    _OPEN.append(limiter)
    return limiter


def _reserve_many(kind: str, where: str, n: int, out: multiprocessing.Queue[list[float]]) -> None:
    limiter = _limiter(kind, where)
    out.put([limiter.reserve("partner@example.com") for _ in range(n)])
    while _OPEN:
        _OPEN.pop().close()


def _violations(times: list[float], windows: tuple[tuple[int, float], ...]) -> list[str]:
    times = sorted(times)
    bad = []
    for max_calls, period in windows:
        for i in range(len(times) - max_calls):
            # max_calls + 1 sends inside one half-open window of `period` seconds
            if times[i + max_calls] - times[i] < period:
                bad.append(f"{max_calls + 1} sends within {period}s from {times[i]:.3f}")
    return bad


def test_expensify_windows_hold_across_processes(backend: tuple[str, str]) -> None:
    kind, where = backend
    _limiter(kind, where).reserve("warm-up")  # creates the schema once, before the race
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[float]] = context.Queue()
    procs = [
        context.Process(target=_reserve_many, args=(kind, where, PER_WORKER, out))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    times = [t for batch in results for t in batch]
    assert len(times) == WORKERS * PER_WORKER
    assert _violations(times, DEFAULT_WINDOWS) == []
    # 32 sends at 20 per minute: the last one is booked at least a minute after the first.
    assert max(times) - min(times) >= 60 - 1e-3


def test_other_partner_users_have_their_own_windows(backend: tuple[str, str]) -> None:
    kind, where = backend
    limiter = _limiter(kind, where)
    first = [limiter.reserve("a@example.com") for _ in range(5)]
    other = limiter.reserve("b@example.com")
    sixth = limiter.reserve("a@example.com")
    assert other - first[0] < 5  # not delayed by a's window
    assert sixth - first[0] >= 10 - 1e-3


def _licence_limiter(
    kind: str, where: str, licence: Licence
) -> DatabaseLicenceLimiter | RedisLicenceLimiter:
    if kind == "database":
        store = DatabaseStore(where)
        _OPEN.append(store)
        return DatabaseLicenceLimiter(store, licence, "acumatica:test#T1")
    limiter = RedisLicenceLimiter(REDIS_URL, licence, f"{where}:acumatica", poll=0.01)
    _OPEN.append(limiter)
    return limiter


def test_licence_concurrency_is_shared(backend: tuple[str, str]) -> None:
    kind, where = backend
    licence = Licence(requests_per_minute=None, max_concurrent=2)
    limiters = [_licence_limiter(kind, where, licence) for _ in range(6)]
    limiters[0].reserve()  # schema
    lock = threading.Lock()
    inside = 0
    peak = 0
    done = 0

    def call(limiter: DatabaseLicenceLimiter | RedisLicenceLimiter) -> None:
        nonlocal inside, peak, done
        for _ in range(3):
            with limiter.slot():
                with lock:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.03)
                with lock:
                    inside -= 1
                    done += 1

    threads = [threading.Thread(target=call, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert done == 18
    assert peak == 2  # every slot used, never more


def test_licence_rate_is_shared(backend: tuple[str, str]) -> None:
    kind, where = backend
    """Two limiters of one 10/min licence start at most 5 (the paced half, as the
    in-process limiter) in any minute between them: 25 starts span four more minutes."""
    licence = Licence(requests_per_minute=10, max_concurrent=None)
    assert licence.paced_per_minute == 5
    a, b = (_licence_limiter(kind, where, licence) for _ in range(2))
    times = [a.reserve() if i % 2 else b.reserve() for i in range(25)]
    assert _violations(times, ((5, 60.0),)) == []
    assert max(times) - min(times) >= 240 - 1e-3


def test_completion_time_spaces_later_sends(backend: tuple[str, str]) -> None:
    """A call that arrives late (slow network, a descheduled worker) is counted by the
    vendor at arrival: later bookings are spaced from its completion, not its booking."""
    kind, where = backend
    limiter = _limiter(kind, where)
    first = limiter.reserve("late@example.com")
    others = [limiter.reserve("late@example.com") for _ in range(4)]
    time.sleep(0.5)  # the first call completes half a second after it was booked
    limiter.finished("late@example.com", first)
    sixth = limiter.reserve("late@example.com")
    assert max(others) - first < 1
    assert sixth - first >= 10.5
