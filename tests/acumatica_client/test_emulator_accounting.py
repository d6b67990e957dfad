"""The emulator's accounting setup: fiscal calendar, currencies, tax categories, expense
items; the refusals a real tenant gives documents that reference them wrongly; the
expense claim workflow through the typed client; attachments on claims.

Every body the emulator returns here is checked against the published schema of the
version it serves (23.200.001 and 24.200.001).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from acumatica_client import (
    AcumaticaClient,
    ClientOptions,
    CookieLogin,
    Currency,
    Endpoint,
    ExpenseClaim,
    ExpenseClaimDetail,
    ExpenseClaimFinancialDetail,
    Field,
    FinancialPeriod,
    NonStockItem,
    TaxCategory,
    UnprocessableEntityError,
)
from acumatica_client.emulator import AcumaticaEmulator
from acumatica_client.emulator._wire import dumps
from tests.reference import validate_entity

VERSIONS = ("23.200.001", "24.200.001")
HOST = "https://erp.test"
NOV = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # past March: the previous year is closed
FEB = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)  # before April: the previous year is open


class Clock:
    def __init__(self, now: datetime = NOV) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def tenant(version: str = "24.200.001", now: datetime = NOV, **kw: Any) -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version=version, clock=Clock(now), hold_on_entry=False, **kw)
    emu.seed_accounts("61000", "62000")
    emu.seed_subaccounts("000000")
    emu.seed_vendors("V1")
    emu.seed_employees("EMP01")
    return emu


def signed_in(emu: AcumaticaEmulator) -> httpx.Client:
    client = httpx.Client(
        transport=emu.transport(), base_url=f"{HOST}/entity/Default/{emu.version}"
    )
    answer = client.post(
        f"{HOST}/entity/auth/login", json={"name": "admin", "password": "admin-password"}
    )
    assert answer.status_code == 204
    return client


def w(value: Any) -> dict[str, Any]:
    return {"value": value}


def put(client: httpx.Client, entity: str, body: Any, **params: str) -> httpx.Response:
    return client.put(
        f"/{entity}", content=dumps(body), params=params,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip


def bill(date_: str = "2026-11-02", **extra: Any) -> dict[str, Any]:
    line = {"Account": w("61000"), "ExtendedCost": w(Decimal("10.50"))}
    lines = extra.pop("lines", [line])
    return {"Vendor": w("V1"), "VendorRef": w("INV-1"), "Date": w(f"{date_}T00:00:00"),
            "Details": lines, **extra}  # fmt: skip


def claim_line(**extra: Any) -> dict[str, Any]:
    return {"ExpenseItemID": w("TRAVEL"), "Description": w("Taxi to the airport"),
            "Amount": w(Decimal("42.10")), **extra}  # fmt: skip


def claim(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"ClaimedBy": w("EMP01"), "Description": w("EXB-R1 trip"),
            "Date": w("2026-11-03T00:00:00"), "Details": list(lines or [claim_line()]),
            **extra}  # fmt: skip


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --------------------------------------------------------------------- the set-up tenant


class TestDefaultSetup:
    def test_currency_list_starts_with_the_base_currency(self, version: str) -> None:
        client = signed_in(tenant(version, base_currency="CAD"))
        rows = client.get("/Currency").json()
        for row in rows:
            validate_entity(version, "Currency", row)
        codes = [r["CurrencyID"]["value"] for r in rows]
        assert codes[0] == "USD" or "CAD" in codes
        assert {"USD", "EUR", "GBP", "CAD", "JPY"} <= set(codes)
        yen = client.get("/Currency/JPY").json()
        assert yen["DecimalPrecision"] == {"value": 0}
        assert yen["Active"] == {"value": True}

    def test_an_unlisted_base_currency_is_added_first(self) -> None:
        emu = tenant(base_currency="SEK")
        assert emu.records("Currency")[0]["CurrencyID"] == "SEK"

    def test_tax_categories_of_a_fresh_tenant(self, version: str) -> None:
        client = signed_in(tenant(version))
        rows = client.get("/TaxCategory").json()
        for row in rows:
            validate_entity(version, "TaxCategory", row)
        assert [r["TaxCategoryID"]["value"] for r in rows] == ["TAXABLE", "EXEMPT"]

    def test_fiscal_calendar_previous_current_next_year_with_mmyyyy_ids(self, version: str) -> None:
        client = signed_in(tenant(version))
        years = client.get("/FinancialPeriod", params={"$expand": "Details"}).json()
        for year in years:
            validate_entity(version, "FinancialPeriod", year)
        assert [y["FinancialYear"]["value"] for y in years] == ["2025", "2026", "2027"]
        periods = years[1]["Details"]
        assert [p["FinancialPeriodID"]["value"] for p in periods][:3] == [
            "012026", "022026", "032026"]  # fmt: skip
        feb = periods[1]
        assert feb["StartDate"] == w("2026-02-01T00:00:00+00:00")
        assert feb["EndDate"] == w("2026-02-28T00:00:00+00:00")
        assert feb["LengthInDays"] == w(28)
        assert feb["Status"] == w("Open")
        assert feb["ClosedInAP"] == w(False)
        closed = years[0]["Details"]
        assert {p["Status"]["value"] for p in closed} == {"Closed"}
        assert all(p["ClosedInAP"] == w(True) for p in closed)

    def test_the_previous_year_stays_open_in_the_first_quarter(self) -> None:
        emu = tenant(now=FEB)
        years = {y["FinancialYear"]: y for y in emu.records("FinancialPeriod")}
        assert set(years) == {"2025", "2026", "2027"}
        assert {p["Status"] for p in years["2025"]["Details"]} == {"Open"}

    def test_details_only_when_expanded_and_filter_select_work(self, version: str) -> None:
        client = signed_in(tenant(version))
        plain = client.get("/FinancialPeriod/2026").json()
        assert "Details" not in plain
        assert plain["NbrOfPeriods"] == w(12)
        found = client.get(
            "/FinancialPeriod",
            params={"$filter": "FinancialYear eq '2027'", "$select": "FinancialYear",
                    "$expand": "Details"},
        ).json()  # fmt: skip
        assert [y["FinancialYear"] for y in found] == [w("2027")]
        assert "NbrOfPeriods" not in found[0]
        assert len(found[0]["Details"]) == 12
        bad = client.get("/FinancialPeriod", params={"$filter": "Details/Status eq 'Open'"})
        assert bad.status_code == 400  # detail fields cannot be filtered

    def test_without_accounting_setup_the_lists_are_empty(self, version: str) -> None:
        emu = tenant(version, accounting_setup=False)
        client = signed_in(emu)
        for entity in ("Currency", "TaxCategory", "FinancialPeriod", "NonStockItem"):
            assert client.get(f"/{entity}").json() == []
        # the base currency is still accepted; with no calendar no period is checked
        assert put(client, "Bill", bill("2019-05-05", CurrencyID=w("USD"))).status_code == 200
        assert put(client, "Bill", bill(CurrencyID=w("EUR"))).status_code == 422

    def test_reset_restores_the_setup(self) -> None:
        emu = tenant()
        emu.close_period("112026", "AP")
        emu.reset()
        assert len(emu.records("FinancialPeriod")) == 3
        (nov,) = [p for y in emu.records("FinancialPeriod") for p in y["Details"]
                  if p["FinancialPeriodID"] == "112026"]  # fmt: skip
        assert nov["ClosedInAP"] is False


# ----------------------------------------------------------------------------- seeding


class TestSeeding:
    def test_seed_helpers_take_bare_codes_or_rows(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_currencies("NZD", {"CurrencyID": "ZAR", "Active": False})
        emu.seed_tax_categories("VATGB", {"TaxCategoryID": "OLD", "Active": False})
        emu.seed_expense_items(
            "MEALS",
            {"InventoryID": "TRAVEL", "ExpenseAccount": "62000", "TaxCategory": "VATGB"},
        )
        client = signed_in(emu)
        nzd = client.get("/Currency/NZD").json()
        validate_entity(version, "Currency", nzd)
        assert (nzd["Active"], nzd["DecimalPrecision"]) == (w(True), w(2))
        item = client.get("/NonStockItem/TRAVEL").json()
        validate_entity(version, "NonStockItem", item)
        assert item["ItemType"] == w("Expense")
        assert item["ItemStatus"] == w("Active")
        assert item["ExpenseAccount"] == w("62000")
        assert client.get("/TaxCategory/VATGB").json()["Active"] == w(True)

    def test_seeds_are_checked_against_the_schema(self) -> None:
        emu = tenant()
        with pytest.raises(ValueError, match="Colour"):
            emu.seed_currencies({"CurrencyID": "X", "Colour": "red"})
        with pytest.raises(ValueError, match="ClosedInGL"):
            emu.seed("FinancialPeriod", [{"FinancialYear": "2030",
                                          "Details": [{"ClosedInGL": True}]}])  # fmt: skip

    def test_seed_financial_years_and_close_and_reopen(self) -> None:
        emu = tenant()
        emu.seed_financial_years(2030, 2031)
        emu.close_period("03-2030", "AP")
        emu.close_period("042030")  # GL: everything
        periods = {p["FinancialPeriodID"]: p for y in emu.records("FinancialPeriod")
                   for p in y["Details"]}  # fmt: skip
        assert periods["032030"]["ClosedInAP"] is True
        assert periods["032030"]["Status"] == "Open"
        assert periods["032030"]["ClosedInAR"] is False
        assert periods["042030"]["Status"] == "Closed"
        assert all(periods["042030"][f"ClosedIn{m}"] for m in ("AP", "AR", "CA", "FA", "IN"))
        emu.reopen_period("042030")
        emu.reopen_period("032030", "AP")
        periods = {p["FinancialPeriodID"]: p for y in emu.records("FinancialPeriod")
                   for p in y["Details"]}  # fmt: skip
        assert periods["042030"]["Status"] == "Open"
        assert periods["042030"]["ClosedInAP"] is False
        assert periods["032030"]["ClosedInAP"] is False

    @pytest.mark.parametrize(
        ("period", "modules", "error"),
        [("132026", (), ValueError), ("2026-11", (), ValueError), ("112026", ("XX",), ValueError),
         ("011999", (), KeyError)],
    )  # fmt: skip
    def test_close_period_refuses_nonsense(
        self, period: str, modules: tuple[str, ...], error: type[Exception]
    ) -> None:
        with pytest.raises(error):
            tenant().close_period(period, *modules)

    def test_the_http_control_plane(self) -> None:
        emu = tenant()
        control = httpx.Client(transport=emu.transport(), base_url=f"{HOST}/_emulator")
        seeded = control.post("/seed/NonStockItem", json=[
            {"InventoryID": "HOTEL", "ItemType": "Expense", "ItemStatus": "Active"}])  # fmt: skip
        assert seeded.json() == {"seeded": 1}
        assert control.post("/close_period/112026", json={"modules": ["AP"]}).json() == {
            "ok": True}  # fmt: skip
        client = signed_in(emu)
        assert put(client, "Bill", bill()).status_code == 500
        assert control.post("/reopen_period/11-2026").status_code == 200
        assert put(client, "Bill", bill()).status_code == 200
        assert control.post("/close_period/nonsense").status_code == 400
        assert control.post("/close_period/011990").status_code == 404


# ----------------------------------------------------------------------- refusals


class TestRefusals:
    def test_a_currency_not_in_the_list_is_refused_on_its_field(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_currencies({"CurrencyID": "ZAR", "Active": False})
        client = signed_in(emu)
        for code, text in (("XYZ", "cannot be found"), ("ZAR", "inactive")):
            answer = put(client, "Bill", bill(CurrencyID=w(code)))
            assert answer.status_code == 422
            body = answer.json()
            validate_entity(version, "Bill", {k: v for k, v in body.items() if k != "error"})
            assert text in body["CurrencyID"]["error"]
            assert code in body["CurrencyID"]["error"]
        assert put(client, "Bill", bill(CurrencyID=w("EUR"))).status_code == 200
        assert emu.records("Bill")[0]["CurrencyID"] == "EUR"

    def test_journal_and_claim_currencies_are_checked_too(self) -> None:
        emu = tenant()
        emu.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "61000"})
        client = signed_in(emu)
        batch = {"CurrencyID": w("XYZ"), "Details": [
            {"Account": w("61000"), "DebitAmount": w(5)},
            {"Account": w("62000"), "CreditAmount": w(5)}]}  # fmt: skip
        assert "XYZ" in put(client, "JournalTransaction", batch).json()["CurrencyID"]["error"]
        answer = put(client, "ExpenseClaim", claim(claim_line(CurrencyID=w("XYZ"))))
        assert answer.status_code == 422
        assert "XYZ" in answer.json()["Details"][0]["CurrencyID"]["error"]

    def test_a_bill_line_with_an_unknown_tax_category_is_refused(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        line = {"Account": w("61000"), "ExtendedCost": w(5), "TaxCategory": w("VATGB")}
        answer = put(client, "Bill", bill(lines=[line]))
        assert answer.status_code == 422
        body = answer.json()
        assert body["Details"][0]["TaxCategory"]["error"] == (
            "Tax Category 'VATGB' cannot be found in the system."
        )
        assert emu.records("Bill") == []
        emu.seed_tax_categories("VATGB")
        assert put(client, "Bill", bill(lines=[line])).status_code == 200
        assert emu.records("Bill")[0]["Details"][0]["TaxCategory"] == "VATGB"

    def test_a_document_in_a_period_closed_for_ap_is_refused_at_save_time(
        self, version: str
    ) -> None:
        emu = tenant(version)
        emu.close_period("102026", "AP")
        client = signed_in(emu)
        answer = put(client, "Bill", bill("2026-10-15"))
        assert answer.status_code == 500
        body = answer.json()
        assert body["exceptionType"] == "PX.Api.ContractBased.OutcomeEntityHasErrorsException"
        assert "The 10-2026 financial period is closed in AP." in body["exceptionMessage"]
        assert emu.records("Bill") == []
        # the same document into the first open period (the date kept) is accepted
        moved = put(client, "Bill", bill("2026-10-15", PostPeriod=w("11-2026"))).json()
        assert moved["PostPeriod"] == w("112026")
        assert moved["Date"] == w("2026-10-15T00:00:00+00:00")

    def test_the_echo_mode_puts_the_period_error_on_post_period(self) -> None:
        emu = tenant(save_time_rejection=False)
        emu.close_period("102026", "AP")
        answer = put(signed_in(emu), "Bill", bill("2026-10-15"))
        assert answer.status_code == 422
        expected = {"value": "102026", "error": "The 10-2026 financial period is closed in AP."}
        assert answer.json()["PostPeriod"] == expected

    def test_the_post_period_defaults_from_the_date(self) -> None:
        client = signed_in(tenant())
        saved = put(client, "Bill", bill("2026-09-30")).json()
        assert saved["PostPeriod"] == w("092026")
        assert put(client, "Bill", bill(PostPeriod=w("2026-09"))).status_code == 422

    def test_the_previous_year_is_closed_and_unknown_years_are_not_defined(self) -> None:
        client = signed_in(tenant())
        closed = put(client, "Bill", bill("2025-12-31")).json()
        assert "The 12-2025 financial period is closed in GL." in closed["exceptionMessage"]
        missing = put(client, "Bill", bill("2024-06-01")).json()
        assert "06-2024 financial period is not defined" in missing["exceptionMessage"]

    @pytest.mark.parametrize(("status", "text"), [("Locked", "locked"), ("Inactive", "inactive")])
    def test_locked_and_inactive_periods(self, status: str, text: str) -> None:
        emu = tenant()
        year = emu.records("FinancialPeriod")[1]
        for row in year["Details"]:
            if row["FinancialPeriodID"] == "082026":
                row["Status"] = status
        emu.seed("FinancialPeriod", [year])
        answer = put(signed_in(emu), "Bill", bill("2026-08-08")).json()
        assert f"financial period is {text}" in answer["exceptionMessage"]

    def test_journals_look_at_gl_only(self) -> None:
        emu = tenant()
        emu.close_period("102026", "AP")
        client = signed_in(emu)
        batch = {"TransactionDate": w("2026-10-02T00:00:00"), "Details": [
            {"Account": w("61000"), "DebitAmount": w(5)},
            {"Account": w("62000"), "CreditAmount": w(5)}]}  # fmt: skip
        saved = put(client, "JournalTransaction", batch)
        assert saved.status_code == 200
        assert saved.json()["PostPeriod"] == w("102026")
        emu.close_period("102026", "GL")
        refused = put(client, "JournalTransaction", batch)
        assert refused.status_code == 500
        assert "closed in GL" in refused.json()["exceptionMessage"]

    def test_release_in_a_period_closed_after_entry_is_refused(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        saved = put(client, "Bill", bill("2026-10-15")).json()
        emu.close_period("102026", "AP")
        keys = {"Type": saved["Type"], "ReferenceNbr": saved["ReferenceNbr"]}
        answer = client.post("/Bill/ReleaseBill", content=dumps({"entity": keys}))
        assert answer.status_code == 422
        assert "10-2026 financial period is closed in AP" in answer.json()["error"]
        assert emu.records("Bill")[0]["Status"] == "Balanced"

    def test_expense_claim_lines_need_a_known_active_expense_item(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_expense_items("TRAVEL", {"InventoryID": "OLD", "ItemStatus": "Inactive"})
        emu.seed("NonStockItem", [{"InventoryID": "SVC", "ItemType": "Service"}])
        client = signed_in(emu)
        lines = [claim_line(ExpenseItemID=w("NOPE"), ExpenseAccount=w("61000")),
                 claim_line(ExpenseItemID=w("SVC"), ExpenseAccount=w("61000")),
                 claim_line(ExpenseItemID=w("OLD"), ExpenseAccount=w("61000")),
                 {"Amount": w(1), "ExpenseAccount": w("61000")},
                 claim_line(ExpenseAccount=w("61000"))]  # fmt: skip
        answer = put(client, "ExpenseClaim", claim(*lines))
        assert answer.status_code == 422
        rows = answer.json()["Details"]
        assert rows[0]["ExpenseItemID"]["error"] == (
            "Expense Item 'NOPE' cannot be found in the system."
        )
        assert "cannot be found" in rows[1]["ExpenseItemID"]["error"]  # not an expense item
        assert "Inactive" in rows[2]["ExpenseItemID"]["error"]
        assert rows[3]["ExpenseItemID"]["error"] == "'Expense Item' cannot be empty."
        assert rows[3]["Description"]["error"] == "'Description' cannot be empty."
        assert "error" not in rows[4]["ExpenseItemID"]
        assert emu.records("ExpenseClaim") == []

    def test_the_expense_item_supplies_account_and_tax_category(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_tax_categories("VATGB")
        emu.seed_expense_items(
            {"InventoryID": "TRAVEL", "ExpenseAccount": "62000", "ExpenseSubaccount": "000000",
             "TaxCategory": "VATGB"},
            "BARE",
        )  # fmt: skip
        client = signed_in(emu)
        saved = put(client, "ExpenseClaim", claim(), **{"$expand": "Details"})
        assert saved.status_code == 200
        body = saved.json()
        validate_entity(version, "ExpenseClaim", body)
        (line,) = body["Details"]
        assert (line["ExpenseAccount"], line["ExpenseSubaccount"], line["TaxCategory"]) == (
            w("62000"), w("000000"), w("VATGB"))  # fmt: skip
        # an item without a default account needs the line to give one
        bare = put(client, "ExpenseClaim", claim(claim_line(ExpenseItemID=w("BARE"))))
        assert bare.status_code == 422
        assert bare.json()["Details"][0]["ExpenseAccount"]["error"] == (
            "'ExpenseAccount' cannot be empty."
        )

    def test_a_claim_in_a_closed_period_is_refused_and_post_to_period_moves_it(
        self, version: str
    ) -> None:
        emu = tenant(version)
        emu.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "61000"})
        emu.close_period("102026", "AP")
        client = signed_in(emu)
        refused = put(client, "ExpenseClaim", claim(Date=w("2026-10-20T00:00:00")))
        assert refused.status_code == 500
        assert "10-2026 financial period is closed in AP" in refused.json()["exceptionMessage"]
        moved = put(
            client, "ExpenseClaim",
            claim(Date=w("2026-10-20T00:00:00"), FinancialDetails={"PosttoPeriod": w("11-2026")}),
            **{"$expand": "FinancialDetails"},
        )  # fmt: skip
        assert moved.status_code == 200
        validate_entity(version, "ExpenseClaim", moved.json())
        assert moved.json()["FinancialDetails"]["PosttoPeriod"] == w("112026")


# ------------------------------------------------------------- through the typed client


@pytest.fixture
def emu() -> AcumaticaEmulator:
    emulator = tenant(action_polls=2)
    emulator.seed_tax_categories("VATGB")
    emulator.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "61000"})
    return emulator


@pytest.fixture
def api(emu: AcumaticaEmulator) -> Iterator[AcumaticaClient]:
    client = AcumaticaClient(
        base_url=HOST,
        endpoint=Endpoint("Default", "24.200.001"),
        transport=emu.transport(),
        options=ClientOptions(sleep=lambda _: None, jitter=lambda: 0.0, poll_interval=0),
    )
    with client.session(CookieLogin(name="admin", password="admin-password")):
        yield client


class TestTypedClient:
    def test_reference_lists_read_as_typed_models(self, api: AcumaticaClient) -> None:
        years = api.list(FinancialPeriod, expand=["Details"])
        assert [y.financial_year for y in years] == ["2025", "2026", "2027"]
        details = years[1].details
        assert not isinstance(details, type(None))
        nov = [p for p in details if p.financial_period_id == "112026"]  # type: ignore[union-attr]
        assert nov[0].start_date == date(2026, 11, 1)
        assert nov[0].closed_in_ap is False
        assert "EUR" in {c.currency_id for c in api.list(Currency)}
        assert api.get(TaxCategory, "VATGB").active is True
        item = api.get(NonStockItem, "TRAVEL")
        assert (item.item_type, item.expense_account) == ("Expense", "61000")

    def test_claim_look_up_by_description_and_the_workflow(
        self, emu: AcumaticaEmulator, api: AcumaticaClient
    ) -> None:
        saved = api.put(
            ExpenseClaim(
                claimed_by="EMP01",
                description="EXB-R42 Paris trip",
                date=date(2026, 11, 3),
                details=(
                    ExpenseClaimDetail(
                        expense_item_id="TRAVEL",
                        description="Hotel",
                        amount=Decimal("120.00"),
                        tax_category="VATGB",
                    ),
                ),
                financial_details=ExpenseClaimFinancialDetail(post_to_period="112026"),
            ),
            expand=["Details", "FinancialDetails"],
        )
        assert saved.status == "On Hold"
        assert saved.claim_total == Decimal("120.00")
        found = api.list(ExpenseClaim, filter=Field("Description").startswith("EXB-R42 "))
        assert [c.ref_nbr for c in found] == [saved.ref_nbr]
        assert api.list(ExpenseClaim, filter=Field("Description").startswith("EXB-R4 ")) == []
        with pytest.raises(UnprocessableEntityError):
            api.invoke_action(ExpenseClaim, "ReleaseExpenseClaim", saved)  # on hold
        log_start = len(emu.request_log)
        for action, status in (
            ("SubmitExpenseClaim", "Pending Approval"),
            ("ApproveExpenseClaim", "Approved"),
            ("ReleaseExpenseClaim", "Released"),
        ):
            api.invoke_action(ExpenseClaim, action, ExpenseClaim(ref_nbr=saved.ref_nbr))
            assert api.get(ExpenseClaim, str(saved.ref_nbr)).status == status
        polls = [r for r in emu.request_log[log_start:] if "/status/" in r[1]]
        assert [s for _, _, s in polls].count(202) >= 3  # each action was polled while 202
        assert [s for _, _, s in polls].count(204) == 3

    def test_re_attaching_to_a_claim_leaves_one_file(
        self, emu: AcumaticaEmulator, api: AcumaticaClient
    ) -> None:
        saved = api.put(
            ExpenseClaim(
                claimed_by="EMP01",
                description="EXB-R7",
                details=(ExpenseClaimDetail(expense_item_id="TRAVEL", description="Taxi",
                                            amount=Decimal("9.90")),),
            )
        )  # fmt: skip
        ref = str(saved.ref_nbr)
        api.attach_file(ExpenseClaim, ref, "receipt-T1.pdf", b"%PDF-1 a")
        api.attach_file(ExpenseClaim, ref, "receipt-T1.pdf", b"%PDF-1 b")
        assert emu.files("ExpenseClaim", ref) == {"receipt-T1.pdf": b"%PDF-1 b"}


# --------------------------------------------------------------- release and payment


class TestReleaseAndPayment:
    def released_claim(self, emu: AcumaticaEmulator, client: httpx.Client) -> dict[str, Any]:
        saved = put(client, "ExpenseClaim", claim(
            claim_line(), claim_line(Amount=w(Decimal("7.90")), Description=w("Bus"))),
            **{"$expand": "Details"}).json()  # fmt: skip
        keys = {"RefNbr": saved["RefNbr"]}
        for action in ("SubmitExpenseClaim", "ApproveExpenseClaim", "ReleaseExpenseClaim"):
            started = client.post(f"/ExpenseClaim/{action}", content=dumps({"entity": keys}))
            assert started.status_code == 202
            while client.get(HOST + started.headers["Location"]).status_code == 202:
                pass
        return saved

    def test_release_creates_the_employees_ap_bill(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "61000"})
        client = signed_in(emu)
        saved = self.released_claim(emu, client)
        body = client.get(
            f"/ExpenseClaim/{saved['RefNbr']['value']}",
            params={"$expand": "FinancialDetails,FinancialDetails/APDocuments"},
        ).json()
        validate_entity(version, "ExpenseClaim", body)
        assert body["Status"] == w("Released")
        (doc,) = body["FinancialDetails"]["APDocuments"]
        assert (doc["Type"], doc["Status"], doc["Amount"]) == (w("Bill"), w("Open"), w(50.0))
        (bill,) = emu.records("Bill")
        assert bill["ReferenceNbr"] == doc["RefNbr"]["value"]
        assert (bill["Vendor"], bill["VendorRef"], bill["Status"]) == (
            "EMP01", saved["RefNbr"]["value"], "Open")  # fmt: skip
        assert bill["PostPeriod"] == "112026"
        assert [line["Amount"] for line in bill["Details"]] == [Decimal("42.10"), Decimal("7.90")]
        assert bill["Balance"] == Decimal("50.00")

    def test_pay_closes_the_bill_and_the_claims_ap_document(self) -> None:
        emu = tenant()
        emu.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "61000"})
        client = signed_in(emu)
        saved = self.released_claim(emu, client)
        ref = saved["RefNbr"]["value"]
        emu.pay("ExpenseClaim", ref)
        (bill,) = emu.records("Bill")
        assert (bill["Status"], bill["Balance"]) == ("Closed", 0)
        (claim_record,) = emu.records("ExpenseClaim")
        assert claim_record["Status"] == "Released"
        assert claim_record["FinancialDetails"]["APDocuments"][0]["Status"] == "Closed"
        with pytest.raises(ValueError, match="not Open"):
            emu.pay("Bill", "Bill", bill["ReferenceNbr"])  # already paid

    def test_pay_over_http_and_its_refusals(self) -> None:
        emu = tenant()
        client = signed_in(emu)
        saved = put(client, "Bill", bill()).json()
        control = httpx.Client(transport=emu.transport(), base_url=f"{HOST}/_emulator")
        ref = saved["ReferenceNbr"]["value"]
        assert control.post(f"/pay/Bill/Bill/{ref}").status_code == 400  # Balanced, not Open
        answer = client.post("/Bill/ReleaseBill", content=dumps(
            {"entity": {"Type": w("Bill"), "ReferenceNbr": w(ref)}}))  # fmt: skip
        while client.get(HOST + answer.headers["Location"]).status_code == 202:
            pass
        assert control.post(f"/pay/Bill/Bill/{ref}").json() == {"paid": True}
        paid = client.get(f"/Bill/Bill/{ref}").json()
        assert (paid["Status"], paid["Balance"]) == (w("Closed"), w(0))
        assert control.post("/pay/Bill/Bill/999999").status_code == 404


class TestTaxZones:
    """``TaxZone`` (TX206000): seeded, listed, and checked on expense claims (§5.8)."""

    def test_a_fresh_tenant_has_none_and_seeded_zones_are_listed(self, version: str) -> None:
        emu = tenant(version)
        client = signed_in(emu)
        assert client.get("/TaxZone").json() == []
        emu.seed_tax_zones(
            "DOMESTIC",
            {"TaxZoneID": "EUVAT", "Description": "Hotel VAT abroad",
             "ApplicableTaxes": [{"TaxID": "VATFR"}, {"TaxID": "VATDE"}]},
        )  # fmt: skip
        rows = client.get("/TaxZone", params={"$expand": "ApplicableTaxes"}).json()
        for row in rows:
            validate_entity(version, "TaxZone", row)
        assert [r["TaxZoneID"]["value"] for r in rows] == ["DOMESTIC", "EUVAT"]
        assert [t["TaxID"] for t in rows[1]["ApplicableTaxes"]] == [w("VATFR"), w("VATDE")]
        one = client.get("/TaxZone/EUVAT").json()
        validate_entity(version, "TaxZone", one)
        assert one["Description"] == w("Hotel VAT abroad")
        assert "ApplicableTaxes" not in one  # a detail collection only when expanded

    def test_a_claim_with_known_zones_keeps_them(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_tax_zones("EUVAT")
        emu.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "62000"})
        client = signed_in(emu)
        body = claim(claim_line(TaxZone=w("EUVAT")), FinancialDetails={"TaxZone": w("EUVAT")})
        saved = put(client, "ExpenseClaim", body, **{"$expand": "Details,FinancialDetails"})
        assert saved.status_code == 200, saved.text
        validate_entity(version, "ExpenseClaim", saved.json())
        (record,) = emu.records("ExpenseClaim")
        assert record["FinancialDetails"]["TaxZone"] == "EUVAT"
        assert record["Details"][0]["TaxZone"] == "EUVAT"

    def test_an_unknown_zone_on_the_header_or_a_line_is_refused(self, version: str) -> None:
        emu = tenant(version)
        emu.seed_tax_zones("EUVAT")
        emu.seed_expense_items({"InventoryID": "TRAVEL", "ExpenseAccount": "62000"})
        client = signed_in(emu)
        header = put(client, "ExpenseClaim", claim(FinancialDetails={"TaxZone": w("NOPE")}))
        assert header.status_code == 422
        assert "Tax Zone 'NOPE' cannot be found in the system." in header.json()["error"]
        line = put(client, "ExpenseClaim", claim(claim_line(), claim_line(TaxZone=w("XX"))))
        assert line.status_code == 422
        rows = line.json()["Details"]
        assert rows[1]["TaxZone"]["error"] == "Tax Zone 'XX' cannot be found in the system."
        assert "error" not in rows[0]["TaxZone"]
        assert emu.records("ExpenseClaim") == []

    def test_the_typed_client_reads_zones(self) -> None:
        from acumatica_client import TaxZone, TaxZoneApplicableTaxDetail

        emu = tenant()
        emu.seed_tax_zones({"TaxZoneID": "EUVAT", "ApplicableTaxes": [{"TaxID": "VATFR"}]})
        api = AcumaticaClient(
            base_url=HOST,
            endpoint=Endpoint("Default", emu.version),
            transport=emu.transport(),
            options=ClientOptions(sleep=lambda _: None, jitter=lambda: 0.0, poll_interval=0),
        )
        with api.session(CookieLogin(name="admin", password="admin-password")):
            (zone,) = api.list(TaxZone, expand=["ApplicableTaxes"])
        assert zone.tax_zone_id == "EUVAT"
        taxes = zone.applicable_taxes
        assert isinstance(taxes, tuple)
        assert all(isinstance(t, TaxZoneApplicableTaxDetail) for t in taxes)
        assert [t.tax_id for t in taxes] == ["VATFR"]
