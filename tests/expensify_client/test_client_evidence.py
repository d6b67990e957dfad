"""Issue 9, client side: the client follows the evidence about the live Integration Server.

* the rate limiter's safety margin: a dozen consecutive calls over loopback HTTP against the
  emulator (5 per 10 s and 20 per 60 s, counted on arrival) draw zero 429s with default
  options, even when the first call's arrival is delayed by connection set-up;
* "File not found" on a download is its own error, raised within two requests;
* the policy getter's ``forwardsTo``/``overLimitForwardsTo`` keys;
* an unknown policy ID is a :class:`PolicyNotFoundError` naming it, whatever the envelope;
* every JSON the client sends is ASCII (``\\u`` escapes).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from expensify_client import (
    ClientOptions,
    EmployeeRecord,
    ExpensifyClient,
    FileNotFoundOnServerError,
    FileNotReadyError,
    NotFoundError,
    PolicyNotFoundError,
    RateLimiter,
    RetryPolicy,
    ValidationError,
)
from expensify_client._results import parse_policies
from expensify_client.emulator import ExpensifyEmulator
from expensify_client.emulator._server import LoopbackServer

from ._app import CREDS, SECRET, App, envelope, make_client, text


class SimClock:
    """One simulated clock for the client's limiter (monotonic seconds) and the emulator."""

    def __init__(self) -> None:
        self.now = 0.0
        self.start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(seconds, 0.0)

    def utc(self) -> datetime:
        with self.lock:
            return self.start + timedelta(seconds=self.now)


class LegacyLimiter(RateLimiter):
    """The limiter as it was: no margin, send times never moved to completion."""

    def finished(self, key: str, reserved: float) -> None:
        return None


def _loopback_run(limiter_margin: float | None, *, calls: int = 12) -> list[int]:
    """``calls`` policy-list calls over real loopback HTTP; return the HTTP statuses seen.

    The network is simulated on the shared clock: the first request takes 0.9 s to arrive
    (connection set-up, TLS), later ones 0.01 s; each answer takes 0.02 s to come back.
    """
    clock = SimClock()
    emulator = ExpensifyEmulator(clock=clock.utc)
    emulator.add_account(CREDS.partner_user_id, SECRET, email="owner@acme.test")
    statuses: list[int] = []
    arrivals = iter([0.9] + [0.01] * 1000)

    def network(request: httpx.Request) -> httpx.Response:
        clock.sleep(next(arrivals))  # in flight: the server counts the request on arrival
        response = emulator(request)
        statuses.append(response.status_code)
        clock.sleep(0.02)  # the answer travels back
        return response

    if limiter_margin is None:
        limiter: RateLimiter = RateLimiter(clock=clock, sleep=clock.sleep)  # defaults
    else:
        limiter = LegacyLimiter(clock=clock, sleep=clock.sleep, margin=limiter_margin)
    options = ClientOptions(limits=limiter, sleep=clock.sleep, jitter=lambda: 0.0)
    server = LoopbackServer(network)
    server.start()
    try:
        with ExpensifyClient(credentials=CREDS, base_url=server.url, options=options) as client:
            for _ in range(calls):
                client.get_policy_list()
    finally:
        server.stop()
    return statuses


class TestRateLimitMargin:
    def test_a_dozen_calls_over_loopback_draw_no_429(self):
        """Default options: 12 consecutive calls, the first one slow to arrive, zero 429s."""
        statuses = _loopback_run(None)
        assert statuses == [200] * 12

    def test_the_old_limiter_would_draw_429s(self):
        """Control: spacing send times by exactly the period does draw 429s here."""
        statuses = _loopback_run(0.0)
        assert 429 in statuses
        assert statuses.count(200) == 12  # the retry layer got every call through

    def test_the_demo_budget_of_twenty_five_calls(self):
        """Past the 60-second window too (25 calls): still no 429."""
        assert _loopback_run(None, calls=25) == [200] * 25


class TestFileNotFound:
    def test_raised_within_two_requests(self):
        """A name that never existed: FileNotFoundOnServerError after the second answer."""
        app = App(text('{"responseMessage":"File not found"}'))
        client, clock = make_client(app)
        with pytest.raises(FileNotFoundOnServerError) as info:
            client.download("exportNOPE.json", max_polls=12, poll_interval=5.0)
        assert len(app.requests) == 2
        assert clock.sleeps == [5.0]
        assert info.value.file_name == "exportNOPE.json"
        assert not isinstance(info.value, FileNotReadyError)
        assert not info.value.retryable

    def test_one_not_found_then_the_file(self):
        """A single "File not found" (file not registered yet) is given one more poll."""
        app = App(text('{"responseMessage":"File not found"}'), text(b"[1]"))
        client, _ = make_client(app)
        assert client.download("export1.json", max_polls=5, poll_interval=1.0) == b"[1]"

    def test_single_poll_budget_raises_at_once(self):
        app = App(text('{"responseMessage":"File not found"}'))
        client, _ = make_client(app)
        with pytest.raises(FileNotFoundOnServerError):
            client.download("export1.json", max_polls=1)
        assert len(app.requests) == 1

    def test_against_the_emulator(self):
        """The emulator's answer for an unknown file name is the same error."""
        emulator = ExpensifyEmulator()
        emulator.add_account(CREDS.partner_user_id, SECRET, email="owner@acme.test")
        options = ClientOptions(sleep=lambda s: None, limits=RateLimiter(sleep=lambda s: None))
        with (
            ExpensifyClient(
                credentials=CREDS, transport=emulator.transport(), options=options
            ) as client,
            pytest.raises(FileNotFoundOnServerError),
        ):
            client.download("exportdoesnotexist.json", poll_interval=0.0)


class TestApproverKeys:
    @pytest.mark.parametrize(
        ("keys", "approves_to", "over_limit"),
        [
            ({"forwardsTo": "f@x.test", "overLimitForwardsTo": "o@x.test"}, "f@x.test", "o@x.test"),
            ({"approvesTo": "f@x.test", "overLimitApprover": "o@x.test"}, "f@x.test", "o@x.test"),
            ({"approvesTo": "f@x.test", "limitApprover": "o@x.test"}, "f@x.test", "o@x.test"),
            ({"forwardsTo": "", "approvesTo": "f@x.test"}, "f@x.test", None),
            ({}, None, None),
        ],
    )
    def test_getter_and_updater_names(self, keys, approves_to, over_limit):
        body = {"policyInfo": {"P1": {"employees": [{"email": "a@x.test", **keys}]}}}
        (employee,) = parse_policies(body, ("P1",))["P1"].employees
        assert (employee.approves_to, employee.over_limit_approver) == (approves_to, over_limit)


class TestUnknownPolicy:
    @pytest.mark.parametrize(
        "reply",
        [
            envelope(200, policyInfo={}),
            envelope(404, "Policy not found: 'NOPE'"),
            envelope(410, "Policy 'NOPE' not found"),
            envelope(200, policyInfo={"P1": {}}),
        ],
        ids=["200-missing", "404", "410", "200-other-policy"],
    )
    def test_any_envelope_names_the_policy(self, reply):
        app = App(reply)
        client, _ = make_client(app)
        with pytest.raises(PolicyNotFoundError) as info:
            client.get_policies(["NOPE"])
        assert info.value.policy_ids == ("NOPE",)
        assert "'NOPE'" in str(info.value)
        assert isinstance(info.value, NotFoundError)

    def test_other_410s_stay_validation_errors(self):
        app = App(envelope(410, "Required parameter 'policyIDList' is missing"))
        client, _ = make_client(app, retry=RetryPolicy(attempts=1))
        with pytest.raises(ValidationError) as info:
            client.get_policies(["P1"])
        assert not isinstance(info.value, PolicyNotFoundError)

    def test_update_of_unknown_policy(self):
        app = App(envelope(404, "Policy not found: 'NOPE'"))
        client, _ = make_client(app)
        with pytest.raises(PolicyNotFoundError, match="NOPE"):
            client.update_policy("NOPE", categories=[])

    def test_against_the_emulator(self):
        emulator = ExpensifyEmulator()
        emulator.add_account(CREDS.partner_user_id, SECRET, email="owner@acme.test")
        options = ClientOptions(sleep=lambda s: None, limits=RateLimiter(sleep=lambda s: None))
        with ExpensifyClient(
            credentials=CREDS, transport=emulator.transport(), options=options
        ) as client:
            with pytest.raises(PolicyNotFoundError, match="NOPE"):
                client.get_policies(["NOPE"], ["categories"])
            with pytest.raises(PolicyNotFoundError, match="NOPE"):
                client.update_policy("NOPE", categories=[])


class TestAsciiJson:
    def test_every_json_field_is_ascii(self):
        """requestJobDescription and the employee feed carry non-ASCII as \\u escapes."""
        app = App(envelope(200, updatedEmployeesCount=1))
        client, _ = make_client(app)
        record = EmployeeRecord(
            employee_email="zoe@acme.test",
            manager_email="boss@acme.test",
            employee_id="E1",
            policy_id="P1",
            first_name="Zoë",
            last_name="Łukasz 😀",
        )
        client.update_employees([record])
        raw = app.requests[0].content
        form = parse_qs(raw.decode("ascii"), strict_parsing=True)
        for name in ("requestJobDescription", "data"):
            (value,) = form[name]
            assert value.isascii(), name
        (feed,) = json.loads(form["data"][0])
        assert (feed["firstName"], feed["lastName"]) == ("Zoë", "Łukasz 😀")
        assert "\\u00eb" in form["data"][0]
