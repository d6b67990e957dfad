"""Fault injection and the licence ceiling of the emulator (raw httpx, injected clock/sleep)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from acumatica_client.emulator import AcumaticaEmulator

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


class TestLicence:
    """Requests per minute (sliding window on the clock) and concurrent requests."""

    def test_requests_per_minute_answer_429_with_retry_after_until_the_window_slides(
        self,
    ) -> None:
        clock = Clock()
        _emu, client = tenant(clock=clock, requests_per_minute=3)  # the login counted once
        assert client.get(f"{BASE}/Account").status_code == 200
        clock.now += timedelta(seconds=20)
        assert client.get(f"{BASE}/Account").status_code == 200
        refused = client.get(f"{BASE}/Account")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "40"  # the login leaves the window at 60 s
        assert "license" in refused.json()["message"]
        clock.now += timedelta(seconds=40)
        assert client.get(f"{BASE}/Account").status_code == 200

    def test_max_concurrent_refuses_a_request_while_another_is_in_flight(self) -> None:
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
        with httpx.Client(transport=emu.transport(), cookies=client.cookies) as other:
            crowded = other.get(f"{BASE}/Account")
        release.set()
        worker.join(timeout=10)
        assert crowded.status_code == 429
        assert crowded.headers["Retry-After"] == "1"
        assert results == [200]
        assert client.get(f"{BASE}/Account").status_code == 200
