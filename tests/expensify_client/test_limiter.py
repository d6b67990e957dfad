"""RateLimiter: both sliding windows plus a safety margin, per key, thread-safe.

The fast tests use a fake clock (no real waiting); the loopback test runs real HTTP against
the emulator server with one simulated clock shared by the client's limiter and the
emulator's rate windows, and simulated network delays.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expensify_client import RateLimiter
from expensify_client._limiter import DEFAULT_MARGIN, DEFAULT_WINDOWS

from ._app import Clock


def _respects(times: list[float], windows: tuple[tuple[int, float], ...]) -> bool:
    ordered = sorted(times)
    return all(
        ordered[i] - ordered[i - n] >= period - 1e-9
        for n, period in windows
        for i in range(n, len(ordered))
    )


class TestRateLimiter:
    def test_documented_windows_are_default(self):
        """The server windows are Expensify's (5 per 10 s, 20 per 60 s), plus the margin."""
        limiter = RateLimiter()
        assert limiter.server_windows == ((5, 10.0), (20, 60.0)) == DEFAULT_WINDOWS
        assert limiter.margin == DEFAULT_MARGIN > 0
        assert limiter.windows == ((5, 10.0 + DEFAULT_MARGIN), (20, 60.0 + DEFAULT_MARGIN))

    def test_negative_margin_is_refused(self):
        with pytest.raises(ValueError, match="margin"):
            RateLimiter(margin=-0.1)

    def test_burst_of_30_fits_both_windows(self):
        """A burst of 30 calls is spread so every 10 s and 60 s window holds at most 5 / 20."""
        clock = Clock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep, margin=0.0)
        sent = []
        for _ in range(30):
            limiter.acquire("aa_ex")
            sent.append(clock.now)
        assert _respects(sent, DEFAULT_WINDOWS)
        start = sent[0]
        # Five per 10 s until twenty are out, then the 60 s window binds; as tight as allowed.
        offsets = [t - start for t in sent]
        assert offsets == [0.0] * 5 + [10.0] * 5 + [20.0] * 5 + [30.0] * 5 + [60.0] * 5 + [70.0] * 5

    def test_default_margin_spaces_every_window(self):
        """With the default margin each window is lengthened by it."""
        clock = Clock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        sent = []
        for _ in range(21):
            limiter.acquire("aa_ex")
            sent.append(clock.now - 1000.0)
        m = DEFAULT_MARGIN
        assert sent == [0.0] * 5 + [10 + m] * 5 + [20 + 2 * m] * 5 + [30 + 3 * m] * 5 + [60 + m]

    def test_completion_time_replaces_send_time(self):
        """A call that took long to answer counts from its completion (arrival upper bound)."""
        clock = Clock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep, margin=0.5)
        first = limiter.wait("k")
        clock.now += 3.0  # slow first answer (connection set-up)
        limiter.finished("k", first)
        for _ in range(4):
            limiter.finished("k", limiter.wait("k"))
        sixth = limiter.wait("k")
        assert sixth == first + 3.0 + 10.0 + 0.5

    def test_finished_for_unknown_reservation_is_harmless(self):
        limiter = RateLimiter(clock=Clock(), sleep=lambda s: None)
        limiter.finished("never", 12.0)
        at = limiter.wait("k")
        limiter.finished("k", at + 99.0)  # not a reservation: nothing moves
        assert limiter.reserve("k") == at

    def test_keys_are_independent(self):
        """Another credential pair has its own budget."""
        clock = Clock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        for _ in range(5):
            limiter.acquire("a")
        assert limiter.acquire("b") == 0.0
        assert limiter.acquire("a") == 10.0 + DEFAULT_MARGIN

    def test_old_calls_free_the_window(self):
        """Calls older than the period no longer count."""
        clock = Clock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        for _ in range(5):
            limiter.acquire("a")
        clock.now += 10.0 + DEFAULT_MARGIN
        assert limiter.acquire("a") == 0.0

    def test_threads_share_the_windows(self):
        """Concurrent callers reserve distinct slots that together respect the windows."""
        clock = Clock()
        lock = threading.Lock()

        def sleep(seconds: float) -> None:
            with lock:
                clock.sleeps.append(seconds)

        limiter = RateLimiter(clock=clock, sleep=sleep)
        reserved: list[float] = []

        def worker() -> None:
            for _ in range(5):
                t = limiter.reserve("a")
                with lock:
                    reserved.append(t)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(reserved) == 30
        assert _respects(reserved, DEFAULT_WINDOWS)

    @given(
        windows=st.lists(st.tuples(st.integers(1, 6), st.floats(0.5, 50)), min_size=1, max_size=3),
        gaps=st.lists(st.floats(0, 20), min_size=1, max_size=40),
    )
    def test_any_arrival_pattern_respects_windows(self, windows, gaps):
        """Whatever the arrival times, the send times satisfy every window."""
        clock = Clock()
        limiter = RateLimiter(windows, clock=clock, sleep=lambda s: None)
        sent = []
        for gap in gaps:
            clock.now += gap
            sent.append(limiter.reserve("k"))
        assert all(s >= 0 for s in sent)
        assert _respects(sent, tuple((n, p) for n, p in windows))

    @pytest.mark.parametrize("windows", [(), ((0, 10.0),), ((5, 0.0),)])
    def test_invalid_windows(self, windows):
        """Empty windows, zero calls or zero periods are refused."""
        with pytest.raises(ValueError, match="windows"):
            RateLimiter(windows)


def test_shared_limiter_keeps_two_processes_inside_the_windows(tmp_path):
    """Two limiters on one file (two processes) see each other's sends."""
    from expensify_client import SharedRateLimiter

    clock = [1_000_000.0]
    path = tmp_path / "rate.sqlite3"
    first = SharedRateLimiter(path, clock=lambda: clock[0], sleep=lambda s: None, margin=0.0)
    second = SharedRateLimiter(path, clock=lambda: clock[0], sleep=lambda s: None, margin=0.0)
    offsets = [(first if n % 2 else second).reserve("aa_partner") - clock[0] for n in range(30)]
    assert offsets == [0.0] * 5 + [10.0] * 5 + [20.0] * 5 + [30.0] * 5 + [60.0] * 5 + [70.0] * 5
    assert first.reserve("other_partner") == clock[0]  # keys are independent
    assert "rate.sqlite3" in repr(first)


def test_shared_limiter_records_completion(tmp_path):
    """finished() moves the shared record to the completion time, seen by other processes."""
    from expensify_client import SharedRateLimiter

    clock = [1_000_000.0]
    path = tmp_path / "rate.sqlite3"
    first = SharedRateLimiter(path, clock=lambda: clock[0], sleep=lambda s: None, margin=0.5)
    second = SharedRateLimiter(path, clock=lambda: clock[0], sleep=lambda s: None, margin=0.5)
    start = first.reserve("k")
    clock[0] += 2.0
    first.finished("k", start)
    for _ in range(4):
        second.reserve("k")
    assert second.reserve("k") == start + 2.0 + 10.5
