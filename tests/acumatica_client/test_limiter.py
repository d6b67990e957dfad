"""The client-side licence ceiling: requests per minute (sliding window) and concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import (
    Account,
    AcumaticaClient,
    ClientOptions,
    Endpoint,
    Licence,
    LicenceLimiter,
    OAuth2,
    RequestLimiter,
)

BASE = "https://erp.example.test"


class FakeClock:
    """Monotonic seconds that only move when someone sleeps (thread-safe)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


def max_in_window(starts: list[float], period: float = 60.0) -> int:
    """The largest number of starts inside any half-open window of ``period`` seconds.

    A micro-second of slack absorbs float rounding in ``clock + sleep`` (the fake clock
    adds the computed delay to the current time, which may land 1 ulp early).
    """
    ordered = sorted(starts)
    return max(
        (sum(1 for t in ordered if s <= t < s + period - 1e-6) for s in ordered),
        default=0,
    )


class TestLicence:
    @pytest.mark.parametrize("changes", [{"requests_per_minute": 0}, {"max_concurrent": 0}])
    def test_limits_must_be_positive(self, changes: dict[str, int]) -> None:
        """A ceiling of zero would block forever: refused."""
        with pytest.raises(ValueError, match="must be >= 1"):
            Licence(**changes)

    @pytest.mark.parametrize("share", [0, -0.5, 1.5, True])
    def test_rate_share_is_a_fraction(self, share: float) -> None:
        """The share of the licence used is in (0, 1]."""
        with pytest.raises(ValueError, match="rate_share"):
            Licence(requests_per_minute=10, rate_share=share)

    @pytest.mark.parametrize(
        ("rpm", "share", "paced"), [(300, 0.5, 150), (5, 0.5, 2), (1, 0.5, 1), (90, 1.0, 90)]
    )
    def test_paced_rate_defaults_to_half_the_licence(
        self, rpm: int, share: float, paced: int
    ) -> None:
        """By default the client uses half the per-minute limit (rounded down, >= 1)."""
        assert Licence(requests_per_minute=rpm, rate_share=share).paced_per_minute == paced
        assert Licence().paced_per_minute is None

    def test_no_limits_never_waits(self) -> None:
        """``Licence()`` (the trial licence: no rate limits) lets every call through."""
        clock = FakeClock()
        limiter = LicenceLimiter(Licence(), clock=clock, sleep=clock.sleep)
        for _ in range(1000):
            with limiter.slot() as waited:
                assert waited == 0.0
        assert clock.slept == []


class TestRequestsPerMinute:
    def test_burst_is_spread_over_windows(self) -> None:
        """12 calls at rpm=5: five at once, five after 60 s, two after 120 s."""
        clock = FakeClock()
        limiter = LicenceLimiter(
            Licence(requests_per_minute=5, rate_share=1.0), clock=clock, sleep=clock.sleep
        )
        starts: list[float] = []
        for _ in range(12):
            with limiter.slot():
                starts.append(clock())
        assert starts == [0.0] * 5 + [60.0] * 5 + [120.0] * 2
        assert clock.slept == [60.0, 60.0]
        assert max_in_window(starts) == 5

    def test_window_slides(self) -> None:
        """Calls spread out over time only wait for the call that is 60 s older."""
        clock = FakeClock()
        limiter = LicenceLimiter(
            Licence(requests_per_minute=2, rate_share=1.0), clock=clock, sleep=clock.sleep
        )
        starts: list[float] = []
        for gap in (0.0, 10.0, 5.0, 0.0):
            clock.now += gap
            with limiter.slot():
                starts.append(clock())
        # t=0, t=10, then t=15 must wait until 60; the next until 70.
        assert starts == [0.0, 10.0, 60.0, 70.0]
        assert clock.slept == [45.0, 10.0]

    @given(
        rpm=st.integers(min_value=1, max_value=6),
        gaps=st.lists(st.floats(min_value=0, max_value=90, allow_nan=False), max_size=30),
    )
    def test_never_more_than_rpm_starts_in_any_minute(self, rpm: int, gaps: list[float]) -> None:
        """Whatever the arrival pattern, no 60-second window holds more than rpm starts."""
        clock = FakeClock()
        limiter = LicenceLimiter(
            Licence(requests_per_minute=rpm, rate_share=1.0), clock=clock, sleep=clock.sleep
        )
        starts: list[float] = []
        for gap in gaps:
            clock.now += gap
            with limiter.slot():
                starts.append(clock())
        assert max_in_window(starts) <= rpm
        assert starts == sorted(starts)


class TestHalfTheLicenceByDefault:
    @given(
        rpm=st.integers(min_value=2, max_value=12),
        gaps=st.lists(st.floats(min_value=0, max_value=90, allow_nan=False), max_size=30),
    )
    def test_never_reaches_half_the_licence_in_any_minute(
        self, rpm: int, gaps: list[float]
    ) -> None:
        """With the default share, no 60 s window holds more than half the licence's rate:
        the server's delaying threshold (50 %) is never crossed."""
        clock = FakeClock()
        limiter = LicenceLimiter(Licence(requests_per_minute=rpm), clock=clock, sleep=clock.sleep)
        starts: list[float] = []
        for gap in gaps:
            clock.now += gap
            with limiter.slot():
                starts.append(clock())
        assert max_in_window(starts) <= rpm // 2

    def test_burst_at_the_default_share(self) -> None:
        """10 calls at a 10/min licence: 5 now, 5 a minute later (half the licence)."""
        clock = FakeClock()
        limiter = LicenceLimiter(Licence(requests_per_minute=10), clock=clock, sleep=clock.sleep)
        starts: list[float] = []
        for _ in range(10):
            with limiter.slot():
                starts.append(clock())
        assert starts == [0.0] * 5 + [60.0] * 5


class TestConcurrency:
    def test_burst_of_threads_stays_inside_both_ceilings(self) -> None:
        """8 threads, max_concurrent=2, rpm=3: never more than 2 running, 3 per minute."""
        clock = FakeClock()
        limiter = LicenceLimiter(
            Licence(requests_per_minute=3, max_concurrent=2, rate_share=1.0),
            clock=clock,
            sleep=clock.sleep,
        )
        lock = threading.Lock()
        running = 0
        peak = 0
        starts: list[float] = []
        entered = threading.Semaphore(0)
        release = threading.Semaphore(0)

        def call() -> None:
            nonlocal running, peak
            with limiter.slot():
                with lock:
                    running += 1
                    peak = max(peak, running)
                    starts.append(clock())
                entered.release()
                release.acquire()
                with lock:
                    running -= 1

        threads = [threading.Thread(target=call, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        observed: list[int] = []
        for _ in range(8):
            entered.acquire()  # one call is inside its slot
            with lock:
                observed.append(running)
            release.release()  # let it finish, freeing the slot for a waiter
        for t in threads:
            t.join()
        assert max(observed) <= 2
        assert peak <= 2
        assert len(starts) == 8
        assert max_in_window(starts) <= 3


class TestThroughTheClient:
    def test_client_calls_share_one_limiter(self) -> None:
        """Seven GETs at rpm=3 reach the server at 0,0,0,60,60,60,120 (server clock)."""
        clock = FakeClock()
        arrivals: list[float] = []

        def app(request: httpx.Request) -> httpx.Response:
            arrivals.append(clock())
            return httpx.Response(200, json=[])

        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            transport=httpx.MockTransport(app),
            options=ClientOptions(
                licence=Licence(requests_per_minute=3, rate_share=1.0),
                clock=clock,
                sleep=clock.sleep,
            ),
        )
        for _ in range(7):
            client.list(Account)
        assert arrivals == [0.0, 0.0, 0.0, 60.0, 60.0, 60.0, 120.0]
        assert client.calls == 7

    def test_retries_pass_through_the_limiter(self) -> None:
        """A retried call takes a new place in the window: the ceiling holds for retries."""
        clock = FakeClock()
        arrivals: list[float] = []
        answers = [httpx.Response(503), httpx.Response(503), httpx.Response(200, json=[])]

        def app(request: httpx.Request) -> httpx.Response:
            arrivals.append(clock())
            return answers.pop(0)

        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            transport=httpx.MockTransport(app),
            options=ClientOptions(
                licence=Licence(requests_per_minute=2, rate_share=1.0),
                clock=clock,
                sleep=clock.sleep,
                jitter=lambda: 0.0,
            ),
        )
        client.list(Account)
        # attempt 1 at 0; backoff 0.5 → attempt 2 at 0.5; backoff 1.0 → 1.5, but the
        # window allows a third start only at 60.
        assert arrivals == [0.0, 0.5, 60.0]
        assert max_in_window(arrivals) <= 2


class TestTokenRequestsArePaced:
    def test_the_oauth_grant_takes_a_place_in_the_window(self) -> None:
        """Token request + 2 GETs at a paced 2/min: the second GET waits for the window.

        The grant is sent through the limiter like every other request (issue 14), and
        it carries the client's timeout.
        """
        clock = FakeClock()
        arrivals: list[tuple[str, float]] = []
        timeouts: list[object] = []

        def app(request: httpx.Request) -> httpx.Response:
            arrivals.append((request.url.path.rsplit("/", 1)[-1], clock()))
            timeouts.append(request.extensions.get("timeout"))
            if request.url.path.endswith("/identity/connect/token"):
                return httpx.Response(
                    200, json={"access_token": "a1", "expires_in": 3600, "token_type": "Bearer"}
                )
            return httpx.Response(200, json=[])

        auth = OAuth2(
            base_url=BASE,
            client_id="C@Co",
            client_secret="cs",
            username="u",
            password="pw",
            clock=lambda: 1_000_000.0,
        )
        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            auth=auth,
            transport=httpx.MockTransport(app),
            options=ClientOptions(
                licence=Licence(requests_per_minute=4),  # paced at 2 per minute
                clock=clock,
                sleep=clock.sleep,
                timeout=7.5,
            ),
        )
        client.list(Account)
        client.list(Account)
        assert arrivals == [("token", 0.0), ("Account", 0.0), ("Account", 60.0)]
        assert all(t == httpx.Timeout(7.5).as_dict() for t in timeouts)
        assert client.calls == 2  # grants are not entity traffic


class TestLimiterOption:
    """``AcumaticaClient(limiter=...)``: one limiter for several clients (issue 14)."""

    @staticmethod
    def _client(
        app: object, limiter: RequestLimiter | None, licence: Licence | None = None
    ) -> AcumaticaClient:
        return AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            transport=httpx.MockTransport(app),  # type: ignore[arg-type]
            options=ClientOptions(licence=licence or Licence()),
            limiter=limiter,
        )

    def test_two_clients_share_one_ceiling(self) -> None:
        """Two clients over one limiter at a paced 3/min: 7 calls arrive 3, 3, 1 per
        minute in total, whichever client sent them (each alone would allow 3 + 3)."""
        clock = FakeClock()
        arrivals: list[float] = []

        def app(request: httpx.Request) -> httpx.Response:
            arrivals.append(clock())
            return httpx.Response(200, json=[])

        shared = LicenceLimiter(Licence(requests_per_minute=6), clock=clock, sleep=clock.sleep)
        # The clients' own options say "no limit": the shared limiter governs.
        first, second = self._client(app, shared), self._client(app, shared)
        for n in range(7):
            (first if n % 2 else second).list(Account)
        assert arrivals == [0.0, 0.0, 0.0, 60.0, 60.0, 60.0, 120.0]
        # with_options keeps a limiter that was passed in, even when the licence changes.
        clone = first.with_options(licence=Licence(requests_per_minute=1000), timeout=5)
        clone.list(Account)
        assert arrivals[-1] == 120.0
        assert max_in_window(arrivals) <= 3

    def test_any_object_with_slot_and_unlimited(self) -> None:
        """A limiter shared between processes needs only ``unlimited`` and ``slot()``:
        every request, the OAuth grant included, goes through its slot."""
        events: list[str] = []

        class Recording:
            unlimited = False

            @contextmanager
            def slot(self) -> Iterator[float]:
                events.append("enter")
                yield 0.0
                events.append("exit")

        def app(request: httpx.Request) -> httpx.Response:
            events.append("request")
            if request.url.path.endswith("/identity/connect/token"):
                return httpx.Response(
                    200, json={"access_token": "a1", "expires_in": 3600, "token_type": "Bearer"}
                )
            return httpx.Response(200, json=[])

        limiter = Recording()
        assert isinstance(limiter, RequestLimiter)
        client = AcumaticaClient(
            base_url=BASE,
            endpoint=Endpoint("Default", "24.200.001"),
            auth=OAuth2(
                base_url=BASE, client_id="C@Co", client_secret="cs", username="u", password="pw"
            ),
            transport=httpx.MockTransport(app),
            limiter=limiter,
        )
        client.list(Account)
        assert events == ["enter", "request", "exit"] * 2

    def test_an_object_without_slot_is_refused(self) -> None:
        """A wrong object is refused at construction, not at the first request."""
        with pytest.raises(TypeError, match="RequestLimiter"):
            self._client(lambda r: httpx.Response(200), object())  # type: ignore[arg-type]
