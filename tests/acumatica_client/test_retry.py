"""The one retry layer: what is retried, and the exact schedule of waits.

429 is always retried (the server did not process the request); transport failures,
timeouts and 5xx only for requests that are safe to repeat, never for a PUT create or
an action, because Acumatica has no idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import httpx
import pytest

from acumatica_client import (
    Account,
    AcumaticaClient,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    Bill,
    BillDetail,
    ClientOptions,
    Endpoint,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    status_error,
)
from acumatica_client._retry import is_retryable, make_retrying

BASE = "https://erp.example.test"
ENTITY = f"{BASE}/entity/Default/24.200.001"
Handler = Callable[[httpx.Request], httpx.Response]


def error(status: int, headers: dict[str, str] | None = None) -> Exception:
    request = httpx.Request("GET", f"{ENTITY}/Account")
    return status_error(request, httpx.Response(status, headers=headers, request=request))


class Script:
    """A MockTransport app answering from a list of responses/exceptions, recording requests."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def client(app: Handler, slept: list[float], **options: object) -> AcumaticaClient:
    return AcumaticaClient(
        base_url=BASE,
        endpoint=Endpoint("Default", "24.200.001"),
        transport=httpx.MockTransport(app),
        options=ClientOptions(sleep=slept.append, **options),  # type: ignore[arg-type]
    )


def accounts() -> httpx.Response:
    return httpx.Response(200, json=[{"id": "1", "AccountCD": {"value": "61000"}}])


def bill() -> Bill:
    return Bill(
        type="Bill",
        vendor="EMP0001",
        vendor_ref="EXB-1",
        date=date(2026, 11, 1),
        details=(BillDetail(account="61000", amount=Decimal("12.50")),),
    )


class TestPolicy:
    def test_exponential_backoff_with_injected_jitter_and_cap(self) -> None:
        """Waits double from ``initial``, add ``jitter`` times the draw, capped at max_wait."""
        policy = RetryPolicy(initial=0.5, max_wait=3.0, jitter=1.0)
        waits = [policy.wait_for(n, error(503), 0.25) for n in range(1, 6)]
        assert waits == [0.75, 1.25, 2.25, 3.0, 3.0]

    def test_retry_after_seconds_replaces_backoff_and_is_capped(self) -> None:
        """A 429's Retry-After is the wait, up to ``max_retry_after``."""
        policy = RetryPolicy(initial=4.0, max_retry_after=30.0)
        assert policy.wait_for(1, error(429, {"Retry-After": "2"}), 0.9) == 2.0
        assert policy.wait_for(3, error(429, {"Retry-After": "7.5"}), 0.9) == 7.5
        assert policy.wait_for(1, error(429, {"Retry-After": "3600"}), 0.0) == 30.0

    def test_retry_after_http_date(self) -> None:
        """An HTTP-date Retry-After: a past date means now, a far one is capped."""
        policy = RetryPolicy(max_retry_after=45.0)
        past = error(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
        future = error(429, {"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"})
        assert policy.wait_for(1, past, 0.5) == 0.0
        assert policy.wait_for(1, future, 0.5) == 45.0

    def test_429_without_or_with_a_bad_header_backs_off(self) -> None:
        """No usable Retry-After: the jittered exponential backoff applies."""
        policy = RetryPolicy(initial=1.0, jitter=0.5)
        assert policy.wait_for(2, error(429), 0.5) == 2.25
        assert policy.wait_for(2, error(429, {"Retry-After": "soon"}), 0.5) == 2.25

    @pytest.mark.parametrize(
        "changes",
        [
            {"attempts": 0},
            {"initial": -1},
            {"max_wait": -0.1},
            {"jitter": -1},
            {"max_retry_after": -5},
        ],
    )
    def test_invalid_values(self, changes: dict[str, float]) -> None:
        """Zero attempts or negative durations are refused."""
        with pytest.raises(ValueError):
            RetryPolicy(**changes)  # type: ignore[arg-type]


class TestWhatIsRetried:
    @pytest.mark.parametrize("repeatable", [True, False])
    def test_429_is_always_retried(self, repeatable: bool) -> None:
        """The server refused before processing: safe to repeat even a create."""
        assert is_retryable(error(429), repeatable=repeatable)

    @pytest.mark.parametrize(
        "exc",
        [
            APIConnectionError("reset"),
            APITimeoutError("read timeout"),
            error(500),
            error(502),
            error(503),
            error(504),
        ],
    )
    def test_transient_failures_only_for_repeatable_requests(self, exc: Exception) -> None:
        """Connection errors, timeouts and 5xx: retried for GET/DELETE, never for PUT/POST."""
        assert is_retryable(exc, repeatable=True)
        assert not is_retryable(exc, repeatable=False)

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 422])
    def test_client_errors_are_never_retried(self, status: int) -> None:
        """A 4xx other than 429 will fail the same way again."""
        assert not is_retryable(error(status), repeatable=True)

    def test_tenacity_reraises_the_last_error_after_the_attempts(self) -> None:
        """Callers see the domain error, never tenacity.RetryError; the schedule is exact."""
        slept: list[float] = []
        calls: list[int] = []
        retrying = make_retrying(
            RetryPolicy(attempts=4, initial=1.0, jitter=1.0),
            repeatable=True,
            sleep=slept.append,
            uniform=lambda: 0.5,
            describe="GET /x",
        )

        def fail() -> None:
            calls.append(1)
            raise error(503)

        with pytest.raises(InternalServerError):
            retrying(fail)
        assert len(calls) == 4
        assert slept == [1.5, 2.5, 4.5]


class TestThroughTheClient:
    def test_429_retry_after_is_honoured_with_the_exact_schedule(self) -> None:
        """Two 429s with Retry-After 7 then 120 (capped at 60), then success."""
        app = Script(
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(429, headers={"Retry-After": "120"}),
            accounts(),
        )
        slept: list[float] = []
        found = client(app, slept, jitter=lambda: 0.0).list(Account)
        assert [a.account_cd for a in found] == ["61000"]
        assert slept == [7.0, 60.0]
        assert len(app.requests) == 3

    def test_429_without_header_uses_the_injected_jitter(self) -> None:
        """Backoff 0.5·2ⁿ⁻¹ + 0.5·draw with the draw injected; gives up after attempts."""
        app = Script(*[httpx.Response(429) for _ in range(5)])
        slept: list[float] = []
        draws = iter([0.0, 0.5, 1.0, 0.2, 0.7])  # tenacity also draws after the last try
        with pytest.raises(RateLimitError):
            client(app, slept, jitter=lambda: next(draws)).list(Account)
        assert slept == [0.5, 1.25, 2.5, 4.1]
        assert len(app.requests) == 5

    def test_429_on_a_put_is_retried(self) -> None:
        """A throttled create was not processed, so it is sent again."""
        saved = {"id": "9", "Type": {"value": "Bill"}, "ReferenceNbr": {"value": "000001"}}
        app = Script(
            httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json=saved)
        )
        slept: list[float] = []
        result = client(app, slept).put(bill())
        assert result.reference_nbr == "000001"
        assert slept == [1.0]
        assert [r.method for r in app.requests] == ["PUT", "PUT"]
        assert app.requests[0].content == app.requests[1].content

    @pytest.mark.parametrize(
        "failure",
        [
            httpx.ReadTimeout("read timed out"),
            httpx.RemoteProtocolError("server disconnected without sending a response"),
            httpx.ReadError("connection reset"),
        ],
    )
    def test_put_is_not_retried_after_a_dropped_response(self, failure: Exception) -> None:
        """The create may have been applied: exactly one request, the error surfaces."""
        app = Script(failure, accounts())
        slept: list[float] = []
        with pytest.raises(APIConnectionError) as info:
            client(app, slept).put(bill())
        assert len(app.requests) == 1
        assert slept == []
        assert isinstance(info.value, APITimeoutError) == isinstance(
            failure, httpx.TimeoutException
        )
        assert info.value.__cause__ is failure

    def test_put_is_not_retried_on_503(self) -> None:
        """A 5xx on a create is ambiguous too: one request, InternalServerError."""
        app = Script(httpx.Response(503), accounts())
        with pytest.raises(InternalServerError):
            client(app, []).put(bill())
        assert len(app.requests) == 1

    def test_action_is_not_retried_after_a_timeout(self) -> None:
        """An action POST is never re-sent blindly."""
        app = Script(httpx.ReadTimeout("slow"))
        with pytest.raises(APITimeoutError):
            client(app, []).invoke_action(
                Bill, "ReleaseBill", Bill(type="Bill", reference_nbr="000001")
            )
        assert len(app.requests) == 1

    def test_get_is_retried_on_503_and_connection_errors(self) -> None:
        """A read is repeatable: 503, a refused connection and a timeout, then success."""
        app = Script(
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            accounts(),
        )
        slept: list[float] = []
        found = client(app, slept, jitter=lambda: 0.0).list(Account)
        assert len(found) == 1
        assert slept == [0.5, 1.0, 2.0]
        assert len(app.requests) == 4

    def test_delete_is_retried_on_502(self) -> None:
        """DELETE is idempotent, so a 502 is retried."""
        app = Script(httpx.Response(502), httpx.Response(204))
        client(app, [], jitter=lambda: 0.0).delete(Account, "61000")
        assert [r.method for r in app.requests] == ["DELETE", "DELETE"]

    @pytest.mark.parametrize(("status", "exc"), [(401, AuthenticationError), (404, NotFoundError)])
    def test_client_errors_fail_at_once(self, status: int, exc: type[Exception]) -> None:
        """No retry for a 4xx answer (the 404 asks discovery once, which finds the version)."""
        discovery = {"endpoints": [{"name": "Default", "version": "24.200.001"}]}
        app = Script(httpx.Response(status), httpx.Response(200, json=discovery))
        slept: list[float] = []
        with pytest.raises(exc):
            client(app, slept).get(Account, "61000")
        assert slept == []
        assert app.requests[0].url.path.endswith("/Account/61000")
        assert all(not r.url.path.endswith("/Account/61000") for r in app.requests[1:])

    def test_attempts_1_disables_retrying(self) -> None:
        """``RetryPolicy(attempts=1)`` sends once even for a 429."""
        app = Script(httpx.Response(429, headers={"Retry-After": "1"}))
        with pytest.raises(RateLimitError) as info:
            client(app, [], retry=RetryPolicy(attempts=1)).list(Account)
        assert info.value.retry_after == 1.0
        assert len(app.requests) == 1

    def test_retries_carry_a_retry_count_header(self) -> None:
        """The first try has no retry header; each retry says how many came before."""
        app = Script(httpx.Response(503), httpx.Response(429), accounts())
        client(app, [], jitter=lambda: 0.0).list(Account)
        counts = [r.headers.get("x-acumatica-client-retry-count") for r in app.requests]
        assert counts == [None, "1", "2"]

    def test_calls_count_every_attempt(self) -> None:
        """API accounting includes retried attempts."""
        app = Script(httpx.Response(503), httpx.Response(429), accounts())
        acu = client(app, [], jitter=lambda: 0.0)
        acu.list(Account)
        assert acu.calls == 3

    def test_each_retry_is_logged_with_method_path_and_wait_only(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The retry log names the call and the wait, never the query or body."""
        app = Script(httpx.Response(429, headers={"Retry-After": "3"}), accounts())
        with caplog.at_level(logging.DEBUG, logger="acumatica_client"):
            client(app, []).list(Account, filter="AccountCD eq 'SECRETISH'")
        retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
        assert retry_lines == [
            "acumatica retry GET /entity/Default/24.200.001/Account: attempt 1 failed with "
            "RateLimitError; next in 3.00s"
        ]
        assert all("SECRETISH" not in r.getMessage() for r in caplog.records)
        assert app.requests[-1].url.params["$filter"] == "AccountCD eq 'SECRETISH'"
