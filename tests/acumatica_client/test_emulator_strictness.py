"""The Acumatica emulator with raw httpx: strict input, real error shapes, control plane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from acumatica_client.emulator import AcumaticaEmulator
from tests.reference import validate_entity

VERSION = "24.200.001"
BASE = f"https://erp.test/entity/Default/{VERSION}"


@pytest.fixture
def emu() -> AcumaticaEmulator:
    emulator = AcumaticaEmulator(version=VERSION, api_seats=1, reject_duplicate_vendor_ref=True)
    emulator.seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True}])
    emulator.seed("Vendor", [{"VendorID": "V1", "Status": "Active",
                              "MainContact": {"Email": "v1@x.test"}}])  # fmt: skip
    return emulator


def session(emu: AcumaticaEmulator) -> httpx.Client:
    client = httpx.Client(transport=emu.transport())
    login = client.post("https://erp.test/entity/auth/login",
                        json={"name": "admin", "password": "admin-password"})  # fmt: skip
    assert login.status_code == 204
    return client


def bill(ref: str, **extra: Any) -> dict[str, Any]:
    return {
        "Vendor": {"value": "V1"},
        "VendorRef": {"value": ref},
        "Details": [{"Account": {"value": "61000"}, "ExtendedCost": {"value": 10.5}}],
        **extra,
    }


def test_unwrapped_values_and_unknown_fields_are_rejected_with_model_state(
    emu: AcumaticaEmulator,
) -> None:
    client = session(emu)
    answer = client.put(f"{BASE}/Bill", json={"Vendor": "V1", "Bogus": {"value": 1}})
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"] == "The request is invalid."
    assert set(body["modelState"]) == {"Vendor", "Bogus"}
    assert emu.records("Bill") == []


def test_field_of_another_version_is_unknown() -> None:
    emu = AcumaticaEmulator(version="23.200.001")
    client = session(emu)
    line = {"Account": {"value": "61000"}, "LCType": {"value": "X"}}  # 24.200.001 only
    answer = client.put("https://erp.test/entity/Default/23.200.001/Bill",
                        json={"Vendor": {"value": "V1"}, "Details": [line]})  # fmt: skip
    assert answer.status_code == 400
    assert "Details[0].LCType" in answer.json()["modelState"]


def test_duplicate_vendor_reference_is_refused_when_configured(emu: AcumaticaEmulator) -> None:
    client = session(emu)
    assert client.put(f"{BASE}/Bill", json=bill("INV-1")).status_code == 200
    twin = client.put(f"{BASE}/Bill", json=bill("INV-1"))
    assert twin.status_code == 500  # found when the bill is persisted (§4.2, §5.1)
    body = twin.json()
    assert body["exceptionType"] == "PX.Api.ContractBased.OutcomeEntityHasErrorsException"
    assert "Vendor Ref." in body["exceptionMessage"]
    assert len(emu.records("Bill")) == 1


def test_select_expand_top_skip_and_row_numbers(emu: AcumaticaEmulator) -> None:
    client = session(emu)
    for n in range(3):
        client.put(f"{BASE}/Bill", json=bill(f"INV-{n}"))
    plain = client.get(f"{BASE}/Bill", params={"$top": "2", "$skip": "1"}).json()
    assert [row["rowNumber"] for row in plain] == [2, 3]
    assert all("Details" not in row for row in plain)
    expanded = client.get(f"{BASE}/Bill", params={"$expand": "Details",
                                                  "$select": "VendorRef"}).json()  # fmt: skip
    assert all(len(row["Details"]) == 1 for row in expanded)
    assert all("Vendor" not in row for row in expanded)
    for row in plain + expanded:
        validate_entity(VERSION, "Bill", row)
    bad = client.get(f"{BASE}/Bill", params={"$expand": "Nope"})
    assert bad.status_code == 400


def test_api_seat_limit_and_logout_release(emu: AcumaticaEmulator) -> None:
    first = session(emu)
    second = httpx.Client(transport=emu.transport())
    refused = second.post("https://erp.test/entity/auth/login",
                          json={"name": "admin", "password": "admin-password"})  # fmt: skip
    assert refused.status_code == 429
    assert "API Login Limit" in refused.json()["message"]
    assert first.post("https://erp.test/entity/auth/logout").status_code == 204
    session(emu)  # the seat is free again


def test_unauthenticated_and_unknown_version(emu: AcumaticaEmulator) -> None:
    anonymous = httpx.Client(transport=emu.transport())
    assert anonymous.get(f"{BASE}/Bill").status_code == 401
    client = session(emu)
    other = client.get("https://erp.test/entity/Default/22.200.001/Bill")
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("text/html")


@pytest.fixture
def served(emu: AcumaticaEmulator) -> Iterator[str]:
    with emu.serve() as server:
        yield server.base_url


@pytest.mark.loopback
def test_control_plane_over_http(served: str, emu: AcumaticaEmulator) -> None:
    with (
        httpx.Client(base_url=f"{served}/_emulator") as control,
        httpx.Client(base_url=served) as client,
    ):
        seeded = control.post(
            "/seed/Project", content=json.dumps([{"ProjectID": "P1", "Status": "Active"}])
        )
        assert seeded.json() == {"seeded": 1}
        assert [r["ProjectID"] for r in control.get("/records/Project").json()] == ["P1"]
        fault = control.post("/faults", json={"method": "GET", "status": 503})
        assert fault.json() == {"pending": 1}
        client.post("/entity/auth/login", json={"name": "admin", "password": "admin-password"})
        assert client.get(f"/entity/Default/{VERSION}/Project").status_code == 503
        assert client.get(f"/entity/Default/{VERSION}/Project").status_code == 200
        log = control.get("/log").json()
        path = f"/entity/Default/{VERSION}/Project"
        assert [e[2] for e in log if e[1] == path] == [503, 200]
        assert control.post("/reset").json() == {"ok": True}
        assert control.get("/records/Project").json() == []
