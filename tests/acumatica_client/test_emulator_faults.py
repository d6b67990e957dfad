"""Fault injection and the licence ceiling of the emulator (raw httpx, injected clock/sleep)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from acumatica_client.emulator import LICENCE_DECLINED_TEXT, AcumaticaEmulator

HOST = "https://erp.test"
BASE = f"{HOST}/entity/Default/24.200.001"
BILL = {"Vendor": {"value": "V1"}, "VendorRef": {"value": "INV-1"},
        "Details": [{"Account": {"value": "61000"}, "ExtendedCost": {"value": 5}}]}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def tenant(**kw: object) -> tuple[AcumaticaEmulator, httpx.Client]:
    emu = AcumaticaEmulator(**kw)  # type: ignore[arg-type]
    emu.seed_accounts("61000")
    emu.seed_vendors("V1")
    client = httpx.Client(transport=emu.transport())
    login = client.post(f"{HOST}/entity/auth/login",
                        json={"name": "admin", "password": "admin-password"})  # fmt: skip
    assert login.status_code == 204
    return emu, client


class TestFaults:
    """``inject()``: the next N matching calls fail in the chosen way."""

    def test_status_fault_with_retry_after_applies_times_then_clears(self) -> None:
        emu, client = tenant()
        emu.inject(method="GET", path="/Account", status=429, retry_after=2.5, times=2)
        first, second, third = (client.get(f"{BASE}/Account") for _ in range(3))
        assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
        assert first.headers["Retry-After"] == "2.5"
        assert emu.faults.pending == 0

    @pytest.mark.parametrize(("status", "key"), [(401, "message"), (500, "exceptionMessage"),
                                                  (503, "exceptionType")])  # fmt: skip
    def test_injected_statuses_use_the_real_error_bodies(self, status: int, key: str) -> None:
        emu, client = tenant()
        emu.inject(status=status)
        answer = client.get(f"{BASE}/Account")
        assert answer.status_code == status
        assert key in answer.json()

    def test_matching_by_method_and_by_substring_or_regex(self) -> None:
        emu, client = tenant()
        emu.inject(method="PUT", status=500)
        emu.inject(path=r"/Vendor/V\d$", status=500)
        assert client.get(f"{BASE}/Account").status_code == 200  # neither matches
        assert client.get(f"{BASE}/Vendor/V1").status_code == 500  # regex
        assert client.put(f"{BASE}/Account", json={"AccountCD": {"value": "1"}}).status_code == 500
        emu.inject(path="Account(", status=500)  # not a regex: used as a substring
        assert client.get(f"{BASE}/Account(x)").status_code == 500

    def test_clear_faults_drops_everything_pending(self) -> None:
        emu, client = tenant()
        emu.inject(status=500, times=5)
        emu.clear_faults()
        assert client.get(f"{BASE}/Account").status_code == 200

    def test_delay_goes_through_the_injected_sleep(self) -> None:
        slept: list[float] = []
        emu, client = tenant(sleep=slept.append)
        emu.inject(path="/Account", delay=3.0)
        assert client.get(f"{BASE}/Account").status_code == 200
        assert slept == [3.0]

    def test_drop_response_applies_the_write_and_loses_the_answer(self) -> None:
        emu, client = tenant(hold_on_entry=False)
        emu.inject(method="PUT", path="/Bill$", drop_response=True)
        with pytest.raises(httpx.ReadTimeout):
            client.put(f"{BASE}/Bill", json=BILL)
        assert [b["ReferenceNbr"] for b in emu.records("Bill")] == ["000001"]
        assert emu.request_log[-1] == ("PUT", "/entity/Default/24.200.001/Bill", 0)
        retried = client.put(f"{BASE}/Bill", json=BILL)  # a blind retry duplicates the bill
        assert retried.json()["ReferenceNbr"] == {"value": "000002"}
        assert len(emu.records("Bill")) == 2

    @pytest.mark.parametrize(
        "kwargs", [{"status": 200}, {"times": 0, "status": 500}, {"method": "GET"}]
    )
    def test_meaningless_faults_are_refused(self, kwargs: dict[str, object]) -> None:
        emu, _ = tenant()
        with pytest.raises(ValueError):
            emu.inject(**kwargs)  # type: ignore[arg-type]


class SteppingClock:
    """The emulator's clock and sleep in one: sleeping advances the clock (no real wait)."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
        self.advance = advance
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.advance:
            self.now += timedelta(seconds=seconds)


def declined(answer: httpx.Response) -> None:
    """The licence queue's refusal: 429, plain text, no ``Retry-After`` (§2.4)."""
    assert answer.status_code == 429
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert "Retry-After" not in answer.headers
    assert answer.text == LICENCE_DECLINED_TEXT


class TestLicence:
    """The licence queue delays on the emulator's clock; it declines only past its limits."""

    def test_under_half_the_limit_nothing_is_delayed(self) -> None:
        clock = SteppingClock()
        emu, client = tenant(clock=clock, sleep=clock.sleep, requests_per_minute=10)
        codes = [client.get(f"{BASE}/Account").status_code for _ in range(4)]  # + login = 5
        assert codes == [200] * 4
        assert clock.slept == []
        assert emu.licence_stats == {"delayed": 0, "declined": 0}

    def test_past_half_the_limit_each_request_waits_the_guides_delay(self) -> None:
        clock = SteppingClock()
        emu, client = tenant(clock=clock, sleep=clock.sleep, requests_per_minute=50)
        for _ in range(24):  # with the login: 25 requests at 08:00:00, half the limit
            assert client.get(f"{BASE}/Account").status_code == 200
        clock.now += timedelta(seconds=40)  # 20 s left in the window, 25 still allowed
        assert client.get(f"{BASE}/Account").status_code == 200
        assert clock.slept == [pytest.approx(0.8)]  # the guide's worked example
        assert client.get(f"{BASE}/Account").status_code == 200
        assert clock.slept[1] == pytest.approx((20 - 0.8) / 24)
        assert emu.licence_stats == {"delayed": 2, "declined": 0}

    def test_a_full_window_waits_for_the_next_one_and_never_answers_429(self) -> None:
        clock = SteppingClock()
        emu, client = tenant(clock=clock, sleep=clock.sleep, requests_per_minute=4)
        codes = [client.get(f"{BASE}/Account").status_code for _ in range(11)]
        assert codes == [200] * 11
        assert emu.licence_stats["declined"] == 0
        assert sum(clock.slept) > 60  # 12 requests at 4/min need more than one minute
        assert all(wait <= 60 for wait in clock.slept)

    def test_more_than_twenty_queued_requests_are_declined_without_retry_after(self) -> None:
        clock = SteppingClock(advance=False)  # nobody's wait ends: the queue only grows
        emu, client = tenant(
            clock=clock, sleep=clock.sleep, requests_per_minute=1000, max_queue_wait=1e9
        )
        for _ in range(499):  # with the login: 500 requests, half the limit
            client.get(f"{BASE}/Account")
        queued = [client.get(f"{BASE}/Account").status_code for _ in range(20)]
        assert queued == [200] * 20  # 20 delayed requests are queued
        declined(client.get(f"{BASE}/Account"))  # the 21st is declined
        assert emu.licence_stats == {"delayed": 20, "declined": 1}

    def test_a_request_that_would_wait_over_ten_minutes_is_declined(self) -> None:
        clock = SteppingClock(advance=False)  # every delayed request is still queued
        emu, client = tenant(clock=clock, sleep=clock.sleep, requests_per_minute=1)
        codes = [client.get(f"{BASE}/Account").status_code for _ in range(11)]
        # after the login, each request starts one window (60 s) after the previous one:
        # the 10th waits exactly 600 s (allowed), the 11th would wait 660 s
        assert codes == [200] * 10 + [429]
        assert clock.slept == [pytest.approx(60.0 * n) for n in range(1, 11)]
        assert emu.licence_stats == {"delayed": 10, "declined": 1}  # 10 queued < 20

    def test_sign_out_skips_the_queue(self) -> None:
        clock = SteppingClock(advance=False)
        _emu, client = tenant(clock=clock, sleep=clock.sleep, requests_per_minute=2)
        while client.get(f"{BASE}/Account").status_code != 429:
            pass
        assert client.post(f"{HOST}/entity/auth/logout", content=b"").status_code == 204

    def test_declined_requests_do_not_count(self) -> None:
        clock = SteppingClock(advance=False)
        emu, client = tenant(clock=clock, sleep=clock.sleep, requests_per_minute=2)
        while client.get(f"{BASE}/Account").status_code != 429:
            pass
        slept = len(clock.slept)
        for _ in range(5):
            declined(client.get(f"{BASE}/Account"))
        assert len(clock.slept) == slept  # nothing queued for them
        assert emu.licence_stats["declined"] == 6

    def test_extra_concurrent_requests_wait_for_a_slot_instead_of_failing(self) -> None:
        entered, release = threading.Event(), threading.Event()

        def blocking_sleep(_: float) -> None:
            entered.set()
            release.wait(timeout=10)

        emu, client = tenant(max_concurrent=1, sleep=blocking_sleep)
        emu.inject(path="/Vendor", delay=1.0)
        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(
            client.get(f"{BASE}/Vendor").status_code))  # fmt: skip
        worker.start()
        assert entered.wait(timeout=10)
        waiting: list[int] = []
        with httpx.Client(transport=emu.transport(), cookies=client.cookies) as other:
            second = threading.Thread(target=lambda: waiting.append(
                other.get(f"{BASE}/Account").status_code))  # fmt: skip
            second.start()
            second.join(timeout=0.2)
            assert waiting == []  # queued behind the slow request, not refused
            release.set()
            worker.join(timeout=10)
            second.join(timeout=10)
        assert results == [200]
        assert waiting == [200]
        assert emu.licence_stats["declined"] == 0

    def test_more_than_twenty_waiting_for_a_slot_are_declined(self) -> None:
        entered, release = threading.Event(), threading.Event()

        def blocking_sleep(_: float) -> None:
            entered.set()
            release.wait(timeout=30)

        emu, client = tenant(max_concurrent=1, sleep=blocking_sleep, queue_limit=3)
        emu.inject(path="/Vendor", delay=1.0)
        threads = [threading.Thread(target=client.get, args=(f"{BASE}/Vendor",))]
        threads[0].start()
        assert entered.wait(timeout=10)
        for _ in range(3):
            threads.append(threading.Thread(target=client.get, args=(f"{BASE}/Account",)))
            threads[-1].start()
        for _ in range(1000):  # until all three are queued for the slot (bounded)
            if emu._waiting_for_slot == 3:
                break
            threading.Event().wait(0.01)
        assert emu._waiting_for_slot == 3
        declined(client.get(f"{BASE}/Account"))
        release.set()
        for thread in threads:
            thread.join(timeout=10)
        assert emu.licence_stats["declined"] == 1


class TestNastyAnswers:
    """``inject`` plays the real service's specific failures in their real bodies."""

    def test_an_injected_429_is_the_plain_text_licence_refusal(self) -> None:
        emu, client = tenant()
        emu.inject(status=429)
        declined(client.get(f"{BASE}/Account"))

    def test_optimization_failure_body_has_no_exception_type(self) -> None:
        emu, client = tenant()
        text = "Optimization cannot be performed. The following fields cause the error: Details"
        emu.inject(method="GET", path="/Bill", status=500, exception_message=text)
        answer = client.get(f"{BASE}/Bill", params={"$expand": "Details"})
        assert answer.status_code == 500
        assert answer.json() == {"message": "An error has occurred.",
                                 "exceptionMessage": text, "stackTrace": None}  # fmt: skip

    def test_setup_not_entered_and_login_limit_bodies(self) -> None:
        emu, client = tenant()
        emu.inject(status=500, exception_type="PX.Data.PXSetupNotEnteredException",
                   exception_message="The required configuration data is not entered on "
                                     "the AP Preferences form.")  # fmt: skip
        setup = client.get(f"{BASE}/Bill").json()
        assert setup["exceptionType"] == "PX.Data.PXSetupNotEnteredException"
        assert "AP Preferences" in setup["exceptionMessage"]
        emu.inject(path="/identity/connect/token", status=500,
                   exception_message="API Login Limit")  # fmt: skip
        token = client.post(f"{HOST}/identity/connect/token", data={"grant_type": "password"})
        assert token.status_code == 500
        assert "API Login Limit" in token.text

    def test_raw_html_and_text_bodies(self) -> None:
        emu, client = tenant()
        emu.inject(status=502, text="<html><body>Bad Gateway</body></html>")
        emu.inject(status=503, text="Service Unavailable")
        html, text = client.get(f"{BASE}/Account"), client.get(f"{BASE}/Account")
        assert html.headers["Content-Type"].startswith("text/html")
        assert text.headers["Content-Type"].startswith("text/plain")
        assert text.text == "Service Unavailable"

    @pytest.mark.parametrize("kwargs", [{"text": "x"}, {"status": 500, "text": "x",
                                                          "exception_message": "y"}])  # fmt: skip
    def test_inconsistent_bodies_are_refused(self, kwargs: dict[str, object]) -> None:
        emu, _ = tenant()
        with pytest.raises(ValueError):
            emu.inject(**kwargs)  # type: ignore[arg-type]
