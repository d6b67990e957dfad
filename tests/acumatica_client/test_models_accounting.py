"""Accounting reference models (FinancialPeriod, Currency, TaxCategory, TaxZone, NonStockItem) and
``AcumaticaClient.attach_file``: wire round trips, bodies valid against the published
OpenAPI of both Default versions, and file attachment through the emulator (replace
semantics, lost answers, escaping)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from acumatica_client import (
    DEFAULT_ENDPOINT,
    AcumaticaClient,
    APITimeoutError,
    Bill,
    ClientOptions,
    CookieLogin,
    Currency,
    Endpoint,
    FinancialPeriod,
    FinancialPeriodDetail,
    NonStockItem,
    NotFoundError,
    RetryPolicy,
    TaxCategory,
    TaxCategoryTaxDetail,
    TaxZone,
    TaxZoneApplicableTaxDetail,
    dumps,
    from_wire,
    loads,
    to_wire,
)
from acumatica_client.emulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, AcumaticaEmulator
from tests.reference import validate_entity

VERSIONS = ("23.200.001", "24.200.001")
HOST = "https://erp.test"


def w(value: Any) -> dict[str, Any]:
    return {"value": value}


PERIOD_WIRE: dict[str, Any] = {
    "id": "6f1c8a52-58d5-4b9a-9a44-5d0a4b1f2c01",
    "rowNumber": 1,
    "note": w(""),
    "FinancialYear": w("2025"),
    "StartDate": w("2025-01-01T00:00:00+00:00"),
    "NbrOfPeriods": w(12),
    "UserDefinedPeriods": w(False),
    "CreatedDateTime": w("2024-12-01T10:00:00.123+00:00"),
    "LastModifiedDateTime": w("2025-02-03T09:30:00+00:00"),
    "Details": [
        {
            "id": "6f1c8a52-58d5-4b9a-9a44-5d0a4b1f2c02",
            "rowNumber": 1,
            "FinancialPeriodID": w("012025"),
            "PeriodNbr": w("01"),
            "Description": w("January"),
            "StartDate": w("2025-01-01T00:00:00+00:00"),
            "EndDate": w("2025-01-31T00:00:00+00:00"),
            "LengthInDays": w(31),
            "Status": w("Closed"),
            "AdjustmentPeriod": w(False),
            "ClosedInAP": w(True),
            "ClosedInAR": w(True),
            "ClosedInCA": w(False),
            "ClosedInFA": w(False),
            "ClosedInIN": w(False),
        }
    ],
    "custom": {},
}


class TestWireShapes:
    def test_financial_period_reads_the_contract_shape(self) -> None:
        period = from_wire(FinancialPeriod, PERIOD_WIRE)
        assert period.financial_year == "2025"
        assert period.start_date == date(2025, 1, 1)
        assert period.nbr_of_periods == 12
        assert period.created_date_time == datetime(2024, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)
        assert not isinstance(period.details, type(None))
        (january,) = period.details  # type: ignore[misc]
        assert january == FinancialPeriodDetail(
            id="6f1c8a52-58d5-4b9a-9a44-5d0a4b1f2c02",
            row_number=1,
            financial_period_id="012025",
            period_nbr="01",
            description="January",
            start_date=date(2025, 1, 1),
            end_date=date(2025, 1, 31),
            length_in_days=31,
            status="Closed",
            adjustment_period=False,
            closed_in_ap=True,
            closed_in_ar=True,
            closed_in_ca=False,
            closed_in_fa=False,
            closed_in_in=False,
        )

    @pytest.mark.parametrize("version", VERSIONS)
    def test_financial_period_round_trips_and_validates(self, version: str) -> None:
        period = from_wire(FinancialPeriod, PERIOD_WIRE)
        body = loads(dumps(to_wire(period, version=version)))
        validate_entity(version, "FinancialPeriod", body)
        assert from_wire(FinancialPeriod, body) == period
        assert body["Details"][0]["FinancialPeriodID"] == {"value": "012025"}
        assert body["StartDate"] == {"value": "2025-01-01T00:00:00"}  # a date: no offset

    @pytest.mark.parametrize("version", VERSIONS)
    def test_reference_entities_build_valid_request_bodies(self, version: str) -> None:
        bodies: list[tuple[str, Any]] = [
            (
                "Currency",
                Currency(
                    currency_id="EUR",
                    description="Euro",
                    currency_symbol="€",
                    decimal_precision=2,
                    active=True,
                    use_for_accounting=True,
                ),
            ),
            (
                "TaxCategory",
                TaxCategory(
                    tax_category_id="VAT20",
                    description="Standard VAT",
                    active=True,
                    exclude_listed_taxes=False,
                    details=(TaxCategoryTaxDetail(tax_id="VAT20", tax_type="VAT"),),
                ),
            ),
            (
                "TaxZone",
                TaxZone(
                    tax_zone_id="EU-VAT",
                    description="Hotel VAT abroad",
                    applicable_taxes=(
                        TaxZoneApplicableTaxDetail(tax_id="VATFR"),
                        TaxZoneApplicableTaxDetail(tax_id="VATDE"),
                    ),
                ),
            ),
            (
                "NonStockItem",
                NonStockItem(
                    inventory_id="TRAVEL",
                    description="Travel",
                    item_type="Expense",
                    item_status="Active",
                    expense_account="62000",
                    expense_subaccount="000-000",
                    tax_category="EXEMPT",
                    base_unit="EA",
                    current_cost=Decimal("0.00"),
                ),
            ),
        ]
        for schema, entity in bodies:
            body = loads(dumps(to_wire(entity, version=version)))
            validate_entity(version, schema, body)
            assert from_wire(type(entity), body) == entity

    def test_reference_entities_are_top_level_with_their_keys(self) -> None:
        from acumatica_client import KEY_FIELDS, TOP_LEVEL_ENTITIES

        expected = {
            FinancialPeriod: ("FinancialYear",),
            Currency: ("CurrencyID",),
            TaxCategory: ("TaxCategoryID",),
            TaxZone: ("TaxZoneID",),
            NonStockItem: ("InventoryID",),
        }
        for cls, keys in expected.items():
            assert cls.ENTITY in TOP_LEVEL_ENTITIES
            assert KEY_FIELDS[cls.ENTITY] == keys


# ----------------------------------------------------------------------- attach_file


@pytest.fixture
def emulator() -> AcumaticaEmulator:
    emu = AcumaticaEmulator(version=DEFAULT_ENDPOINT.version)
    emu.seed_accounts("61000")
    emu.seed_vendors("V1")
    emu.seed_employees("EP0001")
    return emu


@pytest.fixture
def client(emulator: AcumaticaEmulator) -> Iterator[AcumaticaClient]:
    api = AcumaticaClient(
        base_url=HOST,
        endpoint=DEFAULT_ENDPOINT,
        transport=emulator.transport(),
        options=ClientOptions(sleep=lambda _: None, jitter=lambda: 0.0, poll_interval=0),
    )
    with api.session(CookieLogin(name=DEFAULT_USERNAME, password=DEFAULT_PASSWORD)):
        yield api


def _bill(client: AcumaticaClient) -> Bill:
    from acumatica_client import BillDetail

    return client.put(
        Bill(
            vendor="V1",
            vendor_ref="EXB-1",
            details=(BillDetail(account="61000", extended_cost=Decimal("12.50")),),
        )
    )


class TestAttachFile:
    def test_attaches_by_keys_and_returns_the_file_location(
        self, emulator: AcumaticaEmulator, client: AcumaticaClient
    ) -> None:
        bill = _bill(client)
        location = client.attach_file(
            Bill, ("Bill", str(bill.reference_nbr)), "receipt-T1.pdf", b"%PDF-1.4 one",
            content_type="application/pdf", comment="Expensify receipt T1",
        )  # fmt: skip
        assert location is not None
        assert "/files/" in location
        assert emulator.files("Bill", "Bill", str(bill.reference_nbr)) == {
            "receipt-T1.pdf": b"%PDF-1.4 one"
        }
        put = next(r for r in emulator.request_log if r[0] == "PUT" and "/files/" in r[1])
        assert put[1].endswith("/Bill/Bill/000001/files/receipt-T1.pdf")
        assert put[2] == 204

    def test_attaching_the_same_name_again_replaces_the_file(
        self, emulator: AcumaticaEmulator, client: AcumaticaClient
    ) -> None:
        bill = _bill(client)
        assert bill.id is not None
        for content in (b"first", b"second"):
            client.attach_file(Bill, str(bill.id), "receipt-T1.pdf", content)
        client.attach_file(Bill, str(bill.id), "receipt-T2.png", b"\x89PNG")
        assert emulator.files("Bill", str(bill.id)) == {
            "receipt-T1.pdf": b"second",
            "receipt-T2.png": b"\x89PNG",
        }

    def test_a_lost_answer_is_retried_and_leaves_one_file(
        self, emulator: AcumaticaEmulator, client: AcumaticaClient
    ) -> None:
        bill = _bill(client)
        emulator.inject(method="PUT", path="/files/", drop_response=True)
        client.attach_file(Bill, ("Bill", str(bill.reference_nbr)), "receipt-T1.pdf", b"pdf")
        puts = [r for r in emulator.request_log if r[0] == "PUT" and "/files/" in r[1]]
        assert [status for _, _, status in puts] == [0, 204]  # applied, answer lost, repeated
        assert emulator.files("Bill", "Bill", str(bill.reference_nbr)) == {"receipt-T1.pdf": b"pdf"}

    def test_a_lost_answer_beyond_the_retry_budget_raises_and_still_one_file(
        self, emulator: AcumaticaEmulator
    ) -> None:
        api = AcumaticaClient(
            base_url=HOST,
            endpoint=DEFAULT_ENDPOINT,
            transport=emulator.transport(),
            options=ClientOptions(
                sleep=lambda _: None, jitter=lambda: 0.0, retry=RetryPolicy(attempts=2)
            ),
        )
        with api.session(CookieLogin(name=DEFAULT_USERNAME, password=DEFAULT_PASSWORD)):
            bill = _bill(api)
            emulator.inject(method="PUT", path="/files/", drop_response=True, times=2)
            with pytest.raises(APITimeoutError):
                api.attach_file(Bill, str(bill.id), "r.pdf", b"x")
            assert emulator.files("Bill", str(bill.id)) == {"r.pdf": b"x"}
            api.attach_file(Bill, str(bill.id), "r.pdf", b"x")  # the next run's attempt
            assert emulator.files("Bill", str(bill.id)) == {"r.pdf": b"x"}

    def test_a_missing_record_is_not_found(self, client: AcumaticaClient) -> None:
        with pytest.raises(NotFoundError):
            client.attach_file(Bill, ("Bill", "999999"), "r.pdf", b"x")

    def test_keys_and_names_are_percent_encoded_as_one_segment(self) -> None:
        seen: list[httpx.Request] = []

        def app(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(204, headers={"Location": "/entity/files/abc"})

        api = AcumaticaClient(
            base_url=f"{HOST}/Site",
            endpoint=Endpoint("Default", "23.200.001"),
            transport=httpx.MockTransport(app),
            auth=httpx.BasicAuth("u", "p"),
        )
        assert api.attach_file(Bill, ("Bill", "A B#1"), "receipt é 1.pdf", b"x") == (
            "/entity/files/abc"
        )
        (request,) = seen
        assert request.method == "PUT"
        assert request.url.raw_path == (
            b"/Site/entity/Default/23.200.001/Bill/Bill/A%20B%231/files/receipt%20%C3%A9%201.pdf"
        )
        assert request.headers["Content-Type"] == "application/octet-stream"
        assert request.content == b"x"

    @pytest.mark.parametrize(
        "name", ["", " ", "a/b.pdf", "a?.pdf", "a%20.pdf", "a:b", "..", "a\nb", "<x>.pdf"]
    )
    def test_names_a_url_path_cannot_carry_are_refused_before_sending(self, name: str) -> None:
        api = AcumaticaClient(
            base_url=HOST,
            endpoint=DEFAULT_ENDPOINT,
            transport=httpx.MockTransport(lambda r: pytest.fail("sent")),  # type: ignore[arg-type,return-value]
        )
        with pytest.raises(ValueError):
            api.attach_file(Bill, ("Bill", "1"), name, b"x")

    @pytest.mark.parametrize("comment", ["x" * 501, "caf\u00e9", "a\r\nb"])
    def test_bad_comments_are_refused_before_sending(self, comment: str) -> None:
        api = AcumaticaClient(
            base_url=HOST,
            endpoint=DEFAULT_ENDPOINT,
            transport=httpx.MockTransport(lambda r: pytest.fail("sent")),  # type: ignore[arg-type,return-value]
        )
        with pytest.raises(ValueError):
            api.attach_file(Bill, ("Bill", "1"), "r.pdf", b"x", comment=comment)

    def test_counts_as_one_call_through_the_limiter(self, client: AcumaticaClient) -> None:
        bill = _bill(client)
        before = client.calls
        client.attach_file(Bill, str(bill.id), "r.pdf", b"x")
        assert client.calls == before + 1
