"""The emulator's entity rules over raw httpx: validation envelopes, numbering, timestamps.

Every body the emulator returns here is checked against the published schema of the
version it serves (both 23.200.001 and 24.200.001).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from acumatica_client.emulator import AcumaticaEmulator
from tests.reference import validate_entity

VERSIONS = ("23.200.001", "24.200.001")
HOST = "https://erp.test"


class Clock:
    """A settable clock for the emulator."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def tenant(version: str, clock: Clock | None = None, **kw: Any) -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version=version, clock=clock, hold_on_entry=False, **kw)
    emu.seed_accounts("61000", "62000", {"AccountCD": "69000", "Type": "Expense", "Active": False})
    emu.seed_subaccounts("000000")
    emu.seed_vendors("V1")
    emu.seed_employees("EMP01")
    emu.seed_projects({"ProjectID": "ACME", "Tasks": ["01"]})
    emu.seed_branches(["HQ"])
    return emu


def signed_in(emu: AcumaticaEmulator) -> httpx.Client:
    client = httpx.Client(
        transport=emu.transport(), base_url=f"{HOST}/entity/Default/{emu.version}"
    )
    login = {"name": "admin", "password": "admin-password"}
    answer = client.post(f"{HOST}/entity/auth/login", json=login)
    assert answer.status_code == 204
    return client


def w(value: Any) -> dict[str, Any]:
    return {"value": value}


def bill_line(account: str = "61000", cost: str = "10.50", **extra: Any) -> dict[str, Any]:
    return {"Account": w(account), "ExtendedCost": w(Decimal(cost)), **extra}


def bill(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Vendor": w("V1"), "VendorRef": w("INV-1"), "Details": list(lines), **extra}


def put(client: httpx.Client, entity: str, body: Any, **params: str) -> httpx.Response:
    from acumatica_client.emulator._wire import dumps

    return client.put(
        f"/{entity}", content=dumps(body), params=params,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestStrictInput:
    """Malformed bodies are refused with the 400 ``modelState`` envelope, nothing stored."""

    def test_unwrapped_value_unknown_field_and_wrong_type_are_all_reported(
        self, version: str
    ) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        body = {"Vendor": "V1", "Colour": w("red"), "Hold": w("yes"),
                "Details": [{"ExtendedCost": w("ten")}]}  # fmt: skip
        answer = put(client, "Bill", body)
        assert answer.status_code == 400
        state = answer.json()["modelState"]
        assert answer.json()["message"] == "The request is invalid."
        assert set(state) == {"Vendor", "Colour", "Hold", "Details[0].ExtendedCost"}
        assert "wrapped" in state["Vendor"][0]
        assert "Colour" in state["Colour"][0]
        assert emu.records("Bill") == []

    def test_a_decimal_sent_as_a_string_is_accepted_as_the_real_server_does(
        self, version: str
    ) -> None:
        client = signed_in(tenant(version))
        line = bill_line(Qty=w("2"), UnitCost=w("10.25"), ExtendedCost=w("20.50"))
        answer = put(client, "Bill", bill(line), **{"$expand": "Details"})
        assert answer.status_code == 200
        saved = json.loads(answer.content, parse_float=Decimal)  # exact, never via float
        assert saved["Details"][0]["UnitCost"] == {"value": Decimal("10.25")}
        assert saved["Amount"] == {"value": Decimal("20.50")}

    def test_a_decimal_string_that_is_not_a_number_is_refused(self, version: str) -> None:
        client = signed_in(tenant(version))
        answer = put(client, "Bill", bill(bill_line(UnitCost=w("ten"))))
        assert answer.status_code == 400
        assert any("UnitCost" in key for key in answer.json()["modelState"])

    def test_custom_fields_must_be_typed_custom_field_objects(self, version: str) -> None:
        client = signed_in(tenant(version))
        answer = put(client, "Bill", bill(bill_line(), custom={"Document": {"UsrX": "raw"}}))
        assert answer.status_code == 400
        assert "custom" in answer.json()["modelState"]

    def test_undocumented_query_option_is_refused(self, version: str) -> None:
        client = signed_in(tenant(version))
        answer = client.get("/Bill", params={"$orderby": "ReferenceNbr"})
        assert answer.status_code == 400
        assert "$orderby" in answer.json()["message"]

    def test_unknown_endpoint_version_and_name_are_404_pages(self, version: str) -> None:
        client = signed_in(tenant(version))
        for path in ("/entity/Default/20.200.001/Bill", f"/entity/Custom/{version}/Bill"):
            answer = client.get(f"{HOST}{path}")
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
        unknown_entity = client.get("/Widget")
        assert unknown_entity.status_code == 404
        assert unknown_entity.json()["message"]


class TestReferenceValidation:
    """Unknown references come back as the entity echoed with every field's ``error``."""

    def test_all_bill_errors_arrive_in_one_422_including_detail_rows(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        body = {
            "Vendor": w("NOPE"), "VendorRef": w("INV-9"), "BranchID": w("XX"),
            "Details": [
                bill_line(),
                bill_line("99999", Subaccount=w("BAD"), Project=w("GHOST")),
                bill_line("69000", Project=w("ACME"), ProjectTask=w("77")),
            ],
        }  # fmt: skip
        answer = put(client, "Bill", body)
        assert answer.status_code == 422
        echo = answer.json()
        validate_entity(version, "Bill", echo)
        # the real summary: a double space, and no field message (those sit on the fields)
        assert echo["error"] == (
            "Inserting  'AP Invoice' record raised at least one error. Please review the errors."
        )
        assert echo["ReferenceNbr"] == {"value": "<NEW>"}  # not numbered yet
        assert echo["Description"] == {}  # every field, as any answer
        assert all(uuid.UUID(row["id"]) for row in echo["Details"])
        assert echo["Vendor"] == {"value": "NOPE", "error": echo["Vendor"]["error"]}
        assert "NOPE" in echo["Vendor"]["error"]
        assert "XX" in echo["BranchID"]["error"]
        first, second, third = echo["Details"]
        assert all("error" not in v for v in first.values() if isinstance(v, dict))
        assert {k for k, v in second.items() if isinstance(v, dict) and "error" in v} == {
            "Account", "Subaccount", "Project"
        }  # fmt: skip
        assert "inactive" in third["Account"]["error"]
        assert "77" in third["ProjectTask"]["error"]
        assert emu.records("Bill") == []

    def test_unbalanced_journal_is_refused_and_balanced_one_is_numbered(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        lines = [
            {"Account": w("61000"), "DebitAmount": w(Decimal("100.10"))},
            {"Account": w("62000"), "CreditAmount": w(Decimal("100.01"))},
        ]
        refused = put(client, "JournalTransaction", {"Details": lines})
        assert refused.status_code == 422
        validate_entity(version, "JournalTransaction", refused.json())
        assert "out of balance" in refused.json()["error"]
        lines[1]["CreditAmount"] = w(Decimal("100.10"))
        saved = put(client, "JournalTransaction", {"Details": lines}, **{"$expand": "Details"})
        assert saved.status_code == 200
        body = saved.json()
        validate_entity(version, "JournalTransaction", body)
        assert body["BatchNbr"] == {"value": "000001"}
        assert body["Module"] == {"value": "GL"}
        assert [d["LineNbr"]["value"] for d in body["Details"]] == [1, 2]

    def test_duplicate_vendor_ref_is_an_error_on_vendor_ref_only_when_configured(
        self, version: str
    ) -> None:
        lenient = signed_in(tenant(version))
        assert put(lenient, "Bill", bill(bill_line())).status_code == 200
        assert put(lenient, "Bill", bill(bill_line())).status_code == 200
        strict_emu = tenant(version, reject_duplicate_vendor_ref=True)
        strict = signed_in(strict_emu)
        assert put(strict, "Bill", bill(bill_line())).status_code == 200
        twin = put(strict, "Bill", bill(bill_line()))
        assert twin.status_code == 500  # realistic: found at save time (§4.2)
        assert twin.json()["exceptionType"] == (
            "PX.Api.ContractBased.OutcomeEntityHasErrorsException"
        )
        assert "000001" in twin.json()["exceptionMessage"]
        assert len(strict_emu.records("Bill")) == 1
        echo_emu = tenant(version, reject_duplicate_vendor_ref=True, save_time_rejection=False)
        echo = signed_in(echo_emu)
        assert put(echo, "Bill", bill(bill_line())).status_code == 200
        refused = put(echo, "Bill", bill(bill_line()))
        assert refused.status_code == 422
        assert "000001" in refused.json()["VendorRef"]["error"]

    def test_a_record_without_its_key_is_refused(self, version: str) -> None:
        client = signed_in(tenant(version))
        answer = put(client, "Account", {"Description": w("no code")})
        assert answer.status_code == 422
        assert "AccountCD" in answer.json()
        validate_entity(version, "Account", answer.json())


class TestWrites:
    """Numbering, computed amounts, timestamps and create-or-update semantics."""

    def test_bills_are_numbered_and_amounts_computed_from_details(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        numbers = []
        for ref in ("A", "B", "C"):
            body = bill(bill_line(cost="1.10"), bill_line(cost="2.25"), VendorRef=w(ref))
            answer = put(client, "Bill", body)
            assert answer.status_code == 200
            validate_entity(version, "Bill", answer.json())
            numbers.append(answer.json()["ReferenceNbr"]["value"])
            assert answer.json()["Amount"] == {"value": 3.35}
            assert "Details" not in answer.json()  # not expanded
        assert numbers == ["000001", "000002", "000003"]
        assert [r["Amount"] for r in emu.records("Bill")] == [Decimal("3.35")] * 3

    def test_hold_defaults_to_the_tenant_setting(self, version: str) -> None:
        emu = tenant(version)
        emu_hold = AcumaticaEmulator(version=version)
        emu_hold.seed("Account", emu.records("Account"))
        emu_hold.seed("Vendor", emu.records("Vendor"))
        held = signed_in(emu_hold)
        answer = put(held, "Bill", bill(bill_line()))
        assert answer.json()["Hold"] == {"value": True}
        assert answer.json()["Status"] == {"value": "On Hold"}
        open_ = put(signed_in(emu), "Bill", bill(bill_line()))
        assert open_.json()["Status"] == {"value": "Balanced"}

    def test_last_modified_follows_the_injected_clock_on_every_write(self, version: str) -> None:
        clock = Clock()
        emu = tenant(version, clock)
        client = signed_in(emu)
        created = put(client, "Bill", bill(bill_line())).json()
        assert datetime.fromisoformat(created["LastModifiedDateTime"]["value"]) == clock.now
        clock.now += timedelta(minutes=9)  # within the 10-minute session timeout
        update = {"id": created["id"], "Description": w("changed")}
        updated = put(client, "Bill", update).json()
        assert updated["ReferenceNbr"] == created["ReferenceNbr"]
        assert datetime.fromisoformat(updated["LastModifiedDateTime"]["value"]) == clock.now
        assert len(emu.records("Bill")) == 1

    def test_put_by_keys_updates_and_detail_rows_merge_by_id(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        first = put(client, "Bill", bill(bill_line()), **{"$expand": "Details"}).json()
        row_id = first["Details"][0]["id"]
        change = {"Type": w("Bill"), "ReferenceNbr": first["ReferenceNbr"],
                  "Details": [{"id": row_id, "ExtendedCost": w(Decimal("4.00"))},
                              bill_line(cost="1.00")]}  # fmt: skip
        again = put(client, "Bill", change, **{"$expand": "Details"}).json()
        validate_entity(version, "Bill", again)
        assert [d["ExtendedCost"]["value"] for d in again["Details"]] == [4, 1]
        assert again["Amount"] == {"value": 5}

    def test_if_none_match_and_if_match_preconditions_answer_412(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        body = {"AccountCD": w("70000"), "Type": w("Expense")}
        from acumatica_client.emulator._wire import dumps

        def send(header: str) -> httpx.Response:
            return client.put("/Account", content=dumps(body), headers={header: "*"})

        assert send("If-Match").status_code == 412  # update demanded, nothing to update
        assert send("If-None-Match").status_code == 200  # insert
        refused = send("If-None-Match")  # insert demanded, the record exists
        assert refused.status_code == 412
        assert set(refused.json()) >= {"message", "exceptionMessage", "exceptionType"}
        assert send("If-Match").status_code == 200
        assert [r["AccountCD"] for r in emu.records("Account")].count("70000") == 1

    def test_put_with_an_unknown_id_is_not_an_insert(self, version: str) -> None:
        client = signed_in(tenant(version))
        ghost = {"id": "7d3d3b8e-8c1e-4d8f-9e0b-6c0f2d1e2a11", "Description": w("x")}
        answer = put(client, "Bill", ghost)
        assert answer.status_code == 500
        assert answer.json()["exceptionType"].endswith("NoEntitySatisfiesTheConditionException")

    def test_custom_fields_are_stored_and_returned_only_when_requested(self, version: str) -> None:
        client = signed_in(tenant(version))
        custom = {"Document": {"UsrExpensifyID": {"type": "CustomStringField", "value": "R1"}}}
        saved = put(client, "Bill", bill(bill_line(), custom=custom)).json()
        assert saved["custom"] == {}
        ref = saved["ReferenceNbr"]["value"]
        plain = client.get(f"/Bill/Bill/{ref}").json()
        asked = client.get(f"/Bill/Bill/{ref}", params={"$custom": "Document.UsrExpensifyID"})
        assert plain["custom"] == {}
        assert asked.json()["custom"] == custom
        validate_entity(version, "Bill", asked.json())
        assert client.get("/Bill", params={"$custom": "NoDot"}).status_code == 400

    def test_delete_by_keys_and_by_id(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        one = put(client, "Bill", bill(bill_line(), VendorRef=w("1"))).json()
        two = put(client, "Bill", bill(bill_line(), VendorRef=w("2"))).json()
        assert client.delete(f"/Bill/Bill/{one['ReferenceNbr']['value']}").status_code == 204
        assert client.delete(f"/Bill/{two['id']}").status_code == 204
        assert emu.records("Bill") == []
        missing = client.get(f"/Bill/{two['id']}")
        assert missing.status_code == 500
        assert missing.json()["exceptionMessage"] == "No entity satisfies the condition."
        assert client.get("/Bill/Bill").status_code == 400  # one key of two

    def test_expense_claims_validate_the_claimant_and_total_their_lines(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_expense_items("TRAVEL")
        client = signed_in(emu)
        line = {"ExpenseItemID": w("TRAVEL"), "Description": w("Taxi"),
                "ExpenseAccount": w("61000"), "Amount": w(Decimal("12.30")),
                "ProjectID": w("ACME"), "ProjectTaskID": w("01")}  # fmt: skip
        claim = {"ClaimedBy": w("NOBODY"), "Details": [{**line, "ProjectTaskID": w("99")}]}
        bad = put(client, "ExpenseClaim", claim)
        assert bad.status_code == 422
        assert set(bad.json()["Details"][0]["ProjectTaskID"]) == {"value", "error"}
        assert "NOBODY" in bad.json()["ClaimedBy"]["error"]
        good = put(client, "ExpenseClaim", {"ClaimedBy": w("EMP01"), "Details": [line, line]},
                   **{"$expand": "Details"})  # fmt: skip
        assert good.status_code == 200
        body = good.json()
        validate_entity(version, "ExpenseClaim", body)
        assert body["RefNbr"] == {"value": "000001"}
        assert body["ClaimTotal"] == {"value": 24.6}
        assert body["Status"] == {"value": "On Hold"}


def test_seeds_are_checked_against_the_version_schema() -> None:
    emu = AcumaticaEmulator(version="23.200.001")
    with pytest.raises(ValueError, match="Colour"):
        emu.seed("Vendor", [{"VendorID": "V1", "Colour": "red"}])
    with pytest.raises(ValueError, match="Active"):
        emu.seed_accounts({"AccountCD": "1", "Active": "yes"})
    assert emu.records("Vendor") == []
