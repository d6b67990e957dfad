"""The emulator answers as a real tenant does (issue 8, acumatica-api.md revised 2026-11-25).

Raw httpx against the emulator's transport (and its loopback server); every entity body
it returns is validated against the published OpenAPI schema of the version it serves.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acumatica_client._schema import ENTITY_FIELDS, KEY_FIELDS
from acumatica_client.emulator import (
    CONTROL_PREFIX,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_TENANT,
    DEFAULT_USERNAME,
    AcumaticaEmulator,
)
from tests.reference import acumatica_schema_document, entity_properties, validate_entity

VERSIONS = ("23.200.001", "24.200.001")
HOST = "https://erp.test"
NO_ENTITY = "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
OUTCOME = "PX.Api.ContractBased.OutcomeEntityHasErrorsException"
_SCALARS = {
    "StringValue", "DecimalValue", "BooleanValue", "IntValue", "ShortValue", "LongValue",
    "DateTimeValue", "GuidValue", "ByteValue", "DoubleValue",
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 30, 15, 433000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tenant(version: str = "24.200.001", **kw: Any) -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version=version, hold_on_entry=False, **kw)
    emu.seed_accounts("61000")
    emu.seed_vendors("V1")
    return emu


def signed_in(emu: AcumaticaEmulator) -> httpx.Client:
    client = httpx.Client(
        transport=emu.transport(), base_url=f"{HOST}/entity/Default/{emu.version}"
    )
    login = {"name": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
    assert client.post(f"{HOST}/entity/auth/login", json=login).status_code == 204
    return client


def w(value: Any) -> dict[str, Any]:
    return {"value": value}


def bill(ref: str = "INV-1", **extra: Any) -> dict[str, Any]:
    line = {"Account": w("61000"), "ExtendedCost": w(10.5)}
    return {"Vendor": w("V1"), "VendorRef": w(ref), "Details": [line], **extra}


def no_entity(answer: httpx.Response, status: int = 500) -> None:
    """The real service's answer for a missing record (§4.1 example, §4.2)."""
    assert answer.status_code == status
    assert answer.json() == {
        "message": "An error has occurred.",
        "exceptionMessage": "No entity satisfies the condition.",
        "exceptionType": NO_ENTITY,
        "stackTrace": None,
    }


class TestMissingRecords:
    def test_get_by_keys_of_a_missing_record_is_500_no_entity(self, version: str) -> None:
        client = signed_in(tenant(version))
        no_entity(client.get("/Bill/Bill/000404"))
        no_entity(client.get(f"/Bill/{uuid.uuid4()}"))
        no_entity(client.get("/Account/99999"))
        no_entity(client.delete("/Bill/Bill/000404"))
        keys = {"Type": w("Bill"), "ReferenceNbr": w("9")}
        action = client.post("/Bill/ReleaseBill", json={"entity": keys})
        no_entity(action)

    def test_the_list_of_nothing_is_an_empty_array_not_an_error(self) -> None:
        client = signed_in(tenant())
        answer = client.get("/Bill", params={"$filter": "VendorRef eq 'nope'"})
        assert answer.status_code == 200
        assert answer.json() == []

    def test_not_found_status_404_plays_the_older_assumption(self) -> None:
        client = signed_in(tenant(not_found_status=404))
        no_entity(client.get("/Bill/Bill/000404"), status=404)

    def test_only_500_or_404_are_offered(self) -> None:
        with pytest.raises(ValueError, match="not_found_status"):
            AcumaticaEmulator(not_found_status=410)


class TestSaveTimeRejection:
    def test_reject_saves_answers_500_outcome_and_stores_nothing(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        emu.reject_saves("Bill", "The financial period is closed.")
        answer = client.put("/Bill", json=bill())
        assert answer.status_code == 500
        body = answer.json()
        assert body["exceptionType"] == OUTCOME
        assert body["message"] == "An error has occurred."
        assert "The financial period is closed." in body["exceptionMessage"]
        assert emu.records("Bill") == []
        assert client.put("/Bill", json=bill()).status_code == 200  # times=1: used up

    def test_field_errors_still_come_as_a_422_echo_before_any_save(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        emu.reject_saves("Bill", "never reached")
        answer = client.put("/Bill", json=bill(Vendor=w("NOPE")))
        assert answer.status_code == 422
        assert "NOPE" in answer.json()["Vendor"]["error"]
        validate_entity("24.200.001", "Bill", answer.json())
        assert client.put("/Bill", json=bill()).status_code == 500  # still pending

    def test_echo_mode_turns_the_save_time_rejection_into_a_422(self) -> None:
        emu = tenant(save_time_rejection=False)
        client = signed_in(emu)
        emu.reject_saves("Bill", "Rejected by a customisation.", times=2)
        for _ in range(2):
            answer = client.put("/Bill", json=bill())
            assert answer.status_code == 422
            assert "Rejected by a customisation." in answer.json()["error"]
            validate_entity("24.200.001", "Bill", answer.json())
        assert emu.records("Bill") == []

    def test_reject_saves_over_the_http_control_plane(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        control = httpx.Client(transport=emu.transport(), base_url=f"{HOST}{CONTROL_PREFIX}")
        spec = {"entity": "Bill", "message": "Duplicate!", "times": 1}
        assert control.post("/reject_saves", json=spec).status_code == 200
        assert control.post("/reject_saves", json={"entity": "Bill"}).status_code == 400
        assert client.put("/Bill", json=bill()).json()["exceptionType"] == OUTCOME


class TestRendering:
    def test_every_field_is_present_and_an_unset_one_is_an_empty_object(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        saved = client.put("/Bill", json=bill(), params={"$expand": "Details"}).json()
        got = client.get(f"/Bill/Bill/{saved['ReferenceNbr']['value']}",
                         params={"$expand": "Details"}).json()  # fmt: skip
        for body in (saved, got):
            validate_entity(version, "Bill", body)
            published = entity_properties(version, "Bill")
            scalars = {k for k, v in ENTITY_FIELDS[version]["Bill"].items() if v in _SCALARS}
            assert scalars <= set(published)
            assert scalars <= set(body)  # every top-level field, set or not
            assert body["Description"] == {}  # never set: {} (not null, not omitted)
            assert body["DueDate"] == {}
            assert all(v != {"value": None} for v in body.values())
            assert body["note"] == {"value": ""}
            line = body["Details"][0]
            uuid.UUID(line["id"])  # a GUID on every detail line
            assert line["InventoryID"] == {}
            assert line["note"] == {"value": ""}
            assert line["rowNumber"] == 1

    def test_records_carry_links_that_lead_back_to_them(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        saved = client.put("/Bill", json=bill(), params={"$expand": "Details"}).json()
        base = f"/entity/Default/{version}"
        assert saved["_links"]["self"] == f"{base}/Bill/{saved['id']}"
        assert saved["_links"]["files:put"] == (
            f"{base}/files/PX.Objects.AP.APInvoiceEntry/Document/{saved['id']}/{{filename}}"
        )
        line = saved["Details"][0]
        assert line["_links"]["files:put"].endswith(f"/Transactions/{line['id']}/{{filename}}")
        again = client.get(f"{HOST}{saved['_links']['self']}").json()
        assert again["id"] == saved["id"]
        listed = client.get("/Vendor").json()
        assert all(row["_links"]["self"].endswith(f"/Vendor/{row['id']}") for row in listed)

    def test_a_note_is_returned_as_written(self) -> None:
        client = signed_in(tenant())
        saved = client.put("/Bill", json=bill(note=w("paid by card"))).json()
        assert saved["note"] == {"value": "paid by card"}

    @pytest.mark.parametrize("entity", sorted(set(KEY_FIELDS) - {"CompaniesStructure"}))
    def test_every_entity_renders_all_its_published_scalar_fields(
        self, version: str, entity: str
    ) -> None:
        emu = AcumaticaEmulator(version=version)
        row = dict.fromkeys(KEY_FIELDS[entity], "K1")
        emu.seed(entity, [row])
        client = signed_in(emu)
        body = client.get(f"/{entity}/" + "/".join(row.values())).json()
        validate_entity(version, entity, body)
        published = entity_properties(version, entity)
        table = ENTITY_FIELDS[version][entity]
        expected = {k for k, v in table.items() if v in _SCALARS}
        assert expected == {k for k in body if k in published and k in table}
        assert all(body[k] == {} for k in expected - set(KEY_FIELDS[entity]) - {
            "LastModifiedDateTime", "Status", "Active"})  # fmt: skip

    def test_date_times_carry_their_offset_and_milliseconds(self) -> None:
        clock = Clock()
        client = signed_in(tenant(clock=clock))
        saved = client.put("/Bill", json=bill(Date=w("2026-11-20T00:00:00"))).json()
        assert saved["Date"] == {"value": "2026-11-20T00:00:00+00:00"}
        assert saved["LastModifiedDateTime"] == {"value": "2026-11-20T09:30:15.433+00:00"}


class TestArchive:
    def archived_bill(self, version: str = "24.200.001", **kw: Any) -> tuple[
        AcumaticaEmulator, httpx.Client, str
    ]:  # fmt: skip
        emu = tenant(version, **kw)
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill("EXP-R1")).json()["ReferenceNbr"]["value"]
        emu.archive("Bill", "Bill", nbr)
        return emu, client, nbr

    def test_archived_records_are_invisible_without_the_header(self, version: str) -> None:
        emu, client, nbr = self.archived_bill(version)
        assert emu.is_archived("Bill", "Bill", nbr)
        no_entity(client.get(f"/Bill/Bill/{nbr}"))
        assert client.get("/Bill").json() == []
        probe = {"$filter": "Vendor eq 'V1' and VendorRef eq 'EXP-R1'"}
        assert client.get("/Bill", params=probe).json() == []

    def test_px_api_archive_show_reveals_them(self, version: str) -> None:
        _emu, client, nbr = self.archived_bill(version)
        show = {"PX-ApiArchive": "SHOW"}
        one = client.get(f"/Bill/Bill/{nbr}", headers=show)
        assert one.status_code == 200
        validate_entity(version, "Bill", one.json())
        probe = {"$filter": "Vendor eq 'V1' and VendorRef eq 'EXP-R1'"}
        found = client.get("/Bill", params=probe, headers=show).json()
        assert [row["ReferenceNbr"]["value"] for row in found] == [nbr]

    def test_a_blind_create_makes_a_duplicate_and_the_save_time_guard_still_sees_it(
        self,
    ) -> None:
        emu, client, _ = self.archived_bill()
        assert client.put("/Bill", json=bill("EXP-R1")).status_code == 200  # re-created
        assert len(emu.records("Bill")) == 2
        guarded, guarded_client, _ = self.archived_bill(reject_duplicate_vendor_ref=True)
        answer = guarded_client.put("/Bill", json=bill("EXP-R1"))
        assert answer.status_code == 500
        assert answer.json()["exceptionType"] == OUTCOME
        assert len(guarded.records("Bill")) == 1

    def test_an_archived_record_cannot_be_changed_or_released(self) -> None:
        _emu, client, nbr = self.archived_bill()
        keys = {"Type": w("Bill"), "ReferenceNbr": w(nbr)}
        change = client.put("/Bill", json={**keys, "Description": w("x")},
                            headers={"PX-ApiArchive": "SHOW"})  # fmt: skip
        assert change.status_code == 500
        assert "archived" in change.json()["exceptionMessage"]
        blind = client.put("/Bill", json={**keys, "Description": w("x")})
        assert blind.status_code == 500
        no_entity(client.post("/Bill/ReleaseBill", json={"entity": keys}))

    def test_archive_over_the_http_control_plane(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill()).json()["ReferenceNbr"]["value"]
        control = httpx.Client(transport=emu.transport(), base_url=f"{HOST}{CONTROL_PREFIX}")
        assert control.post(f"/archive/Bill/Bill/{nbr}").status_code == 200
        assert client.get("/Bill").json() == []
        assert control.delete(f"/archive/Bill/Bill/{nbr}").status_code == 200
        assert len(client.get("/Bill").json()) == 1
        assert control.post("/archive/Bill/Bill/999999").status_code == 404


class TestActions:
    def release(self, client: httpx.Client, nbr: str, key: str = "entity") -> httpx.Response:
        keys = {"Type": w("Bill"), "ReferenceNbr": w(nbr)}
        return client.post("/Bill/ReleaseBill", json={key: keys})

    def test_a_plain_get_eventually_shows_the_result_without_polling(self) -> None:
        emu = tenant(action_polls=2)
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill()).json()["ReferenceNbr"]["value"]
        started = self.release(client, nbr)
        assert started.status_code == 202
        statuses = [client.get(f"/Bill/Bill/{nbr}").json()["Status"]["value"] for _ in range(4)]
        assert statuses[0] == "Balanced"  # still running
        assert statuses[-1] == "Open"  # completed on its own
        done = client.get(f"{HOST}{started.headers['Location']}")
        assert done.status_code == 204  # the finished operation still answers
        assert done.headers["Location"].endswith(f"/Bill/Bill/{nbr}")

    def test_an_action_completes_when_its_time_has_passed(self) -> None:
        clock = Clock()
        emu = tenant(clock=clock, action_polls=100, action_seconds=3)
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill()).json()["ReferenceNbr"]["value"]
        assert self.release(client, nbr).status_code == 202
        assert client.get(f"/Bill/Bill/{nbr}").json()["Status"]["value"] == "Balanced"
        clock.now += timedelta(seconds=3)
        assert client.get(f"/Bill/Bill/{nbr}").json()["Status"]["value"] == "Open"

    def test_polling_still_answers_202_then_204(self) -> None:
        emu = tenant(action_polls=2)
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill()).json()["ReferenceNbr"]["value"]
        location = f"{HOST}{self.release(client, nbr).headers['Location']}"
        assert [client.get(location).status_code for _ in range(3)] == [202, 202, 204]

    def test_entity_may_be_capitalised_in_an_action_body(self) -> None:
        emu = tenant(action_polls=0)
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill()).json()["ReferenceNbr"]["value"]
        assert self.release(client, nbr, key="Entity").status_code == 202
        assert client.get(f"/Bill/Bill/{nbr}").json()["Status"]["value"] == "Open"
        bad = client.post("/Bill/ReleaseBill", json={"Entity": {}, "Extra": 1})
        assert bad.status_code == 400


class TestSwaggerAndAdHocSchema:
    def test_swagger_json_describes_the_served_entities_as_published(self, version: str) -> None:
        client = signed_in(tenant(version))
        answer = client.get("/swagger.json")
        assert answer.status_code == 200
        doc = answer.json()
        published = acumatica_schema_document(version)
        if version == "23.200.001":
            assert doc["swagger"] == "2.0"
            ours = doc["definitions"]
        else:
            assert doc["openapi"].startswith("3.0")
            ours = doc["components"]["schemas"]
        assert doc["info"] == published["info"]
        for type_name in ENTITY_FIELDS[version]:
            mine = ours[type_name]["allOf"][1]["properties"]
            assert set(mine) == set(ENTITY_FIELDS[version][type_name])
            real = entity_properties(version, type_name)
            for field, spec in mine.items():
                assert field in real
                assert spec == json.loads(json.dumps(real[field])), (type_name, field)
        for entity in KEY_FIELDS:
            for suffix in ("", "/{ids}", "/{id}", "/$adHocSchema", "/{ids}/files/{filename}"):
                assert f"/{entity}{suffix}" in doc["paths"]
                assert f"/{entity}{suffix}" in published["paths"]
        assert "/Bill/ReleaseBill" in doc["paths"]
        assert "/Bill/ReleaseBatch" not in doc["paths"]

    def test_ad_hoc_schema_lists_custom_fields_with_their_types(self, version: str) -> None:
        custom_fields = {"Bill": {"Document": {"UsrExpensifyID": "CustomStringField"}}}
        emu = tenant(version, custom_fields=custom_fields)
        client = signed_in(emu)
        stored = {"Transactions": {"UsrLine": {"type": "CustomIntField", "value": 3}}}
        assert client.put("/Bill", json=bill(custom=stored)).status_code == 200
        answer = client.get("/Bill/$adHocSchema")
        assert answer.status_code == 200
        body = answer.json()
        validate_entity(version, "Bill", body)
        assert body["custom"] == {
            "Document": {"UsrExpensifyID": {"type": "CustomStringField"}},
            "Transactions": {"UsrLine": {"type": "CustomIntField"}},
        }
        assert body["VendorRef"] == {}


class TestFiles:
    def test_put_file_attaches_and_expand_files_lists_it(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        nbr = client.put("/Bill", json=bill()).json()["ReferenceNbr"]["value"]
        put = client.put(f"/Bill/Bill/{nbr}/files/receipt.pdf", content=b"%PDF-1",
                         headers={"Content-Type": "application/octet-stream",
                                  "PX-CbFileComment": "Expensify receipt"})  # fmt: skip
        assert put.status_code == 204
        assert put.content == b""
        download = client.get(f"{HOST}{put.headers['Location']}")
        assert download.status_code == 200
        assert download.content == b"%PDF-1"
        body = client.get(f"/Bill/Bill/{nbr}", params={"$expand": "files"}).json()
        validate_entity(version, "Bill", body)
        [link] = body["files"]
        assert link["filename"] == "receipt.pdf"
        assert link["href"] == put.headers["Location"]
        if version >= "24.200.001":
            assert link["comment"] == "Expensify receipt"
        else:
            assert "comment" not in link  # FileLink.comment arrived in 24.200.001
        assert "files" not in client.get(f"/Bill/Bill/{nbr}").json()
        assert emu.files("Bill", "Bill", nbr) == {"receipt.pdf": b"%PDF-1"}

    def test_re_attaching_the_same_name_leaves_one_file(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        saved = client.put("/Bill", json=bill()).json()
        nbr = saved["ReferenceNbr"]["value"]
        for content in (b"one", b"two"):
            assert client.put(f"/Bill/Bill/{nbr}/files/r.jpg", content=content).status_code == 204
        link = saved["_links"]["files:put"].replace("{filename}", "other.jpg")
        assert client.put(f"{HOST}{link}", content=b"three").status_code == 204
        assert emu.files("Bill", saved["id"]) == {"r.jpg": b"two", "other.jpg": b"three"}
        listed = client.get(f"/Bill/{saved['id']}", params={"$expand": "files"}).json()["files"]
        assert sorted(f["filename"] for f in listed) == ["other.jpg", "r.jpg"]
        control = httpx.Client(transport=emu.transport(), base_url=f"{HOST}{CONTROL_PREFIX}")
        files = control.get(f"/files/Bill/Bill/{nbr}").json()
        assert files["r.jpg"]["size"] == 3

    def test_attaching_to_a_missing_record_is_no_entity(self) -> None:
        client = signed_in(tenant())
        no_entity(client.put("/Bill/Bill/000404/files/r.jpg", content=b"x"))


class TestLeniencyAndUnknownFields:
    def test_unknown_fields_are_refused_by_default(self) -> None:
        emu = tenant()
        answer = signed_in(emu).put("/Bill", json=bill(VendorReference=w("typo")))
        assert answer.status_code == 400
        assert "VendorReference" in answer.json()["modelState"]

    def test_silent_mode_loses_them_as_the_real_server_does(self) -> None:
        emu = tenant(silent_unknown_fields=True)
        answer = signed_in(emu).put("/Bill", json=bill(VendorReference=w("typo")))
        assert answer.status_code == 200
        assert "VendorReference" not in answer.json()
        [stored] = emu.records("Bill")
        assert "VendorReference" not in stored

    def test_decimal_strings_keep_their_exact_value(self) -> None:
        emu = tenant()
        line = {"Account": w("61000"), "Qty": w("3"), "UnitCost": w("0.10")}
        answer = signed_in(emu).put("/Bill", json=bill(Details=[line]))
        assert answer.status_code == 200
        assert emu.records("Bill")[0]["Amount"] == Decimal("0.30")


class TestRequestFiltering:
    def test_query_strings_over_2048_bytes_are_refused_as_iis_404_15(self) -> None:
        client = signed_in(tenant())

        def probe(length: int) -> httpx.Response:
            prefix = "$filter=VendorRef%20eq%20'"
            value = "x" * (length - len(prefix) - 1)
            return client.get(f"{HOST}/entity/Default/24.200.001/Bill?{prefix}{value}'")

        assert probe(2048).status_code == 200
        refused = probe(2049)
        assert refused.status_code == 404
        assert refused.headers["Content-Type"].startswith("text/html")
        assert "404.15" in refused.text
        assert "query string is too long" in refused.text

    def test_urls_over_4096_bytes_are_refused_as_iis_404_14(self) -> None:
        client = signed_in(tenant())
        refused = client.get("/Bill/Bill/" + "9" * 4100)
        assert refused.status_code == 404
        assert "404.14" in refused.text


class TestDefaultsAndLoopback:
    def test_default_credentials_are_public_constants(self) -> None:
        emu = AcumaticaEmulator()
        client = httpx.Client(transport=emu.transport())
        login = {"name": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD, "tenant": DEFAULT_TENANT}
        assert client.post(f"{HOST}/entity/auth/login", json=login).status_code == 204
        token = client.post(f"{HOST}/identity/connect/token", data={
            "grant_type": "password", "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET, "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD, "scope": "api"})  # fmt: skip
        assert token.status_code == 200
        assert DEFAULT_CLIENT_ID.endswith(f"@{DEFAULT_TENANT}")

    def test_the_loopback_server_exposes_base_url_and_url(self) -> None:
        emu = tenant()
        with emu.serve() as server:
            assert server.url == server.base_url
            assert server.base_url.startswith("http://127.0.0.1:")
            with httpx.Client(base_url=server.url, timeout=10) as client:
                login = {"name": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
                assert client.post("/entity/auth/login", json=login).status_code == 204
                answer = client.get("/entity/Default/24.200.001/Bill/Bill/000404")
                assert answer.status_code == 500
                assert answer.json()["exceptionType"] == NO_ENTITY
                long = client.get("/entity/Default/24.200.001/Bill", params={"x": "y" * 3000})
                assert long.status_code == 404


class TestEntityEcho:
    """422 bodies are the entity as the server holds it, in the §4.1 shape."""

    def test_a_line_error_echoes_the_whole_entity_with_the_real_summary(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        line = {"Account": w("61000"), "ExtendedCost": w(5), "Project": w("X1")}
        answer = client.put("/Bill", json=bill(Details=[line]))
        assert answer.status_code == 422
        echo = answer.json()
        validate_entity(version, "Bill", echo)
        assert echo["error"] == (
            "Inserting  'AP Transactions' record raised at least one error. "
            "Please review the errors."
        )
        assert echo["rowNumber"] == 1
        assert echo["ReferenceNbr"] == {"value": "<NEW>"}
        [row] = echo["Details"]
        uuid.UUID(row["id"])
        assert row["rowNumber"] == 1
        assert row["note"] == {"value": ""}
        assert row["InventoryID"] == {}
        assert row["Project"] == {"value": "X1", "error": row["Project"]["error"]}
        assert "X1" in row["Project"]["error"]

    def test_an_error_of_no_field_follows_the_summary(self) -> None:
        emu = AcumaticaEmulator(version="24.200.001")
        emu.seed_accounts("61000", "62000")
        client = signed_in(emu)
        lines = [{"Account": w("61000"), "DebitAmount": w(10)},
                 {"Account": w("62000"), "CreditAmount": w(9)}]  # fmt: skip
        answer = client.put("/JournalTransaction", json={"Details": lines})
        assert answer.status_code == 422
        echo = answer.json()
        validate_entity("24.200.001", "JournalTransaction", echo)
        assert echo["error"].startswith("Inserting  'Batch' record raised at least one error.")
        assert "out of balance" in echo["error"]
        assert echo["BatchNbr"] == {"value": "<NEW>"}

    def test_an_update_says_updating(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        saved = client.put("/Bill", json=bill()).json()
        keys = {"Type": saved["Type"], "ReferenceNbr": saved["ReferenceNbr"]}
        answer = client.put("/Bill", json={**keys, "Vendor": w("NOPE")})
        assert answer.status_code == 422
        assert answer.json()["error"].startswith("Updating  'AP Invoice' record")
        assert answer.json()["ReferenceNbr"] == saved["ReferenceNbr"]


class TestLengthRequired:
    def test_a_logout_without_content_length_is_refused_as_iis_411(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        request = client.build_request("POST", f"{HOST}/entity/auth/logout")
        del request.headers["Content-Length"]
        refused = client.send(request)
        assert refused.status_code == 411
        assert refused.headers["Content-Type"].startswith("text/html")
        assert emu.backend.sessions  # still signed in
        assert client.post(f"{HOST}/entity/auth/logout", content=b"").status_code == 204
        assert not emu.backend.sessions

    def test_over_loopback_the_wire_headers_decide(self) -> None:
        import socket

        emu = tenant()
        with emu.serve() as server:
            port = int(server.base_url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"POST /entity/auth/logout HTTP/1.1\r\nHost: x\r\n\r\n")
                status_line = sock.recv(4096).split(b"\r\n", 1)[0]
            assert b" 411 " in status_line
            with httpx.Client(base_url=server.url, timeout=10) as client:
                assert client.post("/entity/auth/logout").status_code == 204


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(
    description=st.one_of(st.none(), _TEXT),
    active=st.one_of(st.none(), st.booleans()),
    order=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
)
def test_rendering_round_trips_any_values_and_shows_unset_ones_as_empty(
    description: str | None, active: bool | None, order: int | None
) -> None:
    """The rendering is the mapping: a set field comes back as ``{"value": v}``, an unset
    one as ``{}``; every other field of the entity is present as ``{}``."""
    emu = AcumaticaEmulator(version="24.200.001")
    row: dict[str, Any] = {"AccountCD": "A1"}
    for name, value in (("Description", description), ("Active", active),
                        ("ChartOfAccountsOrder", order)):  # fmt: skip
        if value is not None:
            row[name] = value
    emu.seed("Account", [row])
    body = signed_in(emu).get("/Account/A1").json()
    validate_entity("24.200.001", "Account", body)
    for name, value in (("Description", description), ("Active", active),
                        ("ChartOfAccountsOrder", order)):  # fmt: skip
        assert body[name] == ({} if value is None else {"value": value})
    seeded = {"AccountCD", "Description", "Active", "ChartOfAccountsOrder", "LastModifiedDateTime"}
    untouched = set(ENTITY_FIELDS["24.200.001"]["Account"]) - seeded
    assert all(body[name] == {} for name in untouched)


def test_a_file_on_a_detail_line_through_its_link_shows_with_details_files() -> None:
    emu = tenant()
    client = signed_in(emu)
    saved = client.put("/Bill", json=bill(), params={"$expand": "Details"}).json()
    line = saved["Details"][0]
    link = line["_links"]["files:put"].replace("{filename}", "line.jpg")
    assert client.put(f"{HOST}{link}", content=b"jpeg").status_code == 204
    got = client.get(f"/Bill/{saved['id']}", params={"$expand": "Details,Details/files"}).json()
    validate_entity("24.200.001", "Bill", got)
    [attached] = got["Details"][0]["files"]
    assert attached["filename"] == "line.jpg"
    assert client.get(f"{HOST}{attached['href']}").content == b"jpeg"
    assert "files" not in got  # the header has none
